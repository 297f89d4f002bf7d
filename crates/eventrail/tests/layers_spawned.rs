//! What inner layers report (attempts, replays) reaches the outer layers and
//! the report even when the inner calls run elsewhere: on a spawned task, or
//! on a `tower::buffer::Buffer`'s worker.
//!
//! The stack, outermost first: trace → alarm → dead letter → task token →
//! (spawn | buffer) → idempotency → retry (3 attempts) → handler. And the
//! handlers of a fan-out each see their own attempts, not each other's.

mod layers_support;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use eventrail::app::{Invocation, Report, SourceEvent, Status};
use eventrail::factory::StepFunctionInput;
use eventrail::layers::alarm::AlarmLayer;
use eventrail::layers::dead_letter::{DeadLetter, DeadLetterLayer, DeadLetterSink};
use eventrail::layers::task_token::TaskTokenLayer;
use eventrail::layers::trace::TraceLayer;
use eventrail::layers::{
    AlarmService, IdempotencyOptions, MemoryIdempotencyStore, RetryPolicy, ServiceBuilderExt,
};
use eventrail::ports::{PortError, TaskCallbacks, TokioClock};
use eventrail::{handler_fn, App, BoxError, Bus, Envelope, HandlerError, Router};
use layers_support::{Callback, Sfn, Topic};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tower::buffer::BufferLayer;
use tower::layer::util::{Identity, Stack};
use tower::{Layer, Service, ServiceBuilder};
use tracing::span::{Attributes, Id, Record};

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImportProcess {
    import_id: String,
    /// `flaky`: fails twice, then succeeds; `broken`: always fails (retryable).
    behaviour: String,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct ImportResult {
    import_id: String,
    rows: u32,
}

/// Runs each inner call on a task of its own.
#[derive(Clone, Copy, Debug)]
struct SpawnLayer;

impl<S> Layer<S> for SpawnLayer {
    type Service = Spawned<S>;
    fn layer(&self, inner: S) -> Spawned<S> {
        Spawned(inner)
    }
}

#[derive(Clone, Debug)]
struct Spawned<S>(S);

impl<S, Req> Service<Req> for Spawned<S>
where
    S: Service<Req>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Into<BoxError> + Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.0.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let task = tokio::spawn(self.0.call(req));
        Box::pin(async move { task.await?.map_err(Into::into) })
    }
}

#[derive(Debug, Default)]
struct FailedImports(Mutex<Vec<(String, u32)>>);

#[async_trait::async_trait]
impl DeadLetterSink<ImportProcess> for FailedImports {
    async fn store(&self, letter: DeadLetter<'_, ImportProcess>) -> Result<(), PortError> {
        self.0
            .lock()
            .unwrap()
            .push((letter.envelope.import_id.clone(), letter.attempts));
        Ok(())
    }
}

/// The `attempts` the trace layer recorded on each `event` span, in order.
#[derive(Clone, Default)]
struct TracedAttempts {
    next: Arc<AtomicU64>,
    spans: Arc<Mutex<BTreeMap<u64, Option<String>>>>,
}

impl TracedAttempts {
    fn get(&self) -> Vec<Option<String>> {
        self.spans.lock().unwrap().values().cloned().collect()
    }
}

struct AttemptsField(Option<String>);

