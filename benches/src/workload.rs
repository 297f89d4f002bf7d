//! The SQS workload the benches share, record by record.
//!
//! It follows the team's generator (`gen_sqs.py`): record `i` has a
//! deterministic UUID-shaped message id, and a body
//! `{"type": "NOTIFICATION", ...}` (even `i`) or `{"type": "SYNC_REQUEST", ...}`
//! (odd `i`). With `poison`, records `i % 100 == 37` carry malformed JSON and
//! records `i % 100 == 73` a notification on the unknown channel `FAX`: those,
//! and only those, must come back as failures (200 of 10 000).
//!
//! [`sqs_event_json`] writes the records as a Lambda SQS event, in the
//! generator's layout (Python's `json.dump`: `", "` and `": "` separators), so
//! a file of 10 000 records is 6 636 959 bytes like the generator's. Only the
//! receipt handles differ: here `AQEB` and 64 hex digits of MD5, there of
//! SHA-256. [`sqs_batch`](crate::sqs_batch) builds the same records in
//! memory.
//!
//! ```
//! use eventrail_benches::workload::{sqs_event_json, sqs_records};
//!
//! let (json, failing) = sqs_event_json(1_000, true);
//! assert_eq!(failing.len(), 20);
//! let event: serde_json::Value = serde_json::from_slice(&json).unwrap();
//! assert_eq!(event["Records"].as_array().unwrap().len(), 1_000);
//! assert_eq!(event["Records"][37]["messageId"], failing[0]);
//! assert!(sqs_records(1_000, true).filter(|r| r.fails).count() == 20);
//! ```

use std::io;

use serde::ser::SerializeMap;
use serde::Serialize;

/// The queue every record comes from.
pub const EVENT_SOURCE_ARN: &str = "arn:aws:sqs:us-east-2:123456789012:orders-notifications";
/// The region of that queue.
pub const AWS_REGION: &str = "us-east-2";
/// The `attributes` of every record, in the generator's order.
pub const ATTRIBUTES: [(&str, &str); 4] = [
    ("ApproximateReceiveCount", "1"),
    ("SentTimestamp", "1545082649183"),
    ("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
    ("ApproximateFirstReceiveTimestamp", "1545082649185"),
];

/// One record of the workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadRecord {
    /// The message id ([`message_id`]).
    pub message_id: String,
    /// An opaque receipt handle, unique per record.
    pub receipt_handle: String,
    /// The body.
    pub body: String,
    /// Lower-case hex MD5 of the body.
    pub md5_of_body: String,
    /// Whether the order app must report this record as failed.
    pub fails: bool,
}

