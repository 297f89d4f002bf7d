//! The quickstart binary under a real Lambda Runtime API emulator.
//!
//! Starts `cargo lambda watch --only-lambda-apis` on a free 127.0.0.1 port,
//! runs the quickstart binary against it, sends an SQS batch of 10 messages
//! with 2 poison ones through `cargo lambda invoke --data-file`, and checks the
//! partial batch response. Every process is bounded in time and killed when
//! the test ends.
//!
//! Needs `cargo-lambda` (`scripts/test` installs the pinned version and sets
//! `EVENTRAIL_CARGO_LAMBDA`; otherwise it is looked up on `PATH`).

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const STARTUP: Duration = Duration::from_secs(60);
const INVOKE: Duration = Duration::from_secs(60);

/// Children killed (and reaped) when the test ends, however it ends.
struct Processes(Vec<(String, Child)>);

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Processes {
    /// Fails if one of the background processes exited early.
    fn check_alive(&mut self, logs: &Path) {
        for (name, child) in &mut self.0 {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "{name} exited early ({status}); its log:\n{}",
                    read_log(&logs.join(format!("{name}.log")))
                );
            }
        }
    }
}

fn cargo_lambda() -> PathBuf {
    if let Some(p) = std::env::var_os("EVENTRAIL_CARGO_LAMBDA") {
        return PathBuf::from(p);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("cargo-lambda"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
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

fn read_log(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

fn log_file(dir: &Path, name: &str) -> Stdio {
    std::fs::File::create(dir.join(format!("{name}.log")))
        .expect("a log file")
        .into()
}

fn wait_with_deadline(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn sqs_batch_with_poison_records_under_the_emulator() {
    let cargo_lambda = cargo_lambda();
    let dir = std::env::temp_dir().join(format!("eventrail-emulator-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("src")).expect("a scratch directory");
    // `cargo lambda watch` reads a Cargo manifest from its working directory;
    // a tiny package keeps that fast and offline.
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
        .stderr(log_file(&dir, "emulator-stderr"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", cargo_lambda.display()));
    procs.0.push(("emulator".into(), emulator));

    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + STARTUP;
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        procs.check_alive(&dir);
        assert!(
            Instant::now() < deadline,
            "the emulator does not listen on {addr} after {STARTUP:?}; its log:\n{}",
            read_log(&dir.join("emulator-stderr.log"))
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let function = Command::new(env!("CARGO_BIN_EXE_quickstart"))
        .env("AWS_LAMBDA_RUNTIME_API", format!("http://{addr}/.rt"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "_")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("RUST_LOG", "info")
        .env("EVENTRAIL_METRICS", "emf")
        .stdin(Stdio::null())
        .stdout(log_file(&dir, "function"))
        .stderr(log_file(&dir, "function-stderr"))
        .spawn()
        .expect("the quickstart binary starts");
    procs.0.push(("function".into(), function));

    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("events/sqs-batch.json");
    let mut invoke = Command::new(&cargo_lambda)
        .args([
            "lambda",
            "invoke",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
        ])
        .arg(port.to_string())
        .arg("--data-file")
        .arg(&events)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file(&dir, "invoke"))
        .spawn()
        .expect("cargo lambda invoke starts");
    let status = wait_with_deadline(&mut invoke, INVOKE);
    let mut stdout = String::new();
    if let Some(mut out) = invoke.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    let status = status.unwrap_or_else(|| {
        panic!(
            "cargo lambda invoke did not answer within {INVOKE:?}; function log:\n{}",
            read_log(&dir.join("function.log"))
        )
    });
    assert!(
        status.success(),
        "cargo lambda invoke failed ({status}): {}\nfunction log:\n{}",
        read_log(&dir.join("invoke.log")),
        read_log(&dir.join("function.log"))
    );
    println!("response: {}", stdout.trim());

    let response: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("the response is not JSON ({e}): {stdout}"));
    assert_eq!(
        response,
        serde_json::json!({"batchItemFailures": [
            {"itemIdentifier": "0e6f3c52-9b1d-4a57-8d2e-000000000004"},
            {"itemIdentifier": "0e6f3c52-9b1d-4a57-8d2e-000000000009"}
        ]})
    );

    // One JSON summary line for the invocation.
    drop(procs);
    let logs = std::fs::read_to_string(dir.join("function.log")).unwrap_or_default();
    let summary = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["fields"]["message"] == "invocation summary")
        .unwrap_or_else(|| panic!("no JSON summary line in the function's log:\n{logs}"));
    assert_eq!(summary["fields"]["records"], 10);
    assert_eq!(summary["fields"]["failed"], 2);
    assert_eq!(summary["fields"]["whole_batch_failure"], "report-items");
    // The startup line names the policy and the metrics setting.
    let ready = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["fields"]["message"] == "eventrail function ready")
        .unwrap_or_else(|| panic!("no startup line in the function's log:\n{logs}"));
    assert_eq!(ready["fields"]["whole_batch_failure"], "report-items");
    assert_eq!(ready["fields"]["metrics"], "emf");
    // EVENTRAIL_METRICS=emf: one embedded metric format line on stdout.
    let emf: Vec<serde_json::Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l.get("_aws").is_some())
        .collect();
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
    let _ = std::fs::remove_dir_all(&dir);
}
