//! DynamoDB Streams records as typed changes.
//!
//! The router turns each stream record into a [`DataChange<T>`]: the kind of
//! change, the item's keys, and the old and new images unmarshalled into `T`
//! with `serde_dynamo`.
//!
//! ```
//! use eventrail::dynamodb::{ChangeKind, DataChange};
//!
//! #[derive(Debug, serde::Deserialize)]
//! struct Order {
//!     pk: String,
//!     total: u64,
//! }
//!
//! fn on_change(change: &DataChange<Order>) -> Option<u64> {
//!     match change.kind {
//!         ChangeKind::Insert | ChangeKind::Modify => change.new.as_ref().map(|o| o.total),
//!         ChangeKind::Remove => None,
//!     }
//! }
//! # let _ = on_change;
//! ```

use std::fmt;

use aws_lambda_events::event::dynamodb::EventRecord;
use serde::de::DeserializeOwned;

use crate::error::RecordError;

/// What happened to the item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// `INSERT`: a new item.
    Insert,
    /// `MODIFY`: an existing item changed.
    Modify,
    /// `REMOVE`: the item was deleted.
    Remove,
}

impl ChangeKind {
    /// Parses a stream record's `eventName`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "INSERT" => Some(Self::Insert),
            "MODIFY" => Some(Self::Modify),
            "REMOVE" => Some(Self::Remove),
            _ => None,
        }
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Insert => "INSERT",
            Self::Modify => "MODIFY",
            Self::Remove => "REMOVE",
        })
    }
}

/// A typed change to one DynamoDB item.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DataChange<T> {
    /// Insert, modify or remove.
    pub kind: ChangeKind,
    /// The item's primary key attributes.
    pub keys: serde_dynamo::Item,
    /// The item before the change (absent for inserts, or when the stream
    /// does not carry old images).
    pub old: Option<T>,
    /// The item after the change (absent for removals, or when the stream does
    /// not carry new images).
    pub new: Option<T>,
    /// The stream sequence number.
    pub sequence_number: Option<String>,
    /// The table name, when the record carries it.
    pub table_name: Option<String>,
}

impl<T: DeserializeOwned> DataChange<T> {
    /// Reads a stream record. An unknown event name or an image that does not
    /// unmarshal into `T` is bad input.
    pub fn from_record(r: &EventRecord) -> Result<Self, RecordError> {
        let kind = ChangeKind::parse(&r.event_name).ok_or_else(|| {
            RecordError::bad_input(format!("unknown DynamoDB event name {:?}", r.event_name))
        })?;
        let image = |item: &serde_dynamo::Item, which: &str| -> Result<Option<T>, RecordError> {
            if item.is_empty() {
                return Ok(None);
            }
            serde_dynamo::from_item(item.clone())
                .map(Some)
                .map_err(|e| {
                    RecordError::bad_input(format!(
                        "{which} image does not unmarshal into {}",
                        std::any::type_name::<T>()
                    ))
                    .with_source(e)
                })
        };
        Ok(Self {
            kind,
            keys: r.change.keys.clone(),
            old: image(&r.change.old_image, "old")?,
            new: image(&r.change.new_image, "new")?,
            sequence_number: r.change.sequence_number.clone(),
            table_name: r.table_name.clone(),
        })
    }
}

/// The string value of a key attribute (`S`), if present.
pub(crate) fn key_str<'a>(item: &'a serde_dynamo::Item, attr: &str) -> Option<&'a str> {
    match item.get(attr)? {
        serde_dynamo::AttributeValue::S(s) => Some(s.as_str()),
        _ => None,
    }
}
