//! The `invoke` contract: exit 0 with the Lambda response on stdout, or
//! exit 1 with one `error:` line on stderr, for every bundled event file.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_example-orders");

fn invoke(file: &Path) -> Output {
    Command::new(BIN)
        .arg("invoke")
        .arg(file)
        .args(["--log-level", "off"])
        .output()
        .unwrap()
}

fn events_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/events"))
}

fn response(file: &str) -> Value {
    let out = invoke(&events_dir().join(file));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{file}: stdout is not JSON: {e}"))
}

#[test]
fn every_bundled_event_file_is_answered_with_exit_0() {
    let mut files: Vec<_> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 6);
    for f in files {
        let out = invoke(&f);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
        serde_json::from_slice::<Value>(&out.stdout).unwrap();
    }
}

#[test]
fn the_responses_are_the_lambda_responses() {
    let ids = |v: &Value| -> Vec<String> {
        v["batchItemFailures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
            .collect()
    };
    let sqs = response("sqs-notifications.json");
    let failed: Vec<String> = ids(&sqs)
        .iter()
        .map(|i| i[i.len() - 3..].to_owned())
        .collect();
    // Malformed JSON, the FAX channel, the unknown type (on the fakes, SES
    // accepts every address).
    assert_eq!(failed, ["003", "007", "008"]);
    assert_eq!(
        ids(&response("dynamodb-changes.json")),
        ["300000000000000000006"]
    );
    assert_eq!(response("sqs-dlq.json"), json!({"batchItemFailures": []}));
    assert_eq!(response("s3-uploads.json"), Value::Null);
    assert_eq!(
        response("sfn-process-order.json"),
        json!({"orderId": "1001", "items": 3,
               "reservation": "s3://orders-data/inventory/reservations/1001.json"})
    );
    assert_eq!(response("sfn-csv-import.json")["imported"], 3);
}

#[test]
fn a_step_functions_output_keeps_the_handlers_field_order() {
    // `ImportSummary` declares bucket, key, imported, totalCents, badRows:
    // the order SendTaskSuccess sends, not the sorted order of a JSON tree.
    let out = invoke(&events_dir().join("sfn-csv-import.json"));
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let at = |key: &str| {
        text.find(&format!("\"{key}\":"))
            .unwrap_or_else(|| panic!("{key} in {text}"))
    };
    let positions: Vec<usize> = ["bucket", "key", "imported", "totalCents", "badRows"]
        .iter()
        .map(|k| at(k))
        .collect();
    assert!(positions.is_sorted(), "{positions:?} in {text}");
    assert!(text.starts_with(r#"{"bucket":"#), "{text}");
}

fn one_error_line(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8(out.stderr.clone()).unwrap();
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

#[test]
fn unusable_input_is_one_error_line_and_exit_1() {
    one_error_line(&invoke(Path::new("/dev/null")));
    let err = one_error_line(&invoke(Path::new("/no/such/file.json")));
    assert!(err.contains("/no/such/file.json"), "{err}");
}

#[test]
fn a_failed_task_is_one_error_line_and_exit_1() {
    let dir = std::env::temp_dir().join(format!("example-orders-invoke-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let unknown = dir.join("unknown-type.json");
    std::fs::write(
        &unknown,
        r#"{"type": "REFUND", "payload": {}, "taskToken": "AQCEtoken1"}"#,
    )
    .unwrap();
    let err = one_error_line(&invoke(&unknown));
    assert!(
        err.contains(r#"unknown Step Functions task type "REFUND""#),
        "{err}"
    );

    let empty = dir.join("empty-order.json");
    std::fs::write(
        &empty,
        r#"{"type": "ORDER_PROCESS", "payload": {"orderId": "7", "items": 0}, "taskToken": "AQCEtoken2"}"#,
    )
    .unwrap();
    let err = one_error_line(&invoke(&empty));
    assert!(err.contains("order 7 has no items"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn aws_mode_without_its_configuration_names_every_missing_variable() {
    let mut cmd = Command::new(BIN);
    cmd.args(["invoke", "--aws"])
        .arg(events_dir().join("sqs-dlq.json"))
        .args(["--log-level", "off"]);
    for v in example_orders::ports::ENV_VARS {
        cmd.env_remove(v);
    }
    let err = one_error_line(&cmd.output().unwrap());
    for v in &example_orders::ports::ENV_VARS[..5] {
        assert!(err.contains(v), "{err}");
    }
}

#[test]
fn unknown_arguments_are_one_error_line() {
    let err = one_error_line(&Command::new(BIN).arg("frobnicate").output().unwrap());
    assert!(err.contains("usage"), "{err}");
}

/// The local invoke runs on the real clock (it ran on tokio's paused clock,
/// where every invocation took 0 ms): its metrics line reports the time the
/// invocation really took.
#[test]
fn the_local_invoke_reports_real_durations() {
    let out = Command::new(BIN)
        .arg("invoke")
        .arg(events_dir().join("sqs-notifications.json"))
        .args(["--log-level", "off"])
        .env("EVENTRAIL_METRICS", "emf")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let metrics: Value = stderr
        .lines()
        .find_map(|l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .filter(|v| v.get("_aws").is_some())
        })
        .unwrap_or_else(|| panic!("no metrics line on stderr: {stderr}"));
    let ms = metrics["Duration"].as_f64().unwrap();
    assert!(ms > 0.0, "Duration {ms} ms");
    assert_eq!(metrics["Records"], 9);
}
