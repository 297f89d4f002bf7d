use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use async_trait::async_trait;

use super::table::{self, Slots};
use crate::ports::{IdempotencyRecord, IdempotencyStore, LockOutcome, PortError};

/// An [`IdempotencyStore`] in memory: for tests, local runs, and functions
/// whose duplicates arrive within one warm instance. Clones share records.
///
/// Expiry is decided by the `now` the layer passes in, so it follows whatever
/// [`Clock`](crate::ports::Clock) the layer uses. A call is one hashed
/// lookup under one mutex; a record takes a 64-byte slot and the bytes of
/// its key, payload hash and result, copied into one buffer the records
/// share (no allocation per record). Keys are hashed with foldhash from a
/// seed drawn when the store is made, so keys taken from event payloads
/// cannot be prepared in advance to collide (foldhash resists that much,
/// not a sender who studies a long-lived process). A deleted key keeps its slot (not its record): a store that
/// sees a stream of new keys grows by one slot and one key per key, as a
/// map of records would.
#[derive(Clone, Debug, Default)]
pub struct MemoryIdempotencyStore {
    records: Arc<Mutex<Slots>>,
}

impl MemoryIdempotencyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many records are stored, expired ones included.
    pub fn len(&self) -> usize {
        self.lock().present()
    }

    /// Whether no record is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
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
        table::try_lock(&mut self.lock(), &record, now)
    }

    async fn complete(
        &self,
        key: &str,
        result: String,
        expires_at: SystemTime,
    ) -> Result<(), PortError> {
        table::complete(&mut self.lock(), key, &result, expires_at)
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.lock().delete(key);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<IdempotencyRecord>, PortError> {
        Ok(self.lock().lookup(key))
    }

    fn try_lock_now(
        &self,
        record: &IdempotencyRecord,
        now: SystemTime,
    ) -> Option<Result<LockOutcome, PortError>> {
        Some(table::try_lock(&mut self.lock(), record, now))
    }

    fn complete_now(
        &self,
        key: &str,
        result: &str,
        expires_at: SystemTime,
    ) -> Option<Result<(), PortError>> {
        Some(table::complete(&mut self.lock(), key, result, expires_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn answers_now_what_its_futures_answer() {
        let s = MemoryIdempotencyStore::new();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let exp = t0 + Duration::from_secs(60);
        let rec = IdempotencyRecord::in_progress("k", exp, Some(exp), Some("h".into()));
        assert_eq!(
            s.try_lock_now(&rec, t0).unwrap().unwrap(),
            LockOutcome::Acquired
        );
        match s.try_lock_now(&rec, t0).unwrap().unwrap() {
            LockOutcome::Exists(existing) => {
                assert_eq!(existing.payload_hash.as_deref(), Some("h"))
            }
            other => panic!("expected the live record, got {other:?}"),
        }
        s.complete_now("k", "[1]", exp).unwrap().unwrap();
        let got = s.get("k").await.unwrap().unwrap();
        assert_eq!(got.status, crate::ports::IdempotencyStatus::Completed);
        assert_eq!(got.result.as_deref(), Some("[1]"));
        assert_eq!(s.len(), 1);
    }

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
