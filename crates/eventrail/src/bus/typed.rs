//! A handler of one event type behind the bus's type-erased table: called
//! in place when its kept instance is free and ready, else through a
//! future that waits for readiness (see the [bus docs](super)).

use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{ready, Context, Poll, Waker};

use serde::Serialize;
use tower_service::Service;

use super::{Dispatch, ErasedHandler, Output, Outputs};
use crate::envelope::{AnyEnvelope, Envelope};
use crate::error::{BoxError, HandlerError, RecordError};

pub(super) struct Typed<E, S> {
    /// The registered service: cloned for a call that cannot use `shared`.
    svc: S,
    /// An instance called in place: a call that finds it free and ready
    /// makes its call with it, and costs no clone of the stack (a clone and
    /// a drop of a layered stack are two atomic operations per `Arc` its
    /// layers hold).
    shared: Mutex<S>,
    _event: PhantomData<fn(E)>,
}

impl<E, S: Clone> Typed<E, S> {
    pub(super) fn new(svc: S) -> Self {
        Self {
            shared: Mutex::new(svc.clone()),
            svc,
            _event: PhantomData,
        }
    }
}

impl<E, S> Typed<E, S>
where
    E: Send + Sync + 'static,
    S: Service<Envelope<E>> + Clone + Send + Sync + 'static,
    S::Response: Serialize,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    /// The record's future for a call in `state`.
    fn dispatch(state: CallState<S, Envelope<E>, S::Future>, outputs: Outputs) -> Dispatch {
        Dispatch::boxed(Box::pin(TypedCall::<S, E> { state, outputs }))
    }

    /// The call of `env` by `svc`, once `svc` is ready.
    fn readying(svc: S, env: Envelope<E>, outputs: Outputs) -> Dispatch {
        let env = Some(env);
        Self::dispatch(CallState::NotReady { svc, env }, outputs)
    }

    /// Makes the call with `shared` if it is ready now (polled once with a
    /// waker that does nothing; a service that is not ready registers it and
    /// is asked again at the next call).
    fn call_in_place(shared: &mut S, env: Envelope<E>) -> Result<S::Future, InPlaceMiss<E>> {
        let mut cx = Context::from_waker(Waker::noop());
        match catch_unwind(AssertUnwindSafe(|| shared.poll_ready(&mut cx))) {
            Ok(Poll::Ready(Ok(()))) => {}
            Ok(Poll::Ready(Err(e))) => return Err(InPlaceMiss::Failed(e.into())),
            Ok(Poll::Pending) => return Err(InPlaceMiss::NotReady(env)),
            Err(panic) => return Err(InPlaceMiss::Panicked(panic)),
        }
        catch_unwind(AssertUnwindSafe(|| shared.call(env))).map_err(InPlaceMiss::Panicked)
    }
}

/// Why [`Typed::call_in_place`] made no call. After any of them a fresh
/// clone becomes the kept instance.
enum InPlaceMiss<E> {
    /// Not ready at once: the envelope back, for the instance to get ready
    /// in the record's future.
    NotReady(Envelope<E>),
    /// Its readiness failed: the record fails.
    Failed(BoxError),
    /// `poll_ready` or `call` panicked: raised again when the record's
    /// future is polled (where the app catches a handler's panic).
    Panicked(Box<dyn Any + Send>),
}

impl<E, S> ErasedHandler for Typed<E, S>
where
    E: Send + Sync + 'static,
    S: Service<Envelope<E>> + Clone + Send + Sync + 'static,
    S::Response: Serialize,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    fn call(&self, env: AnyEnvelope, outputs: Outputs) -> Dispatch {
        // The table is keyed by the event's type, so this holds; the typed
        // envelope, not the erased one, goes into the future.
        let env = match env.downcast::<E>() {
            Ok(env) => env,
            Err(e) => {
                return Dispatch::ready(Err(RecordError::no_handler(e.event_type_name()).into()))
            }
        };
        // A service with nothing to drop (a `handler_fn`) clones for free;
        // any other is called in place when its shared instance is free
        // (another thread may be calling it) and ready.
        let free = if std::mem::needs_drop::<S>() {
            self.shared.try_lock().ok()
        } else {
            None
        };
        let Some(mut shared) = free else {
            return Self::readying(self.svc.clone(), env, outputs);
        };
        let miss = match Self::call_in_place(&mut shared, env) {
            Ok(fut) => return Self::dispatch(CallState::Called { fut }, outputs),
            Err(miss) => miss,
        };
        // The kept instance is not called in place again: a fresh clone
        // takes its place. One that is getting ready goes on in the record's
        // future, polled with a real waker (what its `poll_ready` started, a
        // reservation in a bounded queue say, would otherwise wait for a
        // waker that does nothing); one that failed or panicked is dropped.
        let old = std::mem::replace(&mut *shared, self.svc.clone());
        match miss {
            InPlaceMiss::NotReady(env) => Self::readying(old, env, outputs),
            InPlaceMiss::Failed(e) => Dispatch::ready(Err(e)),
            InPlaceMiss::Panicked(panic) => {
                Dispatch::boxed(Box::pin(async move { std::panic::resume_unwind(panic) }))
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// One handler call: the service made ready, called, its response
    /// serialized. (What `tower::ServiceExt::oneshot` and an `async` block
    /// did, in one state machine.)
    struct TypedCall<S, E>
    where
        S: Service<Envelope<E>>,
    {
        #[pin]
        state: CallState<S, Envelope<E>, S::Future>,
        // Whether the response is serialized or dropped.
        outputs: Outputs,
    }
}

pin_project_lite::pin_project! {
    #[project = CallProj]
    enum CallState<S, R, F> {
        NotReady { svc: S, env: Option<R> },
        Called { #[pin] fut: F },
        Done,
    }
}

impl<S, E> Future for TypedCall<S, E>
where
    S: Service<Envelope<E>>,
    S::Response: Serialize,
    S::Error: Into<BoxError>,
{
    type Output = Result<Output, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut state = this.state;
        loop {
            match state.as_mut().project() {
                CallProj::NotReady { svc, env } => {
                    if let Err(e) = ready!(svc.poll_ready(cx)) {
                        state.set(CallState::Done);
                        return Poll::Ready(Err(e.into()));
                    }
                    let Some(env) = env.take() else {
                        state.set(CallState::Done);
                        return Poll::Ready(Err("a handler call lost its envelope".into()));
                    };
                    let fut = svc.call(env);
                    state.set(CallState::Called { fut });
                }
                CallProj::Called { fut } => {
                    let result = ready!(fut.poll(cx));
                    state.set(CallState::Done);
                    return Poll::Ready(match result {
                        Ok(_) if *this.outputs == Outputs::Discard => Ok(Output::null()),
                        Ok(resp) => Output::serialize(&resp).map_err(|e| {
                            HandlerError::permanent(format!(
                                "the handler's output does not serialize: {e}"
                            ))
                            .into()
                        }),
                        Err(e) => Err(e.into()),
                    });
                }
                CallProj::Done => {
                    return Poll::Ready(Err("a handler call polled after completion".into()))
                }
            }
        }
    }
}
