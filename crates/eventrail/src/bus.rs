//! The bus: typed handlers, dispatched by the event's Rust type.
//!
//! A handler for events of type `E` is any `tower::Service<Envelope<E>>` that
//! is `Clone + Send + Sync + 'static`, whose response is `Serialize` (it
//! becomes the record's output, e.g. a Step Functions task result) and whose
//! error converts into a [`BoxError`]. Async functions become handlers
//! through [`handler_fn`], or [`handler_fn_with_state`] for those that need
//! ports or settings (shared as a [`State`], never copied per call). Several handlers for one type run as a fan-out:
//! all run, and the event is done only if all succeed.
//!
//! ```
//! use eventrail::{handler_fn, Bus, Envelope, HandlerError, Metadata, Source};
//!
//! #[derive(Debug)]
//! struct OrderCreated { order_id: String }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let bus = Bus::builder()
//!     .on(handler_fn(|env: Envelope<OrderCreated>| async move {
//!         Ok::<_, HandlerError>(format!("reserved stock for {}", env.order_id))
//!     }))
//!     .build();
//!
//! let env = Envelope::new(OrderCreated { order_id: "42".into() }, Metadata::new("m-1", Source::Direct));
//! let out = bus.send(env).await.unwrap();
//! assert_eq!(out, "reserved stock for 42");
//! # }
//! ```
//!
//! Dispatch costs one allocation per handler call (the type-erased future);
//! the event itself is shared, never copied. The bus keeps one instance of
//! each handler to call in place: a dispatch that finds it free and ready
//! (`poll_ready` answers at once) calls it there, so a layered stack is not
//! cloned per call; otherwise (another thread is calling it, or it is not
//! ready yet) the call waits for readiness in the returned future, as
//! `tower::ServiceExt::oneshot` does, on a clone or on the instance that
//! started getting ready (a fresh clone is then kept in its place). Either way the handler's `call` runs
//! before the returned future first completes, and a panic in it surfaces
//! when that future is polled.

use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use serde::Serialize;
use tower_service::Service;

use crate::envelope::{AnyEnvelope, Envelope};
use crate::error::{classify, BoxError, Classify, ErrorClass, RecordError};
use crate::routes::short_type_name;

mod output;
mod state;
mod typed;

pub use self::output::Output;
pub use self::state::{handler_fn_with_state, HandlerFnWithState, State};
use self::typed::Typed;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A type-erased handler.
trait ErasedHandler: Send + Sync {
    fn call(&self, env: AnyEnvelope, outputs: Outputs) -> Dispatch;
}

/// Whether a dispatch serializes what its handlers return into an
/// [`Output`].
///
/// An [`App`](crate::App) keeps each record's output in its report by
/// default ([`Invocation::outputs`](crate::app::Invocation::outputs)). A batch
/// whose answer carries no output (an SQS, SNS, DynamoDB, Kinesis, Kafka,
/// S3 notification or EventBridge invocation answers with failed record ids
/// at most) can skip that work: the Lambda adapter discards them for those
/// sources, and keeps them for Step Functions, S3 Batch Operations and
/// Firehose, whose answers are made of them.
///
/// ```
/// use eventrail::bus::Outputs;
/// use eventrail::{handler_fn, Bus, Envelope, HandlerError, Metadata, Source};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let bus = Bus::builder()
///     .on(handler_fn(|e: Envelope<u32>| async move { Ok::<_, HandlerError>(*e.event() + 1) }))
///     .build();
/// let env = || Envelope::new(41_u32, Metadata::new("m-1", Source::Sqs));
/// assert_eq!(bus.send(env()).await.unwrap().json(), "42");
/// let discarded = bus.dispatch_with(env().into(), Outputs::Discard).await.unwrap();
/// assert!(discarded.is_null());
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outputs {
    /// Each handler's response is serialized into the [`Output`] the
    /// dispatch answers with; a response that does not serialize fails the
    /// call (permanently). The default.
    #[default]
    Keep,
    /// Responses are dropped unserialized: a call that succeeds answers
    /// `null`, and a response that would not serialize does not fail it.
    /// Saves a serialization and an allocation per call.
    Discard,
}

impl Outputs {
    /// The output of several calls whose outputs are `items`, in order:
    /// their array, or `null` when outputs are discarded.
    pub(crate) fn join(self, items: Vec<Output>) -> Output {
        match self {
            Outputs::Keep => Output::array(items),
            Outputs::Discard => Output::null(),
        }
    }
}

