//! The Lambda response for each source and rule.

mod common;

use std::time::Duration;

use common::{app, app_with, batch, capture_logs, failing, failures, fifo_record, job, sqs_record};
use eventrail::app::{Invocation, Status};
use eventrail_lambda::{detect, invoke, process, InvokeError, Summary};
use serde_json::{json, Value};

async fn run(app: &eventrail::App, payload: &[u8]) -> Result<Value, InvokeError> {
    invoke(app, payload, Invocation::new("test")).await
}

#[tokio::test]
async fn sqs_lists_exactly_the_failed_records() {
    let (app, probe) = app();
    let resp = run(&app, include_bytes!("fixtures/sqs_batch.json"))
        .await
        .unwrap();
    // j-2 fails in its handler; the third body is not JSON.
    assert_eq!(
        failures(&resp),
        [
            "5f1c0d2a-0002-4c1e-9a53-1a2b3c4d5e02",
            "5f1c0d2a-0003-4c1e-9a53-1a2b3c4d5e03"
        ]
    );
    assert_eq!(
        probe.started().len(),
        2,
        "the bad body never reached a handler"
    );
}

#[tokio::test]
async fn sqs_without_failures_answers_an_empty_list() {
    let (app, _) = app();
    let resp = run(&app, &batch(vec![sqs_record("a", job("a"))]))
        .await
        .unwrap();
    assert_eq!(resp, json!({"batchItemFailures": []}));
}

#[tokio::test]
async fn a_batch_that_failed_entirely_still_answers_the_full_list() {
    let (app, _) = app();
    let logs = capture_logs();
    let payload = batch(vec![
        sqs_record("a", failing("a", "retryable")),
        sqs_record("b", failing("b", "permanent")),
        sqs_record("c", json!("not an object")),
    ]);
    let resp = run(&app, &payload).await.unwrap();
    assert_eq!(failures(&resp), ["a", "b", "c"]);
    let logs = logs.text();
    assert!(
        logs.lines()
            .any(|l| l.contains("ERROR") && l.contains("every record of the batch failed")),
        "{logs}"
    );
}

#[tokio::test]
async fn a_malformed_record_fails_alone() {
    let (app, _) = app();
    let mut bad = sqs_record("bad", job("bad"));
    bad["body"] = json!({"body": "is not a string"});
    let payload = batch(vec![
        sqs_record("a", job("a")),
        bad,
        sqs_record("c", job("c")),
    ]);
    let resp = run(&app, &payload).await.unwrap();
    assert_eq!(failures(&resp), ["bad"]);
}

#[tokio::test]
async fn fifo_groups_stop_at_their_first_failure_and_others_continue() {
    let (app, probe) = app();
    let payload = batch(vec![
        fifo_record("a1", "A", job("a1")),
        fifo_record("b1", "B", job("b1")),
        fifo_record("a2", "A", failing("a2", "retryable")),
        fifo_record("b2", "B", job("b2")),
        fifo_record("a3", "A", job("a3")),
        fifo_record("b3", "B", job("b3")),
    ]);
    let resp = run(&app, &payload).await.unwrap();
    assert_eq!(failures(&resp), ["a2", "a3"]);
    let started = probe.started();
    assert!(
        !started.contains(&"a3".to_owned()),
        "a3 must not run after a2 failed"
    );
    let pos = |id: &str| started.iter().position(|s| s == id).unwrap();
    assert!(pos("a1") < pos("a2"));
    assert!(pos("b1") < pos("b2") && pos("b2") < pos("b3"));
}

