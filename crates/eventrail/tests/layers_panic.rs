//! A panicking handler, layer by layer: each layer that acts on failures
//! sees a `HandlerPanic`, and the retry layer does not retry it.

mod layers_support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use eventrail::app::HandlerPanic;
use eventrail::layers::{AlarmService, CatchPanicLayer, RetryPolicy, ServiceBuilderExt};
use eventrail::{handler_fn, BoxError, Envelope, HandlerError, Metadata, Source};
use layers_support::{Callback, Sfn, Topic};
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:alarms";
const BUG: &str = "layers_panic: bug";

fn quiet() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&BUG) {
                default(info);
            }
        }));
    });
}

fn env(token: Option<&str>) -> Envelope<u32> {
    let meta = Metadata::new("m-1", Source::StepFunctions);
    let meta = match token {
        Some(t) => meta.with_task_token(t),
        None => meta,
    };
    Envelope::new(1, meta)
}

fn panic_message(err: &BoxError) -> &str {
    err.downcast_ref::<HandlerPanic>()
        .unwrap_or_else(|| panic!("not a HandlerPanic: {err}"))
        .message()
}

#[tokio::test(start_paused = true)]
async fn the_alarm_layer_alarms_for_a_panic_and_the_retry_layer_does_not_retry_it() {
    quiet();
    let topic = Topic::new();
    let runs = Arc::new(AtomicU32::new(0));
    let counted = runs.clone();
    let mut svc = ServiceBuilder::new()
        .alarm(AlarmService::new(topic.clone(), TOPIC), "Panicky")
        .retries(RetryPolicy::default())
        .service(handler_fn(move |_: Envelope<u32>| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { std::panic::panic_any::<_>(BUG) as Result<(), HandlerError> }
        }));
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(env(None))
        .await
        .unwrap_err();
    assert_eq!(panic_message(&err), BUG);
    assert_eq!(runs.load(Ordering::SeqCst), 1, "a panic is permanent");
    let bodies = topic.bodies();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["message"], format!("handler panicked: {BUG}"));
    assert_eq!(bodies[0]["attempts"], 1);
}

#[tokio::test(start_paused = true)]
async fn the_task_token_layer_fails_the_task_when_the_handler_panics() {
    quiet();
    let sfn = Sfn::new();
    let mut svc = ServiceBuilder::new()
        .task_token(sfn.clone())
        .service(handler_fn(|_: Envelope<u32>| async {
            std::panic::panic_any::<_>(BUG) as Result<u32, HandlerError>
        }));
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(env(Some("tok-1")))
        .await
        .unwrap_err();
    assert_eq!(panic_message(&err), BUG);
    assert_eq!(
        sfn.received(),
        [Callback::Failure {
            token: "tok-1".into(),
            error: "eventrail.PermanentError".into(),
            cause: format!("handler panicked: {BUG}"),
        }]
    );
}

/// A service whose `call` panics before it returns a future.
#[derive(Clone)]
struct PanicsInCall;

impl Service<Envelope<u32>> for PanicsInCall {
    type Response = u32;
    type Error = HandlerError;
    type Future = std::future::Ready<Result<u32, HandlerError>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), HandlerError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Envelope<u32>) -> Self::Future {
        std::panic::panic_any(BUG)
    }
}

#[tokio::test]
async fn catch_panic_catches_a_panic_in_call_too() {
    quiet();
    let mut svc = CatchPanicLayer::new().layer(PanicsInCall);
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(env(None))
        .await
        .unwrap_err();
    assert_eq!(panic_message(&err), BUG);
    assert!(!eventrail::error::is_retryable(&*err));
    // And the service still serves the next call.
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(env(None))
        .await
        .unwrap_err();
    assert!(err.is::<HandlerPanic>());
}
