//! What the layers of a record report about it (attempts, replays, alarms,
//! handler metrics), in a node that travels with the record's metadata.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::Metadata;
use crate::ports::Clock;
use crate::unit::Unit;

/// What the layers inside one scope reported about a record: the highest
/// attempt a retry layer started, and whether an idempotency layer replayed
/// a stored result.
///
/// The [`App`](crate::App) gives each record a root node. A layer that reads
/// what the layers inside it did (trace, alarm, task token, dead letter)
/// hands the envelope it passes inward a child of the current node and reads
/// that child afterwards; a report reaches the node its envelope carries and
/// every ancestor. Siblings (the handlers of a fan-out, two layers side by
/// side) never see each other's reports.
///
/// The node travels inside [`Metadata`], so it does not matter where the inner
/// calls run: a spawned task or a buffer's worker reports to the same node.
/// Writes happen before the inner call completes; whatever hands its result
/// back (a join handle, a channel) orders them before the outer layer's read.
pub(crate) struct Stats {
    pub(super) attempts: AtomicU32,
    pub(super) replayed: AtomicBool,
    pub(super) alarms_sent: AtomicU32,
    pub(super) alarm_failures: AtomicU32,
    pub(super) dead_lettered: AtomicU32,
    pub(super) dead_letter_failures: AtomicU32,
    /// Metrics handlers added ([`Metadata::add_metric`]); kept on the root.
    pub(super) metrics: Mutex<Vec<HandlerMetric>>,
    /// Set once a metric is added: most records add none, and a load
    /// tells them so without taking the lock (two atomic operations, as
    /// costly as the rest of a bare record's bookkeeping).
    pub(super) has_metrics: AtomicBool,
    /// The app's clock ([`Metadata::clock`]); kept on the root.
    pub(super) clock: Option<Arc<dyn Clock>>,
    pub(super) parent: Option<Arc<Stats>>,
}

impl Stats {
    /// A node with nothing reported and no parent: a record's root, whose
    /// envelopes read wall time from `clock` ([`Metadata::clock`]; `None`:
    /// the system clock).
    pub(crate) fn root_with_clock(clock: Option<Arc<dyn Clock>>) -> Arc<Self> {
        Self::node(None, clock)
    }

    pub(super) fn child_of(parent: Option<Arc<Stats>>) -> Arc<Self> {
        Self::node(parent, None)
    }

    pub(super) fn node(parent: Option<Arc<Stats>>, clock: Option<Arc<dyn Clock>>) -> Arc<Self> {
        Arc::new(Self {
            attempts: AtomicU32::new(0),
            replayed: AtomicBool::new(false),
            alarms_sent: AtomicU32::new(0),
            alarm_failures: AtomicU32::new(0),
            dead_lettered: AtomicU32::new(0),
            dead_letter_failures: AtomicU32::new(0),
            metrics: Mutex::new(Vec::new()),
            has_metrics: AtomicBool::new(false),
            clock,
            parent,
        })
    }

    pub(super) fn each(&self, mut f: impl FnMut(&Stats)) {
        let mut node = Some(self);
        while let Some(n) = node {
            f(n);
            node = n.parent.as_deref();
        }
    }

    /// The highest attempt number a retry layer in this scope started (0 for
    /// none).
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts.load(Ordering::Acquire)
    }

    /// The highest attempt seen in this scope, or `meta`'s own when no retry
    /// layer ran inside.
    pub(crate) fn attempts_for(&self, meta: &Metadata) -> u32 {
        self.attempts().max(meta.attempt())
    }

    /// Whether an idempotency layer in this scope replayed a stored result.
    pub(crate) fn replayed(&self) -> bool {
        self.replayed.load(Ordering::Acquire)
    }

    /// The counts the alarm and dead-letter layers in this scope reported.
    pub(crate) fn counts(&self) -> LayerCounts {
        LayerCounts {
            alarms_sent: self.alarms_sent.load(Ordering::Acquire),
            alarm_failures: self.alarm_failures.load(Ordering::Acquire),
            dead_lettered: self.dead_lettered.load(Ordering::Acquire),
            dead_letter_failures: self.dead_letter_failures.load(Ordering::Acquire),
        }
    }

    /// Hands the metrics handlers added to `f`, in the order they were added.
    pub(crate) fn each_metric(&self, f: impl FnMut(&HandlerMetric)) {
        if !self.has_metrics() {
            return;
        }
        let metrics = self.metrics.lock().unwrap_or_else(PoisonError::into_inner);
        metrics.iter().for_each(f);
    }

    /// Whether the layers reported nothing but attempts to this node: no
    /// replay, alarm, dead letter or metric.
    pub(crate) fn only_attempts(&self) -> bool {
        !self.replayed() && self.counts() == LayerCounts::default() && !self.has_metrics()
    }

    /// Whether a metric was added to this node. Set (release) after the
    /// metric is in the list, so a reader that sees it set and then locks
    /// finds the metric.
    fn has_metrics(&self) -> bool {
        self.has_metrics.load(Ordering::Acquire)
    }

    /// Adds a handler's metric to this node.
    pub(super) fn add_metric(&self, metric: HandlerMetric) {
        self.metrics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(metric);
        self.has_metrics.store(true, Ordering::Release);
    }

    pub(super) fn root_node(&self) -> &Stats {
        let mut node = self;
        while let Some(p) = node.parent.as_deref() {
            node = p;
        }
        node
    }
}

/// What the alarm and dead-letter layers reported about one record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LayerCounts {
    pub(crate) alarms_sent: u32,
    pub(crate) alarm_failures: u32,
    pub(crate) dead_lettered: u32,
    pub(crate) dead_letter_failures: u32,
}

/// One value a handler added to the invocation's metrics with
/// [`Metadata::add_metric`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct HandlerMetric {
    /// The metric name.
    pub name: Arc<str>,
    /// The value.
    pub value: f64,
    /// The unit.
    pub unit: Unit,
}

impl HandlerMetric {
    /// The value `value` of the metric `name`, in `unit`.
    pub fn new(name: impl Into<Arc<str>>, value: f64, unit: Unit) -> Self {
        Self {
            name: name.into(),
            value,
            unit,
        }
    }
}

impl fmt::Debug for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stats")
            .field("attempts", &self.attempts())
            .field("replayed", &self.replayed())
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}
