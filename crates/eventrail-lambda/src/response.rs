#![doc = include_str!("docs/response.md")]

use eventrail::app::{Outcomes, RecordOutcome, Report, Status};
use eventrail::bus::{Output, Outputs};
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
        .map(Response::into_value)
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
    .map(Response::into_value)
}

/// Builds the Lambda response for a report; an SQS, stream or Kafka batch
/// whose records all failed is answered as `policy` says. See the
/// [module docs](self).
pub fn respond_with(report: &Report, policy: WholeBatchFailure) -> Result<Value, InvokeError> {
    respond_inner(report, None, policy, MISSING_KEYS).map(Response::into_value)
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

/// What the answer to a batch from `source` needs of its records: the
/// handlers' outputs and every record's outcome where the answer is made
/// of them (a Step Functions task's output, S3 Batch Operations' result
/// strings, Firehose's transformed records). Every other source answers
/// with failed record ids at most, so its outputs are not serialized and
/// only its failed records' outcomes are kept.
pub(crate) fn kept_for(source: Source) -> (Outputs, Outcomes) {
    match source {
        Source::StepFunctions | Source::S3Batch | Source::Firehose => {
            (Outputs::Keep, Outcomes::All)
        }
        _ => (Outputs::Discard, Outcomes::Failures),
    }
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
) -> Result<Response, InvokeError> {
    if report.source == Source::StepFunctions {
        if let Some(Status::Done(output)) = report.outcomes.first().map(|o| &o.status) {
            return Ok(Response::Output(output.clone()));
        }
    }
    respond_json(report, event, policy, missing).map(Response::Json)
}

fn respond_json(
    report: &Report,
    event: Option<&RawEvent<'_>>,
    policy: WholeBatchFailure,
    missing: ResultCode,
) -> Result<Value, InvokeError> {
    let total = report.records();
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
    if failed > 0 && failed == report.records() {
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
