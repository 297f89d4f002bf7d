//! Real AWS clients for eventrail's ports (SNS, Step Functions, SES, S3,
//! DynamoDB), built on the official `aws-sdk-*` crates.
//!
//! Not written yet: this crate is an empty skeleton so the workspace layout is
//! fixed. Until it lands, implement the traits in `eventrail::ports` yourself
//! or use the in-memory fakes of `eventrail-testkit`.