#[tokio::test(start_paused = true)]
async fn fifo_records_of_a_group_run_one_after_the_other() {
    let (app, probe) = app_with(|b| b.concurrency(8));
    let slow = |id: &str, ms: u64| json!({"type": "JOB", "id": id, "sleep_ms": ms});
    let payload = batch(vec![
        fifo_record("a1", "A", slow("a1", 300)),
        fifo_record("a2", "A", slow("a2", 100)),
        fifo_record("a3", "A", slow("a3", 200)),
        fifo_record("b1", "B", slow("b1", 50)),
    ]);
    let resp = run(&app, &payload).await.unwrap();
    assert_eq!(failures(&resp), Vec::<String>::new());
    let started = probe.started();
    let a: Vec<&String> = started.iter().filter(|s| s.starts_with('a')).collect();
    assert_eq!(a, ["a1", "a2", "a3"]);
    // One record of group A at a time, B alongside: at most 2 in flight.
    assert_eq!(probe.peak(), 2);
}

#[tokio::test]
async fn a_fifo_queue_without_group_ids_is_kept_in_order() {
    let (app, probe) = app();
    let record = |id: &str, body| {
        let mut r = sqs_record(id, body);
        r["eventSourceARN"] = "arn:aws:sqs:eu-west-1:111122223333:jobs.fifo".into();
        r
    };
    let payload = batch(vec![
        record("m1", job("m1")),
        record("m2", failing("m2", "permanent")),
        record("m3", job("m3")),
    ]);
    let resp = run(&app, &payload).await.unwrap();
    assert_eq!(failures(&resp), ["m2", "m3"]);
    assert_eq!(probe.started(), ["m1", "m2"]);
}

#[tokio::test]
async fn a_malformed_fifo_record_stops_the_rest_of_its_group() {
    let (app, probe) = app();
    let mut bad = fifo_record("a2", "A", job("a2"));
    bad["messageAttributes"] = json!("not a map");
    let payload = batch(vec![
        fifo_record("a1", "A", job("a1")),
        bad,
        fifo_record("a3", "A", job("a3")),
        fifo_record("b1", "B", job("b1")),
    ]);
    let resp = run(&app, &payload).await.unwrap();
    assert_eq!(failures(&resp), ["a2", "a3"]);
    assert!(!probe.started().contains(&"a3".to_owned()));
}

#[tokio::test]
async fn strict_mode_stops_the_whole_batch_at_the_first_failure() {
    let (app, probe) = app_with(|b| b.stop_on_first_failure(true));
    let payload = batch(vec![
        fifo_record("a1", "A", job("a1")),
        fifo_record("b1", "B", failing("b1", "permanent")),
        fifo_record("a2", "A", job("a2")),
        fifo_record("c1", "C", job("c1")),
    ]);
    let resp = run(&app, &payload).await.unwrap();
    assert_eq!(failures(&resp), ["b1", "a2", "c1"]);
    assert_eq!(probe.started(), ["a1", "b1"]);
}

#[tokio::test]
async fn dynamodb_reports_the_first_failure_as_the_checkpoint() {
    let (app, probe) = app();
    let resp = run(&app, include_bytes!("fixtures/dynamodb.json"))
        .await
        .unwrap();
    assert_eq!(failures(&resp), ["111000000000000000002"]);
    assert_eq!(
        probe.started(),
        ["JOB#1", "JOB#2"],
        "JOB#3 waits for the retry"
    );
}

#[tokio::test]
async fn kinesis_reports_the_first_failure_as_the_checkpoint() {
    let (app, probe) = app();
    let resp = run(&app, include_bytes!("fixtures/kinesis.json"))
        .await
        .unwrap();
    assert_eq!(
        failures(&resp),
        ["49590000000000000000000000000000000000000000000000000002"]
    );
    assert_eq!(probe.started(), ["k-1", "k-2"]);
}

#[tokio::test]
async fn a_stream_batch_that_failed_entirely_answers_its_checkpoint_and_logs_an_error() {
    let (app, probe) = app();
    let logs = capture_logs();
    let mut payload: Value =
        serde_json::from_slice(include_bytes!("fixtures/dynamodb.json")).unwrap();
    payload["Records"][0]["dynamodb"]["NewImage"]["fail"]["S"] = "permanent".into();
    let resp = run(&app, &serde_json::to_vec(&payload).unwrap())
        .await
        .unwrap();
    assert_eq!(failures(&resp), ["111000000000000000001"]);
    assert_eq!(probe.started(), ["JOB#1"]);
    assert!(logs.text().contains("every record of the batch failed"));
}

