use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use super::message::{Alarm, Severity};
use crate::layers::util::rfc3339;
use crate::ports::{AttributeValue, Clock, Notifier, PortError, PublishReceipt, SnsMessage};

type Redactor = Arc<dyn Fn(&mut Alarm) + Send + Sync>;

/// Publishes [`Alarm`]s to an SNS topic through a [`Notifier`].
///
/// Used by the [`AlarmLayer`](super::AlarmLayer), and by handlers directly
/// through [`critical`](Self::critical), [`error`](Self::error),
/// [`warning`](Self::warning) and [`info`](Self::info). Cloning is cheap; clones
/// share the count of [failed publishes](Self::failed_publishes).
///
/// A publish that fails is logged at `ERROR` and counted, and its error is
/// returned to the caller; the layer never lets it replace the handler's own
/// error. See the [module docs](super) for an example.
#[derive(Clone)]
pub struct AlarmService {
    notifier: Arc<dyn Notifier>,
    topic_arn: Arc<str>,
    environment: Option<Arc<str>>,
    /// `None`: the system clock, or the envelope's when the alarm layer sends.
    clock: Option<Arc<dyn Clock>>,
    redactor: Option<Redactor>,
    failed: Arc<AtomicU64>,
}

impl fmt::Debug for AlarmService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlarmService")
            .field("notifier", &self.notifier)
            .field("topic_arn", &self.topic_arn)
            .field("environment", &self.environment)
            .field("clock", &self.clock)
            .field("redaction", &self.redactor.is_some())
            .field("failed_publishes", &self.failed_publishes())
            .finish()
    }
}

impl AlarmService {
    /// Publishes to `topic_arn` through `notifier`.
    pub fn new(notifier: Arc<dyn Notifier>, topic_arn: impl Into<Arc<str>>) -> Self {
        Self {
            notifier,
            topic_arn: topic_arn.into(),
            environment: None,
            clock: None,
            redactor: None,
            failed: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Sets the environment every alarm carries (`prod`, `staging`, ...).
    pub fn with_environment(mut self, env: impl Into<Arc<str>>) -> Self {
        self.environment = Some(env.into());
        self
    }

    /// Sets the clock that timestamps alarms (tests use a
    /// [`TokioClock`](crate::ports::TokioClock)). Without one, the
    /// [`AlarmLayer`](super::AlarmLayer) stamps its alarms with the envelope's
    /// [`Metadata::clock`](crate::Metadata::clock) (the app's), and the
    /// system clock stamps the others.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Sets a hook that edits every alarm before it is published, to keep
    /// payloads, e-mail addresses or other personal data out of alarms. It runs
    /// last, after the timestamp and environment are set, and the subject is
    /// made from what it leaves. See [`mask_emails`](super::mask_emails).
    pub fn with_redaction(mut self, hook: impl Fn(&mut Alarm) + Send + Sync + 'static) -> Self {
        self.redactor = Some(Arc::new(hook));
        self
    }

    /// Whether a clock was [set](Self::with_clock).
    pub(super) fn has_clock(&self) -> bool {
        self.clock.is_some()
    }

    /// The topic ARN.
    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    /// How many publishes failed since this service (or a clone) was created.
    pub fn failed_publishes(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Publishes `alarm`: fills in the timestamp and environment, applies the
    /// redaction hook, then publishes its JSON with a valid subject and a
    /// `severity` message attribute (for subscription filter policies).
    pub async fn send(&self, mut alarm: Alarm) -> Result<PublishReceipt, PortError> {
        if alarm.timestamp.is_empty() {
            alarm.timestamp = rfc3339(
                self.clock
                    .as_ref()
                    .map_or_else(SystemTime::now, |c| c.now()),
            );
        }
        if alarm.environment.is_none() {
            alarm.environment = self.environment.as_deref().map(str::to_owned);
        }
        if let Some(redact) = &self.redactor {
            redact(&mut alarm);
        }
        let body = match serde_json::to_string_pretty(&alarm) {
            Ok(b) => b,
            Err(e) => {
                // Only a redaction hook putting a non-string map key in
                // `details` can get here.
                self.failed.fetch_add(1, Ordering::Relaxed);
                return Err(PortError::permanent(format!(
                    "the alarm does not serialize: {e}"
                )));
            }
        };
        let msg = SnsMessage::new(&*self.topic_arn, body)
            .with_subject(alarm.subject())
            .with_attribute(
                "severity",
                AttributeValue::String(alarm.severity.as_str().to_owned()),
            );
        match self.notifier.publish(msg).await {
            Ok(receipt) => {
                tracing::info!(
                    severity = alarm.severity.as_str(),
                    source = %alarm.source,
                    message_id = %receipt.message_id,
                    "alarm published"
                );
                Ok(receipt)
            }
            Err(e) => {
                let failed = self.failed.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::error!(
                    severity = alarm.severity.as_str(),
                    source = %alarm.source,
                    error = %e,
                    failed_publishes = failed,
                    "could not publish an alarm"
                );
                Err(e)
            }
        }
    }

    /// Publishes a `CRITICAL` alarm, with the error if there is one.
    ///
    /// The alarm is built before the returned future runs, so the future
    /// does not hold `error` and is `Send`: a handler can await it.
    pub fn critical(
        &self,
        source: &str,
        message: &str,
        error: Option<&(dyn StdError + 'static)>,
    ) -> impl Future<Output = Result<PublishReceipt, PortError>> + Send + '_ {
        self.send(with_error(
            Alarm::new(Severity::Critical, source, message),
            error,
        ))
    }

    /// Publishes an `ERROR` alarm, with the error if there is one.
    ///
    /// The alarm is built before the returned future runs, so the future
    /// does not hold `error` and is `Send`: a handler can await it.
    pub fn error(
        &self,
        source: &str,
        message: &str,
        error: Option<&(dyn StdError + 'static)>,
    ) -> impl Future<Output = Result<PublishReceipt, PortError>> + Send + '_ {
        self.send(with_error(
            Alarm::new(Severity::Error, source, message),
            error,
        ))
    }

    /// Publishes a `WARNING` alarm, with details if there are some.
    pub async fn warning(
        &self,
        source: &str,
        message: &str,
        details: Option<serde_json::Value>,
    ) -> Result<PublishReceipt, PortError> {
        self.send(with_details(
            Alarm::new(Severity::Warning, source, message),
            details,
        ))
        .await
    }

    /// Publishes an `INFO` alarm, with details if there are some.
    pub async fn info(
        &self,
        source: &str,
        message: &str,
        details: Option<serde_json::Value>,
    ) -> Result<PublishReceipt, PortError> {
        self.send(with_details(
            Alarm::new(Severity::Info, source, message),
            details,
        ))
        .await
    }
}

fn with_error(alarm: Alarm, error: Option<&(dyn StdError + 'static)>) -> Alarm {
    match error {
        Some(e) => alarm.with_error(e),
        None => alarm,
    }
}

fn with_details(alarm: Alarm, details: Option<serde_json::Value>) -> Alarm {
    match details {
        Some(d) => alarm.with_details(d),
        None => alarm,
    }
}
