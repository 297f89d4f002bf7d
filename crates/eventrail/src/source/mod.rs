//! The AWS sources: how a raw Lambda payload is recognised, and what each
//! source's records are called and ordered by.
//!
//! A payload is read once. [`RawEvent::parse`] splits a batch into its
//! records on their strings and brackets, without decoding them (or scans
//! the top level of any other payload without building a tree), recognises
//! the source, and keeps every record as a borrowed slice of the payload;
//! the factory then decodes each record straight into what it needs. A record that does not have its
//! source's shape fails alone, under the id read from its raw bytes
//! ([`MalformedRecord`]).
//!
//! | payload | source |
//! |---|---|
//! | `Records` with `eventSource` `aws:sqs` (or records with `messageId` and `body`) | SQS |
//! | `Records` with `EventSource` `aws:sns` (or records with `Sns`) | SNS |
//! | `Records` with `eventSource` `aws:s3` (or records with `s3`) | S3 |
//! | `Records` with `eventSource` `aws:dynamodb` (or records with `dynamodb`) | DynamoDB Streams |
//! | `Records` with `eventSource` `aws:kinesis` (or records with `kinesis`) | Kinesis |
//! | `records` grouped by topic-partition, `eventSource` `aws:kafka` or `SelfManagedKafka` | Kafka (MSK, self-managed) |
//! | `invocationId`, `invocationSchemaVersion` and `tasks` | S3 Batch Operations (schema 1.0 and 2.0) |
//! | `invocationId`, `deliveryStreamArn` and `records` | Firehose data transformation |
//! | an object with `source` and `detail-type` | EventBridge |
//! | an object with a string `type` or a `taskToken` | Step Functions task input |
//!
//! Each source has one module here that owns its record identity (the id a
//! batch response reports), its order key, its typed records, and how it is
//! recognised. Registering it takes a line in each place that names every
//! source: the recognition below (`BATCH_SOURCES` for `Records` batches,
//! `TopKeys::batch_envelope` for batches under another key), the
//! [`Source`] enum, a transform on [`EventFactory`](crate::EventFactory) and
//! its arm in [`transform_typed`](crate::factory::transform_typed), the
//! [`SourceEvent`](crate::app::SourceEvent) variant, the router's routes,
//! and the Lambda adapter's response.
//!
//! ```
//! use eventrail::source::RawEvent;
//! use eventrail::Source;
//!
//! let payload = br#"{"Records": [
//!     {"eventSource": "aws:sqs", "messageId": "m-1", "body": "{}"},
//!     {"eventSource": "aws:sqs", "messageId": 7}
//! ]}"#;
//! let event = RawEvent::parse(payload).unwrap();
//! assert_eq!(event.source(), Source::Sqs);
//! assert_eq!(event.len(), 2);
//! // The second record's messageId is not a string: it fails alone.
//! assert_eq!(event.malformed()[0].index(), 1);
//!
//! let err = RawEvent::parse(br#"{"hello": "world"}"#).unwrap_err();
//! assert_eq!(err.to_string(), "no event source detected: the payload is a JSON object with keys `hello`");
//! ```

pub mod dynamodb;
pub mod eventbridge;
pub mod firehose;
pub mod kafka;
pub mod kinesis;
pub mod s3;
pub mod s3_batch;
pub mod sns;
pub mod sqs;
pub mod step_functions;
mod top;

use std::fmt;
use std::sync::{Arc, Mutex};

use serde::de::{self, DeserializeSeed, Visitor};
use serde_json::value::RawValue;

use self::top::{RecordsField, Top, TopSeed};
use crate::envelope::{Metadata, Source};
use crate::json::{probe, raw_str};

/// Message attributes read as the correlation id, first found wins.
pub const CORRELATION_ATTRIBUTES: [&str; 3] =
    ["correlationId", "correlation-id", "x-correlation-id"];
/// Message attributes read as the tenant code, first found wins.
pub const TENANT_ATTRIBUTES: [&str; 2] = ["tenantCode", "tenant"];

