use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::BoxError;
use crate::layers::catch_panic::CallCatching;

type Reporting<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

pin_project_lite::pin_project! {
    /// The future of [`TaskToken`](super::TaskToken). For an envelope
    /// without a task token, the inner call's future, held inline (no
    /// allocation); for a task, a boxed `async` block: the inner call, then
    /// the callback (port calls, which allocate anyway, and may be retried).
    pub struct ResponseFuture<F, T> {
        #[pin]
        kind: Kind<F, T>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F, T> {
        Plain { #[pin] call: CallCatching<F> },
        Reporting { fut: Reporting<T> },
    }
}

impl<F, T> ResponseFuture<F, T> {
    pub(super) fn plain(call: CallCatching<F>) -> Self {
        Self {
            kind: Kind::Plain { call },
        }
    }

    pub(super) fn reporting(
        fut: impl Future<Output = Result<T, BoxError>> + Send + 'static,
    ) -> Self {
        Self {
            kind: Kind::Reporting { fut: Box::pin(fut) },
        }
    }
}

impl<F, T, Er> Future for ResponseFuture<F, T>
where
    F: Future<Output = Result<T, Er>>,
    Er: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Plain { call } => call.poll(cx),
            KindProj::Reporting { fut } => fut.as_mut().poll(cx),
        }
    }
}

impl<F, T> fmt::Debug for ResponseFuture<F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
