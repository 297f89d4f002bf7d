//! Amazon SNS: a record is a notification.
//!
//! - Record id: the SNS `MessageId`.
//! - Order key: none (SNS invokes asynchronously; FIFO topics deliver to SQS).
//! - Correlation id and tenant: from message attributes.
//! - Unwrapping: a message that is an S3 notification (S3 → SNS) is routed
//!   with the S3 routes.
//! - Response: none per record; a failure fails the invocation.

pub use aws_lambda_events::event::sns::{SnsEvent, SnsRecord};

use super::{apply_attributes, Identity, Spec};
use crate::envelope::Source;
use crate::json::str_at;

pub(super) const SPEC: Spec = Spec {
    source: Source::Sns,
    event_source: "aws:sns",
    shape: &["Sns"],
};

/// The record id of a typed SNS record: its `MessageId`.
pub fn record_id(r: &SnsRecord) -> &str {
    r.sns.message_id.as_str()
}

/// The identity of a typed SNS record. See the [module docs](self).
pub fn identity(r: &SnsRecord) -> Identity {
    let mut identity = Identity::new(record_id(r), Source::Sns);
    apply_attributes(&mut identity.meta, |n| {
        r.sns.message_attributes.get(n).map(|a| a.value.as_str())
    });
    identity
}

pub(super) fn identify_raw(raw: &str) -> Identity {
    Identity::new(
        str_at(raw, &["Sns", "MessageId"]).unwrap_or_default(),
        Source::Sns,
    )
}
