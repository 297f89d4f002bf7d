//! Local backends (feature `local`): every port in memory, logged, so a
//! function runs without AWS, in a local `invoke`, a demo or a test.
//!
//! | backend | port | what it keeps |
//! |---|---|---|
//! | [`LocalNotifier`] | [`Notifier`] (SNS) | every published message, per topic |
//! | [`LocalMailer`] | [`Mailer`] (SES) | an outbox, templates rendered |
//! | [`LocalObjectStore`] | [`ObjectStore`] (S3) | buckets and objects |
//! | [`LocalTaskCallbacks`] | [`TaskCallbacks`] (Step Functions) | any task token, its result |
//! | [`LocalIdempotencyStore`] | [`IdempotencyStore`] (DynamoDB) | records, expiring on the caller's clock |
//! | [`LocalDeadLetters`] | [`DeadLetterSink`](crate::layers::DeadLetterSink) | every dead letter |
//!
//! Each one answers as the AWS service would (the same error codes for a
//! missing key, an unknown template, a finished task...), logs what a
//! handler sent through `tracing` at `DEBUG` (target `eventrail::local`:
//! `--log-level debug`, or `eventrail::local=debug`, shows them; at the
//! default level a local run prints what a Lambda invocation would, the
//! failures and one summary line),
//! records every call in a [`CallLog`] and fails on demand through a
//! [`FaultPlan`]. Clones share state: keep one to look at what was sent,
//! hand another to the app. [`LocalBackends`] holds one of each.
//!
//! ## History
//!
//! What a backend remembers is of two kinds: its *state*, what the service
//! holds and later calls answer from (buckets and objects, idempotency
//! records, task states, stored dead letters, templates), and its
//! *history*, kept only to be looked at (the call log, the SES outbox, the
//! messages published to SNS). A process nobody inspects (a local
//! `invoke`, a long-lived function) builds its backends
//! [`without_history`](LocalBackends::without_history): each still checks,
//! logs and answers every call, and counts it
//! ([`call_count`](LocalNotifier::call_count)), but keeps no history, so its
//! memory grows only with its state; with no fault planned either, a call
//! does not even build its request as data.
//!
//! The feature adds no dependency: these are production code, fit for the
//! Lambda binary (for `BINARY invoke FILE` without AWS); nothing here needs
//! tokio's `test-util`. The testkit's fakes are these backends plus test
//! helpers, and re-export [`Fault`], [`FaultPlan`] and [`CallLog`].
//!
//! ## A local run
//!
//! ```
//! use eventrail::app::{Invocation, SourceEvent};
//! use eventrail::layers::{AlarmService, ServiceBuilderExt};
//! use eventrail::local::LocalBackends;
//! use eventrail::ports::SnsMessage;
//! use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
//! use tower::ServiceBuilder;
//!
//! #[derive(Debug, serde::Deserialize)]
//! struct OrderPlaced { order_id: String }
//!
//! const ORDERS: &str = "arn:aws:sns:us-east-1:123456789012:orders";
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let local = LocalBackends::new();
//! let sns = local.notifier();
//! let handler = ServiceBuilder::new()
//!     .alarm(AlarmService::new(local.notifier(), "arn:aws:sns:us-east-1:123456789012:alarms"), "OrderPlaced")
//!     .service(handler_fn(move |o: Envelope<OrderPlaced>| {
//!         let sns = sns.clone();
//!         async move {
//!             sns.publish(SnsMessage::new(ORDERS, o.order_id.as_str())).await?;
//!             Ok::<_, HandlerError>(())
//!         }
//!     }));
//! let app = App::builder(Router::new().sqs_all().to::<OrderPlaced>(), Bus::builder().on(handler).build())
//!     .build()
//!     .unwrap();
//!
//! let event = serde_json::from_str(r#"{"Records": [{"messageId": "m-1", "body": "{\"order_id\":\"o-1\"}"}]}"#).unwrap();
//! let report = app.process(SourceEvent::Sqs(event), &Invocation::default()).await;
//! assert_eq!(report.failed(), 0);
//! assert_eq!(local.sns().published_to(ORDERS)[0].message, "o-1");
//! # }
//! ```
//!
//! In a binary, hand the app to `eventrail_lambda::local::main(&app, &args)`
//! for `BINARY invoke FILE`: it prints the Lambda response, and the backends
//! log what each handler sent.
//!
//! ## A fake of your own port
//!
//! A [`FaultPlan`] and a [`CallLog`] make a fake of any port in a few lines:
//! [`FaultPlan::run`] fails the call if the plan says so, else runs the
//! fake's work, and records the call either way.
//!
//! ```
//! use eventrail::local::{CallLog, Fault, FaultPlan};
//! use eventrail::ports::PortError;
//!
//! #[derive(Clone, Debug, PartialEq)]
//! struct Charge { order_id: String, cents: u64 }
//!
//! #[async_trait::async_trait]
//! trait PaymentGateway: Send + Sync {
//!     async fn charge(&self, charge: Charge) -> Result<String, PortError>;
//! }
//!
//! #[derive(Clone, Debug, Default)]
//! struct FakeGateway { faults: FaultPlan<Charge>, calls: CallLog<Charge> }
//!
//! #[async_trait::async_trait]
//! impl PaymentGateway for FakeGateway {
//!     async fn charge(&self, charge: Charge) -> Result<String, PortError> {
//!         self.faults.run(&self.calls, charge, |c| Ok(format!("ch_{}", c.order_id)))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let gateway = FakeGateway::default();
//! gateway.faults.fail_next(1, Fault::throttled());
//! gateway.faults.fail_when(|c: &Charge| c.cents > 100_000, Fault::permanent("CardDeclined"));
//!
//! let charge = |id: &str, cents| Charge { order_id: id.into(), cents };
//! assert!(gateway.charge(charge("o-1", 500)).await.unwrap_err().is_retryable());
//! assert_eq!(gateway.charge(charge("o-1", 500)).await.unwrap(), "ch_o-1");
//! let declined = gateway.charge(charge("o-2", 250_000)).await.unwrap_err();
//! assert_eq!(declined.code(), Some("CardDeclined"));
//!
//! assert_eq!(gateway.calls.len(), 3);
//! assert_eq!(gateway.calls.succeeded(), [charge("o-1", 500)]);
//! # }
//! ```

