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
    keyed_identity(id, order_key_of(group, arn), attribute)
}

/// The identity of the message `id` whose order key ([`order_key_of`]) is
/// already known.
fn keyed_identity<'a>(
    id: &str,
    order_key: Option<&str>,
    attribute: impl Fn(&str) -> Option<&'a str>,
) -> Identity {
    let mut identity = Identity::new(id, Source::Sqs);
    apply_attributes(&mut identity.meta, attribute);
    identity.order_key = order_key.map(Arc::from);
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
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct View<'a> {
    #[serde(default, borrow)]
    message_id: Option<Text<'a>>,
    #[serde(default)]
    #[allow(dead_code)] // checked, not read
    receipt_handle: Option<CheckedStr>,
    #[serde(default, borrow, deserialize_with = "optional_body")]
    body: Option<Body<'a>>,
    #[serde(default)]
    #[allow(dead_code)]
    md5_of_body: Option<CheckedStr>,
    #[serde(default)]
    #[allow(dead_code)]
    md5_of_message_attributes: Option<CheckedStr>,
    #[serde(default, borrow)]
    attributes: Attributes<'a>,
    /// Boxed, and `None` when empty (as nearly always): a batch keeps
    /// every message read until it is routed.
    #[serde(default, deserialize_with = "boxed_attributes")]
    #[allow(
        clippy::box_collection,
        reason = "one pointer, not a 48-byte map, per message"
    )]
    message_attributes: Option<Box<HashMap<String, SqsMessageAttribute>>>,
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
        if let Some(read) = plain::read(tail) {
            return Some(read);
        }
        let mut stream = serde_json::Deserializer::from_str(tail).into_iter::<Self>();
        let view = stream.next()?.ok()?;
        Some((view, stream.byte_offset()))
    }

    /// The body, if the message has one (unescaped here if it was kept
    /// escaped; `None` too if that fails).
    #[cfg(test)]
    pub(crate) fn body(&self) -> Option<Text<'a>> {
        self.body.clone()?.into_text()
    }

    /// What a batch keeps of the message until it is routed.
    pub(crate) fn into_message(self) -> Message<'a> {
        let View {
            message_id,
            body,
            attributes,
            message_attributes,
            event_source_arn,
            ..
        } = self;
        // The group id, or a FIFO queue's ARN, as `order_key_of` picks.
        let fifo = event_source_arn.filter(|arn| arn.ends_with(".fifo"));
        Message {
            message_id,
            body,
            order_key: attributes.group.or(fifo),
            message_attributes,
        }
    }
}

/// What a batch keeps of a message its split read, until the message is
/// routed: its id, its body (still escaped if it was read by hand), its
/// order key and its message attributes. The fields a [`View`] only checks
/// are gone, and the group id and the queue's ARN are one order key, so a
/// batch of 10 000 messages keeps 800 KB of them where its views took
/// 1.1 MB.
#[derive(Clone, Debug)]
pub(crate) struct Message<'a> {
    message_id: Option<Text<'a>>,
    body: Option<Body<'a>>,
    /// What [`order_key_of`] answers for the message's group and queue.
    order_key: Option<Text<'a>>,
    #[allow(clippy::box_collection, reason = "see `View::message_attributes`")]
    message_attributes: Option<Box<HashMap<String, SqsMessageAttribute>>>,
}

impl<'a> Message<'a> {
    /// [`View::read`], kept as a message.
    pub(crate) fn read(tail: &'a str) -> Option<(Self, usize)> {
        View::read(tail).map(|(view, len)| (view.into_message(), len))
    }

    /// The message's identity, as [`identity`] reads it from the typed message.
    pub(crate) fn identity(&self) -> Identity {
        let attrs = self.message_attributes.as_ref();
        keyed_identity(
            self.message_id.as_deref().unwrap_or(""),
            self.order_key.as_deref(),
            |n| attrs?.get(n)?.string_value.as_deref(),
        )
    }

