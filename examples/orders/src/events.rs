//! The domain events of the order app: what each route builds.
//!
//! ```
//! use example_orders::events::{Channel, Notification};
//!
//! let n: Notification = serde_json::from_str(
//!     r#"{"type": "NOTIFICATION", "channel": "EMAIL", "recipient": "ana@example.com",
//!         "subject": "Hi", "body": "Thanks", "templateId": "order-confirmed"}"#,
//! ).unwrap();
//! assert_eq!((n.channel, n.template_id.as_deref()), (Channel::Email, Some("order-confirmed")));
//! ```

use std::collections::BTreeMap;

use eventrail::aws_lambda_events::event::sqs::SqsMessage;
use eventrail::s3::S3Object;
use serde::{Deserialize, Serialize};

/// The delivery channel of a [`Notification`]. Any other value does not
/// deserialize: such a message fails permanently, as bad input.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum Channel {
    /// E-mail, sent through SES.
    Email,
    /// Text message: acknowledged as skipped (no SMS provider is wired).
    Sms,
    /// Push notification: acknowledged as skipped (no push provider is wired).
    Push,
}

/// `{"type": "NOTIFICATION", ...}` on the notifications queue.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// How to deliver it.
    pub channel: Channel,
    /// The recipient: an e-mail address, a phone number or a device id.
    pub recipient: String,
    /// The subject.
    pub subject: String,
    /// The text.
    pub body: String,
    /// The SES template to render instead of `body`, if any.
    #[serde(default)]
    pub template_id: Option<String>,
    /// The template's variables.
    #[serde(default)]
    pub template_data: Option<serde_json::Value>,
}

/// `{"type": "SYNC_REQUEST", "entity", "pk", "sk"}` on the notifications queue:
/// push one item to the external system again.
#[derive(Debug, Deserialize)]
pub struct SyncRequest {
    /// The entity kind, e.g. `ORDER`.
    pub entity: String,
    /// Partition key of the item.
    pub pk: String,
    /// Sort key of the item.
    #[serde(default)]
    pub sk: String,
}

/// A CSV file of orders to import: an S3 object under `imports/csv/`, or the
/// payload `{"bucket", "key"}` of a Step Functions `CSV_IMPORT` task.
#[derive(Clone, Debug, Deserialize)]
pub struct CsvImport {
    /// The bucket.
    pub bucket: String,
    /// The object key, decoded.
    pub key: String,
}

impl From<S3Object> for CsvImport {
    fn from(o: S3Object) -> Self {
        Self {
            bucket: o.bucket,
            key: o.key,
        }
    }
}

/// A file landed under `uploads/`; the handler dispatches on its extension.
#[derive(Debug)]
pub struct FileUpload(pub S3Object);

impl From<S3Object> for FileUpload {
    fn from(o: S3Object) -> Self {
        Self(o)
    }
}

/// An order item (`pk = ORDER#<id>`) in the orders table.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Order {
    /// `ORDER#<id>`.
    pub pk: String,
    /// The sort key.
    pub sk: String,
    /// The customer's e-mail address.
    pub email: String,
    /// Total in cents.
    pub total: u64,
    /// Number of items ordered.
    #[serde(default)]
    pub items: u32,
    /// The order's status.
    #[serde(default)]
    pub status: String,
}

impl Order {
    /// The order id: the partition key without `ORDER#`.
    pub fn id(&self) -> &str {
        self.pk.trim_start_matches("ORDER#")
    }
}

/// A product item (`pk = PRODUCT#<sku>`).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Product {
    /// `PRODUCT#<sku>`.
    pub pk: String,
    /// The sort key.
    pub sk: String,
    /// The product's name.
    pub name: String,
    /// Price in cents.
    pub price: u64,
}

/// A user item (`pk = USER#<id>`).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct User {
    /// `USER#<id>`.
    pub pk: String,
    /// The sort key.
    pub sk: String,
    /// The user's e-mail address.
    pub email: String,
    /// The display name.
    #[serde(default)]
    pub name: String,
}

/// The Step Functions task `ORDER_PROCESS`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessOrder {
    /// The order id.
    pub order_id: String,
    /// Number of items.
    pub items: u32,
}

/// A message that exhausted its receives on a queue and was moved to the
/// dead-letter queue: any SQS record with the `DeadLetterQueueSourceArn`
/// attribute, whatever its body.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// The message id.
    pub message_id: String,
    /// The queue the message failed on.
    pub source_queue_arn: String,
    /// The dead-letter queue it was read from.
    pub dead_letter_queue_arn: String,
    /// How many times it was received (its attempts, this one included).
    pub receive_count: Option<u32>,
    /// The body, as sent (JSON or not).
    pub body: String,
    /// The message's system attributes.
    pub attributes: BTreeMap<String, String>,
}

/// The attribute SQS sets on a message it moves to a dead-letter queue.
pub const DEAD_LETTER_SOURCE_ATTRIBUTE: &str = "DeadLetterQueueSourceArn";

impl DeadLetter {
    /// The dead letter an SQS record carries, if it is one.
    pub fn from_message(m: &SqsMessage) -> Option<Self> {
        let source = m.attributes.get(DEAD_LETTER_SOURCE_ATTRIBUTE)?;
        Some(Self {
            message_id: m.message_id.clone().unwrap_or_default(),
            source_queue_arn: source.clone(),
            dead_letter_queue_arn: m.event_source_arn.clone().unwrap_or_default(),
            receive_count: m
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok()),
            body: m.body.clone().unwrap_or_default(),
            attributes: m
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }

    /// The name of the queue the message failed on.
    pub fn source_queue(&self) -> &str {
        self.source_queue_arn
            .rsplit(':')
            .next()
            .unwrap_or(&self.source_queue_arn)
    }
}
