use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Sleep;

use super::Elapsed;
use crate::error::BoxError;

pin_project_lite::pin_project! {
    /// The future of [`Timeout`](super::Timeout).
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Sleep,
        budget: Duration,
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn new(inner: F, budget: Duration) -> Self {
        Self {
            inner,
            sleep: tokio::time::sleep(budget),
            budget,
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
        // The inner future first: a result that is ready wins over the timer.
        if let Poll::Ready(r) = this.inner.poll(cx) {
            return Poll::Ready(r.map_err(Into::into));
        }
        match this.sleep.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed::new(*this.budget).into())),
            Poll::Pending => Poll::Pending,
        }
    }
}