    /// The identity and the body, unescaped now if it was kept escaped.
    /// `None` if that body has an escape serde_json refuses (a lone
    /// surrogate, `\x`): read the record with serde_json then, which
    /// refuses it with its own error.
    pub(crate) fn into_parts(mut self) -> Option<(Identity, Option<Text<'a>>)> {
        let body = match self.body.take() {
            Some(body) => Some(body.into_text()?),
            None => None,
        };
        Some((self.identity(), body))
    }
}

/// A message's body: decoded, or (read by hand when its batch was split)
/// its string literal, quotes included, unescaped only when the message is
/// routed. A batch keeps every message read until it is routed; decoding
/// each body as it is used keeps one at a time in memory, not all of them.
#[derive(Clone, Debug)]
enum Body<'a> {
    Text(Text<'a>),
    Escaped(&'a str),
}

impl<'a> Body<'a> {
    /// The decoded body; `None` if it was kept escaped and an escape is
    /// one serde_json refuses.
    fn into_text(self) -> Option<Text<'a>> {
        match self {
            Body::Text(t) => Some(t),
            Body::Escaped(lit) => crate::json::unescape(lit).map(Text),
        }
    }
}

fn optional_body<'de: 'a, 'a, D: de::Deserializer<'de>>(
    d: D,
) -> Result<Option<Body<'a>>, D::Error> {
    crate::json::optional_text(d).map(|t| t.map(Body::Text))
}

