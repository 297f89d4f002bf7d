use std::fmt;

use crate::error::{BoxError, Classify, ErrorClass};
use crate::ports::{PortError, SFN_MAX_OUTPUT_BYTES};

/// A failure of the task-token layer itself.
///
/// - [`is_output_too_large`](Self::is_output_too_large): the handler succeeded
///   but its output exceeds Step Functions' 256 KiB; the task was failed.
///   Permanent.
/// - [`is_invalid_output`](Self::is_invalid_output): the output does not
///   serialize to JSON; the task was failed. Permanent.
/// - [`is_callback_failed`](Self::is_callback_failed): Step Functions could not
///   be told, even after retries. Classified as the port error says. The
///   handler's error, if it failed, is kept ([`handler_error`](Self::handler_error)).
#[derive(Debug)]
pub struct TaskTokenError {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    OutputTooLarge {
        bytes: usize,
    },
    InvalidOutput {
        source: serde_json::Error,
    },
    CallbackFailed {
        port: PortError,
        handler: Option<BoxError>,
    },
}

impl TaskTokenError {
    pub(super) fn output_too_large(bytes: usize) -> Self {
        Self {
            kind: Kind::OutputTooLarge { bytes },
        }
    }

    pub(super) fn invalid_output(source: serde_json::Error) -> Self {
        Self {
            kind: Kind::InvalidOutput { source },
        }
    }

    pub(super) fn callback_failed(port: PortError, handler: Option<BoxError>) -> Self {
        Self {
            kind: Kind::CallbackFailed { port, handler },
        }
    }

    /// The output was over 256 KiB.
    pub fn is_output_too_large(&self) -> bool {
        matches!(self.kind, Kind::OutputTooLarge { .. })
    }

    /// The output did not serialize.
    pub fn is_invalid_output(&self) -> bool {
        matches!(self.kind, Kind::InvalidOutput { .. })
    }

    /// The callback to Step Functions failed.
    pub fn is_callback_failed(&self) -> bool {
        matches!(self.kind, Kind::CallbackFailed { .. })
    }

    /// The port error of a failed callback.
    pub fn port_error(&self) -> Option<&PortError> {
        match &self.kind {
            Kind::CallbackFailed { port, .. } => Some(port),
            _ => None,
        }
    }

    /// The error that made the task fail, when the callback reporting it failed.
    pub fn handler_error(&self) -> Option<&BoxError> {
        match &self.kind {
            Kind::CallbackFailed { handler, .. } => handler.as_ref(),
            _ => None,
        }
    }

    /// The error name reported to Step Functions for an output problem.
    pub(super) fn sfn_error_name(&self) -> &'static str {
        match self.kind {
            Kind::OutputTooLarge { .. } => "eventrail.OutputTooLarge",
            _ => "eventrail.InvalidOutput",
        }
    }
}

impl fmt::Display for TaskTokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::OutputTooLarge { bytes } => write!(
                f,
                "the handler's output is {bytes} bytes of JSON, over Step Functions' limit of {SFN_MAX_OUTPUT_BYTES} bytes; the task was failed instead"
            ),
            Kind::InvalidOutput { source } => write!(
                f,
                "the handler's output does not serialize to JSON ({source}); the task was failed instead"
            ),
            Kind::CallbackFailed { port, handler: None } => {
                write!(f, "could not report the task's result to Step Functions: {port}")
            }
            Kind::CallbackFailed {
                port,
                handler: Some(h),
            } => write!(
                f,
                "could not report the task's failure to Step Functions: {port}; the task failed with: {h}"
            ),
        }
    }
}

impl std::error::Error for TaskTokenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::OutputTooLarge { .. } => None,
            Kind::InvalidOutput { source } => Some(source),
            Kind::CallbackFailed { port, .. } => Some(port),
        }
    }
}

impl Classify for TaskTokenError {
    fn retry(&self) -> ErrorClass {
        match &self.kind {
            Kind::OutputTooLarge { .. } | Kind::InvalidOutput { .. } => ErrorClass::Permanent,
            Kind::CallbackFailed { port, .. } => port.retry(),
        }
    }
}
