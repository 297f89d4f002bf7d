//! Amazon Data Firehose (Kinesis Data Firehose) data transformation: a
//! record is one record of the delivery stream's buffer, its data
//! base64-encoded (`data`; `kafkaRecordValue` when the stream reads from
//! Amazon MSK).
//!
//! - Record id: the `recordId`.
//! - Order key: none (Firehose answers per record, in any order).
//! - Routing: like Kinesis, on a top-level field of the JSON data
//!   ([`Router::firehose`](crate::Router::firehose)).
//! - Response: one entry per record, `Ok` with the handler's output as the
//!   transformed data, `Dropped` when the handler says so, or
//!   `ProcessingFailed` for a failed record (kept as it came).
//!
//! What a handler returns is the transformed record: a [`Transformation`]
//! says it exactly (new data, dropped, unchanged, dynamic-partitioning keys);
//! otherwise a string is the new data as is, other JSON its JSON text, and
//! `()` (or `null`) keeps the record unchanged.
//!
//! ```
//! use eventrail::source::firehose::Transformation;
//!
//! let t = Transformation::data("{\"level\":\"warn\"}\n").partition_key("level", "warn");
//! let back = Transformation::from_output(&serde_json::to_value(&t).unwrap()).unwrap();
//! assert_eq!(back, t);
//! assert!(!back.is_dropped());
//! assert_eq!(back.partition_keys()["level"], "warn");
//! assert!(Transformation::from_output(&serde_json::json!("plain text")).is_none());
//! ```

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Identity;
use crate::envelope::Source;
use crate::json::str_at;

/// A Firehose transformation invocation. See the [module docs](self).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct FirehoseEvent {
    /// The invocation.
    #[serde(default)]
    pub invocation_id: String,
    /// The delivery stream.
    #[serde(default)]
    pub delivery_stream_arn: String,
    /// The Kinesis stream the delivery stream reads, if it reads one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kinesis_stream_arn: Option<String>,
    /// The MSK cluster the delivery stream reads, if it reads one.
    #[serde(
        default,
        rename = "sourceMSKArn",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_msk_arn: Option<String>,
    /// The region.
    #[serde(default)]
    pub region: String,
    /// The records.
    #[serde(default)]
    pub records: Vec<FirehoseRecord>,
}

/// One record to transform, its data still encoded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct FirehoseRecord {
    /// The record id, which the response names.
    pub record_id: String,
    /// Milliseconds since the Unix epoch.
    #[serde(default)]
    pub approximate_arrival_timestamp: i64,
    /// The data, base64-encoded (Direct PUT and Kinesis sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The Kafka record's value, base64-encoded (MSK sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka_record_value: Option<String>,
    /// The Kinesis record's metadata (Kinesis sources), as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinesis_record_metadata: Option<Value>,
}

/// Data that is not valid base64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the Firehose record's data is not base64: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

fn b64() -> &'static base64::engine::GeneralPurpose {
    &base64::engine::general_purpose::STANDARD
}

impl FirehoseRecord {
    /// The encoded data, from `data` or `kafkaRecordValue`.
    pub fn encoded_data(&self) -> &str {
        self.data
            .as_deref()
            .or(self.kafka_record_value.as_deref())
            .unwrap_or("")
    }

    /// The data, decoded.
    pub fn data_bytes(&self) -> Result<Vec<u8>, DecodeError> {
        b64()
            .decode(self.encoded_data())
            .map_err(|e| DecodeError(e.to_string()))
    }
}

/// What a handler made of a record, said exactly. See the [module docs](self).
///
/// It travels as the handler's output, under one reserved key
/// (`"eventrail.firehose"`), and the Lambda adapter reads it back with
/// [`Transformation::from_output`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transformation {
    dropped: bool,
    data: Option<Vec<u8>>,
    partition_keys: BTreeMap<String, String>,
}

/// The key a [`Transformation`] is serialized under.
pub const TRANSFORMATION_KEY: &str = "eventrail.firehose";

impl Transformation {
    /// The record becomes `data` (`Ok`).
    pub fn data(data: impl Into<Vec<u8>>) -> Self {
        Self {
            data: Some(data.into()),
            ..Self::default()
        }
    }

    /// The record is kept as it came (`Ok`, the original data).
    pub fn unchanged() -> Self {
        Self::default()
    }

    /// The record is dropped on purpose (`Dropped`): Firehose counts it as
    /// processed and delivers nothing for it.
    pub fn dropped() -> Self {
        Self {
            dropped: true,
            ..Self::default()
        }
    }

