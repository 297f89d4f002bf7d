use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tower_layer::Layer;

use super::Idempotent;
use crate::envelope::Envelope;
use crate::ports::{Clock, IdempotencyStore, SystemClock};
use crate::routes::short_type_name;

/// Implemented by events that carry their own idempotency key; used by
/// [`IdempotencyLayer::from_event`].
pub trait IdempotencyKey {
    /// The key, or `None` when this event has none.
    fn idempotency_key(&self) -> Option<String>;
}

/// What to do with an envelope that has no idempotency key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MissingKey {
    /// Fail with a permanent [`IdempotencyError`](super::IdempotencyError)
    /// ([`is_missing_key`](super::IdempotencyError::is_missing_key)).
    #[default]
    Fail,
    /// Run the handler without idempotency protection.
    PassThrough,
}

pub(super) type KeyFn<E> = Arc<dyn Fn(&Envelope<E>) -> Option<String> + Send + Sync>;
pub(super) type HashFn<E> = Arc<dyn Fn(&E) -> Result<String, serde_json::Error> + Send + Sync>;

/// Applies [`Idempotent`] to a service. See the [module docs](super).
pub struct IdempotencyLayer<E> {
    pub(super) store: Arc<dyn IdempotencyStore>,
    pub(super) key: KeyFn<E>,
    pub(super) hash: Option<HashFn<E>>,
    pub(super) namespace: Arc<str>,
    pub(super) expiry: Duration,
    pub(super) in_progress_expiry: Duration,
    pub(super) missing: MissingKey,
    pub(super) clock: Arc<dyn Clock>,
}

impl<E> Clone for IdempotencyLayer<E> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            key: Arc::clone(&self.key),
            hash: self.hash.clone(),
            namespace: Arc::clone(&self.namespace),
            expiry: self.expiry,
            in_progress_expiry: self.in_progress_expiry,
            missing: self.missing,
            clock: Arc::clone(&self.clock),
        }
    }
}

impl<E> fmt::Debug for IdempotencyLayer<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyLayer")
            .field("store", &self.store)
            .field("namespace", &self.namespace)
            .field("payload_hash", &self.hash.is_some())
            .field("expiry", &self.expiry)
            .field("in_progress_expiry", &self.in_progress_expiry)
            .field("missing", &self.missing)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl<E> IdempotencyLayer<E> {
    /// Keys envelopes with `key` in `store`.
    pub fn new(
        store: Arc<dyn IdempotencyStore>,
        key: impl Fn(&Envelope<E>) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            store,
            key: Arc::new(key),
            hash: None,
            namespace: short_type_name(std::any::type_name::<E>()).into(),
            expiry: Duration::from_secs(3600),
            in_progress_expiry: Duration::from_secs(15 * 60),
            missing: MissingKey::Fail,
            clock: Arc::new(SystemClock),
        }
    }

    /// Keys envelopes with the event's [`IdempotencyKey`].
    pub fn from_event(store: Arc<dyn IdempotencyStore>) -> Self
    where
        E: IdempotencyKey,
    {
        Self::new(store, |env: &Envelope<E>| env.event().idempotency_key())
    }

    /// How long a completed result is kept (default 1 hour).
    pub fn expires_after(mut self, d: Duration) -> Self {
        self.expiry = d;
        self
    }

    /// How long an in-progress record blocks duplicates when the envelope
    /// has no deadline (default 15 minutes, Lambda's longest run).
    pub fn in_progress_expiry(mut self, d: Duration) -> Self {
        self.in_progress_expiry = d;
        self
    }

    /// What to do with envelopes without a key (default: fail).
    pub fn on_missing_key(mut self, missing: MissingKey) -> Self {
        self.missing = missing;
        self
    }

    /// The prefix of stored keys (default: the event's type name).
    pub fn namespace(mut self, ns: impl Into<Arc<str>>) -> Self {
        self.namespace = ns.into();
        self
    }

    /// The clock for expiry times.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

impl<E: Serialize> IdempotencyLayer<E> {
    /// Keeps a hash of the event's JSON (128-bit xxHash3, fast, not
    /// cryptographic) in each record; the same key with a different payload
    /// then fails permanently instead of replaying a result that belongs to
    /// another payload.
    pub fn with_payload_hash(mut self) -> Self {
        self.hash = Some(Arc::new(|event: &E| {
            let bytes = serde_json::to_vec(event)?;
            Ok(format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes)))
        }));
        self
    }
}

impl<S, E> Layer<S> for IdempotencyLayer<E> {
    type Service = Idempotent<S, E>;

    fn layer(&self, inner: S) -> Idempotent<S, E> {
        Idempotent::new(inner, self.clone())
    }
}
