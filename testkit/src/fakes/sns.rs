//! The SNS fake.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use eventrail::ports::{Notifier, PortError, PublishReceipt, SnsMessage};

use super::{fake_id, fault_methods, lock, record, Call, Faults};
use crate::events::sns as sns_events;

/// SNS's limit on a message, in bytes.
const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// SNS's limit on a subject, in characters.
const MAX_SUBJECT_CHARS: usize = 100;

/// An in-memory SNS: every published message, queryable per topic.
///
/// It validates what SNS validates (an empty or oversized message, a subject
/// longer than 100 characters or with a line break, a FIFO topic without a
/// message group id) with SNS's `InvalidParameter`, and hands out
/// deterministic message ids. See the [module docs](super) for an example.
#[derive(Clone, Debug, Default)]
pub struct FakeSns {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    published: Vec<(String, SnsMessage)>,
    calls: Vec<Call<SnsMessage>>,
    faults: Faults<SnsMessage>,
    next_id: u64,
}

impl FakeSns {
    /// An empty fake.
    pub fn new() -> Self {
        Self::default()
    }

    fault_methods!(SnsMessage, "message");

    /// The messages published to `topic_arn`, in order.
    pub fn published_to(&self, topic_arn: &str) -> Vec<SnsMessage> {
        lock(&self.inner)
            .published
            .iter()
            .filter(|(_, m)| m.topic_arn == topic_arn)
            .map(|(_, m)| m.clone())
            .collect()
    }

    /// Every message published, to any topic, in order.
    pub fn published(&self) -> Vec<SnsMessage> {
        lock(&self.inner)
            .published
            .iter()
            .map(|(_, m)| m.clone())
            .collect()
    }

    /// Every message published, with the message id SNS assigned.
    pub fn published_with_ids(&self) -> Vec<(String, SnsMessage)> {
        lock(&self.inner).published.clone()
    }

    /// The topics messages were published to, each once, in first-use order.
    pub fn topics(&self) -> Vec<String> {
        let state = lock(&self.inner);
        let mut out: Vec<String> = Vec::new();
        for (_, m) in &state.published {
            if !out.contains(&m.topic_arn) {
                out.push(m.topic_arn.clone());
            }
        }
        out
    }

    /// The messages published to `topic_arn`, as the SNS event a subscribed
    /// Lambda function receives (use `.to_sqs()` on it for a subscribed
    /// queue), so a test can push them through the next handler.
    pub fn notifications(&self, topic_arn: &str) -> sns_events::Batch {
        sns_events::batch(
            lock(&self.inner)
                .published
                .iter()
                .filter(|(_, m)| m.topic_arn == topic_arn)
                .map(|(id, m)| sns_events::Notification::from_message(m, id)),
        )
    }

    /// Forgets every published message and call (faults stay).
    pub fn clear(&self) {
        let mut state = lock(&self.inner);
        state.published.clear();
        state.calls.clear();
    }
}

fn invalid(message: impl Into<String>) -> PortError {
    PortError::permanent(message).with_code("InvalidParameter")
}

fn validate(msg: &SnsMessage) -> Result<(), PortError> {
    if msg.topic_arn.is_empty() {
        return Err(invalid("Invalid parameter: TopicArn"));
    }
    if msg.message.is_empty() {
        return Err(invalid("Invalid parameter: Empty message"));
    }
    if msg.message.len() > MAX_MESSAGE_BYTES {
        return Err(invalid("Invalid parameter: Message too long"));
    }
    if let Some(s) = &msg.subject {
        if s.is_empty()
            || s.chars().count() > MAX_SUBJECT_CHARS
            || s.chars().any(|c| c.is_control())
        {
            return Err(invalid("Invalid parameter: Subject"));
        }
    }
    if msg.topic_arn.ends_with(".fifo") && msg.group_id.is_none() {
        return Err(invalid(
            "Invalid parameter: The MessageGroupId parameter is required for FIFO topics",
        ));
    }
    Ok(())
}

#[async_trait]
impl Notifier for FakeSns {
    async fn publish(&self, msg: SnsMessage) -> Result<PublishReceipt, PortError> {
        let mut state = lock(&self.inner);
        let result = match state.faults.check(&msg) {
            Some(e) => Err(e),
            None => validate(&msg).map(|()| {
                state.next_id += 1;
                let message_id = fake_id(0x5105, state.next_id);
                state.published.push((message_id.clone(), msg.clone()));
                PublishReceipt { message_id }
            }),
        };
        record(&mut state.calls, msg, result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::Fault;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:orders";

    #[tokio::test]
    async fn validates_like_sns() {
        let sns = FakeSns::new();
        let e = sns.publish(SnsMessage::new(TOPIC, "")).await.unwrap_err();
        assert_eq!(e.code(), Some("InvalidParameter"));
        let e = sns
            .publish(SnsMessage::new(TOPIC, "x").with_subject("a\nb"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("InvalidParameter"));
        let fifo = "arn:aws:sns:us-east-1:123456789012:orders.fifo";
        assert!(sns.publish(SnsMessage::new(fifo, "x")).await.is_err());
        sns.publish(SnsMessage::new(fifo, "x").with_group_id("g"))
            .await
            .unwrap();
        assert_eq!(sns.calls().len(), 4);
        assert_eq!(sns.published().len(), 1);
    }

    #[tokio::test]
    async fn predicate_faults_and_ids() {
        let sns = FakeSns::new();
        sns.fail_when(
            |m| m.message.contains("poison"),
            Fault::permanent("KMSDisabled"),
        );
        let a = sns.publish(SnsMessage::new(TOPIC, "ok")).await.unwrap();
        let e = sns
            .publish(SnsMessage::new(TOPIC, "poison"))
            .await
            .unwrap_err();
        assert!(!e.is_retryable());
        assert_eq!(e.code(), Some("KMSDisabled"));
        let b = sns.publish(SnsMessage::new(TOPIC, "ok2")).await.unwrap();
        assert_ne!(a.message_id, b.message_id);
        assert_eq!(sns.topics(), vec![TOPIC.to_owned()]);
        assert_eq!(
            sns.calls().iter().filter(|c| c.is_ok()).count(),
            2,
            "the failed call is recorded too"
        );
    }
}
