use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tower_layer::Layer;

use super::Idempotent;
use crate::envelope::Envelope;
use crate::layers::RetryPolicy;
use crate::ports::{Clock, IdempotencyStore};
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

/// What to do when the idempotency store fails while taking the lock
/// (unreachable, throttled, denied).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OnStoreError {
    /// Fail the record with a retryable
    /// [`IdempotencyError`](super::IdempotencyError)
    /// ([`is_store`](super::IdempotencyError::is_store)) without running the
    /// handler: the source delivers it again, when the store may be back.
    /// Nothing runs twice; records wait for the store.
    #[default]
    FailClosed,
    /// Run the handler without idempotency protection, logged at `WARN` and
    /// counted ([`IdempotencyLayer::unprotected_runs`]): records keep
    /// flowing while the store is down, and a duplicate delivered meanwhile
    /// runs again.
    FailOpen,
}

/// What the layer counts, shared by its clones and the services it made.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) unprotected: AtomicU64,
    pub(super) unrecorded: AtomicU64,
}

pub(super) type KeyFn<E> = Arc<dyn Fn(&Envelope<E>) -> Option<String> + Send + Sync>;
pub(super) type HashFn<E> = Arc<dyn Fn(&E) -> Result<String, serde_json::Error> + Send + Sync>;

/// Applies [`Idempotent`] to a service. See the [module docs](super).
pub struct IdempotencyLayer<E> {
    pub(super) store: Arc<dyn IdempotencyStore>,
    pub(super) key: KeyFn<E>,
    /// The prefix of stored keys: the options' namespace, else the event's
    /// type name.
    pub(super) namespace: Arc<str>,
    /// Every other setting; the layer's setters write here.
    pub(super) options: IdempotencyOptions<E>,
    pub(super) counters: Arc<Counters>,
}

impl<E> Clone for IdempotencyLayer<E> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            key: Arc::clone(&self.key),
            namespace: Arc::clone(&self.namespace),
            options: self.options.clone(),
            counters: Arc::clone(&self.counters),
        }
    }
}

impl<E> fmt::Debug for IdempotencyLayer<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyLayer")
            .field("store", &self.store)
            .field("namespace", &self.namespace)
            .field("options", &self.options)
            .field("unprotected_runs", &self.unprotected_runs())
            .field("unrecorded_results", &self.unrecorded_results())
            .finish_non_exhaustive()
    }
}

impl<E> IdempotencyLayer<E> {
    /// Keys envelopes with `key` in `store`.
    pub fn new(
        store: Arc<dyn IdempotencyStore>,
        key: impl Fn(&Envelope<E>) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        Self::with_options(store, key, IdempotencyOptions::default())
    }

