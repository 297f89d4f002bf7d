//! DynamoDB Streams records, from serde values or DynamoDB items.
//!
//! Keys and images are given as anything `Serialize` (a `serde_json::json!`
//! value, your own struct) and marshalled the way `serde_dynamo` does
//! (strings → `S`, numbers → `N`, booleans → `BOOL`, null → `NULL`, arrays →
//! `L`, objects → `M`). For sets and binary attributes, build a
//! [`serde_dynamo::Item`] and use [`change`].
//!
//! ```
//! use eventrail_testkit::events::{dynamodb, TestEvent};
//! use serde_json::json;
//!
//! let keys = json!({"pk": "ORDER#42", "sk": "META"});
//! let event = dynamodb::batch([
//!     dynamodb::insert(&keys, json!({"pk": "ORDER#42", "sk": "META", "total": 99})),
//!     dynamodb::remove(&keys, json!({"pk": "ORDER#42", "sk": "META", "total": 99})),
//! ]).to_json();
//! let first = &event["Records"][0];
//! assert_eq!(first["eventName"], "INSERT");
//! assert_eq!(first["dynamodb"]["NewImage"]["total"], json!({"N": "99"}));
//! assert_eq!(event["Records"][1]["dynamodb"]["OldImage"]["pk"], json!({"S": "ORDER#42"}));
//! ```

use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use serde::Serialize;
use serde_dynamo::Item;
use serde_json::{json, Value};

use super::{pick, typed, Redeliver, TestEvent, ACCOUNT, EPOCH_MS, REGION};

/// The table records come from unless told otherwise.
pub const TABLE: &str = "orders";

/// The kind of change: the record's `eventName`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// `INSERT`.
    Insert,
    /// `MODIFY`.
    Modify,
    /// `REMOVE`.
    Remove,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Insert => "INSERT",
            Kind::Modify => "MODIFY",
            Kind::Remove => "REMOVE",
        }
    }
}

/// One stream record being built. See [`insert`], [`modify`], [`remove`].
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    kind: Kind,
    keys: Item,
    old: Option<Item>,
    new: Option<Item>,
    sequence_number: Option<String>,
    table: String,
    /// The position the record was first delivered at, once redelivered:
    /// its event id, sequence number and creation time stay those.
    position: Option<usize>,
}

/// Marshals `value` into an item. Panics if it is not a map, which is a
/// mistake in the test.
fn item(value: impl Serialize) -> Item {
    match serde_dynamo::to_item(value) {
        Ok(item) => item,
        Err(e) => panic!("a DynamoDB key or image must serialize to a map: {e}"),
    }
}

/// A record of any kind from DynamoDB items.
pub fn change(kind: Kind, keys: Item, old: Option<Item>, new: Option<Item>) -> Change {
    Change {
        kind,
        keys,
        old,
        new,
        sequence_number: None,
        table: TABLE.into(),
        position: None,
    }
}

/// An `INSERT` of `new` under `keys`.
pub fn insert(keys: impl Serialize, new: impl Serialize) -> Change {
    change(Kind::Insert, item(keys), None, Some(item(new)))
}

/// A `MODIFY` from `old` to `new` under `keys`.
pub fn modify(keys: impl Serialize, old: impl Serialize, new: impl Serialize) -> Change {
    change(Kind::Modify, item(keys), Some(item(old)), Some(item(new)))
}

/// A `REMOVE` of `old` under `keys`.
pub fn remove(keys: impl Serialize, old: impl Serialize) -> Change {
    change(Kind::Remove, item(keys), Some(item(old)), None)
}

/// A batch of stream records.
pub fn batch(changes: impl IntoIterator<Item = Change>) -> Batch {
    Batch {
        changes: changes.into_iter().collect(),
    }
}

impl Change {
    /// Sets the sequence number (the record id in batch responses).
    pub fn sequence_number(mut self, n: impl Into<String>) -> Self {
        self.sequence_number = Some(n.into());
        self
    }

    /// Sets the table name (default [`TABLE`]).
    pub fn table(mut self, name: impl Into<String>) -> Self {
        self.table = name.into();
        self
    }

    /// The sequence number this record gets at `index` in a batch.
    pub fn sequence_number_at(&self, index: usize) -> String {
        let index = self.position.unwrap_or(index);
        self.sequence_number
            .clone()
            .unwrap_or_else(|| format!("{}", 100_000_000_000_000_000_000u128 + index as u128 + 1))
    }

    /// The record's JSON as the `index`th record of a batch.
    pub fn to_json_at(&self, index: usize) -> Value {
        let seq = self.sequence_number_at(index);
        let index = self.position.unwrap_or(index);
        let item_json = |i: &Item| serde_json::to_value(i).unwrap_or(Value::Null);
        let size: usize = [Some(&self.keys), self.old.as_ref(), self.new.as_ref()]
            .into_iter()
            .flatten()
            .map(|i| item_json(i).to_string().len())
            .sum();
        let mut change = json!({
            "ApproximateCreationDateTime": (EPOCH_MS / 1000) as f64 + index as f64,
            "Keys": item_json(&self.keys),
            "SequenceNumber": seq,
            "SizeBytes": size,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        });
        if let Some(new) = &self.new {
            change["NewImage"] = item_json(new);
        }
        if let Some(old) = &self.old {
            change["OldImage"] = item_json(old);
        }
        json!({
            "eventID": format!("{:032x}", index + 1),
            "eventName": self.kind.name(),
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": change,
            "eventSourceARN": format!(
                "arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{}/stream/2026-01-01T00:00:00.000",
                self.table
            ),
        })
    }

    /// A batch of this record alone, as the `aws_lambda_events` type.
    pub fn typed(&self) -> DynamoDbEvent {
        typed(self.to_json(), "DynamoDB Streams event")
    }
}

impl TestEvent for Change {
    fn to_json(&self) -> Value {
        json!({ "Records": [self.to_json_at(0)] })
    }
}

/// A batch of stream records being built. See [`batch`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    changes: Vec<Change>,
}

impl Batch {
    /// The sequence numbers, in order: what a batch response names.
    pub fn sequence_numbers(&self) -> Vec<String> {
        self.changes
            .iter()
            .enumerate()
            .map(|(i, c)| c.sequence_number_at(i))
            .collect()
    }

    /// The batch as the `aws_lambda_events` type.
    pub fn typed(&self) -> DynamoDbEvent {
        typed(self.to_json(), "DynamoDB Streams event")
    }
}

impl Redeliver for Batch {
    /// The records named by `ids` (sequence numbers), in stream order, as
    /// the stream delivers them again: same sequence numbers, event ids and
    /// creation times, whatever their position in the new batch (a stream
    /// has no receive count).
    #[track_caller]
    fn redeliver<S: AsRef<str>>(&self, ids: impl IntoIterator<Item = S>) -> Self {
        let changes = pick(
            self.changes.iter().enumerate(),
            |(i, c)| c.sequence_number_at(*i),
            ids,
            "DynamoDB Streams batch",
        );
        batch(changes.into_iter().map(|(i, c)| {
            let mut c = c.clone();
            c.sequence_number = Some(c.sequence_number_at(i));
            c.position = Some(c.position.unwrap_or(i));
            c
        }))
    }
}

impl TestEvent for Batch {
    fn to_json(&self) -> Value {
        let records: Vec<Value> = self
            .changes
            .iter()
            .enumerate()
            .map(|(i, c)| c.to_json_at(i))
            .collect();
        json!({ "Records": records })
    }
}
