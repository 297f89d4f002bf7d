//! The local Step Functions callbacks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::Value;

use super::faults::{fault_methods, lock, CallLog, FaultPlan};
use crate::ports::{
    PortError, TaskCallbacks, SFN_MAX_CAUSE_CHARS, SFN_MAX_ERROR_CHARS, SFN_MAX_OUTPUT_BYTES,
};

/// Step Functions' limit on a task token's length.
const MAX_TOKEN_CHARS: usize = 1024;
/// Every token [`LocalTaskCallbacks::issue_token`] hands out starts with this.
const TOKEN_PREFIX: &str = "AQCEAAAAKgAAAA";

/// The state of a task token.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum TaskState {
    /// Waiting for a result.
    Running,
    /// `SendTaskSuccess` was accepted with this output.
    Succeeded(Value),
    /// `SendTaskFailure` was accepted.
    Failed {
        /// The error name.
        error: String,
        /// The cause.
        cause: String,
    },
    /// The task's timeout or heartbeat timeout passed first (only simulated
    /// task states with timeouts, such as the testkit's, get there).
    TimedOut,
}

/// A call to a Step Functions callback port.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SfnCall {
    /// `SendTaskSuccess`.
    Success {
        /// The token.
        token: String,
        /// The output (JSON text).
        output: String,
    },
    /// `SendTaskFailure`.
    Failure {
        /// The token.
        token: String,
        /// The error name.
        error: String,
        /// The cause.
        cause: String,
    },
    /// `SendTaskHeartbeat`.
    Heartbeat {
        /// The token.
        token: String,
    },
}

impl SfnCall {
    /// The token the call was for.
    pub fn token(&self) -> &str {
        match self {
            SfnCall::Success { token, .. }
            | SfnCall::Failure { token, .. }
            | SfnCall::Heartbeat { token } => token,
        }
    }

    /// Checks what Step Functions checks before it looks the token up: the
    /// output's size, the error's and cause's lengths (`ValidationException`).
    pub fn validate(&self) -> Result<(), PortError> {
        match self {
            SfnCall::Success { output, .. } if output.len() > SFN_MAX_OUTPUT_BYTES => Err(err(
                "ValidationException",
                format!(
                    "1 validation error detected: Value at 'output' failed to satisfy constraint: Member must have length less than or equal to {SFN_MAX_OUTPUT_BYTES}"
                ),
            )),
            SfnCall::Failure { error, cause, .. }
                if error.chars().count() > SFN_MAX_ERROR_CHARS
                    || cause.chars().count() > SFN_MAX_CAUSE_CHARS =>
            {
                Err(err(
                    "ValidationException",
                    "1 validation error detected: 'error' or 'cause' is too long",
                ))
            }
            _ => Ok(()),
        }
    }
}

/// A Step Functions error (all callback errors are permanent).
fn err(code: &str, message: impl Into<String>) -> PortError {
    PortError::permanent(message).with_code(code)
}

/// Whether `token` is shaped like a Step Functions task token; if not,
/// Step Functions answers `InvalidToken`.
pub fn is_well_formed_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_TOKEN_CHARS
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'))
}

/// A [`TaskCallbacks`] that accepts any task token and logs every callback.
///
/// A token is a running task from its first callback on (or from
/// [`issue_token`](Self::issue_token)); its result is kept
/// ([`state`](Self::state)), and a second result for it fails with
/// `TaskTimedOut`, as Step Functions answers for a finished task. Output
/// that is not JSON fails with `InvalidOutput`, a token not shaped like one
/// with `InvalidToken`, and an oversized output, error or cause with
/// `ValidationException`. Every callback is logged at `DEBUG` with its token
/// and output or error.
///
/// ```
/// use eventrail::local::{LocalTaskCallbacks, TaskState};
/// use eventrail::ports::TaskCallbacks;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sfn = LocalTaskCallbacks::new();
/// sfn.send_task_success("AQCEAAAAKgAAAArecorded", r#"{"ok":true}"#).await.unwrap();
/// let again = sfn.send_task_success("AQCEAAAAKgAAAArecorded", "{}").await.unwrap_err();
/// assert_eq!(again.code(), Some("TaskTimedOut"));
/// assert_eq!(sfn.succeeded("AQCEAAAAKgAAAArecorded"), Some(serde_json::json!({"ok": true})));
/// assert_eq!(sfn.tokens(), ["AQCEAAAAKgAAAArecorded"]);
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct LocalTaskCallbacks {
    inner: Arc<Mutex<State>>,
    faults: FaultPlan<SfnCall>,
    calls: CallLog<SfnCall>,
}

