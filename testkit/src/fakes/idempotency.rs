//! The idempotency store fake: eventrail's local store.

/// An in-memory idempotency store:
/// [`LocalIdempotencyStore`](eventrail::local::LocalIdempotencyStore).
///
/// Expiry follows the clock of its caller: `try_lock` gets `now` from the
/// idempotency layer, which reads it from a
/// [`TokioClock`](eventrail::ports::TokioClock) in tests, so advancing
/// tokio's paused clock expires records. It adds fault injection, a call log
/// and per-key lock counts ([`acquired`](eventrail::local::LocalIdempotencyStore::acquired))
/// to what the core's
/// [`MemoryIdempotencyStore`](eventrail::layers::MemoryIdempotencyStore) does.
pub type FakeIdempotencyStore = eventrail::local::LocalIdempotencyStore;

pub use eventrail::local::IdempotencyCall;
