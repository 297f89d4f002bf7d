//! SNS notifications, delivered to Lambda directly or through SQS.
//!
//! ```
//! use eventrail_testkit::events::{sns, sqs, TestEvent};
//!
//! let n = sns::notification("orders", r#"{"type":"ORDER_CREATED"}"#)
//!     .subject("New order")
//!     .attribute("tenantCode", "acme");
//! let direct = n.to_json();
//! assert_eq!(direct["Records"][0]["Sns"]["TopicArn"], "arn:aws:sns:us-east-1:123456789012:orders");
//!
//! // The same notification, subscribed by an SQS queue (raw delivery off).
//! let via_sqs = sqs::batch([n.to_sqs()]).to_json();
//! let body: serde_json::Value = serde_json::from_str(via_sqs["Records"][0]["body"].as_str().unwrap()).unwrap();
//! assert_eq!(body["Type"], "Notification");
//! assert_eq!(body["Subject"], "New order");
//! ```

use aws_lambda_events::event::sns::SnsEvent;
use eventrail::ports::{AttributeValue, SnsMessage};
use serde_json::{json, Map, Value};

use super::{iso_time, sqs, typed, uuid, TestEvent, ACCOUNT, REGION};

const SIGNATURE: &str = "dGVzdGtpdCBzaWduYXR1cmUgLSBub3QgdmVyaWZpYWJsZQ==";

/// One SNS notification being built. See [`notification`].
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    topic: String,
    message: String,
    subject: Option<String>,
    id: Option<String>,
    attributes: Map<String, Value>,
}

/// A notification of `message` on `topic`: a topic name (the ARN is made with
/// the test region and account) or a full topic ARN.
pub fn notification(topic: impl Into<String>, message: impl Into<String>) -> Notification {
    Notification {
        topic: topic.into(),
        message: message.into(),
        subject: None,
        id: None,
        attributes: Map::new(),
    }
}

/// Several notifications in one event.
pub fn batch(notifications: impl IntoIterator<Item = Notification>) -> Batch {
    Batch {
        notifications: notifications.into_iter().collect(),
    }
}

impl Notification {
    /// Sets the subject.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Sets the SNS `MessageId` (the record id).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Adds a `String` message attribute.
    pub fn attribute(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.insert(
            name.into(),
            json!({"Type": "String", "Value": value.into()}),
        );
        self
    }

    /// Adds a message attribute of any SNS data type (`String`, `Number`,
    /// `Binary` with a base64 value, `String.Array`).
    pub fn typed_attribute(
        mut self,
        name: impl Into<String>,
        data_type: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.attributes.insert(
            name.into(),
            json!({"Type": data_type.into(), "Value": value.into()}),
        );
        self
    }

    /// The notification SNS delivers for a message published through the
    /// [`Notifier`](eventrail::ports::Notifier) port (what
    /// [`FakeSns::notifications`](crate::fakes::FakeSns::notifications) uses).
    pub fn from_message(msg: &SnsMessage, message_id: &str) -> Self {
        let mut n = notification(msg.topic_arn.as_str(), msg.message.as_str()).id(message_id);
        n.subject = msg.subject.clone();
        for (name, value) in &msg.attributes {
            n = match value {
                AttributeValue::String(s) => n.typed_attribute(name, "String", s),
                AttributeValue::Number(s) => n.typed_attribute(name, "Number", s),
                AttributeValue::StringArray(s) => n.typed_attribute(name, "String.Array", s),
                AttributeValue::Binary(b) => n.typed_attribute(name, "Binary", base64(b)),
                _ => n,
            };
        }
        n
    }

    /// The topic ARN.
    pub fn topic_arn(&self) -> String {
        if self.topic.starts_with("arn:") {
            self.topic.clone()
        } else {
            format!("arn:aws:sns:{REGION}:{ACCOUNT}:{}", self.topic)
        }
    }

    /// The `MessageId` this notification gets at `index` in a batch.
    pub fn message_id_at(&self, index: usize) -> String {
        self.id
            .clone()
            .unwrap_or_else(|| uuid(0x5b5, index as u64 + 1))
    }

    fn urls(&self) -> (String, String) {
        let arn = self.topic_arn();
        (
            format!("https://sns.{REGION}.amazonaws.com/SimpleNotificationService-testkit.pem"),
            format!(
                "https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={arn}:{}",
                uuid(0x5c5, 1)
            ),
        )
    }

    /// The `index`th record of an SNS event.
    pub fn to_json_at(&self, index: usize) -> Value {
        let (cert, unsubscribe) = self.urls();
        json!({
            "EventVersion": "1.0",
            "EventSubscriptionArn": format!("{}:{}", self.topic_arn(), uuid(0x5c5, 1)),
            "EventSource": "aws:sns",
            "Sns": {
                "SignatureVersion": "1",
                "Timestamp": iso_time(index as u64),
                "Signature": SIGNATURE,
                "SigningCertUrl": cert,
                "MessageId": self.message_id_at(index),
                "Message": self.message,
                "MessageAttributes": self.attributes,
                "Type": "Notification",
                "UnsubscribeUrl": unsubscribe,
                "TopicArn": self.topic_arn(),
                "Subject": self.subject,
            }
        })
    }

    /// The body SNS writes to a subscribed SQS queue (raw message delivery off).
    pub fn to_sqs_body(&self) -> String {
        let (cert, unsubscribe) = self.urls();
        let mut body = json!({
            "Type": "Notification",
            "MessageId": self.message_id_at(0),
            "TopicArn": self.topic_arn(),
            "Message": self.message,
            "Timestamp": iso_time(0),
            "SignatureVersion": "1",
            "Signature": SIGNATURE,
            "SigningCertURL": cert,
            "UnsubscribeURL": unsubscribe,
        });
        if let Some(s) = &self.subject {
            body["Subject"] = Value::String(s.clone());
        }
        if !self.attributes.is_empty() {
            body["MessageAttributes"] = Value::Object(self.attributes.clone());
        }
        body.to_string()
    }

    /// The SQS message a subscribed queue delivers for this notification.
    pub fn to_sqs(&self) -> sqs::Message {
        sqs::message(self.to_sqs_body())
    }

    /// An event of this notification alone, as the `aws_lambda_events` type.
    pub fn typed(&self) -> SnsEvent {
        typed(self.to_json(), "SNS event")
    }
}

impl TestEvent for Notification {
    fn to_json(&self) -> Value {
        json!({ "Records": [self.to_json_at(0)] })
    }
}

/// Several SNS notifications in one event. See [`batch`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    notifications: Vec<Notification>,
}

impl Batch {
    /// The notifications.
    pub fn notifications(&self) -> &[Notification] {
        &self.notifications
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.notifications.is_empty()
    }

    /// The number of notifications.
    pub fn len(&self) -> usize {
        self.notifications.len()
    }

    /// The same notifications as delivered to a subscribed SQS queue.
    pub fn to_sqs(&self) -> sqs::Batch {
        self.notifications
            .iter()
            .map(Notification::to_sqs)
            .collect()
    }

    /// The event as the `aws_lambda_events` type.
    pub fn typed(&self) -> SnsEvent {
        typed(self.to_json(), "SNS event")
    }
}

impl TestEvent for Batch {
    fn to_json(&self) -> Value {
        let records: Vec<Value> = self
            .notifications
            .iter()
            .enumerate()
            .map(|(i, n)| n.to_json_at(i))
            .collect();
        json!({ "Records": records })
    }
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_reference_vectors() {
        for (raw, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(raw.as_bytes()), enc);
        }
    }
}
