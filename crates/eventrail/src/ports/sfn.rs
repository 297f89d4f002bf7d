//! AWS Step Functions: reporting a task's outcome with its token.

use std::fmt;

use async_trait::async_trait;

use crate::error::PortError;

/// Step Functions' limit on a task's output, in bytes (256 KiB).
pub const SFN_MAX_OUTPUT_BYTES: usize = 256 * 1024;
/// Step Functions' limit on a task failure's error name, in characters.
pub const SFN_MAX_ERROR_CHARS: usize = 256;
/// Step Functions' limit on a task failure's cause, in characters.
pub const SFN_MAX_CAUSE_CHARS: usize = 32_768;

/// Reports the result of a Step Functions task started with `.waitForTaskToken`.
#[async_trait]
pub trait TaskCallbacks: Send + Sync + fmt::Debug {
    /// `SendTaskSuccess`: `output` is JSON text.
    async fn send_task_success(&self, token: &str, output: &str) -> Result<(), PortError>;
    /// `SendTaskFailure` with an error name and a cause.
    async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), PortError>;
    /// `SendTaskHeartbeat`.
    async fn send_task_heartbeat(&self, token: &str) -> Result<(), PortError>;
}
