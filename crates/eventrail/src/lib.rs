//! # eventrail
//!
//! Typed, testable event handling for AWS Lambda: raw events from S3, SQS,
//! SNS, DynamoDB Streams, Kinesis, EventBridge, Step Functions, Kafka (MSK
//! and self-managed), S3 Batch Operations and Firehose transformations
//! become typed domain events, which a [`Bus`] dispatches to handlers that are
//! `tower::Service`s.
//!
//! ```text
//! raw event ──▶ EventFactory / Router ──▶ Envelope<E> ──▶ Bus ──▶ handler stack(s)
//!                                                              ──▶ one outcome per record
//! ```
//!
//! - [`envelope`]: events and their metadata ([`Envelope`], [`Metadata`]);
//! - [`source`]: how a raw payload is recognised, and each source's record
//!   identity and order key;
//! - [`factory`]: the [`EventFactory`] trait, one transform per source;
//! - [`router`]: the declarative [`Router`] for the common cases;
//! - [`bus`]: the [`Bus`] and [`handler_fn`];
//! - [`app`]: [`App`], which processes whole batches and reports per record;
//! - [`error`]: every error says whether a retry can help;
//! - [`ports`]: SNS, Step Functions, SES, S3 and idempotency stores as traits;
//! - [`layers`]: retry, timeout, idempotency, alarm, task-token, dead-letter
//!   and tracing middleware, stacked with [`ServiceBuilderExt`];
//! - [`routes`]: the route table, printable;
//! - `local` (feature `local`): every port in memory and logged, for runs
//!   without AWS, and the fault plan and call log that fakes are made of.
//!
//! ## Quick start
//!
//! ```
//! use eventrail::app::{Invocation, SourceEvent};
//! use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
//!
//! #[derive(Debug, serde::Deserialize)]
//! struct Notification {
//!     recipient: String,
//!     subject: String,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let bus = Bus::builder()
//!     .on(handler_fn(|n: Envelope<Notification>| async move {
//!         println!("mail to {}: {}", n.recipient, n.subject);
//!         Ok::<_, HandlerError>(())
//!     }))
//!     .build();
//! let router = Router::new().sqs("type", "NOTIFICATION").to::<Notification>();
//! let app = App::builder(router, bus).build().expect("routes are consistent");
//!
//! let event: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_str(r#"{"Records": [
//!     {"messageId": "m-1", "body": "{\"type\":\"NOTIFICATION\",\"recipient\":\"a@example.com\",\"subject\":\"Hi\"}"}
//! ]}"#).unwrap();
//! let report = app.process(SourceEvent::Sqs(event), &Invocation::default()).await;
//! assert_eq!(report.failed(), 0);
//! # }
//! ```

pub mod app;
pub mod bus;
pub mod dynamodb;
pub mod envelope;
pub mod error;
pub mod factory;
mod json;
pub mod layers;
#[cfg(feature = "local")]
pub mod local;
pub mod metrics;
pub mod ports;
pub mod router;
pub mod routes;
pub mod s3;
pub mod source;
mod unit;

pub use app::App;
pub use bus::{handler_fn, Bus};
pub use envelope::{AnyEnvelope, Envelope, Metadata, Source};
pub use error::{BoxError, HandlerError, RecordError};
pub use factory::EventFactory;
pub use layers::ServiceBuilderExt;
pub use router::Router;

/// Re-exported so that applications use the same `aws_lambda_events` as eventrail.
pub use aws_lambda_events;

/// The attribute the port traits ([`Notifier`](ports::Notifier),
/// [`TaskCallbacks`](ports::TaskCallbacks), [`IdempotencyStore`](ports::IdempotencyStore),
/// [`DeadLetterSink`](layers::DeadLetterSink), ...) are declared with:
/// put it on your `impl` of one, e.g. a fake or your own store, without
/// adding the `async-trait` crate to your dependencies.
///
/// ```
/// use eventrail::async_trait;
/// use eventrail::ports::{Notifier, PortError, PublishReceipt, SnsMessage};
///
/// /// Drops every message: a notifier for a dry run.
/// #[derive(Debug)]
/// struct Discard;
///
/// #[async_trait]
/// impl Notifier for Discard {
///     async fn publish(&self, _: SnsMessage) -> Result<PublishReceipt, PortError> {
///         Ok(PublishReceipt { message_id: "discarded".into() })
///     }
/// }
/// ```
pub use async_trait::async_trait;
