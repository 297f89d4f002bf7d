//! Idempotency: run a handler once per key, and replay its result for
//! duplicates.
//!
//! SQS, SNS and EventBridge deliver at least once; [`IdempotencyLayer`] makes
//! a handler effectively run once per idempotency key:
//!
//! 1. The key comes from the envelope: a closure
//!    ([`IdempotencyLayer::new`]) or the event's [`IdempotencyKey`]
//!    implementation ([`IdempotencyLayer::from_event`]). An envelope without a
//!    key fails with a permanent error, or passes through unprotected
//!    ([`MissingKey`]).
//! 2. An *in progress* record is written with a conditional write
//!    ([`IdempotencyStore::try_lock`]).
//!    It expires after 1 hour ([`expires_after`](IdempotencyLayer::expires_after)),
//!    and its in-progress state at the envelope's deadline (the invocation
//!    that wrote it is dead by then), or after
//!    [`in_progress_expiry`](IdempotencyLayer::in_progress_expiry) when the
//!    envelope has no deadline.
//! 3. On success the record becomes *completed* with the handler's result as
//!    JSON. A later duplicate gets that result back, deserialized, without the
//!    handler running: the response type must be `Serialize + DeserializeOwned`.
//! 4. On failure the record is deleted, so a retry can run.
//! 5. A duplicate arriving while the first is in progress fails with a
//!    retryable [`IdempotencyError`] ([`is_in_progress`](IdempotencyError::is_in_progress)):
//!    the source redelivers it later, when the result is stored. It is not a
//!    final failure ([`is_in_progress_elsewhere`]): the alarm, dead-letter
//!    and task-token layers around this one let it pass without alarming,
//!    keeping a dead letter or failing the task.
//! 6. With [`with_payload_hash`](IdempotencyLayer::with_payload_hash), the
//!    record keeps a 128-bit xxHash3 of the event's JSON; the same key with a
//!    different payload fails permanently
//!    ([`is_payload_mismatch`](IdempotencyError::is_payload_mismatch)).
//!
//! ## When things go wrong
//!
//! | what | what the layer does |
//! |---|---|
//! | the handler fails | the lock is deleted, the error returned: a retry can run |
//! | the handler panics | the panic is caught and the lock deleted at once; the call fails with a permanent [`HandlerPanic`](crate::error::HandlerPanic), which the layers outside see (alarm, dead letter) |
//! | the call is dropped midway (the app [cancels](crate::app::Cancelled) records at the deadline, an outer timeout) | the lock is deleted by a task spawned on the tokio runtime; if there is none, or the process is frozen first, the lock expires at the envelope's deadline |
//! | the store fails taking the lock | [`OnStoreError::FailClosed`] (default): the record fails, retryable, the handler does not run; [`OnStoreError::FailOpen`]: the handler runs unprotected (`WARN`, [`unprotected_runs`](IdempotencyLayer::unprotected_runs)) |
//! | the store fails storing the result after the handler succeeded | retried with backoff ([`complete_retry`](IdempotencyLayer::complete_retry)); if it still fails, logged at `ERROR` and counted ([`unrecorded_results`](IdempotencyLayer::unrecorded_results)), and the handler's success is returned |
//!
//! The last case is at-least-once, not exactly-once: the side effect has
//! happened, so failing the record would make the source redeliver it and run
//! it again for certain. The record is answered done instead; its lock stays
//! *in progress* until the envelope's deadline (or the in-progress expiry), so
//! a duplicate arriving meanwhile is told to come back, and one arriving after
//! it runs the handler a second time. Alarm on
//! [`unrecorded_results`](IdempotencyLayer::unrecorded_results) if that matters.
//!
//! Two deliveries of one key in one batch, run concurrently: the first takes
//! the lock and runs; the second finds it in progress and fails retryably
//! (step 5), so the source delivers it again and it is then answered from the
//! store. The side effect runs once and no record is lost.
//!
//! Time comes from a [`Clock`]: the envelope's
//! ([`Metadata::clock`], the clock its [`App`](crate::App) was built with,
//! the system clock by default; the testkit's `TestApp` sets its test clock),
//! or one [set on the layer](IdempotencyLayer::with_clock). Keys are
//! stored as `namespace#key`; the namespace is the event's type name unless
//! [set](IdempotencyLayer::namespace), and two handlers of one event type
//! sharing a store need different namespaces.
//! [`MemoryIdempotencyStore`] keeps records in memory; the DynamoDB store is in
//! `eventrail-aws`.
//!
//! ```
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::sync::Arc;
//! use eventrail::layers::{IdempotencyLayer, MemoryIdempotencyStore};
//! use eventrail::{handler_fn, Envelope, HandlerError, Metadata, Source};
//! use tower::{Layer, Service, ServiceExt};
//!
//! #[derive(Debug, serde::Serialize)]
//! struct Payment { payment_id: String, cents: u64 }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let runs = Arc::new(AtomicU32::new(0));
//! let counted = runs.clone();
//! let store = Arc::new(MemoryIdempotencyStore::new());
//! let mut svc = IdempotencyLayer::new(store, |env: &Envelope<Payment>| Some(env.payment_id.clone()))
//!     .with_payload_hash()
//!     .layer(handler_fn(move |env: Envelope<Payment>| {
//!         let counted = counted.clone();
//!         async move {
//!             counted.fetch_add(1, Ordering::SeqCst);
//!             Ok::<_, HandlerError>(format!("charged {}", env.cents))
//!         }
//!     }));
//!
//! let pay = || Envelope::new(Payment { payment_id: "p-1".into(), cents: 500 }, Metadata::new("m", Source::Sqs));
//! let first = svc.ready().await.unwrap().call(pay()).await.unwrap();
//! let again = svc.ready().await.unwrap().call(pay()).await.unwrap();
//! assert_eq!((first.as_str(), again.as_str()), ("charged 500", "charged 500"));
//! assert_eq!(runs.load(Ordering::SeqCst), 1, "the duplicate got the stored result");
//! # }
//! ```

