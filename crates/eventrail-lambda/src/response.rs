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
//! [`RESULT_STRING_MAX_BYTES`](eventrail::source::s3_batch::RESULT_STRING_MAX_BYTES)
//! (a bound of ours: AWS documents none, see there).
//! `treatMissingKeysAs` is the result code S3 gives a task of the invocation
//! that has no result in `results`; only a malformed task whose `taskId`
//! cannot be read (answered under `""`) is in that case. It is
//! `PermanentFailure` unless the [`Function`](crate::Function) says otherwise
//! ([`Function::treat_missing_keys_as`](crate::Function::treat_missing_keys_as):
//! `Succeeded`, `TemporaryFailure` or `PermanentFailure`), so such a task
//! fails instead of passing unseen.
//!
//! Checked against the Amazon S3 User Guide, "Invoke AWS Lambda function"
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html>:
//! the request of schemas 1.0 and 2.0, the response fields
//! `invocationSchemaVersion`, `treatMissingKeysAs`, `invocationId`,
//! `results[].taskId`, `resultCode`, `resultString`, and what each result
//! code does), the Lambda Developer Guide's
//! <https://docs.aws.amazon.com/lambda/latest/dg/services-s3-batch.html>,
//! `LambdaInvokeOperation` in the S3 Control API reference
//! (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_LambdaInvokeOperation.html>:
//! schema 2.0 for `UserArguments` and directory buckets), and the
//! `S3BatchResultResultCode` type of `@types/aws-lambda` (`trigger/s3-batch.d.ts`),
//! which gives `treatMissingKeysAs` the three result codes as its values.
//!
//! ```
//! use eventrail::app::Invocation;
//! use eventrail::source::s3_batch::{ResultCode, S3BatchTask};
//! use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
//! use eventrail_lambda::Function;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let bus = Bus::builder()
//!     .on(handler_fn(|t: Envelope<S3BatchTask>| async move {
//!         match t.key.rsplit('.').next() {
//!             Some("tmp") => Err(HandlerError::retryable("still being written")),
//!             Some("exe") => Err(HandlerError::permanent("not a document")),
//!             _ => Ok(format!("indexed {}", t.key)),
//!         }
//!     }))
//!     .build();
//! let app = App::builder(Router::new().s3_batch().to::<S3BatchTask>(), bus).build().unwrap();
//! let function = Function::new(app).treat_missing_keys_as(ResultCode::TemporaryFailure);
//! let task = |id: &str, key: &str| serde_json::json!(
//!     {"taskId": id, "s3Key": key, "s3VersionId": null, "s3Bucket": "docs"});
//! let payload = serde_json::json!({
//!     "invocationSchemaVersion": "2.0", "invocationId": "aW52LTE",
//!     "job": {"id": "job-1", "userArguments": {}},
//!     "tasks": [task("t-1", "a+b.pdf"), task("t-2", "c.tmp"), task("t-3", "d.exe")],
//! });
//! let response = eventrail_lambda::invoke_value(&function, payload, Invocation::default())
//!     .await
//!     .unwrap();
//! assert_eq!(response, serde_json::json!({
//!     "invocationSchemaVersion": "2.0",
//!     "treatMissingKeysAs": "TemporaryFailure",
//!     "invocationId": "aW52LTE",
//!     "results": [
//!         {"taskId": "t-1", "resultCode": "Succeeded", "resultString": "indexed a b.pdf"},
//!         {"taskId": "t-2", "resultCode": "TemporaryFailure", "resultString": "still being written"},
//!         {"taskId": "t-3", "resultCode": "PermanentFailure", "resultString": "not a document"},
//!     ],
//! }));
//! # }
//! ```
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
//! Checked against the Amazon Data Firehose Developer Guide: "Required
//! parameters for data transformation"
//! (<https://docs.aws.amazon.com/firehose/latest/dev/data-transformation-status-model.html>:
//! `recordId`, `result` `Ok` / `Dropped` / `ProcessingFailed`, `data`
//! base64, `kafkaRecordValue` for MSK sources), "Handle failure in data
//! transformation" (`data-transformation-failure-handling.html`: failed
//! records go to the `processing-failed` prefix) and "Understand
//! partitioning keys" (<https://docs.aws.amazon.com/firehose/latest/dev/dynamic-partitioning-partitioning-keys.html>:
//! keys returned by the Lambda function under `metadata.partitionKeys`).
//!
//! ```
//! use eventrail::app::Invocation;
//! use eventrail::source::firehose::{encode, Transformation};
//! use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
//!
//! #[derive(Debug, serde::Deserialize)]
//! struct Log { level: String, msg: String }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let bus = Bus::builder()
//!     .on(handler_fn(|l: Envelope<Log>| async move {
//!         match l.level.as_str() {
//!             "debug" => Ok(Transformation::dropped()),
//!             "" => Err(HandlerError::permanent("no level")),
//!             level => Ok(Transformation::data(format!("{level} {}\n", l.msg))
//!                 .partition_key("level", level)),
//!         }
//!     }))
//!     .build();
//! let app = App::builder(Router::new().firehose_all().to::<Log>(), bus).build().unwrap();
//! let record = |id: &str, data: &str| serde_json::json!(
//!     {"recordId": id, "approximateArrivalTimestamp": 1767225600000u64, "data": encode(data.as_bytes())});
//! let payload = serde_json::json!({
//!     "invocationId": "inv-1",
//!     "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/logs",
//!     "region": "us-east-1",
//!     "records": [
//!         record("r-1", r#"{"level":"warn","msg":"disk"}"#),
//!         record("r-2", r#"{"level":"debug","msg":"tick"}"#),
//!         record("r-3", r#"{"level":"","msg":"?"}"#),
//!         record("r-4", "not json"),
//!     ],
//! });
//! let response = eventrail_lambda::invoke_value(&app, payload.clone(), Invocation::default())
//!     .await
//!     .unwrap();
//! let original = |i: usize| payload["records"][i]["data"].clone();
//! assert_eq!(response, serde_json::json!({"records": [
//!     {"recordId": "r-1", "result": "Ok", "data": encode(b"warn disk\n"),
//!      "metadata": {"partitionKeys": {"level": "warn"}}},
//!     {"recordId": "r-2", "result": "Dropped", "data": original(1)},
//!     {"recordId": "r-3", "result": "ProcessingFailed", "data": original(2)},
//!     {"recordId": "r-4", "result": "ProcessingFailed", "data": original(3)},
//! ]}));
//! # }
//! ```
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
//! Checked against the Lambda Developer Guide's "Configuring error handling
//! controls for Kafka event sources"
//! (<https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html>:
//! `ReportBatchItemFailures` for MSK and self-managed Kafka), the Kafka
//! identifier of Powertools for AWS Lambda (Python), `KafkaItemIdentifier`
//! (`partition`: the topic-partition string, `offset`: a number; pull
//! request aws-powertools/powertools-lambda-python#7941), and the
//! `KafkaItemIdentifier` proposed for `aws_lambda_events`
//! (aws/aws-lambda-rust-runtime#1164).
//!
//! ```
//! use eventrail::app::Invocation;
//! use eventrail::source::firehose::encode;
//! use eventrail::source::kafka::KafkaMessage;
//! use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
//!
//! #[derive(Debug, serde::Deserialize)]
//! struct Order { id: u32 }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let bus = Bus::builder()
//!     .on(handler_fn(|o: Envelope<KafkaMessage<Order>>| async move {
//!         if o.id == 2 {
//!             return Err(HandlerError::retryable("stock service down"));
//!         }
//!         Ok(())
//!     }))
//!     .build();
//! let app = App::builder(Router::new().kafka().topic("orders").to::<Order>(), bus)
//!     .build()
//!     .unwrap();
//! let record = |partition: u32, offset: u32, value: &str| serde_json::json!({
//!     "topic": "orders", "partition": partition, "offset": offset,
//!     "timestamp": 1767225600000u64, "timestampType": "CREATE_TIME",
//!     "key": null, "value": encode(value.as_bytes()), "headers": []});
//! let payload = serde_json::json!({
//!     "eventSource": "aws:kafka",
//!     "eventSourceArn": "arn:aws:kafka:us-east-1:123456789012:cluster/shop/1",
//!     "records": {
//!         // Offset 8 fails, so offset 9 of the same partition is not started.
//!         "orders-0": [record(0, 7, r#"{"id":1}"#), record(0, 8, r#"{"id":2}"#), record(0, 9, r#"{"id":3}"#)],
//!         "orders-1": [record(1, 3, r#"{"id":4}"#)],
//!     },
//! });
//! let response = eventrail_lambda::invoke_value(&app, payload, Invocation::default())
//!     .await
//!     .unwrap();
//! assert_eq!(response, serde_json::json!({"batchItemFailures": [
//!     {"itemIdentifier": {"partition": "orders-0", "offset": 8}},
//!     {"itemIdentifier": {"partition": "orders-0", "offset": 9}},
//! ]}));
//! # }
//! ```
//!
//! ```
//! use eventrail::app::{Failure, RecordOutcome, Report, Status};
//! use eventrail::error::ErrorClass;
//! use eventrail::{Metadata, Source};
//!
//! let outcome = |id: &str, ok: bool| RecordOutcome {
//!     meta: Metadata::new(id, Source::Sqs),
//!     status: if ok {
//!         Status::Done(serde_json::Value::Null)
//!     } else {
//!         Status::Failed(Failure { error: "boom".into(), retry: ErrorClass::Retryable, attempted: true })
//!     },
//! };
//! let report = Report { source: Source::Sqs, outcomes: vec![outcome("a", true), outcome("b", false)] };
//! let response = eventrail_lambda::respond(&report).unwrap();
//! assert_eq!(response, serde_json::json!({"batchItemFailures": [{"itemIdentifier": "b"}]}));
//! ```

