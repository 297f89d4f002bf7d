//! Domain events and the metadata that travels with them.
//!
//! Any `'static + Send + Sync` type is an event. An [`Envelope<E>`] carries the
//! event together with its [`Metadata`]: the record it came from, the source,
//! a correlation id, the tenant, the attempt number, a Step Functions task
//! token and the invocation deadline. Handlers and layers read metadata
//! directly, without downcasting.
//!
//! Cloning an envelope is cheap (the event sits behind an `Arc`), which is what
//! lets retries and fan-out hand the same event to several calls.
//!
//! Metadata also carries what the layers learn about the record while it is
//! processed (the highest attempt a retry layer started, whether an
//! idempotency layer replayed a stored result), so it reaches the layers
//! around them and the [`Report`](crate::app::Report) whatever runs the inner
//! calls: a spawned task, a buffer's worker, a channel.
//!
//! ```
//! use eventrail::{Envelope, Metadata, Source};
//!
//! #[derive(Debug)]
//! struct OrderCreated {
//!     order_id: String,
//! }
//!
//! let env = Envelope::new(
//!     OrderCreated { order_id: "42".into() },
//!     Metadata::new("msg-1", Source::Sqs).with_tenant("acme"),
//! );
//! assert_eq!(env.event().order_id, "42");
//! assert_eq!(env.meta().record_id(), "msg-1");
//! assert_eq!(env.meta().tenant(), Some("acme"));
//! assert_eq!(env.meta().attempt(), 1);
//! ```

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::time::Instant;

use crate::ports::{Clock, SystemClock};
use crate::unit::Unit;

mod stats;
mod typed;

pub use self::stats::HandlerMetric;
pub(crate) use self::stats::{LayerCounts, Stats};
pub use self::typed::{AnyEnvelope, Envelope};

/// The system clock, shared (no allocation per call).
pub(crate) fn system_clock() -> Arc<dyn Clock> {
    static SYSTEM: std::sync::LazyLock<Arc<dyn Clock>> =
        std::sync::LazyLock::new(|| Arc::new(SystemClock));
    Arc::clone(&SYSTEM)
}

/// How far from now a deadline can be and still be real.
///
/// Lambda runs a function for at most 15 minutes, so an invocation deadline
/// further away than this (either way) comes from a local emulator or a
/// broken clock, not from Lambda. The layers that read deadlines (timeout,
/// idempotency) and `eventrail-lambda`'s reading of `Lambda-Runtime-Deadline-Ms`
/// all use this one rule.
pub const MAX_PLAUSIBLE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(16 * 60);

/// The AWS service a record came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Source {
    /// Amazon SQS (including SNS and S3 notifications delivered through SQS).
    Sqs,
    /// Amazon SNS.
    Sns,
    /// Amazon S3 event notifications.
    S3,
    /// DynamoDB Streams.
    DynamoDb,
    /// Kinesis Data Streams.
    Kinesis,
    /// Amazon EventBridge.
    EventBridge,
    /// Apache Kafka: Amazon MSK or a self-managed cluster.
    Kafka,
    /// An Amazon S3 Batch Operations job invoking the function per task.
    S3Batch,
    /// An Amazon Data Firehose (Kinesis Data Firehose) transformation.
    Firehose,
    /// A Step Functions task invoking the function.
    StepFunctions,
    /// Created by application code (tests, direct dispatch).
    Direct,
}

