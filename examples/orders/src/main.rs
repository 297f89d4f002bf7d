//! The order app as a Lambda function, and its demo.
//!
//! Run with
//!
//! ```sh
//! # the demo: a mixed stream of the bundled events (examples/orders/events)
//! # through the app on in-memory backends, and a report of what each handler did
//! cargo run -p example-orders
//!
//! # one event file, as Lambda would process it, on eventrail's local
//! # backends: prints the response; `--log-level info` shows what each
//! # handler sent to SNS, SES, S3 and Step Functions
//! cargo run -p example-orders -- invoke examples/orders/events/sfn-process-order.json
//!
//! # the same on the real AWS clients (region, credentials, AWS_ENDPOINT_URL and
//! # the ORDERS_* variables of examples/orders/README.md from the environment)
//! cargo run -p example-orders -- invoke --aws examples/orders/events/sqs-notifications.json
//! ```
//!
//! Under a Lambda Runtime API (`AWS_LAMBDA_RUNTIME_API` set) it serves with
//! the real AWS clients. Built with `--no-default-features` (what
//! `template.yaml` deploys) it has no demo and no local backends: only
//! Lambda and `invoke --aws`; `--no-default-features --features local` adds
//! `invoke FILE` on the local backends (no testkit, no tokio `test-util`).

use std::ffi::OsString;
use std::process::ExitCode;

use example_orders::{app, Journal};

const USAGE: &str = "usage: example-orders                      the demo (feature `demo`)
       example-orders invoke [--aws] FILE|- [--deadline-ms N] [--log-level LEVEL]
                                     (without --aws: feature `local`)";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let under_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    match args.first().and_then(|a| a.to_str()) {
        Some("invoke") => {
            let mut rest: Vec<OsString> = args[1..].to_vec();
            let aws = rest.iter().any(|a| a == "--aws");
            rest.retain(|a| a != "--aws");
            if aws {
                exit(real_runtime().and_then(|rt| rt.block_on(invoke_aws(&rest))))
            } else {
                exit(real_runtime().and_then(|rt| rt.block_on(invoke_local(&rest))))
            }
        }
        None if under_lambda => exit(real_runtime().and_then(|rt| rt.block_on(serve()))),
        None => exit(demo()),
        Some(_) => fail(USAGE),
    }
}

fn exit(code: Result<i32, String>) -> ExitCode {
    match code {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => fail(&e),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {}", message.replace('\n', " "));
    ExitCode::FAILURE
}

/// One thread: an [`App`](eventrail::App) runs a batch's records
/// concurrently on the task that calls it, so more worker threads would add
/// only their cost (every allocation takes a lock once a second thread
/// exists, and wake-ups cross threads), not parallelism.
fn real_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))
}

/// Lambda: the real clients, configured from the environment.
async fn serve() -> Result<i32, String> {
    let ports = example_orders::aws::ports().await?;
    eventrail_lambda::run(app(&ports, &Journal::counts_only()))
        .await
        .map(|()| 0)
        .map_err(|e| e.to_string())
}

/// `invoke --aws`: the adapter's local invoke on the real clients.
async fn invoke_aws(args: &[OsString]) -> Result<i32, String> {
    let ports = example_orders::aws::ports().await?;
    Ok(eventrail_lambda::local::main(&app(&ports, &Journal::counts_only()), args).await)
}

/// `invoke`: the adapter's local invoke on eventrail's local backends, on
/// the real clock (retries wait their backoff; durations are real).
#[cfg(feature = "local")]
async fn invoke_local(args: &[OsString]) -> Result<i32, String> {
    // Nobody looks at what the backends were sent: they keep no history.
    let local = eventrail::local::LocalBackends::without_history();
    let ports = example_orders::local::ports(&local);
    let app = app(&ports, &Journal::counts_only());
    let code = eventrail_lambda::local::main(&app, args).await;
    // The process exits next: freeing every call the local backends
    // recorded and every idempotency record, one by one, would only cost
    // time (a tenth of a 10 000-record run).
    std::mem::forget((app, ports, local));
    Ok(code)
}

#[cfg(not(feature = "local"))]
async fn invoke_local(_: &[OsString]) -> Result<i32, String> {
    Err("this build has no local backends (feature `local`); use `invoke --aws FILE`".into())
}

/// A runtime on tokio's paused clock: the demo's retries back off without
/// waiting.
#[cfg(feature = "demo")]
fn paused_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))
}

#[cfg(feature = "demo")]
fn demo() -> Result<i32, String> {
    use std::io::Write;
    let report = paused_runtime()?.block_on(example_orders::demo::run());
    let mut out = std::io::stdout().lock();
    match out
        .write_all(report.to_string().as_bytes())
        .and_then(|()| out.flush())
    {
        Ok(()) => Ok(0),
        // The reader went away (`| head`): nothing left to tell it.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(format!("cannot write the report: {e}")),
    }
}

#[cfg(not(feature = "demo"))]
fn demo() -> Result<i32, String> {
    Err(format!("this build has no demo (feature `demo`)\n{USAGE}"))
}
