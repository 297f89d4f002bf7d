//! EventBridge events.
//!
//! ```
//! use eventrail_testkit::events::{eventbridge, TestEvent};
//! use serde_json::json;
//!
//! let event = eventbridge::event("shop.orders", "OrderPlaced", json!({"orderId": "42"}));
//! let json = event.to_json();
//! assert_eq!(json["detail-type"], "OrderPlaced");
//! assert_eq!(event.typed().source, "shop.orders");
//! ```

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde_json::{json, Value};

use super::{typed, uuid, TestEvent, ACCOUNT, REGION};

/// An EventBridge event being built. See [`event`].
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    source: String,
    detail_type: String,
    detail: Value,
    id: Option<String>,
    resources: Vec<String>,
    time: String,
}

/// An event from `source` with `detail_type` and `detail`.
pub fn event(source: impl Into<String>, detail_type: impl Into<String>, detail: Value) -> Event {
    Event {
        source: source.into(),
        detail_type: detail_type.into(),
        detail,
        id: None,
        resources: Vec::new(),
        time: "2026-01-01T00:00:00Z".into(),
    }
}

impl Event {
    /// Sets the event id (the record id).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Adds a resource ARN.
    pub fn resource(mut self, arn: impl Into<String>) -> Self {
        self.resources.push(arn.into());
        self
    }

    /// Sets the time (ISO 8601, whole seconds, as EventBridge writes it).
    pub fn time(mut self, time: impl Into<String>) -> Self {
        self.time = time.into();
        self
    }

    /// The event as the `aws_lambda_events` type.
    pub fn typed(&self) -> EventBridgeEvent {
        typed(self.to_json(), "EventBridge event")
    }
}

impl TestEvent for Event {
    fn to_json(&self) -> Value {
        json!({
            "version": "0",
            "id": self.id.clone().unwrap_or_else(|| uuid(0xeb, 1)),
            "detail-type": self.detail_type,
            "source": self.source,
            "account": ACCOUNT,
            "time": self.time,
            "region": REGION,
            "resources": self.resources,
            "detail": self.detail,
        })
    }
}
