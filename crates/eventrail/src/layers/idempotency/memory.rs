use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use async_trait::async_trait;

use crate::ports::{IdempotencyRecord, IdempotencyStore, LockOutcome, PortError};

/// An [`IdempotencyStore`] in memory: for tests, local runs, and functions
/// whose duplicates arrive within one warm instance. Clones share records.
///
/// Expiry is decided by the `now` the layer passes in, so it follows whatever
/// [`Clock`](crate::ports::Clock) the layer uses.
#[derive(Clone, Debug, Default)]
pub struct MemoryIdempotencyStore {
    records: Arc<Mutex<HashMap<String, IdempotencyRecord>>>,
}

impl MemoryIdempotencyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many records are stored, expired ones included.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no record is stored.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, IdempotencyRecord>> {
        // A panic while holding the lock cannot leave a record half-written.
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl IdempotencyStore for MemoryIdempotencyStore {
    async fn try_lock(
        &self,
        record: IdempotencyRecord,
        now: SystemTime,
    ) -> Result<LockOutcome, PortError> {
        let mut records = self.lock();
        if let Some(existing) = records.get(&record.key) {
            if existing.is_live_at(now) {
                return Ok(LockOutcome::Exists(existing.clone()));
            }
        }
        records.insert(record.key.clone(), record);
        Ok(LockOutcome::Acquired)
    }

    async fn complete(
        &self,
        key: &str,
        result: String,
        expires_at: SystemTime,
    ) -> Result<(), PortError> {
        let mut records = self.lock();
        records
            .entry(key.to_owned())
            .or_insert_with(|| IdempotencyRecord::in_progress(key, expires_at, None, None))
            .complete(result, expires_at);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.lock().remove(key);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<IdempotencyRecord>, PortError> {
        Ok(self.lock().get(key).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn lock_complete_expire() {
        let s = MemoryIdempotencyStore::new();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let rec = |exp| {
            IdempotencyRecord::in_progress("k", t0 + Duration::from_secs(3600), Some(exp), None)
        };
        assert_eq!(
            s.try_lock(rec(t0 + Duration::from_secs(10)), t0)
                .await
                .unwrap(),
            LockOutcome::Acquired
        );
        assert!(matches!(
            s.try_lock(rec(t0), t0).await.unwrap(),
            LockOutcome::Exists(_)
        ));
        // The in-progress expiry passed: the key can be taken over.
        let later = t0 + Duration::from_secs(11);
        assert_eq!(
            s.try_lock(rec(later + Duration::from_secs(10)), later)
                .await
                .unwrap(),
            LockOutcome::Acquired
        );
        s.complete("k", "1".into(), later + Duration::from_secs(60))
            .await
            .unwrap();
        let got = s.get("k").await.unwrap().unwrap();
        assert_eq!(got.status, crate::ports::IdempotencyStatus::Completed);
        assert_eq!(got.result.as_deref(), Some("1"));
        s.delete("k").await.unwrap();
        assert!(s.is_empty());
    }
}
