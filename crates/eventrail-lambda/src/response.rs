//! The Lambda response for a processed batch.
//!
//! [`respond`] turns a [`Report`] into what the function answers:
//!
//! | source | response |
//! |---|---|
//! | SQS (standard and FIFO) | `{"batchItemFailures":[{"itemIdentifier": messageId}, ..]}`, exactly the failed records, in input order |
//! | DynamoDB Streams, Kinesis | `{"batchItemFailures":[{"itemIdentifier": sequenceNumber}]}` with the **first** failed record only: the checkpoint the stream resumes from |
//! | Kafka (MSK, self-managed) | `{"batchItemFailures":[{"itemIdentifier": {"partition": "orders-0", "offset": 42}}, ..]}`, every failed record, in input order (see [Kafka](#kafka)) |
//! | S3 Batch Operations | one result per task: `Succeeded`, `TemporaryFailure` (retryable failure) or `PermanentFailure`, with `invocationId` and `invocationSchemaVersion` echoed (see [S3 Batch Operations](#s3-batch-operations)) |
//! | Firehose transformation | one entry per record: `Ok` (the handler's output, base64, as the data), `Dropped` or `ProcessingFailed` (see [Firehose](#firehose)) |
//! | Step Functions | the handler's output (the task result); a failure is an invocation error |
//! | S3, SNS, EventBridge | `null`; if any record failed, an invocation error naming how many |
//!
//! An SQS, stream or Kafka batch whose records all failed is answered as the
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
//! Sources whose response echoes the payload (S3 Batch Operations, Firehose) are
//! answered by [`respond_to`], which takes the payload too; [`invoke`](crate::invoke())
//! calls it. [`respond`] answers them with [`InvokeError::NeedsPayload`].
//!
//! ## S3 Batch Operations
//!
//! Every task gets a result. A task done is `Succeeded`, its `resultString`
//! the handler's output (a JSON string as is, other JSON as text, nothing
//! for `null`); a failed one is `TemporaryFailure` when a retry can help (S3
//! tries the task again before the job completes) and `PermanentFailure`
//! otherwise, its `resultString` the error. Result strings are cut to
//! [`RESULT_STRING_MAX_BYTES`](eventrail::source::s3_batch::RESULT_STRING_MAX_BYTES).
//! `treatMissingKeysAs` is `PermanentFailure`: a task S3 finds no result
//! for (a malformed task without a readable `taskId`) fails instead of
//! passing unseen.
//!
//! ## Firehose
//!
//! Every record gets an entry under its `recordId`. A record done is `Ok`:
//! its data is what the handler returned (a [`Transformation`] as it
//! says, a JSON string as its text, other JSON as JSON text, nothing or
//! `null` the original data), with `metadata.partitionKeys` when the
//! transformation names any. A transformation that drops the record is
//! `Dropped`. A failed record, retryable or not, is `ProcessingFailed` with
//! its original data (Firehose sends it to the error output); an unmatched
//! record the app acknowledges is `Ok`, unchanged. Records read from MSK
//! are answered in `kafkaRecordValue` instead of `data`, as they came.
//!
//! ## Kafka
//!
//! Lambda names a Kafka record by its topic-partition (the key it groups
//! the batch's records under) and its offset, the offset a number, and
//! resumes each reported partition from the lowest offset reported. The
//! [`App`](eventrail::App) runs each partition in order and stops it at its
//! first failure, so the records after it are failed too (not started) and
//! reported with it. A malformed record whose topic, partition or offset
//! cannot be read is reported with a `null` identifier, which Lambda answers
//! by retrying the whole batch: nothing is lost.
//!
//! ```
//! use eventrail::app::{Failure, RecordOutcome, Report, Status};
//! use eventrail::error::ErrorClass;
//! use eventrail::{Metadata, Source};
//!
//! let outcome = |id: &str, ok: bool| RecordOutcome {
//!     meta: Metadata::new(id, Source::Sqs),
//!     status: if ok {
//!         Status::Done(eventrail::bus::Output::null())
//!     } else {
//!         Status::Failed(Failure { error: "boom".into(), retry: ErrorClass::Retryable, attempted: true })
//!     },
//! };
//! let report = Report { source: Source::Sqs, outcomes: vec![outcome("a", true), outcome("b", false)] };
//! let response = eventrail_lambda::respond(&report).unwrap();
//! assert_eq!(response, serde_json::json!({"batchItemFailures": [{"itemIdentifier": "b"}]}));
//! ```