struct Handler {
    name: Arc<str>,
    inner: Box<dyn ErasedHandler>,
}

struct EventHandlers {
    type_name: &'static str,
    handlers: Vec<Handler>,
}

/// The handler table, keyed by event type. A `TypeId` is already a hash, so
/// it is used as is rather than hashed again (SipHash was a fifth of the
/// cost of a dispatch).
type Table = HashMap<TypeId, EventHandlers, BuildHasherDefault<TypeIdHasher>>;

/// A hasher for `TypeId` keys: keeps the integer `TypeId` writes. Any other
/// write (not made by today's `TypeId`) is folded in, so it stays correct.
#[derive(Default)]
struct TypeIdHasher(u64);

impl Hasher for TypeIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

/// Dispatches envelopes to handlers by event type. See the [module docs](self).
///
/// Cloning a bus is cheap: its handler table is shared.
#[derive(Clone)]
pub struct Bus {
    table: Arc<Table>,
}

impl fmt::Debug for Bus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for h in self.table.values() {
            m.entry(
                &h.type_name,
                &h.handlers.iter().map(|h| &*h.name).collect::<Vec<_>>(),
            );
        }
        m.finish()
    }
}

/// Builds a [`Bus`]. See [`Bus::builder`].
#[derive(Default)]
pub struct BusBuilder {
    table: Table,
}

impl fmt::Debug for BusBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BusBuilder")
            .field("event_types", &self.table.len())
            .finish()
    }
}

impl BusBuilder {
    /// Registers `svc` as a handler for events of type `E`, named after its type.
    pub fn on<E, S>(self, svc: S) -> Self
    where
        E: Send + Sync + 'static,
        S: Service<Envelope<E>> + Clone + Send + Sync + 'static,
        S::Response: Serialize,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        let name = short_type_name(std::any::type_name::<S>());
        self.on_named(name, svc)
    }

    /// Registers `svc` as a handler for events of type `E` under `name`, which
    /// route listings and failure reports show.
    pub fn on_named<E, S>(mut self, name: impl Into<Arc<str>>, svc: S) -> Self
    where
        E: Send + Sync + 'static,
        S: Service<Envelope<E>> + Clone + Send + Sync + 'static,
        S::Response: Serialize,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        let entry = self
            .table
            .entry(TypeId::of::<E>())
            .or_insert_with(|| EventHandlers {
                type_name: std::any::type_name::<E>(),
                handlers: Vec::new(),
            });
        entry.handlers.push(Handler {
            name: name.into(),
            inner: Box::new(Typed::<E, S>::new(svc)),
        });
        self
    }

    /// Finishes the bus.
    pub fn build(self) -> Bus {
        crate::error::register::<FanOutError>();
        Bus {
            table: Arc::new(self.table),
        }
    }
}

impl Bus {
    /// Starts a bus.
    pub fn builder() -> BusBuilder {
        BusBuilder::default()
    }

    /// Whether a handler is registered for the event type `id`.
    pub fn handles(&self, id: TypeId) -> bool {
        self.table.contains_key(&id)
    }

    /// The handler names for event type `id`, in registration order.
    pub fn handler_names(&self, id: TypeId) -> Vec<String> {
        self.table
            .get(&id)
            .map(|h| h.handlers.iter().map(|h| h.name.to_string()).collect())
            .unwrap_or_default()
    }

    /// Every event type with handlers: `(TypeId, type name)`.
    pub fn event_types(&self) -> Vec<(TypeId, &'static str)> {
        let mut v: Vec<_> = self.table.iter().map(|(k, v)| (*k, v.type_name)).collect();
        v.sort_by_key(|(_, n)| *n);
        v
    }

    /// Dispatches a type-erased envelope to the handlers of its type.
    ///
    /// With one handler, its error is returned as is (so `err.is::<T>()` sees
    /// the handler's own error type). With several, all run concurrently and a
    /// failure is a [`FanOutError`] listing every handler that failed. An event
    /// type with no handler is a permanent [`RecordError`].
    pub fn dispatch(&self, env: AnyEnvelope) -> Dispatch {
        self.dispatch_with(env, Outputs::Keep)
    }

