//! The local dead-letter sink.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;

use super::faults::{fault_methods, lock, CallLog, FaultPlan};
use crate::envelope::Source;
use crate::layers::{DeadLetter, DeadLetterSink};
use crate::ports::PortError;

/// A dead letter as a [`LocalDeadLetters`] keeps it: owned data.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredDeadLetter {
    /// The record id of the failed event.
    pub record_id: String,
    /// Where it came from.
    pub source: Source,
    /// The event, as its `Debug` text.
    pub event: String,
    /// The final error's message.
    pub error: String,
    /// How many attempts were made.
    pub attempts: u32,
    /// Whether a retry could help.
    pub retryable: bool,
    /// When it failed, by the layer's clock.
    pub failed_at: SystemTime,
}

/// A [`DeadLetterSink`] that keeps every dead letter in memory and logs it.
///
/// One sink serves every event type; clones share the letters. Every letter
/// is logged at `DEBUG` with its record id, error and attempts.
///
/// ```
/// use std::sync::Arc;
/// use eventrail::layers::{DeadLetterSink, ServiceBuilderExt};
/// use eventrail::local::LocalDeadLetters;
/// use eventrail::{handler_fn, Envelope, HandlerError, Metadata, Source};
/// use tower::{Service, ServiceBuilder, ServiceExt};
///
/// #[derive(Debug)]
/// struct Charge { order_id: u32 }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let letters = LocalDeadLetters::new();
/// let sink: Arc<dyn DeadLetterSink<Charge>> = Arc::new(letters.clone());
/// let mut svc = ServiceBuilder::new()
///     .dead_letter(sink)
///     .service(handler_fn(|_: Envelope<Charge>| async {
///         Err::<(), _>(HandlerError::permanent("card declined"))
///     }));
/// let env = Envelope::new(Charge { order_id: 7 }, Metadata::new("m-1", Source::Sqs));
/// assert!(svc.ready().await.unwrap().call(env).await.is_err());
///
/// let kept = &letters.letters()[0];
/// assert_eq!((kept.record_id.as_str(), kept.error.as_str()), ("m-1", "card declined"));
/// assert_eq!(kept.event, "Charge { order_id: 7 }");
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct LocalDeadLetters {
    inner: Arc<Mutex<Vec<StoredDeadLetter>>>,
    faults: FaultPlan<StoredDeadLetter>,
    calls: CallLog<StoredDeadLetter>,
}

impl LocalDeadLetters {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    history_constructors! {
        /// A sink that keeps no history: its call log is
        /// [discarding](CallLog::discarding) (calls are counted, none kept).
        /// The letters are kept as by [`new`](Self::new): they are what
        /// the sink stores.
    }

    fault_methods!(StoredDeadLetter, "letter");

    /// Every letter kept, in order.
    pub fn letters(&self) -> Vec<StoredDeadLetter> {
        lock(&self.inner).clone()
    }

    /// Forgets every letter and call (faults stay).
    pub fn clear(&self) {
        lock(&self.inner).clear();
        self.calls.clear();
    }
}

#[async_trait]
impl<E: fmt::Debug + Send + Sync + 'static> DeadLetterSink<E> for LocalDeadLetters {
    async fn store(&self, letter: DeadLetter<'_, E>) -> Result<(), PortError> {
        let meta = letter.envelope.meta();
        let stored = StoredDeadLetter {
            record_id: meta.record_id().to_owned(),
            source: meta.source(),
            event: format!("{:?}", letter.envelope.event()),
            error: letter.error.to_string(),
            attempts: letter.attempts,
            retryable: letter.retryable,
            failed_at: letter.failed_at,
        };
        let mut letters = lock(&self.inner);
        self.faults.run(&self.calls, stored, |s| {
            tracing::debug!(
                target: "eventrail::local",
                record_id = %s.record_id, error = %s.error, attempts = s.attempts,
                retryable = s.retryable, event = %s.event, "dead letter"
            );
            letters.push(s.clone());
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{Envelope, Metadata};
    use crate::local::Fault;

    #[derive(Debug)]
    struct Refund {
        order: u32,
    }

    fn letter<'a>(env: &'a Envelope<Refund>, error: &'a PortError) -> DeadLetter<'a, Refund> {
        DeadLetter {
            envelope: env,
            error,
            attempts: 3,
            retryable: true,
            failed_at: SystemTime::UNIX_EPOCH,
        }
    }

    #[tokio::test]
    async fn keeps_every_letter_and_fails_on_demand() {
        let sink = LocalDeadLetters::new();
        let env = Envelope::new(Refund { order: 9 }, Metadata::new("r-9", Source::Sqs));
        let error = PortError::retryable("ledger down").with_code("Unavailable");
        sink.store(letter(&env, &error)).await.unwrap();
        sink.fail_next(1, Fault::throttled());
        assert!(sink.store(letter(&env, &error)).await.is_err());

        let kept = sink.letters();
        assert_eq!(kept.len(), 1, "the failed store kept nothing");
        assert_eq!(kept[0].record_id, "r-9");
        assert_eq!(kept[0].source, Source::Sqs);
        assert_eq!(kept[0].event, format!("Refund {{ order: {} }}", env.order));
        assert_eq!(kept[0].error, "Unavailable: ledger down");
        assert_eq!((kept[0].attempts, kept[0].retryable), (3, true));
        assert_eq!(sink.calls().len(), 2);
        assert!(!sink.calls()[1].is_ok());
    }

    #[tokio::test]
    async fn the_bundle_shares_its_backends() {
        use crate::ports::SnsMessage;
        let local = crate::local::LocalBackends::new();
        local
            .notifier()
            .publish(SnsMessage::new("arn:aws:sns:us-east-1:1:t", "hi"))
            .await
            .unwrap();
        local
            .task_callbacks()
            .send_task_success("AQCEtok", "{}")
            .await
            .unwrap();
        assert_eq!(local.clone().sns().published()[0].message, "hi");
        assert_eq!(
            local.sfn().succeeded("AQCEtok"),
            Some(serde_json::json!({}))
        );
    }
}
