//! What became of a batch: one outcome per input record.

use super::*;
use crate::envelope::HandlerMetric;

/// What became of one input record.
#[derive(Debug)]
#[non_exhaustive]
pub enum Status {
    /// Every event of the record was handled; the output of its handler(s)
    /// (`null` when the record produced no event, an array when it produced
    /// several, and `null` whenever the invocation discards outputs: see
    /// [`Invocation::outputs`](crate::app::Invocation::outputs)).
    Done(Output),
    /// No route matched and the app acknowledges unmatched records.
    Acknowledged,
    /// The record failed.
    Failed(Failure),
}

/// Why a record failed.
///
/// Built by the [`App`](crate::App); [`Failure::new`] builds one for tests of
/// code that reads reports.
#[derive(Debug)]
#[non_exhaustive]
pub struct Failure {
    /// The error.
    pub error: BoxError,
    /// Whether a retry can help.
    pub retry: ErrorClass,
    /// Whether any handler ran (false for bad input, no route, or records not
    /// started because of the deadline or an earlier failure in their group).
    pub attempted: bool,
}

/// The outcome of one input record.
#[derive(Debug)]
#[non_exhaustive]
pub struct RecordOutcome {
    /// The record's metadata (id, source, ...). Its
    /// [`attempt`](Metadata::attempt) is the highest attempt a retry layer
    /// made for the record (1 when none retried), and
    /// [`replayed`](Metadata::replayed) says whether an idempotency layer
    /// answered it with a stored result.
    pub meta: Metadata,
    /// What became of it.
    pub status: Status,
}

impl Failure {
    /// A failure with `error`, classified as `retry`; `attempted` says
    /// whether a handler ran.
    pub fn new(error: impl Into<BoxError>, retry: ErrorClass, attempted: bool) -> Self {
        Self {
            error: error.into(),
            retry,
            attempted,
        }
    }
}

impl RecordOutcome {
    /// The outcome `status` of the record `meta` describes.
    pub fn new(meta: Metadata, status: Status) -> Self {
        Self { meta, status }
    }

    /// The record id.
    pub fn record_id(&self) -> &str {
        self.meta.record_id()
    }

    /// Whether the record failed.
    pub fn is_failed(&self) -> bool {
        matches!(self.status, Status::Failed(_))
    }
}

/// Which record outcomes a [`Report`] keeps, set with
/// [`Invocation::outcomes`](crate::app::Invocation::outcomes).
///
/// A batch whose answer is made of its failures alone (an SQS, SNS,
/// DynamoDB, Kinesis, Kafka, S3 notification or EventBridge invocation
/// answers with failed record ids at most) needs no outcome of a record that
/// succeeded: the Lambda adapter keeps only failures for those sources, so a
/// large batch does not hold one outcome per record until it ends. It keeps
/// every outcome for Step Functions, S3 Batch Operations and Firehose, whose
/// answers are made of them. Either way, the report's counts and metrics
/// cover every record.
///
/// ```
/// use eventrail::app::{Invocation, Outcomes};
/// use eventrail::source::RawEvent;
/// use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
///
/// #[derive(serde::Deserialize)]
/// struct Ping {
///     n: u32,
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let bus = Bus::builder()
///     .on(handler_fn(|e: Envelope<Ping>| async move {
///         match e.event().n {
///             0 => Err(HandlerError::permanent("zero")),
///             _ => Ok(()),
///         }
///     }))
///     .build();
/// let app = App::builder(Router::new().sqs("type", "PING").to::<Ping>(), bus)
///     .build()
///     .unwrap();
/// let payload = br#"{"Records": [
///     {"messageId": "m-0", "body": "{\"type\": \"PING\", \"n\": 0}", "eventSource": "aws:sqs"},
///     {"messageId": "m-1", "body": "{\"type\": \"PING\", \"n\": 1}", "eventSource": "aws:sqs"},
///     {"messageId": "m-2", "body": "{\"type\": \"PING\", \"n\": 2}", "eventSource": "aws:sqs"}
/// ]}"#;
/// let event = RawEvent::parse(payload).unwrap();
///
/// let all = app.process_raw(&event, &Invocation::new("r-1")).await;
/// assert_eq!(all.outcomes.len(), 3);
///
/// let inv = Invocation::new("r-2").with_outcomes(Outcomes::Failures);
/// let report = app.process_raw(&event, &inv).await;
/// assert_eq!(report.outcomes.len(), 1);
/// assert_eq!(report.outcomes[0].record_id(), "m-0");
/// assert_eq!((report.records(), report.done(), report.failed()), (3, 2, 1));
/// assert_eq!(report.counts(), all.counts());
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcomes {
    /// One outcome per input record. The default.
    #[default]
    All,
    /// The outcomes of failed records only; the others are counted (in
    /// [`Report::counts`] and [`Report::handler_metrics`]) as they end, and
    /// dropped.
    Failures,
}

