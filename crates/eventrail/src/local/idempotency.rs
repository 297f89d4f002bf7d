//! The local idempotency store.

use std::hash::Hasher;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;
use hashbrown::HashTable;

use super::faults::{fault_methods, lock, CallLog, FaultPlan};
use crate::ports::{
    IdempotencyRecord, IdempotencyStatus, IdempotencyStore, LockOutcome, PortError,
};

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

/// A fast, unkeyed hash of the keys (a multiply-rotate over 8-byte words
/// and a final mix). SipHash, the std default, costs several times more
/// per key and guards against keys chosen to collide, which a local
/// backend fed by its own test or event file does not face.
#[derive(Debug, Default)]
struct KeyHasher(u64);

const K: u64 = 0x9e37_79b9_7f4a_7c15;

impl KeyHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(K).rotate_left(29);
    }
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            self.mix(u64::from_le_bytes(b));
        }
        let rest = words.remainder();
        let mut b = [0u8; 8];
        b[..rest.len()].copy_from_slice(rest);
        // The length tells `"a"` from `"a\0"`.
        self.mix(u64::from_le_bytes(b) ^ ((bytes.len() as u64) << 56));
    }

    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }

    fn finish(&self) -> u64 {
        // A murmur-style finaliser: every input bit reaches the high bits
        // the table's control bytes use and the low bits its index uses.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// The records of a store, in one list in the order their keys came, found
/// through a table of `(index, hash)` pairs. The table grows without
/// reading a record (each bucket keeps its key's hash), and a lookup reads
/// only the records whose hash matches. A deleted record keeps its place
/// (`present: false`), so its lock count survives.
#[derive(Debug, Default)]
struct Slots {
    table: HashTable<Bucket>,
    slots: Vec<Slot>,
}

/// A slot's place in the list and its key's hash (32 bits of
/// [`KeyHasher`]'s: a table of billions of records would need more).
#[derive(Clone, Copy, Debug)]
struct Bucket {
    index: u32,
    hash: u32,
}

impl Bucket {
    /// The table's hash: the kept bits twice, so that the low bits the table
    /// indexes by and the top seven it filters by are different bits.
    fn spread(hash: u32) -> u64 {
        (u64::from(hash) << 32) | u64::from(hash)
    }
}

fn key_hash(key: &str) -> u32 {
    let mut h = KeyHasher::default();
    h.write(key.as_bytes());
    // The finaliser mixed every input bit into the low half.
    h.finish() as u32
}

impl Slots {
    /// The hash of `key` (what [`push`](Self::push) needs if it has no
    /// slot) and the place of its slot.
    fn find(&self, key: &str) -> (u32, Option<usize>) {
        let hash = key_hash(key);
        let found = self
            .table
            .find(Bucket::spread(hash), |b| {
                b.hash == hash && self.slots[b.index as usize].record.key == key
            })
            .map(|b| b.index as usize);
        (hash, found)
    }

    fn get(&self, key: &str) -> Option<&Slot> {
        self.find(key).1.map(|i| &self.slots[i])
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut Slot> {
        self.find(key).1.map(|i| &mut self.slots[i])
    }

    /// Adds the slot of a key that has none, `hash` being the key's hash
    /// from [`find`](Self::find), and returns it.
    fn push(&mut self, hash: u32, slot: Slot) -> &mut Slot {
        let at = self.slots.len();
        let index = u32::try_from(at).expect("fewer than 2^32 idempotency records");
        self.table
            .insert_unique(Bucket::spread(hash), Bucket { index, hash }, |b| {
                Bucket::spread(b.hash)
            });
        self.slots.push(slot);
        &mut self.slots[at]
    }

    fn iter(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter()
    }

    fn clear(&mut self) {
        self.table.clear();
        self.slots.clear();
    }
}

/// A record and how many times its key was locked.
#[derive(Debug)]
struct Slot {
    record: IdempotencyRecord,
    present: bool,
    acquired: usize,
}

impl Slot {
    fn record(&self) -> Option<&IdempotencyRecord> {
        self.present.then_some(&self.record)
    }
}

/// An [`IdempotencyStore`] in memory, with a call log, fault injection and
/// per-key lock counts.
///
/// Expiry follows the `now` its caller passes (the idempotency layer's
/// clock). A lock is one hashed lookup under one mutex (atomic, like the
/// DynamoDB store's conditional write), and the stored record keeps the only
/// copy of its key. Every lock taken and every duplicate is logged at
/// `DEBUG`.
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
        lock(&self.inner).get(key)?.record().cloned()
    }

    /// Every key with a record, expired or not, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.keys_where(|_| true)
    }

    /// The keys whose records are live at `now`
    /// (see [`IdempotencyRecord::is_live_at`]), sorted.
    pub fn live_keys(&self, now: SystemTime) -> Vec<String> {
        self.keys_where(|r| r.is_live_at(now))
    }

    /// The keys with a completed record, sorted.
    pub fn completed_keys(&self) -> Vec<String> {
        self.keys_where(|r| r.status == IdempotencyStatus::Completed)
    }

    fn keys_where(&self, f: impl Fn(&IdempotencyRecord) -> bool) -> Vec<String> {
        let mut keys: Vec<String> = lock(&self.inner)
            .iter()
            .filter_map(|s| s.record())
            .filter(|r| f(r))
            .map(|r| r.key.clone())
            .collect();
        keys.sort_unstable();
        keys
    }

    /// How many times `key` was locked successfully: how many times a handler
    /// ran for it.
    pub fn acquired(&self, key: &str) -> usize {
        lock(&self.inner).get(key).map_or(0, |s| s.acquired)
    }

    /// Forgets every record and call (faults stay).
    pub fn clear(&self) {
        lock(&self.inner).clear();
        self.calls.clear();
    }
}