/// Sets the correlation id and tenant from message attributes (see
/// [`CORRELATION_ATTRIBUTES`], [`TENANT_ATTRIBUTES`]) where `meta` has none yet.
pub(crate) fn apply_attributes<'a>(meta: &mut Metadata, get: impl Fn(&str) -> Option<&'a str>) {
    let find = |names: &[&str]| names.iter().find_map(|n| get(n));
    if !meta.has_correlation_id() {
        if let Some(c) = find(&CORRELATION_ATTRIBUTES) {
            meta.set_correlation_id(c);
        }
    }
    if meta.tenant().is_none() {
        if let Some(t) = find(&TENANT_ATTRIBUTES) {
            meta.set_tenant(t);
        }
    }
}

/// Who a record is: its metadata (id, source, correlation id, tenant, task
/// token) and the key its source orders it by.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The metadata envelopes of the record start with.
    pub meta: Metadata,
    /// The key records are ordered by (FIFO message group, stream).
    pub order_key: Option<Arc<str>>,
}

impl Identity {
    /// A record with the given id and source, unordered.
    pub fn new(record_id: impl Into<Arc<str>>, source: Source) -> Self {
        Self {
            meta: Metadata::new(record_id, source),
            order_key: None,
        }
    }

    /// A record ordered by `key` (a stream, a FIFO message group).
    pub fn ordered(record_id: impl Into<Arc<str>>, source: Source, key: &str) -> Self {
        Self {
            meta: Metadata::new(record_id, source),
            order_key: Some(Arc::from(key)),
        }
    }
}

/// How a batch source is recognised: the `eventSource` its records declare,
/// and the keys a record of it has when the declaration is missing.
struct Spec {
    source: Source,
    event_source: &'static str,
    shape: &'static [&'static str],
}

/// The batch sources, in the order their shapes are tried.
const BATCH_SOURCES: [Spec; 5] = [
    sns::SPEC,
    s3::SPEC,
    dynamodb::SPEC,
    kinesis::SPEC,
    sqs::SPEC,
];

/// Why a payload could not be read at all.
#[derive(Debug)]
#[non_exhaustive]
pub enum PayloadError {
    /// The payload is empty (or only whitespace).
    Empty,
    /// The payload is not UTF-8.
    NotUtf8 {
        /// The length of the valid UTF-8 prefix.
        valid_up_to: usize,
    },
    /// The payload is not JSON.
    NotJson(serde_json::Error),
    /// The payload is JSON, but no event source was recognised.
    UnknownSource {
        /// What the payload looked like, e.g. ``a JSON object with keys `a`, `b` ``.
        seen: String,
    },
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadError::Empty => f.write_str("the payload is empty"),
            PayloadError::NotUtf8 { valid_up_to } => write!(
                f,
                "the payload is not UTF-8 (invalid byte at offset {valid_up_to})"
            ),
            PayloadError::NotJson(e) => write!(f, "the payload is not JSON: {e}"),
            PayloadError::UnknownSource { seen } => {
                write!(f, "no event source detected: the payload is {seen}")
            }
        }
    }
}

impl std::error::Error for PayloadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PayloadError::NotJson(e) => Some(e),
            _ => None,
        }
    }
}

/// A payload whose source was recognised, its records borrowed from it. See
/// the [module docs](self).
#[derive(Debug)]
pub struct RawEvent<'a> {
    source: Source,
    records: Vec<&'a str>,
    payload: &'a str,
    /// SQS messages read in the pass that split the batch, index for index
    /// with `records` (`None`, or past the end: read it from its text).
    /// The router takes them, so that each is dropped once routed.
    sqs: Mutex<Vec<Option<sqs::Message<'a>>>>,
}

