//! The adapter with the core's middleware layers: task tokens, retries, idempotency.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventrail::app::Invocation;
use eventrail::layers::{
    IdempotencyOptions, MemoryIdempotencyStore, RetryPolicy, ServiceBuilderExt,
};
use eventrail::ports::{PortError, TaskCallbacks};
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
use eventrail_lambda::{detect, invoke, process, Summary};
use serde_json::json;
use tower::ServiceBuilder;

#[derive(Debug, serde::Deserialize)]
struct Import {
    id: String,
    #[serde(default)]
    fail: bool,
}

#[derive(Debug, Default)]
struct Sfn(Mutex<Vec<String>>);

#[async_trait::async_trait]
impl TaskCallbacks for Sfn {
    async fn send_task_success(&self, token: &str, output: &str) -> Result<(), PortError> {
        self.0
            .lock()
            .unwrap()
            .push(format!("success {token} {output}"));
        Ok(())
    }
    async fn send_task_failure(&self, token: &str, error: &str, _: &str) -> Result<(), PortError> {
        self.0
            .lock()
            .unwrap()
            .push(format!("failure {token} {error}"));
        Ok(())
    }
    async fn send_task_heartbeat(&self, _: &str) -> Result<(), PortError> {
        Ok(())
    }
}

fn task_app(sfn: Arc<Sfn>) -> App {
    let handler = ServiceBuilder::new().task_token(sfn).service(handler_fn(
        |i: Envelope<Import>| async move {
            if i.fail {
                return Err(HandlerError::permanent(format!("import {} is empty", i.id)));
            }
            Ok(json!({"imported": i.id}))
        },
    ));
    App::builder(
        Router::new().step_function("IMPORT").to::<Import>(),
        Bus::builder().on(handler).build(),
    )
    .build()
    .unwrap()
}

#[tokio::test]
async fn with_a_task_token_the_layer_reports_and_the_invocation_returns_its_output() {
    let sfn = Arc::new(Sfn::default());
    let app = task_app(sfn.clone());
    let payload = json!({"type": "IMPORT", "taskToken": "tok-1", "payload": {"id": "imp-7"}});
    let resp = invoke(&app, payload.to_string().as_bytes(), Invocation::default())
        .await
        .unwrap();
    assert_eq!(resp, json!({"imported": "imp-7"}));
    assert_eq!(
        *sfn.0.lock().unwrap(),
        [r#"success tok-1 {"imported":"imp-7"}"#]
    );
}

#[tokio::test]
async fn a_failed_task_is_reported_to_step_functions_and_fails_the_invocation() {
    let sfn = Arc::new(Sfn::default());
    let app = task_app(sfn.clone());
    let payload =
        json!({"type": "IMPORT", "taskToken": "tok-2", "payload": {"id": "imp-8", "fail": true}});
    let err = invoke(&app, payload.to_string().as_bytes(), Invocation::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("import imp-8 is empty"), "{err}");
    assert_eq!(
        *sfn.0.lock().unwrap(),
        ["failure tok-2 eventrail.PermanentError"]
    );
}

#[tokio::test(start_paused = true)]
async fn records_a_retry_layer_attempted_again_are_counted_as_retried() {
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let handler = ServiceBuilder::new()
        .retries(
            RetryPolicy::default()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(10)),
        )
        .service(handler_fn(move |i: Envelope<Import>| {
            let seen = seen.clone();
            async move {
                // "flaky" fails once, then succeeds.
                if i.id == "flaky" && seen.lock().unwrap().insert(i.id.clone()) {
                    return Err(HandlerError::retryable("busy"));
                }
                Ok(())
            }
        }));
    let app = App::builder(
        Router::new().sqs("type", "IMPORT").to::<Import>(),
        Bus::builder().on(handler).build(),
    )
    .build()
    .unwrap();
    let record = |id: &str| {
        json!({"eventSource": "aws:sqs", "messageId": id,
               "body": json!({"type": "IMPORT", "id": id}).to_string()})
    };
    let payload = json!({"Records": [record("steady"), record("flaky")]}).to_string();
    let report = process(
        &app,
        detect(payload.as_bytes()).unwrap(),
        &Invocation::default(),
    )
    .await;
    assert_eq!(report.failed(), 0);
    assert_eq!(report.outcomes[1].meta.attempt(), 2);
    let summary = Summary::new(&report, Duration::ZERO);
    assert_eq!((summary.retried, summary.done), (1, 2));
}

#[tokio::test]
async fn duplicates_answered_by_the_idempotency_layer_are_in_the_summary() {
    let handler = ServiceBuilder::new()
        .idempotent(
            Arc::new(MemoryIdempotencyStore::new()),
            |i: &Envelope<Import>| Some(i.id.clone()),
            IdempotencyOptions::new(),
        )
        .service(handler_fn(|_: Envelope<Import>| async {
            Ok::<_, HandlerError>(())
        }));
    let app = App::builder(
        Router::new().sqs("type", "IMPORT").to::<Import>(),
        Bus::builder().on(handler).build(),
    )
    .build()
    .unwrap();
    let payload = |ids: &[&str]| {
        let records: Vec<_> = ids
            .iter()
            .map(|id| {
                json!({"eventSource": "aws:sqs", "messageId": format!("m-{id}"),
                       "body": json!({"type": "IMPORT", "id": id}).to_string()})
            })
            .collect();
        json!({ "Records": records }).to_string()
    };
    let first = invoke(&app, payload(&["a"]).as_bytes(), Invocation::new("first")).await;
    assert_eq!(first.unwrap(), json!({"batchItemFailures": []}));
    // "a" again (a redelivery) next to a new "b": the summary `invoke` logs
    // is this one.
    let second = process(
        &app,
        detect(payload(&["a", "b"]).as_bytes()).unwrap(),
        &Invocation::new("second"),
    )
    .await;
    assert_eq!(second.failed(), 0);
    assert!(second.outcomes[0].meta.replayed() && !second.outcomes[1].meta.replayed());
    let summary = Summary::new(&second, Duration::ZERO);
    assert_eq!(summary.records, 2);
    assert_eq!(summary.duplicates, 1);
}
