//! What became of a batch: one outcome per input record.

use super::*;

/// What became of one input record.
#[derive(Debug)]
#[non_exhaustive]
pub enum Status {
    /// Every event of the record was handled; the output of its handler(s)
    /// (`null` when the record produced no event, an array when it produced several).
    Done(Output),
    /// No route matched and the app acknowledges unmatched records.
    Acknowledged,
    /// The record failed.
    Failed(Failure),
}

/// Why a record failed.
#[derive(Debug)]
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

impl RecordOutcome {
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
#[derive(Debug)]
pub struct Report {
    /// The source of the batch.
    pub source: Source,
    /// The outcomes.
    pub outcomes: Vec<RecordOutcome>,
}

impl Report {
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
