//! The hostile-input corpus through the binary's local `invoke` command:
//! every case exits 0 with the response JSON or 1 with exactly one `error:`
//! line, the same answer as in process; never a panic, a signal or a hang,
//! and within a memory limit.

mod support;

use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use eventrail::app::Invocation;

/// Per case: far more than any case takes, so only a hang reaches it.
const LIMIT: Duration = Duration::from_secs(30);
/// Address space the process may map: a leak or an unbounded buffer for a
/// 6 MB payload fails to allocate instead of growing.
const MEMORY_LIMIT_BYTES: u64 = 1 << 30;

struct Run {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
}

fn invoke(payload: &[u8]) -> Run {
    let mut child = Command::new("prlimit")
        .arg(format!("--as={MEMORY_LIMIT_BYTES}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_hostile-input"))
        .args(["invoke", "-", "--log-level", "off"])
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("prlimit and the hostile-input binary start");
    let mut stdin = child.stdin.take().unwrap();
    let payload = payload.to_vec();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&payload);
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let stdout = thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let stderr = thread::spawn(move || {
        let mut b = String::new();
        let _ = err.read_to_string(&mut b);
        b
    });
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the binary did not answer within {LIMIT:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    writer.join().unwrap();
    Run {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

#[tokio::test]
async fn every_case_answers_like_the_in_process_path() {
    let app = example_hostile_input::app();
    let cases = support::corpus();
    let mut wrong = Vec::new();
    for case in &cases {
        let expected = eventrail_lambda::invoke(&app, &case.payload, Invocation::default()).await;
        let run = invoke(&case.payload);
        let Some(code) = run.status.code() else {
            wrong.push(format!("{case:?}: killed by a signal ({})", run.status));
            continue;
        };
        match expected {
            Ok(response) => {
                let got: Result<serde_json::Value, _> = serde_json::from_slice(&run.stdout);
                if code != 0 || got.as_ref().ok() != Some(&response) || !run.stderr.is_empty() {
                    wrong.push(format!(
                        "{case:?}: exit {code}, stderr {:?}, stdout {} bytes; expected {}",
                        run.stderr,
                        run.stdout.len(),
                        cut(&response.to_string())
                    ));
                }
            }
            Err(e) => {
                let line = format!("error: {}\n", e.to_string().replace('\n', " "));
                if code != 1 || run.stderr != line || !run.stdout.is_empty() {
                    wrong.push(format!(
                        "{case:?}: exit {code}, stderr {:?}; expected exit 1 and {line:?}",
                        cut(&run.stderr)
                    ));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

fn cut(s: &str) -> String {
    s.chars().take(300).collect()
}
