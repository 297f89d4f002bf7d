//! Apache Kafka, from Amazon MSK (`eventSource` `aws:kafka`) or a
//! self-managed cluster (`SelfManagedKafka`): a record is one Kafka message.
//!
//! Lambda groups the records of a batch by topic-partition
//! (`"records": {"orders-0": [..], "orders-1": [..]}`); they are read in
//! that order, one record per message.
//!
//! - Record id: `topic-partition@offset`, e.g. `orders-0@42` (Kafka topic
//!   names cannot contain `@`).
//! - Order key: the topic-partition (`orders-0`): the records of one
//!   partition run in order and stop at the partition's first failure;
//!   partitions run concurrently.
//! - Correlation id and tenant: from the message headers of the same names as
//!   the SQS attributes ([`CORRELATION_ATTRIBUTES`](super::CORRELATION_ATTRIBUTES),
//!   [`TENANT_ATTRIBUTES`](super::TENANT_ATTRIBUTES)), when their value is UTF-8.
//! - Response: `batchItemFailures`, one per failed record, each
//!   `{"itemIdentifier": {"partition": "orders-0", "offset": 42}}`.
//!
//! - Key: on every envelope's metadata ([`Metadata::key`](crate::Metadata::key)),
//!   base64-decoded like the value, as bytes (`None` for a message without
//!   one), whatever the route; a key that is not base64 fails its record as
//!   bad input.
//! - Headers: decoded to `(name, bytes)` pairs in their order, a name
//!   possibly repeated ([`KafkaRecord::headers`], [`KafkaMessage::headers`]).
//!
//! The key and value arrive base64-encoded and the header values as arrays of
//! bytes; [`KafkaRecord`] keeps them as sent, and [`KafkaRecord::key_bytes`],
//! [`KafkaRecord::value_bytes`] and [`KafkaRecord::headers`] decode them.
//! Routed records become [`KafkaMessage<T>`]: the value decoded into `T`,
//! with the key, headers, topic, partition, offset and timestamp beside it.
//!
//! The response names a failed record as AWS documents for Kafka event
//! sources with `ReportBatchItemFailures`: an object of the topic-partition
//! string and the offset as a number, `{"partition": "orders-0", "offset": 42}`
//! ([`item_identifier`]; the Lambda adapter's `response` module documents the
//! whole answer and where the format was checked).
//!
//! ```
//! use eventrail::source::kafka::KafkaRecord;
//!
//! let record: KafkaRecord = serde_json::from_str(r#"{
//!     "topic": "orders", "partition": 0, "offset": 42, "timestamp": 1767225600000,
//!     "timestampType": "CREATE_TIME", "key": "b3JkZXItMQ==", "value": "eyJpZCI6MX0=",
//!     "headers": [{"correlationId": [99, 45, 49]}]
//! }"#).unwrap();
//! assert_eq!(eventrail::source::kafka::record_id(&record), "orders-0@42");
//! assert_eq!(record.key_bytes().unwrap().as_deref(), Some(&b"order-1"[..]));
//! assert_eq!(record.value_bytes().unwrap().as_deref(), Some(&br#"{"id":1}"#[..]));
//! assert_eq!(record.header("correlationId"), Some(&b"c-1"[..]));
//! // The key is on the metadata of what the record becomes.
//! let identity = eventrail::source::kafka::identity(&record);
//! assert_eq!(identity.meta.key(), Some(&b"order-1"[..]));
//! ```

use std::fmt;

use base64::Engine;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::Identity;
use crate::envelope::Source;

/// The `eventSource` of an Amazon MSK batch.
pub const MSK_EVENT_SOURCE: &str = "aws:kafka";
/// The `eventSource` of a self-managed Apache Kafka batch.
pub const SELF_MANAGED_EVENT_SOURCE: &str = "SelfManagedKafka";

/// A Kafka batch: the batch's own fields and its records, in the order they
/// were sent (partition by partition). See the [module docs](self).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct KafkaBatch {
    /// `aws:kafka` or `SelfManagedKafka`.
    #[serde(default)]
    pub event_source: Option<String>,
    /// The MSK cluster's ARN (MSK only).
    #[serde(default)]
    pub event_source_arn: Option<String>,
    /// The brokers, comma separated.
    #[serde(default)]
    pub bootstrap_servers: Option<String>,
    /// The records, flattened out of their topic-partition groups.
    #[serde(default, deserialize_with = "flat_records")]
    pub records: Vec<KafkaRecord>,
}

