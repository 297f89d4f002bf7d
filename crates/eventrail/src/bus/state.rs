//! Handlers that share state: [`handler_fn_with_state`] and [`State`].

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower_service::Service;

use crate::envelope::Envelope;

/// The state a [`handler_fn_with_state`] handler is called with: a shared
/// reference to it (an [`Arc`]), never a copy. Dereferences to `S`.
///
/// Destructure it in the handler's parameters (`State(deps): State<Deps>`)
/// to get the `Arc<S>`, or use it as `&S` through `Deref`.
pub struct State<S>(pub Arc<S>);

impl<S> State<S> {
    /// The shared state, as the `Arc` every call shares.
    pub fn arc(&self) -> &Arc<S> {
        &self.0
    }
}

impl<S> Deref for State<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.0
    }
}

impl<S> Clone for State<S> {
    /// Another reference to the same state (a reference count, not a copy of `S`).
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<S: fmt::Debug> fmt::Debug for State<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("State").field(&self.0).finish()
    }
}

/// Turns an async function of an [`Envelope<E>`] and a [`State<S>`] into a
/// handler (a `tower::Service`), like [`handler_fn`](super::handler_fn) for
/// handlers that need ports, clients or configuration.
///
/// `state` is moved into one `Arc` when the handler is built; each call gets
/// a [`State<S>`] that shares it (one reference count), so `S` itself, and
/// every port it holds, is never cloned per call. Cloning the handler (as
/// the bus and the layers do) shares the function and the state too.
///
/// ```
/// use std::sync::Arc;
///
/// use eventrail::bus::{handler_fn_with_state, State};
/// use eventrail::ports::{Notifier, SnsMessage};
/// use eventrail::{Bus, Envelope, HandlerError, Metadata, Source};
///
/// #[derive(Debug)]
/// struct OrderPlaced { order_id: String }
///
/// /// What the handler needs: its ports and settings.
/// #[derive(Debug)]
/// struct Deps { topic: String, notifier: Arc<dyn Notifier> }
///
/// async fn announce(env: Envelope<OrderPlaced>, deps: State<Deps>) -> Result<String, HandlerError> {
///     let msg = SnsMessage::new(deps.topic.as_str(), format!("order {} placed", env.order_id));
///     let receipt = deps.notifier.publish(msg).await?;
///     Ok(receipt.message_id)
/// }
///
/// # #[derive(Debug)] struct Topic;
/// # #[async_trait::async_trait]
/// # impl Notifier for Topic {
/// #     async fn publish(&self, _m: SnsMessage) -> Result<eventrail::ports::PublishReceipt, eventrail::ports::PortError> {
/// #         Ok(eventrail::ports::PublishReceipt { message_id: "msg-1".into() })
/// #     }
/// # }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let notifier: Arc<dyn Notifier> = Arc::new(Topic);
/// let deps = Deps { topic: "arn:aws:sns:eu-west-1:111122223333:orders".into(), notifier };
/// let bus = Bus::builder().on(handler_fn_with_state(deps, announce)).build();
///
/// let env = Envelope::new(OrderPlaced { order_id: "42".into() }, Metadata::new("m-1", Source::Direct));
/// assert_eq!(bus.send(env).await.unwrap(), "msg-1");
/// # }
/// ```
pub fn handler_fn_with_state<S, E, F, Fut, R, Er>(state: S, f: F) -> HandlerFnWithState<S, F, E>
where
    F: Fn(Envelope<E>, State<S>) -> Fut,
    Fut: Future<Output = Result<R, Er>>,
{
    HandlerFnWithState {
        inner: Arc::new(Shared {
            f,
            state: Arc::new(state),
        }),
        _event: PhantomData,
    }
}

struct Shared<S, F> {
    f: F,
    state: Arc<S>,
}

/// A handler made from an async function and its state. See
/// [`handler_fn_with_state`].
pub struct HandlerFnWithState<S, F, E> {
    inner: Arc<Shared<S, F>>,
    _event: PhantomData<fn(E)>,
}

impl<S, F, E> HandlerFnWithState<S, F, E> {
    /// The state every call shares.
    pub fn state(&self) -> &Arc<S> {
        &self.inner.state
    }
}

impl<S, F, E> Clone for HandlerFnWithState<S, F, E> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            _event: PhantomData,
        }
    }
}

impl<S, F, E> fmt::Debug for HandlerFnWithState<S, F, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerFnWithState")
            .field("event", &std::any::type_name::<E>())
            .field("state", &std::any::type_name::<S>())
            .finish()
    }
}

impl<S, F, E, Fut, R, Er> Service<Envelope<E>> for HandlerFnWithState<S, F, E>
where
    F: Fn(Envelope<E>, State<S>) -> Fut,
    Fut: Future<Output = Result<R, Er>>,
{
    type Response = R;
    type Error = Er;
    type Future = Fut;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Er>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, env: Envelope<E>) -> Fut {
        (self.inner.f)(env, State(Arc::clone(&self.inner.state)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::envelope::{Metadata, Source};
    use crate::error::HandlerError;
    use crate::Bus;

    /// State that counts its clones.
    #[derive(Debug)]
    struct Counted {
        clones: Arc<AtomicUsize>,
        greeting: &'static str,
    }

    impl Clone for Counted {
        fn clone(&self) -> Self {
            self.clones.fetch_add(1, Ordering::SeqCst);
            Self {
                clones: Arc::clone(&self.clones),
                greeting: self.greeting,
            }
        }
    }

    fn env(name: &str) -> Envelope<String> {
        Envelope::new(name.to_owned(), Metadata::new("r", Source::Direct))
    }

    #[tokio::test]
    async fn the_state_is_shared_never_cloned_per_call() {
        let clones = Arc::new(AtomicUsize::new(0));
        let state = Counted {
            clones: Arc::clone(&clones),
            greeting: "hello",
        };
        let handler = handler_fn_with_state(
            state,
            |env: Envelope<String>, s: State<Counted>| async move {
                Ok::<_, HandlerError>(format!("{} {}", s.greeting, env.event()))
            },
        );
        let shared = Arc::clone(handler.state());
        let bus = Bus::builder().on(handler).build();
        for name in ["ana", "bo", "cy"] {
            let out = bus.send(env(name)).await.unwrap();
            assert_eq!(out, format!("hello {name}"));
        }
        assert_eq!(clones.load(Ordering::SeqCst), 0, "no clone of the state");
        // Only the handler (and this test) hold the state between calls.
        assert_eq!(Arc::strong_count(&shared), 2);

        // What a closure capturing the state by value does instead: the
        // closure is cloned with the handler, once when it is registered
        // (the bus keeps an instance it calls in place), and again for any
        // call that finds that instance busy (another thread calling it)
        // or not ready, though the body never clones it.
        let captured = Counted {
            clones: Arc::clone(&clones),
            greeting: "hi",
        };
        let bus = Bus::builder()
            .on(crate::handler_fn(move |env: Envelope<String>| {
                // The whole value is captured (not just a field of it).
                let whole: &Counted = &captured;
                let greeting = whole.greeting;
                async move { Ok::<_, HandlerError>(format!("{greeting} {}", env.event())) }
            }))
            .build();
        for name in ["ana", "bo", "cy"] {
            assert_eq!(bus.send(env(name)).await.unwrap(), format!("hi {name}"));
        }
        assert_eq!(clones.load(Ordering::SeqCst), 1);
    }
}
