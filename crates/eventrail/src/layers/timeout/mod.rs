//! Timeout: fail a handler call that runs too long.
//!
//! Two modes:
//!
//! - [`TimeoutLayer::new`]: a fixed limit per call;
//! - [`TimeoutLayer::deadline_aware`]: the smaller of the fixed limit and the
//!   time left before the envelope's invocation
//!   [deadline](crate::Metadata::deadline) minus a safety
//!   [margin](TimeoutLayer::margin) (500 ms by default), so the function still
//!   has time to report the failure before Lambda stops it. An envelope without
//!   a deadline gets the fixed limit. A deadline that is already past or more
//!   than 16 minutes away (Lambda runs for 15 at most; local emulators send
//!   such values) is not believed: the fixed limit applies and a warning is
//!   logged, instead of every call failing at once.
//!
//! When the limit passes first, the call fails with [`Elapsed`], which is
//! retryable. Put the timeout outside the retry layer to bound all attempts
//! together, inside it to bound each attempt.
//!
//! ```
//! use std::time::Duration;
//! use eventrail::layers::timeout::Elapsed;
//! use eventrail::layers::ServiceBuilderExt;
//! use eventrail::{handler_fn, Envelope, HandlerError, Metadata, Source};
//! use tower::{Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let mut svc = ServiceBuilder::new()
//!     .deadline_timeout(Duration::from_secs(25))
//!     .service(handler_fn(|_: Envelope<()>| async {
//!         tokio::time::sleep(Duration::from_secs(60)).await;
//!         Ok::<_, HandlerError>(())
//!     }));
//!
//! // Ten seconds left in the invocation: the budget is 9.5 s, not 25 s.
//! let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
//! let mut meta = Metadata::new("m-1", Source::Direct);
//! meta.set_deadline(Some(deadline));
//! let env = Envelope::new((), meta);
//! let err = svc.ready().await.unwrap().call(env).await.unwrap_err();
//! let elapsed = err.downcast_ref::<Elapsed>().unwrap();
//! assert_eq!(elapsed.budget(), Duration::from_millis(9_500));
//! # }
//! ```

mod error;
mod future;
mod layer;

use std::task::{Context, Poll};

use tokio::time::Instant;
use tower_service::Service;

use crate::envelope::Envelope;
use crate::error::BoxError;

pub use self::error::Elapsed;
pub use self::future::ResponseFuture;
pub use self::layer::TimeoutLayer;

/// Limits how long the inner service runs. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Timeout<S> {
    inner: S,
    layer: TimeoutLayer,
}

impl<S> Timeout<S> {
    /// Wraps `inner` with the limits of `layer`.
    pub fn new(inner: S, layer: TimeoutLayer) -> Self {
        crate::error::register::<Elapsed>();
        Self { inner, layer }
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

impl<S, E> Service<Envelope<E>> for Timeout<S>
where
    S: Service<Envelope<E>>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, env: Envelope<E>) -> Self::Future {
        let now = Instant::now();
        let budget = self.layer.budget_at(env.meta(), now);
        ResponseFuture::new(self.inner.call(env), budget, now)
    }
}
