//! S3 event notifications, with keys encoded as S3 encodes them.
//!
//! ```
//! use eventrail_testkit::events::{s3, TestEvent};
//!
//! let event = s3::put("uploads", "imports/csv/my file (1).csv", 1024).to_json();
//! let object = &event["Records"][0]["s3"]["object"];
//! assert_eq!(object["key"], "imports/csv/my+file+%281%29.csv");
//! assert_eq!(object["size"], 1024);
//! assert_eq!(event["Records"][0]["eventName"], "ObjectCreated:Put");
//! ```

use aws_lambda_events::event::s3::S3Event;
use eventrail::s3::encode_key;
use serde_json::{json, Value};

use super::{iso_time, md5_hex, typed, TestEvent, REGION};

/// One S3 event record being built. See [`put`] and [`delete`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    bucket: String,
    key: String,
    size: Option<u64>,
    event_name: String,
    e_tag: Option<String>,
    sequencer: Option<String>,
    version_id: Option<String>,
    region: String,
}

/// An `ObjectCreated:Put` record for `bucket`/`key` (the key as stored, not
/// encoded: the builder encodes it) of `size` bytes.
pub fn put(bucket: impl Into<String>, key: impl AsRef<str>, size: u64) -> Record {
    Record {
        bucket: bucket.into(),
        key: encode_key(key.as_ref()),
        size: Some(size),
        event_name: "ObjectCreated:Put".into(),
        e_tag: None,
        sequencer: None,
        version_id: None,
        region: REGION.into(),
    }
}

/// An `ObjectRemoved:Delete` record for `bucket`/`key` (not encoded).
pub fn delete(bucket: impl Into<String>, key: impl AsRef<str>) -> Record {
    Record {
        size: None,
        event_name: "ObjectRemoved:Delete".into(),
        ..put(bucket, key, 0)
    }
}

/// Several records in one event.
pub fn batch(records: impl IntoIterator<Item = Record>) -> Batch {
    Batch {
        records: records.into_iter().collect(),
    }
}

impl Record {
    /// Sets the event name, such as `ObjectCreated:CompleteMultipartUpload`.
    pub fn event_name(mut self, name: impl Into<String>) -> Self {
        self.event_name = name.into();
        self
    }

    /// Sets the key exactly as it appears in the notification (already
    /// encoded, or deliberately malformed).
    pub fn raw_key(mut self, encoded: impl Into<String>) -> Self {
        self.key = encoded.into();
        self
    }

    /// Sets the ETag (unquoted, as notifications carry it).
    pub fn e_tag(mut self, e_tag: impl Into<String>) -> Self {
        self.e_tag = Some(e_tag.into());
        self
    }

    /// Sets the sequencer (hex), which orders changes to one key.
    pub fn sequencer(mut self, sequencer: impl Into<String>) -> Self {
        self.sequencer = Some(sequencer.into());
        self
    }

    /// Sets the version id (versioned buckets).
    pub fn version_id(mut self, id: impl Into<String>) -> Self {
        self.version_id = Some(id.into());
        self
    }

    /// Sets the region (default [`REGION`]).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// The key as the notification carries it (encoded).
    pub fn encoded_key(&self) -> &str {
        &self.key
    }

    /// The record id eventrail gives this record: `bucket/key#sequencer`.
    pub fn record_id(&self) -> String {
        format!("{}/{}#{}", self.bucket, self.key, self.sequencer_value())
    }

    fn sequencer_value(&self) -> String {
        self.sequencer.clone().unwrap_or_else(|| {
            let h = md5_hex(format!("{}/{}/{}", self.bucket, self.key, self.event_name).as_bytes());
            h[..18].to_ascii_uppercase()
        })
    }

    /// The record's JSON as the `index`th record of an event.
    pub fn to_json_at(&self, index: usize) -> Value {
        let mut object = json!({ "key": self.key });
        if let Some(size) = self.size {
            object["size"] = size.into();
            let tag = self
                .e_tag
                .clone()
                .unwrap_or_else(|| md5_hex(self.key.as_bytes()));
            object["eTag"] = tag.into();
        }
        if let Some(v) = &self.version_id {
            object["versionId"] = v.clone().into();
        }
        object["sequencer"] = self.sequencer_value().into();
        json!({
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": self.region,
            "eventTime": iso_time(index as u64),
            "eventName": self.event_name,
            "userIdentity": { "principalId": "AWS:AIDAINPONIXQXHT3IKHL2" },
            "requestParameters": { "sourceIPAddress": "203.0.113.10" },
            "responseElements": {
                "x-amz-request-id": format!("{:016X}", index + 1),
                "x-amz-id-2": "dGVzdGtpdCByZXF1ZXN0IGlk",
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "eventrail-testkit",
                "bucket": {
                    "name": self.bucket,
                    "ownerIdentity": { "principalId": "A3I5XTEXAMAI3E" },
                    "arn": format!("arn:aws:s3:::{}", self.bucket),
                },
                "object": object,
            }
        })
    }

    /// An event of this record alone, as the `aws_lambda_events` type.
    pub fn typed(&self) -> S3Event {
        typed(self.to_json(), "S3 event")
    }
}

impl TestEvent for Record {
    fn to_json(&self) -> Value {
        json!({ "Records": [self.to_json_at(0)] })
    }
}

/// Several S3 records in one event. See [`batch`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    records: Vec<Record>,
}

impl Batch {
    /// The records.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// The event as the `aws_lambda_events` type.
    pub fn typed(&self) -> S3Event {
        typed(self.to_json(), "S3 event")
    }
}

impl TestEvent for Batch {
    fn to_json(&self) -> Value {
        let records: Vec<Value> = self
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| r.to_json_at(i))
            .collect();
        json!({ "Records": records })
    }
}
