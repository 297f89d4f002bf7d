//! The scheduler: how [`App::run`] starts records as slots free, keeps
//! the records of one order key in order, cancels what still runs at the
//! deadline margin, and gives one outcome per record, in input order.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use tokio::time::Instant;

use super::error::{DEADLINE, EARLIER_FAILURE};
use super::report::Tally;
use super::{
    App, Cancelled, Failure, HandlerPanic, Invocation, NotStarted, Outcomes, RecordOutcome, Status,
};
use crate::bus::{Dispatch, Output};
use crate::envelope::{AnyEnvelope, Metadata, Stats};
use crate::error::{classify, BoxError};
use crate::factory::{Envelopes, Routed};

impl App {
    /// Dispatches records an [`EventFactory`](crate::factory::EventFactory) produced.
    pub async fn run(&self, routed: Vec<Routed>, inv: &Invocation) -> Vec<RecordOutcome> {
        self.run_each(routed.into_iter(), inv, Outcomes::All)
            .await
            .0
    }

    /// Dispatches records as `records` hands them out: the outcomes `keep`
    /// selects, in input order, and with [`Outcomes::Failures`] the tally
    /// of every record.
    ///
    /// Records without an order key start as they come, as soon as a slot
    /// is free (a record is decoded only when it starts). From the first
    /// record with an order key on (or from the start when the app stops
    /// on the first failure), the records still running finish, and the
    /// rest of the batch is grouped by key and run in order.
    pub(crate) async fn run_each(
        &self,
        mut records: impl Iterator<Item = Routed> + Send,
        inv: &Invocation,
        keep: Outcomes,
    ) -> (Vec<RecordOutcome>, Option<Tally>) {
        let cfg = &self.inner.config;
        let mut outcomes = Kept::new(keep, records.size_hint().0);
        let mut running = FuturesUnordered::new();
        let mut ordered_from = None;
        let mut i = 0;
        // Each record starts as soon as a slot is free, whatever the
        // records before it are doing; outcomes go back in input order. A
        // record is polled once as it starts: one that finishes there (most
        // do) never takes a slot nor a task in the set.
        for r in records.by_ref() {
            if cfg.stop_on_first_failure || r.order_key().is_some() {
                ordered_from = Some(r);
                break;
            }
            // Records that wait move on as they are woken, as they did
            // in their own tasks; a full set waits for a free slot.
            if !running.is_empty() {
                while let Some(Some(done)) = running.next().now_or_never() {
                    outcomes.push(done);
                }
            }
            while !running.is_empty() && running.len() >= cfg.concurrency() {
                outcomes.extend(running.next().await);
            }
            // Records that finish at once never wait on anything: let
            // the runtime run other tasks now and then.
            tokio::task::consume_budget().await;
            match self.start_record(r, inv) {
                Start::Done(outcome) => outcomes.push((i, outcome)),
                Start::Running(record) => match poll_once(record).await {
                    Ok(outcome) => outcomes.push((i, outcome)),
                    Err(record) => running.push(async move { (i, record.finish().await) }),
                },
            }
            i += 1;
        }
        while let Some(done) = running.next().await {
            outcomes.push(done);
        }
        if let Some(first) = ordered_from {
            let rest = std::iter::once(first).chain(records);
            outcomes.extend(self.run_ordered(rest, i, inv).await);
        }
        outcomes.finish()
    }

    /// Runs `records` (the first at index `first`) grouped by order key, in
    /// first-appearance order; records without a key are groups of their
    /// own.
    async fn run_ordered(
        &self,
        records: impl Iterator<Item = Routed>,
        first: usize,
        inv: &Invocation,
    ) -> Vec<(usize, RecordOutcome)> {
        let cfg = &self.inner.config;
        let mut groups: Vec<Vec<(usize, Routed)>> = Vec::new();
        let mut by_key: HashMap<Arc<str>, usize> = HashMap::new();
        for (i, r) in (first..).zip(records) {
            let key: Option<Arc<str>> = if cfg.stop_on_first_failure {
                Some(Arc::from(""))
            } else {
                r.order_key().map(Arc::from)
            };
            match key {
                Some(k) => {
                    let g = *by_key.entry(k).or_insert_with(|| {
                        groups.push(Vec::new());
                        groups.len() - 1
                    });
                    groups[g].push((i, r));
                }
                None => groups.push(vec![(i, r)]),
            }
        }
        let results: Vec<Vec<(usize, RecordOutcome)>> = futures_util::stream::iter(groups)
            .map(|group| self.run_group(group, inv))
            .buffer_unordered(cfg.concurrency())
            .collect()
            .await;
        results.into_iter().flatten().collect()
    }