use eventrail::app::{RecordOutcome, Report, Status};
use eventrail::bus::Output;
use eventrail::source::firehose::{self, Transformation, TRANSFORMATION_KEY};
use eventrail::source::s3_batch::{self, ResultCode};
use eventrail::source::RawEvent;
use eventrail::Source;
use serde_json::{json, Value};

use crate::error::InvokeError;
use crate::function::WholeBatchFailure;

/// Builds the Lambda response for a report, with the default
/// [whole-batch failure policy](WholeBatchFailure::ReportItems). See the
/// [module docs](self).
///
/// Sources whose response echoes the payload (S3 Batch Operations,
/// Firehose) fail with [`InvokeError::NeedsPayload`]: use [`respond_to`].
pub fn respond(report: &Report) -> Result<Value, InvokeError> {
    respond_inner(report, None, WholeBatchFailure::ReportItems).map(Response::into_value)
}

/// Builds the Lambda response for a report of `event`'s records, reading
/// from the payload what the response echoes, with the default
/// [whole-batch failure policy](WholeBatchFailure::ReportItems). See the
/// [module docs](self).
pub fn respond_to(report: &Report, event: &RawEvent<'_>) -> Result<Value, InvokeError> {
    respond_inner(report, Some(event), WholeBatchFailure::ReportItems).map(Response::into_value)
}

/// Builds the Lambda response for a report; an SQS, stream or Kafka batch
/// whose records all failed is answered as `policy` says. See the
/// [module docs](self).
pub fn respond_with(report: &Report, policy: WholeBatchFailure) -> Result<Value, InvokeError> {
    respond_inner(report, None, policy).map(Response::into_value)
}

/// A Lambda response: built here as a `Value`, or a Step Functions task's
/// output as its handler serialized it (fields in the handler's order, as
/// `SendTaskSuccess` sends them).
#[derive(Clone, Debug)]
pub(crate) enum Response {
    Json(Value),
    Output(Output),
}

impl Response {
    pub(crate) fn into_value(self) -> Value {
        match self {
            Response::Json(v) => v,
            Response::Output(o) => o.into_value(),
        }
    }
}

impl serde::Serialize for Response {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Response::Json(v) => v.serialize(serializer),
            Response::Output(o) => o.serialize(serializer),
        }
    }
}

/// The response to `report`, reading from `event` (where given) what the
/// response echoes, answering a wholly failed batch as `policy` says.
pub(crate) fn respond_inner(
    report: &Report,
    event: Option<&RawEvent<'_>>,
    policy: WholeBatchFailure,
) -> Result<Response, InvokeError> {
    if report.source == Source::StepFunctions {
        if let Some(Status::Done(output)) = report.outcomes.first().map(|o| &o.status) {
            return Ok(Response::Output(output.clone()));
        }
    }
    respond_json(report, event, policy).map(Response::Json)
}

