//! Ports: the services handlers and layers call, as traits.
//!
//! | port | what it does | real client (`eventrail-aws`) |
//! |---|---|---|
//! | [`Notifier`] | publish to an SNS topic | SNS `Publish` |
//! | [`TaskCallbacks`] | report a Step Functions task's result | SFN `SendTask*` |
//! | [`Mailer`] | send e-mail | SES v2 `SendEmail` |
//! | [`ObjectStore`] | read and write objects | S3 `GetObject` / `PutObject` |
//! | [`IdempotencyStore`] | idempotency records | DynamoDB conditional writes |
//!
//! In-memory, logging implementations of every port are in `eventrail::local`
//! (feature `local`), for runs without AWS; the testkit's fakes build on
//! them. Every port is object safe
//! and used as an `Arc<dyn Port>`, so it is cheap to clone into handlers and
//! layers. Every port error is a [`PortError`], which says whether a retry can
//! help and carries the service's own error code (`NoSuchKey`,
//! `TaskDoesNotExist`, ...).
//!
//! The ports are `async_trait` traits: implement one with the re-exported
//! [`eventrail::async_trait`](crate::async_trait) attribute, as below; there
//! is no need to add the `async-trait` crate to your own dependencies.
//!
//! ```
//! use std::sync::Arc;
//! use eventrail::ports::{Notifier, PortError, PublishReceipt, SnsMessage};
//!
//! #[derive(Debug, Default)]
//! struct Stdout;
//!
//! #[eventrail::async_trait]
//! impl Notifier for Stdout {
//!     async fn publish(&self, msg: SnsMessage) -> Result<PublishReceipt, PortError> {
//!         println!("{}: {}", msg.topic_arn, msg.message);
//!         Ok(PublishReceipt { message_id: "1".into() })
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let notifier: Arc<dyn Notifier> = Arc::new(Stdout);
//! let msg = SnsMessage::new("arn:aws:sns:us-east-1:123456789012:alarms", "disk full")
//!     .with_subject("Alarm");
//! notifier.publish(msg).await.unwrap();
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures_core::Stream;
use serde::{Deserialize, Serialize};

pub use crate::error::PortError;

// ---------------------------------------------------------------- SNS

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

// ---------------------------------------------------------------- Step Functions

/// Step Functions' limit on a task's output, in bytes (256 KiB).
pub const SFN_MAX_OUTPUT_BYTES: usize = 256 * 1024;
/// Step Functions' limit on a task failure's error name, in characters.
pub const SFN_MAX_ERROR_CHARS: usize = 256;
/// Step Functions' limit on a task failure's cause, in characters.
pub const SFN_MAX_CAUSE_CHARS: usize = 32_768;

/// Reports the result of a Step Functions task started with `.waitForTaskToken`.
#[async_trait]
pub trait TaskCallbacks: Send + Sync + fmt::Debug {
    /// `SendTaskSuccess`: `output` is JSON text.
    async fn send_task_success(&self, token: &str, output: &str) -> Result<(), PortError>;
    /// `SendTaskFailure` with an error name and a cause.
    async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), PortError>;
    /// `SendTaskHeartbeat`.
    async fn send_task_heartbeat(&self, token: &str) -> Result<(), PortError>;
}

// ---------------------------------------------------------------- SES

/// The content of an e-mail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EmailContent {
    /// A plain and/or HTML body.
    Simple {
        /// The subject.
        subject: String,
        /// The text body.
        text: Option<String>,
        /// The HTML body.
        html: Option<String>,
    },
    /// A stored template rendered with `data`.
    Template {
        /// The template's name.
        name: String,
        /// The template's variables.
        data: serde_json::Value,
    },
}

/// An e-mail to send.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Email {
    /// The sender; must be a verified identity.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// Carbon-copy recipients.
    pub cc: Vec<String>,
    /// Blind carbon-copy recipients.
    pub bcc: Vec<String>,
    /// Reply-to addresses.
    pub reply_to: Vec<String>,
    /// The content.
    pub content: EmailContent,
}

impl Email {
    /// A plain-text e-mail.
    pub fn text(
        from: impl Into<String>,
        to: impl Into<String>,
        subject: impl Into<String>,
        body: impl Into<String>,
    ) -> Self {
        Self::with_content(
            from,
            to,
            EmailContent::Simple {
                subject: subject.into(),
                text: Some(body.into()),
                html: None,
            },
        )
    }