impl Clone for RawEvent<'_> {
    fn clone(&self) -> Self {
        Self {
            source: self.source,
            records: self.records.clone(),
            payload: self.payload,
            sqs: Mutex::new(lock(&self.sqs).clone()),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<'a> RawEvent<'a> {
    /// Reads a payload: recognises the source and splits it into records,
    /// without decoding them. See the [module docs](self).
    ///
    /// Fails when the payload is empty, not UTF-8, not JSON, or of no known
    /// source.
    pub fn parse(payload: &'a [u8]) -> Result<Self, PayloadError> {
        if payload.iter().all(u8::is_ascii_whitespace) {
            return Err(PayloadError::Empty);
        }
        let text = std::str::from_utf8(payload).map_err(|e| PayloadError::NotUtf8 {
            valid_up_to: e.valid_up_to(),
        })?;
        Self::parse_str(text)
    }

    /// Like [`parse`](Self::parse), for a payload known to be UTF-8.
    pub fn parse_str(text: &'a str) -> Result<Self, PayloadError> {
        if text.trim_ascii().is_empty() {
            return Err(PayloadError::Empty);
        }
        // An SQS batch (its first record says so) is decoded as it is split.
        let mut sqs_batch = None;
        let mut read_sqs = |tail: &'a str| {
            let on = *sqs_batch.get_or_insert_with(|| {
                crate::json::split::first_value(tail).and_then(record_kind) == Some(Source::Sqs)
            });
            on.then(|| sqs::Message::read(tail)).flatten()
        };
        if let Some((records, decoded)) = crate::json::split::records_with(text, &mut read_sqs) {
            let mut event = Self::batch(records, text)?;
            if event.source == Source::Sqs {
                event.sqs = Mutex::new(decoded);
            }
            return Ok(event);
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let top = TopSeed
            .deserialize(&mut de)
            .map_err(PayloadError::NotJson)?;
        de.end().map_err(PayloadError::NotJson)?;
        let unknown = |seen: String| PayloadError::UnknownSource { seen };
        let (records, keys) = match top {
            Top::Other(seen) => return Err(unknown(seen.into())),
            Top::Object(o) => (o.records, o.keys),
        };
        match records {
            Some(RecordsField::Array(records)) => {
                return Self::batch(records.into_iter().map(RawValue::get).collect(), text)
            }
            Some(RecordsField::Other(seen)) => {
                return Err(unknown(format!("an object whose `Records` is {seen}")))
            }
            None => {}
        }
        if let Some(batch) = keys.batch_envelope() {
            let (source, records) = batch.map_err(unknown)?;
            return Ok(Self {
                source,
                records,
                payload: text,
                sqs: Mutex::default(),
            });
        }
        let source = if keys.eventbridge() {
            Source::EventBridge
        } else if keys.step_function() {
            Source::StepFunctions
        } else {
            return Err(unknown(keys.describe()));
        };
        let whole: &'a RawValue = serde_json::from_str(text).map_err(PayloadError::NotJson)?;
        Ok(Self {
            source,
            records: vec![whole.get()],
            payload: text,
            sqs: Mutex::default(),
        })
    }

    /// A batch: its source is the first record's that has one.
    fn batch(records: Vec<&'a str>, payload: &'a str) -> Result<Self, PayloadError> {
        let source = records.iter().find_map(|r| record_kind(r)).ok_or_else(|| {
            PayloadError::UnknownSource {
                seen: describe_records(&records),
            }
        })?;
        Ok(Self {
            source,
            records,
            payload,
            sqs: Mutex::default(),
        })
    }

    /// The whole payload, as received: where sources whose response echoes
    /// the invocation (S3 Batch Operations) or whose records need the batch's
    /// own fields read them.
    pub fn payload(&self) -> &'a str {
        self.payload
    }

    /// The source.
    pub fn source(&self) -> Source {
        self.source
    }

    /// The number of input records, malformed ones included. EventBridge
    /// events and Step Functions inputs are one record.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are no records (never true for a parsed payload).
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The records, as their text in the payload.
    ///
    /// A batch is split on its strings and brackets without decoding the
    /// records (each is decoded once, later), so a record's text is not
    /// checked to be valid JSON inside: one that is not fails alone when it
    /// is decoded, like a record of the wrong shape.
    pub fn records(&self) -> &[&'a str] {
        &self.records
    }

    /// Takes the SQS messages the batch split read, index for index with
    /// [`records`](Self::records) (`None`, or past the end, where it did
    /// not); empty when taken before.
    pub(crate) fn take_sqs_messages(&self) -> Vec<Option<sqs::Message<'a>>> {
        std::mem::take(&mut *lock(&self.sqs))
    }

    /// The records that do not have their source's shape, in input order.
    ///
    /// Decodes every record into its `aws_lambda_events` type to find out:
    /// a diagnostic, not something the processing path calls.
    pub fn malformed(&self) -> Vec<MalformedRecord> {
        self.records
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let reason = match self.source {
                    Source::Sqs => check::<sqs::SqsMessage>(r),
                    Source::Sns => check::<sns::SnsRecord>(r),
                    Source::S3 => check::<s3::S3EventRecord>(r),
                    Source::DynamoDb => check::<dynamodb::DynamoDbRecord>(r),
                    Source::Kinesis => check::<kinesis::KinesisEventRecord>(r),
                    Source::EventBridge => check::<eventbridge::EventBridgeEvent>(r),
                    Source::Kafka => check::<kafka::KafkaRecord>(r),
                    Source::S3Batch => check::<s3_batch::S3BatchTaskRecord>(r),
                    Source::Firehose => check::<firehose::FirehoseRecord>(r),
                    _ => None,
                }?;
                Some(MalformedRecord::new(self.source, i, r, reason))
            })
            .collect()
    }
}

