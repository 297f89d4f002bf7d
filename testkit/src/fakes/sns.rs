//! The SNS fake: eventrail's local notifier, and the events subscribers get.

use std::ops::Deref;

use async_trait::async_trait;
use eventrail::local::LocalNotifier;
use eventrail::ports::{Notifier, PortError, PublishReceipt, SnsMessage};

use crate::events::sns as sns_events;

/// An in-memory SNS: every published message, queryable per topic.
///
/// It is a [`LocalNotifier`] (it dereferences to one: `published_to`,
/// `fail_next`, `calls`... are its methods), which validates what SNS
/// validates with SNS's `InvalidParameter` and hands out deterministic
/// message ids; the fake adds [`notifications`](Self::notifications), the
/// published messages as the event a subscriber receives. See the
/// [module docs](super) for an example.
#[derive(Clone, Debug, Default)]
pub struct FakeSns {
    local: LocalNotifier,
}

impl FakeSns {
    /// An empty fake.
    pub fn new() -> Self {
        Self::default()
    }

    /// The local notifier this fake is.
    pub fn local(&self) -> &LocalNotifier {
        &self.local
    }

    /// The messages published to `topic_arn`, as the SNS event a subscribed
    /// Lambda function receives (use `.to_sqs()` on it for a subscribed
    /// queue), so a test can push them through the next handler.
    pub fn notifications(&self, topic_arn: &str) -> sns_events::Batch {
        sns_events::batch(
            self.local
                .published_with_ids()
                .iter()
                .filter(|(_, m)| m.topic_arn == topic_arn)
                .map(|(id, m)| sns_events::Notification::from_message(m, id)),
        )
    }
}

impl Deref for FakeSns {
    type Target = LocalNotifier;

    fn deref(&self) -> &LocalNotifier {
        &self.local
    }
}

#[async_trait]
impl Notifier for FakeSns {
    async fn publish(&self, msg: SnsMessage) -> Result<PublishReceipt, PortError> {
        self.local.publish(msg).await
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