impl Source {
    /// A short, stable name: `sqs`, `sns`, `s3`, `dynamodb`, `kinesis`,
    /// `eventbridge`, `kafka`, `s3batch`, `firehose`, `stepfunctions`, `direct`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Sqs => "sqs",
            Source::Sns => "sns",
            Source::S3 => "s3",
            Source::DynamoDb => "dynamodb",
            Source::Kinesis => "kinesis",
            Source::EventBridge => "eventbridge",
            Source::Kafka => "kafka",
            Source::S3Batch => "s3batch",
            Source::Firehose => "firehose",
            Source::StepFunctions => "stepfunctions",
            Source::Direct => "direct",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Metadata of one event: where it came from and how it is being processed.
///
/// Strings are reference counted, so cloning metadata costs a few counter
/// increments; clones share what the layers report about the record. See the
/// [module docs](self) for an example.
///
/// Each field has one way to set it: where the record came from (correlation
/// id, tenant, task token) is given when the metadata is built, with the
/// `with_*` methods; how it is being processed (attempt, deadline) changes in
/// flight, with [`set_attempt`](Self::set_attempt) and
/// [`set_deadline`](Self::set_deadline).
#[derive(Clone, Debug)]
pub struct Metadata {
    record_id: Arc<str>,
    source: Source,
    attempt: u32,
    /// What most records do not carry, behind one pointer, so metadata
    /// (moved and cloned at every step of a record) stays small.
    origin: Option<Arc<Origin>>,
    deadline: Option<Instant>,
    stats: Option<Arc<Stats>>,
}

/// The parts of [`Metadata`] set from where the record came from.
#[derive(Clone, Debug, Default)]
struct Origin {
    correlation_id: Option<Arc<str>>,
    tenant: Option<Arc<str>>,
    task_token: Option<Arc<str>>,
    key: Option<Arc<[u8]>>,
}

impl Metadata {
    /// Metadata for the record `record_id` from `source`, on its first attempt.
    ///
    /// The record id identifies the input record in a batch response: the SQS
    /// `messageId`, the DynamoDB or Kinesis sequence number, the S3 object key
    /// and sequencer, the SNS message id, the EventBridge event id.
    pub fn new(record_id: impl Into<Arc<str>>, source: Source) -> Self {
        Self {
            record_id: record_id.into(),
            source,
            attempt: 1,
            origin: None,
            deadline: None,
            stats: None,
        }
    }

    fn origin(&self) -> Option<&Origin> {
        self.origin.as_deref()
    }

    fn origin_mut(&mut self) -> &mut Origin {
        Arc::make_mut(self.origin.get_or_insert_with(Default::default))
    }

    /// Sets the correlation id.
    pub fn with_correlation_id(mut self, id: impl Into<Arc<str>>) -> Self {
        self.origin_mut().correlation_id = Some(id.into());
        self
    }

    /// Sets the tenant code.
    pub fn with_tenant(mut self, tenant: impl Into<Arc<str>>) -> Self {
        self.origin_mut().tenant = Some(tenant.into());
        self
    }

    /// Sets the Step Functions task token.
    pub fn with_task_token(mut self, token: impl Into<Arc<str>>) -> Self {
        self.origin_mut().task_token = Some(token.into());
        self
    }

    /// Sets the record's key (see [`Metadata::key`]).
    pub fn with_key(mut self, key: impl Into<Arc<[u8]>>) -> Self {
        self.origin_mut().key = Some(key.into());
        self
    }

    /// The key the record was sent with, as bytes: for a Kafka record the
    /// message key, base64-decoded as its value is (`None` when the message
    /// has no key); `None` for the other sources. See
    /// [`source::kafka`](crate::source::kafka).
    pub fn key(&self) -> Option<&[u8]> {
        self.origin()?.key.as_deref()
    }

    /// The id of the input record this event came from.
    pub fn record_id(&self) -> &str {
        &self.record_id
    }

    /// The source service.
    pub fn source(&self) -> Source {
        self.source
    }

    /// The correlation id; the record id when none was set.
    pub fn correlation_id(&self) -> &str {
        self.origin()
            .and_then(|o| o.correlation_id.as_deref())
            .unwrap_or(&self.record_id)
    }

    /// The tenant code, if the record carried one.
    pub fn tenant(&self) -> Option<&str> {
        self.origin()?.tenant.as_deref()
    }

    /// The attempt number, starting at 1. The retry layer increments it.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Sets the attempt number.
    pub fn set_attempt(&mut self, attempt: u32) {
        self.attempt = attempt;
    }

    /// The Step Functions task token, if the event came from a
    /// `.waitForTaskToken` task.
    pub fn task_token(&self) -> Option<&str> {
        self.origin()?.task_token.as_deref()
    }

    /// The invocation deadline, if known.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Sets or clears the invocation deadline. (The [`App`](crate::App) sets
    /// the invocation's on every envelope that has none.)
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// Sets the correlation id in place (the public way is
    /// [`with_correlation_id`](Self::with_correlation_id)).
    pub(crate) fn set_correlation_id(&mut self, id: impl Into<Arc<str>>) {
        self.origin_mut().correlation_id = Some(id.into());
    }