fn check<T: serde::de::DeserializeOwned>(raw: &str) -> Option<String> {
    serde_json::from_str::<T>(raw).err().map(|e| e.to_string())
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
    identity: Identity,
    reason: String,
}

impl MalformedRecord {
    /// Record `index` of a `source` batch, `raw`, could not be read: `reason`.
    pub fn new(source: Source, index: usize, raw: &str, reason: String) -> Self {
        Self {
            index,
            identity: identify_raw(source, raw),
            reason,
        }
    }

    /// The record's position in the input.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The source.
    pub fn source(&self) -> Source {
        self.identity.meta.source()
    }

    /// The record id read from the raw record (empty if there was none).
    pub fn record_id(&self) -> &str {
        self.identity.meta.record_id()
    }

    /// The order key read from the raw record (FIFO message group, stream).
    pub fn order_key(&self) -> Option<&str> {
        self.identity.order_key.as_deref()
    }

    /// Why the record could not be read.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The identity and the reason.
    pub fn into_parts(self) -> (Identity, String) {
        (self.identity, self.reason)
    }
}

impl fmt::Display for MalformedRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "record {} (`{}`): {}",
            self.index,
            self.record_id(),
            self.reason
        )
    }
}

/// The identity of a raw record of `source`, read leniently: what cannot be
/// read is left out.
fn identify_raw(source: Source, raw: &str) -> Identity {
    match source {
        Source::Sqs => sqs::identify_raw(raw),
        Source::Sns => sns::identify_raw(raw),
        Source::S3 => s3::identify_raw(raw),
        Source::DynamoDb => dynamodb::identify_raw(raw),
        Source::Kinesis => kinesis::identify_raw(raw),
        Source::EventBridge => eventbridge::identify_raw(raw),
        // A task input is always the one record `task`, malformed or not.
        Source::StepFunctions => Identity::new(step_functions::RECORD_ID, Source::StepFunctions),
        Source::Kafka => kafka::identify_raw(raw),
        Source::S3Batch => s3_batch::identify_raw(raw),
        Source::Firehose => firehose::identify_raw(raw),
        other => Identity::new("", other),
    }
}

/// The kind of a batch record, from its `eventSource` or its shape.
fn record_kind(raw: &str) -> Option<Source> {
    const DECLARED: [&str; 2] = ["eventSource", "EventSource"];
    let declared = probe(raw, &DECLARED).ok()??;
    if let Some(name) = declared.iter().flatten().find_map(|v| raw_str(v)) {
        return BATCH_SOURCES
            .iter()
            .find(|s| s.event_source == name)
            .map(|s| s.source);
    }
    BATCH_SOURCES.iter().find_map(|s| {
        let present = probe(raw, s.shape).ok()??;
        present.iter().all(Option::is_some).then_some(s.source)
    })
}

fn describe_records(records: &[&str]) -> String {
    let Some(first) = records.first() else {
        return "an object with an empty `Records` array".into();
    };
    let declared = crate::json::str_at(first, &["eventSource"])
        .or_else(|| crate::json::str_at(first, &["EventSource"]));
    if let Some(s) = declared {
        return format!("`Records` from the unsupported eventSource `{s}`");
    }
    let mut de = serde_json::Deserializer::from_str(first);
    match TopSeed.deserialize(&mut de) {
        Ok(Top::Object(o)) => format!("`Records` whose first record has keys {}", o.keys.list()),
        Ok(Top::Other(seen)) => format!("`Records` whose first record is {seen}"),
        Err(_) => "`Records` whose first record is not JSON".into(),
    }
}