#[derive(Debug, Default)]
struct State {
    tasks: HashMap<String, Task>,
    issued: Vec<String>,
}

#[derive(Debug)]
struct Task {
    state: TaskState,
    heartbeats: u32,
}

impl LocalTaskCallbacks {
    /// Callbacks with no task yet.
    pub fn new() -> Self {
        Self::default()
    }

    history_constructors! {
        /// Callbacks that keeps no history: its call log is
        /// [discarding](CallLog::discarding) (calls are counted, none kept).
        /// Task states are kept as by [`new`](Self::new): they are what
        /// rejects a token already finished.
    }

    fault_methods!(SfnCall, "call");

    /// Starts a task; returns its (deterministic) token.
    pub fn issue_token(&self) -> String {
        let mut state = lock(&self.inner);
        let n = state.issued.len() + 1;
        let token = format!(
            "{TOKEN_PREFIX}{n:08}x{:016x}",
            (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        );
        state.start(&token);
        token
    }

    /// The state of `token`, or `None` if no callback named it yet.
    pub fn state(&self, token: &str) -> Option<TaskState> {
        lock(&self.inner).tasks.get(token).map(|t| t.state.clone())
    }

    /// The output, if `token` succeeded.
    pub fn succeeded(&self, token: &str) -> Option<Value> {
        match self.state(token)? {
            TaskState::Succeeded(v) => Some(v),
            _ => None,
        }
    }

    /// The error name and cause, if `token` failed.
    pub fn failed(&self, token: &str) -> Option<(String, String)> {
        match self.state(token)? {
            TaskState::Failed { error, cause } => Some((error, cause)),
            _ => None,
        }
    }

    /// How many heartbeats `token` got.
    pub fn heartbeats(&self, token: &str) -> u32 {
        lock(&self.inner)
            .tasks
            .get(token)
            .map_or(0, |t| t.heartbeats)
    }

    /// Every token seen, in first-seen order.
    pub fn tokens(&self) -> Vec<String> {
        lock(&self.inner).issued.clone()
    }

    fn call(&self, call: SfnCall) -> Result<(), PortError> {
        let mut state = lock(&self.inner);
        let result = self
            .faults
            .run(&self.calls, call.clone(), |c| state.apply(c));
        match (&call, &result) {
            (_, Err(e)) => tracing::debug!(
                target: "eventrail::local",
                token = call.token(), error = %e, "Step Functions callback failed"
            ),
            (SfnCall::Success { token, output }, Ok(())) => tracing::debug!(
                target: "eventrail::local",
                token = %token, output = %output, "Step Functions SendTaskSuccess"
            ),
            (
                SfnCall::Failure {
                    token,
                    error,
                    cause,
                },
                Ok(()),
            ) => tracing::debug!(
                target: "eventrail::local",
                token = %token, error = %error, cause = %cause, "Step Functions SendTaskFailure"
            ),
            (SfnCall::Heartbeat { token }, Ok(())) => tracing::debug!(
                target: "eventrail::local",
                token = %token, "Step Functions SendTaskHeartbeat"
            ),
        }
        result
    }
}

impl State {
    fn start(&mut self, token: &str) {
        self.tasks.insert(
            token.to_owned(),
            Task {
                state: TaskState::Running,
                heartbeats: 0,
            },
        );
        self.issued.push(token.to_owned());
    }