#[tokio::test]
async fn a_stream_without_failures_answers_an_empty_list() {
    let (app, _) = app();
    let mut payload: Value =
        serde_json::from_slice(include_bytes!("fixtures/dynamodb.json")).unwrap();
    payload["Records"][1]["dynamodb"]["NewImage"]["fail"]["S"] = "".into();
    let resp = run(&app, &serde_json::to_vec(&payload).unwrap())
        .await
        .unwrap();
    assert_eq!(resp, json!({"batchItemFailures": []}));
}

#[tokio::test]
async fn step_functions_returns_the_handler_output() {
    let (app, _) = app();
    let resp = run(&app, include_bytes!("fixtures/step_function.json"))
        .await
        .unwrap();
    assert_eq!(resp, json!("done t-1"));
}

#[tokio::test]
async fn a_failed_step_functions_task_is_an_invocation_error() {
    let (app, _) = app();
    let payload = json!({"type": "JOB", "payload": {"id": "t-2", "fail": "retryable"}});
    let err = run(&app, payload.to_string().as_bytes()).await.unwrap_err();
    assert!(matches!(
        err,
        InvokeError::TaskFailed {
            retryable: true,
            ..
        }
    ));
    assert_eq!(err.error_type(), "Eventrail.TaskFailed.Retryable");
    assert!(
        err.to_string().contains("job t-2 hit a busy dependency"),
        "{err}"
    );
}

#[tokio::test]
async fn s3_attempts_every_record_and_fails_the_invocation_naming_how_many() {
    let (app, probe) = app();
    let err = run(&app, include_bytes!("fixtures/s3.json"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "1 of 2 s3 record(s) failed; first: inbox/uploads/poison.csv#0055AED6DCD90281E6: job uploads/poison.csv is poison"
    );
    assert_eq!(probe.started().len(), 2);
}

#[tokio::test]
async fn sns_and_eventbridge_answer_null_or_fail_the_invocation() {
    let (app, _) = app();
    assert_eq!(
        run(&app, include_bytes!("fixtures/sns.json"))
            .await
            .unwrap(),
        Value::Null
    );
    assert_eq!(
        run(&app, include_bytes!("fixtures/eventbridge.json"))
            .await
            .unwrap(),
        Value::Null
    );

    let mut sns: Value = serde_json::from_slice(include_bytes!("fixtures/sns.json")).unwrap();
    sns["Records"][0]["Sns"]["Message"] = failing("s-1", "permanent").to_string().into();
    let err = run(&app, sns.to_string().as_bytes()).await.unwrap_err();
    assert!(
        matches!(
            err,
            InvokeError::RecordsFailed {
                failed: 1,
                total: 1,
                ..
            }
        ),
        "{err}"
    );

    let mut eb: Value =
        serde_json::from_slice(include_bytes!("fixtures/eventbridge.json")).unwrap();
    eb["detail"]["fail"] = "retryable".into();
    let err = run(&app, eb.to_string().as_bytes()).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("1 of 1 eventbridge record(s) failed"),
        "{err}"
    );
    assert_eq!(err.error_type(), "Eventrail.RecordsFailed");
}

#[tokio::test]
async fn a_panicking_handler_fails_its_record_only_and_the_app_keeps_serving() {
    let (app, _) = app();
    let payload = batch(vec![
        sqs_record("a", job("a")),
        sqs_record("p", failing("p", "panic")),
        sqs_record("c", job("c")),
    ]);
    let report = process(&app, detect(&payload).unwrap(), &Invocation::default()).await;
    let Status::Failed(f) = &report.outcomes[1].status else {
        panic!("the panicking record failed")
    };
    assert_eq!(f.error.to_string(), "handler panicked: job p blew up");
    assert!(!f.retry.is_retryable());
    assert_eq!(report.failed(), 1);

    // The same app serves the next invocation.
    let resp = run(&app, &payload).await.unwrap();
    assert_eq!(failures(&resp), ["p"]);
}

