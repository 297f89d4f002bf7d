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

/// The outcome of a batch: one [`RecordOutcome`] per input record, in input order.
///
/// [`App::process`](crate::App::process) returns it; [`Report::new`] builds
/// one for tests of code that reads reports (responses, alarms, metrics).
#[derive(Debug)]
#[non_exhaustive]
pub struct Report {
    /// The source of the batch.
    pub source: Source,
    /// The outcomes.
    pub outcomes: Vec<RecordOutcome>,
}

impl Report {
    /// The report of a batch from `source` whose records ended as `outcomes`
    /// (in input order).
    pub fn new(source: Source, outcomes: Vec<RecordOutcome>) -> Self {
        Self { source, outcomes }
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
        self.outcomes.len() - self.failed()
    }

    /// The number of records a retry layer attempted more than once.
    pub fn retried(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| o.meta.attempt() > 1)
            .count()
    }

    /// The number of records an idempotency layer answered from a stored
    /// result instead of running the handler again (duplicate deliveries).
    pub fn duplicates(&self) -> usize {
        self.outcomes.iter().filter(|o| o.meta.replayed()).count()
    }

    /// The number of unmatched records that were acknowledged.
    pub fn acknowledged(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o.status, Status::Acknowledged))
            .count()
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
        let mut c = Counts {
            records: self.outcomes.len(),
            ..Counts::default()
        };
        for o in &self.outcomes {
            match &o.status {
                Status::Done(_) => c.done += 1,
                Status::Acknowledged => {
                    c.done += 1;
                    c.acknowledged += 1;
                }
                Status::Failed(f) => {
                    c.failed += 1;
                    if f.retry.is_retryable() {
                        c.failed_retryable += 1;
                    } else {
                        c.failed_permanent += 1;
                    }
                    if !f.attempted {
                        if let Some(n) = f.error.downcast_ref::<NotStarted>() {
                            if n.is_deadline() {
                                c.not_started += 1;
                            }
                        }
                    }
                }
            }
            if o.meta.attempt() > 1 {
                c.retried += 1;
            }
            if o.meta.replayed() {
                c.duplicates += 1;
            }
            let l = o.meta.layer_counts();
            c.alarms_sent += l.alarms_sent as usize;
            c.alarm_failures += l.alarm_failures as usize;
            c.dead_lettered += l.dead_lettered as usize;
            c.dead_letter_failures += l.dead_letter_failures as usize;
        }
        c
    }

    /// The metrics handlers added with
    /// [`Metadata::add_metric`](crate::Metadata::add_metric), summed by
    /// name over the batch, in the order each name first appeared; a name
    /// keeps the first unit it was given.
    pub fn handler_metrics(&self) -> Vec<HandlerMetric> {
        let mut out: Vec<HandlerMetric> = Vec::new();
        for o in &self.outcomes {
            o.meta
                .each_handler_metric(|m| match out.iter_mut().find(|s| s.name == m.name) {
                    Some(sum) => sum.value += m.value,
                    None => out.push(m.clone()),
                });
        }
        out
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
