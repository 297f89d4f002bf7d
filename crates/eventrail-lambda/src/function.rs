//! A function: an app plus how the adapter answers and reports for it.
//!
//! [`Function`] wraps an [`App`] with the adapter's own settings:
//!
//! - the [whole-batch failure policy](WholeBatchFailure): what an SQS,
//!   DynamoDB or Kinesis batch whose records **all** failed is answered with;
//! - what S3 Batch Operations makes of a task the response has no result
//!   for ([`Function::treat_missing_keys_as`], `treatMissingKeysAs`);
//! - [metrics](eventrail::metrics): one CloudWatch embedded metric format
//!   line per invocation, enabled in code with [`Function::metrics`] or with
//!   `EVENTRAIL_METRICS=emf` in the function's environment
//!   ([`Function::with_env`], which [`run`](crate::run()) applies).
//!
//! [`run`](crate::run()) and [`invoke`](crate::invoke()) take a `Function` or
//! an `&App` (the defaults: every failed item reported, no metrics).
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use eventrail::app::Invocation;
//! use eventrail::metrics::Emf;
//! use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
//! use eventrail_lambda::{Function, WholeBatchFailure};
//!
//! #[derive(Debug, serde::Deserialize)]
//! struct Greet { name: String }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let app = App::builder(
//!     Router::new().sqs("type", "GREET").to::<Greet>(),
//!     Bus::builder()
//!         .on(handler_fn(|_: Envelope<Greet>| async { Err::<(), _>(HandlerError::retryable("down")) }))
//!         .build(),
//! )
//! .build()
//! .unwrap();
//! let lines = Arc::new(Mutex::new(Vec::new()));
//! let sink = Arc::clone(&lines);
//! let function = Function::new(app)
//!     .whole_batch_failure(WholeBatchFailure::FailInvocation)
//!     .metrics(Emf::new("Greetings").unwrap().function_name("greeter"))
//!     .metrics_sink(move |line| sink.lock().unwrap().push(line.to_owned()));
//!
//! let payload = br#"{"Records": [
//!     {"eventSource": "aws:sqs", "messageId": "m-1", "body": "{\"type\":\"GREET\",\"name\":\"Ada\"}"}
//! ]}"#;
//! // Every record failed: the invocation fails, so Lambda's Errors metric sees it.
//! let err = eventrail_lambda::invoke(&function, payload, Invocation::default()).await.unwrap_err();
//! assert_eq!(err.error_type(), "Eventrail.RecordsFailed");
//!
//! let line: serde_json::Value = serde_json::from_str(&lines.lock().unwrap()[0]).unwrap();
//! assert_eq!((line["Failed"].as_u64(), line["InvocationFailed"].as_f64()), (Some(1), Some(1.0)));
//! assert_eq!(line["WholeBatchFailure"], "fail-invocation");
//! # }
//! ```

use std::fmt;
use std::io::Write;
use std::sync::{Arc, OnceLock};

use eventrail::metrics::{Emf, EmfError};
use eventrail::ports::{Clock, SystemClock};
use eventrail::source::s3_batch::ResultCode;
use eventrail::App;

/// What an SQS or stream batch whose records all failed is answered with.
/// See the [module docs](self).
///
/// With partial batch responses, a function that fails records still
/// returns successfully, so Lambda's `Errors` metric (and alarms on it) stay
/// at zero however many records fail. `FailInvocation` makes a batch that
/// failed entirely an invocation error: Lambda counts it in `Errors` and
/// retries the whole batch, which is what reporting every record asks for
/// anyway. A batch with at least one record done is always answered with
/// the list of failed items, and a failed record is never answered with an
/// empty list.
///
/// FIFO queues: after a failure, the rest of its message group is not
/// started and is reported failed too; when the batch holds one group, a
/// failure of its first record therefore fails the whole batch, and with
/// `FailInvocation` the invocation. The same holds for a stream shard
/// (DynamoDB, Kinesis), whose response names only the first failed record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WholeBatchFailure {
    /// Answer with every failed item (the checkpoint for a stream), as for a
    /// partial failure; the batch is logged at ERROR. The default.
    #[default]
    ReportItems,
    /// Fail the invocation (`Eventrail.RecordsFailed`), so Lambda's `Errors`
    /// metric and its retry (or on-failure destination) apply.
    FailInvocation,
}

