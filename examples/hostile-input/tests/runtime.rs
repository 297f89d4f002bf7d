//! The hostile-input corpus through the Lambda runtime path: the binary
//! served by cargo-lambda's Runtime API emulator (`cargo lambda watch
//! --only-lambda-apis`, on a free 127.0.0.1 port) answers every hostile
//! payload, one after the other, as the in-process path does, then serves a
//! good batch correctly: one process throughout, never restarted.
//!
//! Payloads go to the emulator's Invoke API over plain HTTP/1.1, so raw
//! bytes (empty, not UTF-8, not JSON) reach it as they are. Every request
//! and process is bounded in time; the processes are killed when the test
//! ends, however it ends.
//!
//! Needs `cargo-lambda` (`scripts/test` installs the pinned version and sets
//! `EVENTRAIL_CARGO_LAMBDA`; otherwise it is looked up on `PATH`).

mod support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use eventrail::app::Invocation;
use serde_json::{json, Value};

const STARTUP: Duration = Duration::from_secs(60);
/// Per request: far more than any case takes, so only a hang reaches it.
const REQUEST: Duration = Duration::from_secs(60);

/// Children killed (and reaped) when the test ends.
struct Processes(Vec<(&'static str, Child)>);

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Processes {
    fn assert_alive(&mut self, dir: &Path, after: &str) {
        for (name, child) in &mut self.0 {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "{name} exited ({status}) after {after}; its log:\n{}",
                    tail(&dir.join(format!("{name}.log")))
                );
            }
        }
    }
}

fn cargo_lambda() -> PathBuf {
    if let Some(p) = std::env::var_os("EVENTRAIL_CARGO_LAMBDA") {
        return PathBuf::from(p);
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("cargo-lambda"))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "cargo-lambda is not installed: run the tests with scripts/test, which installs it, \
                 or `pip install cargo-lambda==1.9.2`"
            )
        })
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn log_file(dir: &Path, name: &str) -> Stdio {
    std::fs::File::create(dir.join(format!("{name}.log")))
        .expect("a log file")
        .into()
}

/// POSTs `payload` to the emulator's Invoke API: the status and the body.
fn post(addr: SocketAddr, payload: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(REQUEST)).unwrap();
    s.set_write_timeout(Some(REQUEST)).unwrap();
    let head = format!(
        "POST /2015-03-31/functions/_/invocations HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(payload).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("no answer within {REQUEST:?}: {e}"));
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response");
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status code");
    (status, raw[split + 4..].to_vec())
}

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
    let cargo_lambda = cargo_lambda();
    let dir = std::env::temp_dir().join(format!("eventrail-hostile-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("src")).expect("a scratch directory");
    // `cargo lambda watch` reads a Cargo manifest from its working directory.
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"emulator-scratch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(dir.join("src/main.rs"), "fn main() {}\n").unwrap();

    let port = free_port();
    let mut procs = Processes(Vec::new());
    let emulator = Command::new(&cargo_lambda)
        .args(["lambda", "watch", "--only-lambda-apis"])
        .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
        .arg(port.to_string())
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(log_file(&dir, "emulator"))
        .stderr(log_file(&dir, "emulator"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", cargo_lambda.display()));
    procs.0.push(("emulator", emulator));
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + STARTUP;
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        procs.assert_alive(&dir, "starting");
        assert!(
            Instant::now() < deadline,
            "the emulator does not listen on {addr}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let function = Command::new(env!("CARGO_BIN_EXE_hostile-input"))
        .env("AWS_LAMBDA_RUNTIME_API", format!("http://{addr}/.rt"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "_")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log_file(&dir, "function"))
        .stderr(log_file(&dir, "function"))
        .spawn()
        .expect("the hostile-input binary starts");
    procs.0.push(("function", function));

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
        let (status, body) = post(addr, &case.payload);
        procs.assert_alive(&dir, &format!("{case:?}"));
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
    let (status, body) = post(addr, &serde_json::to_vec(&good).unwrap());
    let response: Value = serde_json::from_slice(&body).expect("a JSON response");
    assert_eq!(
        (status, response),
        (
            200,
            json!({"batchItemFailures": [{"itemIdentifier": "ok-2"}]})
        )
    );
    // Never restarted: the process spawned before the first case is still
    // the one running.
    procs.assert_alive(&dir, "the good batch");
    assert!(cases.len() >= 70);
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    drop(procs);
    let _ = std::fs::remove_dir_all(&dir);
}
