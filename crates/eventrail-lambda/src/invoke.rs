//! One invocation, without the Lambda runtime: detect, process, respond.
//!
//! [`invoke`] is the whole path a Lambda invocation takes, minus the Runtime
//! API: [`detect`](crate::detect()) the source, run the records through
//! [`App::run`], log a [`Summary`] line and build the response with
//! [`respond_to`](crate::respond_to) (with the function's [whole-batch
//! failure policy](crate::WholeBatchFailure)). [`run`](crate::run()) and the local
//! `invoke` command both call it, and tests can too.
//!
//! ```
//! use eventrail::app::Invocation;
//! use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
//!
//! #[derive(Debug, serde::Deserialize)]
//! struct Greet { name: String }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let app = App::builder(
//!     Router::new().sqs("type", "GREET").to::<Greet>(),
//!     Bus::builder()
//!         .on(handler_fn(|g: Envelope<Greet>| async move {
//!             if g.name.is_empty() {
//!                 return Err(HandlerError::permanent("no name"));
//!             }
//!             Ok(())
//!         }))
//!         .build(),
//! )
//! .build()
//! .unwrap();
//!
//! let payload = br#"{"Records": [
//!     {"eventSource": "aws:sqs", "messageId": "m-1", "body": "{\"type\":\"GREET\",\"name\":\"Ada\"}"},
//!     {"eventSource": "aws:sqs", "messageId": "m-2", "body": "{\"type\":\"GREET\",\"name\":\"\"}"}
//! ]}"#;
//! let response = eventrail_lambda::invoke(&app, payload, Invocation::default()).await.unwrap();
//! assert_eq!(response, serde_json::json!({"batchItemFailures": [{"itemIdentifier": "m-2"}]}));
//! # }
//! ```

use std::time::Duration;

use eventrail::app::{Counts, Invocation, Report};
use eventrail::metrics::{InvocationMetrics, Unit};
use eventrail::{App, Source};
use serde_json::Value;
use tokio::time::Instant;

use crate::detect::{detect, Detected};
use crate::error::InvokeError;
use crate::function::Function;
use crate::response::{kept_for, respond_inner, Response};

/// Processes one raw payload and builds the Lambda response. See the
/// [module docs](self).
///
/// Takes an `&App` (the defaults) or a [`Function`] (a whole-batch failure
/// policy, metrics). With metrics on, one metrics line is written once the
/// response is built; a payload that is unusable writes none (Lambda counts
/// the invocation error).
///
/// Fails when the payload is unusable ([`InvokeError::is_bad_payload`]), when
/// records of an asynchronous source failed, when a Step Functions task
/// failed, or when every record of an SQS or stream batch failed under
/// [`WholeBatchFailure::FailInvocation`](crate::WholeBatchFailure::FailInvocation).
/// Other failures of SQS and stream batches are inside the `Ok` response.
pub async fn invoke(
    function: impl Into<Function>,
    payload: &[u8],
    inv: Invocation,
) -> Result<Value, InvokeError> {
    invoke_response(function, payload, inv)
        .await
        .map(Response::into_value)
}

/// [`invoke`], answering a Step Functions task with its output as the
/// handler serialized it (the runtime and the local command write it out
/// as is; a `Value` would sort its keys).
pub(crate) async fn invoke_response(
    function: impl Into<Function>,
    payload: &[u8],
    inv: Invocation,
) -> Result<Response, InvokeError> {
    let function = function.into();
    let started = Instant::now();
    // An unusable payload is the caller's to report: the runtime logs it,
    // the local command prints it as its one `error:` line.
    let detected = detect(payload)?;
    // The report stays here: its outputs are serialized, and its records'
    // outcomes kept, only where the answer is made of them.
    let (outputs, outcomes) = kept_for(detected.source());
    let inv = inv.with_outputs(outputs).with_outcomes(outcomes);
    let report = function.app().process_raw(detected.raw(), &inv).await;
    let duration = started.elapsed();
    let config = function.config();
    let counts = report.counts();
    let summary = Summary::from_counts(report.source, &counts, duration);
    let response = respond_inner(
        &report,
        Some(detected.raw()),
        config.whole_batch,
        config.missing_keys,
    );
    summary.log(&inv, config.whole_batch, response.as_ref().err());
    if let Some(emf) = &config.metrics {
        let failed = if response.is_err() { 1.0 } else { 0.0 };
        let mut m =
            InvocationMetrics::from_counts(report.source, counts, duration, config.clock.now())
                .handler_metrics(report.handler_metrics())
                .metric("InvocationFailed", failed, Unit::Count)
                .property("WholeBatchFailure", config.whole_batch.as_str());
        if let Some(id) = inv.request_id.as_deref() {
            m = m.request_id(id);
        }
        config.write_metrics(&emf.line(&m));
    }
    response
}

/// Like [`invoke`], for a payload already parsed as JSON (a test's or a
/// tool's; the runtime path hands over the raw bytes).
pub async fn invoke_value(
    function: impl Into<Function>,
    payload: Value,
    inv: Invocation,
) -> Result<Value, InvokeError> {
    let bytes = serde_json::to_vec(&payload).map_err(InvokeError::NotJson)?;
    invoke(function, &bytes, inv).await
}

/// Runs the records of a detected payload through the app, each decoded
/// once by the factory; malformed records fail in their place (so a
/// malformed record stops the rest of its FIFO group or stream like any
/// other failure).
pub async fn process(app: &App, detected: Detected<'_>, inv: &Invocation) -> Report {
    app.process_raw(detected.raw(), inv).await
}

/// The numbers of one invocation, logged as one line at INFO.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// The source.
    pub source: Source,
    /// Input records.
    pub records: usize,
    /// Records done (acknowledged unmatched ones included).
    pub done: usize,
    /// Records failed (reported for redelivery, or counted in the invocation error).
    pub failed: usize,
    /// Records a retry layer attempted more than once.
    pub retried: usize,
    /// Records an idempotency layer answered from a stored result
    /// ([`Report::duplicates`]).
    pub duplicates: usize,
    /// How long processing took.
    pub duration: Duration,
}

impl Summary {
    /// The summary of a report that took `duration`.
    pub fn new(report: &Report, duration: Duration) -> Self {
        Self::from_counts(report.source, &report.counts(), duration)
    }

    /// The summary of a batch whose counts ([`Report::counts`]) are taken.
    pub fn from_counts(source: Source, counts: &Counts, duration: Duration) -> Self {
        Self {
            source,
            records: counts.records,
            done: counts.done,
            failed: counts.failed,
            retried: counts.retried,
            duplicates: counts.duplicates,
            duration,
        }
    }

    fn log(
        &self,
        inv: &Invocation,
        whole_batch: crate::WholeBatchFailure,
        error: Option<&InvokeError>,
    ) {
        tracing::info!(
            request_id = inv.request_id.as_deref().unwrap_or("-"),
            source = %self.source,
            records = self.records,
            done = self.done,
            failed = self.failed,
            retried = self.retried,
            duplicates = self.duplicates,
            duration_ms = self.duration.as_millis() as u64,
            whole_batch_failure = whole_batch.as_str(),
            error = error.map(tracing::field::display),
            "invocation summary"
        );
    }
}
