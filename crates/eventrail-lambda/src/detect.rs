//! Source detection: which AWS service sent a raw payload.
//!
//! [`detect`] parses the payload once into a `serde_json::Value`, recognises
//! the source from its shape, and moves each record into its
//! `aws_lambda_events` type. Records are converted one by one: a record that
//! does not have its source's shape becomes a [`MalformedRecord`] that fails
//! alone, and the rest of the batch is processed. Record bodies (an SQS
//! `body`, a DynamoDB image, a Kinesis `data`) are not decoded here: the
//! app's factory decodes them, per record.
//!
//! | payload | source |
//! |---|---|
//! | `Records` with `eventSource` `aws:sqs` (or records with `messageId` and `body`) | SQS |
//! | `Records` with `EventSource` `aws:sns` (or records with `Sns`) | SNS |
//! | `Records` with `eventSource` `aws:s3` (or records with `s3`) | S3 |
//! | `Records` with `eventSource` `aws:dynamodb` (or records with `dynamodb`) | DynamoDB Streams |
//! | `Records` with `eventSource` `aws:kinesis` (or records with `kinesis`) | Kinesis |
//! | an object with `source` and `detail-type` | EventBridge |
//! | an object with a string `type` or a `taskToken` | Step Functions task input |
//!
//! Anything else is [`InvokeError::UnknownSource`], naming what was seen.
//!
//! ```
//! use eventrail::Source;
//! use eventrail_lambda::detect;
//!
//! let payload = br#"{"Records": [
//!     {"eventSource": "aws:sqs", "messageId": "m-1", "body": "{}"},
//!     {"eventSource": "aws:sqs", "messageId": 7}
//! ]}"#;
//! let detected = detect(payload).unwrap();
//! assert_eq!(detected.source(), Source::Sqs);
//! assert_eq!(detected.records(), 2);
//! // The second record's messageId is not a string: it fails alone.
//! assert_eq!(detected.malformed()[0].index(), 1);
//!
//! let err = detect(br#"{"hello": "world"}"#).unwrap_err();
//! assert_eq!(err.to_string(), "no event source detected: the payload is a JSON object with keys `hello`");
//! ```

use std::fmt;

use eventrail::app::SourceEvent;
use eventrail::aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use eventrail::aws_lambda_events::event::kinesis::KinesisEvent;
use eventrail::aws_lambda_events::event::s3::S3Event;
use eventrail::aws_lambda_events::event::sns::SnsEvent;
use eventrail::aws_lambda_events::event::sqs::SqsEvent;
use eventrail::error::RecordError;
use eventrail::factory::{Record, Routed, StepFunctionInput};
use eventrail::Source;
use serde_json::{Map, Value};

use crate::error::InvokeError;

/// A payload whose source was recognised. See the [module docs](self).
#[derive(Debug)]
pub struct Detected {
    source: Source,
    event: Option<SourceEvent>,
    malformed: Vec<MalformedRecord>,
    records: usize,
}

impl Detected {
    /// The source.
    pub fn source(&self) -> Source {
        self.source
    }

    /// The number of input records, malformed ones included.
    pub fn records(&self) -> usize {
        self.records
    }

    /// The well-formed records, as the typed event (`None` when the only
    /// record of an EventBridge event was malformed).
    pub fn event(&self) -> Option<&SourceEvent> {
        self.event.as_ref()
    }

    /// The records that do not have their source's shape, in input order.
    pub fn malformed(&self) -> &[MalformedRecord] {
        &self.malformed
    }

    /// Takes the parts: the typed event and the malformed records.
    pub fn into_parts(self) -> (Option<SourceEvent>, Vec<MalformedRecord>) {
        (self.event, self.malformed)
    }
}

/// An input record that does not have its source's shape. It is reported
/// failed (permanent, bad input) under the id and order key read from the
/// raw record, where present.
///
/// A malformed SQS record without a `messageId` is reported with an empty
/// item identifier, which Lambda answers by retrying the whole batch:
/// nothing is lost.
#[derive(Clone, Debug)]
pub struct MalformedRecord {
    index: usize,
    source: Source,
    record_id: String,
    order_key: Option<String>,
    reason: String,
}

impl MalformedRecord {
    /// The record's position in the input.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The record id read from the raw record (empty if there was none).
    pub fn record_id(&self) -> &str {
        &self.record_id
    }

    /// The order key read from the raw record (FIFO message group, stream).
    pub fn order_key(&self) -> Option<&str> {
        self.order_key.as_deref()
    }