/// A JSON string field that is checked but not kept: reading it allocates
/// nothing, and a value of another type is an error, as in the typed record.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CheckedStr;

impl<'de> serde::Deserialize<'de> for CheckedStr {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = CheckedStr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E>(self, _: &str) -> Result<CheckedStr, E> {
                Ok(CheckedStr)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_records_keys_take_the_last() {
        let e = RawEvent::parse(
            br#"{"Records": 5, "Records": [{"eventSource": "aws:sqs", "messageId": "m", "body": ""}]}"#,
        )
        .unwrap();
        assert_eq!((e.source(), e.len()), (Source::Sqs, 1));
    }

    #[test]
    fn an_sqs_batch_is_read_as_it_is_split() {
        let e = RawEvent::parse(
            br#"{"Records": [
                {"eventSource": "aws:sqs", "messageId": "m-1", "body": "{}"},
                {"eventSource": "aws:sqs", "messageId": 7},
                [1],
                {"eventSource": "aws:sqs", "messageId": "m-4", "body": tru},
                {"eventSource": "aws:sqs", "messageId": "m-5", "body": "x"}
            ]}"#,
        )
        .unwrap();
        assert_eq!((e.source(), e.len()), (Source::Sqs, 5));
        let read: Vec<bool> = e.take_sqs_messages().iter().map(Option::is_some).collect();
        assert_eq!(read, [true, false, false, false, true]);
        assert!(e.take_sqs_messages().is_empty(), "taken once");
        assert_eq!(
            e.records()[4],
            r#"{"eventSource": "aws:sqs", "messageId": "m-5", "body": "x"}"#
        );
        let bad: Vec<usize> = e.malformed().iter().map(MalformedRecord::index).collect();
        assert_eq!(bad, [1, 2, 3]);

        // Other sources are split only.
        let e =
            RawEvent::parse(br#"{"Records": [{"eventSource": "aws:sns", "Sns": {}}]}"#).unwrap();
        assert_eq!(e.source(), Source::Sns);
        assert!(e.take_sqs_messages().is_empty());
    }

    #[test]
    fn records_of_the_wrong_type_are_named() {
        let err = RawEvent::parse(br#"{"Records": {"a": 1}}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no event source detected: the payload is an object whose `Records` is a JSON object"
        );
    }

    #[test]
    fn a_malformed_task_input_is_still_the_record_task() {
        let raw: Box<RawValue> = serde_json::from_str(r#"{"type": "X", "taskToken": 5}"#).unwrap();
        let m = MalformedRecord::new(Source::StepFunctions, 0, raw.get(), "too deep".into());
        assert_eq!(m.record_id(), step_functions::RECORD_ID);
    }

    #[test]
    fn many_keys_are_cut_short() {
        let err =
            RawEvent::parse(br#"{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":0}"#)
                .unwrap_err();
        assert!(err.to_string().ends_with("`h`, and 2 more"), "{err}");
    }

    #[test]
    fn a_record_broken_inside_fails_alone_and_a_broken_batch_is_not_json() {
        let e = RawEvent::parse(
            br#"{"Records": [
                {"eventSource": "aws:sqs", "messageId": "m-1", "body": "{}"},
                {"eventSource": "aws:sqs", "messageId": "m-2", "body": tru},
                {"eventSource": "aws:sqs", "messageId": "m-3", "body": "{}"}
            ]}"#,
        )
        .unwrap();
        assert_eq!((e.source(), e.len()), (Source::Sqs, 3));
        let bad: Vec<usize> = e.malformed().iter().map(MalformedRecord::index).collect();
        assert_eq!(bad, [1]);

        // Where the records' extents are unclear, the payload is read in full
        // and rejected as a whole.
        for broken in [
            &br#"{"Records": [{"messageId": "m-1", "body": "{}"]}"#[..],
            br#"{"Records": [{"messageId": "m-1", "body": "{}"} {"messageId": "m-2"}]}"#,
            br#"{"Records": [{"messageId": "m-1", "body": "{}"}], "x": tru}"#,
        ] {
            let err = RawEvent::parse(broken).unwrap_err();
            assert!(matches!(err, PayloadError::NotJson(_)), "{err}");
        }
    }
}
