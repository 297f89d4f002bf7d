//! Runs an eventrail [`App`](eventrail::App) on AWS Lambda.
//!
//! - [`run`] serves the app under the Lambda Runtime API, and turns every
//!   binary built with it into a local tool too: `BINARY invoke FILE`
//!   processes one event file the same way and prints the response (see
//!   [`local`]).
//! - [`invoke()`] is one invocation without the runtime: [`detect()`] the
//!   source of the raw JSON, process the records, build the response with
//!   [`respond_to`] (which reads from the payload what S3 Batch Operations
//!   and Firehose responses echo; [`respond`] needs only the report).
//!   Tests and harnesses drive an app through it.
//! - [`Function`] adds the adapter's settings to an app: the
//!   [whole-batch failure policy](WholeBatchFailure) and one CloudWatch
//!   metrics line per invocation ([`eventrail::metrics`], also turned on by
//!   `EVENTRAIL_METRICS=emf`). `run` and `invoke` take a `Function` or an
//!   `&App`.
//!
//! How each source is answered (partial batch responses, FIFO groups, stream
//! checkpoints, Step Functions output, invocation errors) is described in
//! [`response`]; how the source is recognised, in [`detect`](mod@detect).
//! Ordering, bounded concurrency, panic isolation and the deadline cut-off
//! are the [`App`](eventrail::App)'s, configured on its builder
//! ([`eventrail::app::AppBuilder`]).
//!
//! # Logs
//!
//! Unless the application installed its own `tracing` subscriber, [`run`]
//! installs one: JSON lines on stdout under Lambda, text lines on stderr for
//! `invoke`. A large batch with many failures logs one WARN line per failed
//! record, and a system call per line would cost more than the records'
//! work, so lines are written in blocks: when 16 KiB are waiting, when a
//! line comes while the oldest waiting one is more than 100 ms old, at the
//! end of every invocation (before its response is sent, so an invocation's
//! lines are all out when it answers), and before a panic is reported. Lines
//! still waiting when the process is killed from outside (a Lambda timeout
//! while a handler blocks its thread) are lost; set
//! `EVENTRAIL_LOG_BUFFER=off` to write every line at once.
//!
//! # A Lambda function
//!
//! ```no_run
//! use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
//!
//! #[derive(Debug, serde::Deserialize)]
//! struct Notification {
//!     recipient: String,
//! }
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), eventrail_lambda::lambda_runtime::Error> {
//!     let bus = Bus::builder()
//!         .on(handler_fn(|n: Envelope<Notification>| async move {
//!             if n.recipient.is_empty() {
//!                 return Err(HandlerError::permanent("no recipient"));
//!             }
//!             Ok(())
//!         }))
//!         .build();
//!     let router = Router::new().sqs("type", "NOTIFICATION").to::<Notification>();
//!     let app = App::builder(router, bus).concurrency(16).build()?;
//!     eventrail_lambda::run(app).await
//! }
//! ```
//!
//! Built this way, the binary also runs locally:
//!
//! ```text
//! $ my-function invoke events/sqs-batch.json
//! {"batchItemFailures":[{"itemIdentifier":"0e6f3c52-..."}]}
//! ```
//!
//! # One invocation in a test
//!
//! ```
//! use eventrail::app::Invocation;
//! use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
//!
//! #[derive(Debug, serde::Deserialize)]
//! struct Notification {
//!     recipient: String,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let app = App::builder(
//!     Router::new().sqs("type", "NOTIFICATION").to::<Notification>(),
//!     Bus::builder()
//!         .on(handler_fn(|_: Envelope<Notification>| async { Ok::<_, HandlerError>(()) }))
//!         .build(),
//! )
//! .build()
//! .unwrap();
//!
//! // An S3 notification reaches a function that has no S3 route: the record
//! // fails, and so does the (asynchronous) invocation.
//! let s3 = br#"{"Records": [{"eventSource": "aws:s3", "s3": {
//!     "bucket": {"name": "inbox"}, "object": {"key": "a.csv", "sequencer": "01"}}}]}"#;
//! let err = eventrail_lambda::invoke(&app, s3, Invocation::default()).await.unwrap_err();
//! assert!(err.to_string().starts_with("1 of 1 s3 record(s) failed"));
//! # }
//! ```

pub mod deadline;
pub mod detect;
mod error;
pub mod function;
pub mod invoke;
pub mod local;
mod logs;
pub mod response;
mod runtime;

pub use detect::{detect, Detected, MalformedRecord};
pub use error::InvokeError;
pub use function::{Function, WholeBatchFailure};
pub use invoke::{invoke, invoke_value, process, Summary};
pub use response::{respond, respond_to, respond_with};
pub use runtime::run;

/// Re-exported so that binaries use the same runtime as this crate.
pub use lambda_runtime;
