//! Serving an app under the Lambda Runtime API.

use std::ffi::OsString;

use eventrail::app::Invocation;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::value::RawValue;

use crate::function::Function;
use crate::invoke::invoke_response;

/// The environment variables the Lambda runtime needs; Lambda and the
/// emulators set them.
const REQUIRED_ENV: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

/// Serves a [`Function`] (or an [`App`](eventrail::App) with the defaults)
/// under the Lambda Runtime API, or runs the local `invoke` command when the
/// binary was started as `BINARY invoke ...`.
///
/// At start it applies the environment ([`Function::with_env`]:
/// `EVENTRAIL_METRICS=emf` turns metrics on) and logs one line with the
/// whole-batch failure policy, the metrics setting and the route table.
///
/// On Lambda, every invocation goes through [`invoke`](crate::invoke()): the source is
/// detected, the records processed, one summary line logged and the response
/// built (see [`response`](crate::response)). The invocation's deadline is
/// read from `Lambda-Runtime-Deadline-Ms` by
/// [`deadline::from_epoch_ms`](crate::deadline::from_epoch_ms): one already
/// past leaves no time for any record, one that cannot be real (as local
/// emulators send) is ignored. Logs are JSON lines on stdout,
/// at the level of `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` (default `info`),
/// unless the application installed its own `tracing` subscriber first;
/// they are written in blocks, every line of an invocation before its
/// response (see [Logs](crate#logs)).
///
/// Started as `BINARY invoke FILE|- [--deadline-ms N] [--log-level LEVEL]`,
/// it processes one event and exits the process instead of returning: see
/// [`local`](crate::local).
///
/// # Errors
///
/// When the Lambda environment is missing (the binary was started outside
/// Lambda without `invoke`), `EVENTRAIL_METRICS` has an unknown value, or the
/// runtime fails to talk to the Runtime API.
///
/// ```no_run
/// # use eventrail::{App, Bus, Router};
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), lambda_runtime::Error> {
///     let app = App::builder(Router::new(), Bus::builder().build()).build()?;
///     eventrail_lambda::run(app).await
/// }
/// ```
pub async fn run(function: impl Into<Function>) -> Result<(), lambda_runtime::Error> {
    let function: Function = function.into();
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == "invoke") {
        let code = crate::local::main(function, &args[1..]).await;
        std::process::exit(code);
    }
    let missing: Vec<&str> = REQUIRED_ENV
        .iter()
        .copied()
        .filter(|v| std::env::var_os(v).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "not running under a Lambda Runtime API ({} not set); to process one event locally, run `{} invoke FILE`",
            missing.join(", "),
            program_name()
        )
        .into());
    }
    let function = function.with_env()?;
    init_lambda_logs();
    tracing::info!(
        whole_batch_failure = function.policy().as_str(),
        metrics = function.metrics_config().map_or("off", |_| "emf"),
        settings = %function.settings(),
        routes = %function.app().routes(),
        "eventrail function ready"
    );
    crate::logs::flush();
    // The payload is kept as the runtime received it: the records are read
    // from it once, without a JSON tree in between.
    let handler = service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let function = function.clone();
        async move {
            let (payload, ctx) = event.into_parts();
            let mut inv = Invocation::new(ctx.request_id.as_str());
            inv.deadline = crate::deadline::from_epoch_ms(ctx.deadline);
            let response = invoke_response(&function, payload.get().as_bytes(), inv)
                .await
                .inspect_err(|e| {
                    if e.is_bad_payload() {
                        tracing::error!(error = %e, "unusable payload");
                    }
                });
            // Every line of the invocation is out before its answer.
            crate::logs::flush();
            response
        }
    });
    lambda_runtime::run(handler).await
}

fn program_name() -> String {
    std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "BINARY".into())
}

/// JSON logs on stdout (in blocks, see the crate docs), level from
/// `AWS_LAMBDA_LOG_LEVEL`, then `RUST_LOG`, then `info`. Does nothing if a
/// subscriber is already installed.
fn init_lambda_logs() {
    use tracing_subscriber::EnvFilter;
    let directives = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let filter = EnvFilter::builder()
        .with_default_directive(tracing::Level::INFO.into())
        .parse_lossy(directives.to_ascii_lowercase());
    let installed = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_target(false)
        .with_current_span(false)
        .with_writer(crate::logs::STDOUT.configure_from_env())
        .try_init();
    if installed.is_ok() {
        crate::logs::flush_on_panic();
    }
}