/// The message id of record `i`: the generator's UUID version 4 of
/// `0x5eed + i * 0x9E3779B97F4A7C15` (mod 2^128).
pub fn message_id(i: usize) -> String {
    let mut n = 0x5eed_u128.wrapping_add((i as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    // Python's `uuid.UUID(int=n, version=4)`: RFC 4122 variant, version 4.
    n &= !(0xc000_u128 << 48);
    n |= 0x8000_u128 << 48;
    n &= !(0xf000_u128 << 64);
    n |= 4_u128 << 76;
    let hex = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Record `i` of the workload; with `poison`, the failing records are in.
pub fn workload_record(i: usize, poison: bool) -> WorkloadRecord {
    let message_id = message_id(i);
    let (body, fails) = if poison && i % 100 == 37 {
        // Truncated: malformed JSON.
        (r#"{"type": "NOTIFICATION", "recipient": "#.to_owned(), true)
    } else if poison && i % 100 == 73 {
        (
            format!(
                r#"{{"type": "NOTIFICATION", "channel": "FAX", "recipient": "user{i}@example.com", "subject": "x", "body": "y"}}"#
            ),
            true,
        )
    } else if i % 2 == 0 {
        (
            format!(
                r#"{{"type": "NOTIFICATION", "channel": "EMAIL", "recipient": "user{i}@example.com", "subject": "Order {i} confirmed", "body": "Thank you for your order."}}"#
            ),
            false,
        )
    } else {
        (
            format!(
                r#"{{"type": "SYNC_REQUEST", "entity": "ORDER", "pk": "ORDER#{i}", "sk": "META"}}"#
            ),
            false,
        )
    };
    let id_hash = md5_hex(message_id.as_bytes());
    WorkloadRecord {
        receipt_handle: format!("AQEB{id_hash}{}", md5_hex(id_hash.as_bytes())),
        md5_of_body: md5_hex(body.as_bytes()),
        message_id,
        body,
        fails,
    }
}

/// The first `n` records of the workload.
pub fn sqs_records(n: usize, poison: bool) -> impl Iterator<Item = WorkloadRecord> {
    (0..n).map(move |i| workload_record(i, poison))
}

/// The workload of `n` records as the JSON of a Lambda SQS event, and the
/// ids that must fail, in record order.
pub fn sqs_event_json(n: usize, poison: bool) -> (Vec<u8>, Vec<String>) {
    let records: Vec<WorkloadRecord> = sqs_records(n, poison).collect();
    let failing = records
        .iter()
        .filter(|r| r.fails)
        .map(|r| r.message_id.clone())
        .collect();
    let event = EventJson {
        records: records.iter().map(RecordJson::new).collect(),
    };
    let mut json = Vec::with_capacity(n * 700);
    let mut ser = serde_json::Serializer::with_formatter(&mut json, PythonStyle);
    event
        .serialize(&mut ser)
        .expect("serializing into memory cannot fail");
    (json, failing)
}

fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Serialize)]
struct EventJson<'a> {
    #[serde(rename = "Records")]
    records: Vec<RecordJson<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecordJson<'a> {
    message_id: &'a str,
    receipt_handle: &'a str,
    body: &'a str,
    attributes: Attributes,
    message_attributes: Empty,
    md5_of_body: &'a str,
    event_source: &'static str,
    #[serde(rename = "eventSourceARN")]
    event_source_arn: &'static str,
    aws_region: &'static str,
}

impl<'a> RecordJson<'a> {
    fn new(r: &'a WorkloadRecord) -> Self {
        Self {
            message_id: &r.message_id,
            receipt_handle: &r.receipt_handle,
            body: &r.body,
            attributes: Attributes,
            message_attributes: Empty {},
            md5_of_body: &r.md5_of_body,
            event_source: "aws:sqs",
            event_source_arn: EVENT_SOURCE_ARN,
            aws_region: AWS_REGION,
        }
    }
}

/// [`ATTRIBUTES`] as a JSON object.
struct Attributes;

impl Serialize for Attributes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(ATTRIBUTES.len()))?;
        for (k, v) in ATTRIBUTES {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// `{}`.
#[derive(Serialize)]
struct Empty {}

/// Compact JSON with Python's default separators, `", "` and `": "`.
struct PythonStyle;

impl serde_json::ser::Formatter for PythonStyle {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_generators() {
        // Printed by gen_sqs.py.
        assert_eq!(message_id(0), "00000000-0000-4000-8000-000000005eed");
        assert_eq!(message_id(1), "00000000-0000-4000-9e37-79b97f4adb02");
        assert_eq!(message_id(37), "00000000-0000-4016-9e04-97cf65c44df6");
        assert_eq!(
            workload_record(0, true).md5_of_body,
            "5e5b67d88fc90a64b6fb3b9771f51a24"
        );
    }

    #[test]
    fn ten_thousand_records_are_the_generators_size_and_fail_200() {
        let (json, failing) = sqs_event_json(10_000, true);
        assert_eq!(json.len(), 6_636_959);
        assert_eq!(failing.len(), 200);
        assert_eq!(failing[0], message_id(37));
        assert_eq!(failing[1], message_id(73));
        let event: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let first = &event["Records"][0];
        assert_eq!(
            first["attributes"]["ApproximateFirstReceiveTimestamp"],
            "1545082649185"
        );
        assert_eq!(first["messageAttributes"], serde_json::json!({}));
        assert_eq!(first["receiptHandle"].as_str().unwrap().len(), 68);
    }

    #[test]
    fn clean_workloads_have_no_failures() {
        let (json, failing) = sqs_event_json(1_000, false);
        assert!(failing.is_empty());
        assert!(!String::from_utf8(json).unwrap().contains("FAX"));
    }
}
