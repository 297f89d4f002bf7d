//! Why a record failed without its handler failing: a panic, or not started.

use super::*;

/// A handler panicked; the message is kept. Permanent: a panic is a bug.
#[derive(Debug)]
pub struct HandlerPanic {
    pub(super) message: String,
}

impl HandlerPanic {
    /// The panic message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for HandlerPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "handler panicked: {}", self.message)
    }
}

impl std::error::Error for HandlerPanic {}

impl Classify for HandlerPanic {
    fn retry(&self) -> Retry {
        Retry::Permanent
    }
}

/// A record was not started: the deadline was too close, or an earlier
/// record of its ordered group failed. Retryable: the source redelivers it.
#[derive(Debug)]
pub struct NotStarted {
    pub(super) reason: &'static str,
}

impl NotStarted {
    /// Whether it was the deadline.
    pub fn is_deadline(&self) -> bool {
        self.reason == DEADLINE
    }
}

pub(super) const DEADLINE: &str = "not started: the invocation deadline is too close";
pub(super) const EARLIER_FAILURE: &str =
    "not started: an earlier record of its ordered group failed";

impl fmt::Display for NotStarted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason)
    }
}

impl std::error::Error for NotStarted {}

impl Classify for NotStarted {
    fn retry(&self) -> Retry {
        Retry::Retryable
    }
}
