//! The local idempotency store.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::faults::{fault_methods, lock, CallLog, FaultPlan};
use crate::layers::idempotency::table::{self, Slot, Slots};
use crate::ports::{
    IdempotencyRecord, IdempotencyStatus, IdempotencyStore, LockOutcome, PortError,
};
use async_trait::async_trait;

/// A call to a [`LocalIdempotencyStore`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdempotencyCall {
    /// `try_lock`, with the caller's clock reading.
    TryLock {
        /// The key.
        key: String,
        /// The `now` the caller passed.
        now: SystemTime,
    },
    /// `complete`.
    Complete {
        /// The key.
        key: String,
    },
    /// `delete`.
    Delete {
        /// The key.
        key: String,
    },
    /// `get`.
    Get {
        /// The key.
        key: String,
    },
}

impl IdempotencyCall {
    /// The key the call was for.
    pub fn key(&self) -> &str {
        match self {
            IdempotencyCall::TryLock { key, .. }
            | IdempotencyCall::Complete { key }
            | IdempotencyCall::Delete { key }
            | IdempotencyCall::Get { key } => key,
        }
    }
}

/// An [`IdempotencyStore`] in memory, with a call log, fault injection and
/// per-key lock counts.
///
/// Expiry follows the `now` its caller passes (the idempotency layer's
/// clock). A lock is one hashed lookup under one mutex (atomic, like the
/// DynamoDB store's conditional write). A record takes a 64-byte slot and
/// the bytes of its key, payload hash and result, copied into one buffer
/// the store's records share (no allocation per record). Every lock taken
/// and every duplicate is logged at `DEBUG`.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use eventrail::local::LocalIdempotencyStore;
/// use eventrail::ports::{IdempotencyRecord, IdempotencyStore, LockOutcome};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = LocalIdempotencyStore::new();
/// let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
/// let rec = || IdempotencyRecord::in_progress("order-42", t0 + Duration::from_secs(3600), None, None);
///
/// assert_eq!(store.try_lock(rec(), t0).await.unwrap(), LockOutcome::Acquired);
/// assert!(matches!(store.try_lock(rec(), t0).await.unwrap(), LockOutcome::Exists(_)));
/// // An hour later the record has expired and the key can be taken again.
/// assert_eq!(store.try_lock(rec(), t0 + Duration::from_secs(3600)).await.unwrap(), LockOutcome::Acquired);
/// assert_eq!(store.acquired("order-42"), 2);
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct LocalIdempotencyStore {
    inner: Arc<Mutex<Slots>>,
    faults: FaultPlan<IdempotencyCall>,
    calls: CallLog<IdempotencyCall>,
}

impl LocalIdempotencyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    history_constructors! {
        /// A store that keeps no history: its call log is
        /// [discarding](CallLog::discarding) (calls are counted, none kept).
        /// The records are kept as by [`new`](Self::new): they are what
        /// answers a duplicate.
        ///
        /// ```
        /// # #[tokio::main(flavor = "current_thread")] async fn main() {
        /// use std::time::{Duration, SystemTime};
        /// use eventrail::local::LocalIdempotencyStore;
        /// use eventrail::ports::{IdempotencyRecord, IdempotencyStore, LockOutcome};
        ///
        /// let store = LocalIdempotencyStore::without_history();
        /// let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        /// let rec = || IdempotencyRecord::in_progress("order-42", t0 + Duration::from_secs(3600), None, None);
        /// assert_eq!(store.try_lock(rec(), t0).await.unwrap(), LockOutcome::Acquired);
        /// assert!(matches!(store.try_lock(rec(), t0).await.unwrap(), LockOutcome::Exists(_)));
        /// assert!(store.calls().is_empty());
        /// assert_eq!(store.call_count(), 2);
        /// # }
        /// ```
    }

    fault_methods!(IdempotencyCall, "call");

    /// The record for `key`, expired or not.
    pub fn record(&self, key: &str) -> Option<IdempotencyRecord> {
        lock(&self.inner).lookup(key)
    }

    /// Every key with a record, expired or not, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.keys_where(|_| true)
    }

    /// The keys whose records are live at `now`
    /// (see [`IdempotencyRecord::is_live_at`]), sorted.
    pub fn live_keys(&self, now: SystemTime) -> Vec<String> {
        self.keys_where(|s| s.is_live_at(now))
    }

    /// The keys with a completed record, sorted.
    pub fn completed_keys(&self) -> Vec<String> {
        self.keys_where(|s| s.status == IdempotencyStatus::Completed)
    }

    fn keys_where(&self, f: impl Fn(&Slot) -> bool) -> Vec<String> {
        let slots = lock(&self.inner);
        let mut keys: Vec<String> = slots
            .iter()
            .filter(|s| s.present && f(s))
            .filter_map(|s| slots.text(s.key))
            .collect();
        keys.sort_unstable();
        keys
    }

    /// How many times `key` was locked successfully: how many times a handler
    /// ran for it.
    pub fn acquired(&self, key: &str) -> usize {
        lock(&self.inner)
            .get(key)
            .map_or(0, |s| s.acquired as usize)
    }

    /// Forgets every record and call (faults stay).
    pub fn clear(&self) {
        lock(&self.inner).clear();
        self.calls.clear();
    }
}

