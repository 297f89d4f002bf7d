//! The local SNS.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::faults::{fault_methods, local_id, lock, CallLog, FaultPlan};
use crate::ports::{Notifier, PortError, PublishReceipt, SnsMessage};

/// SNS's limit on a message, in bytes.
const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// SNS's limit on a subject, in characters.
const MAX_SUBJECT_CHARS: usize = 100;

/// A [`Notifier`] that keeps every published message, per topic, and logs it.
///
/// It validates what SNS validates (an empty or oversized message, a subject
/// longer than 100 characters or with a line break, a FIFO topic without a
/// message group id) with SNS's `InvalidParameter`, and hands out
/// deterministic message ids. Every publish is logged at `DEBUG`. A
/// notifier [`without_history`](Self::without_history) validates, logs and
/// answers the same, but keeps no message and no call.
///
/// ```
/// use eventrail::local::LocalNotifier;
/// use eventrail::ports::{Notifier, SnsMessage};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sns = LocalNotifier::new();
/// sns.publish(SnsMessage::new("arn:aws:sns:us-east-1:1:alarms", "disk full")).await.unwrap();
/// assert!(sns.publish(SnsMessage::new("arn:aws:sns:us-east-1:1:alarms", "")).await.is_err());
/// assert_eq!(sns.published_to("arn:aws:sns:us-east-1:1:alarms")[0].message, "disk full");
/// assert_eq!(sns.calls().len(), 2);
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct LocalNotifier {
    inner: Arc<Mutex<State>>,
    faults: FaultPlan<SnsMessage>,
    calls: CallLog<SnsMessage>,
}

#[derive(Debug, Default)]
struct State {
    published: Vec<(String, SnsMessage)>,
    /// Keep no message (see [`LocalNotifier::without_history`]).
    no_history: bool,
    next_id: u64,
}

impl LocalNotifier {
    /// A notifier with nothing published.
    pub fn new() -> Self {
        Self::default()
    }

    /// A notifier that keeps no history: no published message, and a
    /// [discarding](CallLog::discarding) call log. Messages are validated,
    /// logged and answered as by [`new`](Self::new), faults work the same.
    ///
    /// ```
    /// use eventrail::local::LocalNotifier;
    /// use eventrail::ports::{Notifier, SnsMessage};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sns = LocalNotifier::without_history();
    /// let topic = "arn:aws:sns:us-east-1:1:alarms";
    /// assert!(sns.publish(SnsMessage::new(topic, "disk full")).await.is_ok());
    /// assert!(sns.publish(SnsMessage::new(topic, "")).await.is_err());
    /// assert!(sns.published().is_empty() && sns.calls().is_empty());
    /// assert_eq!(sns.call_count(), 2);
    /// # }
    /// ```
    pub fn without_history() -> Self {
        let sns = Self {
            calls: CallLog::discarding(),
            ..Self::default()
        };
        lock(&sns.inner).no_history = true;
        sns
    }

    /// Whether this notifier keeps what was published and its calls (see
    /// [`without_history`](Self::without_history)).
    pub fn keeps_history(&self) -> bool {
        self.calls.keeps_calls()
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

    /// Every message published, with the message id it was given.
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

    /// Forgets every published message and call (faults stay).
    pub fn clear(&self) {
        lock(&self.inner).published.clear();
        self.calls.clear();
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
impl Notifier for LocalNotifier {
    async fn publish(&self, msg: SnsMessage) -> Result<PublishReceipt, PortError> {
        let mut state = lock(&self.inner);
        let result = self.faults.run(&self.calls, msg, |m| {
            validate(m)?;
            state.next_id += 1;
            let message_id = local_id(0x5105, state.next_id);
            tracing::debug!(
                target: "eventrail::local",
                topic = %m.topic_arn,
                subject = m.subject.as_deref().unwrap_or(""),
                message = %m.message,
                message_id = %message_id,
                "SNS publish"
            );
            if !state.no_history {
                state.published.push((message_id.clone(), m.clone()));
            }
            Ok(PublishReceipt { message_id })
        });
        if let Err(e) = &result {
            tracing::debug!(target: "eventrail::local", error = %e, "SNS publish failed");
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::Fault;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:orders";

    #[tokio::test]
    async fn records_what_was_published_and_validates_like_sns() {
        let sns = LocalNotifier::new();
        let e = sns.publish(SnsMessage::new(TOPIC, "")).await.unwrap_err();
        assert_eq!(e.code(), Some("InvalidParameter"));
        let e = sns
            .publish(SnsMessage::new(TOPIC, "x").with_subject("a\nb"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("InvalidParameter"));
        let fifo = "arn:aws:sns:us-east-1:123456789012:orders.fifo";
        assert!(sns.publish(SnsMessage::new(fifo, "x")).await.is_err());
        let r = sns
            .publish(SnsMessage::new(fifo, "x").with_group_id("g"))
            .await
            .unwrap();
        assert_eq!(sns.calls().len(), 4);
        assert_eq!(
            sns.published_with_ids(),
            [(r.message_id, SnsMessage::new(fifo, "x").with_group_id("g"))]
        );
        assert_eq!(sns.topics(), [fifo]);
    }

    #[tokio::test]
    async fn predicate_faults_and_distinct_ids() {
        let sns = LocalNotifier::new();
        sns.fail_when(
            |m| m.message.contains("poison"),
            Fault::permanent("KMSDisabled"),
        );
        let a = sns.publish(SnsMessage::new(TOPIC, "ok")).await.unwrap();
        let e = sns
            .publish(SnsMessage::new(TOPIC, "poison"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("KMSDisabled"));
        let b = sns.publish(SnsMessage::new(TOPIC, "ok2")).await.unwrap();
        assert_ne!(a.message_id, b.message_id);
        assert_eq!(
            sns.published_to(TOPIC)
                .into_iter()
                .map(|m| m.message)
                .collect::<Vec<_>>(),
            ["ok", "ok2"]
        );
        assert_eq!(sns.calls().iter().filter(|c| c.is_ok()).count(), 2);
        sns.clear();
        assert!(sns.published().is_empty() && sns.calls().is_empty());
    }
}
