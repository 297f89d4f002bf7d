use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use super::Elapsed;
use crate::error::BoxError;

pin_project_lite::pin_project! {
    /// The future of [`Timeout`](super::Timeout).
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        timer: Timer,
        budget: Duration,
    }
}

pin_project_lite::pin_project! {
    /// The call's timer: its deadline is fixed when the call starts, and it
    /// is armed only if the call does not finish at its first poll (most
    /// calls that do no I/O never touch the timer driver).
    #[project = TimerProj]
    #[derive(Debug)]
    enum Timer {
        Idle { deadline: Instant },
        Armed { #[pin] sleep: Sleep },
    }
}

impl<F> ResponseFuture<F> {
    /// The call `inner`, started at `now`, with `budget` to finish.
    pub(super) fn new(inner: F, budget: Duration, now: Instant) -> Self {
        Self {
            inner,
            timer: Timer::Idle {
                // As `tokio::time::sleep` computes it.
                deadline: now.checked_add(budget).unwrap_or_else(far_future),
            },
            budget,
        }
    }
}

/// Roughly 30 years from now: what `tokio::time::sleep` waits for when the
/// budget overflows an `Instant`.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86400 * 365 * 30)
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
        let mut timer = this.timer;
        loop {
            match timer.as_mut().project() {
                TimerProj::Idle { deadline } => {
                    let sleep = tokio::time::sleep_until(*deadline);
                    timer.set(Timer::Armed { sleep });
                }
                TimerProj::Armed { sleep } => {
                    return match sleep.poll(cx) {
                        Poll::Ready(()) => Poll::Ready(Err(Elapsed::new(*this.budget).into())),
                        Poll::Pending => Poll::Pending,
                    };
                }
            }
        }
    }
}