    async fn run_group(
        &self,
        group: Vec<(usize, Routed)>,
        inv: &Invocation,
    ) -> Vec<(usize, RecordOutcome)> {
        let mut out = Vec::with_capacity(group.len());
        let mut failed = false;
        for (i, r) in group {
            let outcome = if failed {
                let (meta, _, _) = r.into_parts();
                not_started(meta, EARLIER_FAILURE)
            } else {
                self.run_record(r, inv).await
            };
            failed |= outcome.is_failed();
            out.push((i, outcome));
        }
        out
    }

    /// Whether a record must not start: no more than the margin is left (so
    /// never with nothing left, even with a zero margin).
    fn deadline_too_close(&self, inv: &Invocation) -> bool {
        inv.deadline.is_some_and(|d| {
            d.saturating_duration_since(Instant::now()) <= self.inner.config.deadline_margin
        })
    }

    async fn run_record(&self, routed: Routed, inv: &Invocation) -> RecordOutcome {
        match self.start_record(routed, inv) {
            Start::Done(outcome) => outcome,
            Start::Running(record) => record.finish().await,
        }
    }

    /// Starts a record: its outcome if it ends before any handler runs,
    /// else its dispatch, not yet polled.
    fn start_record(&self, routed: Routed, inv: &Invocation) -> Start {
        let (meta, result) = routed.into_envelopes();
        let envelopes = match result {
            Ok(envs) => envs,
            Err(e)
                if e.is_no_route()
                    && self
                        .inner
                        .config
                        .acknowledge_unmatched
                        .covers(meta.source()) =>
            {
                tracing::warn!(
                    record_id = meta.record_id(),
                    source = %meta.source(),
                    "no route matched; acknowledged as configured"
                );
                return Start::Done(RecordOutcome {
                    meta,
                    status: Status::Acknowledged,
                });
            }
            Err(e) => return Start::Done(fail(meta, e.into(), false)),
        };
        if self.deadline_too_close(inv) {
            return Start::Done(not_started(meta, DEADLINE));
        }
        // What the record's layers report (attempts, replays) reaches the
        // outcome through this node, wherever the handlers run.
        let stats = Stats::root_with_clock(self.inner.config.clock.clone());
        let stamp = |mut env: AnyEnvelope| {
            let m = env.meta_mut();
            if m.deadline().is_none() {
                m.set_deadline(inv.deadline);
            }
            m.set_stats(Arc::clone(&stats));
            env
        };
        let bus = &self.inner.bus;
        let keep = inv.outputs;
        let work = match envelopes {
            Envelopes::One(one) => Work::One(bus.dispatch_with(stamp(one), keep)),
            Envelopes::Many(envs) => {
                let mut envs = envs.into_iter().map(stamp);
                match (envs.next(), envs.len()) {
                    (None, _) => Work::Nothing,
                    (Some(one), 0) => Work::One(bus.dispatch_with(one, keep)),
                    (Some(first), _) => {
                        let all: Vec<Dispatch> = std::iter::once(first)
                            .chain(envs)
                            .map(|e| bus.dispatch_with(e, keep))
                            .collect();
                        Work::Many(Box::pin(async move {
                            let results = futures_util::future::join_all(all).await;
                            let mut outputs = Vec::with_capacity(results.len());
                            for r in results {
                                outputs.push(r?);
                            }
                            Ok(keep.join(outputs))
                        }))
                    }
                }
            }
        };
        // Cancelled (dropped) when only the margin is left, so the
        // invocation answers in time whatever the handlers do.
        let cancel_at = self.cancel_at(inv);
        // The record's own metadata holds the node's last reference the app
        // keeps (every reference is two atomic operations on a record's path).
        let mut meta = meta;
        meta.set_stats(stats);
        Start::Running(Running {
            meta,
            work: AssertUnwindSafe(work).catch_unwind(),
            cancel_at,
            started: cancel_at.map(|_| Instant::now()),
        })
    }

    fn cancel_at(&self, inv: &Invocation) -> Option<Instant> {
        let d = inv.deadline?;
        Some(
            d.checked_sub(self.inner.config.deadline_margin)
                .unwrap_or(d),
        )
    }
}

/// How [`App::start_record`] left a record.
enum Start {
    /// It ended before any handler ran (malformed, unmatched, too late).
    Done(RecordOutcome),
    /// Its handlers are dispatched.
    Running(Running),
}

/// What a record's handlers do: nothing, one dispatch, or several at once.
enum Work {
    Nothing,
    One(Dispatch),
    Many(Pin<Box<dyn Future<Output = Result<Output, BoxError>> + Send>>),
}

impl Future for Work {
    type Output = Result<Output, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Work::Nothing => Poll::Ready(Ok(Output::null())),
            Work::One(d) => Pin::new(d).poll(cx),
            Work::Many(f) => f.as_mut().poll(cx),
        }
    }
}

/// A started record: its dispatch with panics caught, and what its outcome
/// needs.
struct Running {
    /// Carries the record's [`Stats`] root, which its envelopes report to.
    meta: Metadata,
    work: futures_util::future::CatchUnwind<AssertUnwindSafe<Work>>,
    cancel_at: Option<Instant>,
    started: Option<Instant>,
}