    /// Keys envelopes with `key` in `store`, with the settings in
    /// `options`: what the short form
    /// [`.idempotent(store, key, options)`](crate::layers::ServiceBuilderExt::idempotent)
    /// builds.
    pub fn with_options(
        store: Arc<dyn IdempotencyStore>,
        key: impl Fn(&Envelope<E>) -> Option<String> + Send + Sync + 'static,
        options: IdempotencyOptions<E>,
    ) -> Self {
        Self {
            store,
            key: Arc::new(key),
            namespace: options
                .namespace
                .clone()
                .unwrap_or_else(|| short_type_name(std::any::type_name::<E>()).into()),
            options,
            counters: Arc::default(),
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
        self.options = self.options.expires_after(d);
        self
    }

    /// How long an in-progress record blocks duplicates when the envelope
    /// has no deadline (default 15 minutes, Lambda's longest run).
    pub fn in_progress_expiry(mut self, d: Duration) -> Self {
        self.options = self.options.in_progress_expiry(d);
        self
    }

    /// What to do with envelopes without a key (default: fail).
    pub fn on_missing_key(mut self, missing: MissingKey) -> Self {
        self.options = self.options.on_missing_key(missing);
        self
    }

    /// What to do when the store fails while taking the lock (default:
    /// [fail closed](OnStoreError::FailClosed)).
    pub fn on_store_error(mut self, mode: OnStoreError) -> Self {
        self.options = self.options.on_store_error(mode);
        self
    }

    /// How a failed `complete` (storing the result after the handler
    /// succeeded) is retried when the store says a retry can help (default:
    /// 3 attempts, 100 ms then 200 ms). See the [module docs](super) for
    /// what happens when it still fails.
    pub fn complete_retry(mut self, policy: RetryPolicy) -> Self {
        self.options = self.options.complete_retry(policy);
        self
    }

    /// How many calls ran without idempotency because the store failed
    /// and the layer [fails open](OnStoreError::FailOpen), across this layer's
    /// clones and services.
    pub fn unprotected_runs(&self) -> u64 {
        self.counters.unprotected.load(Ordering::Relaxed)
    }

    /// How many successful calls' results could not be stored, even after
    /// the [`complete_retry`](Self::complete_retry) attempts, across this
    /// layer's clones and services.
    pub fn unrecorded_results(&self) -> u64 {
        self.counters.unrecorded.load(Ordering::Relaxed)
    }

    /// The prefix of stored keys (default: the event's type name).
    pub fn namespace(mut self, ns: impl Into<Arc<str>>) -> Self {
        self.namespace = ns.into();
        self
    }

    /// The clock for expiry times (default: the envelope's
    /// [`Metadata::clock`](crate::Metadata::clock), which is the app's).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.options = self.options.with_clock(clock);
        self
    }
}

impl<E: Serialize> IdempotencyLayer<E> {
    /// Keeps a hash of the event's JSON (128-bit xxHash3, fast, not
    /// cryptographic) in each record; the same key with a different payload
    /// then fails permanently instead of replaying a result that belongs to
    /// another payload.
    pub fn with_payload_hash(mut self) -> Self {
        self.options = self.options.with_payload_hash();
        self
    }
}

fn payload_hash<E: Serialize>() -> HashFn<E> {
    Arc::new(|event: &E| {
        let bytes = serde_json::to_vec(event)?;
        Ok(format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes)))
    })
}

/// The settings of an [`IdempotencyLayer`] other than its store and key,
/// for the short form
/// [`.idempotent(store, key, options)`](crate::layers::ServiceBuilderExt::idempotent)
/// (and [`IdempotencyLayer::with_options`]). Every setting has a default, so
/// `IdempotencyOptions::new()` alone is the layer's defaults.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use eventrail::layers::{IdempotencyOptions, MemoryIdempotencyStore, ServiceBuilderExt};
/// use eventrail::ports::{SystemClock, TokioClock};
/// use eventrail::{handler_fn, Envelope, HandlerError};
/// use tower::ServiceBuilder;
///
/// #[derive(Debug, serde::Serialize)]
/// struct Refund { refund_id: String }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let handler = ServiceBuilder::new()
///     .idempotent(
///         Arc::new(MemoryIdempotencyStore::new()),
///         |r: &Envelope<Refund>| Some(r.refund_id.clone()),
///         IdempotencyOptions::new()
///             .namespace("refunds")
///             .with_payload_hash()
///             .expires_after(Duration::from_secs(24 * 3600))
///             .with_clock(Arc::new(SystemClock)),
///     )
///     .service(handler_fn(|_: Envelope<Refund>| async { Ok::<_, HandlerError>(()) }));
/// # let _ = handler;
/// # }
/// ```
pub struct IdempotencyOptions<E> {
    pub(super) hash: Option<HashFn<E>>,
    pub(super) namespace: Option<Arc<str>>,
    pub(super) expiry: Duration,
    pub(super) in_progress_expiry: Duration,
    pub(super) missing: MissingKey,
    pub(super) on_store_error: OnStoreError,
    pub(super) complete_retry: RetryPolicy,
    /// `None`: the envelope's ([`Metadata::clock`](crate::Metadata::clock)).
    pub(super) clock: Option<Arc<dyn Clock>>,
}