    /// [`dispatch`](Self::dispatch), keeping or discarding what the handlers
    /// return as `outputs` says (see [`Outputs`]).
    pub fn dispatch_with(&self, env: AnyEnvelope, outputs: Outputs) -> Dispatch {
        let Some(entry) = self.table.get(&env.event_type()) else {
            return Dispatch::ready(Err(RecordError::no_handler(env.event_type_name()).into()));
        };
        match entry.handlers.as_slice() {
            [] => Dispatch::ready(Err(RecordError::no_handler(env.event_type_name()).into())),
            [one] => one.inner.call(env, outputs),
            many => {
                let calls: Vec<_> = many
                    .iter()
                    .map(|h| (Arc::clone(&h.name), h.inner.call(env.clone(), outputs)))
                    .collect();
                Dispatch::boxed(Box::pin(fan_out(calls, outputs)))
            }
        }
    }

    /// Dispatches a typed envelope.
    pub fn send<E: Send + Sync + 'static>(&self, env: Envelope<E>) -> Dispatch {
        self.dispatch(AnyEnvelope::new(env))
    }
}

/// A named handler call in flight.
type Call = (Arc<str>, Dispatch);

async fn fan_out(calls: Vec<Call>, outputs: Outputs) -> Result<Output, BoxError> {
    let (names, futs): (Vec<_>, Vec<_>) = calls.into_iter().unzip();
    let results = futures_util::future::join_all(futs).await;
    let mut outs = Vec::with_capacity(results.len());
    let mut failures = Vec::new();
    for (name, r) in names.into_iter().zip(results) {
        match r {
            Ok(o) => outs.push(o),
            Err(e) => failures.push((name, e)),
        }
    }
    if failures.is_empty() {
        Ok(outputs.join(outs))
    } else {
        Err(FanOutError { failures }.into())
    }
}

pin_project_lite::pin_project! {
    /// The future [`Bus::dispatch`] returns: the record's output, or its error.
    pub struct Dispatch {
        #[pin]
        state: DispatchState,
    }
}

enum DispatchState {
    Ready(Option<Result<Output, BoxError>>),
    Boxed(BoxFuture<Result<Output, BoxError>>),
}

impl Dispatch {
    fn ready(r: Result<Output, BoxError>) -> Self {
        Self {
            state: DispatchState::Ready(Some(r)),
        }
    }
    fn boxed(f: BoxFuture<Result<Output, BoxError>>) -> Self {
        Self {
            state: DispatchState::Boxed(f),
        }
    }
}

impl fmt::Debug for Dispatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatch").finish_non_exhaustive()
    }
}

impl Future for Dispatch {
    type Output = Result<Output, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // `DispatchState` is `Unpin` (it holds an `Option` or a `Pin<Box<_>>`).
        match &mut self.project().state.get_mut() {
            DispatchState::Ready(r) => Poll::Ready(
                r.take()
                    .unwrap_or_else(|| Err("`Dispatch` polled after completion".into())),
            ),
            DispatchState::Boxed(f) => f.as_mut().poll(cx),
        }
    }
}

/// Several handlers of one event failed. Lists each, in registration order.
///
/// Permanent if any failure is permanent (the event can never fully succeed),
/// retryable otherwise.
#[derive(Debug)]
pub struct FanOutError {
    failures: Vec<(Arc<str>, BoxError)>,
}

impl FanOutError {
    /// `(handler name, error)` for every handler that failed.
    pub fn failures(&self) -> impl Iterator<Item = (&str, &BoxError)> {
        self.failures.iter().map(|(n, e)| (&**n, e))
    }
}

impl Classify for FanOutError {
    fn retry(&self) -> ErrorClass {
        if self
            .failures
            .iter()
            .any(|(_, e)| classify(&**e) == ErrorClass::Permanent)
        {
            ErrorClass::Permanent
        } else {
            ErrorClass::Retryable
        }
    }
}

impl fmt::Display for FanOutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} handler(s) failed: ", self.failures.len())?;
        for (i, (name, e)) in self.failures.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{name}: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FanOutError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.failures
            .first()
            .map(|(_, e)| &**e as &(dyn std::error::Error + 'static))
    }
}

// ---------------------------------------------------------------- handler_fn