mod error;
mod future;
mod layer;
mod memory;
pub(crate) mod table;

use std::task::{Context, Poll};

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::time::Instant;

use tower_service::Service;

use crate::envelope::MAX_PLAUSIBLE_DEADLINE;
use crate::envelope::{Envelope, Metadata};
use crate::error::BoxError;
use crate::json::with_json;
use crate::layers::catch_panic::call_catching;
use crate::ports::{
    Clock, IdempotencyRecord, IdempotencyStatus, IdempotencyStore, LockOutcome, SystemClock,
};

pub use self::error::{is_in_progress_elsewhere, IdempotencyError};
pub use self::future::ResponseFuture;
pub use self::layer::{
    IdempotencyKey, IdempotencyLayer, IdempotencyOptions, MissingKey, OnStoreError,
};
pub use self::memory::MemoryIdempotencyStore;

/// Runs the inner service once per idempotency key. See the [module docs](self).
#[derive(Debug)]
pub struct Idempotent<S, E> {
    inner: S,
    /// Shared: a call clones one `Arc`, not every setting.
    layer: Arc<IdempotencyLayer<E>>,
}

impl<S: Clone, E> Clone for Idempotent<S, E> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: Arc::clone(&self.layer),
        }
    }
}

impl<S, E> Idempotent<S, E> {
    /// Wraps `inner` with the settings of `layer`.
    pub fn new(inner: S, layer: IdempotencyLayer<E>) -> Self {
        crate::error::register::<IdempotencyError>();
        Self {
            inner,
            layer: Arc::new(layer),
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, E> Service<Envelope<E>> for Idempotent<S, E>
where
    S: Service<Envelope<E>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    S::Response: Serialize + DeserializeOwned + Send + 'static,
    E: Send + Sync + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, env: Envelope<E>) -> Self::Future {
        // The ready service runs the call (if it runs at all) from the future.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = Arc::clone(&self.layer);
        ResponseFuture::new(async move {
            let locked = match take_lock(&layer, &env).await {
                Step::Done(result) => return result,
                Step::Locked { key, clock } => Some((key, clock)),
                Step::Unprotected => None,
            };
            // The call is made now; the service is not needed past it.
            let call = call_catching(&mut inner, env);
            drop(inner);
            let Some((key, clock)) = locked else {
                return call.await;
            };
            // Released if this future is dropped before the call ends.
            let mut lock = LockGuard {
                store: Some(&layer.store),
                key: &key,
            };
            let result = call.await;
            lock.disarm();
            match result {
                Ok(resp) => Ok(complete(&layer, clock.get(&layer), &key, resp).await),
                Err(e) => {
                    delete(&layer, &key).await;
                    Err(e)
                }
            }
        })
    }
}

/// Where [`take_lock`] leaves a call.
enum Step<R> {
    /// Answered without running the handler: replayed, refused or failed.
    Done(Result<R, BoxError>),
    /// The lock is held under `key`; expiry times come from `clock`.
    Locked { key: String, clock: ClockOf },
    /// Run the handler without protection (no key and
    /// [`MissingKey::PassThrough`], or the store failed and the layer fails
    /// open).
    Unprotected,
}

/// Which clock a call's expiry times come from: the layer's own, borrowed
/// from the layer for as long as the call runs (no reference count taken),
/// or the record's.
enum ClockOf {
    Layer,
    Record(Arc<dyn Clock>),
}

impl ClockOf {
    fn get<'a, E>(&'a self, layer: &'a IdempotencyLayer<E>) -> &'a dyn Clock {
        match self {
            ClockOf::Record(c) => &**c,
            // `Layer` is only chosen when the layer has a clock.
            ClockOf::Layer => layer.options.clock.as_deref().unwrap_or(&SystemClock),
        }
    }
}

/// Steps 1, 2, 5 and 6 of the module docs: the key, the lock, and the
/// answer to a duplicate. A separate future from the call's, so that the
/// call's future does not hold the lock's state.
async fn take_lock<E, R: DeserializeOwned>(
    layer: &IdempotencyLayer<E>,
    env: &Envelope<E>,
) -> Step<R> {
    let Some(key) = (layer.key)(env) else {
        return match layer.options.missing {
            MissingKey::PassThrough => Step::Unprotected,
            MissingKey::Fail => Step::Done(Err(IdempotencyError::missing_key(
                env.meta().record_id(),
            )
            .into())),
        };
    };
    // `namespace#key`, built by hand: `format!` costs several times more.
    let key = {
        let mut k = String::with_capacity(layer.namespace.len() + 1 + key.len());
        k.push_str(&layer.namespace);
        k.push('#');
        k.push_str(&key);
        k
    };
    let hash = match &layer.options.hash {
        Some(h) => match h(env.event()) {
            Ok(hash) => Some(hash),
            Err(e) => return Step::Done(Err(IdempotencyError::unhashable(e).into())),
        },
        None => None,
    };
    let clock = match &layer.options.clock {
        Some(_) => ClockOf::Layer,
        None => ClockOf::Record(env.meta().clock()),
    };
    let now = clock.get(layer).now();
    let left = env
        .meta()
        .deadline()
        .map(|d| d.saturating_duration_since(Instant::now()))
        .filter(|left| !left.is_zero() && *left <= MAX_PLAUSIBLE_DEADLINE);
    let in_progress_until = now + left.unwrap_or(layer.options.in_progress_expiry);
    let record = IdempotencyRecord::in_progress(
        key,
        now + layer.options.expiry,
        Some(in_progress_until),
        hash,
    );
    // An in-memory store answers at once; one with I/O gets a copy.
    let outcome = match layer.store.try_lock_now(&record, now) {
        Some(outcome) => outcome,
        None => layer.store.try_lock(record.clone(), now).await,
    };
    let IdempotencyRecord {
        key, payload_hash, ..
    } = record;
    match outcome {
        Ok(LockOutcome::Acquired) => Step::Locked { key, clock },
        Ok(LockOutcome::Exists(existing)) => {
            Step::Done(replay(env.meta(), &key, payload_hash.as_deref(), existing))
        }
        Err(e) => match layer.options.on_store_error {
            OnStoreError::FailClosed => Step::Done(Err(IdempotencyError::store(e).into())),
            OnStoreError::FailOpen => {
                let n = layer.counters.unprotected.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(
                    key,
                    error = %e,
                    unprotected_runs = n,
                    "the idempotency store failed; running without idempotency (fail open)"
                );
                Step::Unprotected
            }
        },
    }
}

/// Marks the record completed with `resp` serialized, retried as
/// [`complete_retry`](IdempotencyLayer::complete_retry) says; a final
/// failure is logged and counted (see the module docs). A result that does
/// not serialize is not kept: the record is deleted, and a duplicate runs
/// the handler again.
async fn complete<E, R: Serialize>(
    layer: &IdempotencyLayer<E>,
    clock: &dyn Clock,
    key: &str,
    resp: R,
) -> R {
    let policy = layer.options.complete_retry;
    let mut attempt = 1;
    loop {
        let until = clock.now() + layer.options.expiry;
        // Serialized into the thread's scratch buffer: an in-memory store
        // copies it from there, a store with I/O gets its own copy.
        let answered = with_json(&resp, |json| {
            layer
                .store
                .complete_now(key, json, until)
                .ok_or_else(|| json.to_owned())
        });
        let stored = match answered {
            Ok(Ok(stored)) => stored,
            Ok(Err(json)) => layer.store.complete(key, json, until).await,
            Err(e) => {
                tracing::warn!(key, error = %e, "the handler's result does not serialize; not kept for duplicates");
                delete(layer, key).await;
                return resp;
            }
        };
        let e = match stored {
            Ok(()) => return resp,
            Err(e) => e,
        };
        if e.is_retryable() && attempt < policy.max_attempts() {
            let delay = policy.delay(attempt);
            tracing::warn!(key, attempt, delay_ms = delay.as_millis() as u64, error = %e, "could not store the idempotency result; retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
            continue;
        }
        let n = layer.counters.unrecorded.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::error!(
            key,
            attempts = attempt,
            error = %e,
            unrecorded_results = n,
            "could not store the idempotency result; the record is done, but a duplicate after the in-progress expiry runs the handler again"
        );
        return resp;
    }
}

async fn delete<E>(layer: &IdempotencyLayer<E>, key: &str) {
    if let Err(e) = layer.store.delete(key).await {
        tracing::warn!(key, error = %e, "could not delete an idempotency record; a retry waits for it to expire");
    }
}

/// Deletes the in-progress record when dropped armed: the call was dropped
/// (cancelled) before it ended.
struct LockGuard<'a> {
    store: Option<&'a Arc<dyn IdempotencyStore>>,
    key: &'a str,
}

impl LockGuard<'_> {
    fn disarm(&mut self) {
        self.store = None;
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        let Some(store) = self.store.take().map(Arc::clone) else {
            return;
        };
        let key = self.key.to_owned();
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    if let Err(e) = store.delete(&key).await {
                        tracing::warn!(key, error = %e, "could not release the idempotency lock of a cancelled call; it expires at the deadline");
                    }
                });
            }
            Err(_) => tracing::warn!(
                key,
                "a call holding an idempotency lock was dropped outside a tokio runtime; the lock expires at the deadline"
            ),
        }
    }
}

/// What a duplicate gets, given the live record for its key.
fn replay<R: DeserializeOwned>(
    meta: &Metadata,
    key: &str,
    hash: Option<&str>,
    existing: IdempotencyRecord,
) -> Result<R, BoxError> {
    if let (Some(ours), Some(theirs)) = (hash, existing.payload_hash.as_deref()) {
        if ours != theirs {
            return Err(IdempotencyError::payload_mismatch(key).into());
        }
    }
    match existing.status {
        IdempotencyStatus::InProgress => Err(IdempotencyError::in_progress(key).into()),
        IdempotencyStatus::Completed => {
            tracing::debug!(key, "duplicate: returning the stored result");
            meta.record_replay();
            let json = existing.result.as_deref().unwrap_or("null");
            serde_json::from_str(json)
                .map_err(|e| IdempotencyError::bad_stored_result(key, e).into())
        }
    }
}
