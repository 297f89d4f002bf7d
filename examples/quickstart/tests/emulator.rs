//! The quickstart binary under a real Lambda Runtime API emulator.
//!
//! [`RuntimeEmulator`] starts `cargo lambda watch --only-lambda-apis` on a
//! free 127.0.0.1 port and runs the quickstart binary against it; an SQS
//! batch of 10 messages with 2 poison ones goes to the emulator's Invoke API
//! and the partial batch response is checked. Every process is bounded in
//! time and killed when the test ends.
//!
//! Needs `cargo-lambda` (`scripts/test` installs the pinned version and sets
//! `EVENTRAIL_CARGO_LAMBDA`; otherwise it is looked up on `PATH`).

use std::path::Path;

use eventrail_testkit::emulator::RuntimeEmulator;
use serde_json::{json, Value};

/// The function's JSON log lines.
fn json_lines(logs: &str) -> Vec<Value> {
    logs.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

#[test]
fn sqs_batch_with_poison_records_under_the_emulator() {
    let mut lambda = RuntimeEmulator::start().unwrap_or_else(|e| panic!("{e}"));
    lambda
        .serve(
            env!("CARGO_BIN_EXE_quickstart"),
            [("RUST_LOG", "info"), ("EVENTRAIL_METRICS", "emf")],
        )
        .unwrap_or_else(|e| panic!("{e}"));

    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("events/sqs-batch.json");
    let payload = std::fs::read(&events).expect("the bundled event file");
    let answer = lambda.invoke(&payload).unwrap_or_else(|e| panic!("{e}"));
    let response = answer.json().unwrap_or_else(|e| {
        panic!(
            "the response is not JSON ({e}): {}",
            String::from_utf8_lossy(&answer.body)
        )
    });
    println!("response: {response}");
    assert_eq!(
        (answer.status, response),
        (
            200,
            json!({"batchItemFailures": [
                {"itemIdentifier": "0e6f3c52-9b1d-4a57-8d2e-000000000004"},
                {"itemIdentifier": "0e6f3c52-9b1d-4a57-8d2e-000000000009"}
            ]})
        )
    );

    // One JSON summary line for the invocation.
    let logs = lambda.stop_function();
    let lines = json_lines(&logs);
    let summary = lines
        .iter()
        .find(|l| l["fields"]["message"] == "invocation summary")
        .unwrap_or_else(|| panic!("no JSON summary line in the function's log:\n{logs}"));
    assert_eq!(summary["fields"]["records"], 10);
    assert_eq!(summary["fields"]["failed"], 2);
    assert_eq!(summary["fields"]["whole_batch_failure"], "report-items");
    // The startup line names the policy and the metrics setting.
    let ready = lines
        .iter()
        .find(|l| l["fields"]["message"] == "eventrail function ready")
        .unwrap_or_else(|| panic!("no startup line in the function's log:\n{logs}"));
    assert_eq!(ready["fields"]["whole_batch_failure"], "report-items");
    assert_eq!(ready["fields"]["metrics"], "emf");
    // EVENTRAIL_METRICS=emf: one embedded metric format line.
    let emf: Vec<&Value> = lines.iter().filter(|l| l.get("_aws").is_some()).collect();
    assert_eq!(emf.len(), 1, "one metrics line:\n{logs}");
    assert_eq!(emf[0]["FunctionName"], "_");
    assert_eq!(
        (emf[0]["Records"].as_u64(), emf[0]["Failed"].as_u64()),
        (Some(10), Some(2))
    );
    assert_eq!(
        emf[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "eventrail"
    );
}
