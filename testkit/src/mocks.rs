//! `mockall` mocks of the port traits (feature `mocks`), for tests that
//! prefer expectations to fakes.
//!
//! | mock | port |
//! |---|---|
//! | [`MockNotifier`] | [`Notifier`] |
//! | [`MockTaskCallbacks`] | [`TaskCallbacks`] |
//! | [`MockMailer`] | [`Mailer`] |
//! | [`MockObjectStore`] | [`ObjectStore`] |
//! | [`MockIdempotencyStore`] | [`IdempotencyStore`] |
//!
//! The methods are `async` in the traits; expectations are set on them like
//! on synchronous ones, returning the `Result` directly.
//!
//! ```
//! use std::sync::Arc;
//! use eventrail::ports::{Notifier, PublishReceipt, SnsMessage};
//! use eventrail_testkit::mocks::MockNotifier;
//! use eventrail_testkit::mocks::mockall::predicate::function;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let mut sns = MockNotifier::new();
//! sns.expect_publish()
//!     .with(function(|m: &SnsMessage| m.subject.as_deref() == Some("Alarm")))
//!     .times(1)
//!     .returning(|_| Ok(PublishReceipt { message_id: "m-1".into() }));
//!
//! let port: Arc<dyn Notifier> = Arc::new(sns);
//! let msg = SnsMessage::new("arn:aws:sns:us-east-1:123456789012:alarms", "disk full").with_subject("Alarm");
//! assert_eq!(port.publish(msg).await.unwrap().message_id, "m-1");
//! # }
//! ```

// The items `mock!` generates have no docs of their own.
#![allow(missing_docs)]

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use eventrail::ports::{
    Email, IdempotencyRecord, IdempotencyStore, LockOutcome, Mailer, Notifier, Object, ObjectStore,
    PortError, PublishReceipt, SnsMessage, TaskCallbacks,
};
use mockall::mock;

/// `mockall` itself, for its `predicate`s without another dependency.
pub use mockall;

mock! {
    /// A mock [`Notifier`] (SNS).
    pub Notifier {}

    #[async_trait]
    impl Notifier for Notifier {
        async fn publish(&self, msg: SnsMessage) -> Result<PublishReceipt, PortError>;
    }
}

mock! {
    /// A mock [`TaskCallbacks`] (Step Functions).
    pub TaskCallbacks {}

    #[async_trait]
    impl TaskCallbacks for TaskCallbacks {
        async fn send_task_success(&self, token: &str, output: &str) -> Result<(), PortError>;
        async fn send_task_failure(&self, token: &str, error: &str, cause: &str) -> Result<(), PortError>;
        async fn send_task_heartbeat(&self, token: &str) -> Result<(), PortError>;
    }
}

mock! {
    /// A mock [`Mailer`] (SES).
    pub Mailer {}

    #[async_trait]
    impl Mailer for Mailer {
        async fn send(&self, mail: Email) -> Result<String, PortError>;
    }
}

mock! {
    /// A mock [`ObjectStore`] (S3).
    ///
    /// `mockall` cannot mock `put`'s borrowed `Option<&str>` directly, so the
    /// expectations are on synchronous methods of the same names, with the
    /// content type as `Option<String>`; the [`ObjectStore`] impl calls them.
    pub ObjectStore {
        /// What [`ObjectStore::get`] returns.
        pub fn get(&self, bucket: &str, key: &str) -> Result<Object, PortError>;
        /// What [`ObjectStore::put`] returns.
        pub fn put(
            &self,
            bucket: &str,
            key: &str,
            body: Bytes,
            content_type: Option<String>,
        ) -> Result<Option<String>, PortError>;
    }
}

#[async_trait]
impl ObjectStore for MockObjectStore {
    async fn get(&self, bucket: &str, key: &str) -> Result<Object, PortError> {
        MockObjectStore::get(self, bucket, key)
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: Option<&str>,
    ) -> Result<Option<String>, PortError> {
        MockObjectStore::put(self, bucket, key, body, content_type.map(str::to_owned))
    }
}

mock! {
    /// A mock [`IdempotencyStore`].
    pub IdempotencyStore {}

    #[async_trait]
    impl IdempotencyStore for IdempotencyStore {
        async fn try_lock(&self, record: IdempotencyRecord, now: SystemTime) -> Result<LockOutcome, PortError>;
        async fn complete(&self, key: &str, result: String, expires_at: SystemTime) -> Result<(), PortError>;
        async fn delete(&self, key: &str) -> Result<(), PortError>;
        async fn get(&self, key: &str) -> Result<Option<IdempotencyRecord>, PortError>;
    }
}

macro_rules! debug_mock {
    ($($mock:ident),*) => {$(
        impl fmt::Debug for $mock {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($mock)).finish_non_exhaustive()
            }
        }
    )*};
}
debug_mock!(
    MockNotifier,
    MockTaskCallbacks,
    MockMailer,
    MockObjectStore,
    MockIdempotencyStore
);