    /// A templated e-mail.
    pub fn template(
        from: impl Into<String>,
        to: impl Into<String>,
        template: impl Into<String>,
        data: serde_json::Value,
    ) -> Self {
        Self::with_content(
            from,
            to,
            EmailContent::Template {
                name: template.into(),
                data,
            },
        )
    }

    /// An e-mail with the given content.
    pub fn with_content(
        from: impl Into<String>,
        to: impl Into<String>,
        content: EmailContent,
    ) -> Self {
        Self {
            from: from.into(),
            to: vec![to.into()],
            cc: Vec::new(),
            bcc: Vec::new(),
            reply_to: Vec::new(),
            content,
        }
    }

    /// Adds an HTML body to a simple e-mail (no effect on templated ones).
    pub fn with_html(mut self, html: impl Into<String>) -> Self {
        if let EmailContent::Simple { html: h, .. } = &mut self.content {
            *h = Some(html.into());
        }
        self
    }

    /// Adds a recipient.
    pub fn add_to(mut self, addr: impl Into<String>) -> Self {
        self.to.push(addr.into());
        self
    }

    /// Adds a carbon-copy recipient.
    pub fn add_cc(mut self, addr: impl Into<String>) -> Self {
        self.cc.push(addr.into());
        self
    }

    /// Adds a blind carbon-copy recipient.
    pub fn add_bcc(mut self, addr: impl Into<String>) -> Self {
        self.bcc.push(addr.into());
        self
    }

    /// Adds a reply-to address.
    pub fn add_reply_to(mut self, addr: impl Into<String>) -> Self {
        self.reply_to.push(addr.into());
        self
    }
}

/// Sends e-mail.
#[async_trait]
pub trait Mailer: Send + Sync + fmt::Debug {
    /// Sends `mail` and returns the message id.
    async fn send(&self, mail: Email) -> Result<String, PortError>;
}

// ---------------------------------------------------------------- S3

/// A streamed object body.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, PortError>> + Send>>;

/// An object read from an [`ObjectStore`], with its body still streaming.
#[non_exhaustive]
pub struct Object {
    /// `Content-Length`, when known.
    pub content_length: Option<u64>,
    /// `Content-Type`, when known.
    pub content_type: Option<String>,
    /// The `ETag`, when known.
    pub e_tag: Option<String>,
    /// The body.
    pub body: ByteStream,
}

impl Object {
    /// An object whose body streams from `body`.
    pub fn new(body: ByteStream) -> Self {
        Self {
            content_length: None,
            content_type: None,
            e_tag: None,
            body,
        }
    }

    /// Reads the whole body into memory.
    pub async fn collect(self) -> Result<Bytes, PortError> {
        use futures_util::StreamExt;
        let mut body = self.body;
        let mut buf = bytes::BytesMut::with_capacity(
            self.content_length
                .map_or(0, |n| usize::try_from(n).unwrap_or(0)),
        );
        while let Some(chunk) = body.next().await {
            buf.extend_from_slice(&chunk?);
        }
        Ok(buf.freeze())
    }
}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Object")
            .field("content_length", &self.content_length)
            .field("content_type", &self.content_type)
            .field("e_tag", &self.e_tag)
            .finish_non_exhaustive()
    }
}

/// Reads and writes objects (S3).
#[async_trait]
pub trait ObjectStore: Send + Sync + fmt::Debug {
    /// Reads `bucket/key`. A missing key is a permanent error with code `NoSuchKey`.
    async fn get(&self, bucket: &str, key: &str) -> Result<Object, PortError>;
    /// Writes `bucket/key`; returns the `ETag`.
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: Option<&str>,
    ) -> Result<Option<String>, PortError>;
}

// ---------------------------------------------------------------- idempotency

/// The state of an idempotency record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IdempotencyStatus {
    /// A handler is running for this key.
    InProgress,
    /// A handler completed for this key; its result is stored.
    Completed,
}

/// An idempotency record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IdempotencyRecord {
    /// The idempotency key.
    pub key: String,
    /// Its state.
    pub status: IdempotencyStatus,
    /// When the record expires (a completed record is ignored after this).
    pub expires_at: SystemTime,
    /// When an in-progress record may be taken over (the handler is presumed dead).
    pub in_progress_expires_at: Option<SystemTime>,
    /// A hash of the payload, to detect the same key with another payload.
    pub payload_hash: Option<String>,
    /// The handler's result as JSON text, once completed.
    pub result: Option<String>,
}