    /// Why the record could not be read.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The record as a failed [`Routed`], ready for
    /// [`App::run`](eventrail::App::run).
    pub fn into_routed(self) -> Routed {
        let mut record = Record::new(self.record_id, self.source);
        if let Some(key) = self.order_key {
            record = record.with_order_key(key);
        }
        let msg = format!(
            "the {} record does not have its source's shape",
            self.source
        );
        record.fail(RecordError::bad_input(msg).with_source(self.reason))
    }
}

/// Detects the source of a raw payload. See the [module docs](self).
///
/// Fails when the payload is empty, not UTF-8, not JSON, or of no known source.
pub fn detect(payload: &[u8]) -> Result<Detected, InvokeError> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Err(InvokeError::Empty);
    }
    let text = std::str::from_utf8(payload).map_err(|e| InvokeError::NotUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    let value: Value = serde_json::from_str(text).map_err(InvokeError::NotJson)?;
    detect_value(value)
}

/// Detects the source of a payload already parsed as JSON (what the Lambda
/// runtime hands over). See the [module docs](self).
pub fn detect_value(value: Value) -> Result<Detected, InvokeError> {
    let mut map = match value {
        Value::Object(map) => map,
        other => {
            return Err(InvokeError::UnknownSource {
                seen: describe(&other),
            })
        }
    };
    if let Some(records) = map.remove("Records") {
        let Value::Array(records) = records else {
            return Err(unknown(format!(
                "an object whose `Records` is {}",
                describe(&records)
            )));
        };
        return detect_records(records);
    }
    if map.contains_key("detail-type") && map.contains_key("source") {
        let id = str_at(&map, &["id"]).unwrap_or_default();
        return Ok(match serde_json::from_value(Value::Object(map)) {
            Ok(event) => single(Source::EventBridge, SourceEvent::EventBridge(event)),
            Err(e) => Detected {
                source: Source::EventBridge,
                event: None,
                malformed: vec![MalformedRecord {
                    index: 0,
                    source: Source::EventBridge,
                    record_id: id,
                    order_key: None,
                    reason: e.to_string(),
                }],
                records: 1,
            },
        });
    }
    if map.get("type").is_some_and(Value::is_string) || map.contains_key("taskToken") {
        let input = StepFunctionInput::from_json(Value::Object(map));
        return Ok(single(
            Source::StepFunctions,
            SourceEvent::StepFunction(input),
        ));
    }
    Err(unknown(describe(&Value::Object(map))))
}

fn single(source: Source, event: SourceEvent) -> Detected {
    Detected {
        source,
        event: Some(event),
        malformed: Vec::new(),
        records: 1,
    }
}

fn unknown(seen: String) -> InvokeError {
    InvokeError::UnknownSource { seen }
}

/// A short description of a JSON value, for error messages.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "`null`".into(),
        Value::Bool(_) => "a JSON boolean".into(),
        Value::Number(_) => "a JSON number".into(),
        Value::String(_) => "a JSON string".into(),
        Value::Array(a) if a.is_empty() => "an empty JSON array".into(),
        Value::Array(_) => "a JSON array".into(),
        Value::Object(m) if m.is_empty() => "an empty JSON object".into(),
        Value::Object(m) => format!("a JSON object with keys {}", keys(m)),
    }
}

fn keys(m: &Map<String, Value>) -> String {
    const SHOWN: usize = 8;
    let mut out: Vec<String> = m.keys().take(SHOWN).map(|k| format!("`{k}`")).collect();
    if m.len() > SHOWN {
        out.push(format!("and {} more", m.len() - SHOWN));
    }
    out.join(", ")
}

fn str_at(v: &Map<String, Value>, path: &[&str]) -> Option<String> {
    let (first, rest) = path.split_first()?;
    let mut cur = v.get(*first)?;
    for p in rest {
        cur = cur.get(p)?;
    }
    cur.as_str().map(str::to_owned)
}

fn record_str(v: &Value, path: &[&str]) -> Option<String> {
    v.as_object().and_then(|m| str_at(m, path))
}

/// The kind of a batch record, from its `eventSource` or its shape.
fn record_kind(v: &Value) -> Option<Source> {
    let m = v.as_object()?;
    let declared = m
        .get("eventSource")
        .or_else(|| m.get("EventSource"))
        .and_then(Value::as_str);
    match declared {
        Some("aws:sqs") => return Some(Source::Sqs),
        Some("aws:sns") => return Some(Source::Sns),
        Some("aws:s3") => return Some(Source::S3),
        Some("aws:dynamodb") => return Some(Source::DynamoDb),
        Some("aws:kinesis") => return Some(Source::Kinesis),
        Some(_) => return None,
        None => {}
    }
    if m.contains_key("Sns") {
        Some(Source::Sns)
    } else if m.contains_key("s3") {
        Some(Source::S3)
    } else if m.contains_key("dynamodb") {
        Some(Source::DynamoDb)
    } else if m.contains_key("kinesis") {
        Some(Source::Kinesis)
    } else if m.contains_key("messageId") && m.contains_key("body") {
        Some(Source::Sqs)
    } else {
        None
    }
}

