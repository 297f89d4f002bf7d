//! # eventrail-testkit
//!
//! Test a whole eventrail application deterministically, without AWS and
//! without Docker.
//!
//! - [`fakes`]: in-memory SNS, SES, S3, Step Functions and idempotency store,
//!   implementing the eventrail ports, recording every call and failing on
//!   demand;
//! - [`events`]: one-line builders for the events AWS delivers ([`sqs`],
//!   [`sns`], [`s3`], [`dynamodb`], [`step_functions`], [`eventbridge`]), a
//!   Lambda [`lambda::context`] with a deadline, and [`Redeliver`] to send
//!   the failed records of a batch again with their ids;
//! - [`harness`]: [`TestApp`], an app wired to every fake and driven by raw
//!   events exactly as the Lambda adapter drives it, on tokio's paused clock;
//! - `mocks` (feature `mocks`): `mockall` mocks of the port traits, for tests
//!   that prefer expectations to fakes;
//! - `strategies` (feature `proptest`): `proptest` strategies for SQS batches,
//!   S3 keys and DynamoDB images.
//!
//! ## An order flow, end to end
//!
//! A Step Functions task asks the function to process an order; the handler
//! mails a confirmation, the task-token layer reports the result to Step
//! Functions, the alarm layer publishes final failures to SNS. A throttled
//! first mail is retried after 1 s of (paused, so instant) time.
//!
//! ```
//! use eventrail::layers::{AlarmService, RetryPolicy, ServiceBuilderExt};
//! use eventrail::ports::Email;
//! use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
//! use eventrail_testkit::fakes::{Fault, Template};
//! use eventrail_testkit::TestApp;
//! use serde_json::json;
//! use tower::ServiceBuilder;
//!
//! #[derive(Debug, serde::Deserialize)]
//! #[serde(rename_all = "camelCase")]
//! struct OrderCreated { order_id: String, email: String }
//!
//! const ALARMS: &str = "arn:aws:sns:us-east-1:123456789012:alarms";
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let app = TestApp::new(|fakes| {
//!     let mailer = fakes.mailer();
//!     let handler = ServiceBuilder::new()
//!         .alarm(AlarmService::new(fakes.notifier(), ALARMS), "OrderCreatedHandler")
//!         .task_token(fakes.task_callbacks())
//!         .retries(RetryPolicy::default())
//!         .service(handler_fn(move |o: Envelope<OrderCreated>| {
//!             let mailer = mailer.clone();
//!             async move {
//!                 let data = json!({"orderId": o.order_id});
//!                 mailer.send(Email::template("shop@example.com", o.email.as_str(), "order-confirmed", data)).await?;
//!                 Ok::<_, HandlerError>(json!({"success": true, "orderId": o.order_id}))
//!             }
//!         }));
//!     let router = Router::new().step_function("ORDER_PROCESS").to::<OrderCreated>();
//!     App::builder(router, Bus::builder().on(handler).build())
//! });
//! app.ses().add_template("order-confirmed", Template::new("Order {{orderId}} confirmed"));
//! app.ses().fail_next(1, Fault::throttled());
//!
//! let (token, task) = app.sfn().task(json!({
//!     "type": "ORDER_PROCESS",
//!     "payload": {"orderId": "o-42", "email": "ann@example.com"},
//! }));
//! let out = app.send(task).await;
//!
//! let result = json!({"success": true, "orderId": "o-42"});
//! assert_eq!(out.response(), Some(&result));
//! assert_eq!(app.sfn().succeeded(&token), Some(result));
//! assert_eq!(app.ses().sent_to("ann@example.com")[0].subject, "Order o-42 confirmed");
//! assert_eq!(app.ses().calls().len(), 2, "throttled once, then sent");
//! assert!(app.sns().published_to(ALARMS).is_empty());
//! # }
//! ```

pub mod emulator;
pub mod events;
pub mod fakes;
pub mod harness;
#[cfg(feature = "mocks")]
pub mod mocks;
mod redelivery;
#[cfg(feature = "proptest")]
pub mod strategies;

pub use events::{
    dynamodb, eventbridge, firehose, kafka, lambda, s3, s3_batch, sns, sqs, step_functions,
    Redeliver, TestEvent,
};
#[cfg(feature = "paused-clock")]
pub use harness::run_paused;
pub use harness::{test_epoch, Fakes, Outcome, TestApp};
