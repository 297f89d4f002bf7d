use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::time::Instant;
use tracing::Span;

use crate::envelope::Stats;
use crate::error::{is_retryable, BoxError};

pin_project_lite::pin_project! {
    /// The future of [`Trace`](super::Trace): polls the call inside its span.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        span: Span,
        start: Instant,
        scope: Arc<Stats>,
        first_attempt: u32,
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn new(inner: F, span: Span, scope: Arc<Stats>, first_attempt: u32) -> Self {
        Self {
            inner,
            span,
            start: Instant::now(),
            scope,
            first_attempt,
        }
    }
}

impl<F, T, Er> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, Er>>,
    Er: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _enter = this.span.enter();
        let result = ready!(this.inner.poll(cx)).map_err(Into::into);
        let duration_ms = this.start.elapsed().as_millis() as u64;
        let attempts = this.scope.attempts().max(*this.first_attempt);
        this.span.record("duration_ms", duration_ms);
        this.span.record("attempts", attempts);
        match &result {
            Ok(_) => {
                this.span.record("outcome", "ok");
                tracing::debug!(outcome = "ok", duration_ms, attempts, "event handled");
            }
            Err(e) => {
                this.span.record("outcome", "error");
                tracing::warn!(
                    outcome = "error",
                    duration_ms,
                    attempts,
                    retryable = is_retryable(&**e),
                    error = %e,
                    "event failed"
                );
            }
        }
        Poll::Ready(result)
    }
}
