//! A batch's failures in one alarm: see [`BatchAlarm`].

use std::sync::Arc;

use serde_json::json;

use super::{Report, Status};
use crate::layers::alarm::{Alarm, AlarmService, Severity};
use crate::layers::idempotency::is_in_progress_elsewhere;
use crate::layers::util::truncate_chars;
use crate::ports::PortError;

/// Publishes one `WARNING` alarm summarising the failed records of a batch.
///
/// Call [`publish`](Self::publish) with the [`Report`] of each batch: nothing
/// is sent when every record succeeded. The alarm's details hold the batch's
/// source, the counts, and for each failed record (up to
/// [`max_listed`](Self::max_listed)) its id, whether a retry can help,
/// whether a handler ran, and the error message.
///
/// ```
/// # use std::sync::{Arc, Mutex};
/// # use eventrail::ports::{Notifier, PortError, PublishReceipt, SnsMessage};
/// # #[derive(Debug, Default)] struct Topic(Mutex<Vec<SnsMessage>>);
/// # #[eventrail::async_trait] impl Notifier for Topic {
/// #     async fn publish(&self, m: SnsMessage) -> Result<PublishReceipt, PortError> {
/// #         self.0.lock().unwrap().push(m); Ok(PublishReceipt { message_id: "1".into() })
/// #     }
/// # }
/// use eventrail::app::{Invocation, SourceEvent};
/// use eventrail::app::BatchAlarm;
/// use eventrail::layers::AlarmService;
/// use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
///
/// #[derive(Debug, serde::Deserialize)]
/// struct Ping { n: u32 }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let topic = Arc::new(Topic::default());
/// let batch_alarm = BatchAlarm::new(AlarmService::new(topic.clone(), "arn:aws:sns:us-east-1:1:alarms"), "PingConsumer");
/// let app = App::builder(
///     Router::new().sqs("type", "PING").to::<Ping>(),
///     Bus::builder().on(handler_fn(|p: Envelope<Ping>| async move {
///         if p.n == 0 { Err(HandlerError::permanent("zero")) } else { Ok(p.n) }
///     })).build(),
/// ).build().unwrap();
///
/// let batch: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_str(r#"{"Records": [
///     {"messageId": "a", "body": "{\"type\":\"PING\",\"n\":1}"},
///     {"messageId": "b", "body": "{\"type\":\"PING\",\"n\":0}"}
/// ]}"#).unwrap();
/// let report = app.process(SourceEvent::Sqs(batch), &Invocation::default()).await;
/// assert!(batch_alarm.publish(&report).await.unwrap());
/// let sent = topic.0.lock().unwrap();
/// assert_eq!(sent[0].subject.as_deref(), Some("[WARNING] PingConsumer: 1 of 2 records failed"));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct BatchAlarm {
    alarms: AlarmService,
    source: Arc<str>,
    max_listed: usize,
}

impl BatchAlarm {
    /// Publishes through `alarms`, naming `source` as the alarm's origin.
    pub fn new(alarms: AlarmService, source: impl Into<Arc<str>>) -> Self {
        Self {
            alarms,
            source: source.into(),
            max_listed: 50,
        }
    }

    /// Lists at most `n` failed records in the details (default 50); the
    /// count is always complete.
    pub fn max_listed(mut self, n: usize) -> Self {
        self.max_listed = n;
        self
    }

    /// The alarm for `report`, or `None` when no record failed.
    ///
    /// A duplicate delivery that failed only because its first delivery
    /// still runs ([`is_in_progress_elsewhere`]) is not counted as a failure
    /// here: the source delivers it again, and the first delivery reports
    /// the outcome. The details count such records as `inProgressElsewhere`;
    /// a batch whose only failures are those raises no alarm.
    pub fn alarm_for(&self, report: &Report) -> Option<Alarm> {
        let failures = || {
            report.outcomes.iter().filter_map(|o| match &o.status {
                Status::Failed(f) => Some((o, f)),
                _ => None,
            })
        };
        let in_progress = failures()
            .filter(|(_, f)| is_in_progress_elsewhere(&*f.error))
            .count();
        let failed = report.failed() - in_progress;
        if failed == 0 {
            return None;
        }
        let total = report.records();
        let records: Vec<_> = failures()
            .filter(|(_, f)| !is_in_progress_elsewhere(&*f.error))
            .map(|(o, f)| {
                json!({
                    "recordId": o.record_id(),
                    "retryable": f.retry.is_retryable(),
                    "attempted": f.attempted,
                    "error": truncate_chars(&f.error.to_string(), 1024),
                })
            })
            .take(self.max_listed)
            .collect();
        let listed = records.len();
        Some(
            Alarm::new(
                Severity::Warning,
                &*self.source,
                format!("{failed} of {total} records failed"),
            )
            .with_details(json!({
                "source": report.source.as_str(),
                "total": total,
                "failed": failed,
                "succeeded": total - failed - in_progress,
                "inProgressElsewhere": in_progress,
                "failedRecords": records,
                "unlisted": failed - listed,
            })),
        )
    }

    /// Publishes the summary of `report` if any record failed. Returns
    /// whether an alarm was published.
    pub async fn publish(&self, report: &Report) -> Result<bool, PortError> {
        match self.alarm_for(report) {
            Some(alarm) => self.alarms.send(alarm).await.map(|_| true),
            None => Ok(false),
        }
    }
}