#[tokio::test(start_paused = true)]
async fn records_not_started_before_the_deadline_margin_are_reported_failed() {
    let (app, probe) = app_with(|b| b.concurrency(1).deadline_margin(Duration::from_millis(500)));
    let slow = |id: &str| json!({"type": "JOB", "id": id, "sleep_ms": 1000});
    let payload = batch(
        (1..=5)
            .map(|i| sqs_record(&format!("m{i}"), slow(&format!("m{i}"))))
            .collect(),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_millis(2600);
    let resp = invoke(&app, &payload, Invocation::new("t").with_deadline(deadline))
        .await
        .unwrap();
    // m1, m2 and m3 start at 0 s, 1 s and 2 s (600 ms left > 500 ms margin);
    // m3 is cancelled at 2.1 s, when only the margin is left, so the answer
    // comes before the deadline; m4 and m5 are not started. All three are
    // left for redelivery.
    let answered = tokio::time::Instant::now();
    assert_eq!(probe.started(), ["m1", "m2", "m3"]);
    assert_eq!(failures(&resp), ["m3", "m4", "m5"]);
    assert_eq!(answered, deadline - Duration::from_millis(500));
}

#[tokio::test(start_paused = true)]
async fn concurrency_is_bounded_and_measured() {
    for limit in [1, 3, 8] {
        let (app, probe) = app_with(|b| b.concurrency(limit));
        let payload = batch(
            (0..12)
                .map(|i| {
                    let id = format!("m{i}");
                    sqs_record(&id, json!({"type": "JOB", "id": id, "sleep_ms": 100}))
                })
                .collect(),
        );
        let started = tokio::time::Instant::now();
        let resp = run(&app, &payload).await.unwrap();
        assert_eq!(failures(&resp), Vec::<String>::new());
        assert_eq!(
            probe.peak(),
            limit,
            "peak in-flight with concurrency {limit}"
        );
        let rounds = 12u64.div_ceil(limit as u64);
        assert_eq!(started.elapsed(), Duration::from_millis(100 * rounds));
    }
}

#[tokio::test]
async fn the_summary_line_counts_records() {
    let (app, _) = app();
    let payload = include_bytes!("fixtures/sqs_batch.json");
    let report = process(&app, detect(payload).unwrap(), &Invocation::new("test")).await;
    let summary = Summary::new(&report, Duration::from_millis(7));
    assert_eq!(summary.source, eventrail::Source::Sqs);
    assert_eq!(
        (
            summary.records,
            summary.done,
            summary.failed,
            summary.retried,
            summary.duplicates
        ),
        (3, 1, 2, 0, 0)
    );
    assert_eq!(summary.duration, Duration::from_millis(7));

    // What only the line shows: the request id and the duration's field.
    let logs = capture_logs();
    run(&app, payload).await.unwrap();
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| l.contains("invocation summary"))
        .unwrap_or_else(|| panic!("no summary line: {text}"));
    for field in [
        "request_id=\"test\"",
        "source=sqs",
        "records=3",
        "done=1",
        "failed=2",
        "retried=0",
        "duplicates=0",
        "duration_ms=",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
}

/// Keeps only the records whose body mentions "keep" (a `filter_map`).
#[derive(Debug)]
struct Forgetful;

impl eventrail::EventFactory for Forgetful {
    fn transform_sqs(
        &self,
        event: eventrail::aws_lambda_events::event::sqs::SqsEvent,
    ) -> eventrail::factory::Transformed {
        event
            .records
            .iter()
            .filter(|m| m.body.as_deref().is_some_and(|b| b.contains("keep")))
            .map(|m| eventrail::factory::Record::sqs(m).events(Vec::new()))
            .collect()
    }
}

#[tokio::test]
async fn records_a_factory_drops_are_reported_failed_next_to_malformed_ones() {
    let app = eventrail::App::builder(Forgetful, eventrail::Bus::builder().build())
        .build()
        .unwrap();
    let mut bad = sqs_record("bad", job("bad"));
    bad["body"] = json!({"body": "is not a string"});
    let payload = batch(vec![
        sqs_record("kept", json!("keep")),
        sqs_record("lost", json!("drop")),
        bad,
        sqs_record("kept-too", json!("keep")),
    ]);
    let report = process(&app, detect(&payload).unwrap(), &Invocation::new("t")).await;
    assert_eq!(report.failed_ids().collect::<Vec<_>>(), ["lost", "bad"]);
    let Status::Failed(lost) = &report.outcomes[1].status else {
        panic!("{report:?}")
    };
    assert!(lost.retry.is_retryable());
    let resp = run(&app, &payload).await.unwrap();
    assert_eq!(failures(&resp), ["lost", "bad"]);
}

#[tokio::test]
async fn a_lambda_deadline_already_past_starts_nothing_like_a_zero_local_deadline() {
    let (app, probe) = app();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let payload = batch(vec![sqs_record("a", job("a")), sqs_record("b", job("b"))]);
    let mut past = Invocation::new("runtime");
    past.deadline = eventrail_lambda::deadline::from_epoch_ms(now_ms - 2_000);
    let resp = invoke(&app, &payload, past).await.unwrap();
    assert_eq!(failures(&resp), ["a", "b"]);
    let local = Invocation::new("local").with_deadline(tokio::time::Instant::now());
    let resp = invoke(&app, &payload, local).await.unwrap();
    assert_eq!(failures(&resp), ["a", "b"]);
    assert!(probe.started().is_empty());

    // What `cargo lambda watch` sends is no deadline at all.
    let mut watch = Invocation::new("watch");
    watch.deadline = eventrail_lambda::deadline::from_epoch_ms(600_000);
    let resp = invoke(&app, &payload, watch).await.unwrap();
    assert_eq!(failures(&resp), Vec::<String>::new());
}

/// A job handler whose output has no JSON form.
fn unserializable_app() -> eventrail::App {
    use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};

    struct NoJson;
    impl serde::Serialize for NoJson {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("no JSON form"))
        }
    }
    let router = Router::new()
        .sqs("type", "JOB")
        .to::<common::Job>()
        .step_function("JOB")
        .to::<common::Job>();
    let bus = Bus::builder()
        .on(handler_fn(|_: Envelope<common::Job>| async {
            Ok::<_, HandlerError>(NoJson)
        }))
        .build();
    App::builder(router, bus).build().unwrap()
}

#[tokio::test]
async fn outputs_are_serialized_only_where_the_answer_is_made_of_them() {
    let app = unserializable_app();
    // An SQS answer lists failed ids only: the output is never serialized,
    // so the record that succeeded stays a success.
    let resp = run(&app, &batch(vec![sqs_record("a", job("a"))]))
        .await
        .unwrap();
    assert_eq!(resp, json!({"batchItemFailures": []}));
    // A Step Functions answer is the output: the task fails.
    let payload = json!({"type": "JOB", "payload": {"id": "t-1"}});
    let err = run(&app, payload.to_string().as_bytes()).await.unwrap_err();
    match err {
        InvokeError::TaskFailed { error, retryable } => {
            assert!(error.contains("no JSON form"), "{error}");
            assert!(!retryable);
        }
        other => panic!("expected a failed task, got {other:?}"),
    }
    // `process` hands the report over: its outputs are kept.
    let payload = batch(vec![sqs_record("b", job("b"))]);
    let report = process(&app, detect(&payload).unwrap(), &Invocation::new("t")).await;
    assert!(report.outcomes[0].is_failed());
}