impl LocalIdempotencyStore {
    /// `try_lock`, which never waits: the port's async method and
    /// [`try_lock_now`](IdempotencyStore::try_lock_now) both run it.
    fn lock_record(
        &self,
        rec: &IdempotencyRecord,
        now: SystemTime,
    ) -> Result<LockOutcome, PortError> {
        let mut slots = lock(&self.inner);
        let call = || IdempotencyCall::TryLock {
            key: rec.key.clone(),
            now,
        };
        self.faults.run_lazy(&self.calls, call, || {
            let outcome = table::try_lock(&mut slots, rec, now)?;
            match &outcome {
                LockOutcome::Exists(existing) => {
                    tracing::debug!(target: "eventrail::local", key = %rec.key, status = ?existing.status, "idempotency: duplicate");
                }
                LockOutcome::Acquired => {
                    tracing::debug!(target: "eventrail::local", key = %rec.key, "idempotency: locked");
                }
            }
            Ok(outcome)
        })
    }

    /// `complete`, which never waits (see [`lock_record`](Self::lock_record)).
    fn complete_record(
        &self,
        key: &str,
        result: &str,
        expires_at: SystemTime,
    ) -> Result<(), PortError> {
        let mut slots = lock(&self.inner);
        let call = || IdempotencyCall::Complete {
            key: key.to_owned(),
        };
        self.faults.run_lazy(&self.calls, call, || {
            tracing::debug!(target: "eventrail::local", key = %key, result = %result, "idempotency: completed");
            table::complete(&mut slots, key, result, expires_at)
        })
    }
}

#[async_trait]
impl IdempotencyStore for LocalIdempotencyStore {
    async fn try_lock(
        &self,
        rec: IdempotencyRecord,
        now: SystemTime,
    ) -> Result<LockOutcome, PortError> {
        self.lock_record(&rec, now)
    }

    async fn complete(
        &self,
        key: &str,
        result: String,
        expires_at: SystemTime,
    ) -> Result<(), PortError> {
        self.complete_record(key, &result, expires_at)
    }

    fn try_lock_now(
        &self,
        rec: &IdempotencyRecord,
        now: SystemTime,
    ) -> Option<Result<LockOutcome, PortError>> {
        Some(self.lock_record(rec, now))
    }

    fn complete_now(
        &self,
        key: &str,
        result: &str,
        expires_at: SystemTime,
    ) -> Option<Result<(), PortError>> {
        Some(self.complete_record(key, result, expires_at))
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        let mut slots = lock(&self.inner);
        let call = || IdempotencyCall::Delete {
            key: key.to_owned(),
        };
        self.faults.run_lazy(&self.calls, call, || {
            tracing::debug!(target: "eventrail::local", key = %key, "idempotency: released");
            // The slot stays (not present), keeping the key's lock count.
            slots.delete(key);
            Ok(())
        })
    }