impl tracing::field::Visit for AttemptsField {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "attempts" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl tracing::Subscriber for TracedAttempts {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        if attrs.metadata().name() == "event" {
            self.spans.lock().unwrap().insert(id, None);
        }
        Id::from_u64(id)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut f = AttemptsField(None);
        values.record(&mut f);
        if let (Some(slot), Some(v)) = (self.spans.lock().unwrap().get_mut(&span.into_u64()), f.0) {
            *slot = Some(v);
        }
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[derive(Clone, Copy, Debug)]
enum Between {
    Spawn,
    Buffer,
}

struct World {
    app: App,
    topic: Arc<Topic>,
    sfn: Arc<Sfn>,
    dead: Arc<FailedImports>,
    runs: Arc<AtomicU32>,
}

type Outer = Stack<
    TaskTokenLayer,
    Stack<DeadLetterLayer<ImportProcess>, Stack<AlarmLayer, Stack<TraceLayer, Identity>>>,
>;

fn world(between: Between) -> World {
    let topic = Topic::new();
    let sfn = Sfn::new();
    let dead = Arc::new(FailedImports::default());
    let runs = Arc::new(AtomicU32::new(0));
    let clock = Arc::new(TokioClock::starting_at(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
    ));
    let alarms = AlarmService::new(
        topic.clone(),
        "arn:aws:sns:ap-northeast-1:123456789012:alarms",
    )
    .with_clock(clock);
    let callbacks: Arc<dyn TaskCallbacks> = sfn.clone();
    let outer: ServiceBuilder<Outer> = ServiceBuilder::new()
        .traced()
        .alarm(alarms, "ImportProcessEventHandler")
        .dead_letter(dead.clone() as Arc<dyn DeadLetterSink<ImportProcess>>)
        .task_token(callbacks);

    let counted = runs.clone();
    let inner = ServiceBuilder::new()
        .idempotent(
            Arc::new(MemoryIdempotencyStore::new()),
            |e: &Envelope<ImportProcess>| Some(e.import_id.clone()),
            IdempotencyOptions::new(),
        )
        .retries(RetryPolicy::default().with_max_attempts(3))
        .service(handler_fn(move |e: Envelope<ImportProcess>| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                match e.behaviour.as_str() {
                    "flaky" if e.meta().attempt() < 3 => {
                        Err(HandlerError::retryable("S3 SlowDown"))
                    }
                    "broken" => Err(HandlerError::retryable("S3 is down")),
                    _ => Ok(ImportResult {
                        import_id: e.import_id.clone(),
                        rows: 120,
                    }),
                }
            }
        }));

    let bus = match between {
        Between::Spawn => Bus::builder().on_named(
            "ImportProcessEventHandler",
            outer.layer(SpawnLayer).service(inner),
        ),
        Between::Buffer => Bus::builder().on_named(
            "ImportProcessEventHandler",
            outer.layer(BufferLayer::new(8)).service(inner),
        ),
    }
    .build();
    let router = Router::new()
        .step_function("IMPORT_PROCESS")
        .to::<ImportProcess>();
    World {
        app: App::builder(router, bus).build().unwrap(),
        topic,
        sfn,
        dead,
        runs,
    }
}

fn task(import_id: &str, behaviour: &str, token: &str) -> SourceEvent {
    SourceEvent::StepFunction(StepFunctionInput::from_json(serde_json::json!({
        "type": "IMPORT_PROCESS",
        "taskToken": token,
        "payload": { "importId": import_id, "behaviour": behaviour },
    })))
}

fn invocation() -> Invocation {
    Invocation::new("req").with_deadline(Instant::now() + Duration::from_secs(60))
}

/// A task that succeeds on its third attempt, then is delivered again.
async fn success_after_retries_then_a_redelivery(between: Between) {
    let traced = TracedAttempts::default();
    let _guard = tracing::subscriber::set_default(traced.clone());
    let w = world(between);

    let first = w
        .app
        .process(task("imp-1", "flaky", "tok-1"), &invocation())
        .await;
    let Status::Done(out) = &first.outcomes[0].status else {
        panic!("{first:?}")
    };
    assert_eq!(
        *out,
        serde_json::json!({ "importId": "imp-1", "rows": 120 })
    );
    assert_eq!(w.runs.load(Ordering::SeqCst), 3);
    assert_eq!(first.outcomes[0].meta.attempt(), 3, "the report's attempts");
    assert_eq!((first.retried(), first.duplicates()), (1, 0));

    // Step Functions delivers the same task again: answered from the store.
    let again = w
        .app
        .process(task("imp-1", "flaky", "tok-1"), &invocation())
        .await;
    assert!(
        matches!(&again.outcomes[0].status, Status::Done(o) if o == out),
        "{again:?}"
    );
    assert_eq!(w.runs.load(Ordering::SeqCst), 3, "the handler did not run");
    assert!(again.outcomes[0].meta.replayed());
    assert_eq!((again.retried(), again.duplicates()), (0, 1));

    let both = [&first, &again];
    let total = |f: fn(&Report) -> usize| both.iter().map(|r| f(r)).sum::<usize>();
    assert_eq!((total(Report::retried), total(Report::duplicates)), (1, 1));

    assert_eq!(
        w.sfn.received(),
        [Callback::Success {
            token: "tok-1".into(),
            output: r#"{"importId":"imp-1","rows":120}"#.into()
        }],
        "exactly one SendTaskSuccess over both deliveries"
    );
    assert!(w.topic.messages().is_empty(), "no alarm");
    assert!(w.dead.0.lock().unwrap().is_empty(), "no dead letter");
    // The outermost layer saw the three attempts, then the replay's one.
    assert_eq!(
        traced.get(),
        [Some("3".to_owned()), Some("1".to_owned())],
        "attempts on the trace spans"
    );
}

