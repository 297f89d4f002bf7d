use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use super::{send_alarm, AlarmCall, AlarmCallProj};
use crate::error::BoxError;
use crate::layers::idempotency::is_in_progress_elsewhere;

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
        let mut call = self.project().call;
        loop {
            match call.as_mut().project() {
                AlarmCallProj::Calling {
                    fut,
                    meta,
                    layer,
                    scope,
                    ..
                } => {
                    let err = match ready!(fut.poll(cx)) {
                        Ok(resp) => return Poll::Ready(Ok(resp)),
                        Err(e) => e,
                    };
                    let Some(mut meta) = meta.take() else {
                        return Poll::Ready(Err(err));
                    };
                    // The copy was taken without the scope it was made in,
                    // which the call kept; it reports the alarm there.
                    meta.set_stats(Arc::clone(scope));
                    if is_in_progress_elsewhere(&*err) {
                        // A duplicate while the first delivery runs: not
                        // final, the first delivery reports the outcome.
                        tracing::debug!(
                            record_id = meta.record_id(),
                            "duplicate in progress elsewhere; no alarm"
                        );
                        return Poll::Ready(Err(err));
                    }
                    if layer.filter.as_ref().is_some_and(|f| !f(&*err)) {
                        return Poll::Ready(Err(err));
                    }
                    let alarm = send_alarm::<E>(Arc::clone(layer), Arc::clone(scope), meta, err);
                    call.set(AlarmCall::Alarming {
                        alarm: Box::pin(alarm),
                    });
                }
                AlarmCallProj::Alarming { alarm } => {
                    return Poll::Ready(Err(ready!(alarm.as_mut().poll(cx))));
                }
            }
        }
    }
}

impl<F, E> fmt::Debug for ResponseFuture<F, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
