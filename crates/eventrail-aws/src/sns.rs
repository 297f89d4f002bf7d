//! [`Notifier`] over SNS `Publish`.
//!
//! The subject, every message attribute (`String`, `Number`, `Binary`,
//! `String.Array`) and, for FIFO topics, the message group and
//! deduplication ids go out as they are in the [`SnsMessage`].
//!
//! ```no_run
//! use eventrail::ports::{AttributeValue, Notifier, SnsMessage};
//! use eventrail_aws::{config, SnsNotifier};
//!
//! # async fn run() -> Result<(), eventrail::ports::PortError> {
//! let notifier = SnsNotifier::from_conf(&config::load().await);
//! let receipt = notifier
//!     .publish(
//!         SnsMessage::new("arn:aws:sns:eu-west-1:123456789012:orders.fifo", r#"{"id":42}"#)
//!             .with_subject("Order placed")
//!             .with_attribute("type", AttributeValue::String("ORDER_PLACED".into()))
//!             .with_group_id("customer-7")
//!             .with_deduplication_id("order-42"),
//!     )
//!     .await?;
//! println!("published {}", receipt.message_id);
//! # Ok(()) }
//! ```
//!
//! A topic that does not exist is a permanent error with code `NotFound`;
//! throttling (`Throttled`, `KMSThrottlingException`) and 5xx are retryable.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sns::primitives::Blob;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;
use eventrail::ports::{AttributeValue, Notifier, PortError, PublishReceipt, SnsMessage};

use crate::error::from_sdk;

/// Publishes [`SnsMessage`]s with SNS `Publish`. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct SnsNotifier {
    client: Client,
}

impl SnsNotifier {
    /// A notifier over a client you configured.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// A notifier configured by `config` (region, credentials, endpoint).
    pub fn from_conf(config: &SdkConfig) -> Self {
        Self::new(Client::new(config))
    }

    /// The SDK client, for calls this type does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait]
impl Notifier for SnsNotifier {
    async fn publish(&self, msg: SnsMessage) -> Result<PublishReceipt, PortError> {
        let attributes = to_sdk_attributes(&msg.attributes)?;
        let out = self
            .client
            .publish()
            .topic_arn(msg.topic_arn)
            .message(msg.message)
            .set_subject(msg.subject)
            .set_message_attributes((!attributes.is_empty()).then_some(attributes))
            .set_message_group_id(msg.group_id)
            .set_message_deduplication_id(msg.deduplication_id)
            .send()
            .await
            .map_err(|e| from_sdk("SNS Publish", e))?;
        Ok(PublishReceipt {
            message_id: out.message_id.unwrap_or_default(),
        })
    }
}

/// Our attribute values as SNS's, with their data types.
fn to_sdk_attributes(
    attributes: &BTreeMap<String, AttributeValue>,
) -> Result<std::collections::HashMap<String, MessageAttributeValue>, PortError> {
    attributes
        .iter()
        .map(|(name, value)| {
            let builder = MessageAttributeValue::builder();
            let builder = match value {
                AttributeValue::String(s) => builder.data_type("String").string_value(s),
                AttributeValue::Number(n) => builder.data_type("Number").string_value(n),
                AttributeValue::Binary(b) => builder
                    .data_type("Binary")
                    .binary_value(Blob::new(b.clone())),
                AttributeValue::StringArray(a) => builder.data_type("String.Array").string_value(a),
                other => {
                    return Err(PortError::permanent(format!(
                        "SNS Publish: message attribute `{name}` has an unsupported type: {other:?}"
                    )))
                }
            };
            let value = builder.build().map_err(|e| {
                PortError::permanent(format!("SNS Publish: message attribute `{name}`: {e}"))
                    .with_source(e)
            })?;
            Ok((name.clone(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_attribute_type_gets_its_sns_data_type() {
        let mut attrs = BTreeMap::new();
        attrs.insert("s".to_owned(), AttributeValue::String("v".into()));
        attrs.insert("n".to_owned(), AttributeValue::Number("42.5".into()));
        attrs.insert("b".to_owned(), AttributeValue::Binary(vec![0, 1, 255]));
        attrs.insert(
            "a".to_owned(),
            AttributeValue::StringArray(r#"["x",1]"#.into()),
        );
        let sdk = to_sdk_attributes(&attrs).unwrap();
        assert_eq!(sdk["s"].data_type(), "String");
        assert_eq!(sdk["s"].string_value(), Some("v"));
        assert_eq!(sdk["n"].data_type(), "Number");
        assert_eq!(sdk["n"].string_value(), Some("42.5"));
        assert_eq!(sdk["b"].data_type(), "Binary");
        assert_eq!(
            sdk["b"].binary_value().map(|b| b.as_ref()),
            Some(&[0u8, 1, 255][..])
        );
        assert_eq!(sdk["a"].data_type(), "String.Array");
        assert_eq!(sdk["a"].string_value(), Some(r#"["x",1]"#));
    }
}