/// The outcome of a batch: one [`RecordOutcome`] per input record, in input
/// order (or only the failed records' ones, see [`Outcomes`]).
///
/// [`App::process`](crate::App::process) returns it; [`Report::new`] builds
/// one for tests of code that reads reports (responses, alarms, metrics).
#[derive(Debug)]
#[non_exhaustive]
pub struct Report {
    /// The source of the batch.
    pub source: Source,
    /// The outcomes, in input order: one per input record, or only the
    /// failed records' ones when the invocation kept
    /// [`Outcomes::Failures`].
    pub outcomes: Vec<RecordOutcome>,
    /// Every record's counts and metrics, when `outcomes` holds only the
    /// failures.
    tally: Option<Tally>,
}

/// The counts and handler metrics of records, added as each ends.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    counts: Counts,
    metrics: Vec<HandlerMetric>,
}

impl Tally {
    pub(crate) fn add(&mut self, o: &RecordOutcome) {
        self.counts.add(o);
        add_metrics(&mut self.metrics, o);
    }

    /// The records counted.
    pub(crate) fn records(&self) -> usize {
        self.counts.records
    }
}

/// Adds the handler metrics of `o` to `sums`: summed by name, in the order
/// each name first appeared, a name keeping its first unit.
fn add_metrics(sums: &mut Vec<HandlerMetric>, o: &RecordOutcome) {
    o.meta
        .each_handler_metric(|m| match sums.iter_mut().find(|s| s.name == m.name) {
            Some(sum) => sum.value += m.value,
            None => sums.push(m.clone()),
        });
}

impl Report {
    /// The report of a batch from `source` whose records ended as `outcomes`
    /// (in input order).
    pub fn new(source: Source, outcomes: Vec<RecordOutcome>) -> Self {
        Self {
            source,
            outcomes,
            tally: None,
        }
    }

    /// A report whose `outcomes` are the failures, with every record's
    /// `tally`.
    pub(crate) fn tallied(
        source: Source,
        outcomes: Vec<RecordOutcome>,
        tally: Option<Tally>,
    ) -> Self {
        Self {
            source,
            outcomes,
            tally,
        }
    }

    /// The number of input records (`outcomes.len()` unless only failures
    /// were kept).
    pub fn records(&self) -> usize {
        self.tally
            .as_ref()
            .map_or(self.outcomes.len(), |t| t.counts.records)
    }

    /// Ids of the failed records, in input order.
    pub fn failed_ids(&self) -> impl Iterator<Item = &str> {
        self.outcomes
            .iter()
            .filter(|o| o.is_failed())
            .map(RecordOutcome::record_id)
    }

