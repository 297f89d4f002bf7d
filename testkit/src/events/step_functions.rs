//! Step Functions task inputs: what a `Lambda:invoke` task passes the function.
//!
//! With `.waitForTaskToken` the state machine puts the token in the input
//! (`"taskToken.$": "$$.Task.Token"`); [`task`] does the same. Issue tokens
//! with [`FakeSfn`](crate::fakes::FakeSfn) so the fake accepts the callback.
//!
//! ```
//! use eventrail_testkit::events::{step_functions, TestEvent};
//! use serde_json::json;
//!
//! let event = step_functions::task(json!({"type": "ORDER_PROCESS", "payload": {"orderId": "42"}}), "tok-1");
//! assert_eq!(event.to_json()["taskToken"], "tok-1");
//! assert_eq!(event.to_json()["payload"]["orderId"], "42");
//! ```

use serde_json::{Map, Value};

use super::TestEvent;

/// A task input being built. See [`task`].
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    input: Value,
    token: Option<String>,
}

/// The input of a `.waitForTaskToken` task: `input` (an object) with
/// `taskToken` added.
pub fn task(input: Value, token: impl Into<String>) -> Task {
    Task {
        input,
        token: Some(token.into()),
    }
}

/// The input of a plain (request-response) task, without a token.
pub fn input(input: Value) -> Task {
    Task { input, token: None }
}

impl Task {
    /// The task token, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }
}

impl TestEvent for Task {
    fn to_json(&self) -> Value {
        match (&self.input, &self.token) {
            (Value::Object(map), Some(token)) => {
                let mut map: Map<String, Value> = map.clone();
                map.insert("taskToken".into(), Value::String(token.clone()));
                Value::Object(map)
            }
            (v, _) => v.clone(),
        }
    }
}