/// Turns an async function of an [`Envelope<E>`] into a handler (a
/// `tower::Service`).
///
/// The function is kept inline and cloned with the handler (the bus clones
/// a handler for every call, as tower services are): a function item, or a
/// closure that captures only `Clone` values, costs nothing or a few
/// reference-count bumps to clone, and no atomic operation when it captures
/// nothing. State a closure should share rather than copy goes in an `Arc`,
/// or through [`handler_fn_with_state`].
///
/// See the [module docs](self) for an example.
pub fn handler_fn<E, F, Fut, R, Er>(f: F) -> HandlerFn<F, E>
where
    F: Fn(Envelope<E>) -> Fut,
    Fut: Future<Output = Result<R, Er>>,
{
    HandlerFn {
        f,
        _event: PhantomData,
    }
}

/// A handler made from an async function. See [`handler_fn`].
pub struct HandlerFn<F, E> {
    f: F,
    _event: PhantomData<fn(E)>,
}

impl<F: Clone, E> Clone for HandlerFn<F, E> {
    fn clone(&self) -> Self {
        Self {
            f: self.f.clone(),
            _event: PhantomData,
        }
    }
}

impl<F, E> fmt::Debug for HandlerFn<F, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerFn")
            .field("event", &std::any::type_name::<E>())
            .finish()
    }
}