/// One Kafka message as Lambda delivers it. See the [module docs](self).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct KafkaRecord {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i64,
    /// The offset within the partition.
    pub offset: i64,
    /// Milliseconds since the Unix epoch.
    #[serde(default)]
    pub timestamp: i64,
    /// `CREATE_TIME` or `LOG_APPEND_TIME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_type: Option<String>,
    /// The key, base64-encoded (absent or `null` for none).
    #[serde(default)]
    pub key: Option<String>,
    /// The value, base64-encoded (absent or `null` for a tombstone).
    #[serde(default)]
    pub value: Option<String>,
    /// The headers: a list of one-entry maps, name to value bytes.
    #[serde(default)]
    pub headers: Vec<std::collections::BTreeMap<String, HeaderValue>>,
}

/// The bytes of one header value.
///
/// Lambda sends them as an array of numbers; values from -128 to -1 (Java's
/// signed bytes) are read as the bytes 128 to 255.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderValue(pub Vec<u8>);

impl Serialize for HeaderValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

impl<'de> Deserialize<'de> for HeaderValue {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = HeaderValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of bytes (numbers from -128 to 255)")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HeaderValue, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(n) = seq.next_element::<i64>()? {
                    let byte = match n {
                        0..=255 => n as u8,
                        -128..=-1 => (n + 256) as u8,
                        _ => {
                            return Err(de::Error::custom(format_args!(
                                "header byte {n} is out of range"
                            )))
                        }
                    };
                    out.push(byte);
                }
                Ok(HeaderValue(out))
            }
        }
        d.deserialize_seq(V)
    }
}

/// A key or value that is not valid base64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    field: &'static str,
    reason: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the Kafka {} is not base64: {}", self.field, self.reason)
    }
}

impl std::error::Error for DecodeError {}

fn decode(field: &'static str, text: Option<&str>) -> Result<Option<Vec<u8>>, DecodeError> {
    text.map(|t| {
        base64::engine::general_purpose::STANDARD
            .decode(t)
            .map_err(|e| DecodeError {
                field,
                reason: e.to_string(),
            })
    })
    .transpose()
}

impl KafkaRecord {
    /// The key, decoded; `None` when the message has none.
    pub fn key_bytes(&self) -> Result<Option<Vec<u8>>, DecodeError> {
        decode("key", self.key.as_deref())
    }

    /// The value, decoded; `None` for a tombstone.
    pub fn value_bytes(&self) -> Result<Option<Vec<u8>>, DecodeError> {
        decode("value", self.value.as_deref())
    }

    /// The headers, in order, as name and bytes (a name may repeat).
    pub fn headers(&self) -> Vec<(String, Vec<u8>)> {
        self.headers
            .iter()
            .flat_map(|h| h.iter().map(|(k, v)| (k.clone(), v.0.clone())))
            .collect()
    }

    /// The first header named `name`.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find_map(|h| h.get(name))
            .map(|v| v.0.as_slice())
    }

    /// The topic-partition the record was grouped under, e.g. `orders-0`.
    pub fn topic_partition(&self) -> String {
        format!("{}-{}", self.topic, self.partition)
    }
}

/// A routed Kafka record: the value decoded into `T` and what Kafka sent
/// beside it. What [`Router::kafka`](crate::Router::kafka) routes produce.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct KafkaMessage<T> {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i64,
    /// The offset.
    pub offset: i64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// The key, decoded (`None` when the message has none).
    pub key: Option<Vec<u8>>,
    /// The headers, decoded, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The value.
    pub value: T,
}

impl<T> KafkaMessage<T> {
    /// The message around `value`, from `record` (its key must decode).
    pub fn new(record: &KafkaRecord, value: T) -> Result<Self, DecodeError> {
        Ok(Self {
            topic: record.topic.clone(),
            partition: record.partition,
            offset: record.offset,
            timestamp: record.timestamp,
            key: record.key_bytes()?,
            headers: record.headers(),
            value,
        })
    }

