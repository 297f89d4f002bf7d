//! The structure-aware Kafka target: batches of good, failing and malformed
//! records over a few topic-partitions, some filed under the wrong group.

use std::collections::HashSet;

use arbitrary::{Arbitrary, Unstructured};
use eventrail::app::Status;
use eventrail::source::firehose::encode;
use eventrail::Source;
use serde_json::{json, Value};

use super::process;

/// The key of a generated record.
#[derive(Arbitrary, Clone, Debug)]
pub enum Key {
    /// `null`.
    Null,
    /// Absent.
    Missing,
    /// These bytes, base64-encoded (UTF-8 or not).
    Bytes(Vec<u8>),
    /// Not base64.
    NotBase64(String),
}

/// The value of a generated record.
#[derive(Arbitrary, Clone, Debug)]
pub enum Payload {
    /// `{"id": "o-N", "items": n}`: done, or a handler failure for 0 items.
    Order(u8),
    /// Bytes that may be anything (rarely an order).
    Bytes(Vec<u8>),
    /// Not base64.
    NotBase64(String),
    /// `null`: a tombstone.
    Tombstone,
    /// An order whose `items` is a string.
    WrongType,
}

/// What makes a generated record malformed (not a Kafka record).
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum Malformed {
    /// The offset is the string `"x<n>"`.
    OffsetText,
    /// The offset is a numeric string: reported under that offset.
    OffsetNumericString,
    /// The offset is beyond `i64`.
    OffsetHuge,
    /// No partition: reported under a `null` identifier.
    PartitionMissing,
    /// A header byte out of range (300).
    HeaderByteOutOfRange,
    /// `headers` is an object.
    HeadersNotAList,
}

/// One generated record.
#[derive(Arbitrary, Clone, Debug)]
pub struct Record {
    /// Its partition, one of three.
    pub partition: u8,
    /// Whether it is on a topic no route takes.
    pub other_topic: bool,
    /// Whether it is filed under another partition's group.
    pub misfiled: bool,
    /// Its key.
    pub key: Key,
    /// Its value.
    pub value: Payload,
    /// Its headers: names and bytes (written as Java's signed bytes when
    /// `signed`).
    pub headers: Vec<(String, Vec<u8>)>,
    /// Header bytes as signed numbers.
    pub signed: bool,
    /// What makes it malformed, if anything.
    pub malformed: Option<Malformed>,
}

/// A generated Kafka batch: the target's input.
#[derive(Arbitrary, Clone, Debug)]
pub struct Batch {
    /// Self-managed (`SelfManagedKafka`) rather than MSK.
    pub self_managed: bool,
    /// The records, in the order they are sent.
    pub records: Vec<Record>,
}

const TOPIC: &str = "orders";

