//! A Step Functions task invoking the function: the payload is the task's
//! input.
//!
//! - Record id: `"task"` (one record per invocation).
//! - Task token: with `.waitForTaskToken`, the state machine passes the token
//!   in the input (conventionally as `taskToken`); it is taken out of the
//!   input and kept on every envelope the record produces.
//! - Recognised by: an object with a string `type` or a `taskToken`.
//! - Response: the handler's output is the task result; a failure fails the
//!   invocation.

use serde_json::Value;

use super::Identity;
use crate::envelope::Source;

/// The input of a Step Functions task that invokes the function. See the
/// [module docs](self).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct StepFunctionInput {
    /// The input, without the `taskToken` field.
    pub input: Value,
    /// The task token, if the input carried one.
    pub task_token: Option<String>,
}

impl StepFunctionInput {
    /// Splits `taskToken` off a raw task input.
    pub fn from_json(mut input: Value) -> Self {
        let task_token = match &mut input {
            Value::Object(map) => match map.remove("taskToken") {
                Some(Value::String(t)) => Some(t),
                Some(other) => {
                    // Not a token; leave it where it was.
                    map.insert("taskToken".into(), other);
                    None
                }
                None => None,
            },
            _ => None,
        };
        Self { input, task_token }
    }
}

/// The record id of a task input (there is one record per invocation).
pub const RECORD_ID: &str = "task";

/// The identity of a task input. See the [module docs](self).
pub fn identity(input: &StepFunctionInput) -> Identity {
    let mut identity = Identity::new(RECORD_ID, Source::StepFunctions);
    if let Some(t) = &input.task_token {
        identity.meta = identity.meta.with_task_token(t.as_str());
    }
    identity
}
