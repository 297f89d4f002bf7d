//! The table the in-memory idempotency stores keep their records in
//! ([`MemoryIdempotencyStore`](super::MemoryIdempotencyStore) and the local
//! backend's `LocalIdempotencyStore`): one lookup per call, and no
//! allocation per record.

use std::hash::BuildHasher;
use std::time::SystemTime;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

use crate::ports::{is_live, IdempotencyRecord, IdempotencyStatus, LockOutcome, PortError};

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
#[derive(Debug)]
pub(crate) struct Slots {
    table: HashTable<Bucket>,
    slots: Vec<Slot>,
    /// Whole `&str`s one after another, so every span starts and ends on
    /// a character boundary and reads back without a UTF-8 check.
    bytes: String,
    /// Bytes of `bytes` no slot points at.
    unused: usize,
    /// The keys' hasher (foldhash), with a seed drawn when the table is
    /// made: keys taken from event payloads cannot be picked in advance to
    /// collide in every store.
    hasher: RandomState,
}

impl Default for Slots {
    fn default() -> Self {
        Self {
            table: HashTable::new(),
            slots: Vec::new(),
            bytes: String::new(),
            unused: 0,
            hasher: RandomState::default(),
        }
    }
}

/// A slot's place in the list and its key's hash (32 bits of foldhash's:
/// a table of billions of records would need more).
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

fn key_hash(hasher: &RandomState, key: &str) -> u32 {
    // foldhash mixes every input bit into the low half it returns.
    hasher.hash_one(key) as u32
}

/// Where a text lies in [`Slots::bytes`], or [`NONE`](Span::NONE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
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

/// A time kept in a slot: nanoseconds since the Unix epoch, in 8 bytes
/// where a `SystemTime` takes 16 (a slot keeps two, and a store one slot
/// per key it ever saw). Exact from 1970 to 2554; a time before is kept as
/// the epoch, one after as the end of that range. `u64::MAX` is no time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp(u64);

impl Stamp {
    const NONE: Self = Self(u64::MAX);

    fn of(t: SystemTime) -> Self {
        let nanos = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Self(
            u64::try_from(nanos)
                .unwrap_or(u64::MAX - 1)
                .min(u64::MAX - 1),
        )
    }

    fn of_opt(t: Option<SystemTime>) -> Self {
        t.map_or(Self::NONE, Self::of)
    }

    fn time(self) -> SystemTime {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_nanos(self.0)
    }

    fn time_opt(self) -> Option<SystemTime> {
        (self != Self::NONE).then(|| self.time())
    }
}

/// A record, its text kept in [`Slots::bytes`], and how many times its
/// key was locked.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) key: Span,
    pub(crate) payload_hash: Span,
    pub(crate) result: Span,
    expires_at: Stamp,
    in_progress_expires_at: Stamp,
    pub(crate) status: IdempotencyStatus,
    pub(crate) present: bool,
    pub(crate) acquired: u32,
}

impl Slot {
    pub(crate) fn is_live_at(&self, now: SystemTime) -> bool {
        self.present
            && is_live(
                self.status,
                self.expires_at.time(),
                self.in_progress_expires_at.time_opt(),
                now,
            )
    }
}

impl Slots {
    /// The hash of `key` (what [`push`](Self::push) needs if it has no
    /// slot) and the place of its slot.
    pub(crate) fn find(&self, key: &str) -> (u32, Option<usize>) {
        let hash = key_hash(&self.hasher, key);
        let found = self
            .table
            .find(Bucket::spread(hash), |b| {
                b.hash == hash && self.bytes_of(self.slots[b.index as usize].key) == key.as_bytes()
            })
            .map(|b| b.index as usize);
        (hash, found)
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Slot> {
        self.find(key).1.map(|i| &self.slots[i])
    }

    fn bytes_of(&self, span: Span) -> &[u8] {
        &self.bytes.as_bytes()[span.range()]
    }

    pub(crate) fn text(&self, span: Span) -> Option<String> {
        if span.is_none() {
            return None;
        }
        // Only whole `&str`s are written, so the span is on boundaries.
        self.bytes.get(span.range()).map(str::to_owned)
    }

    /// The record of a slot, as the port hands it out.
    pub(crate) fn record(&self, slot: &Slot) -> IdempotencyRecord {
        let key = self.text(slot.key).unwrap_or_default();
        let mut rec = IdempotencyRecord::in_progress(
            key,
            slot.expires_at.time(),
            slot.in_progress_expires_at.time_opt(),
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
                    "the in-memory idempotency store is full: its keys, payload hashes and results take 4 GiB",
                ));
            }
        }
        let span = Span {
            at: self.bytes.len() as u32,
            len: text.len() as u32,
        };
        self.bytes.push_str(text);
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
        let mut bytes = String::with_capacity(old.len() - self.unused);
        let mut keep = |span: &mut Span| {
            if !span.is_none() {
                let at = bytes.len() as u32;
                bytes.push_str(&old[span.range()]);
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
            PortError::permanent("the in-memory idempotency store is full: it holds 2^32 keys")
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
            expires_at: Stamp(0),
            in_progress_expires_at: Stamp::NONE,
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
        slot.expires_at = Stamp::of(expires_at);
        slot.in_progress_expires_at = Stamp::of_opt(in_progress_expires_at);
        slot.present = true;
        Ok(())
    }

    /// The slot at `i` no longer holds a record; its key and count stay.
    pub(crate) fn remove(&mut self, i: usize) {
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

    #[cfg(feature = "local")]
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter()
    }

    #[cfg(feature = "local")]
    pub(crate) fn clear(&mut self) {
        self.table.clear();
        self.slots.clear();
        self.bytes.clear();
        self.unused = 0;
    }
}