    /// Adds a dynamic-partitioning key (`metadata.partitionKeys`).
    pub fn partition_key(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.partition_keys.insert(name.into(), value.into());
        self
    }

    /// Whether the record is dropped.
    pub fn is_dropped(&self) -> bool {
        self.dropped
    }

    /// The new data (`None`: the original is kept).
    pub fn new_data(&self) -> Option<&[u8]> {
        self.data.as_deref()
    }

    /// The dynamic-partitioning keys.
    pub fn partition_keys(&self) -> &BTreeMap<String, String> {
        &self.partition_keys
    }

    /// The transformation a handler's output carries, if it carries one.
    pub fn from_output(output: &Value) -> Option<Self> {
        let wire: Wire = serde_json::from_value(output.get(TRANSFORMATION_KEY)?.clone()).ok()?;
        let data = match wire.data {
            Some(d) => Some(b64().decode(d).ok()?),
            None => None,
        };
        Some(Self {
            dropped: wire.result == "Dropped",
            data,
            partition_keys: wire.partition_keys,
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    partition_keys: BTreeMap<String, String>,
}

impl Serialize for Transformation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let wire = Wire {
            result: if self.dropped { "Dropped" } else { "Ok" }.into(),
            data: self.data.as_deref().map(|d| b64().encode(d)),
            partition_keys: self.partition_keys.clone(),
        };
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(TRANSFORMATION_KEY, &wire)?;
        map.end()
    }
}

/// Base64 of `bytes`, as Firehose takes transformed data.
pub fn encode(bytes: &[u8]) -> String {
    b64().encode(bytes)
}

/// The record id of a typed record: its `recordId`.
pub fn record_id(r: &FirehoseRecord) -> &str {
    &r.record_id
}

/// The identity of a typed record. See the [module docs](self).
pub fn identity(r: &FirehoseRecord) -> Identity {
    Identity::new(r.record_id.as_str(), Source::Firehose)
}

pub(super) fn identify_raw(raw: &str) -> Identity {
    Identity::new(
        str_at(raw, &["recordId"]).unwrap_or_default(),
        Source::Firehose,
    )
}

/// The invocation around its records, read from the payload (records
/// skipped).
pub fn envelope(payload: &str) -> FirehoseEvent {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Envelope {
        #[serde(default)]
        invocation_id: String,
        #[serde(default)]
        delivery_stream_arn: String,
        #[serde(default)]
        source_kinesis_stream_arn: Option<String>,
        #[serde(default, rename = "sourceMSKArn")]
        source_msk_arn: Option<String>,
        #[serde(default)]
        region: String,
    }
    let mut event = FirehoseEvent::default();
    if let Ok(e) = serde_json::from_str::<Envelope>(payload) {
        event.invocation_id = e.invocation_id;
        event.delivery_stream_arn = e.delivery_stream_arn;
        event.source_kinesis_stream_arn = e.source_kinesis_stream_arn;
        event.source_msk_arn = e.source_msk_arn;
        event.region = e.region;
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_comes_from_data_or_the_kafka_value() {
        let r: FirehoseRecord = serde_json::from_str(
            r#"{"recordId": "r1", "approximateArrivalTimestamp": 1, "data": "aGk="}"#,
        )
        .unwrap();
        assert_eq!(r.data_bytes().unwrap(), b"hi");
        let r: FirehoseRecord =
            serde_json::from_str(r#"{"recordId": "r2", "kafkaRecordValue": "eW8="}"#).unwrap();
        assert_eq!(r.data_bytes().unwrap(), b"yo");
        let r: FirehoseRecord =
            serde_json::from_str(r#"{"recordId": "r3", "data": "!!"}"#).unwrap();
        assert!(r
            .data_bytes()
            .unwrap_err()
            .to_string()
            .contains("not base64"));
    }

    #[test]
    fn transformations_round_trip_through_an_output() {
        for t in [
            Transformation::dropped(),
            Transformation::unchanged().partition_key("k", "v"),
            Transformation::data(vec![0u8, 255]),
        ] {
            let out = serde_json::to_value(&t).unwrap();
            assert_eq!(Transformation::from_output(&out), Some(t));
        }
        assert_eq!(Transformation::from_output(&Value::Null), None);
        let bad = serde_json::json!({TRANSFORMATION_KEY: {"result": "Ok", "data": "%%"}});
        assert_eq!(Transformation::from_output(&bad), None);
    }

    #[test]
    fn malformed_records_keep_their_id() {
        assert_eq!(
            identify_raw(r#"{"recordId": "r-7", "data": 3}"#)
                .meta
                .record_id(),
            "r-7"
        );
        assert_eq!(identify_raw("null").meta.record_id(), "");
    }
}
