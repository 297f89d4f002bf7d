//! Catch panic: a panicking handler becomes a [`HandlerPanic`] failure.
//!
//! A panic in a handler must not skip the layers around it: an idempotency
//! lock must be released, an alarm sent, a dead letter kept, a Step Functions
//! task failed. So every eventrail layer that acts on failures (idempotency,
//! alarm, dead letter, task token) catches a panic of the service it wraps —
//! in `call` or while its future is polled — and turns it into a permanent
//! [`HandlerPanic`] error. Layers outside it then see an ordinary failure;
//! the retry layer does not retry it (a panic is a bug). The panic hook still
//! runs, so the panic is printed as usual.
//!
//! [`CatchPanicLayer`] does the same for any stack: put it around services
//! of your own, or tower's own layers, whose callers should see a failure
//! rather than an unwinding panic. [`App`](crate::App) also catches what no
//! layer caught, so one record's panic never takes its batch down.
//!
//! ```
//! use eventrail::app::HandlerPanic;
//! use eventrail::layers::CatchPanicLayer;
//! use eventrail::{handler_fn, Envelope, HandlerError, Metadata, Source};
//! use tower::{Layer, Service, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! # std::panic::set_hook(Box::new(|_| {}));
//! let mut svc = CatchPanicLayer::new().layer(handler_fn(|env: Envelope<u32>| async move {
//!     if *env.event() == 0 {
//!         panic!("division by zero");
//!     }
//!     Ok::<_, HandlerError>(100 / *env.event())
//! }));
//! let env = |n| Envelope::new(n, Metadata::new("m-1", Source::Sqs));
//! assert_eq!(svc.ready().await.unwrap().call(env(4)).await.unwrap(), 25);
//! let err = svc.ready().await.unwrap().call(env(0)).await.unwrap_err();
//! assert_eq!(err.downcast_ref::<HandlerPanic>().unwrap().message(), "division by zero");
//! # }
//! ```

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use crate::error::BoxError;
use crate::error::HandlerPanic;

crate::layers::util::boxed_response_future! {
    /// The future of [`CatchPanic`]: the inner call, its panic caught.
}

/// Turns panics of the inner service into [`HandlerPanic`] errors. See the
/// [module docs](self).
#[derive(Clone, Debug)]
pub struct CatchPanic<S> {
    inner: S,
}

impl<S> CatchPanic<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self { inner }
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

impl<S, R> Service<R> for CatchPanic<S>
where
    S: Service<R>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.poll_ready(cx))) {
            Ok(ready) => ready.map_err(Into::into),
            Err(payload) => Poll::Ready(Err(HandlerPanic::from_payload(payload).into())),
        }
    }

    fn call(&mut self, req: R) -> Self::Future {
        ResponseFuture::new(call_catching(&mut self.inner, req))
    }
}

/// Applies [`CatchPanic`] to a service. See the [module docs](self).
#[derive(Clone, Copy, Debug, Default)]
pub struct CatchPanicLayer {
    _priv: (),
}

impl CatchPanicLayer {
    /// The layer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for CatchPanicLayer {
    type Service = CatchPanic<S>;

    fn layer(&self, inner: S) -> CatchPanic<S> {
        CatchPanic::new(inner)
    }
}

/// Calls `svc` and returns its future, with a panic in `call` or in the
/// future turned into a [`HandlerPanic`] error.
pub(crate) fn call_catching<S, R>(svc: &mut S, req: R) -> CallCatching<S::Future>
where
    S: Service<R>,
    S::Error: Into<BoxError>,
{
    match std::panic::catch_unwind(AssertUnwindSafe(|| svc.call(req))) {
        Ok(fut) => CallCatching::Running { fut },
        Err(payload) => CallCatching::Panicked {
            payload: Some(payload),
        },
    }
}

pin_project_lite::pin_project! {
    /// The future of [`call_catching`]: the inner future, each poll of it
    /// guarded, or the panic of `call`. (One state machine, so the layers'
    /// futures hold the inner future once, not once per `async` state.)
    #[project = CallCatchingProj]
    pub(crate) enum CallCatching<F> {
        Running { #[pin] fut: F },
        Panicked { payload: Option<Box<dyn Any + Send>> },
    }
}

impl<F, T, Er> Future for CallCatching<F>
where
    F: Future<Output = Result<T, Er>>,
    Er: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            CallCatchingProj::Running { fut } => {
                match std::panic::catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
                    Ok(Poll::Ready(result)) => Poll::Ready(result.map_err(Into::into)),
                    Ok(Poll::Pending) => Poll::Pending,
                    Err(payload) => Poll::Ready(Err(HandlerPanic::from_payload(payload).into())),
                }
            }
            CallCatchingProj::Panicked { payload } => Poll::Ready(Err(match payload.take() {
                Some(payload) => HandlerPanic::from_payload(payload).into(),
                None => "a handler call polled after its panic was reported".into(),
            })),
        }
    }
}