pub(crate) fn try_lock(
    slots: &mut Slots,
    rec: &IdempotencyRecord,
    now: SystemTime,
) -> Result<LockOutcome, PortError> {
    let i = match slots.find(&rec.key) {
        (_, Some(i)) if slots.slots[i].is_live_at(now) => {
            return Ok(LockOutcome::Exists(slots.record(&slots.slots[i])));
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
    let slot = &mut slots.slots[i];
    slot.acquired = slot.acquired.saturating_add(1);
    Ok(LockOutcome::Acquired)
}

/// Like the DynamoDB store's `UpdateItem`: a missing record is created
/// completed.
pub(crate) fn complete(
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
    slot.expires_at = Stamp::of(expires_at);
    slot.in_progress_expires_at = Stamp::NONE;
    slots.release(old);
    Ok(())
}

impl Slots {
    /// How many bytes the text buffer holds, unused ones included.
    #[cfg(test)]
    pub(crate) fn buffer_len(&self) -> usize {
        self.bytes.len()
    }

    /// How many keys hold a record (expired ones included).
    pub(crate) fn present(&self) -> usize {
        self.slots.iter().filter(|s| s.present).count()
    }

    /// Deletes the record of `key`, if any. Its slot stays (not present),
    /// keeping the key's lock count.
    pub(crate) fn delete(&mut self, key: &str) {
        if let (_, Some(i)) = self.find(key) {
            self.remove(i);
        }
    }

    /// The record of `key`, as the port hands it out, if it has one.
    pub(crate) fn lookup(&self, key: &str) -> Option<IdempotencyRecord> {
        self.get(key).filter(|s| s.present).map(|s| self.record(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn stamps_keep_times_to_the_nanosecond_in_half_the_space() {
        for t in [
            UNIX_EPOCH,
            UNIX_EPOCH + Duration::new(1_790_000_000, 123_456_789),
            UNIX_EPOCH + Duration::new(17_000_000_000, 1),
        ] {
            assert_eq!(Stamp::of(t).time(), t);
            assert_eq!(Stamp::of_opt(Some(t)).time_opt(), Some(t));
        }
        assert_eq!(Stamp::of_opt(None).time_opt(), None);
        // Out of range: before the epoch is the epoch, far ahead is still a
        // time (never "no time").
        assert_eq!(
            Stamp::of(UNIX_EPOCH - Duration::from_secs(5)).time(),
            UNIX_EPOCH
        );
        let far = UNIX_EPOCH + Duration::from_secs(u64::MAX / 2);
        assert!(Stamp::of_opt(Some(far)).time_opt().is_some());
        assert!(std::mem::size_of::<Slot>() <= 48);
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
        let hasher = RandomState::default();
        let mut hashes: Vec<u32> = keys.iter().map(|k| key_hash(&hasher, k)).collect();
        assert_eq!(key_hash(&hasher, "ns#m-1"), hashes[4], "deterministic");
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), keys.len());
        // Another table's seed, other hashes (equal with odds of 2^-32).
        let other = RandomState::default();
        assert_ne!(key_hash(&hasher, "ns#m-1"), key_hash(&other, "ns#m-1"));
        // Keys differing in one character spread over the table's buckets
        // (the low bits) and over its filter bytes (the top seven bits).
        let spread: Vec<u64> = (0..1000)
            .map(|i| Bucket::spread(key_hash(&hasher, &format!("send-notification#{i:036}"))))
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
}