    fn running(&mut self, token: &str) -> Result<&mut Task, PortError> {
        if !is_well_formed_token(token) {
            return Err(err("InvalidToken", "Invalid Token"));
        }
        if !self.tasks.contains_key(token) {
            self.start(token);
        }
        match self.tasks.get_mut(token) {
            Some(task) if task.state == TaskState::Running => Ok(task),
            _ => Err(err(
                "TaskTimedOut",
                "Task Timed Out: 'Provided task does not exist anymore'",
            )),
        }
    }

    fn apply(&mut self, call: &SfnCall) -> Result<(), PortError> {
        call.validate()?;
        match call {
            SfnCall::Success { token, output } => {
                let value: Result<Value, _> = serde_json::from_str(output);
                let task = self.running(token)?;
                let value =
                    value.map_err(|e| err("InvalidOutput", format!("Invalid Output: {e}")))?;
                task.state = TaskState::Succeeded(value);
            }
            SfnCall::Failure {
                token,
                error,
                cause,
            } => {
                self.running(token)?.state = TaskState::Failed {
                    error: error.clone(),
                    cause: cause.clone(),
                };
            }
            SfnCall::Heartbeat { token } => self.running(token)?.heartbeats += 1,
        }
        Ok(())
    }
}

#[async_trait]
impl TaskCallbacks for LocalTaskCallbacks {
    async fn send_task_success(&self, token: &str, output: &str) -> Result<(), PortError> {
        self.call(SfnCall::Success {
            token: token.to_owned(),
            output: output.to_owned(),
        })
    }

    async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), PortError> {
        self.call(SfnCall::Failure {
            token: token.to_owned(),
            error: error.to_owned(),
            cause: cause.to_owned(),
        })
    }

    async fn send_task_heartbeat(&self, token: &str) -> Result<(), PortError> {
        self.call(SfnCall::Heartbeat {
            token: token.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn any_token_is_accepted_once_and_recorded() {
        let sfn = LocalTaskCallbacks::new();
        let issued = sfn.issue_token();
        assert!(issued.starts_with(TOKEN_PREFIX) && is_well_formed_token(&issued));
        sfn.send_task_heartbeat("AQCEtokenB").await.unwrap();
        sfn.send_task_failure("AQCEtokenB", "OrderError", "no stock")
            .await
            .unwrap();
        sfn.send_task_success(&issued, r#"{"n":1}"#).await.unwrap();
        assert_eq!(sfn.tokens(), [issued.clone(), "AQCEtokenB".to_owned()]);
        assert_eq!(sfn.succeeded(&issued), Some(serde_json::json!({"n": 1})));
        assert_eq!(
            sfn.failed("AQCEtokenB"),
            Some(("OrderError".into(), "no stock".into()))
        );
        assert_eq!(sfn.heartbeats("AQCEtokenB"), 1);
        let again = sfn.send_task_success(&issued, "{}").await.unwrap_err();
        assert_eq!(again.code(), Some("TaskTimedOut"));
        assert_eq!(sfn.calls().len(), 4);
        assert_eq!(sfn.calls()[1].request.token(), "AQCEtokenB");
    }

    #[tokio::test]
    async fn rejects_what_step_functions_rejects() {
        let sfn = LocalTaskCallbacks::new();
        let code = |r: Result<(), PortError>| r.unwrap_err().code().map(str::to_owned);
        assert_eq!(
            code(sfn.send_task_success("not a token!", "{}").await).as_deref(),
            Some("InvalidToken")
        );
        assert_eq!(
            code(sfn.send_task_success("tok", "{not json").await).as_deref(),
            Some("InvalidOutput")
        );
        assert_eq!(sfn.state("tok"), Some(TaskState::Running));
        let big = format!("\"{}\"", "x".repeat(SFN_MAX_OUTPUT_BYTES));
        assert_eq!(
            code(sfn.send_task_success("tok", &big).await).as_deref(),
            Some("ValidationException")
        );
        assert!(sfn.calls().iter().all(|c| !c.is_ok()));
    }
}
