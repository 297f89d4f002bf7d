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

mod clock;
mod idempotency;
mod s3;
mod ses;
mod sfn;
mod sns;

pub use self::clock::*;
pub use self::idempotency::*;
pub use self::s3::*;
pub use self::ses::*;
pub use self::sfn::*;
pub use self::sns::*;
pub use crate::error::PortError;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

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
