//! The idempotency store: one record per delivery key.

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::PortError;

/// The state of an idempotency record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IdempotencyStatus {
    /// A handler is running for this key.
    InProgress,
    /// A handler completed for this key; its result is stored.
    Completed,
}

/// An idempotency record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IdempotencyRecord {
    /// The idempotency key.
    pub key: String,
    /// Its state.
    pub status: IdempotencyStatus,
    /// When the record expires (a completed record is ignored after this).
    pub expires_at: SystemTime,
    /// When an in-progress record may be taken over (the handler is presumed dead).
    pub in_progress_expires_at: Option<SystemTime>,
    /// A hash of the payload, to detect the same key with another payload.
    pub payload_hash: Option<String>,
    /// The handler's result as JSON text, once completed.
    pub result: Option<String>,
}

impl IdempotencyRecord {
    /// A new in-progress record.
    pub fn in_progress(
        key: impl Into<String>,
        expires_at: SystemTime,
        in_progress_expires_at: Option<SystemTime>,
        payload_hash: Option<String>,
    ) -> Self {
        Self {
            key: key.into(),
            status: IdempotencyStatus::InProgress,
            expires_at,
            in_progress_expires_at,
            payload_hash,
            result: None,
        }
    }

    /// Marks the record completed with `result` (JSON text) until `expires_at`,
    /// as [`IdempotencyStore::complete`] does.
    pub fn complete(&mut self, result: String, expires_at: SystemTime) {
        self.status = IdempotencyStatus::Completed;
        self.result = Some(result);
        self.expires_at = expires_at;
        self.in_progress_expires_at = None;
    }

    /// Whether, at `now`, this record still blocks a new lock on its key.
    ///
    /// It does unless it expired, or it is in progress and its in-progress
    /// expiry passed. This is the condition every store implements atomically.
    pub fn is_live_at(&self, now: SystemTime) -> bool {
        is_live(
            self.status,
            self.expires_at,
            self.in_progress_expires_at,
            now,
        )
    }
}

/// [`IdempotencyRecord::is_live_at`] on a record's parts, for a store that
/// keeps them in its own layout.
pub(crate) fn is_live(
    status: IdempotencyStatus,
    expires_at: SystemTime,
    in_progress_expires_at: Option<SystemTime>,
    now: SystemTime,
) -> bool {
    if expires_at <= now {
        return false;
    }
    match (status, in_progress_expires_at) {
        (IdempotencyStatus::InProgress, Some(t)) => t > now,
        _ => true,
    }
}

/// The outcome of [`IdempotencyStore::try_lock`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockOutcome {
    /// The record was written: the caller owns the key.
    Acquired,
    /// A live record exists for the key; here it is.
    Exists(IdempotencyRecord),
}

/// Stores idempotency records with conditional writes.
#[async_trait]
pub trait IdempotencyStore: Send + Sync + fmt::Debug {
    /// Writes `record` unless a record for its key is live at `now`
    /// (see [`IdempotencyRecord::is_live_at`]); atomically.
    async fn try_lock(
        &self,
        record: IdempotencyRecord,
        now: SystemTime,
    ) -> Result<LockOutcome, PortError>;
    /// Marks `key` completed with `result` (JSON text) until `expires_at`.
    async fn complete(
        &self,
        key: &str,
        result: String,
        expires_at: SystemTime,
    ) -> Result<(), PortError>;
    /// Deletes the record for `key` (no error if there is none).
    async fn delete(&self, key: &str) -> Result<(), PortError>;
    /// Reads the record for `key`.
    async fn get(&self, key: &str) -> Result<Option<IdempotencyRecord>, PortError>;

    /// [`try_lock`](Self::try_lock) answered at once, for a store that never
    /// waits (one in memory): the same outcome, state change, faults and
    /// call log as `try_lock(record.clone(), now)` would give, without a
    /// future or a copy of the record. `None`, the default, has the caller
    /// await `try_lock` (a store with I/O).
    ///
    /// The idempotency layer asks this first on every call; an in-memory
    /// store answering here saves a boxed future and a copy of the key per
    /// event.
    fn try_lock_now(
        &self,
        record: &IdempotencyRecord,
        now: SystemTime,
    ) -> Option<Result<LockOutcome, PortError>> {
        let _ = (record, now);
        None
    }

    /// [`complete`](Self::complete) answered at once, as
    /// [`try_lock_now`](Self::try_lock_now) is: `result` is borrowed, so
    /// the caller need not allocate it. `None`, the default, has the caller
    /// await `complete`.
    fn complete_now(
        &self,
        key: &str,
        result: &str,
        expires_at: SystemTime,
    ) -> Option<Result<(), PortError>> {
        let _ = (key, result, expires_at);
        None
    }
}
