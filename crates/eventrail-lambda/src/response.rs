//! The Lambda response for a processed batch.
//!
//! [`respond`] turns a [`Report`] into what the function answers:
//!
//! | source | response |
//! |---|---|
//! | SQS (standard and FIFO) | `{"batchItemFailures":[{"itemIdentifier": messageId}, ..]}`, exactly the failed records, in input order |
//! | DynamoDB Streams, Kinesis | `{"batchItemFailures":[{"itemIdentifier": sequenceNumber}]}` with the **first** failed record only: the checkpoint the stream resumes from |
//! | Step Functions | the handler's output (the task result); a failure is an invocation error |
//! | S3, SNS, EventBridge | `null`; if any record failed, an invocation error naming how many |
//!
//! An SQS or stream batch whose records all failed is answered as the
//! [`WholeBatchFailure`] policy says ([`respond_with`]): by default still
//! with the list (for a stream, the checkpoint alone: Lambda resumes from
//! the lowest sequence number reported, so naming the records after it
//! changes nothing), or with an invocation error
//! (`Eventrail.RecordsFailed`) that Lambda's `Errors` metric counts. Either
//! way it is logged at ERROR, and a batch with a failed record is never
//! answered with an empty list.
//!
//! Requires the event source mapping to have `ReportBatchItemFailures` turned
//! on; without it Lambda ignores the list and treats the invocation as a success.
//!
//! ## Stream checkpoints
//!
//! Lambda resumes a DynamoDB or Kinesis shard from the reported sequence
//! number: that record and everything after it is delivered again. The
//! [`App`](eventrail::App) processes stream records in order and does not
//! start records after the first failure of their stream, so reporting that
//! record alone is exact. Records after it that did run (none, with the
//! default ordering) are delivered again; idempotency covers them.
//!
//! ```
//! use eventrail::app::{Failure, RecordOutcome, Report, Status};
//! use eventrail::error::Retry;
//! use eventrail::{Metadata, Source};
//!
//! let outcome = |id: &str, ok: bool| RecordOutcome {
//!     meta: Metadata::new(id, Source::Sqs),
//!     status: if ok {
//!         Status::Done(serde_json::Value::Null)
//!     } else {
//!         Status::Failed(Failure { error: "boom".into(), retry: Retry::Retryable, attempted: true })
//!     },
//! };
//! let report = Report { source: Source::Sqs, outcomes: vec![outcome("a", true), outcome("b", false)] };
//! let response = eventrail_lambda::respond(&report).unwrap();
//! assert_eq!(response, serde_json::json!({"batchItemFailures": [{"itemIdentifier": "b"}]}));
//! ```

use eventrail::app::{RecordOutcome, Report, Status};
use eventrail::Source;
use serde_json::{json, Value};

use crate::error::InvokeError;
use crate::function::WholeBatchFailure;

/// Builds the Lambda response for a report, with the default
/// [whole-batch failure policy](WholeBatchFailure::ReportItems). See the
/// [module docs](self).
pub fn respond(report: &Report) -> Result<Value, InvokeError> {
    respond_with(report, WholeBatchFailure::ReportItems)
}

/// Builds the Lambda response for a report; an SQS or stream batch whose
/// records all failed is answered as `policy` says. See the [module docs](self).
pub fn respond_with(report: &Report, policy: WholeBatchFailure) -> Result<Value, InvokeError> {
    let total = report.outcomes.len();
    let failed = report.failed();
    match report.source {
        Source::Sqs | Source::DynamoDb | Source::Kinesis
            if failed > 0 && failed == total && policy == WholeBatchFailure::FailInvocation =>
        {
            log_all_failed(report, failed, policy);
            Err(InvokeError::RecordsFailed {
                event_source: report.source,
                failed,
                total,
                first: first_failure(report),
            })
        }
        Source::Sqs => {
            log_all_failed(report, failed, policy);
            Ok(batch_item_failures(report.failed_ids()))
        }
        Source::DynamoDb | Source::Kinesis => {
            log_all_failed(report, failed, policy);
            let checkpoint = report.failed_ids().next();
            Ok(batch_item_failures(checkpoint))
        }
        Source::StepFunctions => match report.outcomes.first().map(|o| &o.status) {
            Some(Status::Done(output)) => Ok(output.clone()),
            Some(Status::Failed(f)) => Err(InvokeError::TaskFailed {
                error: f.error.to_string(),
                retryable: f.retry.is_retryable(),
            }),
            // No record, or an acknowledged unmatched one.
            _ => Ok(Value::Null),
        },
        source => {
            if failed == 0 {
                return Ok(Value::Null);
            }
            Err(InvokeError::RecordsFailed {
                event_source: source,
                failed,
                total,
                first: first_failure(report),
            })
        }
    }
}

fn batch_item_failures<'a>(ids: impl IntoIterator<Item = &'a str>) -> Value {
    let items: Vec<Value> = ids
        .into_iter()
        .map(|id| json!({ "itemIdentifier": id }))
        .collect();
    json!({ "batchItemFailures": items })
}

fn describe_failure(o: &RecordOutcome) -> String {
    match &o.status {
        Status::Failed(f) => format!("{}: {}", o.record_id(), f.error),
        _ => o.record_id().to_owned(),
    }
}

fn first_failure(report: &Report) -> String {
    report
        .outcomes
        .iter()
        .find(|o| o.is_failed())
        .map(describe_failure)
        .unwrap_or_default()
}

fn log_all_failed(report: &Report, failed: usize, policy: WholeBatchFailure) {
    if failed > 0 && failed == report.outcomes.len() {
        let first = first_failure(report);
        let answer = match policy {
            WholeBatchFailure::FailInvocation => "the invocation fails",
            _ => "all are reported for redelivery",
        };
        tracing::error!(
            source = %report.source,
            records = failed,
            first_failure = %first,
            whole_batch_failure = policy.as_str(),
            "every record of the batch failed; {answer}"
        );
    }
}
