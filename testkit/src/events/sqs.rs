//! SQS messages and batches.
//!
//! ```
//! use eventrail_testkit::events::{sqs, TestEvent};
//!
//! let batch = sqs::batch([
//!     sqs::fifo(r#"{"type":"ORDER"}"#, "customer-1"),
//!     sqs::fifo(r#"{"type":"ORDER"}"#, "customer-1").attribute("tenantCode", "acme"),
//! ]);
//! let json = batch.to_json();
//! assert_eq!(json["Records"][0]["attributes"]["MessageGroupId"], "customer-1");
//! assert!(json["Records"][0]["eventSourceARN"].as_str().unwrap().ends_with(".fifo"));
//! assert_eq!(json["Records"][1]["messageAttributes"]["tenantCode"]["stringValue"], "acme");
//! ```

use aws_lambda_events::event::sqs::SqsEvent;
use serde_json::{json, Map, Value};

use super::{md5_hex, pick, typed, uuid, Redeliver, TestEvent, ACCOUNT, EPOCH_MS, REGION};

/// The queue messages come from unless told otherwise.
pub const QUEUE: &str = "orders";

/// One SQS message being built. See [`message`].
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    id: Option<String>,
    body: String,
    attributes: Map<String, Value>,
    message_attributes: Map<String, Value>,
    group_id: Option<String>,
    queue: Option<String>,
    receive_count: u32,
    /// The position the message was first delivered at, once redelivered:
    /// its id, timestamps and sequence number stay those of that position.
    position: Option<usize>,
}

/// A standard-queue message with `body` (any text: it need not be JSON).
///
/// Its `messageId` is a deterministic UUID from its position in the batch
/// unless set with [`Message::id`].
pub fn message(body: impl Into<String>) -> Message {
    Message {
        id: None,
        body: body.into(),
        attributes: Map::new(),
        message_attributes: Map::new(),
        group_id: None,
        queue: None,
        receive_count: 1,
        position: None,
    }
}

/// A FIFO-queue message with `body` in message group `group_id`.
pub fn fifo(body: impl Into<String>, group_id: impl Into<String>) -> Message {
    message(body).group_id(group_id)
}

/// A batch of messages (Lambda delivers 1 to 10 000).
pub fn batch(messages: impl IntoIterator<Item = Message>) -> Batch {
    Batch {
        messages: messages.into_iter().collect(),
    }
}

impl Message {
    /// Sets the `messageId`: what a batch response names a failed message by.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Adds a `String` message attribute.
    pub fn attribute(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.message_attributes.insert(
            name.into(),
            json!({
                "stringValue": value.into(),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            }),
        );
        self
    }

    /// Adds a `Number` message attribute.
    pub fn number_attribute(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.message_attributes.insert(
            name.into(),
            json!({
                "stringValue": value.to_string(),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "Number",
            }),
        );
        self
    }

    /// Puts the message in FIFO message group `id` (the queue becomes
    /// `<queue>.fifo`).
    pub fn group_id(mut self, id: impl Into<String>) -> Self {
        self.group_id = Some(id.into());
        self
    }

    /// Sets the queue name (default [`QUEUE`]).
    pub fn queue(mut self, name: impl Into<String>) -> Self {
        self.queue = Some(name.into());
        self
    }

    /// Sets `ApproximateReceiveCount` (default 1): how often SQS delivered it.
    pub fn receive_count(mut self, n: u32) -> Self {
        self.receive_count = n;
        self
    }

    /// Sets a system attribute such as `AWSTraceHeader`.
    pub fn system_attribute(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes
            .insert(name.into(), Value::String(value.into()));
        self
    }

    /// The body.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The FIFO message group, if any.
    pub fn message_group(&self) -> Option<&str> {
        self.group_id.as_deref()
    }

    /// The `messageId` this message gets at `index` in a batch.
    pub fn message_id_at(&self, index: usize) -> String {
        let index = self.position.unwrap_or(index);
        self.id
            .clone()
            .unwrap_or_else(|| uuid(0x5a5, index as u64 + 1))
    }

    /// `ApproximateReceiveCount`: how often SQS delivered it.
    pub fn approximate_receive_count(&self) -> u32 {
        self.receive_count
    }