    /// Sets the tenant code in place (the public way is
    /// [`with_tenant`](Self::with_tenant)).
    pub(crate) fn set_tenant(&mut self, tenant: impl Into<Arc<str>>) {
        self.origin_mut().tenant = Some(tenant.into());
    }

    /// Whether a correlation id was set explicitly.
    pub fn has_correlation_id(&self) -> bool {
        self.origin().is_some_and(|o| o.correlation_id.is_some())
    }

    /// Whether an idempotency layer answered the record with a stored result
    /// instead of running the handler (a duplicate delivery).
    ///
    /// Read it on a [`RecordOutcome`](crate::app::RecordOutcome)'s metadata;
    /// [`Report::duplicates`](crate::app::Report::duplicates) counts them.
    pub fn replayed(&self) -> bool {
        self.stats.as_deref().is_some_and(Stats::replayed)
    }

    /// Starts a fresh record scope: reports of the layers this metadata (and
    /// its clones) passes through go to `root`.
    pub(crate) fn set_stats(&mut self, root: Arc<Stats>) {
        self.stats = Some(root);
    }

    /// A copy that carries no node for the layers' reports (one reference
    /// count fewer, for a layer that keeps the node itself).
    pub(crate) fn clone_without_stats(&self) -> Metadata {
        Metadata {
            record_id: Arc::clone(&self.record_id),
            source: self.source,
            attempt: self.attempt,
            origin: self.origin.clone(),
            deadline: self.deadline,
            stats: None,
        }
    }

    /// The node the layers' reports reach, as the app set it.
    pub(crate) fn stats_root(&self) -> Option<&Arc<Stats>> {
        self.stats.as_ref()
    }

    /// Whether the metadata carries a node for the layers' reports.
    #[cfg(test)]
    pub(crate) fn has_stats(&self) -> bool {
        self.stats.is_some()
    }

    /// Ends the record scope: the metadata no longer carries a node (the
    /// layers' reports are no longer kept, the clock is the system's).
    pub(crate) fn clear_stats(&mut self) {
        self.stats = None;
    }

    /// Opens a scope for the layers inside the caller: the metadata now
    /// carries a child of its current node (a root if it had none), which is
    /// returned for the caller to read once the inner call is done.
    pub(crate) fn enter_scope(&mut self) -> Arc<Stats> {
        let child = Stats::child_of(self.stats.take());
        self.stats = Some(Arc::clone(&child));
        child
    }

    /// Reports that attempt `attempt` started (retry layer).
    pub(crate) fn record_attempt(&self, attempt: u32) {
        if let Some(s) = &self.stats {
            s.each(|n| {
                n.attempts.fetch_max(attempt, Ordering::AcqRel);
            });
        }
    }

    /// Reports that the result is a replay of a stored one (idempotency layer).
    pub(crate) fn record_replay(&self) {
        if let Some(s) = &self.stats {
            s.each(|n| n.replayed.store(true, Ordering::Release));
        }
    }

    /// Reports an alarm the alarm layer published (`sent`) or failed to
    /// publish.
    pub(crate) fn record_alarm(&self, sent: bool) {
        if let Some(s) = &self.stats {
            s.each(|n| {
                let c = if sent {
                    &n.alarms_sent
                } else {
                    &n.alarm_failures
                };
                c.fetch_add(1, Ordering::AcqRel);
            });
        }
    }

    /// Reports a dead letter the dead-letter layer stored (`stored`) or
    /// failed to store.
    pub(crate) fn record_dead_letter(&self, stored: bool) {
        if let Some(s) = &self.stats {
            s.each(|n| {
                let c = if stored {
                    &n.dead_lettered
                } else {
                    &n.dead_letter_failures
                };
                c.fetch_add(1, Ordering::AcqRel);
            });
        }
    }

    /// The counts the alarm and dead-letter layers reported for the record.
    pub(crate) fn layer_counts(&self) -> LayerCounts {
        self.stats.as_deref().map(Stats::counts).unwrap_or_default()
    }