/// The two constructors every backend whose only history is its call log
/// has: `without_history()` (a [discarding](CallLog::discarding) call log,
/// the rest as `new()`; the docs given describe what is still kept) and
/// `keeps_history()`.
macro_rules! history_constructors {
    ($(#[doc = $doc:expr])*) => {
        $(#[doc = $doc])*
        pub fn without_history() -> Self {
            Self {
                calls: CallLog::discarding(),
                ..Self::default()
            }
        }

        /// Whether this backend keeps its calls (see
        /// [`without_history`](Self::without_history)).
        pub fn keeps_history(&self) -> bool {
            self.calls.keeps_calls()
        }
    };
}

mod dead_letters;
mod faults;
#[cfg(test)]
mod history_tests;
mod idempotency;
mod s3;
mod ses;
mod sfn;
mod sns;

use std::sync::Arc;

pub use dead_letters::{LocalDeadLetters, StoredDeadLetter};
pub use faults::{local_id, Call, CallError, CallLog, Fault, FaultPlan};
pub use idempotency::{IdempotencyCall, LocalIdempotencyStore};
pub use s3::{LocalObjectStore, S3Request, StoredObject};
pub use ses::{LocalMailer, SentMail, Template};
pub use sfn::{is_well_formed_token, LocalTaskCallbacks, SfnCall, TaskState};
pub use sns::LocalNotifier;

use crate::ports::{
    Clock, IdempotencyStore, Mailer, Notifier, ObjectStore, SystemClock, TaskCallbacks,
};

/// One of each local backend. Clones share them.
///
/// The `Arc<dyn Port>` accessors give what handlers and layers take; the
/// others give the backends, to seed them (templates, buckets) and to look
/// at what was sent. See the [module docs](self) for an example.
#[derive(Clone, Debug, Default)]
pub struct LocalBackends {
    sns: LocalNotifier,
    ses: LocalMailer,
    s3: LocalObjectStore,
    sfn: LocalTaskCallbacks,
    idempotency: LocalIdempotencyStore,
    dead_letters: LocalDeadLetters,
}

impl LocalBackends {
    /// Fresh backends, all empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fresh backends that keep no history (see [History](self#history)):
    /// every call is checked, logged, answered and counted, none is kept,
    /// nor any sent mail or published message.
    ///
    /// ```
    /// use eventrail::local::LocalBackends;
    /// use eventrail::ports::SnsMessage;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let local = LocalBackends::without_history();
    /// assert!(!local.keeps_history());
    /// let receipt = local.notifier().publish(SnsMessage::new("arn:aws:sns:us-east-1:1:t", "hi")).await.unwrap();
    /// assert!(!receipt.message_id.is_empty());
    /// assert!(local.sns().published().is_empty() && local.sns().calls().is_empty());
    /// assert_eq!(local.sns().call_count(), 1);
    /// # }
    /// ```
    pub fn without_history() -> Self {
        Self {
            sns: LocalNotifier::without_history(),
            ses: LocalMailer::without_history(),
            s3: LocalObjectStore::without_history(),
            sfn: LocalTaskCallbacks::without_history(),
            idempotency: LocalIdempotencyStore::without_history(),
            dead_letters: LocalDeadLetters::without_history(),
        }
    }

    /// Whether these backends keep their history (see
    /// [`without_history`](Self::without_history)).
    pub fn keeps_history(&self) -> bool {
        self.sns.keeps_history()
    }

    /// The SNS backend.
    pub fn sns(&self) -> &LocalNotifier {
        &self.sns
    }

    /// The SES backend.
    pub fn ses(&self) -> &LocalMailer {
        &self.ses
    }

    /// The S3 backend.
    pub fn s3(&self) -> &LocalObjectStore {
        &self.s3
    }

    /// The Step Functions backend.
    pub fn sfn(&self) -> &LocalTaskCallbacks {
        &self.sfn
    }

    /// The idempotency store.
    pub fn idempotency(&self) -> &LocalIdempotencyStore {
        &self.idempotency
    }

    /// The dead-letter sink.
    pub fn dead_letters(&self) -> &LocalDeadLetters {
        &self.dead_letters
    }

    /// The SNS backend as a port.
    pub fn notifier(&self) -> Arc<dyn Notifier> {
        Arc::new(self.sns.clone())
    }

    /// The SES backend as a port.
    pub fn mailer(&self) -> Arc<dyn Mailer> {
        Arc::new(self.ses.clone())
    }

    /// The S3 backend as a port.
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        Arc::new(self.s3.clone())
    }

    /// The Step Functions backend as a port.
    pub fn task_callbacks(&self) -> Arc<dyn TaskCallbacks> {
        Arc::new(self.sfn.clone())
    }

    /// The idempotency store as a port.
    pub fn idempotency_store(&self) -> Arc<dyn IdempotencyStore> {
        Arc::new(self.idempotency.clone())
    }

    /// The system clock: a local run takes real time.
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(SystemClock)
    }
}