impl Record {
    fn topic(&self) -> &'static str {
        if self.other_topic {
            "payments"
        } else {
            TOPIC
        }
    }

    fn partition(&self) -> u8 {
        self.partition % 3
    }

    fn group(&self) -> String {
        let p = if self.misfiled {
            (self.partition() + 1) % 3
        } else {
            self.partition()
        };
        format!("{}-{p}", self.topic())
    }

    fn to_json(&self, offset: u64) -> Value {
        let header = |bytes: &[u8]| -> Vec<i64> {
            bytes
                .iter()
                .map(|&b| {
                    if self.signed && b > 127 {
                        i64::from(b) - 256
                    } else {
                        i64::from(b)
                    }
                })
                .collect()
        };
        let headers: Vec<Value> = self
            .headers
            .iter()
            .map(|(name, bytes)| json!({ name: header(bytes) }))
            .collect();
        let mut r = json!({
            "topic": self.topic(),
            "partition": self.partition(),
            "offset": offset,
            "timestamp": 1_767_225_600_000u64,
            "timestampType": "CREATE_TIME",
            "headers": headers,
        });
        match &self.key {
            Key::Null => r["key"] = Value::Null,
            Key::Missing => {}
            Key::Bytes(b) => r["key"] = json!(encode(b)),
            Key::NotBase64(t) => r["key"] = json!(format!("!{t}")),
        }
        r["value"] = match &self.value {
            Payload::Order(items) => {
                json!(encode(
                    json!({"id": format!("o-{offset}"), "items": items})
                        .to_string()
                        .as_bytes()
                ))
            }
            Payload::Bytes(b) => json!(encode(b)),
            Payload::NotBase64(t) => json!(format!("*{t}")),
            Payload::Tombstone => Value::Null,
            Payload::WrongType => json!(encode(br#"{"id": "o", "items": "3"}"#)),
        };
        match self.malformed {
            Some(Malformed::OffsetText) => r["offset"] = json!(format!("x{offset}")),
            Some(Malformed::OffsetNumericString) => r["offset"] = json!(offset.to_string()),
            Some(Malformed::OffsetHuge) => r["offset"] = json!(u64::MAX - offset),
            Some(Malformed::PartitionMissing) => {
                r.as_object_mut().unwrap().remove("partition");
            }
            Some(Malformed::HeaderByteOutOfRange) => r["headers"] = json!([{"h": [1, 300]}]),
            Some(Malformed::HeadersNotAList) => r["headers"] = json!({"h": [1]}),
            None => {}
        }
        r
    }

    /// The identifier the response names the record by when it fails.
    fn identifier(&self, offset: u64) -> Value {
        let partition = format!("{}-{}", self.topic(), self.partition());
        match self.malformed {
            Some(Malformed::OffsetText | Malformed::OffsetHuge | Malformed::PartitionMissing) => {
                Value::Null
            }
            _ => json!({ "partition": partition, "offset": offset }),
        }
    }

    /// The order key it runs under (`None`: unordered).
    fn order_key(&self) -> Option<String> {
        match self.malformed {
            Some(Malformed::PartitionMissing) => None,
            _ => Some(format!("{}-{}", self.topic(), self.partition())),
        }
    }

    /// The handler's answer when the record is done, `None` when it fails
    /// by itself.
    fn output(&self, offset: u64) -> Option<Value> {
        if self.malformed.is_some() || self.other_topic {
            return None;
        }
        let key = match &self.key {
            Key::Null | Key::Missing => Value::Null,
            Key::Bytes(b) => json!(String::from_utf8_lossy(b)),
            Key::NotBase64(_) => return None,
        };
        let order = match &self.value {
            Payload::Order(items) if *items > 0 => format!("o-{offset}"),
            Payload::Bytes(b) => {
                #[derive(serde::Deserialize)]
                struct O {
                    id: String,
                    items: u32,
                }
                match serde_json::from_slice::<O>(b) {
                    Ok(o) if o.items > 0 => o.id,
                    _ => return None,
                }
            }
            _ => return None,
        };
        let headers: Vec<Value> = self
            .headers
            .iter()
            .map(|(name, bytes)| json!([name, bytes]))
            .collect();
        Some(json!({ "id": order, "key": key, "headers": headers }))
    }
}

impl Batch {
    /// The offset of record `i`: distinct, in input order.
    fn offset(i: usize) -> u64 {
        100 + i as u64
    }

    /// The batch as a Kafka event, grouped by topic-partition in the order
    /// groups first appear (records stay in input order when every record is
    /// filed under its own group; a misfiled one moves with its group).
    pub fn to_payload(&self) -> (Vec<u8>, Vec<usize>) {
        let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, r) in self.records.iter().enumerate() {
            let g = r.group();
            match groups.iter_mut().find(|(k, _)| *k == g) {
                Some((_, v)) => v.push(i),
                None => groups.push((g, vec![i])),
            }
        }
        let mut text = String::from("{");
        let mut order = Vec::with_capacity(self.records.len());
        for (n, (key, members)) in groups.iter().enumerate() {
            if n > 0 {
                text.push(',');
            }
            let records: Vec<Value> = members
                .iter()
                .map(|&i| self.records[i].to_json(Self::offset(i)))
                .collect();
            text.push_str(&serde_json::to_string(key).unwrap());
            text.push(':');
            text.push_str(&serde_json::to_string(&records).unwrap());
            order.extend(members);
        }
        text.push('}');
        let (source, arn) = if self.self_managed {
            ("SelfManagedKafka", Value::Null)
        } else {
            (
                "aws:kafka",
                json!("arn:aws:kafka:us-east-1:123456789012:cluster/shop/1"),
            )
        };
        let head = json!({
            "eventSource": source,
            "eventSourceArn": arn,
            "bootstrapServers": "b-1.shop:9098",
        })
        .to_string();
        let payload = format!("{},\"records\":{text}}}", &head[..head.len() - 1]);
        (payload.into_bytes(), order)
    }
}

/// The Kafka target: a batch built from the bytes, whose response must
/// name exactly the records its shape says fail (a partition stops at its
/// first failure), with the key and headers decoded on the done ones. See
/// the [module docs](super).
pub fn kafka_batch(data: &[u8]) {
    let Ok(mut batch) = Batch::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    batch.records.truncate(2_000);
    let (payload, order) = batch.to_payload();
    let (report, response) = process(&payload).expect("a Kafka batch is detected");
    assert_eq!(report.source, Source::Kafka);
    let mut stopped = HashSet::new();
    let mut failures = Vec::new();
    for (o, &i) in report.outcomes.iter().zip(&order) {
        let r = &batch.records[i];
        let offset = Batch::offset(i);
        let key = r.order_key();
        let blocked = key.as_ref().is_some_and(|k| stopped.contains(k));
        let output = if blocked { None } else { r.output(offset) };
        match (&o.status, output) {
            (Status::Done(got), Some(want)) => assert_eq!(got, &want, "record {r:?}"),
            (Status::Failed(_), None) => {
                if let Some(k) = key {
                    stopped.insert(k);
                }
                failures.push(json!({ "itemIdentifier": r.identifier(offset) }));
            }
            (status, want) => panic!("record {r:?}: {status:?}, expected {want:?}"),
        }
    }
    let response = response.expect("a Kafka batch is answered");
    assert_eq!(response, json!({ "batchItemFailures": failures }));
}