    /// Adds `value` to the metric `name` of the invocation's metrics line
    /// (see [`metrics`](crate::metrics)): values of one name are summed over
    /// every record of the invocation, and the first unit given for a name
    /// is the one published.
    ///
    /// Returns whether the value was kept: it is, for an envelope an
    /// [`App`](crate::App) dispatches (wherever the handler runs); it is not
    /// for metadata made by hand, e.g. in a handler's unit test.
    ///
    /// ```
    /// use eventrail::metrics::Unit;
    /// use eventrail::{Envelope, HandlerError};
    ///
    /// # #[derive(Debug)] struct Order { lines: u32 }
    /// async fn handle(order: Envelope<Order>) -> Result<(), HandlerError> {
    ///     order.meta().add_metric("OrderLines", f64::from(order.lines), Unit::Count);
    ///     Ok(())
    /// }
    /// ```
    pub fn add_metric(&self, name: impl Into<Arc<str>>, value: f64, unit: Unit) -> bool {
        let Some(s) = &self.stats else {
            return false;
        };
        s.root_node()
            .add_metric(HandlerMetric::new(name, value, unit));
        true
    }

    /// The wall clock for this record: the one its [`App`](crate::App) was
    /// built with ([`AppBuilder::clock`](crate::app::AppBuilder::clock); the
    /// testkit's `TestApp` sets its test clock), or the system clock.
    ///
    /// Layers that read wall time (idempotency expiry, alarm timestamps, dead
    /// letters' `failed_at`) use it unless they were given a clock of their
    /// own, so under a test app they follow the paused test clock. Handlers
    /// can use it the same way.
    pub fn clock(&self) -> Arc<dyn Clock> {
        match self
            .stats
            .as_deref()
            .and_then(|s| s.root_node().clock.as_ref())
        {
            Some(c) => Arc::clone(c),
            None => system_clock(),
        }
    }

    /// Hands the metrics handlers added for this record to `f`.
    pub(crate) fn each_handler_metric(&self, f: impl FnMut(&HandlerMetric)) {
        if let Some(s) = &self.stats {
            s.root_node().each_metric(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erase_and_recover() {
        let env = Envelope::new(7u32, Metadata::new("r1", Source::Direct));
        let any = AnyEnvelope::new(env);
        assert!(any.is::<u32>());
        assert_eq!(any.event_ref::<u32>(), Some(&7));
        let any = any.downcast::<String>().unwrap_err();
        let back = any.downcast::<u32>().unwrap();
        assert_eq!(*back.event(), 7);
        assert_eq!(back.meta().record_id(), "r1");
    }

    #[test]
    fn reports_reach_the_scope_and_its_ancestors_never_siblings() {
        let mut meta = Metadata::new("r1", Source::Direct);
        // Without a scope, reports go nowhere.
        meta.record_attempt(9);
        assert!(!meta.replayed());

        let root = Stats::root_with_clock(None);
        meta.set_stats(Arc::clone(&root));
        let mut outer = meta.clone();
        let outer_scope = outer.enter_scope();
        let mut inner = outer.clone();
        let inner_scope = inner.enter_scope();
        let mut sibling = meta.clone();
        let sibling_scope = sibling.enter_scope();

        // A clone (what a retry layer makes per attempt) shares the node.
        let attempt = inner.clone();
        attempt.record_attempt(3);
        attempt.record_attempt(2);
        inner.record_replay();

        assert_eq!(
            (
                root.attempts(),
                outer_scope.attempts(),
                inner_scope.attempts(),
                sibling_scope.attempts()
            ),
            (3, 3, 3, 0)
        );
        assert!(root.replayed() && outer_scope.replayed() && inner_scope.replayed());
        assert!(!sibling_scope.replayed() && !sibling.replayed());
        assert!(meta.replayed(), "the record's own metadata reads the root");
        assert_eq!(sibling_scope.attempts_for(&sibling), 1);
    }

    #[test]
    fn correlation_defaults_to_record_id() {
        let m = Metadata::new("r1", Source::Sqs);
        assert_eq!(m.correlation_id(), "r1");
        let m = m.with_correlation_id("c9");
        assert_eq!(m.correlation_id(), "c9");
    }
}