    /// This message delivered once more, as it was at `index` of its batch:
    /// the same `messageId`, body, attributes and timestamps, a new receipt
    /// handle and `ApproximateReceiveCount` one higher.
    pub fn redelivered_from(&self, index: usize) -> Message {
        let mut m = self.clone();
        m.id = Some(self.message_id_at(index));
        m.position = Some(self.position.unwrap_or(index));
        m.receive_count = self.receive_count.saturating_add(1);
        m
    }

    /// The message's JSON as the `index`th record of a batch.
    pub fn to_json_at(&self, index: usize) -> Value {
        let id = self.message_id_at(index);
        let index = self.position.unwrap_or(index);
        let sent = (EPOCH_MS + index as u64).to_string();
        let mut attributes = Map::new();
        attributes.insert(
            "ApproximateReceiveCount".into(),
            self.receive_count.to_string().into(),
        );
        attributes.insert("SentTimestamp".into(), sent.clone().into());
        attributes.insert("SenderId".into(), "AIDAIENQZJOLO23YVJ4VO".into());
        attributes.insert("ApproximateFirstReceiveTimestamp".into(), sent.into());
        let mut queue = self.queue.clone().unwrap_or_else(|| QUEUE.to_owned());
        if let Some(group) = &self.group_id {
            attributes.insert(
                "SequenceNumber".into(),
                format!("{:020}", 18_000_000_000_000_000_000u128 + index as u128).into(),
            );
            attributes.insert("MessageGroupId".into(), group.clone().into());
            attributes.insert(
                "MessageDeduplicationId".into(),
                md5_hex(self.body.as_bytes()).into(),
            );
            if !queue.ends_with(".fifo") {
                queue.push_str(".fifo");
            }
        }
        attributes.extend(self.attributes.clone());
        json!({
            "messageId": id,
            // SQS hands out a new receipt handle on every receive.
            "receiptHandle": match self.receive_count {
                1 => format!("AQEB{}", id.replace('-', "")),
                n => format!("AQEB{}R{n}", id.replace('-', "")),
            },
            "body": self.body,
            "attributes": attributes,
            "messageAttributes": self.message_attributes,
            "md5OfBody": md5_hex(self.body.as_bytes()),
            "eventSource": "aws:sqs",
            "eventSourceARN": format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"),
            "awsRegion": REGION,
        })
    }
}

impl TestEvent for Message {
    fn to_json(&self) -> Value {
        json!({ "Records": [self.to_json_at(0)] })
    }
}

/// A batch of SQS messages being built. See [`batch`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    messages: Vec<Message>,
}

impl Batch {
    /// Appends a message.
    pub fn push(mut self, message: Message) -> Self {
        self.messages.push(message);
        self
    }

    /// The messages.
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// The number of messages.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The `messageId`s, in order: what a batch response names.
    pub fn message_ids(&self) -> Vec<String> {
        self.messages
            .iter()
            .enumerate()
            .map(|(i, m)| m.message_id_at(i))
            .collect()
    }

    /// The batch as the `aws_lambda_events` type.
    pub fn typed(&self) -> SqsEvent {
        typed(self.to_json(), "SQS event")
    }
}

impl Redeliver for Batch {
    /// The messages named by `ids`, in batch order, as SQS delivers them
    /// again (see [`Message::redelivered_from`]): same `messageId`s, whatever
    /// their position in the new batch, `ApproximateReceiveCount` + 1.
    #[track_caller]
    fn redeliver<S: AsRef<str>>(&self, ids: impl IntoIterator<Item = S>) -> Self {
        let messages = pick(
            self.messages.iter().enumerate(),
            |(i, m)| m.message_id_at(*i),
            ids,
            "SQS batch",
        );
        batch(messages.into_iter().map(|(i, m)| m.redelivered_from(i)))
    }
}

impl TestEvent for Batch {
    fn to_json(&self) -> Value {
        let records: Vec<Value> = self
            .messages
            .iter()
            .enumerate()
            .map(|(i, m)| m.to_json_at(i))
            .collect();
        json!({ "Records": records })
    }
}

impl FromIterator<Message> for Batch {
    fn from_iter<I: IntoIterator<Item = Message>>(iter: I) -> Self {
        batch(iter)
    }
}

impl Message {
    /// A batch of this message alone, as the `aws_lambda_events` type.
    pub fn typed(&self) -> SqsEvent {
        typed(self.to_json(), "SQS event")
    }
}
