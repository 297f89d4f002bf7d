//! The idempotency store fake.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;
use eventrail::ports::{
    IdempotencyRecord, IdempotencyStatus, IdempotencyStore, LockOutcome, PortError,
};

use super::{fault_methods, lock, record, Call, Faults};

/// A call to a [`FakeIdempotencyStore`].
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

/// An in-memory idempotency store.
///
/// Expiry follows the clock of its caller: [`try_lock`](IdempotencyStore::try_lock)
/// gets `now` from the idempotency layer, which reads it from a
/// [`TokioClock`](eventrail::ports::TokioClock) in tests, so advancing tokio's
/// paused clock expires records. Locks are atomic (one mutex), like the
/// conditional write of the DynamoDB store; otherwise it behaves as the
/// core's [`MemoryIdempotencyStore`](eventrail::layers::MemoryIdempotencyStore),
/// and adds fault injection, a call log and per-key lock counts.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use eventrail::ports::{IdempotencyRecord, IdempotencyStore, LockOutcome};
/// use eventrail_testkit::fakes::FakeIdempotencyStore;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = FakeIdempotencyStore::new();
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
pub struct FakeIdempotencyStore {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    records: BTreeMap<String, IdempotencyRecord>,
    acquired: BTreeMap<String, usize>,
    calls: Vec<Call<IdempotencyCall>>,
    faults: Faults<IdempotencyCall>,
}

impl FakeIdempotencyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fault_methods!(IdempotencyCall, "call");

    /// The record for `key`, expired or not.
    pub fn record(&self, key: &str) -> Option<IdempotencyRecord> {
        lock(&self.inner).records.get(key).cloned()
    }

    /// Every key with a record, expired or not, sorted.
    pub fn keys(&self) -> Vec<String> {
        lock(&self.inner).records.keys().cloned().collect()
    }

    /// The keys whose records are live at `now`
    /// (see [`IdempotencyRecord::is_live_at`]).
    pub fn live_keys(&self, now: SystemTime) -> Vec<String> {
        lock(&self.inner)
            .records
            .values()
            .filter(|r| r.is_live_at(now))
            .map(|r| r.key.clone())
            .collect()
    }

    /// The keys with a completed record, sorted.
    pub fn completed_keys(&self) -> Vec<String> {
        lock(&self.inner)
            .records
            .values()
            .filter(|r| r.status == IdempotencyStatus::Completed)
            .map(|r| r.key.clone())
            .collect()
    }

    /// How many times `key` was locked successfully: how many times a handler
    /// ran for it.
    pub fn acquired(&self, key: &str) -> usize {
        lock(&self.inner).acquired.get(key).copied().unwrap_or(0)
    }

    /// Forgets every record and call (faults stay).
    pub fn clear(&self) {
        let mut state = lock(&self.inner);
        state.records.clear();
        state.acquired.clear();
        state.calls.clear();
    }
}

impl FakeIdempotencyStore {
    fn run<R>(
        &self,
        call: IdempotencyCall,
        f: impl FnOnce(&mut State) -> Result<R, PortError>,
    ) -> Result<R, PortError> {
        let mut state = lock(&self.inner);
        let result = match state.faults.check(&call) {
            Some(e) => Err(e),
            None => f(&mut state),
        };
        record(&mut state.calls, call, result)
    }
}

#[async_trait]
impl IdempotencyStore for FakeIdempotencyStore {
    async fn try_lock(
        &self,
        rec: IdempotencyRecord,
        now: SystemTime,
    ) -> Result<LockOutcome, PortError> {
        let call = IdempotencyCall::TryLock {
            key: rec.key.clone(),
            now,
        };
        self.run(call, |state| {
            if let Some(existing) = state.records.get(&rec.key) {
                if existing.is_live_at(now) {
                    return Ok(LockOutcome::Exists(existing.clone()));
                }
            }
            *state.acquired.entry(rec.key.clone()).or_default() += 1;
            state.records.insert(rec.key.clone(), rec);
            Ok(LockOutcome::Acquired)
        })
    }

    async fn complete(
        &self,
        key: &str,
        result: String,
        expires_at: SystemTime,
    ) -> Result<(), PortError> {
        let call = IdempotencyCall::Complete {
            key: key.to_owned(),
        };
        // Like the DynamoDB store's `UpdateItem` (and the core's memory
        // store): a missing record is created completed.
        self.run(call, |state| {
            state
                .records
                .entry(key.to_owned())
                .or_insert_with(|| IdempotencyRecord::in_progress(key, expires_at, None, None))
                .complete(result, expires_at);
            Ok(())
        })
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        let call = IdempotencyCall::Delete {
            key: key.to_owned(),
        };
        self.run(call, |state| {
            state.records.remove(key);
            Ok(())
        })
    }

    async fn get(&self, key: &str) -> Result<Option<IdempotencyRecord>, PortError> {
        let call = IdempotencyCall::Get {
            key: key.to_owned(),
        };
        self.run(call, |state| Ok(state.records.get(key).cloned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn in_progress_expiry_and_completion() {
        let store = FakeIdempotencyStore::new();
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
        assert_eq!(store.acquired("k"), 2);
        store.delete("k").await.unwrap();
        assert_eq!(store.get("k").await.unwrap(), None);
        assert_eq!(store.calls().len(), 5);
    }

    #[tokio::test]
    async fn completing_a_missing_key_creates_it_and_faults_apply() {
        let store = FakeIdempotencyStore::new();
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        store.complete("gone", "1".into(), t).await.unwrap();
        assert_eq!(store.completed_keys(), ["gone"]);
        store.fail_when(
            |c| matches!(c, IdempotencyCall::TryLock { .. }),
            crate::fakes::Fault::throttled(),
        );
        let rec = IdempotencyRecord::in_progress("k", t, None, None);
        assert!(store.try_lock(rec, t).await.unwrap_err().is_retryable());
        assert_eq!(store.acquired("k"), 0);
    }
}