fn try_lock(slots: &mut Slots, rec: IdempotencyRecord, now: SystemTime) -> LockOutcome {
    let (hash, found) = slots.find(&rec.key);
    if let Some(slot) = found.map(|i| &slots.slots[i]) {
        if slot.present && slot.record.is_live_at(now) {
            tracing::debug!(target: "eventrail::local", key = %rec.key, status = ?slot.record.status, "idempotency: duplicate");
            return LockOutcome::Exists(slot.record.clone());
        }
    }
    tracing::debug!(target: "eventrail::local", key = %rec.key, "idempotency: locked");
    match found {
        Some(i) => {
            let slot = &mut slots.slots[i];
            slot.record = rec;
            slot.present = true;
            slot.acquired += 1;
        }
        // The record brings the only copy of its key.
        None => {
            slots.push(
                hash,
                Slot {
                    record: rec,
                    present: true,
                    acquired: 1,
                },
            );
        }
    }
    LockOutcome::Acquired
}

#[async_trait]
impl IdempotencyStore for LocalIdempotencyStore {
    async fn try_lock(
        &self,
        rec: IdempotencyRecord,
        now: SystemTime,
    ) -> Result<LockOutcome, PortError> {
        let mut slots = lock(&self.inner);
        // The work takes the record, so the request cannot be built lazily
        // from it: nothing records the call, no key copy.
        if self.faults.skips_request(&self.calls) {
            return self.calls.count(Ok(try_lock(&mut slots, rec, now)));
        }
        let call = IdempotencyCall::TryLock {
            key: rec.key.clone(),
            now,
        };
        self.faults
            .run(&self.calls, call, |_| Ok(try_lock(&mut slots, rec, now)))
    }

    async fn complete(
        &self,
        key: &str,
        result: String,
        expires_at: SystemTime,
    ) -> Result<(), PortError> {
        let mut slots = lock(&self.inner);
        let call = || IdempotencyCall::Complete {
            key: key.to_owned(),
        };
        // Like the DynamoDB store's `UpdateItem`: a missing record is
        // created completed.
        self.faults.run_lazy(&self.calls, call, || {
            tracing::debug!(target: "eventrail::local", key = %key, result = %result, "idempotency: completed");
            let fresh = || IdempotencyRecord::in_progress(key, expires_at, None, None);
            let slot = match slots.find(key) {
                (_, Some(i)) => &mut slots.slots[i],
                (hash, None) => slots.push(
                    hash,
                    Slot {
                        record: fresh(),
                        present: true,
                        acquired: 0,
                    },
                ),
            };
            if !slot.present {
                slot.record = fresh();
                slot.present = true;
            }
            slot.record.complete(result, expires_at);
            Ok(())
        })
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        let mut slots = lock(&self.inner);
        let call = || IdempotencyCall::Delete {
            key: key.to_owned(),
        };
        self.faults.run_lazy(&self.calls, call, || {
            tracing::debug!(target: "eventrail::local", key = %key, "idempotency: released");
            // The slot stays (not present), keeping the key's lock count.
            if let Some(slot) = slots.get_mut(key) {
                slot.present = false;
            }
            Ok(())
        })
    }

    async fn get(&self, key: &str) -> Result<Option<IdempotencyRecord>, PortError> {
        let slots = lock(&self.inner);
        let call = || IdempotencyCall::Get {
            key: key.to_owned(),
        };
        self.faults.run_lazy(&self.calls, call, || {
            Ok(slots.get(key).and_then(|s| s.record()).cloned())
        })
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

    #[test]
    fn the_key_hash_tells_keys_apart() {
        let keys = [
            "",
            "a",
            "a\0",
            "b",
            "ns#m-1",
            "ns#m-2",
            "ns#m-10",
            "12345678",
            "123456789",
        ];
        let mut hashes: Vec<u32> = keys.iter().map(|k| key_hash(k)).collect();
        assert_eq!(key_hash("ns#m-1"), hashes[4], "deterministic");
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), keys.len());
        // Keys differing in one character spread over the table's buckets
        // (the low bits) and over its filter bytes (the top seven bits).
        let spread: Vec<u64> = (0..1000)
            .map(|i| Bucket::spread(key_hash(&format!("send-notification#{i:036}"))))
            .collect();
        let buckets: std::collections::HashSet<u64> = spread.iter().map(|h| h & 1023).collect();
        assert!(
            buckets.len() > 550,
            "{} buckets of 1024 used",
            buckets.len()
        );
        let filters: std::collections::HashSet<u64> = spread.iter().map(|h| h >> 57).collect();
        assert_eq!(filters.len(), 128, "every filter byte is used");
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
