//! Amazon SQS: a record is a message.
//!
//! - Record id: the `messageId`, which is what a partial batch response
//!   reports (`batchItemFailures[].itemIdentifier`).
//! - Order key: FIFO messages are ordered by `MessageGroupId`; a message of a
//!   `.fifo` queue without one is ordered by the queue ARN (the whole queue
//!   in order rather than none of it).
//! - Correlation id and tenant: from message attributes (see
//!   [`CORRELATION_ATTRIBUTES`](super::CORRELATION_ATTRIBUTES),
//!   [`TENANT_ATTRIBUTES`](super::TENANT_ATTRIBUTES)).
//! - Unwrapping: a body that is an SNS notification (SNS → SQS) or an S3
//!   notification (S3 → SQS) is routed as what it carries (see
//!   [`Router`](crate::Router)).
//! - Response: the failed messages, in input order.
//!
//! ```
//! use eventrail::source::sqs::{identity, SqsMessage};
//!
//! let mut m = SqsMessage::default();
//! m.message_id = Some("m-1".into());
//! m.event_source_arn = Some("arn:aws:sqs:eu-west-1:111122223333:jobs.fifo".into());
//! m.attributes.insert("MessageGroupId".into(), "g-1".into());
//! let id = identity(&m);
//! assert_eq!((id.meta.record_id(), id.order_key.as_deref()), ("m-1", Some("g-1")));
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, MapAccess, Visitor};
use serde::Deserialize;

pub use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage, SqsMessageAttribute};

use super::{apply_attributes, CheckedStr, Identity, Spec};
use crate::envelope::Source;
use crate::json::{str_at, Text};

pub(super) const SPEC: Spec = Spec {
    source: Source::Sqs,
    event_source: "aws:sqs",
    shape: &["messageId", "body"],
};

/// The record id of a typed SQS message: its `messageId`.
pub fn record_id(msg: &SqsMessage) -> &str {
    msg.message_id.as_deref().unwrap_or("")
}

/// The order key of a typed SQS message. See the [module docs](self).
pub fn order_key(msg: &SqsMessage) -> Option<&str> {
    order_key_of(
        msg.attributes.get("MessageGroupId").map(String::as_str),
        msg.event_source_arn.as_deref(),
    )
}

fn order_key_of<'a>(group: Option<&'a str>, arn: Option<&'a str>) -> Option<&'a str> {
    // A FIFO queue's message without its group: keep the whole queue in
    // order rather than none of it.
    group.or_else(|| arn.filter(|arn| arn.ends_with(".fifo")))
}

/// The identity of a typed SQS message. See the [module docs](self).
pub fn identity(msg: &SqsMessage) -> Identity {
    identity_of(
        record_id(msg),
        msg.attributes.get("MessageGroupId").map(String::as_str),
        msg.event_source_arn.as_deref(),
        |n| {
            msg.message_attributes
                .get(n)
                .and_then(|a| a.string_value.as_deref())
        },
    )
}

fn identity_of<'a>(
    id: &str,
    group: Option<&str>,
    arn: Option<&str>,
    attribute: impl Fn(&str) -> Option<&'a str>,
) -> Identity {
    let mut identity = Identity::new(id, Source::Sqs);
    apply_attributes(&mut identity.meta, attribute);
    identity.order_key = order_key_of(group, arn).map(Arc::from);
    identity
}

/// The identity of a raw record that may not have the message's shape.
pub(super) fn identify_raw(raw: &str) -> Identity {
    let id = str_at(raw, &["messageId"]).unwrap_or_default();
    let group = str_at(raw, &["attributes", "MessageGroupId"]);
    let arn = str_at(raw, &["eventSourceARN"]);
    identity_of(&id, group.as_deref(), arn.as_deref(), |_| None)
}

/// An SQS message read from the payload without copying what routing does
/// not need. It accepts exactly what [`SqsMessage`] accepts: a field of the
/// wrong type makes the record malformed either way.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct View<'a> {
    #[serde(default, borrow)]
    message_id: Option<Text<'a>>,
    #[serde(default)]
    #[allow(dead_code)] // checked, not read
    receipt_handle: Option<CheckedStr>,
    #[serde(default, borrow, deserialize_with = "crate::json::optional_text")]
    body: Option<Text<'a>>,
    #[serde(default)]
    #[allow(dead_code)]
    md5_of_body: Option<CheckedStr>,
    #[serde(default)]
    #[allow(dead_code)]
    md5_of_message_attributes: Option<CheckedStr>,
    #[serde(default, borrow)]
    attributes: Attributes<'a>,
    #[serde(default)]
    message_attributes: Option<HashMap<String, SqsMessageAttribute>>,
    #[serde(default, rename = "eventSourceARN", borrow)]
    event_source_arn: Option<Text<'a>>,
    #[serde(default)]
    #[allow(dead_code)]
    event_source: Option<CheckedStr>,
    #[serde(default)]
    #[allow(dead_code)]
    aws_region: Option<CheckedStr>,
}

