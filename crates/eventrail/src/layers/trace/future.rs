use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tracing::{Level, Span};

use super::Watch;
use crate::error::{is_retryable, BoxError};

pin_project_lite::pin_project! {
    /// The future of [`Trace`](super::Trace): polls the call inside its span.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        span: Span,
        // `None` when neither the span nor the outcome lines are on.
        watch: Option<Watch>,
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn new(inner: F, span: Span, watch: Option<Watch>) -> Self {
        Self { inner, span, watch }
    }
}

/// Whether a subscriber would take one of the lines a call ends with (the
/// `DEBUG` success or the `WARN` failure), asked here so the answer follows
/// the filters of this module, where the lines are logged. With no
/// subscriber set at all, `tracing` may hand the lines to the `log` crate,
/// whose filters cannot be asked from here: they are kept then too.
pub(super) fn outcome_logged() -> bool {
    !tracing::dispatcher::has_been_set()
        || tracing::enabled!(Level::WARN)
        || tracing::enabled!(Level::DEBUG)
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
        let Some(watch) = this.watch.as_ref() else {
            return Poll::Ready(result);
        };
        // A success is only logged at `DEBUG`: when neither that line nor
        // the span is on, its duration is not read (no second clock read).
        if result.is_ok() && this.span.is_disabled() && !tracing::enabled!(Level::DEBUG) {
            return Poll::Ready(result);
        }
        let duration_ms = watch.start.elapsed().as_millis() as u64;
        let attempts = watch.scope.attempts().max(watch.first_attempt);
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