    /// The number of failed records.
    pub fn failed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.is_failed()).count()
    }

    /// The number of records done (acknowledged ones included).
    pub fn done(&self) -> usize {
        self.records() - self.failed()
    }

    /// The number of records a retry layer attempted more than once.
    pub fn retried(&self) -> usize {
        self.counts().retried
    }

    /// The number of records an idempotency layer answered from a stored
    /// result instead of running the handler again (duplicate deliveries).
    pub fn duplicates(&self) -> usize {
        self.counts().duplicates
    }

    /// The number of unmatched records that were acknowledged.
    pub fn acknowledged(&self) -> usize {
        self.counts().acknowledged
    }

    /// Every count of the batch, in one pass over the outcomes: what the
    /// invocation summary and the [metrics line](crate::metrics) publish.
    ///
    /// ```
    /// use eventrail::app::{Failure, RecordOutcome, Report, Status};
    /// use eventrail::error::ErrorClass;
    /// use eventrail::{Metadata, Source};
    ///
    /// let failed = |id: &str, retry| RecordOutcome::new(
    ///     Metadata::new(id, Source::Sqs),
    ///     Status::Failed(Failure::new("boom", retry, true)),
    /// );
    /// let report = Report::new(
    ///     Source::Sqs,
    ///     vec![
    ///         RecordOutcome::new(Metadata::new("a", Source::Sqs), Status::Acknowledged),
    ///         failed("b", ErrorClass::Retryable),
    ///         failed("c", ErrorClass::Permanent),
    ///     ],
    /// );
    /// let c = report.counts();
    /// assert_eq!((c.records, c.done, c.acknowledged), (3, 1, 1));
    /// assert_eq!((c.failed, c.failed_retryable, c.failed_permanent), (2, 1, 1));
    /// ```
    pub fn counts(&self) -> Counts {
        if let Some(t) = &self.tally {
            return t.counts;
        }
        let mut c = Counts::default();
        for o in &self.outcomes {
            c.add(o);
        }
        c
    }

    /// The metrics handlers added with
    /// [`Metadata::add_metric`](crate::Metadata::add_metric), summed by
    /// name over the batch, in the order each name first appeared (in the
    /// order records ended, when only failures were kept); a name keeps the
    /// first unit it was given.
    pub fn handler_metrics(&self) -> Vec<HandlerMetric> {
        if let Some(t) = &self.tally {
            return t.metrics.clone();
        }
        let mut out: Vec<HandlerMetric> = Vec::new();
        for o in &self.outcomes {
            add_metrics(&mut out, o);
        }
        out
    }
}

impl Counts {
    /// Counts the outcome `o` of one more record.
    fn add(&mut self, o: &RecordOutcome) {
        self.records += 1;
        match &o.status {
            Status::Done(_) => self.done += 1,
            Status::Acknowledged => {
                self.done += 1;
                self.acknowledged += 1;
            }
            Status::Failed(f) => {
                self.failed += 1;
                if f.retry.is_retryable() {
                    self.failed_retryable += 1;
                } else {
                    self.failed_permanent += 1;
                }
                if !f.attempted {
                    if let Some(n) = f.error.downcast_ref::<NotStarted>() {
                        if n.is_deadline() {
                            self.not_started += 1;
                        }
                    }
                }
            }
        }
        if o.meta.attempt() > 1 {
            self.retried += 1;
        }
        if o.meta.replayed() {
            self.duplicates += 1;
        }
        let l = o.meta.layer_counts();
        self.alarms_sent += l.alarms_sent as usize;
        self.alarm_failures += l.alarm_failures as usize;
        self.dead_lettered += l.dead_lettered as usize;
        self.dead_letter_failures += l.dead_letter_failures as usize;
    }
}

/// The counts of one batch; see [`Report::counts`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counts {
    /// Input records.
    pub records: usize,
    /// Records done, acknowledged unmatched ones included.
    pub done: usize,
    /// Unmatched records acknowledged as configured.
    pub acknowledged: usize,
    /// Records failed.
    pub failed: usize,
    /// Failed records a retry can help (the source delivers them again).
    pub failed_retryable: usize,
    /// Failed records no retry can help.
    pub failed_permanent: usize,
    /// Failed records that were not started because the invocation deadline
    /// was too close (counted in `failed_retryable` too).
    pub not_started: usize,
    /// Records a retry layer attempted more than once.
    pub retried: usize,
    /// Records an idempotency layer answered from a stored result.
    pub duplicates: usize,
    /// Alarms the alarm layers published.
    pub alarms_sent: usize,
    /// Alarms the alarm layers failed to publish.
    pub alarm_failures: usize,
    /// Failed events the dead-letter layers stored.
    pub dead_lettered: usize,
    /// Failed events the dead-letter layers failed to store.
    pub dead_letter_failures: usize,
}

impl From<RecordError> for Failure {
    fn from(e: RecordError) -> Self {
        Failure {
            retry: e.retry(),
            error: Box::new(e),
            attempted: false,
        }
    }
}