impl<'a> View<'a> {
    /// Reads the message `tail` starts with, in the pass that splits its
    /// batch ([`RawEvent::parse`](super::RawEvent::parse)), leaving what
    /// follows it alone: the message and its length in bytes, or `None` if
    /// it is not a message (the router then reads its text for the error).
    pub(crate) fn read(tail: &'a str) -> Option<(Self, usize)> {
        if !tail.starts_with('{') {
            return None;
        }
        let mut stream = serde_json::Deserializer::from_str(tail).into_iter::<Self>();
        let view = stream.next()?.ok()?;
        Some((view, stream.byte_offset()))
    }

    /// The message's identity, as [`identity`] reads it from the typed message.
    pub(crate) fn identity(&self) -> Identity {
        let attrs = self.message_attributes.as_ref();
        identity_of(
            self.message_id.as_deref().unwrap_or(""),
            self.attributes.group.as_deref(),
            self.event_source_arn.as_deref(),
            |n| attrs?.get(n)?.string_value.as_deref(),
        )
    }

    /// The body, if the message has one.
    #[cfg(test)]
    pub(crate) fn body(&self) -> Option<&str> {
        self.body.as_deref()
    }

    /// The identity and the body.
    pub(crate) fn into_parts(self) -> (Identity, Option<Text<'a>>) {
        (self.identity(), self.body)
    }
}

/// The `attributes` map: every value a string (as in [`SqsMessage`]), only
/// `MessageGroupId` kept.
#[derive(Clone, Debug, Default)]
struct Attributes<'a> {
    group: Option<Text<'a>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Attributes<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Attributes<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of strings")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Attributes::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Attributes::default();
                // `Text`, not `Cow`: serde's `Cow<str>` is always owned,
                // which would copy every key of every record.
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    let value = map.next_value::<Text<'de>>()?;
                    if &*key == "MessageGroupId" {
                        out.group = Some(value);
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn view(json: &str) -> Result<View<'_>, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn the_view_and_the_typed_message_agree() {
        let cases = [
            r#"{"messageId":"m","body":"{}","attributes":{"MessageGroupId":"g"},"eventSourceARN":"q.fifo"}"#,
            r#"{"messageId":"m","body":"x","eventSourceARN":"arn:q.fifo","attributes":null}"#,
            r#"{"messageId":"m","messageAttributes":{"tenant":{"stringValue":"acme","dataType":"String"}}}"#,
            r#"{"messageId":7}"#,
            r#"{"messageId":"m","body":{"a":1}}"#,
            r#"{"messageId":"m","attributes":{"SentTimestamp":5}}"#,
            r#"{"messageId":"m","receiptHandle":false}"#,
            r#"{"messageId":"m","messageAttributes":{"a":{"binaryValue":"not base64!"}}}"#,
            r#""garbage""#,
        ];
        for json in cases {
            let typed = serde_json::from_str::<SqsMessage>(json);
            match (view(json), typed) {
                (Ok(v), Ok(t)) => {
                    let (a, b) = (v.identity(), identity(&t));
                    assert_eq!(a.meta.record_id(), b.meta.record_id(), "{json}");
                    assert_eq!(a.order_key, b.order_key, "{json}");
                    assert_eq!(a.meta.tenant(), b.meta.tenant(), "{json}");
                    assert_eq!(v.body(), t.body.as_deref(), "{json}");
                }
                (Err(_), Err(_)) => {}
                (v, t) => panic!("{json}: view {:?} typed {:?}", v.is_ok(), t.is_ok()),
            }
        }
    }

    #[test]
    fn a_message_read_from_its_batch_ends_where_its_text_ends() {
        let batch = r#"{"messageId":"m","body":"{\"a\":1}"} , {"x":1}]"#;
        let (v, len) = View::read(batch).unwrap();
        assert_eq!(&batch[..len], r#"{"messageId":"m","body":"{\"a\":1}"}"#);
        assert_eq!(v.body(), Some(r#"{"a":1}"#));
        for declined in [
            r#"{"messageId":7}, {}"#,
            r#"[1]"#,
            r#"{"messageId":"m""#,
            " {}",
        ] {
            assert!(View::read(declined).is_none(), "{declined}");
        }
    }

    #[test]
    fn escaped_bodies_are_unescaped_and_plain_ones_borrowed() {
        let v = view(r#"{"messageId":"m","body":"{\"type\":\"A\"}"}"#).unwrap();
        assert_eq!(v.body(), Some(r#"{"type":"A"}"#));
        let v = view(r#"{"messageId":"m","body":"plain"}"#).unwrap();
        assert!(matches!(v.body, Some(Text(Cow::Borrowed("plain")))));
    }
}
