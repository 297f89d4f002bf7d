//! Each source through the binary's local `invoke` command, the way Lambda
//! would drive it: the printed response is the partial batch answer.

use std::process::Command;

use serde_json::{json, Value};

fn invoke(event: &str) -> Value {
    let path = format!("{}/events/{event}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_sources"))
        .args(["invoke", &path, "--log-level", "off"])
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .expect("the sources binary runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the response is JSON")
}

fn b64(s: &str) -> String {
    eventrail::source::firehose::encode(s.as_bytes())
}

#[test]
fn kafka_names_the_two_failed_records_by_partition_and_offset() {
    // o-121 has no items (permanent); o-88 waits for its warehouse
    // (retryable). The other partitions' records are done.
    assert_eq!(
        invoke("kafka.json"),
        json!({"batchItemFailures": [
            {"itemIdentifier": {"partition": "orders-0", "offset": 121}},
            {"itemIdentifier": {"partition": "orders-1", "offset": 88}},
        ]})
    );
}

#[test]
fn s3_batch_answers_every_task_with_its_result_code() {
    assert_eq!(
        invoke("s3-batch.json"),
        json!({
            "invocationSchemaVersion": "2.0",
            "treatMissingKeysAs": "PermanentFailure",
            "invocationId": "aW52b2NhdGlvbi0yMDI2LTAxLTAxLTAwNDI",
            "results": [
                {"taskId": "dGFzay0wMDAx", "resultCode": "Succeeded",
                 "resultString": "archived s3://billing-eu/invoices/2026/01/INV-0001.pdf to DEEP_ARCHIVE"},
                {"taskId": "dGFzay0wMDAy", "resultCode": "TemporaryFailure",
                 "resultString": "the object is still being written"},
                {"taskId": "dGFzay0wMDAz", "resultCode": "PermanentFailure",
                 "resultString": "executables are not invoices"},
            ]
        })
    );
}

#[test]
fn firehose_answers_every_record() {
    let resp = invoke("firehose.json");
    let event: Value = serde_json::from_str(include_str!("../events/firehose.json")).unwrap();
    let id = |i: usize| event["records"][i]["recordId"].clone();
    let data = |i: usize| event["records"][i]["data"].clone();
    assert_eq!(
        resp,
        json!({"records": [
            {"recordId": id(0), "result": "Ok", "data": b64("u-1,/cart\n"),
             "metadata": {"partitionKeys": {"page": "cart"}}},
            {"recordId": id(1), "result": "Dropped", "data": data(1)},
            {"recordId": id(2), "result": "ProcessingFailed", "data": data(2)},
            {"recordId": id(3), "result": "ProcessingFailed", "data": data(3)},
        ]})
    );
}
