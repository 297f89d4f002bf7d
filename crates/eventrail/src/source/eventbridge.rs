//! Amazon EventBridge: the payload is one event.
//!
//! - Record id: the event `id`.
//! - Recognised by: an object with `source` and `detail-type`.
//! - Response: none; a failure fails the invocation.

pub use aws_lambda_events::event::eventbridge::EventBridgeEvent;

use super::Identity;
use crate::envelope::Source;
use crate::json::str_at;

/// The record id of a typed EventBridge event: its `id`.
pub fn record_id(e: &EventBridgeEvent) -> &str {
    e.id.as_deref().unwrap_or("")
}

/// The identity of a typed EventBridge event. See the [module docs](self).
pub fn identity(e: &EventBridgeEvent) -> Identity {
    Identity::new(record_id(e), Source::EventBridge)
}

pub(super) fn identify_raw(raw: &str) -> Identity {
    Identity::new(
        str_at(raw, &["id"]).unwrap_or_default(),
        Source::EventBridge,
    )
}
