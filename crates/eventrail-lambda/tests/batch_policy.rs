//! The whole-batch failure policy: what an SQS or stream batch whose records
//! all failed is answered with, through `eventrail_lambda::invoke`.

mod common;

use common::{app, batch, failing, failures, fifo_record, job, sqs_record};
use eventrail::app::Invocation;
use eventrail_lambda::{invoke, Function, InvokeError, WholeBatchFailure};
use serde_json::{json, Value};

fn fail_invocation() -> Function {
    Function::new(app().0).whole_batch_failure(WholeBatchFailure::FailInvocation)
}

fn records_failed(err: &InvokeError) -> (usize, usize) {
    match err {
        InvokeError::RecordsFailed { failed, total, .. } => (*failed, *total),
        other => panic!("expected RecordsFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn report_items_is_the_default_and_lists_every_record() {
    let (app, _) = app();
    let function = Function::new(app);
    assert_eq!(function.policy(), WholeBatchFailure::ReportItems);
    let payload = batch(vec![
        sqs_record("m1", failing("m1", "permanent")),
        sqs_record("m2", failing("m2", "retryable")),
    ]);
    let resp = invoke(&function, &payload, Invocation::default())
        .await
        .unwrap();
    assert_eq!(failures(&resp), ["m1", "m2"]);
}

#[tokio::test]
async fn fail_invocation_fails_an_sqs_batch_that_failed_entirely() {
    let payload = batch(vec![
        sqs_record("m1", failing("m1", "permanent")),
        sqs_record("m2", failing("m2", "retryable")),
        sqs_record("m3", json!("not a job")),
    ]);
    let err = invoke(&fail_invocation(), &payload, Invocation::default())
        .await
        .unwrap_err();
    assert_eq!(records_failed(&err), (3, 3));
    assert_eq!(err.error_type(), "Eventrail.RecordsFailed");
    assert!(
        err.to_string()
            .starts_with("3 of 3 sqs record(s) failed; first: m1"),
        "{err}"
    );
}

#[tokio::test]
async fn fail_invocation_still_answers_a_partial_failure_with_the_list() {
    let payload = batch(vec![
        sqs_record("m1", job("m1")),
        sqs_record("m2", failing("m2", "permanent")),
    ]);
    let resp = invoke(&fail_invocation(), &payload, Invocation::default())
        .await
        .unwrap();
    assert_eq!(failures(&resp), ["m2"]);
    // And a batch without failures is a plain success.
    let ok = batch(vec![
        sqs_record("m1", job("m1")),
        sqs_record("m2", job("m2")),
    ]);
    let resp = invoke(&fail_invocation(), &ok, Invocation::default())
        .await
        .unwrap();
    assert_eq!(resp, json!({"batchItemFailures": []}));
}

#[tokio::test]
async fn a_fifo_group_whose_first_record_fails_fails_the_invocation() {
    let payload = batch(vec![
        fifo_record("f1", "G", failing("f1", "retryable")),
        fifo_record("f2", "G", job("f2")),
        fifo_record("f3", "G", job("f3")),
    ]);
    let (app, probe) = app();
    let resp = invoke(&app, &payload, Invocation::default()).await.unwrap();
    assert_eq!(
        failures(&resp),
        ["f1", "f2", "f3"],
        "the rest of the group is not started"
    );
    assert_eq!(probe.started(), ["f1"]);
    let err = invoke(&fail_invocation(), &payload, Invocation::default())
        .await
        .unwrap_err();
    assert_eq!(records_failed(&err), (3, 3));
}

#[tokio::test]
async fn fail_invocation_fails_a_stream_batch_whose_first_record_fails() {
    let mut ddb: Value = serde_json::from_slice(include_bytes!("fixtures/dynamodb.json")).unwrap();
    ddb["Records"][0]["dynamodb"]["NewImage"]["fail"]["S"] = "permanent".into();
    let ddb = serde_json::to_vec(&ddb).unwrap();
    let (app, _) = app();
    let resp = invoke(&app, &ddb, Invocation::default()).await.unwrap();
    assert_eq!(failures(&resp), ["111000000000000000001"], "the checkpoint");
    let err = invoke(&fail_invocation(), &ddb, Invocation::default())
        .await
        .unwrap_err();
    let (failed, total) = records_failed(&err);
    assert_eq!(failed, total);

    let mut kinesis: Value =
        serde_json::from_slice(include_bytes!("fixtures/kinesis.json")).unwrap();
    kinesis["Records"][0]["kinesis"]["data"] = "!!! not base64".into();
    let kinesis = serde_json::to_vec(&kinesis).unwrap();
    let err = invoke(&fail_invocation(), &kinesis, Invocation::default())
        .await
        .unwrap_err();
    let (failed, total) = records_failed(&err);
    assert_eq!(failed, total);
    assert!(err.to_string().contains("kinesis"), "{err}");
}

/// Whatever fails, under either policy: a failed record is never answered
/// with an empty list, and a batch without failures never with an error.
#[tokio::test]
async fn a_failed_record_is_never_answered_with_an_empty_list() {
    let ddb_fixture: Value =
        serde_json::from_slice(include_bytes!("fixtures/dynamodb.json")).unwrap();
    let n_ddb = ddb_fixture["Records"].as_array().unwrap().len();
    for policy in [
        WholeBatchFailure::ReportItems,
        WholeBatchFailure::FailInvocation,
    ] {
        let function = Function::new(app().0).whole_batch_failure(policy);
        for mask in 0u32..16 {
            let fails = |i: u32| mask & (1 << i) != 0;
            let body = |i: u32| {
                let id = format!("r{i}");
                if fails(i) {
                    failing(&id, "retryable")
                } else {
                    job(&id)
                }
            };
            let standard = batch(
                (0..4)
                    .map(|i| sqs_record(&format!("r{i}"), body(i)))
                    .collect(),
            );
            let fifo = batch(
                (0..4)
                    .map(|i| {
                        fifo_record(
                            &format!("r{i}"),
                            if i % 2 == 0 { "A" } else { "B" },
                            body(i),
                        )
                    })
                    .collect(),
            );
            let mut ddb = ddb_fixture.clone();
            for i in 0..n_ddb {
                let fail = if fails(i as u32) { "retryable" } else { "" };
                ddb["Records"][i]["dynamodb"]["NewImage"]["fail"]["S"] = fail.into();
            }
            let ddb_fails = (0..n_ddb as u32).any(fails);
            let cases = [
                ("standard", standard, mask != 0),
                ("fifo", fifo, mask != 0),
                ("dynamodb", serde_json::to_vec(&ddb).unwrap(), ddb_fails),
            ];
            for (what, payload, any_failed) in cases {
                let got = invoke(&function, &payload, Invocation::default()).await;
                match (&got, any_failed) {
                    (Ok(resp), true) => assert!(
                        !failures(resp).is_empty(),
                        "{what} mask {mask:04b} {policy}: a failure needs a non-empty list"
                    ),
                    (Ok(resp), false) => assert!(failures(resp).is_empty(), "{what} {mask:04b}"),
                    (Err(e), true) => {
                        assert_eq!(policy, WholeBatchFailure::FailInvocation, "{what} {e}");
                        let (failed, total) = records_failed(e);
                        assert_eq!(failed, total, "only a batch failed entirely errors");
                    }
                    (Err(e), false) => panic!("{what} {mask:04b}: no failure, yet {e}"),
                }
            }
        }
    }
}

#[test]
fn the_policy_shows_in_the_settings_line_with_the_route_table() {
    let function = fail_invocation();
    assert_eq!(
        function.settings(),
        "whole-batch failure: fail-invocation; metrics: off"
    );
    let shown = function.to_string();
    assert!(
        shown.starts_with("whole-batch failure: fail-invocation; metrics: off\n"),
        "{shown}"
    );
    assert!(shown.contains("JOB"), "the route table follows: {shown}");
    let with_metrics = function.metrics(eventrail::metrics::Emf::new("Jobs").unwrap());
    assert_eq!(
        with_metrics.settings(),
        "whole-batch failure: fail-invocation; metrics: emf (namespace Jobs, dimensions FunctionName+Source)"
    );
}