impl IdempotencyRecord {
    /// A new in-progress record.
    pub fn in_progress(
        key: impl Into<String>,
        expires_at: SystemTime,
        in_progress_expires_at: Option<SystemTime>,
        payload_hash: Option<String>,
    ) -> Self {
        Self {
            key: key.into(),
            status: IdempotencyStatus::InProgress,
            expires_at,
            in_progress_expires_at,
            payload_hash,
            result: None,
        }
    }

    /// Marks the record completed with `result` (JSON text) until `expires_at`,
    /// as [`IdempotencyStore::complete`] does.
    pub fn complete(&mut self, result: String, expires_at: SystemTime) {
        self.status = IdempotencyStatus::Completed;
        self.result = Some(result);
        self.expires_at = expires_at;
        self.in_progress_expires_at = None;
    }

    /// Whether, at `now`, this record still blocks a new lock on its key.
    ///
    /// It does unless it expired, or it is in progress and its in-progress
    /// expiry passed. This is the condition every store implements atomically.
    pub fn is_live_at(&self, now: SystemTime) -> bool {
        if self.expires_at <= now {
            return false;
        }
        match (self.status, self.in_progress_expires_at) {
            (IdempotencyStatus::InProgress, Some(t)) => t > now,
            _ => true,
        }
    }
}

/// The outcome of [`IdempotencyStore::try_lock`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockOutcome {
    /// The record was written: the caller owns the key.
    Acquired,
    /// A live record exists for the key; here it is.
    Exists(IdempotencyRecord),
}

/// Stores idempotency records with conditional writes.
#[async_trait]
pub trait IdempotencyStore: Send + Sync + fmt::Debug {
    /// Writes `record` unless a record for its key is live at `now`
    /// (see [`IdempotencyRecord::is_live_at`]); atomically.
    async fn try_lock(
        &self,
        record: IdempotencyRecord,
        now: SystemTime,
    ) -> Result<LockOutcome, PortError>;
    /// Marks `key` completed with `result` (JSON text) until `expires_at`.
    async fn complete(
        &self,
        key: &str,
        result: String,
        expires_at: SystemTime,
    ) -> Result<(), PortError>;
    /// Deletes the record for `key` (no error if there is none).
    async fn delete(&self, key: &str) -> Result<(), PortError>;
    /// Reads the record for `key`.
    async fn get(&self, key: &str) -> Result<Option<IdempotencyRecord>, PortError>;
}

// ---------------------------------------------------------------- clock

/// Wall-clock time for records that outlive an invocation (idempotency expiry,
/// alarm timestamps). Tests substitute a clock that follows tokio's paused time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that starts at a given wall time and advances with tokio's clock,
/// so it follows `tokio::time::pause` and `advance` in tests.
#[derive(Clone, Copy, Debug)]
pub struct TokioClock {
    origin_wall: SystemTime,
    origin: tokio::time::Instant,
}

impl TokioClock {
    /// A clock reading `start` now.
    pub fn starting_at(start: SystemTime) -> Self {
        Self {
            origin_wall: start,
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> SystemTime {
        self.origin_wall + self.origin.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn liveness_rule() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let rec = IdempotencyRecord::in_progress(
            "k",
            t0 + Duration::from_secs(3600),
            Some(t0 + Duration::from_secs(10)),
            None,
        );
        assert!(rec.is_live_at(t0));
        assert!(!rec.is_live_at(t0 + Duration::from_secs(10)));
        let mut done = rec.clone();
        done.status = IdempotencyStatus::Completed;
        assert!(done.is_live_at(t0 + Duration::from_secs(10)));
        assert!(!done.is_live_at(t0 + Duration::from_secs(3600)));
    }

    #[test]
    fn port_error_display_has_code() {
        let e = PortError::permanent("the key does not exist").with_code("NoSuchKey");
        assert_eq!(e.to_string(), "NoSuchKey: the key does not exist");
        assert!(!e.is_retryable());
        assert_eq!(
            crate::error::classify(&e),
            crate::error::ErrorClass::Permanent
        );
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(5);
        let c = TokioClock::starting_at(start);
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(c.now(), start + Duration::from_secs(60));
    }
}
