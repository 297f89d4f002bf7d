use std::error::Error as StdError;
use std::fmt;

use crate::error::{Classify, ErrorClass};
use crate::ports::PortError;

/// A failure of the idempotency layer itself.
///
/// | condition | retry |
/// |---|---|
/// | [`is_in_progress`](Self::is_in_progress): a duplicate arrived while the first delivery runs | retryable |
/// | [`is_payload_mismatch`](Self::is_payload_mismatch): the key was used with another payload | permanent |
/// | [`is_missing_key`](Self::is_missing_key): the envelope has no key | permanent |
/// | [`is_store`](Self::is_store): the store failed while taking the lock ([fail closed](super::OnStoreError::FailClosed)); the handler did not run | retryable |
/// | [`is_bad_stored_result`](Self::is_bad_stored_result): the stored result does not deserialize | permanent |
/// | [`is_unhashable`](Self::is_unhashable): the payload does not serialize for hashing | permanent |
#[derive(Debug)]
pub struct IdempotencyError {
    kind: Kind,
    key: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    InProgress,
    PayloadMismatch,
    MissingKey,
    Store(ErrorClass),
    BadStoredResult,
    Unhashable,
}

impl IdempotencyError {
    fn new(kind: Kind, key: impl Into<String>) -> Self {
        Self {
            kind,
            key: key.into(),
            source: None,
        }
    }

    pub(super) fn in_progress(key: &str) -> Self {
        Self::new(Kind::InProgress, key)
    }

    pub(super) fn payload_mismatch(key: &str) -> Self {
        Self::new(Kind::PayloadMismatch, key)
    }

    pub(super) fn missing_key(record_id: &str) -> Self {
        Self::new(Kind::MissingKey, format!("(none; record {record_id})"))
    }

    pub(super) fn store(e: PortError) -> Self {
        // The handler did not run: a redelivery is always safe, whatever the
        // store said (an access-denied store may be fixed in the meantime).
        let mut me = Self::new(Kind::Store(ErrorClass::Retryable), "");
        me.source = Some(Box::new(e));
        me
    }

    pub(super) fn bad_stored_result(key: &str, e: serde_json::Error) -> Self {
        let mut me = Self::new(Kind::BadStoredResult, key);
        me.source = Some(Box::new(e));
        me
    }

    pub(super) fn unhashable(e: serde_json::Error) -> Self {
        let mut me = Self::new(Kind::Unhashable, "");
        me.source = Some(Box::new(e));
        me
    }

    /// The key concerned (empty for store and hashing failures).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// A duplicate arrived while the first delivery is in progress.
    pub fn is_in_progress(&self) -> bool {
        self.kind == Kind::InProgress
    }

    /// The key was used before with a different payload.
    pub fn is_payload_mismatch(&self) -> bool {
        self.kind == Kind::PayloadMismatch
    }

    /// The envelope has no idempotency key.
    pub fn is_missing_key(&self) -> bool {
        self.kind == Kind::MissingKey
    }

    /// The idempotency store failed (the [`PortError`] is the source).
    pub fn is_store(&self) -> bool {
        matches!(self.kind, Kind::Store(_))
    }

    /// The stored result does not deserialize into the handler's response type.
    pub fn is_bad_stored_result(&self) -> bool {
        self.kind == Kind::BadStoredResult
    }

    /// The payload could not be serialized for hashing.
    pub fn is_unhashable(&self) -> bool {
        self.kind == Kind::Unhashable
    }
}

impl fmt::Display for IdempotencyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = &self.key;
        match self.kind {
            Kind::InProgress => write!(
                f,
                "idempotency key `{key}` is being processed by another delivery; try again later"
            ),
            Kind::PayloadMismatch => write!(
                f,
                "idempotency key `{key}` was already used with a different payload"
            ),
            Kind::MissingKey => f.write_str("the event has no idempotency key"),
            Kind::Store(_) => f.write_str("the idempotency store failed"),
            Kind::BadStoredResult => write!(
                f,
                "the stored result for idempotency key `{key}` does not deserialize"
            ),
            Kind::Unhashable => f.write_str("the event does not serialize for its payload hash"),
        }
    }
}

impl std::error::Error for IdempotencyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl Classify for IdempotencyError {
    fn retry(&self) -> ErrorClass {
        match self.kind {
            Kind::InProgress => ErrorClass::Retryable,
            Kind::Store(r) => r,
            Kind::PayloadMismatch | Kind::MissingKey | Kind::BadStoredResult | Kind::Unhashable => {
                ErrorClass::Permanent
            }
        }
    }
}

/// Whether `err` is, or wraps (anywhere in its `source()` chain), an
/// [`IdempotencyError`] that [is in progress](IdempotencyError::is_in_progress):
/// a duplicate delivery that arrived while the first one still runs.
///
/// Such a failure is not final: the first delivery reports the outcome, and
/// the source delivers the duplicate again later (when it is answered from
/// the store). The layers that act on final failures ask this and let it
/// pass untouched: the [alarm](crate::layers::alarm) and
/// [dead-letter](crate::layers::dead_letter) layers neither alarm nor keep a
/// letter, and the [task-token](crate::layers::task_token) layer does not fail
/// the task. Use it in your own filters and layers for the same reason.
///
/// ```
/// use eventrail::layers::idempotency::is_in_progress_elsewhere;
/// use eventrail::{BoxError, HandlerError};
///
/// let failed: BoxError = HandlerError::retryable("busy").into();
/// assert!(!is_in_progress_elsewhere(&*failed));
/// ```
pub fn is_in_progress_elsewhere(err: &(dyn StdError + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<IdempotencyError>()
            .is_some_and(IdempotencyError::is_in_progress)
        {
            return true;
        }
        cur = e.source();
    }
    false
}
