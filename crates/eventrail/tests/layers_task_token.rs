//! The task-token layer: what the (fake) Step Functions receives.

mod layers_support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use eventrail::error::is_retryable;
use eventrail::layers::task_token::TaskTokenError;
use eventrail::layers::{
    IdempotencyLayer, MemoryIdempotencyStore, RetryPolicy, ServiceBuilderExt, TaskTokenLayer,
};
use eventrail::ports::{PortError, SFN_MAX_CAUSE_CHARS, SFN_MAX_ERROR_CHARS, SFN_MAX_OUTPUT_BYTES};
use eventrail::{handler_fn, Envelope, HandlerError, Metadata, Source};
use layers_support::{Callback, Sfn};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

#[derive(Debug)]
struct ImportProcess {
    rows: usize,
}

fn task(rows: usize, token: &str) -> Envelope<ImportProcess> {
    Envelope::new(
        ImportProcess { rows },
        Metadata::new("exec-1", Source::StepFunctions).with_task_token(token),
    )
}

/// Outputs `rows` rows; fails permanently for 0 rows.
fn importer() -> impl Service<
    Envelope<ImportProcess>,
    Response = serde_json::Value,
    Error = HandlerError,
    Future = impl std::future::Future<Output = Result<serde_json::Value, HandlerError>> + Send,
> + Clone {
    handler_fn(|e: Envelope<ImportProcess>| async move {
        if e.rows == 0 {
            return Err(HandlerError::permanent("the import file is empty"));
        }
        Ok(serde_json::json!({ "rows": vec!["x"; e.rows] }))
    })
}

#[tokio::test(start_paused = true)]
async fn success_sends_the_output_as_json() {
    let sfn = Sfn::new();
    let mut svc = TaskTokenLayer::new(sfn.clone()).layer(importer());
    let out = svc
        .ready()
        .await
        .unwrap()
        .call(task(2, "tok-1"))
        .await
        .unwrap();
    assert_eq!(out, serde_json::json!({ "rows": ["x", "x"] }));
    assert_eq!(
        sfn.received(),
        [Callback::Success {
            token: "tok-1".into(),
            output: r#"{"rows":["x","x"]}"#.into()
        }]
    );
}

#[tokio::test(start_paused = true)]
async fn failure_sends_an_error_name_and_the_cause_then_returns_the_error() {
    let sfn = Sfn::new();
    let mut svc = TaskTokenLayer::new(sfn.clone())
        .error_name("ImportProcessError")
        .layer(importer());
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(task(0, "tok-2"))
        .await
        .unwrap_err();
    assert!(err.is::<HandlerError>());
    assert_eq!(
        sfn.received(),
        [Callback::Failure {
            token: "tok-2".into(),
            error: "ImportProcessError".into(),
            cause: "the import file is empty".into(),
        }]
    );
}

