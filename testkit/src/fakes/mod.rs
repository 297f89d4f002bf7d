//! In-memory fakes of the eventrail ports.
//!
//! | fake | port | what it keeps |
//! |---|---|---|
//! | [`FakeSns`] | [`Notifier`](eventrail::ports::Notifier) | every published message, per topic; as the SNS event subscribers get |
//! | [`FakeSes`] | [`Mailer`](eventrail::ports::Mailer) | an outbox, templates rendered |
//! | [`FakeS3`] | [`ObjectStore`](eventrail::ports::ObjectStore) | buckets and objects; the S3 event of every put |
//! | [`FakeSfn`] | [`TaskCallbacks`](eventrail::ports::TaskCallbacks) | task tokens and their final state, timeouts on tokio's clock |
//! | [`FakeIdempotencyStore`] | [`IdempotencyStore`](eventrail::ports::IdempotencyStore) | records, expiring on the caller's clock |
//!
//! The SNS, SES, S3 and idempotency fakes are eventrail's local backends
//! ([`eventrail::local`]) with test helpers on top: the storage, validation,
//! fault plan and call log are theirs. [`FakeSfn`] is test-only: it issues
//! tokens for simulated task states and rejects unknown, finished and
//! timed-out ones (the local backend accepts any token).
//!
//! Every fake is `Clone` (clones share state, so keep one for assertions and
//! hand another to the code under test), records every call it receives in
//! [`calls`](eventrail::local::LocalNotifier::calls), and fails on demand: the next *n* calls
//! ([`fail_next`](eventrail::local::LocalNotifier::fail_next)) or every call matching a predicate
//! ([`fail_when`](eventrail::local::LocalNotifier::fail_when)), with a retryable or permanent
//! [`Fault`]. Faults are applied in a fixed order (queued ones first, then
//! predicates in the order they were added), so a test fails the same way on
//! every run.
//!
//! The same [`FaultPlan`] and [`CallLog`] make a fake of your own port in a
//! few lines: see [`eventrail::local`'s example](eventrail::local#a-fake-of-your-own-port)
//! and `tests/custom_fake.rs`.
//!
//! ```
//! use std::sync::Arc;
//! use eventrail::ports::{Notifier, SnsMessage};
//! use eventrail_testkit::fakes::{FakeSns, Fault};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let sns = FakeSns::new();
//! sns.fail_next(1, Fault::throttled());
//! let port: Arc<dyn Notifier> = Arc::new(sns.clone());
//!
//! let err = port.publish(SnsMessage::new("arn:aws:sns:us-east-1:1:alarms", "a")).await.unwrap_err();
//! assert!(err.is_retryable());
//! port.publish(SnsMessage::new("arn:aws:sns:us-east-1:1:alarms", "b")).await.unwrap();
//!
//! assert_eq!(sns.calls().len(), 2);
//! assert_eq!(sns.published_to("arn:aws:sns:us-east-1:1:alarms")[0].message, "b");
//! # }
//! ```

mod idempotency;
mod s3;
mod ses;
mod sfn;
mod sns;

pub use eventrail::local::{Call, CallError, CallLog, Fault, FaultPlan};
pub use idempotency::{FakeIdempotencyStore, IdempotencyCall};
pub use s3::{FakeS3, S3Request, StoredObject};
pub use ses::{FakeSes, SentMail, Template};
pub use sfn::{FakeSfn, SfnCall, TaskOptions, TaskState};
pub use sns::FakeSns;

/// A deterministic, UUID-shaped id: the `n`th id a fake hands out, with a
/// per-fake `tag` so ids of different fakes never collide.
pub(crate) fn fake_id(tag: u16, n: u64) -> String {
    eventrail::local::local_id(tag, n)
}

/// Locks a fake's state; a panic in another test thread does not poison it.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