    async fn get(&self, key: &str) -> Result<Option<IdempotencyRecord>, PortError> {
        let slots = lock(&self.inner);
        let call = || IdempotencyCall::Get {
            key: key.to_owned(),
        };
        self.faults
            .run_lazy(&self.calls, call, || Ok(slots.lookup(key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::Fault;
    use std::time::Duration;

    #[tokio::test]
    async fn in_progress_expiry_and_completion() {
        let store = LocalIdempotencyStore::new();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(10);
        let rec = IdempotencyRecord::in_progress(
            "k",
            t0 + Duration::from_secs(100),
            Some(t0 + Duration::from_secs(5)),
            None,
        );
        assert_eq!(
            store.try_lock(rec.clone(), t0).await.unwrap(),
            LockOutcome::Acquired
        );
        // Presumed dead after 5 s: taken over.
        let later = t0 + Duration::from_secs(5);
        assert_eq!(
            store.try_lock(rec, later).await.unwrap(),
            LockOutcome::Acquired
        );
        store
            .complete("k", "42".into(), t0 + Duration::from_secs(100))
            .await
            .unwrap();
        assert_eq!(store.completed_keys(), ["k"]);
        assert_eq!(store.live_keys(later), ["k"]);
        assert!(store.live_keys(t0 + Duration::from_secs(100)).is_empty());
        assert_eq!(store.acquired("k"), 2, "completion keeps the count");
        assert_eq!(store.record("k").unwrap().result.as_deref(), Some("42"));
        store.delete("k").await.unwrap();
        assert_eq!(store.get("k").await.unwrap(), None);
        assert!(store.keys().is_empty());
        assert_eq!(store.acquired("k"), 2, "a deleted key keeps its count");
        assert_eq!(store.calls().len(), 5);
        assert_eq!(
            store.calls()[2].request,
            IdempotencyCall::Complete { key: "k".into() }
        );
    }

    #[tokio::test]
    async fn completing_a_missing_key_creates_it_and_faults_apply() {
        let store = LocalIdempotencyStore::new();
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        store.complete("gone", "1".into(), t).await.unwrap();
        assert_eq!(store.completed_keys(), ["gone"]);
        store.fail_when(
            |c| matches!(c, IdempotencyCall::TryLock { .. }),
            Fault::throttled(),
        );
        let rec = IdempotencyRecord::in_progress("k", t, None, None);
        assert!(store.try_lock(rec, t).await.unwrap_err().is_retryable());
        assert_eq!(store.acquired("k"), 0);
        assert_eq!(store.keys(), ["gone"]);
    }

    #[tokio::test]
    async fn answers_now_as_its_futures_do_faults_and_log_included() {
        let store = LocalIdempotencyStore::new();
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let exp = t + Duration::from_secs(60);
        let rec = IdempotencyRecord::in_progress("k", exp, Some(exp), None);
        assert_eq!(
            store.try_lock_now(&rec, t).unwrap().unwrap(),
            LockOutcome::Acquired
        );
        // The record the future then finds is the one written now.
        match store.try_lock(rec.clone(), t).await.unwrap() {
            LockOutcome::Exists(existing) => {
                assert_eq!(existing.status, IdempotencyStatus::InProgress)
            }
            other => panic!("expected the live record, got {other:?}"),
        }
        store.complete_now("k", r#"{"n":1}"#, exp).unwrap().unwrap();
        assert_eq!(
            store.record("k").unwrap().result.as_deref(),
            Some(r#"{"n":1}"#)
        );
        store.fail_next(2, Fault::throttled());
        assert!(store.try_lock_now(&rec, t).unwrap().is_err());
        assert!(store.complete_now("k", "2", exp).unwrap().is_err());
        assert_eq!(store.acquired("k"), 1);
        let kinds: Vec<_> = store
            .calls()
            .iter()
            .map(|c| {
                (
                    matches!(c.request, IdempotencyCall::TryLock { .. }),
                    c.is_ok(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                (true, true),
                (true, true),
                (false, true),
                (true, false),
                (false, false)
            ]
        );
    }

    #[tokio::test]
    async fn a_released_key_keeps_its_count_and_is_taken_again() {
        let store = LocalIdempotencyStore::new();
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let exp = t + Duration::from_secs(60);
        let rec = |k: &str| IdempotencyRecord::in_progress(k, exp, None, None);
        for k in ["a", "b", "c"] {
            assert_eq!(
                store.try_lock(rec(k), t).await.unwrap(),
                LockOutcome::Acquired
            );
        }
        store.delete("b").await.unwrap();
        assert_eq!(store.keys(), ["a", "c"]);
        assert_eq!(
            store.try_lock(rec("b"), t).await.unwrap(),
            LockOutcome::Acquired
        );
        assert_eq!(store.acquired("b"), 2);
        store.complete("b", "7".into(), exp).await.unwrap();
        assert!(matches!(
            store.try_lock(rec("b"), t).await.unwrap(),
            LockOutcome::Exists(r) if r.result.as_deref() == Some("7")
        ));
        assert_eq!(
            (
                store.acquired("a"),
                store.acquired("b"),
                store.acquired("c")
            ),
            (1, 2, 1)
        );
        store.clear();
        assert!(store.keys().is_empty());
        assert_eq!(
            store.try_lock(rec("a"), t).await.unwrap(),
            LockOutcome::Acquired
        );
        assert_eq!(store.acquired("a"), 1, "clear forgets the counts");
    }

    #[tokio::test]
    async fn released_text_is_squeezed_out_and_the_rest_kept() {
        let store = LocalIdempotencyStore::new();
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let exp = t + Duration::from_secs(60);
        let result = |i: usize| format!("{i:0>100}");
        for i in 0..2000 {
            let rec =
                IdempotencyRecord::in_progress(format!("k{i}"), exp, None, Some(format!("h{i}")));
            assert_eq!(store.try_lock(rec, t).await.unwrap(), LockOutcome::Acquired);
            store
                .complete(&format!("k{i}"), result(i), exp)
                .await
                .unwrap();
        }
        let full = lock(&store.inner).buffer_len();
        for i in (0..2000).filter(|i| i % 4 != 0) {
            store.delete(&format!("k{i}")).await.unwrap();
        }
        let after = lock(&store.inner).buffer_len();
        assert!(after < full / 2, "{after} of {full} bytes kept");
        assert_eq!(store.keys().len(), 500);
        for i in (0..2000).step_by(4) {
            let rec = store.record(&format!("k{i}")).unwrap();
            assert_eq!(rec.result, Some(result(i)));
            assert_eq!(rec.payload_hash, Some(format!("h{i}")));
            assert_eq!(rec.status, IdempotencyStatus::Completed);
        }
        // A released key keeps its count and takes a new record.
        assert_eq!(store.get("k1").await.unwrap(), None);
        assert_eq!(store.acquired("k1"), 1);
        let again = IdempotencyRecord::in_progress("k1", exp, None, None);
        assert_eq!(
            store.try_lock(again, t).await.unwrap(),
            LockOutcome::Acquired
        );
        assert_eq!(store.acquired("k1"), 2);
        assert_eq!(store.record("k1").unwrap().payload_hash, None);
    }

    #[tokio::test]
    async fn many_keys_each_lock_once() {
        let store = LocalIdempotencyStore::new();
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let exp = t + Duration::from_secs(60);
        for i in 0..1000 {
            let rec = IdempotencyRecord::in_progress(format!("{i:0>200}"), exp, None, None);
            assert_eq!(store.try_lock(rec, t).await.unwrap(), LockOutcome::Acquired);
        }
        let dup = IdempotencyRecord::in_progress(format!("{:0>200}", 7), exp, None, None);
        assert!(
            matches!(store.try_lock(dup, t).await.unwrap(), LockOutcome::Exists(r) if r.key.ends_with('7'))
        );
        assert_eq!(store.keys().len(), 1000);
        assert_eq!(store.acquired(&format!("{:0>200}", 7)), 1);
    }
}