fn respond_json(
    report: &Report,
    event: Option<&RawEvent<'_>>,
    policy: WholeBatchFailure,
) -> Result<Value, InvokeError> {
    let total = report.outcomes.len();
    let failed = report.failed();
    match report.source {
        Source::Sqs | Source::DynamoDb | Source::Kinesis | Source::Kafka
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
        Source::Kafka => {
            log_all_failed(report, failed, policy);
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
            log_all_failed(report, failed, policy);
            let checkpoint = report.failed_ids().next();
            Ok(batch_item_failures(checkpoint))
        }
        Source::Firehose => {
            let event = event.ok_or(InvokeError::NeedsPayload {
                event_source: Source::Firehose,
            })?;
            Ok(firehose_response(report, event))
        }
        Source::S3Batch => {
            let event = event.ok_or(InvokeError::NeedsPayload {
                event_source: Source::S3Batch,
            })?;
            Ok(s3_batch_response(report, event))
        }
        Source::StepFunctions => match report.outcomes.first().map(|o| &o.status) {
            Some(Status::Done(output)) => Ok(output.value().clone()),
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

fn s3_batch_response(report: &Report, event: &RawEvent<'_>) -> Value {
    let invocation = s3_batch::envelope(event.payload());
    let results: Vec<Value> = report
        .outcomes
        .iter()
        .map(|o| {
            let (code, text) = match &o.status {
                Status::Done(output) => (ResultCode::Succeeded, output_text(output)),
                Status::Acknowledged => (
                    ResultCode::Succeeded,
                    "no route matched; acknowledged".to_owned(),
                ),
                Status::Failed(f) if f.retry.is_retryable() => {
                    (ResultCode::TemporaryFailure, f.error.to_string())
                }
                Status::Failed(f) => (ResultCode::PermanentFailure, f.error.to_string()),
                // `Status` may grow; anything new is not known to be done.
                _ => (ResultCode::TemporaryFailure, String::new()),
            };
            json!({
                "taskId": o.record_id(),
                "resultCode": code.as_str(),
                "resultString": s3_batch::result_string(&text),
            })
        })
        .collect();
    json!({
        "invocationSchemaVersion": invocation.invocation_schema_version,
        "treatMissingKeysAs": ResultCode::PermanentFailure.as_str(),
        "invocationId": invocation.invocation_id,
        "results": results,
    })
}

fn firehose_response(report: &Report, event: &RawEvent<'_>) -> Value {
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    struct Original {
        data: Option<String>,
        kafka_record_value: Option<String>,
    }
    let records: Vec<Value> = report
        .outcomes
        .iter()
        .zip(event.records())
        .map(|(o, raw)| {
            let original: Original = serde_json::from_str(raw).unwrap_or_default();
            let (field, original_data) = match (original.data, original.kafka_record_value) {
                (None, Some(v)) => ("kafkaRecordValue", v),
                (d, _) => ("data", d.unwrap_or_default()),
            };
            let failed = |what: &str| {
                tracing::warn!(
                    record_id = o.record_id(),
                    "{what}; answered ProcessingFailed"
                );
                ("ProcessingFailed", original_data.clone(), None)
            };
            let (result, data, keys) = match &o.status {
                Status::Done(output) if output.get(TRANSFORMATION_KEY).is_some() => {
                    match Transformation::from_output(output.value()) {
                        Some(t) if t.is_dropped() => (
                            "Dropped",
                            original_data.clone(),
                            Some(t.partition_keys().clone()),
                        ),
                        Some(t) => (
                            "Ok",
                            t.new_data()
                                .map_or_else(|| original_data.clone(), firehose::encode),
                            Some(t.partition_keys().clone()),
                        ),
                        None => failed("the handler's Firehose transformation does not read back"),
                    }
                }
                Status::Done(output) if output.is_null() => ("Ok", original_data.clone(), None),
                Status::Acknowledged => ("Ok", original_data.clone(), None),
                Status::Done(output) => {
                    ("Ok", firehose::encode(output_text(output).as_bytes()), None)
                }
                Status::Failed(_) => ("ProcessingFailed", original_data.clone(), None),
                _ => failed("unknown record status"),
            };
            let mut entry = json!({ "recordId": o.record_id(), "result": result, field: data });
            if let Some(keys) = keys.filter(|k| !k.is_empty()) {
                entry["metadata"] = json!({ "partitionKeys": keys });
            }
            entry
        })
        .collect();
    json!({ "records": records })
}

/// A handler's output as text: a JSON string as is, `null` as nothing,
/// other JSON as JSON text.
fn output_text(output: &Output) -> String {
    match output.value() {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
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
