//! The demo binary runs and tells what happened; `invoke` answers like Lambda.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_example-orders");

#[test]
fn the_demo_plays_every_bundled_event() {
    let out = Command::new(BIN).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        "== sqs-notifications.json (5 record(s))",
        r#"response: {"batchItemFailures":[{"itemIdentifier":"0c8e2b7a-1d4f-4c1e-9a6b-000000000003"},{"itemIdentifier":"0c8e2b7a-1d4f-4c1e-9a6b-000000000004"}]}"#,
        "handler: imported 3 rows from s3://orders-uploads/imports/csv/daily orders(2026-11-28).csv",
        "handler: confirmed order 1001 to ana@example.com",
        r#"Step Functions task succeeded with {"orderId":"1001","reserved":true}"#,
        "SNS alarm: [ERROR] send-notification: channel Sms is not supported",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

#[test]
fn invoke_prints_the_lambda_response() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/events/sqs-notifications.json");
    let out = Command::new(BIN)
        .args(["invoke", file, "--log-level", "off"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let response: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(response["batchItemFailures"].as_array().unwrap().len(), 2);
}

#[test]
fn unusable_input_is_one_error_line_and_exit_1() {
    let out = Command::new(BIN)
        .args(["invoke", "/dev/null", "--log-level", "off"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