/// `messageAttributes` as [`SqsMessage`] reads it (`null` or a map of
/// attributes), an empty map kept as `None`.
#[allow(clippy::box_collection, reason = "see `View::message_attributes`")]
fn boxed_attributes<'de, D: de::Deserializer<'de>>(
    d: D,
) -> Result<Option<Box<HashMap<String, SqsMessageAttribute>>>, D::Error> {
    let map = Option::<HashMap<String, SqsMessageAttribute>>::deserialize(d)?;
    Ok(map.filter(|m| !m.is_empty()).map(Box::new))
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

/// The shape nearly every SQS message has, read by hand: the known keys
/// once each, every value a string without escapes (the body may have
/// them), `attributes` an object of such strings, `messageAttributes`
/// empty. It answers only where serde_json reading a [`View`] would give
/// the same message, and declines (`None`) everything else: an unknown or
/// repeated key, `null`, an escape outside the body, a control character,
/// a message attribute... which then goes the serde_json path.
mod plain {
    use std::borrow::Cow;

    use super::{Attributes, Body, View};
    use crate::json::Text;
    use crate::source::CheckedStr;

    struct Bytes<'a> {
        text: &'a str,
        at: usize,
    }

    impl<'a> Bytes<'a> {
        fn peek(&self) -> Option<u8> {
            self.text.as_bytes().get(self.at).copied()
        }

        fn ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
                self.at += 1;
            }
        }

        fn expect(&mut self, b: u8) -> Option<()> {
            (self.peek()? == b).then(|| self.at += 1)
        }

        /// A string literal, the cursor on its quote: its text with the
        /// quotes, and whether it has escapes. Declines control characters
        /// (JSON has none in strings); escapes are checked by `unescape`.
        fn literal(&mut self) -> Option<(&'a str, bool)> {
            let start = self.at;
            self.expect(b'"')?;
            let bytes = self.text.as_bytes();
            let mut escaped = false;
            loop {
                self.at = next_special(bytes, self.at);
                match *bytes.get(self.at)? {
                    b'"' => {
                        self.at += 1;
                        return Some((&self.text[start..self.at], escaped));
                    }
                    b'\\' => {
                        escaped = true;
                        self.at += 2;
                    }
                    c if c < 0x20 => return None,
                    _ => self.at += 1,
                }
            }
        }

        /// A string without escapes, its content borrowed.
        fn plain(&mut self) -> Option<&'a str> {
            match self.literal()? {
                (lit, false) => Some(&lit[1..lit.len() - 1]),
                (_, true) => None,
            }
        }

        /// The key `key`, quotes included, if the text at the cursor is
        /// exactly that: one comparison where a scan would look at every
        /// byte.
        fn known_key(&mut self, key: &'static str) -> Option<&'static str> {
            let rest = self.text.as_bytes().get(self.at..)?;
            let end = key.len() + 1;
            let quoted = rest.first() == Some(&b'"') && rest.get(end) == Some(&b'"');
            (quoted && crate::json::same_bytes(rest.get(1..end)?, key.as_bytes())).then(|| {
                self.at += end + 1;
                key
            })
        }

        /// `{` ... `}` with `member` reading each value: keys are plain.
        /// `usual` lists the keys in the order they usually come: after a
        /// key, the one that usually follows it is tried first by its
        /// bytes, then any key is read by scanning.
        fn object(
            &mut self,
            usual: &[&'static str],
            mut member: impl FnMut(&mut Self, &'a str) -> Option<()>,
        ) -> Option<()> {
            self.expect(b'{')?;
            self.ws();
            if self.peek()? == b'}' {
                self.at += 1;
                return Some(());
            }
            let mut next = 0;
            loop {
                let key = match usual.get(next).and_then(|k| self.known_key(k)) {
                    Some(key) => {
                        next += 1;
                        key
                    }
                    None => {
                        let key = self.plain()?;
                        next = usual.iter().position(|k| *k == key).map_or(next, |i| i + 1);
                        key
                    }
                };
                self.ws();
                self.expect(b':')?;
                self.ws();
                member(self, key)?;
                self.ws();
                match self.peek()? {
                    b',' => {
                        self.at += 1;
                        self.ws();
                    }
                    b'}' => {
                        self.at += 1;
                        return Some(());
                    }
                    _ => return None,
                }
            }
        }
    }

    /// The index of the first `"`, `\\` or control character in `bytes`
    /// from `at` on (`bytes.len()` if none), eight bytes at a time: the
    /// lowest byte each test flags is exact (a borrow only runs upwards).
    pub(super) fn next_special(bytes: &[u8], at: usize) -> usize {
        use crate::json::{bytes_below as below, splat};
        let rest = bytes.get(at..).unwrap_or_default();
        let mut chunks = rest.chunks_exact(8);
        let mut offset = at;
        for chunk in chunks.by_ref() {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            let w = u64::from_le_bytes(word);
            let hits = below(w ^ splat(b'"'), 1) | below(w ^ splat(b'\\'), 1) | below(w, 0x20);
            if hits != 0 {
                return offset + (hits.trailing_zeros() / 8) as usize;
            }
            offset += 8;
        }
        let tail = chunks.remainder();
        offset
            + tail
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .unwrap_or(tail.len())
    }

    /// A message's keys in the order SQS writes them (without
    /// `md5OfMessageAttributes`, which comes with message attributes, and
    /// those take the serde path).
    const MESSAGE_KEYS: &[&str] = &[
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    ];

    /// The `attributes` SQS sends most, in the order it writes them.
    const ATTRIBUTE_KEYS: &[&str] = &[
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    ];

    /// The message `tail` starts with (its `{`), and its length in bytes.
    pub(super) fn read(tail: &str) -> Option<(View<'_>, usize)> {
        let mut b = Bytes { text: tail, at: 0 };
        let mut view = View::default();
        let mut seen = 0u16;
        b.object(MESSAGE_KEYS, |b, key| {
            let bit = match key {
                "messageId" => {
                    view.message_id = Some(Text(Cow::Borrowed(b.plain()?)));
                    1
                }
                "receiptHandle" => {
                    b.plain()?;
                    view.receipt_handle = Some(CheckedStr);
                    2
                }
                "body" => {
                    // Unescaped when routed (`View::into_parts`).
                    view.body = Some(match b.literal()? {
                        (lit, false) => Body::Text(Text(Cow::Borrowed(&lit[1..lit.len() - 1]))),
                        (lit, true) => Body::Escaped(lit),
                    });
                    4
                }
                "md5OfBody" => {
                    b.plain()?;
                    view.md5_of_body = Some(CheckedStr);
                    8
                }
                "md5OfMessageAttributes" => {
                    b.plain()?;
                    view.md5_of_message_attributes = Some(CheckedStr);
                    16
                }
                "attributes" => {
                    let mut group = None;
                    b.object(ATTRIBUTE_KEYS, |b, name| {
                        let value = b.plain()?;
                        if name == "MessageGroupId" {
                            group = Some(Text(Cow::Borrowed(value)));
                        }
                        Some(())
                    })?;
                    view.attributes = Attributes { group };
                    32
                }
                "messageAttributes" => {
                    // Only `{}`: an empty map is kept as `None`.
                    b.object(&[], |_, _| None)?;
                    64
                }
                "eventSourceARN" => {
                    view.event_source_arn = Some(Text(Cow::Borrowed(b.plain()?)));
                    128
                }
                "eventSource" => {
                    b.plain()?;
                    view.event_source = Some(CheckedStr);
                    256
                }
                "awsRegion" => {
                    b.plain()?;
                    view.aws_region = Some(CheckedStr);
                    512
                }
                _ => return None,
            };
            // serde_json refuses a repeated field of a struct.
            (seen & bit == 0).then(|| seen |= bit)
        })?;
        Some((view, b.at))
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
                    let (a, b) = (v.clone().into_message().identity(), identity(&t));
                    assert_eq!(a.meta.record_id(), b.meta.record_id(), "{json}");
                    assert_eq!(a.order_key, b.order_key, "{json}");
                    assert_eq!(a.meta.tenant(), b.meta.tenant(), "{json}");
                    assert_eq!(v.body().as_deref(), t.body.as_deref(), "{json}");
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
        assert_eq!(v.body().as_deref(), Some(r#"{"a":1}"#));
        for declined in [
            r#"{"messageId":7}, {}"#,
            r#"[1]"#,
            r#"{"messageId":"m""#,
            " {}",
        ] {
            assert!(View::read(declined).is_none(), "{declined}");
        }
    }

    /// What serde_json reads, as `View::read` did before the plain path.
    fn read_with_serde(tail: &str) -> Option<(View<'_>, usize)> {
        let mut stream = serde_json::Deserializer::from_str(tail).into_iter::<View<'_>>();
        let view = stream.next()?.ok()?;
        Some((view, stream.byte_offset()))
    }

    /// The plain path with the body unescaped, as the router takes it.
    fn plain_read(text: &str) -> Option<(View<'_>, usize)> {
        let (view, len) = plain::read(text)?;
        let (_, body) = view.clone().into_message().into_parts()?;
        Some((
            View {
                body: body.map(Body::Text),
                ..view
            },
            len,
        ))
    }

    fn assert_plain_agrees(text: &str) {
        if let Some((fast, len)) = plain_read(text) {
            let (slow, slow_len) = read_with_serde(text)
                .unwrap_or_else(|| panic!("the plain path took what serde_json refuses: {text}"));
            assert_eq!(len, slow_len, "{text}");
            assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "{text}");
        }
    }

    const MESSAGE: &str = r#"{"messageId": "059f36b4-87a3-44ab-83d2-661975830a7d", "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a", "body": "{\"type\": \"NOTIFICATION\", \"recipient\": \"a\u00e9@example.com\", \"n\": \"\\\\\"}", "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183", "MessageGroupId": "g-1"}, "messageAttributes": {}, "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3", "md5OfMessageAttributes": "00484c68...59e48f06", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue.fifo", "awsRegion": "us-east-2"}"#;

    #[test]
    fn special_bytes_are_found_exactly() {
        let cases: &[&[u8]] = &[
            b"",
            b"abc",
            b"abcdefgh\"",
            b"ab\\cdefghijk",
            b"\x01",
            b"abcdefghijklmnop",
            b"\"",
            b"ab\x1fc\"",
        ];
        for bytes in cases {
            for at in 0..=bytes.len() {
                let want = (at..bytes.len())
                    .find(|&i| matches!(bytes[i], b'"' | b'\\' | 0..=0x1f))
                    .unwrap_or(bytes.len());
                assert_eq!(plain::next_special(bytes, at), want, "{bytes:?} from {at}");
            }
        }
    }

    #[test]
    fn the_plain_path_reads_the_common_shape_as_serde_json_does() {
        let (fast, len) = plain_read(MESSAGE).expect("the common shape");
        assert_eq!(len, MESSAGE.len());
        assert_eq!(
            fast.body().as_deref(),
            Some(r#"{"type": "NOTIFICATION", "recipient": "aé@example.com", "n": "\\"}"#)
        );
        assert_plain_agrees(MESSAGE);
        assert_plain_agrees(&format!("{MESSAGE}, {{}}"));
        // Keys out of their usual order, or unusual ones, are scanned: the
        // same message either way.
        let reordered = r#"{"awsRegion": "r", "body": "{\"a\": 1}", "attributes": {"SenderId": "s", "MessageGroupId": "g", "ApproximateReceiveCount": "1"}, "messageId": "m", "eventSourceARN": "q.fifo"}"#;
        let (v, len) = plain_read(reordered).expect("read by hand");
        assert_eq!(len, reordered.len());
        assert_eq!(v.body().as_deref(), Some(r#"{"a": 1}"#));
        assert_eq!(
            v.clone().into_message().identity().order_key.as_deref(),
            Some("g")
        );
        assert_plain_agrees(reordered);
        for declined in [
            r#"{"messageId": null}"#,
            r#"{"messageId": "a\u0062"}"#,
            r#"{"messageId": "a", "messageId": "b"}"#,
            r#"{"messageId": "a", "extra": 1}"#,
            r#"{"messageAttributes": {"a": {"dataType": "String", "stringValue": "x"}}}"#,
            r#"{"attributes": {"SentTimestamp": 5}}"#,
            r#"{"body": "\x"}"#,
            r#"{"body": "\ud800"}"#,
            "{\"body\": \"a\tb\"}",
            r#"{"messageId": 7}"#,
        ] {
            assert!(plain_read(declined).is_none(), "{declined}");
            assert_plain_agrees(declined);
        }
    }

    #[test]
    fn the_plain_path_never_takes_what_serde_json_would_read_otherwise() {
        // Every one-byte change of a real-shaped message: where the plain
        // path answers, serde_json reads the same message.
        let bytes = MESSAGE.as_bytes();
        for at in 0..bytes.len() {
            for b in [
                b'"', b'\\', b'{', b'}', b',', b':', b' ', b'x', b'\n', 0x01, b'n',
            ] {
                let mut m = bytes.to_vec();
                m[at] = b;
                if let Ok(text) = std::str::from_utf8(&m) {
                    assert_plain_agrees(text);
                }
            }
            if MESSAGE.is_char_boundary(at) {
                assert_plain_agrees(&MESSAGE[..at]);
            }
        }
    }

    #[test]
    fn a_read_message_stays_small() {
        // A batch keeps every message read until it is routed: 152 bytes
        // each before the attributes were boxed and the body kept escaped.
        assert!(std::mem::size_of::<View<'_>>() <= 112);
        // What the batch keeps of it.
        assert!(std::mem::size_of::<Option<Message<'_>>>() <= 80);
        let (v, _) = plain::read(MESSAGE).unwrap();
        assert!(matches!(v.body, Some(Body::Escaped(_))), "{v:?}");
        assert!(v.message_attributes.is_none());
    }

    #[test]
    fn escaped_bodies_are_unescaped_and_plain_ones_borrowed() {
        let v = view(r#"{"messageId":"m","body":"{\"type\":\"A\"}"}"#).unwrap();
        assert_eq!(v.body().as_deref(), Some(r#"{"type":"A"}"#));
        let v = view(r#"{"messageId":"m","body":"plain"}"#).unwrap();
        assert!(matches!(
            v.body,
            Some(Body::Text(Text(Cow::Borrowed("plain"))))
        ));
    }
}
