//! The local `invoke` command every binary built with [`run`](crate::run()) has.
//!
//! ```text
//! BINARY invoke FILE|- [--deadline-ms N] [--log-level LEVEL]
//! ```
//!
//! Reads one raw event (a file, or stdin with `-`), processes it through the
//! same path as on Lambda ([`invoke`](crate::invoke())), and prints the
//! Lambda response JSON on stdout. Logs go to stderr.
//!
//! - Exit 0: the invocation succeeded. Partial failures of an SQS, stream or
//!   Kafka batch are inside the response (`batchItemFailures`).
//! - Exit 1, with one line `error: ...` on stderr: the invocation failed
//!   (records of an S3/SNS/EventBridge event failed, a Step Functions task
//!   failed) or the input is unusable (empty, not UTF-8, not JSON, no known
//!   source), or the arguments are wrong.
//!
//! It never panics with exit code 101: a panic that escapes the app is
//! reported as an `error:` line too.
//!
//! Options:
//! - `--deadline-ms N`: the invocation has N milliseconds left, as if Lambda
//!   had set its deadline; records not started when the app's margin or less
//!   is left are reported failed (with `0`, none starts). Default: no
//!   deadline.
//! - `--log-level LEVEL`: `off`, `error`, `warn`, `info` (default), `debug`,
//!   `trace`, or any `RUST_LOG`-style directive.
//!
//! Logs are written in blocks, and all of them before the response (see
//! `EVENTRAIL_LOG_BUFFER` in the [crate docs](crate#logs)).
//!
//! Metrics: with metrics on (in code, or `EVENTRAIL_METRICS=emf` in the
//! environment), the invocation's metrics line goes to stderr, so stdout
//! stays the response alone.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use eventrail::app::Invocation;
use futures_util::FutureExt;

use crate::function::Function;

const USAGE: &str = "usage: BINARY invoke FILE|- [--deadline-ms N] [--log-level LEVEL]";

#[derive(Debug)]
struct Args {
    input: OsString,
    deadline: Option<Duration>,
    log_level: String,
}

fn parse(args: &[OsString]) -> Result<Args, String> {
    let mut input = None;
    let mut deadline = None;
    let mut log_level = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let text = a.to_string_lossy();
        let (name, inline) = match text.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (text.clone().into_owned(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it
                    .next()
                    .map(|v| v.to_string_lossy().into_owned())
                    .ok_or_else(|| format!("{name} needs {what}")),
            }
        };
        match name.as_str() {
            "--deadline-ms" => {
                let v = value("a number of milliseconds")?;
                let ms: u64 = v
                    .parse()
                    .map_err(|_| format!("--deadline-ms: `{v}` is not a number of milliseconds"))?;
                deadline = Some(Duration::from_millis(ms));
            }
            "--log-level" => log_level = Some(value("a level")?),
            "-h" | "--help" => return Err(USAGE.into()),
            "-" => set_input(&mut input, a.clone())?,
            n if n.starts_with('-') => return Err(format!("unknown option `{n}`; {USAGE}")),
            _ => set_input(&mut input, a.clone())?,
        }
    }
    Ok(Args {
        input: input.ok_or_else(|| format!("no input given; {USAGE}"))?,
        deadline,
        log_level: log_level.unwrap_or_else(|| "info".into()),
    })
}

fn set_input(slot: &mut Option<OsString>, value: OsString) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("more than one input given; {USAGE}"));
    }
    *slot = Some(value);
    Ok(())
}

fn init_local_logs(level: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let lower = level.to_ascii_lowercase();
    // A bare word must be a level; `target=level` lists are passed through.
    if !lower.contains('=') && !LEVELS.contains(&lower.as_str()) {
        return Err(format!(
            "--log-level: `{level}` is not one of {} (or a RUST_LOG directive)",
            LEVELS.join(", ")
        ));
    }
    let filter = tracing_subscriber::EnvFilter::builder()
        .parse(level.to_ascii_lowercase())
        .map_err(|e| format!("--log-level: `{level}` is not a level: {e}"))?;
    let _already_set = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(false)
        .with_writer(crate::logs::STDERR.configure_from_env())
        .try_init();
    Ok(())
}

