//! A whole stack: an `ImportProcessEventHandler` that a Step Functions
//! `.waitForTaskToken` task invokes to import a CSV from S3. It retries
//! transient failures, is bounded by a timeout, reports its result or failure
//! to Step Functions with the task token and alarms on final failures, with
//! tracing, dead letters and idempotency around it; registered on a bus and
//! driven through `App::process` with Step Functions inputs, on a paused clock.

mod layers_support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use eventrail::app::{Invocation, SourceEvent, Status};
use eventrail::factory::StepFunctionInput;
use eventrail::layers::dead_letter::{DeadLetter, DeadLetterSink};
use eventrail::layers::timeout::Elapsed;
use eventrail::layers::{AlarmService, MemoryIdempotencyStore, RetryPolicy, ServiceBuilderExt};
use eventrail::ports::{PortError, TaskCallbacks, TokioClock};
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
use layers_support::{Callback, Sfn, Topic};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tower::ServiceBuilder;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImportProcess {
    import_id: String,
    bucket: String,
    key: String,
    /// Test knob: how the fake import behaves.
    behaviour: String,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct ImportResult {
    import_id: String,
    rows: u32,
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

struct World {
    app: App,
    topic: Arc<Topic>,
    sfn: Arc<Sfn>,
    dead: Arc<FailedImports>,
    runs: Arc<AtomicU32>,
}

fn world() -> World {
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
    .with_environment("prod")
    .with_clock(clock.clone());
    let store = Arc::new(MemoryIdempotencyStore::new());
    let callbacks: Arc<dyn TaskCallbacks> = sfn.clone();

    let counted = runs.clone();
    let handler = ServiceBuilder::new()
        .traced()
        .alarm(alarms, "ImportProcessEventHandler")
        .dead_letter(dead.clone() as Arc<dyn DeadLetterSink<ImportProcess>>)
        .layer(
            eventrail::layers::IdempotencyLayer::new(store, |e: &Envelope<ImportProcess>| {
                Some(e.import_id.clone())
            })
            .with_clock(clock)
            .with_payload_hash(),
        )
        .layer(eventrail::layers::TaskTokenLayer::new(callbacks).error_name("ImportProcessError"))
        .deadline_timeout(Duration::from_secs(25))
        .retries(RetryPolicy::default())
        .service(handler_fn(move |e: Envelope<ImportProcess>| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                match e.behaviour.as_str() {
                    "flaky" if e.meta().attempt() < 3 => {
                        Err(HandlerError::retryable("S3 SlowDown"))
                    }
                    "missing" => Err(HandlerError::permanent(format!(
                        "s3://{}/{} does not exist",
                        e.bucket, e.key
                    ))),
                    "hang" => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        unreachable!()
                    }
                    _ => Ok(ImportResult {
                        import_id: e.import_id.clone(),
                        rows: 120,
                    }),
                }
            }
        }));

    let bus = Bus::builder()
        .on_named("ImportProcessEventHandler", handler)
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

fn input(import_id: &str, behaviour: &str, token: &str) -> SourceEvent {
    SourceEvent::StepFunction(StepFunctionInput::from_json(serde_json::json!({
        "type": "IMPORT_PROCESS",
        "taskToken": token,
        "payload": { "importId": import_id, "bucket": "imports", "key": "2026/11/orders.csv", "behaviour": behaviour },
    })))
}

fn invocation(secs: u64) -> Invocation {
    Invocation::new("req-1").with_deadline(Instant::now() + Duration::from_secs(secs))
}

#[tokio::test(start_paused = true)]
async fn success_after_retries_reports_success_once_and_alarms_nothing() {
    let w = world();
    let report = w
        .app
        .process(input("imp-1", "flaky", "tok-1"), &invocation(60))
        .await;
    let Status::Done(out) = &report.outcomes[0].status else {
        panic!("{report:?}")
    };
    assert_eq!(
        *out,
        serde_json::json!({ "importId": "imp-1", "rows": 120 })
    );
    assert_eq!(w.runs.load(Ordering::SeqCst), 3);
    assert_eq!(
        w.sfn.received(),
        [Callback::Success {
            token: "tok-1".into(),
            output: r#"{"importId":"imp-1","rows":120}"#.into()
        }]
    );
    assert!(w.topic.messages().is_empty());
    assert!(w.dead.0.lock().unwrap().is_empty());

    // A redelivery of the same import replays the result without reporting again.
    let again = w
        .app
        .process(input("imp-1", "flaky", "tok-1"), &invocation(60))
        .await;
    assert!(matches!(&again.outcomes[0].status, Status::Done(o) if *o == *out));
    assert_eq!(w.runs.load(Ordering::SeqCst), 3);
    assert_eq!(w.sfn.received().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_permanent_failure_fails_the_task_alarms_and_dead_letters_once() {
    let w = world();
    let report = w
        .app
        .process(input("imp-2", "missing", "tok-2"), &invocation(60))
        .await;
    let Status::Failed(f) = &report.outcomes[0].status else {
        panic!()
    };
    assert!(!f.retry.is_retryable());
    assert!(
        f.error.is::<HandlerError>(),
        "the handler's own error reaches the report"
    );
    assert_eq!(w.runs.load(Ordering::SeqCst), 1, "not retried");

    assert_eq!(
        w.sfn.received(),
        [Callback::Failure {
            token: "tok-2".into(),
            error: "ImportProcessError".into(),
            cause: "s3://imports/2026/11/orders.csv does not exist".into(),
        }]
    );
    let bodies = w.topic.bodies();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["severity"], "ERROR");
    assert_eq!(bodies[0]["source"], "ImportProcessEventHandler");
    assert_eq!(bodies[0]["eventType"], "ImportProcess");
    assert_eq!(bodies[0]["attempts"], 1);
    assert_eq!(*w.dead.0.lock().unwrap(), [("imp-2".to_owned(), 1)]);
}

#[tokio::test(start_paused = true)]
async fn a_hung_import_times_out_before_the_deadline_and_fails_the_task() {
    let w = world();
    let start = Instant::now();
    let report = w
        .app
        .process(input("imp-3", "hang", "tok-3"), &invocation(10))
        .await;
    let Status::Failed(f) = &report.outcomes[0].status else {
        panic!()
    };
    assert!(f.error.is::<Elapsed>());
    assert!(f.retry.is_retryable());
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(9_500),
        "deadline minus the margin"
    );
    let Callback::Failure { error, cause, .. } = &w.sfn.received()[0] else {
        panic!()
    };
    assert_eq!(error, "ImportProcessError");
    assert_eq!(
        cause,
        "the handler did not finish within its budget of 9500 ms"
    );
    assert_eq!(w.topic.bodies()[0]["error"]["retryable"], true);
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_the_deadline() {
    let w = world();
    // Attempts at 0 s and 1 s; the third would start at 3 s, not before the 3 s deadline.
    let report = w
        .app
        .process(input("imp-4", "flaky", "tok-4"), &invocation(3))
        .await;
    assert!(report.outcomes[0].is_failed());
    assert_eq!(w.runs.load(Ordering::SeqCst), 2);
    assert_eq!(*w.dead.0.lock().unwrap(), [("imp-4".to_owned(), 2)]);
    assert_eq!(w.topic.bodies()[0]["attempts"], 2);
}
