//! Why a record failed without its handler failing: not started, or
//! cancelled at the deadline. (A panic is [`HandlerPanic`](crate::error::HandlerPanic).)

use super::*;

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
    fn retry(&self) -> ErrorClass {
        ErrorClass::Retryable
    }
}

/// A record was still running when only the
/// [deadline margin](AppBuilder::deadline_margin) was left before the
/// invocation deadline: it was cancelled (its handler's future dropped) so
/// the invocation answers before Lambda stops it. Retryable: the source
/// redelivers it.
///
/// A cancelled handler stops at its current `.await`; whatever it did before
/// stays done, so handlers that can be cancelled midway should be idempotent
/// (an [`IdempotencyLayer`](crate::layers::IdempotencyLayer) releases its
/// lock when its call is dropped).
#[derive(Debug)]
pub struct Cancelled {
    pub(super) ran_for: Duration,
}

impl Cancelled {
    /// How long the record ran before it was cancelled.
    pub fn ran_for(&self) -> Duration {
        self.ran_for
    }
}

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cancelled after {} ms: the invocation deadline is too close",
            self.ran_for.as_millis()
        )
    }
}

impl std::error::Error for Cancelled {}

impl Classify for Cancelled {
    fn retry(&self) -> ErrorClass {
        ErrorClass::Retryable
    }
}
