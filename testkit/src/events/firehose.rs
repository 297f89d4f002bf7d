//! Firehose data-transformation invocations, records base64-encoded as
//! Firehose sends them (Direct PUT, from a Kinesis stream, or from MSK).
//!
//! ```
//! use eventrail_testkit::events::{firehose, TestEvent};
//!
//! let event = firehose::invocation([
//!     firehose::record(r#"{"kind":"log","msg":"hi"}"#),
//!     firehose::record("raw").id("r-2"),
//! ])
//! .from_kinesis()
//! .to_json();
//! assert_eq!(event["records"][1]["recordId"], "r-2");
//! assert_eq!(event["records"][1]["data"], "cmF3");
//! assert!(event["records"][0]["kinesisRecordMetadata"]["shardId"].is_string());
//! ```

use eventrail::source::firehose::{encode, FirehoseEvent};
use serde_json::{json, Value};

use super::{typed, uuid, TestEvent, ACCOUNT, EPOCH_MS, REGION};

/// One record being built. See [`record`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    id: Option<String>,
    data: String,
}

/// A record whose data is `data` (the builder encodes it).
pub fn record(data: impl AsRef<[u8]>) -> Record {
    Record {
        id: None,
        data: encode(data.as_ref()),
    }
}

impl Record {
    /// Sets the record id (default: deterministic, by position).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the data exactly as sent (already encoded, or malformed).
    pub fn raw_data(mut self, encoded: impl Into<String>) -> Self {
        self.data = encoded.into();
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    DirectPut,
    Kinesis,
    Msk,
}

/// An invocation being built. See [`invocation`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    records: Vec<Record>,
    origin: Origin,
}

/// A Direct PUT delivery stream's invocation of `records`.
pub fn invocation(records: impl IntoIterator<Item = Record>) -> Invocation {
    Invocation {
        records: records.into_iter().collect(),
        origin: Origin::DirectPut,
    }
}

impl Invocation {
    /// The delivery stream reads a Kinesis stream.
    pub fn from_kinesis(mut self) -> Self {
        self.origin = Origin::Kinesis;
        self
    }

    /// The delivery stream reads an MSK topic (data in `kafkaRecordValue`).
    pub fn from_msk(mut self) -> Self {
        self.origin = Origin::Msk;
        self
    }

    /// The invocation as the typed [`FirehoseEvent`].
    pub fn typed(&self) -> FirehoseEvent {
        typed(self.to_json(), "Firehose transformation")
    }
}

impl TestEvent for Invocation {
    fn to_json(&self) -> Value {
        let records: Vec<Value> = self
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let id = r.id.clone().unwrap_or_else(|| uuid(0xf1, i as u64));
                let at = EPOCH_MS + i as u64;
                match self.origin {
                    Origin::DirectPut => {
                        json!({"recordId": id, "approximateArrivalTimestamp": at, "data": r.data})
                    }
                    Origin::Kinesis => json!({
                        "recordId": id,
                        "approximateArrivalTimestamp": at,
                        "data": r.data,
                        "kinesisRecordMetadata": {
                            "shardId": "shardId-000000000000",
                            "partitionKey": format!("pk-{i}"),
                            "approximateArrivalTimestamp": at,
                            "sequenceNumber": format!("4954698668313554428650745793632162567570019247115{i:07}"),
                            "subsequenceNumber": 0
                        }
                    }),
                    Origin::Msk => json!({
                        "recordId": id,
                        "approximateArrivalTimestamp": at,
                        "kafkaRecordValue": r.data,
                        "topic": "logs",
                        "kafkaPartition": 0,
                        "kafkaOffset": i,
                    }),
                }
            })
            .collect();
        let mut event = json!({
            "invocationId": uuid(0xf0, 0),
            "deliveryStreamArn": format!("arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/app-logs"),
            "region": REGION,
            "records": records,
        });
        match self.origin {
            Origin::Kinesis => {
                event["sourceKinesisStreamArn"] = json!(format!(
                    "arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/app-logs"
                ));
            }
            Origin::Msk => {
                event["sourceMSKArn"] = json!(format!(
                    "arn:aws:kafka:{REGION}:{ACCOUNT}:cluster/logs/4f1c2d3e-0a1b-4c5d-9e8f-0123456789ab-2"
                ));
            }
            Origin::DirectPut => {}
        }
        event
    }
}
