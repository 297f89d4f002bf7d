//! Small recording fakes of the ports, for the layer tests. (The testkit
//! has full fakes; these tests keep to what they check.)

#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use eventrail::ports::{Notifier, PortError, PublishReceipt, SnsMessage, TaskCallbacks};
use eventrail::{Envelope, Metadata, Source};
use tokio::time::Instant;

/// An SNS topic that records what was published; `fail_next` makes
/// publishes fail.
#[derive(Debug, Default)]
pub struct Topic {
    pub sent: Mutex<Vec<SnsMessage>>,
    pub failures: Mutex<VecDeque<PortError>>,
}

impl Topic {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn fail_next(&self, e: PortError) {
        self.failures.lock().unwrap().push_back(e);
    }

    pub fn messages(&self) -> Vec<SnsMessage> {
        self.sent.lock().unwrap().clone()
    }

    /// The bodies, parsed as JSON.
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.messages()
            .iter()
            .map(|m| serde_json::from_str(&m.message).expect("alarm bodies are JSON"))
            .collect()
    }
}

#[async_trait::async_trait]
impl Notifier for Topic {
    async fn publish(&self, msg: SnsMessage) -> Result<PublishReceipt, PortError> {
        if let Some(e) = self.failures.lock().unwrap().pop_front() {
            return Err(e);
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push(msg);
        Ok(PublishReceipt {
            message_id: format!("msg-{}", sent.len()),
        })
    }
}

/// One Step Functions callback, as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Callback {
    Success {
        token: String,
        output: String,
    },
    Failure {
        token: String,
        error: String,
        cause: String,
    },
}

/// Step Functions callbacks that are recorded; queued failures are returned
/// first (and the failed call is counted in `calls`, not recorded).
#[derive(Debug, Default)]
pub struct Sfn {
    pub received: Mutex<Vec<Callback>>,
    pub failures: Mutex<VecDeque<PortError>>,
    pub calls: AtomicU32,
}

impl Sfn {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn fail_next(&self, e: PortError) {
        self.failures.lock().unwrap().push_back(e);
    }

    pub fn received(&self) -> Vec<Callback> {
        self.received.lock().unwrap().clone()
    }

    fn attempt(&self) -> Result<(), PortError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match self.failures.lock().unwrap().pop_front() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl TaskCallbacks for Sfn {
    async fn send_task_success(&self, token: &str, output: &str) -> Result<(), PortError> {
        self.attempt()?;
        self.received.lock().unwrap().push(Callback::Success {
            token: token.into(),
            output: output.into(),
        });
        Ok(())
    }

    async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), PortError> {
        self.attempt()?;
        self.received.lock().unwrap().push(Callback::Failure {
            token: token.into(),
            error: error.into(),
            cause: cause.into(),
        });
        Ok(())
    }

    async fn send_task_heartbeat(&self, _token: &str) -> Result<(), PortError> {
        Ok(())
    }
}

/// Instants at which a handler was called, relative to a start.
#[derive(Clone, Debug)]
pub struct CallLog {
    start: Instant,
    calls: Arc<Mutex<Vec<(u32, std::time::Duration)>>>,
}

impl CallLog {
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            calls: Arc::default(),
        }
    }

    /// Records a call with the envelope's attempt number.
    pub fn record(&self, attempt: u32) {
        self.calls
            .lock()
            .unwrap()
            .push((attempt, self.start.elapsed()));
    }

    /// `(attempt, milliseconds since start)` per call.
    pub fn calls(&self) -> Vec<(u32, u128)> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(a, d)| (*a, d.as_millis()))
            .collect()
    }

    pub fn count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

pub fn meta(id: &str) -> Metadata {
    Metadata::new(id, Source::Sqs)
}

pub fn env<E>(event: E, id: &str) -> Envelope<E> {
    Envelope::new(event, meta(id))
}
