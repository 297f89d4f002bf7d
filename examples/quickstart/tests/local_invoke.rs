//! The local `invoke` command of the quickstart binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn quickstart(args: &[&str], stdin: &[u8]) -> Output {
    quickstart_with(args, stdin, &[])
}

fn quickstart_with(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_quickstart"))
        .args(args)
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env_remove("EVENTRAIL_METRICS")
        .env_remove("EVENTRAIL_METRICS_NAMESPACE")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the quickstart binary starts");
    // A command that exits before reading (bad arguments) closes the pipe:
    // what it printed and its exit code are what the tests check.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

fn events() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/events/sqs-batch.json").to_owned()
}

fn stderr_line(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(text.lines().count(), 1, "one line on stderr: {text}");
    text.trim_end().to_owned()
}

#[test]
fn a_file_prints_the_batch_response() {
    let out = quickstart(&["invoke", &events(), "--log-level", "off"], b"");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let response: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        response["batchItemFailures"].as_array().unwrap().len(),
        2,
        "{response}"
    );
    assert!(out.stderr.is_empty());
}

#[test]
fn eventrail_metrics_emf_writes_one_metrics_line_to_stderr() {
    let env = [
        ("EVENTRAIL_METRICS", "emf"),
        ("EVENTRAIL_METRICS_NAMESPACE", "Quickstart"),
    ];
    let out = quickstart_with(&["invoke", &events(), "--log-level", "off"], b"", &env);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // stdout is still the response alone.
    let response: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(response["batchItemFailures"].as_array().unwrap().len(), 2);
    let line: serde_json::Value = serde_json::from_str(&stderr_line(&out)).unwrap();
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "Quickstart"
    );
    assert_eq!(
        line["FunctionName"], "quickstart",
        "the binary's name off Lambda"
    );
    assert_eq!(line["Source"], "sqs");
    assert_eq!(line["RequestId"], "local");
    assert_eq!(
        (line["Records"].as_u64(), line["Done"].as_u64()),
        (Some(10), Some(8))
    );
    assert_eq!(line["FailedPermanent"].as_u64(), Some(2));
    assert!(line["_aws"]["Timestamp"].as_u64().unwrap() > 1_700_000_000_000);

    let out = quickstart_with(
        &["invoke", &events()],
        b"",
        &[("EVENTRAIL_METRICS", "loud")],
    );
    assert_eq!(out.status.code(), Some(1));
    let line = stderr_line(&out);
    assert!(
        line.starts_with("error: EVENTRAIL_METRICS=`loud`"),
        "{line}"
    );
}

#[test]
fn stdin_works_and_logs_go_to_stderr() {
    let payload = std::fs::read(events()).unwrap();
    let out = quickstart(&["invoke", "-"], &payload);
    assert_eq!(out.status.code(), Some(0));
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(logs.contains("invocation summary"), "{logs}");
    assert!(logs.contains("records=10"), "{logs}");
    let response: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(response.get("batchItemFailures").is_some());
}

#[test]
fn unusable_input_is_exit_1_with_one_error_line() {
    let cases: [(&[u8], &str); 4] = [
        (b"", "error: the payload is empty"),
        (b"\xff\xfe{}", "error: the payload is not UTF-8"),
        (b"{\"Records\": [", "error: the payload is not JSON"),
        (b"{\"hello\": 1}", "error: no event source detected"),
    ];
    for (input, expected) in cases {
        let out = quickstart(&["invoke", "-", "--log-level", "off"], input);
        assert_eq!(out.status.code(), Some(1), "input {input:?}");
        assert!(out.stdout.is_empty());
        let line = stderr_line(&out);
        assert!(line.starts_with(expected), "{line}");
    }
}

#[test]
fn an_unusable_payload_is_reported_once_at_the_default_log_level() {
    let out = quickstart(&["invoke", "-"], b"{\"Records\": [");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mentions: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("the payload is not JSON"))
        .collect();
    assert_eq!(mentions.len(), 1, "printed once: {stderr}");
    assert!(mentions[0].starts_with("error: the payload is not JSON"));
}

#[test]
fn bad_arguments_and_missing_files_are_exit_1() {
    let ok = quickstart(
        &["invoke", "-", "--log-level", "warn"],
        &std::fs::read(events()).unwrap(),
    );
    assert_eq!(ok.status.code(), Some(0));
    for args in [
        &["invoke"][..],
        &["invoke", "/nonexistent/event.json"],
        &["invoke", "-", "--deadline-ms", "soon"],
        &["invoke", "-", "--log-level", "chatty"],
        &["invoke", "-", "--what"],
    ] {
        // A good batch on stdin: only the arguments are at fault.
        let out = quickstart(args, &std::fs::read(events()).unwrap());
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr_line(&out).starts_with("error: "), "{args:?}");
    }
}

#[test]
fn a_spent_deadline_fails_every_record_for_redelivery() {
    let out = quickstart(
        &[
            "invoke",
            &events(),
            "--deadline-ms",
            "0",
            "--log-level",
            "off",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0));
    let response: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(response["batchItemFailures"].as_array().unwrap().len(), 10);
}

#[test]
fn outside_lambda_without_invoke_is_a_clear_error() {
    let out = quickstart(&[], b"");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("invoke FILE"), "{text}");
}

/// A batch of `n` messages to the poison recipient, which all fail.
fn poison_batch(n: usize) -> Vec<u8> {
    let text = std::fs::read_to_string(events()).unwrap();
    let batch: serde_json::Value = serde_json::from_str(&text).unwrap();
    let poison = batch["Records"][3].clone();
    assert!(poison["body"].as_str().unwrap().contains("poison@"));
    let records: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let mut r = poison.clone();
            r["messageId"] = format!("poison-{i:04}").into();
            r
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "Records": records })).unwrap()
}

/// The `record_id`s of the WARN lines, in the order they were written, and
/// whether the summary line came last.
fn warned_ids(stderr: &[u8]) -> (Vec<String>, bool) {
    let text = String::from_utf8_lossy(stderr);
    let ids = text
        .lines()
        .filter(|l| l.contains(" WARN ") && l.contains("record failed"))
        .map(|l| {
            let at = l.find("record_id=\"").expect("a record id") + "record_id=\"".len();
            l[at..].split('"').next().unwrap().to_owned()
        })
        .collect();
    let summary_last = text
        .lines()
        .last()
        .is_some_and(|l| l.contains("invocation summary"));
    (ids, summary_last)
}

/// Log lines are written in blocks (many more than one block here): none is
/// lost or reordered, with blocks or without.
#[test]
fn every_log_line_is_written_in_order_with_or_without_blocks() {
    const N: usize = 400;
    let payload = poison_batch(N);
    let expected: Vec<String> = (0..N).map(|i| format!("poison-{i:04}")).collect();
    for env in [&[][..], &[("EVENTRAIL_LOG_BUFFER", "off")][..]] {
        let out = quickstart_with(&["invoke", "-"], &payload, env);
        assert_eq!(out.status.code(), Some(0), "{env:?}");
        let response: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            response["batchItemFailures"].as_array().map(Vec::len),
            Some(N),
            "{env:?}"
        );
        let (ids, summary_last) = warned_ids(&out.stderr);
        assert_eq!(ids, expected, "{env:?}");
        assert!(summary_last, "{env:?}");
    }
}