impl WholeBatchFailure {
    /// A short, stable name: `report-items` or `fail-invocation`.
    pub fn as_str(self) -> &'static str {
        match self {
            WholeBatchFailure::ReportItems => "report-items",
            WholeBatchFailure::FailInvocation => "fail-invocation",
        }
    }
}

impl fmt::Display for WholeBatchFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where metrics lines go.
#[derive(Clone)]
pub(crate) enum Sink {
    Stdout,
    Stderr,
    Custom(Arc<dyn Fn(&str) + Send + Sync>),
}

impl Sink {
    fn write(&self, line: &str) {
        // One write per line, so the line never interleaves with a log line.
        let mut buf = String::with_capacity(line.len() + 1);
        buf.push_str(line);
        buf.push('\n');
        let written = match self {
            Sink::Stdout => std::io::stdout().lock().write_all(buf.as_bytes()),
            Sink::Stderr => std::io::stderr().lock().write_all(buf.as_bytes()),
            Sink::Custom(f) => {
                f(line);
                Ok(())
            }
        };
        if let Err(e) = written {
            tracing::error!(error = %e, "could not write the metrics line");
        }
    }
}

#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) whole_batch: WholeBatchFailure,
    pub(crate) missing_keys: ResultCode,
    pub(crate) metrics: Option<Emf>,
    sink: Sink,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Config {
    pub(crate) fn write_metrics(&self, line: &str) {
        self.sink.write(line);
    }
}

fn default_config() -> Arc<Config> {
    static DEFAULT: OnceLock<Arc<Config>> = OnceLock::new();
    Arc::clone(DEFAULT.get_or_init(|| {
        Arc::new(Config {
            whole_batch: WholeBatchFailure::default(),
            missing_keys: ResultCode::PermanentFailure,
            metrics: None,
            sink: Sink::Stdout,
            clock: Arc::new(SystemClock),
        })
    }))
}

/// An app with the adapter's settings. See the [module docs](self).
///
/// Cloning is cheap.
#[derive(Clone)]
pub struct Function {
    app: App,
    config: Arc<Config>,
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Function")
            .field("app", &self.app)
            .field("whole_batch_failure", &self.config.whole_batch)
            .field("treat_missing_keys_as", &self.config.missing_keys)
            .field("metrics", &self.config.metrics)
            .finish_non_exhaustive()
    }
}

impl Function {
    /// `app` with the defaults: every failed item reported, no metrics.
    pub fn new(app: App) -> Self {
        Self {
            app,
            config: default_config(),
        }
    }

    /// Sets the [whole-batch failure policy](WholeBatchFailure).
    pub fn whole_batch_failure(mut self, policy: WholeBatchFailure) -> Self {
        Arc::make_mut(&mut self.config).whole_batch = policy;
        self
    }

    /// Sets the `treatMissingKeysAs` of S3 Batch Operations responses: the
    /// result code S3 gives a task of the invocation that the response has
    /// no result for. Default: `PermanentFailure`.
    ///
    /// Every task gets a result under its `taskId`, so only a task whose
    /// `taskId` could not be read (a malformed task, answered under `""`)
    /// is missing: `PermanentFailure` fails it, `TemporaryFailure` has S3
    /// try it again before the job completes, and `Succeeded` counts it as
    /// done without it having run (which drops it: choose it only when that
    /// is what the job wants). See [`crate::response`] for the wire format
    /// and where it was checked.
    ///
    /// ```
    /// use eventrail::source::s3_batch::ResultCode;
    /// use eventrail::{App, Bus, Router};
    /// use eventrail_lambda::Function;
    ///
    /// let app = App::builder(Router::new(), Bus::builder().build()).build().unwrap();
    /// let function = Function::new(app).treat_missing_keys_as(ResultCode::TemporaryFailure);
    /// assert_eq!(function.missing_keys_result(), ResultCode::TemporaryFailure);
    /// ```
    pub fn treat_missing_keys_as(mut self, code: ResultCode) -> Self {
        Arc::make_mut(&mut self.config).missing_keys = code;
        self
    }

