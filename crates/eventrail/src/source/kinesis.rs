//! Kinesis Data Streams: a record is one data record.
//!
//! - Record id: the sequence number.
//! - Order key: the stream (`eventSourceARN`), as for DynamoDB Streams.
//! - Response: the first failed record only, the checkpoint the shard
//!   resumes from.

pub use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};

use super::{Identity, Spec};
use crate::envelope::Source;
use crate::json::str_at;

pub(super) const SPEC: Spec = Spec {
    source: Source::Kinesis,
    event_source: "aws:kinesis",
    shape: &["kinesis"],
};

/// The record id of a typed Kinesis record: its sequence number.
pub fn record_id(r: &KinesisEventRecord) -> &str {
    r.kinesis.sequence_number.as_str()
}

/// The order key of a typed Kinesis record: its stream.
pub fn order_key(r: &KinesisEventRecord) -> &str {
    r.event_source_arn.as_deref().unwrap_or("")
}

/// The identity of a typed Kinesis record. See the [module docs](self).
pub fn identity(r: &KinesisEventRecord) -> Identity {
    Identity::ordered(record_id(r), Source::Kinesis, order_key(r))
}

pub(super) fn identify_raw(raw: &str) -> Identity {
    Identity::ordered(
        str_at(raw, &["kinesis", "sequenceNumber"]).unwrap_or_default(),
        Source::Kinesis,
        &str_at(raw, &["eventSourceARN"]).unwrap_or_default(),
    )
}
