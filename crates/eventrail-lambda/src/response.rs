//! The Lambda response for a processed batch.
//!
//! [`respond`] turns a [`Report`] into what the function answers:
//!
//! | source | response |
//! |---|---|
//! | SQS (standard and FIFO) | `{"batchItemFailures":[{"itemIdentifier": messageId}, ..]}`, exactly the failed records, in input order |
//! | DynamoDB Streams, Kinesis | `{"batchItemFailures":[{"itemIdentifier": sequenceNumber}]}` with the **first** failed record only: the checkpoint the stream resumes from |
//! | Kafka (MSK, self-managed) | `{"batchItemFailures":[{"itemIdentifier": {"partition": "orders-0", "offset": 42}}, ..]}`, every failed record, in input order (see [Kafka](#kafka)) |
//! | Step Functions | the handler's output (the task result); a failure is an invocation error |
//! | S3, SNS, EventBridge | `null`; if any record failed, an invocation error naming how many |
//!
//! An SQS, stream or Kafka batch whose records all failed is still answered with
//! the list (never an invocation error, so Lambda's per-record accounting
//! keeps working), and logged at ERROR. For a stream the list is the
//! checkpoint alone in that case too: Lambda resumes from the lowest
//! sequence number reported, so naming the records after it changes nothing.
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
//! ## Kafka
//!
//! Lambda names a Kafka record by its topic-partition (the key it groups
//! the batch's records under) and its offset, the offset a number. The
//! [`App`](eventrail::App) runs each partition in order and stops it at its
//! first failure, so the records after it are failed too (not started) and
//! reported with it. A malformed record whose topic, partition or offset
//! cannot be read is reported with a `null` identifier, which Lambda answers
//! by retrying the whole batch: nothing is lost.
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

/// Builds the Lambda response for a report. See the [module docs](self).
pub fn respond(report: &Report) -> Result<Value, InvokeError> {
    let total = report.outcomes.len();
    let failed = report.failed();
    match report.source {
        Source::Sqs => {
            log_all_failed(report, failed);
            Ok(batch_item_failures(report.failed_ids()))
        }
        Source::Kafka => {
            log_all_failed(report, failed);
            let items: Vec<Value> = report
                .failed_ids()
                .map(|id| match eventrail::source::kafka::item_identifier(id) {
                    Some((partition, offset)) => json!({
                        "itemIdentifier": {"partition": partition, "offset": offset}
                    }),
                    None => json!({ "itemIdentifier": null }),
                })
                .collect();
            Ok(json!({ "batchItemFailures": items }))
        }
        Source::DynamoDb | Source::Kinesis => {
            log_all_failed(report, failed);
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
            let first = report
                .outcomes
                .iter()
                .find(|o| o.is_failed())
                .map(describe_failure)
                .unwrap_or_default();
            Err(InvokeError::RecordsFailed {
                event_source: source,
                failed,
                total,
                first,
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

fn log_all_failed(report: &Report, failed: usize) {
    if failed > 0 && failed == report.outcomes.len() {
        let first = report
            .outcomes
            .first()
            .map(describe_failure)
            .unwrap_or_default();
        tracing::error!(
            source = %report.source,
            records = failed,
            first_failure = %first,
            "every record of the batch failed; all are reported for redelivery"
        );
    }
}
