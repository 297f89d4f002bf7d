//! The local idempotency store.

use std::hash::Hasher;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;
use hashbrown::HashTable;

use super::faults::{fault_methods, lock, CallLog, FaultPlan};
use crate::ports::{
    is_live, IdempotencyRecord, IdempotencyStatus, IdempotencyStore, LockOutcome, PortError,
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
///
/// Keys, payload hashes and results are kept in one byte buffer, one after
/// another, and a slot says where its own are: a record costs its 64-byte
/// slot and its text, with no allocation of its own and no allocator
/// overhead, and the records of a batch lie next to each other in memory.
/// The text of a released or replaced record is counted as unused and
/// squeezed out once it is most of the buffer.
#[derive(Debug, Default)]
struct Slots {
    table: HashTable<Bucket>,
    slots: Vec<Slot>,
    bytes: Vec<u8>,
    /// Bytes of `bytes` no slot points at.
    unused: usize,
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

/// Where a text lies in [`Slots::bytes`], or [`NONE`](Span::NONE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    at: u32,
    len: u32,
}

impl Span {
    /// No text (an absent payload hash or result).
    const NONE: Span = Span {
        at: 0,
        len: u32::MAX,
    };

    fn is_none(self) -> bool {
        self == Self::NONE
    }

    /// Where its bytes are in the buffer (empty for [`NONE`](Self::NONE)).
    fn range(self) -> std::ops::Range<usize> {
        let at = self.at as usize;
        at..at + self.size()
    }

    /// The bytes it takes (none for [`NONE`](Self::NONE)).
    fn size(self) -> usize {
        if self.is_none() {
            0
        } else {
            self.len as usize
        }
    }
}

/// What keeps the buffer's offsets in 32 bits.
const MAX_BYTES: usize = u32::MAX as usize - 1;

/// A record, its text kept in [`Slots::bytes`], and how many times its
/// key was locked.
#[derive(Debug)]
struct Slot {
    key: Span,
    payload_hash: Span,
    result: Span,
    expires_at: SystemTime,
    in_progress_expires_at: Option<SystemTime>,
    status: IdempotencyStatus,
    present: bool,
    acquired: u32,
}

impl Slot {
    fn is_live_at(&self, now: SystemTime) -> bool {
        self.present
            && is_live(
                self.status,
                self.expires_at,
                self.in_progress_expires_at,
                now,
            )
    }
}

impl Slots {
    /// The hash of `key` (what [`push`](Self::push) needs if it has no
    /// slot) and the place of its slot.
    fn find(&self, key: &str) -> (u32, Option<usize>) {
        let hash = key_hash(key);
        let found = self
            .table
            .find(Bucket::spread(hash), |b| {
                b.hash == hash && self.bytes_of(self.slots[b.index as usize].key) == key.as_bytes()
            })
            .map(|b| b.index as usize);
        (hash, found)
    }

    fn get(&self, key: &str) -> Option<&Slot> {
        self.find(key).1.map(|i| &self.slots[i])
    }

    fn bytes_of(&self, span: Span) -> &[u8] {
        &self.bytes[span.range()]
    }

    fn text(&self, span: Span) -> Option<String> {
        if span.is_none() {
            return None;
        }
        // Only `&str`s are written to the buffer, whole.
        Some(String::from_utf8_lossy(self.bytes_of(span)).into_owned())
    }

    /// The record of a slot, as the port hands it out.
    fn record(&self, slot: &Slot) -> IdempotencyRecord {
        let key = self.text(slot.key).unwrap_or_default();
        let mut rec = IdempotencyRecord::in_progress(
            key,
            slot.expires_at,
            slot.in_progress_expires_at,
            self.text(slot.payload_hash),
        );
        rec.status = slot.status;
        rec.result = self.text(slot.result);
        rec
    }

    /// Copies `text` into the buffer, squeezing out unused bytes first if
    /// it would otherwise outgrow 32-bit offsets.
    fn write(&mut self, text: &str) -> Result<Span, PortError> {
        if self.bytes.len() + text.len() > MAX_BYTES {
            self.compact();
            if self.bytes.len() + text.len() > MAX_BYTES {
                return Err(PortError::permanent(
                    "the local idempotency store is full: its keys, payload hashes and results take 4 GiB",
                ));
            }
        }
        let span = Span {
            at: self.bytes.len() as u32,
            len: text.len() as u32,
        };
        self.bytes.extend_from_slice(text.as_bytes());
        Ok(span)
    }

    fn write_opt(&mut self, text: Option<&str>) -> Result<Span, PortError> {
        text.map_or(Ok(Span::NONE), |t| self.write(t))
    }

    /// Counts the text at `span` as unused; squeezes the buffer once most of
    /// it is.
    fn release(&mut self, span: Span) {
        self.unused += span.size();
        if self.unused > 64 * 1024 && self.unused > self.bytes.len() / 2 {
            self.compact();
        }
    }

    /// Rewrites the buffer with only the text slots point at.
    fn compact(&mut self) {
        if self.unused == 0 {
            return;
        }
        let old = std::mem::take(&mut self.bytes);
        let mut bytes = Vec::with_capacity(old.len() - self.unused);
        let mut keep = |span: &mut Span| {
            if !span.is_none() {
                let at = bytes.len() as u32;
                bytes.extend_from_slice(&old[span.range()]);
                span.at = at;
            }
        };
        for slot in &mut self.slots {
            keep(&mut slot.key);
            keep(&mut slot.payload_hash);
            keep(&mut slot.result);
        }
        self.bytes = bytes;
        self.unused = 0;
    }

    /// Adds the slot of `key`, which has none, `hash` being the key's hash
    /// from [`find`](Self::find), and returns its place.
    fn push(&mut self, hash: u32, key: &str) -> Result<usize, PortError> {
        let at = self.slots.len();
        let index = u32::try_from(at).map_err(|_| {
            PortError::permanent("the local idempotency store is full: it holds 2^32 keys")
        })?;
        let key = self.write(key)?;
        self.table
            .insert_unique(Bucket::spread(hash), Bucket { index, hash }, |b| {
                Bucket::spread(b.hash)
            });
        self.slots.push(Slot {
            key,
            payload_hash: Span::NONE,
            result: Span::NONE,
            expires_at: SystemTime::UNIX_EPOCH,
            in_progress_expires_at: None,
            status: IdempotencyStatus::InProgress,
            present: false,
            acquired: 0,
        });
        Ok(at)
    }

    /// The slot at `i` holds a new record: in progress, with `payload_hash`,
    /// until the given times. Its earlier hash and result are released.
    fn start(
        &mut self,
        i: usize,
        payload_hash: Option<&str>,
        expires_at: SystemTime,
        in_progress_expires_at: Option<SystemTime>,
    ) -> Result<(), PortError> {
        let hash = self.write_opt(payload_hash)?;
        self.replace_text(i, hash);
        let slot = &mut self.slots[i];
        slot.status = IdempotencyStatus::InProgress;
        slot.expires_at = expires_at;
        slot.in_progress_expires_at = in_progress_expires_at;
        slot.present = true;
        Ok(())
    }

    /// The slot at `i` no longer holds a record; its key and count stay.
    fn remove(&mut self, i: usize) {
        self.slots[i].present = false;
        self.replace_text(i, Span::NONE);
    }

    /// Gives the slot at `i` the payload hash at `hash` and no result,
    /// releasing the ones it had.
    fn replace_text(&mut self, i: usize, hash: Span) {
        let slot = &mut self.slots[i];
        let old = [
            std::mem::replace(&mut slot.payload_hash, hash),
            std::mem::replace(&mut slot.result, Span::NONE),
        ];
        old.into_iter().for_each(|s| self.release(s));
    }

    fn iter(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter()
    }

    fn clear(&mut self) {
        self.table.clear();
        self.slots.clear();
        self.bytes.clear();
        self.unused = 0;
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
        let slots = lock(&self.inner);
        let slot = slots.get(key).filter(|s| s.present)?;
        Some(slots.record(slot))
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

fn try_lock(
    slots: &mut Slots,
    rec: &IdempotencyRecord,
    now: SystemTime,
) -> Result<LockOutcome, PortError> {
    let i = match slots.find(&rec.key) {
        (_, Some(i)) if slots.slots[i].is_live_at(now) => {
            let slot = &slots.slots[i];
            tracing::debug!(target: "eventrail::local", key = %rec.key, status = ?slot.status, "idempotency: duplicate");
            return Ok(LockOutcome::Exists(slots.record(slot)));
        }
        (_, Some(i)) => i,
        (hash, None) => slots.push(hash, &rec.key)?,
    };
    slots.start(
        i,
        rec.payload_hash.as_deref(),
        rec.expires_at,
        rec.in_progress_expires_at,
    )?;
    tracing::debug!(target: "eventrail::local", key = %rec.key, "idempotency: locked");
    let slot = &mut slots.slots[i];
    slot.acquired = slot.acquired.saturating_add(1);
    Ok(LockOutcome::Acquired)
}

/// Like the DynamoDB store's `UpdateItem`: a missing record is created
/// completed.
fn complete(
    slots: &mut Slots,
    key: &str,
    result: &str,
    expires_at: SystemTime,
) -> Result<(), PortError> {
    let i = match slots.find(key) {
        (_, Some(i)) => i,
        (hash, None) => slots.push(hash, key)?,
    };
    if !slots.slots[i].present {
        slots.start(i, None, expires_at, None)?;
    }
    let result = slots.write(result)?;
    let slot = &mut slots.slots[i];
    let old = std::mem::replace(&mut slot.result, result);
    slot.status = IdempotencyStatus::Completed;
    slot.expires_at = expires_at;
    slot.in_progress_expires_at = None;
    slots.release(old);
    Ok(())
}

#[async_trait]
impl IdempotencyStore for LocalIdempotencyStore {
    async fn try_lock(
        &self,
        rec: IdempotencyRecord,
        now: SystemTime,
    ) -> Result<LockOutcome, PortError> {
        let mut slots = lock(&self.inner);
        let call = || IdempotencyCall::TryLock {
            key: rec.key.clone(),
            now,
        };
        self.faults
            .run_lazy(&self.calls, call, || try_lock(&mut slots, &rec, now))
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
        self.faults.run_lazy(&self.calls, call, || {
            tracing::debug!(target: "eventrail::local", key = %key, result = %result, "idempotency: completed");
            complete(&mut slots, key, &result, expires_at)
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
            if let (_, Some(i)) = slots.find(key) {
                slots.remove(i);
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
            Ok(slots
                .get(key)
                .filter(|s| s.present)
                .map(|s| slots.record(s)))
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
        let full = lock(&store.inner).bytes.len();
        for i in (0..2000).filter(|i| i % 4 != 0) {
            store.delete(&format!("k{i}")).await.unwrap();
        }
        let after = lock(&store.inner).bytes.len();
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
