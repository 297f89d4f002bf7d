use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::AlarmCall;
use crate::error::BoxError;

pin_project_lite::pin_project! {
    /// The future of [`AlarmOnFailure`](super::AlarmOnFailure): the inner
    /// call, then the alarm if it failed. The inner call's future is held
    /// inline (no allocation per call); the alarm, a port call, is boxed
    /// when one is sent.
    pub struct ResponseFuture<F, E> {
        #[pin]
        call: AlarmCall<F, E>,
    }
}

impl<F, E> ResponseFuture<F, E> {
    pub(super) fn new(call: AlarmCall<F, E>) -> Self {
        Self { call }
    }
}

impl<F, T, Er, E> Future for ResponseFuture<F, E>
where
    F: Future<Output = Result<T, Er>>,
    Er: Into<BoxError>,
    E: 'static,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().call.poll(cx)
    }
}

impl<F, E> fmt::Debug for ResponseFuture<F, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
