//! Retry: run the handler again when it fails with an error a retry can help.
//!
//! [`RetryLayer`] calls the inner service up to
//! [`max_attempts`](RetryPolicy::max_attempts) times. Between attempts it
//! waits an exponential backoff: `initial_backoff × multiplier^(n-1)`, capped at
//! [`max_backoff`](RetryPolicy::max_backoff), optionally with full jitter
//! (a uniform draw between zero and that value). The defaults are 3 attempts,
//! waits of 1 s then 2 s (initial backoff 1 s, multiplier 2), no jitter: a
//! throttled or briefly unavailable dependency gets two more chances within
//! a few seconds, well inside a Lambda invocation.
//!
//! - Only retryable errors are retried (see [`classify`](crate::error::classify));
//!   a permanent error is returned at once.
//! - It never sleeps past the envelope's [deadline](crate::Metadata::deadline):
//!   if the next attempt could not start before it, the last error is returned.
//! - Each attempt sees its number on the envelope
//!   ([`Metadata::attempt`](crate::Metadata::attempt)): the first keeps the
//!   envelope's number, the next ones count up from it.
//! - When it gives up, the last error is returned unchanged, so
//!   `err.is::<T>()` keeps working; layers around it (alarm, dead letter,
//!   tracing) still learn how many attempts were made.
//!
//! The layer has no error type of its own.
//!
//! ```
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::sync::Arc;
//! use std::time::Duration;
//! use eventrail::layers::{RetryPolicy, ServiceBuilderExt};
//! use eventrail::{handler_fn, Envelope, HandlerError, Metadata, Source};
//! use tower::{Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let calls = Arc::new(AtomicU32::new(0));
//! let seen = calls.clone();
//! let mut svc = ServiceBuilder::new()
//!     .retries(RetryPolicy::default().with_initial_backoff(Duration::from_millis(100)))
//!     .service(handler_fn(move |env: Envelope<&'static str>| {
//!         let seen = seen.clone();
//!         async move {
//!             seen.fetch_add(1, Ordering::SeqCst);
//!             if env.meta().attempt() < 3 {
//!                 Err(HandlerError::retryable("inventory service busy"))
//!             } else {
//!                 Ok(format!("reserved {}", env.event()))
//!             }
//!         }
//!     }));
//!
//! let env = Envelope::new("sku-1", Metadata::new("m-1", Source::Direct));
//! let out = svc.ready().await.unwrap().call(env).await.unwrap();
//! assert_eq!(out, "reserved sku-1");
//! assert_eq!(calls.load(Ordering::SeqCst), 3);
//! # }
//! ```

mod future;
mod layer;
mod policy;

use std::task::{Context, Poll};

use tower_service::Service;

use crate::envelope::Envelope;
use crate::error::BoxError;

pub use self::future::ResponseFuture;
pub use self::layer::RetryLayer;
pub use self::policy::{Jitter, RetryPolicy};

/// Retries the inner service. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Retry<S> {
    inner: S,
    policy: RetryPolicy,
}

impl<S> Retry<S> {
    /// Wraps `inner` with `policy`.
    pub fn new(inner: S, policy: RetryPolicy) -> Self {
        Self { inner, policy }
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
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

impl<S, E> Service<Envelope<E>> for Retry<S>
where
    S: Service<Envelope<E>> + Clone,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S, E>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, env: Envelope<E>) -> Self::Future {
        // The ready service makes the first call and goes into the future for
        // the next ones; a fresh clone stays here for the next `poll_ready`.
        let clone = self.inner.clone();
        let svc = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::new(svc, env, self.policy)
    }
}