impl<E> Default for IdempotencyOptions<E> {
    fn default() -> Self {
        Self {
            hash: None,
            namespace: None,
            expiry: Duration::from_secs(3600),
            in_progress_expiry: Duration::from_secs(15 * 60),
            missing: MissingKey::Fail,
            on_store_error: OnStoreError::FailClosed,
            complete_retry: RetryPolicy::default()
                .with_initial_backoff(Duration::from_millis(100))
                .with_max_backoff(Duration::from_secs(1)),
            clock: None,
        }
    }
}

impl<E> Clone for IdempotencyOptions<E> {
    fn clone(&self) -> Self {
        Self {
            hash: self.hash.clone(),
            namespace: self.namespace.clone(),
            expiry: self.expiry,
            in_progress_expiry: self.in_progress_expiry,
            missing: self.missing,
            on_store_error: self.on_store_error,
            complete_retry: self.complete_retry,
            clock: self.clock.clone(),
        }
    }
}

impl<E> fmt::Debug for IdempotencyOptions<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyOptions")
            .field("namespace", &self.namespace)
            .field("payload_hash", &self.hash.is_some())
            .field("expiry", &self.expiry)
            .field("in_progress_expiry", &self.in_progress_expiry)
            .field("missing", &self.missing)
            .field("on_store_error", &self.on_store_error)
            .field("complete_retry", &self.complete_retry)
            .field("clock", &self.clock)
            .finish()
    }
}

impl<E> IdempotencyOptions<E> {
    /// The defaults: no payload hash, the event's type name as namespace,
    /// results kept 1 hour, in-progress records 15 minutes without a
    /// deadline, a missing key fails, a failing store fails closed, the
    /// envelope's clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// The prefix of stored keys (default: the event's type name). See
    /// [`IdempotencyLayer::namespace`].
    pub fn namespace(mut self, ns: impl Into<Arc<str>>) -> Self {
        self.namespace = Some(ns.into());
        self
    }

    /// How long a completed result is kept (default 1 hour).
    pub fn expires_after(mut self, d: Duration) -> Self {
        self.expiry = d;
        self
    }

    /// How long an in-progress record blocks duplicates when the envelope
    /// has no deadline (default 15 minutes).
    pub fn in_progress_expiry(mut self, d: Duration) -> Self {
        self.in_progress_expiry = d;
        self
    }

    /// What to do with envelopes without a key (default: fail).
    pub fn on_missing_key(mut self, missing: MissingKey) -> Self {
        self.missing = missing;
        self
    }

    /// What to do when the store fails while taking the lock (default:
    /// [fail closed](OnStoreError::FailClosed)).
    pub fn on_store_error(mut self, mode: OnStoreError) -> Self {
        self.on_store_error = mode;
        self
    }

    /// How a failed `complete` is retried. See
    /// [`IdempotencyLayer::complete_retry`].
    pub fn complete_retry(mut self, policy: RetryPolicy) -> Self {
        self.complete_retry = policy;
        self
    }

    /// The clock for expiry times (default: the envelope's
    /// [`Metadata::clock`](crate::Metadata::clock), which is the app's).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }
}

impl<E: Serialize> IdempotencyOptions<E> {
    /// Keeps a hash of the event's JSON in each record. See
    /// [`IdempotencyLayer::with_payload_hash`].
    pub fn with_payload_hash(mut self) -> Self {
        self.hash = Some(payload_hash::<E>());
        self
    }
}

impl<S, E> Layer<S> for IdempotencyLayer<E> {
    type Service = Idempotent<S, E>;

    fn layer(&self, inner: S) -> Idempotent<S, E> {
        Idempotent::new(inner, self.clone())
    }
}