/// The outcome of `record` if one poll finishes it, or the record, to be
/// polled again.
async fn poll_once(mut record: Running) -> Result<RecordOutcome, Running> {
    let polled = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut record.work).poll(cx))).await;
    match polled {
        Poll::Ready(result) => Ok(record.outcome(Some(result))),
        Poll::Pending => Err(record),
    }
}

impl Running {
    /// Runs the record to its end (or its cancellation) and gives its outcome.
    async fn finish(mut self) -> RecordOutcome {
        let result = match self.cancel_at {
            Some(at) => tokio::time::timeout_at(at, &mut self.work).await.ok(),
            None => Some((&mut self.work).await),
        };
        self.outcome(result)
    }

    /// The outcome, from what the dispatch gave (`None`: cancelled).
    fn outcome(
        self,
        result: Option<Result<Result<Output, BoxError>, Box<dyn std::any::Any + Send>>>,
    ) -> RecordOutcome {
        let Running {
            mut meta,
            work,
            started,
            ..
        } = self;
        // Done with: whatever it still holds (the envelopes) goes now.
        drop(work);
        let (attempts, only_attempts) = meta.stats_root().map_or((0, false), |stats| {
            // Only when nothing else holds it (a handler's clone could
            // still write).
            let alone = Arc::strong_count(stats) == 1;
            (stats.attempts(), alone && stats.only_attempts())
        });
        if attempts > meta.attempt() {
            meta.set_attempt(attempts);
        }
        // Most records report nothing but attempts, now in the metadata:
        // their node goes, so a batch's outcomes do not keep one each.
        if only_attempts {
            meta.clear_stats();
        }
        match result {
            Some(Ok(Ok(output))) => RecordOutcome {
                meta,
                status: Status::Done(output),
            },
            Some(Ok(Err(e))) => fail(meta, e, true),
            Some(Err(panic)) => fail(meta, Box::new(HandlerPanic::from_payload(panic)), true),
            None => {
                let ran_for = started.map(|s| s.elapsed()).unwrap_or_default();
                fail(meta, Box::new(Cancelled { ran_for }), true)
            }
        }
    }
}

/// The outcomes a run keeps, each with its record's input index, and with
/// [`Outcomes::Failures`] the tally of every record.
struct Kept {
    outcomes: Vec<(usize, RecordOutcome)>,
    /// Every record's counts: `Some` when only failures are kept.
    tally: Option<Tally>,
}

impl Kept {
    fn new(keep: Outcomes, records: usize) -> Self {
        let (outcomes, tally) = match keep {
            // A record that succeeded is counted and dropped as it ends, so
            // a large batch does not hold its outcome until the batch ends.
            Outcomes::Failures => (Vec::new(), Some(Tally::default())),
            _ => (Vec::with_capacity(records), None),
        };
        Self { outcomes, tally }
    }

    fn push(&mut self, (i, outcome): (usize, RecordOutcome)) {
        if let Some(tally) = &mut self.tally {
            tally.add(&outcome);
            if !outcome.is_failed() {
                return;
            }
        }
        self.outcomes.push((i, outcome));
    }

    /// The kept outcomes in input order, and the tally.
    fn finish(self) -> (Vec<RecordOutcome>, Option<Tally>) {
        let Kept {
            outcomes: mut tagged,
            tally,
        } = self;
        // Records that finish as they start (most) come back in order already.
        if !tagged.is_sorted_by_key(|(i, _)| *i) {
            tagged.sort_unstable_by_key(|(i, _)| *i);
        }
        // Every record has one outcome: all kept, or all counted.
        debug_assert!(match &tally {
            None => tagged.iter().enumerate().all(|(k, (i, _))| k == *i),
            Some(t) => {
                tagged.windows(2).all(|w| w[0].0 < w[1].0)
                    && tagged.last().is_none_or(|(i, _)| *i < t.records())
            }
        });
        (tagged.into_iter().map(|(_, o)| o).collect(), tally)
    }
}

impl Extend<(usize, RecordOutcome)> for Kept {
    fn extend<I: IntoIterator<Item = (usize, RecordOutcome)>>(&mut self, iter: I) {
        for tagged in iter {
            self.push(tagged);
        }
    }
}

fn not_started(meta: Metadata, reason: &'static str) -> RecordOutcome {
    fail(meta, Box::new(NotStarted { reason }), false)
}

fn fail(meta: Metadata, error: BoxError, attempted: bool) -> RecordOutcome {
    let retry = classify(&*error);
    tracing::warn!(
        record_id = meta.record_id(),
        source = %meta.source(),
        retryable = retry.is_retryable(),
        attempted,
        error = %error,
        "record failed"
    );
    RecordOutcome {
        meta,
        status: Status::Failed(Failure {
            error,
            retry,
            attempted,
        }),
    }
}