fn read_input(input: &OsString) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    if input == "-" {
        std::io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
    } else {
        buf = std::fs::read(input)
            .map_err(|e| format!("cannot read {}: {e}", input.to_string_lossy()))?;
    }
    Ok(buf)
}

/// Runs the `invoke` command with `args` (the words after `invoke`) and
/// returns the process exit code: 0 on success, 1 with an `error:` line on
/// stderr otherwise. See the [module docs](self).
///
/// Meant for a process that exits right after: it replaces the panic hook
/// (a panic is reported as the `error:` line instead) and installs a
/// `tracing` subscriber writing to stderr if none is installed.
pub async fn main(function: impl Into<Function>, args: &[OsString]) -> i32 {
    // Panics that reach here are reported as one `error:` line below; the
    // default hook's multi-line message would only add noise.
    std::panic::set_hook(Box::new(|_| {}));
    let function = function.into().metrics_to_stderr();
    let result = AssertUnwindSafe(run(&function, args)).catch_unwind().await;
    // The log lines still waiting go before the `error:` line.
    crate::logs::flush();
    let outcome = match result {
        Ok(r) => r,
        Err(panic) => Err(format!("panic: {}", panic_message(&*panic))),
    };
    match outcome {
        Ok(()) => 0,
        Err(e) => {
            let one_line = e.replace('\n', " ");
            let _ = writeln!(std::io::stderr().lock(), "error: {one_line}");
            1
        }
    }
}

async fn run(function: &Function, args: &[OsString]) -> Result<(), String> {
    let args = parse(args)?;
    init_local_logs(&args.log_level)?;
    let function = function.clone().with_env().map_err(|e| e.to_string())?;
    let payload = read_input(&args.input)?;
    let mut inv = Invocation::new("local");
    if let Some(left) = args.deadline {
        inv = inv.with_deadline(tokio::time::Instant::now() + left);
    }
    // A Step Functions output is written as the handler serialized it.
    let response = crate::invoke::invoke_response(&function, &payload, inv)
        .await
        .map_err(|e| e.to_string())?;
    crate::logs::flush();
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &response)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            writeln!(out)
                .and_then(|()| out.flush())
                .map_err(|e| e.to_string())
        })
        .map_err(|e| format!("cannot write the response: {e}"))
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a non-string panic payload)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn options_in_any_order_and_both_spellings() {
        let a = parse(&os(&[
            "--deadline-ms",
            "250",
            "ev.json",
            "--log-level=debug",
        ]))
        .unwrap();
        assert_eq!(a.input, "ev.json");
        assert_eq!(a.deadline, Some(Duration::from_millis(250)));
        assert_eq!(a.log_level, "debug");
        let a = parse(&os(&["-"])).unwrap();
        assert_eq!((a.input.to_str(), a.deadline), (Some("-"), None));
    }

    #[test]
    fn bad_arguments_are_one_line_errors() {
        assert!(parse(&os(&[])).unwrap_err().starts_with("no input given"));
        assert!(parse(&os(&["a", "b"]))
            .unwrap_err()
            .starts_with("more than one input"));
        assert!(parse(&os(&["a", "--deadline-ms"]))
            .unwrap_err()
            .contains("needs"));
        assert!(parse(&os(&["a", "--deadline-ms", "soon"]))
            .unwrap_err()
            .contains("`soon`"));
        assert!(parse(&os(&["a", "--frobnicate"]))
            .unwrap_err()
            .starts_with("unknown option"));
        assert!(parse(&os(&["a", "--log-level", "loud"]))
            .map(|a| init_local_logs(&a.log_level))
            .unwrap()
            .is_err());
    }
}