use eventrail::app::{RecordOutcome, Report, Status};
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
    respond_inner(report, None, WholeBatchFailure::ReportItems, MISSING_KEYS)
}

/// Builds the Lambda response for a report of `event`'s records, reading
/// from the payload what the response echoes, with the default
/// [whole-batch failure policy](WholeBatchFailure::ReportItems). See the
/// [module docs](self).
pub fn respond_to(report: &Report, event: &RawEvent<'_>) -> Result<Value, InvokeError> {
    respond_inner(
        report,
        Some(event),
        WholeBatchFailure::ReportItems,
        MISSING_KEYS,
    )
}

/// Builds the Lambda response for a report; an SQS, stream or Kafka batch
/// whose records all failed is answered as `policy` says. See the
/// [module docs](self).
pub fn respond_with(report: &Report, policy: WholeBatchFailure) -> Result<Value, InvokeError> {
    respond_inner(report, None, policy, MISSING_KEYS)
}

/// The default `treatMissingKeysAs` (see [`Function::treat_missing_keys_as`](crate::Function::treat_missing_keys_as)).
const MISSING_KEYS: ResultCode = ResultCode::PermanentFailure;

/// The response to `report`, reading from `event` (where given) what the
/// response echoes, answering a wholly failed batch as `policy` says and
/// telling S3 Batch Operations to treat a task without a result as `missing`.
pub(crate) fn respond_inner(
    report: &Report,
    event: Option<&RawEvent<'_>>,
    policy: WholeBatchFailure,
    missing: ResultCode,
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
            Ok(s3_batch_response(report, event, missing))
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

fn s3_batch_response(report: &Report, event: &RawEvent<'_>, missing: ResultCode) -> Value {
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
        "treatMissingKeysAs": missing.as_str(),
        "invocationId": invocation.invocation_id,
        "results": results,
    })
}

fn firehose_response(report: &Report, event: &RawEvent<'_>) -> Value {
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    struct Original {
        data: Option<Value>,
        kafka_record_value: Option<Value>,
    }
    fn text(v: Option<Value>) -> String {
        match v {
            Some(Value::String(s)) => s,
            _ => String::new(),
        }
    }
    // A stream that reads from MSK is answered in `kafkaRecordValue`, even
    // for a record that lacks it.
    let from_msk = firehose::envelope(event.payload()).source_msk_arn.is_some();
    let records: Vec<Value> = report
        .outcomes
        .iter()
        .zip(event.records())
        .map(|(o, raw)| {
            let original: Original = serde_json::from_str(raw).unwrap_or_default();
            let (field, original_data) = match (original.data, original.kafka_record_value) {
                (None, Some(v)) => ("kafkaRecordValue", text(Some(v))),
                (None, None) if from_msk => ("kafkaRecordValue", String::new()),
                (d, _) => ("data", text(d)),
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
                    match Transformation::from_output(output) {
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
                Status::Done(Value::Null) | Status::Acknowledged => {
                    ("Ok", original_data.clone(), None)
                }
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
fn output_text(output: &Value) -> String {
    match output {
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