    /// The key as UTF-8 text, if it is.
    pub fn key_str(&self) -> Option<&str> {
        self.key
            .as_deref()
            .and_then(|k| std::str::from_utf8(k).ok())
    }

    /// The first header named `name`.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }
}

impl<T> std::ops::Deref for KafkaMessage<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// Writes the record id `topic-partition@offset`.
fn write_id(topic: &str, partition: &str, offset: &str, out: &mut String) {
    for part in [topic, "-", partition, "@", offset] {
        out.push_str(part);
    }
}

/// Appends the record id of a typed Kafka record to `out` (see the
/// [module docs](self)).
pub fn write_record_id(r: &KafkaRecord, out: &mut String) {
    write_id(
        &r.topic,
        &r.partition.to_string(),
        &r.offset.to_string(),
        out,
    );
}

/// The record id of a typed Kafka record: `topic-partition@offset`.
pub fn record_id(r: &KafkaRecord) -> String {
    let mut out = String::new();
    write_record_id(r, &mut out);
    out
}

/// The order key of a typed Kafka record: its topic-partition.
pub fn order_key(r: &KafkaRecord) -> String {
    r.topic_partition()
}

/// The identity of a typed Kafka record. See the [module docs](self).
///
/// Its metadata carries the key, decoded ([`Metadata::key`](crate::Metadata::key));
/// a key that is not base64 is left off here, and the router fails the
/// record as bad input.
pub fn identity(r: &KafkaRecord) -> Identity {
    let mut id = Identity::ordered(record_id(r), Source::Kafka, &order_key(r));
    if let Ok(Some(key)) = r.key_bytes() {
        id.meta = id.meta.with_key(key);
    }
    super::apply_attributes(&mut id.meta, |name| {
        r.header(name).and_then(|v| std::str::from_utf8(v).ok())
    });
    id
}

/// What a batch response names a failed record by: its topic-partition and
/// offset, read back from its record id. `None` when the id is not of the
/// form `topic-partition@offset` (a malformed record without them).
pub fn item_identifier(record_id: &str) -> Option<(&str, i64)> {
    let (partition, offset) = record_id.rsplit_once('@')?;
    if partition.is_empty() {
        return None;
    }
    Some((partition, offset.parse().ok()?))
}

pub(super) fn identify_raw(raw: &str) -> Identity {
    #[derive(Deserialize)]
    struct Lenient {
        topic: Option<serde_json::Value>,
        partition: Option<serde_json::Value>,
        offset: Option<serde_json::Value>,
    }
    fn text(v: Option<serde_json::Value>) -> String {
        match v {
            Some(serde_json::Value::String(s)) => s,
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => String::new(),
        }
    }
    let Ok(l) = serde_json::from_str::<Lenient>(raw) else {
        return Identity::new("", Source::Kafka);
    };
    let (topic, partition, offset) = (text(l.topic), text(l.partition), text(l.offset));
    if topic.is_empty() || partition.is_empty() {
        return Identity::new("", Source::Kafka);
    }
    let mut id = String::new();
    write_id(&topic, &partition, &offset, &mut id);
    Identity::ordered(id, Source::Kafka, &format!("{topic}-{partition}"))
}

/// The batch's own fields around its records, read from the payload
/// (records skipped, so a malformed record does not lose them).
pub fn envelope(payload: &str) -> KafkaBatch {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Envelope {
        event_source: Option<String>,
        event_source_arn: Option<String>,
        bootstrap_servers: Option<String>,
    }
    let mut batch = KafkaBatch::default();
    if let Ok(e) = serde_json::from_str::<Envelope>(payload) {
        batch.event_source = e.event_source;
        batch.event_source_arn = e.event_source_arn;
        batch.bootstrap_servers = e.bootstrap_servers;
    }
    batch
}

/// Whether `event_source` is a Kafka batch's.
pub(super) fn is_event_source(event_source: &str) -> bool {
    event_source == MSK_EVENT_SOURCE || event_source == SELF_MANAGED_EVENT_SOURCE
}

/// The records of a Kafka batch's `records` object, flattened in order.
/// `Err` names what `records` was instead.
pub(super) fn split_records(records: &RawValue) -> Result<Vec<&str>, String> {
    let mut de = serde_json::Deserializer::from_str(records.get());
    Flat::<&RawValue>::deserialize(&mut de)
        .map(|f| f.0.into_iter().map(RawValue::get).collect())
        .map_err(|e| format!("a Kafka batch whose `records` is not an object of arrays ({e})"))
}

