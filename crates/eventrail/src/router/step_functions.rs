//! Step Functions routes: by the task input's `type` field.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{deserialize_value, envelope, info, BuildFrom, Router};
use crate::envelope::Source;
use crate::factory::{Envelopes, Record, StepFunctionInput, Transformed};
use crate::routes::RouteInfo;

pub(super) struct SfnRoute {
    value: String,
    pub(super) info: RouteInfo,
    build: BuildFrom<Value>,
}

impl SfnRoute {
    /// Whether inputs this route matches are always taken by `earlier`.
    pub(super) fn shadowed_by(&self, earlier: &SfnRoute) -> bool {
        self.value == earlier.value
    }
}

impl Router {
    /// Starts a Step Functions route for inputs whose `type` field is `value`.
    pub fn step_function(self, value: &str) -> SfnRouteBuilder {
        SfnRouteBuilder {
            router: self,
            value: value.into(),
        }
    }

    pub(super) fn route_step_function(&self, input: StepFunctionInput) -> Transformed {
        let record = Record::step_function(&input);
        let kind = input.input.get("type").and_then(Value::as_str);
        let result = kind
            .and_then(|k| self.sfn.iter().find(|r| r.value == k))
            .map(|route| (route.build)(&input.input, record.meta()).map(Envelopes::One));
        std::iter::once(self.with_fallback(
            record,
            result,
            || input,
            |f, i| f.transform_step_function(i),
        ))
        .collect()
    }
}

/// A Step Functions route being built. See [`Router::step_function`].
#[must_use = "finish the route with `.to::<E>()`"]
#[derive(Debug)]
pub struct SfnRouteBuilder {
    router: Router,
    value: String,
}

impl SfnRouteBuilder {
    /// Matching inputs become `E`s, deserialized from the input's `payload`
    /// field when it has one, else from the whole input. The task token stays
    /// on the envelope.
    pub fn to<E: DeserializeOwned + Send + Sync + 'static>(mut self) -> Router {
        let matcher = format!("type = {:?}", self.value);
        self.router.sfn.push(SfnRoute {
            value: self.value,
            info: info::<E>(Source::StepFunctions, matcher),
            build: Box::new(|input, meta| {
                let (v, what) = match input.get("payload") {
                    Some(p) => (p, "task input `payload`"),
                    None => (input, "task input"),
                };
                deserialize_value::<E>(v, what).map(|e| envelope(e, meta))
            }),
        });
        self.router
    }
}
