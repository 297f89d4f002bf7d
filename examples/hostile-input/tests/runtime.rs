//! The hostile-input corpus through the Lambda runtime path: the binary
//! served by cargo-lambda's Runtime API emulator (`cargo lambda watch
//! --only-lambda-apis`, on a free 127.0.0.1 port, driven by the testkit's
//! [`RuntimeEmulator`]) answers every hostile payload, one after the other,
//! as the in-process path does, then serves a good batch correctly: one
//! process throughout, never restarted.
//!
//! Payloads go to the emulator's Invoke API over plain HTTP/1.1, so raw
//! bytes (empty, not UTF-8, not JSON) reach it as they are. Every request
//! and process is bounded in time; the processes are killed when the test
//! ends, however it ends.
//!
//! Needs `cargo-lambda` (`scripts/test` installs the pinned version and sets
//! `EVENTRAIL_CARGO_LAMBDA`; otherwise it is looked up on `PATH`).

mod support;

use eventrail::app::Invocation;
use eventrail_testkit::emulator::RuntimeEmulator;
use serde_json::{json, Value};

/// The bytes `lambda_runtime` hands the function: the first JSON value of
/// the payload (it does not check what follows), or `None` when there is
/// none and the runtime refuses the payload itself. Lambda's Invoke API
/// accepts only JSON, so neither difference reaches a deployed function.
fn runtime_view(payload: &[u8]) -> Option<Vec<u8>> {
    use serde::Deserialize;
    let mut de = serde_json::Deserializer::from_slice(payload);
    let raw = Box::<serde_json::value::RawValue>::deserialize(&mut de).ok()?;
    Some(raw.get().as_bytes().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn hostile_payloads_then_a_good_one_in_one_process() {
    let mut lambda = RuntimeEmulator::start().unwrap_or_else(|e| panic!("{e}"));
    lambda
        .serve(env!("CARGO_BIN_EXE_hostile-input"), [("RUST_LOG", "warn")])
        .unwrap_or_else(|e| panic!("{e}"));

    let app = example_hostile_input::app();
    let cases = support::corpus();
    let mut wrong = Vec::new();
    for case in &cases {
        // What the runtime hands the app (see `runtime_view`).
        let view = runtime_view(&case.payload);
        let expected = match &view {
            Some(bytes) => eventrail_lambda::invoke(&app, bytes, Invocation::default()).await,
            None => eventrail_lambda::invoke(&app, &case.payload, Invocation::default()).await,
        };
        let runtime_refuses = view.is_none();
        let answer = lambda
            .invoke(&case.payload)
            .unwrap_or_else(|e| panic!("after {case:?}: {e}"));
        let (status, body) = (answer.status, answer.body);
        let got: Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                wrong.push(format!("{case:?}: {status}, body not JSON ({e})"));
                continue;
            }
        };
        let ok = match &expected {
            Ok(response) => status == 200 && got == *response,
            Err(_) if runtime_refuses => {
                status == 500
                    && got["errorType"]
                        .as_str()
                        .is_some_and(|t| t.ends_with("DeserializeError"))
            }
            Err(e) => {
                status == 500
                    && got == json!({"errorType": e.error_type(), "errorMessage": e.to_string()})
            }
        };
        if !ok {
            let got = got.to_string();
            wrong.push(format!(
                "{case:?}: {status} {}; expected {:?}",
                &got[..got.len().min(300)],
                expected.map(|v| v.to_string().chars().take(300).collect::<String>())
            ));
        }
    }

    // Then a good batch, served by the same process.
    let good = json!({"Records": [
        {"eventSource": "aws:sqs", "messageId": "ok-1",
         "body": r#"{"type":"NOTIFICATION","recipient":"a@example.com","subject":"hi"}"#},
        {"eventSource": "aws:sqs", "messageId": "ok-2",
         "body": r#"{"type":"NOTIFICATION","recipient":"poison@example.com","subject":"hi"}"#},
    ]});
    let answer = lambda
        .invoke(&serde_json::to_vec(&good).unwrap())
        .unwrap_or_else(|e| panic!("the good batch: {e}"));
    let response = answer.json().expect("a JSON response");
    assert_eq!(
        (answer.status, response),
        (
            200,
            json!({"batchItemFailures": [{"itemIdentifier": "ok-2"}]})
        )
    );
    // Never restarted: the process spawned before the first case is still
    // the one running.
    lambda
        .check_alive()
        .unwrap_or_else(|e| panic!("after the good batch: {e}"));
    assert!(cases.len() >= 70);
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