/// A map of arrays, flattened into one list in order.
struct Flat<T>(Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Flat<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Flat<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of record arrays keyed by topic-partition")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Flat<T>, A::Error> {
                let mut out = Vec::new();
                while let Some((_, group)) = map.next_entry::<de::IgnoredAny, Vec<T>>()? {
                    out.extend(group);
                }
                Ok(Flat(out))
            }
            fn visit_unit<E>(self) -> Result<Flat<T>, E> {
                Ok(Flat(Vec::new()))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

fn flat_records<'de, D: de::Deserializer<'de>>(d: D) -> Result<Vec<KafkaRecord>, D::Error> {
    Flat::<KafkaRecord>::deserialize(d).map(|f| f.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BATCH: &str = r#"{
        "eventSource": "aws:kafka",
        "eventSourceArn": "arn:aws:kafka:us-east-1:123456789012:cluster/shop/2f4c-1",
        "bootstrapServers": "b-1.shop.kafka.us-east-1.amazonaws.com:9098",
        "records": {
            "orders-1": [
                {"topic": "orders", "partition": 1, "offset": 7, "timestamp": 1767225600000,
                 "timestampType": "CREATE_TIME", "key": null, "value": "e30=", "headers": []}
            ],
            "orders-0": [
                {"topic": "orders", "partition": 0, "offset": 41, "timestamp": 1767225600000,
                 "timestampType": "CREATE_TIME", "key": "azE=", "value": "e30=",
                 "headers": [{"tenant": [97, 99, 109, 101]}, {"bin": [-1, 0, 255]}]}
            ]
        }
    }"#;

    #[test]
    fn a_batch_is_flattened_in_order_and_headers_decode() {
        let b: KafkaBatch = serde_json::from_str(BATCH).unwrap();
        let ids: Vec<String> = b.records.iter().map(record_id).collect();
        assert_eq!(ids, ["orders-1@7", "orders-0@41"]);
        let r = &b.records[1];
        assert_eq!(r.header("bin"), Some(&[255u8, 0, 255][..]));
        assert_eq!(identity(r).meta.tenant(), Some("acme"));
        assert_eq!(identity(r).order_key.as_deref(), Some("orders-0"));
        assert_eq!(r.key_bytes().unwrap(), Some(b"k1".to_vec()));
        assert_eq!(b.records[0].key_bytes().unwrap(), None);
    }

    #[test]
    fn item_identifiers_come_back_from_record_ids() {
        assert_eq!(item_identifier("orders-eu-0@41"), Some(("orders-eu-0", 41)));
        assert_eq!(item_identifier("@41"), None);
        assert_eq!(item_identifier("orders-0@"), None);
        assert_eq!(item_identifier(""), None);
    }

    #[test]
    fn malformed_records_keep_what_identifies_them() {
        let id = identify_raw(r#"{"topic": "orders", "partition": 3, "offset": "x9"}"#);
        assert_eq!(id.meta.record_id(), "orders-3@x9");
        assert_eq!(id.order_key.as_deref(), Some("orders-3"));
        let id = identify_raw(r#"{"partition": 3}"#);
        assert_eq!(id.meta.record_id(), "");
        assert_eq!(identify_raw("[1]").meta.record_id(), "");
    }

    #[test]
    fn bad_values_are_reported_not_panicked_on() {
        let r: KafkaRecord = serde_json::from_str(
            r#"{"topic": "t", "partition": 0, "offset": 1, "value": "%%%", "headers": []}"#,
        )
        .unwrap();
        let err = r.value_bytes().unwrap_err();
        assert!(err.to_string().starts_with("the Kafka value is not base64"));
        let bad_header = serde_json::from_str::<KafkaRecord>(
            r#"{"topic": "t", "partition": 0, "offset": 1, "headers": [{"h": [300]}]}"#,
        );
        assert!(bad_header.unwrap_err().to_string().contains("out of range"));
        let raw: &RawValue = serde_json::from_str(r#"{"t-0": 5}"#).unwrap();
        assert!(split_records(raw).is_err());
    }
}
