//! Kafka batches as Lambda delivers them from Amazon MSK or a self-managed
//! cluster: records grouped by topic-partition, key and value base64-encoded,
//! header values as arrays of bytes.
//!
//! ```
//! use eventrail_testkit::events::{kafka, TestEvent};
//!
//! let batch = kafka::batch([
//!     kafka::record("orders", 0, 41, r#"{"type":"ORDER_PLACED","id":1}"#).key("order-1"),
//!     kafka::record("orders", 0, 42, "not json").header("correlationId", "c-9"),
//!     kafka::record("orders", 1, 7, r#"{"type":"ORDER_PLACED","id":2}"#),
//! ]);
//! let json = batch.to_json();
//! assert_eq!(json["eventSource"], "aws:kafka");
//! assert_eq!(json["records"]["orders-0"][1]["offset"], 42);
//! assert_eq!(json["records"]["orders-0"][0]["key"], "b3JkZXItMQ==");
//! assert_eq!(json["records"]["orders-0"][1]["headers"][0]["correlationId"], serde_json::json!([99, 45, 57]));
//! assert_eq!(batch.typed().records.len(), 3);
//! ```

use base64::Engine;
use eventrail::source::kafka::KafkaBatch;
use serde_json::{json, Map, Value};

use super::{typed, TestEvent, ACCOUNT, EPOCH_MS, REGION};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// One Kafka record being built. See [`record`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    topic: String,
    partition: i64,
    offset: i64,
    timestamp: u64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    raw_key: Option<String>,
    raw_value: Option<String>,
    headers: Vec<(String, Vec<u8>)>,
}

/// A record of `topic`/`partition` at `offset` whose value is `value`
/// (the builder encodes it).
pub fn record(
    topic: impl Into<String>,
    partition: i64,
    offset: i64,
    value: impl AsRef<[u8]>,
) -> Record {
    Record {
        topic: topic.into(),
        partition,
        offset,
        timestamp: EPOCH_MS,
        key: None,
        value: Some(value.as_ref().to_vec()),
        raw_key: None,
        raw_value: None,
        headers: Vec::new(),
    }
}

impl Record {
    /// Sets the key.
    pub fn key(mut self, key: impl AsRef<[u8]>) -> Self {
        self.key = Some(key.as_ref().to_vec());
        self
    }

    /// Sends `encoded` as the key, as is (e.g. text that is not base64).
    pub fn raw_key(mut self, encoded: impl Into<String>) -> Self {
        self.raw_key = Some(encoded.into());
        self
    }

    /// Sends `encoded` as the value, as is (e.g. text that is not base64).
    pub fn raw_value(mut self, encoded: impl Into<String>) -> Self {
        self.raw_value = Some(encoded.into());
        self
    }

    /// Adds a header (names may repeat).
    pub fn header(mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> Self {
        self.headers.push((name.into(), value.as_ref().to_vec()));
        self
    }

    /// Makes the record a tombstone: no value.
    pub fn tombstone(mut self) -> Self {
        self.value = None;
        self
    }

    /// Sets the timestamp, milliseconds since the Unix epoch.
    pub fn timestamp_ms(mut self, ms: u64) -> Self {
        self.timestamp = ms;
        self
    }

    fn to_value(&self) -> Value {
        let headers: Vec<Value> = self
            .headers
            .iter()
            .map(|(k, v)| json!({ k.clone(): v }))
            .collect();
        json!({
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.timestamp,
            "timestampType": "CREATE_TIME",
            "key": self.raw_key.clone().or_else(|| self.key.as_deref().map(b64)),
            "value": self.raw_value.clone().or_else(|| self.value.as_deref().map(b64)),
            "headers": headers,
        })
    }
}

/// A batch of records, grouped by topic-partition as Lambda sends them (the
/// groups in key order, records in the order given).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    records: Vec<Record>,
    self_managed: bool,
}

/// An Amazon MSK batch of `records`.
pub fn batch(records: impl IntoIterator<Item = Record>) -> Batch {
    Batch {
        records: records.into_iter().collect(),
        self_managed: false,
    }
}

impl Batch {
    /// From a self-managed cluster (`SelfManagedKafka`, no cluster ARN).
    pub fn self_managed(mut self) -> Self {
        self.self_managed = true;
        self
    }

    /// The batch as the typed [`KafkaBatch`].
    pub fn typed(&self) -> KafkaBatch {
        typed(self.to_json(), "Kafka batch")
    }
}

impl TestEvent for Batch {
    fn to_json(&self) -> Value {
        let mut groups: Map<String, Value> = Map::new();
        for r in &self.records {
            let key = format!("{}-{}", r.topic, r.partition);
            match groups.get_mut(&key) {
                Some(Value::Array(a)) => a.push(r.to_value()),
                _ => {
                    groups.insert(key, Value::Array(vec![r.to_value()]));
                }
            }
        }
        if self.self_managed {
            json!({
                "eventSource": "SelfManagedKafka",
                "bootstrapServers": "kafka-1.internal:9092,kafka-2.internal:9092",
                "records": groups,
            })
        } else {
            json!({
                "eventSource": "aws:kafka",
                "eventSourceArn": format!("arn:aws:kafka:{REGION}:{ACCOUNT}:cluster/shop/4f1c2d3e-0a1b-4c5d-9e8f-0123456789ab-2"),
                "bootstrapServers": format!("b-1.shop.abcdef.c2.kafka.{REGION}.amazonaws.com:9098,b-2.shop.abcdef.c2.kafka.{REGION}.amazonaws.com:9098"),
                "records": groups,
            })
        }
    }
}
