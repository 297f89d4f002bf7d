//! EventBridge routes: by `source`, and `detail-type` unless the route takes
//! every event of its source.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{deserialize_value, envelope, info, BuildFrom, Router};
use crate::envelope::Source;
use crate::factory::{Envelopes, Record, Transformed};
use crate::routes::RouteInfo;

pub(super) struct EventBridgeRoute {
    source: String,
    detail_type: Option<String>,
    pub(super) info: RouteInfo,
    build: BuildFrom<Value>,
}

impl EventBridgeRoute {
    fn matches(&self, event: &EventBridgeEvent) -> bool {
        self.source == event.source
            && self
                .detail_type
                .as_ref()
                .is_none_or(|d| *d == event.detail_type)
    }

    /// Whether events this route matches are always taken by `earlier`.
    pub(super) fn shadowed_by(&self, earlier: &EventBridgeRoute) -> bool {
        earlier.source == self.source
            && (earlier.detail_type.is_none() || earlier.detail_type == self.detail_type)
    }
}

impl Router {
    /// Starts an EventBridge route for events from `source` with `detail_type`.
    pub fn eventbridge(self, source: &str, detail_type: &str) -> EventBridgeRouteBuilder {
        EventBridgeRouteBuilder {
            router: self,
            source: source.into(),
            detail_type: Some(detail_type.into()),
        }
    }

    /// Starts an EventBridge route for every event from `source`.
    pub fn eventbridge_source(self, source: &str) -> EventBridgeRouteBuilder {
        EventBridgeRouteBuilder {
            router: self,
            source: source.into(),
            detail_type: None,
        }
    }

    pub(super) fn route_eventbridge(&self, event: EventBridgeEvent) -> Transformed {
        let record = Record::eventbridge(&event);
        let result = self
            .eventbridge
            .iter()
            .find(|r| r.matches(&event))
            .map(|route| (route.build)(&event.detail, record.meta()).map(Envelopes::One));
        std::iter::once(self.with_fallback(
            record,
            result,
            || event,
            |f, e| f.transform_eventbridge(e),
        ))
        .collect()
    }
}

/// An EventBridge route being built. See [`Router::eventbridge`].
#[must_use = "finish the route with `.to::<E>()`"]
#[derive(Debug)]
pub struct EventBridgeRouteBuilder {
    router: Router,
    source: String,
    detail_type: Option<String>,
}

impl EventBridgeRouteBuilder {
    /// Matching events become `E`s, deserialized from `detail`.
    pub fn to<E: DeserializeOwned + Send + Sync + 'static>(mut self) -> Router {
        let matcher = match &self.detail_type {
            Some(d) => format!("source = {:?}, detail-type = {d:?}", self.source),
            None => format!("source = {:?}", self.source),
        };
        self.router.eventbridge.push(EventBridgeRoute {
            source: self.source,
            detail_type: self.detail_type,
            info: info::<E>(Source::EventBridge, matcher),
            build: Box::new(|detail, meta| {
                deserialize_value::<E>(detail, "EventBridge detail").map(|e| envelope(e, meta))
            }),
        });
        self.router
    }
}
