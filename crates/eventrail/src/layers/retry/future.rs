use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::time::{Instant, Sleep};
use tower_service::Service;

use super::RetryPolicy;
use crate::envelope::Envelope;
use crate::error::{is_retryable, BoxError};

pin_project_lite::pin_project! {
    /// The future of [`Retry`](super::Retry): the first success, or the last error.
    pub struct ResponseFuture<S, E>
    where
        S: Service<Envelope<E>>,
    {
        #[pin]
        state: State<S::Future>,
        svc: S,
        env: Envelope<E>,
        policy: RetryPolicy,
        // Attempts made so far in this call.
        made: u32,
        // The envelope's attempt number on the first call.
        first: u32,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F> {
        Calling { #[pin] fut: F },
        Waiting { #[pin] sleep: Sleep },
        Readying,
    }
}

impl<S, E> ResponseFuture<S, E>
where
    S: Service<Envelope<E>>,
{
    pub(super) fn new(mut svc: S, env: Envelope<E>, policy: RetryPolicy) -> Self {
        let first = env.meta().attempt();
        let fut = svc.call(env.clone());
        Self {
            state: State::Calling { fut },
            svc,
            env,
            policy,
            made: 1,
            first,
        }
    }
}

impl<S, E> Future for ResponseFuture<S, E>
where
    S: Service<Envelope<E>>,
    S::Error: Into<BoxError>,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Calling { fut } => {
                    let err: BoxError = match ready!(fut.poll(cx)) {
                        Ok(resp) => return Poll::Ready(Ok(resp)),
                        Err(e) => e.into(),
                    };
                    let meta = this.env.meta();
                    let attempt = *this.first + *this.made - 1;
                    if !is_retryable(&*err) {
                        tracing::debug!(
                            record_id = meta.record_id(),
                            attempt,
                            error = %err,
                            "permanent error; not retrying"
                        );
                        return Poll::Ready(Err(err));
                    }
                    if *this.made >= this.policy.max_attempts() {
                        tracing::warn!(
                            record_id = meta.record_id(),
                            attempts = *this.made,
                            error = %err,
                            "all attempts failed"
                        );
                        return Poll::Ready(Err(err));
                    }
                    let delay = this.policy.delay(*this.made);
                    if let Some(deadline) = meta.deadline() {
                        if Instant::now() + delay >= deadline {
                            tracing::warn!(
                                record_id = meta.record_id(),
                                attempts = *this.made,
                                delay_ms = delay.as_millis() as u64,
                                error = %err,
                                "giving up: the next attempt could not start before the deadline"
                            );
                            return Poll::Ready(Err(err));
                        }
                    }
                    tracing::info!(
                        record_id = meta.record_id(),
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        error = %err,
                        "attempt failed; retrying"
                    );
                    this.state.set(State::Waiting {
                        sleep: tokio::time::sleep(delay),
                    });
                }
                StateProj::Waiting { sleep } => {
                    ready!(sleep.poll(cx));
                    this.state.set(State::Readying);
                }
                StateProj::Readying => {
                    if let Err(e) = ready!(this.svc.poll_ready(cx)) {
                        return Poll::Ready(Err(e.into()));
                    }
                    *this.made += 1;
                    let attempt = *this.first + *this.made - 1;
                    let mut env = this.env.clone();
                    env.meta_mut().set_attempt(attempt);
                    env.meta().record_attempt(attempt);
                    let fut = this.svc.call(env);
                    this.state.set(State::Calling { fut });
                }
            }
        }
    }
}

impl<S, E> fmt::Debug for ResponseFuture<S, E>
where
    S: Service<Envelope<E>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("record_id", &self.env.meta().record_id())
            .field("attempts_made", &self.made)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}
