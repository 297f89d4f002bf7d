//! The structure-aware Firehose target: transformation invocations with
//! good, dropped, failing and malformed records, read from Direct PUT,
//! Kinesis or MSK.

use arbitrary::{Arbitrary, Unstructured};
use eventrail::source::firehose::encode;
use eventrail::Source;
use serde_json::{json, Value};

use super::process;

/// The `recordId` of a generated record.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum RecordId {
    /// `r-N`.
    Text(u8),
    /// Absent.
    Missing,
    /// A number.
    Number(u8),
}

/// The data of a generated record.
#[derive(Arbitrary, Clone, Debug)]
pub enum Data {
    /// `{"kind": "log", "level": .., "msg": ..}`: rewritten, dropped
    /// (`debug`) or failed (`msg` `poison`).
    Log {
        /// One of four levels (`debug` is dropped).
        level: u8,
        /// The message.
        msg: String,
    },
    /// A JSON object of another kind: no route.
    OtherKind(String),
    /// Arbitrary bytes.
    Bytes(Vec<u8>),
    /// Not base64.
    NotBase64(String),
    /// No data field.
    Missing,
    /// A number instead of a string.
    Number(u16),
}

/// One generated record.
#[derive(Arbitrary, Clone, Debug)]
pub struct Record {
    /// Its id.
    pub id: RecordId,
    /// Its data.
    pub data: Data,
}

/// A generated invocation: the target's input.
#[derive(Arbitrary, Clone, Debug)]
pub struct Invocation {
    /// Read from MSK: the data is in `kafkaRecordValue`.
    pub msk: bool,
    /// The records.
    pub records: Vec<Record>,
}

const LEVELS: [&str; 4] = ["debug", "info", "warn", "error"];

impl Record {
    fn reported_id(&self) -> String {
        match self.id {
            RecordId::Text(n) => format!("r-{n}"),
            _ => String::new(),
        }
    }

    /// The encoded data as sent (`None`: a number or absent).
    fn encoded(&self) -> Option<String> {
        match &self.data {
            Data::Log { level, msg } => Some(encode(
                json!({"kind": "log", "level": LEVELS[usize::from(level % 4)], "msg": msg})
                    .to_string()
                    .as_bytes(),
            )),
            Data::OtherKind(k) => Some(encode(
                json!({ "kind": format!("x{k}") }).to_string().as_bytes(),
            )),
            Data::Bytes(b) => Some(encode(b)),
            Data::NotBase64(t) => Some(format!("#{t}")),
            Data::Missing | Data::Number(_) => None,
        }
    }

    fn to_json(&self, msk: bool) -> Value {
        let field = if msk { "kafkaRecordValue" } else { "data" };
        let mut r = json!({ "approximateArrivalTimestamp": 1_767_225_600_000u64 });
        match self.id {
            RecordId::Text(_) => r["recordId"] = json!(self.reported_id()),
            RecordId::Number(n) => r["recordId"] = json!(n),
            RecordId::Missing => {}
        }
        match (&self.data, self.encoded()) {
            (Data::Number(n), _) => r[field] = json!(n),
            (_, Some(d)) => r[field] = json!(d),
            _ => {}
        }
        if !msk {
            r["kinesisRecordMetadata"] =
                json!({"shardId": "shardId-000000000000", "partitionKey": "p"});
        }
        r
    }

    /// The entry the response must have for the record (its data `None`
    /// where it is the original data).
    fn expected(&self) -> (&'static str, Option<String>, Option<Value>) {
        let failed = ("ProcessingFailed", None, None);
        if matches!(self.id, RecordId::Missing | RecordId::Number(_))
            || matches!(self.data, Data::Number(_))
        {
            return failed;
        }
        let Data::Log { level, msg } = &self.data else {
            // Other kinds have no route; bytes are not a log line (or, rarely,
            // one: not predicted, so not generated as such).
            return failed;
        };
        let level = LEVELS[usize::from(level % 4)];
        if level == "debug" {
            return ("Dropped", None, None);
        }
        if msg == "poison" {
            return failed;
        }
        (
            "Ok",
            Some(encode(format!("{level}: {msg}\n").as_bytes())),
            Some(json!({ "partitionKeys": { "level": level } })),
        )
    }
}

/// The Firehose target: an invocation built from the bytes, answered with
/// one entry per record under its id, in order, with the result the record's
/// shape says; failed and dropped records keep their data, in the field it
/// came in. See the [module docs](super).
pub fn firehose_batch(data: &[u8]) {
    let Ok(mut inv) = Invocation::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    inv.records.truncate(1_000);
    // Bytes that happen to be a routed log line are not predicted.
    inv.records.retain(|r| match &r.data {
        Data::Bytes(b) => !String::from_utf8_lossy(b).contains("log"),
        _ => true,
    });
    let records: Vec<Value> = inv.records.iter().map(|r| r.to_json(inv.msk)).collect();
    let mut event = json!({
        "invocationId": "inv-1",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/logs",
        "region": "us-east-1",
        "records": records,
    });
    if inv.msk {
        event["sourceMSKArn"] = json!("arn:aws:kafka:us-east-1:123456789012:cluster/logs/1");
    }
    let payload = serde_json::to_vec(&event).expect("JSON");
    let Some((report, response)) = process(&payload) else {
        assert!(
            inv.records.is_empty(),
            "an invocation with records is detected"
        );
        return;
    };
    assert_eq!(report.source, Source::Firehose);
    let response = response.expect("a Firehose invocation is answered");
    let entries = response["records"].as_array().expect("records");
    assert_eq!(entries.len(), inv.records.len(), "one entry per record");
    let field = if inv.msk { "kafkaRecordValue" } else { "data" };
    for (r, e) in inv.records.iter().zip(entries) {
        assert_eq!(e["recordId"], r.reported_id().as_str(), "{r:?}: {e}");
        let (result, data, metadata) = r.expected();
        assert_eq!(e["result"], result, "{r:?}: {e}");
        let original = r.encoded().unwrap_or_default();
        assert_eq!(
            e[field].as_str(),
            Some(data.as_deref().unwrap_or(&original)),
            "{r:?}: {e}"
        );
        assert_eq!(e.get("metadata"), metadata.as_ref(), "{r:?}: {e}");
        let keys = e.as_object().unwrap().len();
        assert_eq!(keys, 3 + usize::from(metadata.is_some()), "{e}");
    }
}
