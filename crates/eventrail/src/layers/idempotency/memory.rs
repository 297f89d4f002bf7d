use std::collections::hash_map::Entry;
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

// The map holds each record under its key, with the record's own `key`
// field left empty (a second copy of every key would cost an allocation per
// lock); records are given their key back on the way out.

/// `record` (kept without its key) as the store's callers see it.
fn with_key(key: &str, record: &IdempotencyRecord) -> IdempotencyRecord {
    let mut out = record.clone();
    out.key = key.to_owned();
    out
}

#[async_trait]
impl IdempotencyStore for MemoryIdempotencyStore {
    async fn try_lock(
        &self,
        mut record: IdempotencyRecord,
        now: SystemTime,
    ) -> Result<LockOutcome, PortError> {
        let key = std::mem::take(&mut record.key);
        // One lookup: the key is hashed once whatever the outcome.
        match self.lock().entry(key) {
            Entry::Occupied(e) if e.get().is_live_at(now) => {
                Ok(LockOutcome::Exists(with_key(e.key(), e.get())))
            }
            Entry::Occupied(mut e) => {
                e.insert(record);
                Ok(LockOutcome::Acquired)
            }
            Entry::Vacant(e) => {
                e.insert(record);
                Ok(LockOutcome::Acquired)
            }
        }
    }

    async fn complete(
        &self,
        key: &str,
        result: String,
        expires_at: SystemTime,
    ) -> Result<(), PortError> {
        let mut records = self.lock();
        match records.get_mut(key) {
            Some(record) => record.complete(result, expires_at),
            None => {
                let mut record =
                    IdempotencyRecord::in_progress(String::new(), expires_at, None, None);
                record.complete(result, expires_at);
                records.insert(key.to_owned(), record);
            }
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.lock().remove(key);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<IdempotencyRecord>, PortError> {
        Ok(self
            .lock()
            .get_key_value(key)
            .map(|(key, record)| with_key(key, record)))
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
        match s.try_lock(rec(t0), t0).await.unwrap() {
            LockOutcome::Exists(existing) => assert_eq!(existing.key, "k"),
            other => panic!("expected the live record, got {other:?}"),
        }
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
        assert_eq!(got.key, "k");
        // Completing a key that holds no record (it expired and was taken
        // over elsewhere) stores it completed.
        s.complete("gone", "2".into(), later + Duration::from_secs(60))
            .await
            .unwrap();
        let gone = s.get("gone").await.unwrap().unwrap();
        assert_eq!(
            (gone.key.as_str(), gone.status, gone.result.as_deref()),
            (
                "gone",
                crate::ports::IdempotencyStatus::Completed,
                Some("2")
            )
        );
        s.delete("gone").await.unwrap();
        s.delete("k").await.unwrap();
        assert!(s.is_empty());
    }
}