impl<F, E, Fut, R, Er> Service<Envelope<E>> for HandlerFn<F, E>
where
    F: Fn(Envelope<E>) -> Fut,
    Fut: Future<Output = Result<R, Er>>,
{
    type Response = R;
    type Error = Er;
    type Future = Fut;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Er>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, env: Envelope<E>) -> Fut {
        (self.f)(env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{Metadata, Source};
    use crate::error::{is_retryable, HandlerError};

    fn env<E>(e: E) -> Envelope<E> {
        Envelope::new(e, Metadata::new("r", Source::Direct))
    }

    /// A handler with state to drop (so the bus calls it in place), whose
    /// `poll_ready` and `call` do what the event says: `0` is ready and
    /// answers, `1` is not ready at first (it wakes itself and is ready
    /// on the next poll), `2` fails to get ready, `3` panics in `call`.
    #[derive(Clone, Default)]
    struct Moody {
        calls: Arc<std::sync::atomic::AtomicUsize>,
        /// What the next `poll_ready` does (the event of the last call).
        mood: u8,
        polled: bool,
    }

    impl Service<Envelope<u8>> for Moody {
        type Response = usize;
        type Error = BoxError;
        type Future = std::future::Ready<Result<usize, BoxError>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
            match self.mood {
                1 if !self.polled => {
                    self.polled = true;
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                2 => Poll::Ready(Err("cannot get ready".into())),
                _ => Poll::Ready(Ok(())),
            }
        }

        fn call(&mut self, env: Envelope<u8>) -> Self::Future {
            let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            if *env == 3 {
                panic!("call panicked");
            }
            std::future::ready(Ok(n))
        }
    }

    /// Sets the mood the next `poll_ready` of every instance shows.
    fn with_mood(m: &Moody, mood: u8) -> Moody {
        Moody { mood, ..m.clone() }
    }

    #[tokio::test]
    async fn a_handler_is_called_in_place_and_every_miss_is_handled() {
        use futures_util::FutureExt;

        let moody = Moody::default();
        // Ready: called in place, answered.
        let bus = Bus::builder().on(moody.clone()).build();
        assert_eq!(bus.send(env(0u8)).await.unwrap(), 1);
        assert_eq!(bus.send(env(0u8)).await.unwrap(), 2);
        // Not ready at once: a clone waits for readiness, then answers.
        let bus = Bus::builder().on(with_mood(&moody, 1)).build();
        assert_eq!(bus.send(env(1u8)).await.unwrap(), 3);
        // Readiness fails: the record fails with the service's error.
        let bus = Bus::builder().on(with_mood(&moody, 2)).build();
        let err = bus.send(env(2u8)).await.unwrap_err();
        assert_eq!(err.to_string(), "cannot get ready");
        // A panic in `call` is raised when the future is polled, where the
        // app catches it; the next call still works.
        let bus = Bus::builder().on(moody.clone()).build();
        let dispatch = bus.send(env(3u8));
        let panic = std::panic::AssertUnwindSafe(dispatch)
            .catch_unwind()
            .await
            .unwrap_err();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"call panicked"));
        assert_eq!(bus.send(env(0u8)).await.unwrap(), 5);
    }

    #[tokio::test]
    async fn fan_out_runs_all_and_requires_all() {
        let bus = Bus::builder()
            .on_named(
                "a",
                handler_fn(|_: Envelope<u8>| async { Ok::<_, HandlerError>(1) }),
            )
            .on_named(
                "b",
                handler_fn(|_: Envelope<u8>| async {
                    Err::<(), _>(HandlerError::permanent("nope"))
                }),
            )
            .on_named(
                "c",
                handler_fn(|_: Envelope<u8>| async {
                    Err::<(), _>(HandlerError::retryable("busy"))
                }),
            )
            .build();
        let err = bus.send(env(1u8)).await.unwrap_err();
        let fan = err.downcast_ref::<FanOutError>().unwrap();
        let names: Vec<_> = fan.failures().map(|(n, _)| n.to_owned()).collect();
        assert_eq!(names, ["b", "c"]);
        assert!(
            !is_retryable(&*err),
            "one permanent failure makes it permanent"
        );
        assert_eq!(err.to_string(), "2 handler(s) failed: b: nope; c: busy");
    }

    #[tokio::test]
    async fn fan_out_success_collects_outputs_in_order() {
        let bus = Bus::builder()
            .on(handler_fn(|_: Envelope<u8>| async {
                Ok::<_, HandlerError>(1)
            }))
            .on(handler_fn(|_: Envelope<u8>| async {
                Ok::<_, HandlerError>("two")
            }))
            .build();
        let out = bus.send(env(1u8)).await.unwrap();
        assert_eq!(out, serde_json::json!([1, "two"]));
    }

    /// A response whose `Serialize` fails.
    struct Unserializable;

    impl serde::Serialize for Unserializable {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("no JSON for this"))
        }
    }

    #[tokio::test]
    async fn discarded_outputs_are_null_and_never_serialized() {
        let one = Bus::builder()
            .on(handler_fn(|_: Envelope<u8>| async {
                Ok::<_, HandlerError>(Unserializable)
            }))
            .build();
        // Kept, the output must serialize: the call fails permanently.
        let err = one.send(env(1u8)).await.unwrap_err();
        assert!(!is_retryable(&*err));
        assert!(err.to_string().contains("no JSON for this"), "{err}");
        // Discarded, nothing is serialized and the call succeeds with `null`.
        let discard = |bus: &Bus| bus.dispatch_with(AnyEnvelope::new(env(1u8)), Outputs::Discard);
        let out = discard(&one).await.unwrap();
        assert!(out.is_null());
        // A fan-out answers `null`, not an array of them; failures stay.
        let fan = Bus::builder()
            .on(handler_fn(|_: Envelope<u8>| async {
                Ok::<_, HandlerError>(Unserializable)
            }))
            .on(handler_fn(|_: Envelope<u8>| async {
                Ok::<_, HandlerError>(2)
            }))
            .build();
        let out = discard(&fan).await.unwrap();
        assert!(out.is_null());
        let failing = Bus::builder()
            .on(handler_fn(|_: Envelope<u8>| async {
                Ok::<_, HandlerError>(1)
            }))
            .on(handler_fn(|_: Envelope<u8>| async {
                Err::<u8, _>(HandlerError::retryable("busy"))
            }))
            .build();
        let err = discard(&failing).await.unwrap_err();
        let fan_err = err.downcast_ref::<FanOutError>().unwrap();
        assert_eq!(fan_err.failures().count(), 1);
        assert!(is_retryable(&*err));
    }

    #[tokio::test]
    async fn unknown_type_is_a_permanent_no_handler_error() {
        let bus = Bus::builder().build();
        let err = bus.send(env("x")).await.unwrap_err();
        let rec = err.downcast_ref::<RecordError>().unwrap();
        assert!(rec.is_no_handler());
        assert!(err.to_string().contains("&str"));
        assert!(!is_retryable(&*err));
    }

    #[tokio::test]
    async fn single_handler_error_is_passed_through() {
        #[derive(Debug)]
        struct Mine;
        impl fmt::Display for Mine {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("mine")
            }
        }
        impl std::error::Error for Mine {}
        let bus = Bus::builder()
            .on(handler_fn(|_: Envelope<u8>| async { Err::<(), _>(Mine) }))
            .build();
        let err = bus.send(env(1u8)).await.unwrap_err();
        assert!(err.is::<Mine>());
    }
}