fn describe_records(records: &[Value]) -> String {
    let Some(first) = records.first() else {
        return "an object with an empty `Records` array".into();
    };
    let declared = first
        .get("eventSource")
        .or_else(|| first.get("EventSource"))
        .and_then(Value::as_str);
    match (declared, first) {
        (Some(s), _) => format!("`Records` from the unsupported eventSource `{s}`"),
        (None, Value::Object(m)) => format!("`Records` whose first record has keys {}", keys(m)),
        (None, other) => format!("`Records` whose first record is {}", describe(other)),
    }
}

/// The record id and order key of a raw record, the way
/// [`Record`](eventrail::factory::Record) reads them from the typed one.
fn identify(source: Source, v: &Value) -> (String, Option<String>) {
    let arn = || record_str(v, &["eventSourceARN"]);
    match source {
        Source::Sqs => {
            let id = record_str(v, &["messageId"]).unwrap_or_default();
            let key = record_str(v, &["attributes", "MessageGroupId"])
                .or_else(|| arn().filter(|a| a.ends_with(".fifo")));
            (id, key)
        }
        Source::Sns => (
            record_str(v, &["Sns", "MessageId"]).unwrap_or_default(),
            None,
        ),
        Source::S3 => {
            let part = |p: &[&str]| record_str(v, p).unwrap_or_default();
            let id = format!(
                "{}/{}#{}",
                part(&["s3", "bucket", "name"]),
                part(&["s3", "object", "key"]),
                part(&["s3", "object", "sequencer"])
            );
            (id, None)
        }
        Source::DynamoDb => {
            let id = record_str(v, &["dynamodb", "SequenceNumber"])
                .or_else(|| record_str(v, &["eventID"]))
                .unwrap_or_default();
            (id, Some(arn().unwrap_or_default()))
        }
        Source::Kinesis => (
            record_str(v, &["kinesis", "sequenceNumber"]).unwrap_or_default(),
            Some(arn().unwrap_or_default()),
        ),
        _ => (String::new(), None),
    }
}

/// Converts each raw record on its own; the ones that fail become [`MalformedRecord`]s.
fn split<T: serde::de::DeserializeOwned>(
    source: Source,
    records: Vec<Value>,
) -> (Vec<T>, Vec<MalformedRecord>) {
    let mut good = Vec::with_capacity(records.len());
    let mut bad = Vec::new();
    for (index, raw) in records.into_iter().enumerate() {
        // Read the identity first: a failed conversion consumes the value.
        let (record_id, order_key) = identify(source, &raw);
        match serde_json::from_value::<T>(raw) {
            Ok(r) => good.push(r),
            Err(e) => bad.push(MalformedRecord {
                index,
                source,
                record_id,
                order_key,
                reason: e.to_string(),
            }),
        }
    }
    (good, bad)
}

fn detect_records(records: Vec<Value>) -> Result<Detected, InvokeError> {
    let source = records
        .iter()
        .find_map(record_kind)
        .ok_or_else(|| unknown(describe_records(&records)))?;
    let n = records.len();
    let (event, malformed) = match source {
        Source::Sqs => {
            let (good, bad) = split(source, records);
            let mut e = SqsEvent::default();
            e.records = good;
            (SourceEvent::Sqs(e), bad)
        }
        Source::Sns => {
            let (good, bad) = split(source, records);
            let mut e = SnsEvent::default();
            e.records = good;
            (SourceEvent::Sns(e), bad)
        }
        Source::S3 => {
            let (good, bad) = split(source, records);
            let mut e = S3Event::default();
            e.records = good;
            (SourceEvent::S3(e), bad)
        }
        Source::DynamoDb => {
            let (good, bad) = split(source, records);
            let mut e = DynamoDbEvent::default();
            e.records = good;
            (SourceEvent::DynamoDb(e), bad)
        }
        _ => {
            let (good, bad) = split(source, records);
            let mut e = KinesisEvent::default();
            e.records = good;
            (SourceEvent::Kinesis(e), bad)
        }
    };
    Ok(Detected {
        source,
        event: Some(event),
        malformed,
        records: n,
    })
}

impl fmt::Display for MalformedRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "record {} (`{}`): {}",
            self.index, self.record_id, self.reason
        )
    }
}
