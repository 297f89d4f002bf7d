//! Compile-time checks: every layer, the services it makes and their futures
//! are `Send + 'static` (layers and services `Sync` too), so stacks can be
//! registered on a bus and run on a multi-threaded runtime.

use std::sync::Arc;

use eventrail::app::BatchAlarm;
use eventrail::layers::alarm::AlarmOnFailure;
use eventrail::layers::dead_letter::DeadLettering;
use eventrail::layers::idempotency::Idempotent;
use eventrail::layers::retry::Retry;
use eventrail::layers::task_token::TaskToken;
use eventrail::layers::timeout::Timeout;
use eventrail::layers::trace::Trace;
use eventrail::layers::{
    AlarmLayer, AlarmService, DeadLetterLayer, IdempotencyLayer, MemoryIdempotencyStore,
    RetryLayer, TaskTokenLayer, TimeoutLayer, TraceLayer,
};
use eventrail::{BoxError, Envelope};
use tower::Service;

fn send_sync_static<T: Send + Sync + 'static>() {}
fn send_static<T: Send + 'static>() {}

/// A handler type standing for any `Send + Sync` handler.
#[derive(Clone)]
struct H;

impl Service<Envelope<String>> for H {
    type Response = String;
    type Error = BoxError;
    type Future = std::future::Ready<Result<String, BoxError>>;
    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn call(&mut self, e: Envelope<String>) -> Self::Future {
        std::future::ready(Ok(e.event().clone()))
    }
}

fn future_of<S: Service<Envelope<String>>>() -> impl FnOnce()
where
    S::Future: Send + 'static,
{
    || send_static::<S::Future>()
}

#[test]
fn layers_are_send_sync_static() {
    send_sync_static::<RetryLayer>();
    send_sync_static::<TimeoutLayer>();
    send_sync_static::<TraceLayer>();
    send_sync_static::<AlarmLayer>();
    send_sync_static::<AlarmService>();
    send_sync_static::<BatchAlarm>();
    send_sync_static::<TaskTokenLayer>();
    send_sync_static::<DeadLetterLayer<String>>();
    send_sync_static::<IdempotencyLayer<String>>();
    send_sync_static::<MemoryIdempotencyStore>();
    send_sync_static::<Arc<dyn eventrail::ports::IdempotencyStore>>();
}

#[test]
fn services_are_send_sync_static() {
    send_sync_static::<Retry<H>>();
    send_sync_static::<Timeout<H>>();
    send_sync_static::<Trace<H>>();
    send_sync_static::<AlarmOnFailure<H>>();
    send_sync_static::<TaskToken<H>>();
    send_sync_static::<DeadLettering<H, String>>();
    send_sync_static::<Idempotent<H, String>>();
}

#[test]
fn futures_are_send_static() {
    future_of::<Retry<H>>()();
    future_of::<Timeout<H>>()();
    future_of::<Trace<H>>()();
    future_of::<AlarmOnFailure<H>>()();
    future_of::<TaskToken<H>>()();
    future_of::<DeadLettering<H, String>>()();
    future_of::<Idempotent<H, String>>()();
    // A whole stack, nested.
    future_of::<
        Trace<
            AlarmOnFailure<DeadLettering<Idempotent<TaskToken<Timeout<Retry<H>>>, String>, String>>,
        >,
    >()();
}

#[test]
fn errors_are_send_sync_static() {
    send_sync_static::<eventrail::layers::timeout::Elapsed>();
    send_sync_static::<eventrail::layers::idempotency::IdempotencyError>();
    send_sync_static::<eventrail::layers::task_token::TaskTokenError>();
}

#[test]
fn alarm_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    let alarms = AlarmService::new(
        std::sync::Arc::new(NullNotifier),
        "arn:aws:sns:us-east-1:1:alarms",
    );
    let err: BoxError = "boom".into();
    // Handlers await these inside futures that must be `Send`.
    send(&alarms.critical("src", "msg", Some(&*err)));
    send(&alarms.error("src", "msg", None));
    send(&alarms.warning("src", "msg", None));
}

#[derive(Debug)]
struct NullNotifier;

#[async_trait::async_trait]
impl eventrail::ports::Notifier for NullNotifier {
    async fn publish(
        &self,
        _: eventrail::ports::SnsMessage,
    ) -> Result<eventrail::ports::PublishReceipt, eventrail::ports::PortError> {
        Err(eventrail::ports::PortError::retryable("not wired"))
    }
}
