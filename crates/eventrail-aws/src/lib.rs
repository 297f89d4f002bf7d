//! Real AWS clients for eventrail's [ports](eventrail::ports), built on the
//! official `aws-sdk-*` crates.
//!
//! | port | client | AWS API | feature |
//! |---|---|---|---|
//! | [`Notifier`](eventrail::ports::Notifier) | [`SnsNotifier`] | SNS `Publish` | `sns` |
//! | [`TaskCallbacks`](eventrail::ports::TaskCallbacks) | [`SfnTaskCallbacks`] | Step Functions `SendTaskSuccess` / `SendTaskFailure` / `SendTaskHeartbeat` | `sfn` |
//! | [`Mailer`](eventrail::ports::Mailer) | [`SesMailer`] | SES v2 `SendEmail` | `ses` |
//! | [`ObjectStore`](eventrail::ports::ObjectStore) | [`S3ObjectStore`] | S3 `GetObject` (streamed) / `PutObject` | `s3` |
//! | [`IdempotencyStore`](eventrail::ports::IdempotencyStore) | [`DynamoDbIdempotencyStore`] | DynamoDB conditional `PutItem`, `UpdateItem`, `DeleteItem`, `GetItem` | `dynamodb` |
//!
//! Every feature is on by default; turn off the defaults and pick the ones
//! you use to build fewer SDK crates. The optional `sso` feature lets
//! [`config::load`] read single sign-on profiles, which a developer's machine
//! may use but Lambda never does.
//!
//! # Setting up
//!
//! Each client is built from an [`aws_config::SdkConfig`] (region,
//! credentials, endpoint) with `from_conf`, or wraps a client of its SDK
//! crate that you configured yourself with `new`. [`config::load`] reads the
//! configuration from the environment the usual way, `AWS_ENDPOINT_URL`
//! included, and [`config::with_endpoint`] points one at a local emulator.
//!
//! ```no_run
//! use std::sync::Arc;
//! use eventrail::ports::{Notifier, SnsMessage};
//! use eventrail_aws::{config, SnsNotifier};
//!
//! # async fn run() -> Result<(), eventrail::ports::PortError> {
//! let aws = config::load().await;
//! let notifier: Arc<dyn Notifier> = Arc::new(SnsNotifier::from_conf(&aws));
//! notifier
//!     .publish(SnsMessage::new("arn:aws:sns:eu-west-1:123456789012:alarms", "disk full"))
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! # Errors
//!
//! Every failure is a [`PortError`](eventrail::ports::PortError) that says
//! whether a retry can help and carries the service's error code:
//! throttling, timeouts, connection failures and 5xx responses are
//! retryable; validation errors, missing resources and access denials are
//! permanent. Some codes are worth matching on:
//!
//! | client | code | meaning |
//! |---|---|---|
//! | S3 | `NoSuchKey`, `NoSuchBucket` | the object or bucket does not exist |
//! | Step Functions | `TaskDoesNotExist`, `InvalidToken`, `TaskTimedOut`, `InvalidOutput` | the callback can never succeed |
//! | SES | `MessageRejected` | the sender is not verified, or the message is refused |
//! | SNS | `NotFound` | the topic does not exist |
//!
//! The SDK also retries on its own (three attempts by default); set
//! `aws_config::retry::RetryConfig` on the `SdkConfig` to change that, for
//! example when an eventrail retry layer already retries the handler.

pub mod config;
#[cfg_attr(
    not(any(
        feature = "sns",
        feature = "sfn",
        feature = "ses",
        feature = "s3",
        feature = "dynamodb"
    )),
    allow(dead_code)
)]
mod error;

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(feature = "ses")]
pub mod ses;
#[cfg(feature = "sfn")]
pub mod sfn;
#[cfg(feature = "sns")]
pub mod sns;

#[cfg(feature = "dynamodb")]
pub use dynamodb::{DynamoDbIdempotencyStore, TableLayout};
#[cfg(feature = "s3")]
pub use s3::S3ObjectStore;
#[cfg(feature = "ses")]
pub use ses::SesMailer;
#[cfg(feature = "sfn")]
pub use sfn::SfnTaskCallbacks;
#[cfg(feature = "sns")]
pub use sns::SnsNotifier;

/// Re-exported so callers need no direct `aws-config` dependency.
pub use aws_config::SdkConfig;
