//! # eventrail-testkit
//!
//! Test a whole eventrail application deterministically, without AWS and
//! without Docker.
//!
//! - [`fakes`]: in-memory SNS, SES, S3, Step Functions and idempotency store,
//!   implementing the eventrail ports, recording every call, failing on demand;
//! - [`events`]: one-line builders for the events AWS delivers
//!   ([`sqs`], [`sns`], [`s3`], [`dynamodb`], [`step_functions`],
//!   [`eventbridge`], and a Lambda [`lambda::context`] with a deadline);

pub mod events;
pub mod fakes;

pub use events::{dynamodb, eventbridge, lambda, s3, sns, sqs, step_functions, TestEvent};
