//! Dead letter: keep finally failed events for later analysis.
//!
//! [`DeadLetterLayer`] hands every final failure that reaches it, with the
//! envelope and the number of attempts made, to a [`DeadLetterSink`] (a
//! database table, a queue, an S3 prefix: the sink decides). Put it outside
//! the retry layer so only failures after retries arrive. A duplicate delivery
//! that found its idempotency key in progress is not final
//! ([`is_in_progress_elsewhere`]):
//! it is returned as it is, without a letter, and the source delivers it again. The handler's error is still returned, so the
//! record is reported failed as before; a sink that fails is logged and counted
//! ([`DeadLetterLayer::failed_stores`]) and never hides the handler's error.
//! A panic of the wrapped service is a final failure too, stored as a
//! [`HandlerPanic`](crate::error::HandlerPanic).
//!
//! To summarise a whole batch's failures in one alarm, see
//! [`BatchAlarm`](crate::app::BatchAlarm), next to the batch's
//! [`Report`](crate::app::Report).
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use eventrail::layers::dead_letter::{DeadLetter, DeadLetterLayer, DeadLetterSink};
//! use eventrail::ports::PortError;
//! use eventrail::{handler_fn, Envelope, HandlerError, Metadata, Source};
//! use tower::{Layer, Service, ServiceExt};
//!
//! #[derive(Debug)]
//! struct Order { id: u32 }
//!
//! /// Keeps (order id, error, attempts) in memory.
//! #[derive(Debug, Default)]
//! struct FailedOrders(Mutex<Vec<(u32, String, u32)>>);
//!
//! #[eventrail::async_trait]
//! impl DeadLetterSink<Order> for FailedOrders {
//!     async fn store(&self, letter: DeadLetter<'_, Order>) -> Result<(), PortError> {
//!         self.0.lock().unwrap().push((letter.envelope.id, letter.error.to_string(), letter.attempts));
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let sink = Arc::new(FailedOrders::default());
//! let mut svc = DeadLetterLayer::new(sink.clone())
//!     .layer(handler_fn(|_: Envelope<Order>| async {
//!         Err::<(), _>(HandlerError::permanent("unknown customer"))
//!     }));
//! let env = Envelope::new(Order { id: 7 }, Metadata::new("m-1", Source::Sqs));
//! svc.ready().await.unwrap().call(env).await.unwrap_err();
//! assert_eq!(*sink.0.lock().unwrap(), [(7, "unknown customer".to_owned(), 1)]);
//! # }
//! ```

mod future;
mod layer;
mod sink;

use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use tower_service::Service;

use crate::envelope::Envelope;
use crate::error::BoxError;
use crate::layers::catch_panic::call_catching;
use crate::layers::idempotency::is_in_progress_elsewhere;

pub use self::future::ResponseFuture;
pub use self::layer::DeadLetterLayer;
pub use self::sink::{DeadLetter, DeadLetterSink};

/// Hands final failures to a [`DeadLetterSink`]. See the [module docs](self).
#[derive(Debug)]
pub struct DeadLettering<S, E> {
    inner: S,
    layer: DeadLetterLayer<E>,
}

impl<S: Clone, E> Clone for DeadLettering<S, E> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S, E> DeadLettering<S, E> {
    /// Wraps `inner` with the settings of `layer`.
    pub fn new(inner: S, layer: DeadLetterLayer<E>) -> Self {
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

impl<S, E> Service<Envelope<E>> for DeadLettering<S, E>
where
    S: Service<Envelope<E>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    E: Send + Sync + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut env: Envelope<E>) -> Self::Future {
        let scope = env.meta_mut().enter_scope();
        let kept = env.clone();
        let fut = call_catching(&mut self.inner, env);
        let layer = self.layer.clone();
        ResponseFuture::new(async move {
            let err: BoxError = match fut.await {
                Ok(resp) => return Ok(resp),
                Err(e) => e,
            };
            if is_in_progress_elsewhere(&*err) {
                // A duplicate while the first delivery runs: not final, the
                // source delivers it again.
                tracing::debug!(
                    record_id = kept.meta().record_id(),
                    "duplicate in progress elsewhere; no dead letter"
                );
                return Err(err);
            }
            let failed_at = match &layer.clock {
                Some(c) => c.now(),
                None => kept.meta().clock().now(),
            };
            let letter = DeadLetter::new(&kept, &*err, scope.attempts_for(kept.meta()), failed_at);
            let stored = layer.sink.store(letter).await;
            kept.meta().record_dead_letter(stored.is_ok());
            match stored {
                Ok(()) => tracing::info!(
                    record_id = kept.meta().record_id(),
                    "failed event stored as a dead letter"
                ),
                Err(e) => {
                    let failed = layer.failed.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::error!(
                        record_id = kept.meta().record_id(),
                        error = %e,
                        handler_error = %err,
                        failed_stores = failed,
                        "could not store a dead letter"
                    );
                }
            }
            Err(err)
        })
    }
}
