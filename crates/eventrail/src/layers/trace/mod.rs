//! Tracing: one span per event, and its outcome logged at the end.
//!
//! [`TraceLayer`] opens a `DEBUG` span named `event` around each call, with
//! structured fields: `event_type`, `record_id`, `source`, `tenant`,
//! `correlation_id` and `attempt`. When the call ends it logs one event inside
//! that span with `outcome` (`"ok"` or `"error"`), `duration_ms` and `attempts`
//! (how many attempts a retry layer inside made), plus `retryable` and `error`
//! on failure; `outcome`, `duration_ms` and `attempts` are also recorded on the
//! span. Put it outermost so the span covers every other layer.
//!
//! Per-event spans and lines are `DEBUG`, so a batch of thousands of records
//! costs nothing for them at the usual `INFO` level. A failure is logged at
//! `WARN` whatever the level, and the [`App`](crate::App) logs every failed
//! record with its id at `WARN` too.
//!
//! ```
//! use eventrail::layers::ServiceBuilderExt;
//! use eventrail::{handler_fn, Envelope, HandlerError, Metadata, Source};
//! use tower::{Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let mut svc = ServiceBuilder::new()
//!     .traced()
//!     .service(handler_fn(|env: Envelope<u32>| async move {
//!         tracing::info!("inside the event's span");
//!         Ok::<_, HandlerError>(*env.event() * 2)
//!     }));
//! let env = Envelope::new(21, Metadata::new("m-1", Source::Sqs).with_tenant("acme"));
//! assert_eq!(svc.ready().await.unwrap().call(env).await.unwrap(), 42);
//! # }
//! ```

mod future;
mod layer;

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::time::Instant;
use tower_service::Service;

use crate::envelope::{Envelope, Stats};
use crate::error::BoxError;

pub use self::future::ResponseFuture;
pub use self::layer::TraceLayer;

/// Wraps each call in a span. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Trace<S> {
    inner: S,
}

impl<S> Trace<S> {
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

impl<S, E> Service<Envelope<E>> for Trace<S>
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

    fn call(&mut self, mut env: Envelope<E>) -> Self::Future {
        let meta = env.meta();
        let span = tracing::debug_span!(
            "event",
            event_type = %ShortTypeName(std::any::type_name::<E>()),
            record_id = meta.record_id(),
            source = meta.source().as_str(),
            tenant = meta.tenant(),
            correlation_id = meta.correlation_id(),
            attempt = meta.attempt(),
            outcome = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
            attempts = tracing::field::Empty,
        );
        let first_attempt = meta.attempt();
        // The start time and the scope the inner layers report attempts to
        // are only read for the span and the outcome lines: when none of them
        // is on, neither is taken (no clock read, no scope node).
        let watch = (!span.is_disabled() || future::outcome_logged()).then(|| Watch {
            start: Instant::now(),
            scope: env.meta_mut().enter_scope(),
            first_attempt,
        });
        let fut = {
            let _enter = span.enter();
            self.inner.call(env)
        };
        ResponseFuture::new(fut, span, watch)
    }
}

/// What the end of a watched call reads: when it started, and how many
/// attempts the layers inside made.
#[derive(Debug)]
struct Watch {
    start: Instant,
    scope: Arc<Stats>,
    first_attempt: u32,
}

/// A type's name without its module paths (`a::b::C<d::E>` as `C<E>`),
/// shortened only when a subscriber formats it: a span that is off costs
/// nothing for it.
struct ShortTypeName(&'static str);

impl fmt::Display for ShortTypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::routes::short_type_name(self.0))
    }
}