    /// Writes one metrics line per invocation (see [`eventrail::metrics`]).
    /// Without a function name, `emf` takes `AWS_LAMBDA_FUNCTION_NAME`, or
    /// else the binary's name.
    pub fn metrics(mut self, emf: Emf) -> Self {
        let emf = if emf.has_function_name() {
            emf
        } else {
            emf.function_name(function_name())
        };
        Arc::make_mut(&mut self.config).metrics = Some(emf);
        self
    }

    /// Writes no metrics line.
    pub fn without_metrics(mut self) -> Self {
        Arc::make_mut(&mut self.config).metrics = None;
        self
    }

    /// Hands each metrics line (without its line break) to `sink` instead
    /// of writing it to stdout.
    pub fn metrics_sink(mut self, sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Arc::make_mut(&mut self.config).sink = Sink::Custom(Arc::new(sink));
        self
    }

    /// Metrics lines go to stderr (the local `invoke` command, whose stdout
    /// is the response), unless a sink was set.
    pub(crate) fn metrics_to_stderr(mut self) -> Self {
        if matches!(self.config.sink, Sink::Stdout) {
            Arc::make_mut(&mut self.config).sink = Sink::Stderr;
        }
        self
    }

    /// The clock that stamps metrics lines (`_aws.Timestamp`). Default: the
    /// system clock.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        Arc::make_mut(&mut self.config).clock = Arc::new(clock);
        self
    }

    /// Applies the environment: `EVENTRAIL_METRICS=emf` turns metrics on
    /// (in `EVENTRAIL_METRICS_NAMESPACE`, default `eventrail`) unless they
    /// are configured in code already; `EVENTRAIL_METRICS=off` turns them off
    /// even then. Unset, the code's choice stands.
    ///
    /// # Errors
    ///
    /// An unknown `EVENTRAIL_METRICS` value or an unusable namespace.
    pub fn with_env(self) -> Result<Self, EmfError> {
        let value = std::env::var(eventrail::metrics::METRICS_ENV).ok();
        let namespace = std::env::var(eventrail::metrics::NAMESPACE_ENV).ok();
        self.with_vars(value.as_deref(), namespace.as_deref())
    }

    /// [`with_env`](Self::with_env) on given values.
    pub fn with_vars(
        self,
        metrics: Option<&str>,
        namespace: Option<&str>,
    ) -> Result<Self, EmfError> {
        let asked = Emf::from_vars(metrics, namespace)?;
        let off = metrics.is_some_and(|v| v.trim().eq_ignore_ascii_case("off"));
        Ok(match asked {
            Some(emf) if self.config.metrics.is_none() => self.metrics(emf),
            None if off => self.without_metrics(),
            _ => self,
        })
    }

    /// The app.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The whole-batch failure policy.
    pub fn policy(&self) -> WholeBatchFailure {
        self.config.whole_batch
    }

    /// The `treatMissingKeysAs` of S3 Batch Operations responses (see
    /// [`Function::treat_missing_keys_as`]).
    pub fn missing_keys_result(&self) -> ResultCode {
        self.config.missing_keys
    }

    /// The metrics configuration, if metrics are on.
    pub fn metrics_config(&self) -> Option<&Emf> {
        self.config.metrics.as_ref()
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// One line for the startup log: the policy and the metrics setting.
    pub fn settings(&self) -> String {
        let metrics = match &self.config.metrics {
            Some(emf) => format!(
                "emf (namespace {}, dimensions {})",
                emf.namespace(),
                emf.dimension_keys().collect::<Vec<_>>().join("+")
            ),
            None => "off".into(),
        };
        format!(
            "whole-batch failure: {}; metrics: {metrics}",
            self.config.whole_batch
        )
    }
}

/// The settings line, then the app's route table.
impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.settings())?;
        write!(f, "{}", self.app.routes())
    }
}

impl From<App> for Function {
    fn from(app: App) -> Self {
        Function::new(app)
    }
}

impl From<&App> for Function {
    fn from(app: &App) -> Self {
        Function::new(app.clone())
    }
}

impl From<&Function> for Function {
    fn from(f: &Function) -> Self {
        f.clone()
    }
}

fn function_name() -> String {
    std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            std::env::args_os()
                .next()
                .map(std::path::PathBuf::from)
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        })
        .unwrap_or_else(|| "unknown".into())
}
