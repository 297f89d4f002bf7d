//! DynamoDB Streams: a record is one item change.
//!
//! - Record id: the sequence number (what a batch response reports), the
//!   `eventID` when there is none.
//! - Order key: the stream (`eventSourceARN`): records of a shard run in
//!   order, and after a failure the rest of the stream is not started.
//! - Response: the first failed record only, the checkpoint the shard
//!   resumes from.
//!
//! The change itself, with its images unmarshalled, is
//! [`crate::dynamodb::DataChange`].

pub use aws_lambda_events::event::dynamodb::{
    Event as DynamoDbEvent, EventRecord as DynamoDbRecord,
};

use super::{Identity, Spec};
use crate::envelope::Source;
use crate::json::str_at;

pub(super) const SPEC: Spec = Spec {
    source: Source::DynamoDb,
    event_source: "aws:dynamodb",
    shape: &["dynamodb"],
};

/// The record id of a typed DynamoDB Streams record. See the [module docs](self).
pub fn record_id(r: &DynamoDbRecord) -> &str {
    r.change
        .sequence_number
        .as_deref()
        .unwrap_or(r.event_id.as_str())
}

/// The order key of a typed DynamoDB Streams record: its stream.
pub fn order_key(r: &DynamoDbRecord) -> &str {
    r.event_source_arn.as_deref().unwrap_or("")
}

/// The identity of a typed DynamoDB Streams record. See the [module docs](self).
pub fn identity(r: &DynamoDbRecord) -> Identity {
    Identity::ordered(record_id(r), Source::DynamoDb, order_key(r))
}

pub(super) fn identify_raw(raw: &str) -> Identity {
    let id = str_at(raw, &["dynamodb", "SequenceNumber"])
        .or_else(|| str_at(raw, &["eventID"]))
        .unwrap_or_default();
    Identity::ordered(
        id,
        Source::DynamoDb,
        &str_at(raw, &["eventSourceARN"]).unwrap_or_default(),
    )
}