#[tokio::test(start_paused = true)]
async fn the_default_error_name_says_whether_a_retry_can_help() {
    let sfn = Sfn::new();
    let mut svc = TaskTokenLayer::new(sfn.clone()).layer(handler_fn(
        |e: Envelope<ImportProcess>| async move {
            if e.rows == 1 {
                Err::<(), _>(HandlerError::retryable("busy"))
            } else {
                Err(HandlerError::permanent("bad"))
            }
        },
    ));
    svc.ready()
        .await
        .unwrap()
        .call(task(1, "a"))
        .await
        .unwrap_err();
    svc.ready()
        .await
        .unwrap()
        .call(task(2, "b"))
        .await
        .unwrap_err();
    let names: Vec<_> = sfn
        .received()
        .into_iter()
        .map(|c| match c {
            Callback::Failure { error, .. } => error,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        ["eventrail.RetryableError", "eventrail.PermanentError"]
    );
}

#[tokio::test(start_paused = true)]
async fn error_name_and_cause_are_cut_to_step_functions_limits() {
    let sfn = Sfn::new();
    let long_cause: &'static str = Box::leak("é".repeat(40_000).into_boxed_str());
    let mut svc = TaskTokenLayer::new(sfn.clone())
        .error_name("E".repeat(300))
        .layer(handler_fn(move |_: Envelope<ImportProcess>| async move {
            Err::<(), _>(HandlerError::permanent(long_cause))
        }));
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(task(1, "tok"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string().chars().count(),
        40_000,
        "the returned error is whole"
    );
    let Callback::Failure { error, cause, .. } = &sfn.received()[0] else {
        panic!()
    };
    assert_eq!(error.chars().count(), SFN_MAX_ERROR_CHARS);
    assert_eq!(cause.chars().count(), SFN_MAX_CAUSE_CHARS);
    assert!(cause.ends_with("..."));
}

#[tokio::test(start_paused = true)]
async fn an_oversized_output_becomes_a_task_failure_with_a_clear_cause() {
    let sfn = Sfn::new();
    let mut svc = TaskTokenLayer::new(sfn.clone()).layer(importer());
    // Each row is 4 bytes of JSON ("x",), so this is well over 256 KiB.
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(task(70_000, "tok-big"))
        .await
        .unwrap_err();
    let tt = err
        .downcast_ref::<TaskTokenError>()
        .expect("a TaskTokenError");
    assert!(tt.is_output_too_large());
    assert!(!is_retryable(&*err));
    let Callback::Failure {
        token,
        error,
        cause,
    } = &sfn.received()[0]
    else {
        panic!("{:?}", sfn.received())
    };
    assert_eq!(token, "tok-big");
    assert_eq!(error, "eventrail.OutputTooLarge");
    assert!(cause.contains("280010 bytes"), "{cause}");
    assert!(cause.contains(&SFN_MAX_OUTPUT_BYTES.to_string()), "{cause}");
}

#[tokio::test(start_paused = true)]
async fn an_output_of_exactly_the_limit_is_sent() {
    let sfn = Sfn::new();
    // A JSON string of n characters is n + 2 bytes.
    let mut svc =
        TaskTokenLayer::new(sfn.clone()).layer(handler_fn(|_: Envelope<ImportProcess>| async {
            Ok::<_, HandlerError>("y".repeat(SFN_MAX_OUTPUT_BYTES - 2))
        }));
    svc.ready()
        .await
        .unwrap()
        .call(task(1, "tok"))
        .await
        .unwrap();
    assert!(
        matches!(&sfn.received()[0], Callback::Success { output, .. } if output.len() == SFN_MAX_OUTPUT_BYTES)
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_callback_is_retried_with_backoff() {
    let sfn = Sfn::new();
    sfn.fail_next(PortError::retryable("throttled").with_code("ThrottlingException"));
    sfn.fail_next(PortError::retryable("throttled").with_code("ThrottlingException"));
    let start = Instant::now();
    let mut svc = TaskTokenLayer::new(sfn.clone()).layer(importer());
    svc.ready()
        .await
        .unwrap()
        .call(task(1, "tok"))
        .await
        .unwrap();
    assert_eq!(sfn.calls.load(Ordering::SeqCst), 3);
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(600),
        "200 ms then 400 ms"
    );
    assert_eq!(sfn.received().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_callback_that_keeps_failing_surfaces_as_an_error() {
    let sfn = Sfn::new();
    for _ in 0..3 {
        sfn.fail_next(PortError::retryable("service unavailable"));
    }
    let mut svc = TaskTokenLayer::new(sfn.clone()).layer(importer());
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(task(1, "tok"))
        .await
        .unwrap_err();
    let tt = err.downcast_ref::<TaskTokenError>().unwrap();
    assert!(tt.is_callback_failed());
    assert!(tt.handler_error().is_none());
    assert!(is_retryable(&*err));
    assert_eq!(sfn.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn a_permanent_callback_error_is_not_retried_and_keeps_the_handler_error() {
    let sfn = Sfn::new();
    sfn.fail_next(PortError::permanent("Task Timed Out").with_code("TaskTimedOut"));
    let mut svc = TaskTokenLayer::new(sfn.clone()).layer(importer());
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(task(0, "tok"))
        .await
        .unwrap_err();
    let tt = err.downcast_ref::<TaskTokenError>().unwrap();
    assert_eq!(tt.port_error().unwrap().code(), Some("TaskTimedOut"));
    assert_eq!(
        tt.handler_error().unwrap().to_string(),
        "the import file is empty"
    );
    assert!(err.to_string().contains("the import file is empty"));
    assert!(!is_retryable(&*err));
    assert_eq!(sfn.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn envelopes_without_a_token_pass_through() {
    let sfn = Sfn::new();
    let mut svc = TaskTokenLayer::new(sfn.clone()).layer(importer());
    let e = Envelope::new(ImportProcess { rows: 0 }, Metadata::new("m", Source::Sqs));
    let err = svc.ready().await.unwrap().call(e).await.unwrap_err();
    assert!(err.is::<HandlerError>());
    assert_eq!(sfn.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn only_the_final_result_is_reported_after_retries() {
    let sfn = Sfn::new();
    let mut svc = ServiceBuilder::new()
        .task_token(sfn.clone())
        .retries(RetryPolicy::default())
        .service(handler_fn(|e: Envelope<ImportProcess>| async move {
            if e.meta().attempt() < 3 {
                Err(HandlerError::retryable("busy"))
            } else {
                Ok(e.meta().attempt())
            }
        }));
    svc.ready()
        .await
        .unwrap()
        .call(task(1, "tok"))
        .await
        .unwrap();
    assert_eq!(
        sfn.received(),
        [Callback::Success {
            token: "tok".into(),
            output: "3".into()
        }]
    );
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_in_progress_does_not_fail_the_task() {
    let sfn = Sfn::new();
    let store = Arc::new(MemoryIdempotencyStore::new());
    // The architecture's order: task token outside idempotency.
    let svc = ServiceBuilder::new()
        .task_token(sfn.clone())
        .layer(IdempotencyLayer::new(
            store,
            |e: &Envelope<ImportProcess>| Some(e.rows.to_string()),
        ))
        .service(handler_fn(|_: Envelope<ImportProcess>| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<_, HandlerError>(1)
        }));
    let first = tokio::spawn(svc.clone().oneshot(task(1, "tok")));
    tokio::time::sleep(Duration::from_secs(1)).await;
    svc.oneshot(task(1, "tok")).await.unwrap_err();
    assert!(
        sfn.received().is_empty(),
        "the duplicate did not fail the task"
    );
    first.await.unwrap().unwrap();
    assert_eq!(
        sfn.received(),
        [Callback::Success {
            token: "tok".into(),
            output: "1".into()
        }]
    );
}

#[tokio::test(start_paused = true)]
async fn a_replayed_duplicate_does_not_report_twice() {
    let sfn = Sfn::new();
    let store = Arc::new(MemoryIdempotencyStore::new());
    // The architecture's order again: task token outside idempotency.
    let mut svc = ServiceBuilder::new()
        .task_token(sfn.clone())
        .layer(IdempotencyLayer::new(
            store,
            |e: &Envelope<ImportProcess>| Some(e.rows.to_string()),
        ))
        .service(importer());
    let first = svc
        .ready()
        .await
        .unwrap()
        .call(task(1, "tok"))
        .await
        .unwrap();
    let again = svc
        .ready()
        .await
        .unwrap()
        .call(task(1, "tok"))
        .await
        .unwrap();
    assert_eq!(first, again);
    assert_eq!(sfn.received().len(), 1, "{:?}", sfn.received());
    assert_eq!(sfn.calls.load(Ordering::SeqCst), 1);
}
