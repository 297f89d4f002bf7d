//! Amazon SNS: publishing a message (alarms, notifications).

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::PortError;

/// An SNS message attribute value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum AttributeValue {
    /// `String` data type.
    String(String),
    /// `Number` data type, kept as its decimal text.
    Number(String),
    /// `Binary` data type.
    Binary(Vec<u8>),
    /// `String.Array` data type: a JSON array as text.
    StringArray(String),
}

/// A message to publish to an SNS topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SnsMessage {
    /// The topic ARN.
    pub topic_arn: String,
    /// The subject (e-mail subscriptions show it). At most 100 printable ASCII characters.
    pub subject: Option<String>,
    /// The message body.
    pub message: String,
    /// Message attributes.
    pub attributes: BTreeMap<String, AttributeValue>,
    /// Message group id, for FIFO topics.
    pub group_id: Option<String>,
    /// Deduplication id, for FIFO topics without content-based deduplication.
    pub deduplication_id: Option<String>,
}

impl SnsMessage {
    /// A message with `body` for `topic_arn`.
    pub fn new(topic_arn: impl Into<String>, body: impl Into<String>) -> Self {
        Self {
            topic_arn: topic_arn.into(),
            subject: None,
            message: body.into(),
            attributes: BTreeMap::new(),
            group_id: None,
            deduplication_id: None,
        }
    }

    /// Sets the subject.
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Adds a message attribute.
    pub fn with_attribute(mut self, name: impl Into<String>, value: AttributeValue) -> Self {
        self.attributes.insert(name.into(), value);
        self
    }

    /// Sets the FIFO message group id.
    pub fn with_group_id(mut self, id: impl Into<String>) -> Self {
        self.group_id = Some(id.into());
        self
    }

    /// Sets the FIFO deduplication id.
    pub fn with_deduplication_id(mut self, id: impl Into<String>) -> Self {
        self.deduplication_id = Some(id.into());
        self
    }
}

/// What a successful publish returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishReceipt {
    /// The message id SNS assigned.
    pub message_id: String,
}

/// Publishes notifications and alarms to SNS topics.
#[async_trait]
pub trait Notifier: Send + Sync + fmt::Debug {
    /// Publishes `msg`.
    async fn publish(&self, msg: SnsMessage) -> Result<PublishReceipt, PortError>;
}
