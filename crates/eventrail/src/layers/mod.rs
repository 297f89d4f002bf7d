//! Middleware layers that make a handler production-safe.
//!
//! Every layer is a `tower::Layer` over services of [`Envelope<E>`](crate::Envelope),
//! composes with the others and with tower's own layers, and is tested on a
//! paused tokio clock:
//!
//! | module | layer | what it does |
//! |---|---|---|
//! | [`trace`] | [`TraceLayer`] | a span per event; outcome and duration at the end |
//! | [`alarm`] | [`AlarmLayer`] | publishes an alarm to SNS when the call finally fails; [`AlarmService`] for handlers |
//! | [`dead_letter`] | [`DeadLetterLayer`] | hands finally failed events to a [`DeadLetterSink`] (a whole batch: [`app::BatchAlarm`](crate::app::BatchAlarm)) |
//! | [`idempotency`] | [`IdempotencyLayer`] | runs a handler once per key and replays its stored result |
//! | [`task_token`] | [`TaskTokenLayer`] | reports the result to Step Functions (`SendTaskSuccess` / `SendTaskFailure`) |
//! | [`timeout`] | [`TimeoutLayer`] | a fixed or deadline-aware time limit |
//! | [`retry`] | [`RetryLayer`] | retries retryable errors with exponential backoff, within the deadline |
//! | [`catch_panic`] | [`CatchPanicLayer`] | turns a panic of the inner service into a [`HandlerPanic`] failure |
//!
//! Every layer's service returns a [`BoxError`](crate::BoxError); a layer's
//! own failures are small types detected with `err.is::<T>()` (or
//! `downcast_ref`), and [`classify`](crate::error::classify) knows whether a
//! retry can help with each. They are re-exported here next to their layers
//! ([`Elapsed`], [`IdempotencyError`], [`TaskTokenError`], [`HandlerPanic`]),
//! with every setting type ([`RetryPolicy`], [`IdempotencyOptions`],
//! [`Severity`], ...), so `use eventrail::layers::*` (or a list from it) is
//! the one import a stack needs.
//!
//! The ports ([`Notifier`](crate::ports::Notifier),
//! [`TaskCallbacks`](crate::ports::TaskCallbacks), [`DeadLetterSink`], ...)
//! are `async_trait` traits; implement them with the re-exported
//! [`eventrail::async_trait`](crate::async_trait), without adding the
//! `async-trait` dependency yourself.
//!
//! [`ServiceBuilderExt`] adds one method per layer to `tower::ServiceBuilder`,
//! so a production stack reads top (outermost) to bottom:
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use eventrail::layers::{AlarmService, RetryPolicy, ServiceBuilderExt};
//! use eventrail::ports::{Notifier, PortError, PublishReceipt, SnsMessage, TaskCallbacks};
//! use eventrail::{handler_fn, Envelope, HandlerError, Metadata, Source};
//! use tower::{Service, ServiceBuilder, ServiceExt};
//!
//! # #[derive(Debug)] struct Sns;
//! # #[eventrail::async_trait] impl Notifier for Sns {
//! #     async fn publish(&self, _: SnsMessage) -> Result<PublishReceipt, PortError> {
//! #         Ok(PublishReceipt { message_id: "1".into() })
//! #     }
//! # }
//! # #[derive(Debug)] struct Sfn;
//! # #[eventrail::async_trait] impl TaskCallbacks for Sfn {
//! #     async fn send_task_success(&self, _: &str, _: &str) -> Result<(), PortError> { Ok(()) }
//! #     async fn send_task_failure(&self, _: &str, _: &str, _: &str) -> Result<(), PortError> { Ok(()) }
//! #     async fn send_task_heartbeat(&self, _: &str) -> Result<(), PortError> { Ok(()) }
//! # }
//! #[derive(Debug, serde::Deserialize)]
//! struct ImportProcess { import_id: String }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let alarms = AlarmService::new(Arc::new(Sns), "arn:aws:sns:us-east-1:123456789012:alarms")
//!     .with_environment("prod");
//! let sfn: Arc<dyn TaskCallbacks> = Arc::new(Sfn);
//!
//! let mut handler = ServiceBuilder::new()
//!     .traced()
//!     .alarm(alarms, "ImportProcessEventHandler")
//!     .task_token(sfn)
//!     .deadline_timeout(Duration::from_secs(25))
//!     .retries(RetryPolicy::default())
//!     .service(handler_fn(|env: Envelope<ImportProcess>| async move {
//!         Ok::<_, HandlerError>(serde_json::json!({ "imported": env.import_id }))
//!     }));
//!
//! let env = Envelope::new(
//!     ImportProcess { import_id: "imp-1".into() },
//!     Metadata::new("m-1", Source::StepFunctions).with_task_token("token-1"),
//! );
//! let out = handler.ready().await.unwrap().call(env).await.unwrap();
//! assert_eq!(out["imported"], "imp-1");
//! # }
//! ```
//!
//! The recommended order, outermost first, is
//! `traced → alarm → dead_letter → idempotent → task_token → deadline_timeout → retries`:
//! alarms and dead letters see only final failures; the idempotency layer sits
//! outside the task-token layer so that a duplicate delivery neither reports a
//! second time to Step Functions nor fails a task whose first delivery is still
//! running; the timeout bounds all attempts together.
//!
//! A handler that panics does not skip the layers around it: the layers that
//! act on failures (idempotency, task token, dead letter, alarm) catch a panic
//! of what they wrap and see it as a permanent
//! [`HandlerPanic`] failure, so the idempotency lock
//! is released at once, the task is failed, the dead letter kept and the
//! alarm sent (see [`catch_panic`]).
//!
//! Layers whose work is a sequence of port calls (alarm, dead letter,
//! idempotency, task token) return a boxed `async` block as their future (one
//! allocation per call; the ports are `async_trait` methods, which allocate
//! anyway). Retry, timeout and tracing have hand-written futures.

pub mod alarm;
pub mod catch_panic;
pub mod dead_letter;
pub mod idempotency;
pub mod retry;
pub mod task_token;
pub mod timeout;
pub mod trace;

mod builder;
pub(crate) mod util;

pub use self::alarm::{mask_emails, Alarm, AlarmLayer, AlarmService, Severity};
pub use self::builder::ServiceBuilderExt;
pub use self::catch_panic::CatchPanicLayer;
pub use self::dead_letter::{DeadLetter, DeadLetterLayer, DeadLetterSink};
pub use self::idempotency::{
    is_in_progress_elsewhere, IdempotencyError, IdempotencyKey, IdempotencyLayer,
    IdempotencyOptions, MemoryIdempotencyStore, MissingKey, OnStoreError,
};
pub use self::retry::{Jitter, RetryLayer, RetryPolicy};
pub use self::task_token::{TaskTokenError, TaskTokenLayer};
pub use self::timeout::{Elapsed, TimeoutLayer};
pub use self::trace::TraceLayer;
pub use crate::error::HandlerPanic;
