//! One invocation, without the Lambda runtime: detect, process, respond.
//!
//! [`invoke`] is the whole path a Lambda invocation takes, minus the Runtime
//! API: [`detect`](crate::detect()) the source, run the records through
//! [`App::run`], log a [`Summary`] line and build the response with
//! [`respond`](crate::respond()). [`run`](crate::run()) and the local
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

use eventrail::app::{Invocation, Report};
use eventrail::{App, Source};
use serde_json::Value;
use tokio::time::Instant;

use crate::detect::{detect, detect_value, Detected};
use crate::error::InvokeError;
use crate::response::respond;

/// Processes one raw payload and builds the Lambda response. See the
/// [module docs](self).
///
/// Fails when the payload is unusable ([`InvokeError::is_bad_payload`]), when
/// records of an asynchronous source failed, or when a Step Functions task failed.
/// Partial failures of SQS and stream batches are inside the `Ok` response.
pub async fn invoke(app: &App, payload: &[u8], inv: Invocation) -> Result<Value, InvokeError> {
    let started = Instant::now();
    let detected = detect(payload).inspect_err(log_bad_payload)?;
    finish(app, detected, &inv, started).await
}

/// Like [`invoke`], for a payload already parsed as JSON (what the Lambda
/// runtime hands over).
pub async fn invoke_value(
    app: &App,
    payload: Value,
    inv: Invocation,
) -> Result<Value, InvokeError> {
    let started = Instant::now();
    let detected = detect_value(payload).inspect_err(log_bad_payload)?;
    finish(app, detected, &inv, started).await
}

fn log_bad_payload(e: &InvokeError) {
    tracing::error!(error = %e, "unusable payload");
}

async fn finish(
    app: &App,
    detected: Detected,
    inv: &Invocation,
    started: Instant,
) -> Result<Value, InvokeError> {
    let report = process(app, detected, inv).await;
    let summary = Summary::new(&report, started.elapsed());
    let response = respond(&report);
    summary.log(inv, response.as_ref().err());
    response
}

/// Runs the records of a detected payload through the app: the well-formed
/// ones through the factory, the malformed ones as failures, all in input
/// order (so a malformed record stops the rest of its FIFO group or stream
/// like any other failure).
pub async fn process(app: &App, detected: Detected, inv: &Invocation) -> Report {
    let source = detected.source();
    let (event, malformed) = detected.into_parts();
    match event {
        Some(event) if malformed.is_empty() => app.process(event, inv).await,
        event => {
            let good = event.map(|e| app.transform(e)).unwrap_or_default();
            let total = good.len() + malformed.len();
            let mut good = good.into_iter();
            let mut bad = malformed.into_iter().peekable();
            let mut routed = Vec::with_capacity(total);
            for i in 0..total {
                if let Some(m) = bad.next_if(|m| m.index() == i) {
                    routed.push(m.into_routed());
                } else if let Some(r) = good.next() {
                    routed.push(r);
                }
            }
            // `transform` returns one output per well-formed record, so both
            // are used up here; whatever is left still gets an outcome.
            routed.extend(bad.map(|m| m.into_routed()));
            routed.extend(good);
            let outcomes = app.run(routed, inv).await;
            Report { source, outcomes }
        }
    }
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
        Self {
            source: report.source,
            records: report.outcomes.len(),
            done: report.done(),
            failed: report.failed(),
            retried: report.retried(),
            duplicates: report.duplicates(),
            duration,
        }
    }

    fn log(&self, inv: &Invocation, error: Option<&InvokeError>) {
        tracing::info!(
            request_id = inv.request_id.as_deref().unwrap_or("-"),
            source = %self.source,
            records = self.records,
            done = self.done,
            failed = self.failed,
            retried = self.retried,
            duplicates = self.duplicates,
            duration_ms = self.duration.as_millis() as u64,
            error = error.map(tracing::field::display),
            "invocation summary"
        );
    }
}