/// A task that fails all three attempts.
async fn a_final_failure_reports_every_attempt(between: Between) {
    let w = world(between);
    let report = w
        .app
        .process(task("imp-2", "broken", "tok-2"), &invocation())
        .await;
    assert!(report.outcomes[0].is_failed());
    assert_eq!(w.runs.load(Ordering::SeqCst), 3);
    assert_eq!(report.outcomes[0].meta.attempt(), 3);
    assert_eq!(report.retried(), 1);
    let bodies = w.topic.bodies();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["attempts"], 3, "the alarm's attempts");
    assert_eq!(
        *w.dead.0.lock().unwrap(),
        [("imp-2".to_owned(), 3)],
        "the dead letter's attempts"
    );
    let received = w.sfn.received();
    assert_eq!(received.len(), 1);
    assert!(matches!(&received[0], Callback::Failure { token, .. } if token == "tok-2"));
}

#[tokio::test(start_paused = true)]
async fn spawned_inner_calls_report_attempts_and_replays() {
    success_after_retries_then_a_redelivery(Between::Spawn).await;
}

#[tokio::test(start_paused = true)]
async fn buffered_inner_calls_report_attempts_and_replays() {
    success_after_retries_then_a_redelivery(Between::Buffer).await;
}

#[tokio::test(start_paused = true)]
async fn spawned_inner_calls_that_fail_tell_the_alarm_and_dead_letter_every_attempt() {
    let _guard = tracing::subscriber::set_default(TracedAttempts::default());
    a_final_failure_reports_every_attempt(Between::Spawn).await;
}

#[tokio::test(start_paused = true)]
async fn buffered_inner_calls_that_fail_tell_the_alarm_and_dead_letter_every_attempt() {
    let _guard = tracing::subscriber::set_default(TracedAttempts::default());
    a_final_failure_reports_every_attempt(Between::Buffer).await;
}

#[tokio::test(start_paused = true)]
async fn fan_out_handlers_see_only_their_own_attempts() {
    let _guard = tracing::subscriber::set_default(TracedAttempts::default());
    let topic = Topic::new();
    let alarms = AlarmService::new(topic.clone(), "arn:aws:sns:eu-west-1:123456789012:alarms");
    let busy = ServiceBuilder::new()
        .alarm(alarms.clone(), "Busy")
        .layer(SpawnLayer)
        .retries(RetryPolicy::default().with_max_attempts(3))
        .service(handler_fn(|_: Envelope<ImportProcess>| async {
            Err::<(), _>(HandlerError::retryable("busy"))
        }));
    let bad = ServiceBuilder::new()
        .alarm(alarms, "Bad")
        .retries(RetryPolicy::default().with_max_attempts(3))
        .service(handler_fn(|_: Envelope<ImportProcess>| async {
            Err::<(), _>(HandlerError::permanent("bad"))
        }));
    let bus = Bus::builder()
        .on_named("Busy", busy)
        .on_named("Bad", bad)
        .build();
    let router = Router::new()
        .step_function("IMPORT_PROCESS")
        .to::<ImportProcess>();
    let app = App::builder(router, bus).build().unwrap();
    let report = app
        .process(task("imp-3", "-", "tok-3"), &invocation())
        .await;
    assert!(report.outcomes[0].is_failed());
    assert_eq!(
        report.outcomes[0].meta.attempt(),
        3,
        "the record's highest attempt"
    );
    let mut seen: Vec<(String, u64)> = topic
        .bodies()
        .iter()
        .map(|b| {
            (
                b["source"].as_str().unwrap().to_owned(),
                b["attempts"].as_u64().unwrap(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(seen, [("Bad".to_owned(), 1), ("Busy".to_owned(), 3)]);
}
