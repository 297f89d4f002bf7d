//! What the fault-table tests share: a job event, its router, bodies and
//! quiet panics.

#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use eventrail::app::Status;
use eventrail::layers::{DeadLetter, DeadLetterSink};
use eventrail::ports::PortError;
use eventrail::Router;
use eventrail_testkit::{sqs, Outcome};
use serde_json::json;

pub const ALARMS: &str = "arn:aws:sns:us-east-1:123456789012:alarms";
pub const SHIPPED: &str = "arn:aws:sns:us-east-1:123456789012:shipped";

/// A job: `key` is its idempotency key, `n` a number handlers act on.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Job {
    pub key: String,
    #[serde(default)]
    pub n: u64,
}

pub fn router() -> Router {
    Router::new().sqs("type", "JOB").to::<Job>()
}

pub fn body(key: &str, n: u64) -> String {
    json!({"type": "JOB", "key": key, "n": n}).to_string()
}

/// A message `id` carrying job `key`.
pub fn job(id: &str, key: &str) -> sqs::Message {
    sqs::message(body(key, 0)).id(id)
}

/// The panic message handlers use on purpose; [`quiet_panics`] keeps it out
/// of the test output.
pub const HANDLER_BUG: &str = "handler bug";

/// Handlers panic on purpose here: keep those panics quiet.
pub fn quiet_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&HANDLER_BUG) {
                default(info);
            }
        }));
    });
}

/// The failure of record `id`, or a panic saying what the record became.
pub fn failure<'a>(out: &'a Outcome, id: &str) -> &'a eventrail::app::Failure {
    out.failure(id)
        .unwrap_or_else(|| panic!("{id} did not fail: {out:?}"))
}

/// Whether every outcome is failed with an error of type `T`.
pub fn all_failed_with<T: std::error::Error + 'static>(out: &Outcome, ids: &[String]) -> bool {
    ids.iter().all(|id| {
        out.records()
            .iter()
            .find(|o| o.record_id() == id)
            .is_some_and(|o| matches!(&o.status, Status::Failed(f) if f.error.is::<T>()))
    })
}

/// Dead letters as (record id, error text), in order.
#[derive(Debug, Default)]
pub struct Letters(pub Mutex<Vec<(String, String)>>);

#[async_trait]
impl DeadLetterSink<Job> for Letters {
    async fn store(&self, letter: DeadLetter<'_, Job>) -> Result<(), PortError> {
        self.0.lock().unwrap().push((
            letter.envelope.meta().record_id().to_owned(),
            letter.error.to_string(),
        ));
        Ok(())
    }
}

impl Letters {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    pub fn get(&self) -> Vec<(String, String)> {
        self.0.lock().unwrap().clone()
    }
}
