//! The application: a factory (or router) and a bus, processing whole batches.
//!
//! [`App::process`] takes one raw event of any source, turns it into envelopes
//! with the factory, dispatches them on the bus and returns a [`Report`] with
//! one [`RecordOutcome`] per input record, in input order. It is the path the
//! Lambda adapter and the testkit both drive.
//!
//! The rules it keeps:
//! - every input record ends as done or failed, never silently dropped; a
//!   record no route matches is a failure unless its source is acknowledged
//!   ([`acknowledge_unmatched_from`](AppBuilder::acknowledge_unmatched_from),
//!   or [`acknowledge_unmatched`](AppBuilder::acknowledge_unmatched) for every
//!   source), and is logged either way;
//! - one bad record fails only itself, a handler's panic included;
//! - records with an order key (FIFO message group, stream shard) run in order,
//!   and after a failure the rest of that key is not started; others run
//!   concurrently, at most [`concurrency`](AppBuilder::concurrency) at a time,
//!   each starting as soon as a slot is free (a slow record holds only its
//!   own slot);
//! - when the [margin](AppBuilder::deadline_margin) or less is left before the
//!   invocation deadline, records not yet started are not started and are
//!   reported failed, so the source redelivers them; a record never starts
//!   with no time left. Records still running when the margin is reached
//!   are cancelled and reported failed ([`Cancelled`], retryable), so the
//!   invocation answers before the deadline even without a timeout layer.
//!
//! ```
//! use eventrail::app::{Invocation, SourceEvent};
//! use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
//! use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
//!
//! #[derive(Debug, serde::Deserialize)]
//! struct Notification { recipient: String }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let app = App::builder(
//!     Router::new().sqs("type", "NOTIFICATION").to::<Notification>(),
//!     Bus::builder()
//!         .on(handler_fn(|n: Envelope<Notification>| async move {
//!             Ok::<_, HandlerError>(format!("mailed {}", n.recipient))
//!         }))
//!         .build(),
//! )
//! .build()
//! .unwrap();
//!
//! let mut batch = SqsEvent::default();
//! for (id, body) in [("ok", r#"{"type":"NOTIFICATION","recipient":"a@example.com"}"#), ("bad", "{not json")] {
//!     let mut m = SqsMessage::default();
//!     m.message_id = Some(id.into());
//!     m.body = Some(body.into());
//!     batch.records.push(m);
//! }
//!
//! let report = app.process(SourceEvent::Sqs(batch), &Invocation::default()).await;
//! assert_eq!(report.failed_ids().collect::<Vec<_>>(), ["bad"]);
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use tokio::time::Instant;

use crate::bus::{Bus, Dispatch, Output};
use crate::envelope::{AnyEnvelope, Metadata, Source, Stats};
use crate::error::{classify, BoxError, Classify, ErrorClass, RecordError};
use crate::factory::{one_per_record, EventFactory, InputRecords, Routed, StepFunctionInput};
use crate::ports::Clock;
use crate::routes::{short_type_name, RouteRow, RouteTable};
use crate::source::firehose::{self, FirehoseEvent};
use crate::source::kafka::{self, KafkaBatch};
use crate::source::s3_batch::{self, S3BatchEvent};
use crate::source::{dynamodb, eventbridge, kinesis, s3, sns, sqs, step_functions, RawEvent};

mod batch_alarm;
mod build_error;
mod error;
mod event;
mod report;

pub use self::batch_alarm::BatchAlarm;
pub use self::build_error::BuildError;
pub use self::error::{Cancelled, NotStarted};
use self::error::{DEADLINE, EARLIER_FAILURE};
pub use self::event::{Invocation, SourceEvent};
pub use self::report::{Counts, Failure, RecordOutcome, Report, Status};
pub use crate::envelope::MAX_PLAUSIBLE_DEADLINE;
pub use crate::error::HandlerPanic;

/// Whose unmatched records are acknowledged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum Acknowledge {
    /// Nobody's: an unmatched record fails.
    #[default]
    None,
    /// Those of these sources.
    Sources(Vec<Source>),
    /// Every source's.
    All,
}

impl Acknowledge {
    fn covers(&self, source: Source) -> bool {
        match self {
            Acknowledge::None => false,
            Acknowledge::Sources(s) => s.contains(&source),
            Acknowledge::All => true,
        }
    }
}

#[derive(Clone, Debug)]
struct Config {
    acknowledge_unmatched: Acknowledge,
    concurrency: usize,
    deadline_margin: Duration,
    stop_on_first_failure: bool,
    clock: Option<Arc<dyn Clock>>,
}

/// Builds an [`App`]. See [`App::builder`].
#[derive(Debug)]
pub struct AppBuilder {
    factory: Arc<dyn EventFactory>,
    bus: Bus,
    config: Config,
}

impl AppBuilder {
    /// Acknowledge records no route matches instead of failing them, from
    /// every source (`true`) or from none (`false`, the default; this also
    /// undoes [`acknowledge_unmatched_from`](Self::acknowledge_unmatched_from)).
    /// They are still logged (at WARN) and counted in the [`Report`].
    ///
    /// Prefer naming the sources: an app that reads a single-table stream
    /// and a queue usually wants the stream's other item types acknowledged
    /// but a queue message no route knows reported.
    pub fn acknowledge_unmatched(mut self, yes: bool) -> Self {
        self.config.acknowledge_unmatched = if yes {
            Acknowledge::All
        } else {
            Acknowledge::None
        };
        self
    }

    /// Acknowledge records of `source` that no route matches, instead of
    /// failing them; call it once per source. Unmatched records of other
    /// sources still fail. Acknowledged records are logged (at WARN) and
    /// counted in the [`Report`] ([`Report::acknowledged`]).
    ///
    /// The source is the one that invoked the function: an SNS notification
    /// or an S3 notification delivered through SQS is an [`Source::Sqs`]
    /// record. Bad input (a record a route matched but could not read) is
    /// never acknowledged.
    ///
    /// On a single-table DynamoDB stream, where every item type passes
    /// through the stream, this keeps the items no route names from holding
    /// the shard's checkpoint; to handle them instead, end the routes with
    /// [`Router::dynamodb_all`](crate::Router::dynamodb_all).
    ///
    /// ```
    /// use eventrail::app::{Invocation, SourceEvent, Status};
    /// use eventrail::dynamodb::DataChange;
    /// use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router, Source};
    ///
    /// #[derive(Debug, serde::Deserialize)]
    /// struct Order { pk: String }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let app = App::builder(
    ///     Router::new().dynamodb("ORDER#").to::<Order>(),
    ///     Bus::builder()
    ///         .on(handler_fn(|_: Envelope<DataChange<Order>>| async { Ok::<_, HandlerError>(()) }))
    ///         .build(),
    /// )
    /// .acknowledge_unmatched_from(Source::DynamoDb)
    /// .build()
    /// .unwrap();
    ///
    /// let stream = serde_json::from_value(serde_json::json!({"Records": [
    ///     {"eventID": "1", "eventName": "INSERT", "eventVersion": "1.1",
    ///      "eventSource": "aws:dynamodb", "awsRegion": "eu-west-1",
    ///      "eventSourceARN": "arn:aws:dynamodb:eu-west-1:111122223333:table/shop/stream/2026-11-01T00:00:00.000",
    ///      "dynamodb": {"Keys": {"pk": {"S": "CUSTOMER#7"}, "sk": {"S": "PROFILE"}},
    ///                   "SequenceNumber": "100", "SizeBytes": 60,
    ///                   "StreamViewType": "NEW_AND_OLD_IMAGES"}}
    /// ]})).unwrap();
    /// let report = app.process(SourceEvent::DynamoDb(stream), &Invocation::default()).await;
    /// assert!(matches!(report.outcomes[0].status, Status::Acknowledged));
    /// # }
    /// ```
    pub fn acknowledge_unmatched_from(mut self, source: Source) -> Self {
        match &mut self.config.acknowledge_unmatched {
            Acknowledge::All => {}
            Acknowledge::Sources(sources) => {
                if !sources.contains(&source) {
                    sources.push(source);
                }
            }
            none @ Acknowledge::None => *none = Acknowledge::Sources(vec![source]),
        }
        self
    }

    /// How many records (or ordered groups) run at once; the next one starts
    /// as soon as any of them finishes. Default: 4 per CPU.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.config.concurrency = n.max(1);
        self
    }

    /// Records are not started when this or less is left before the
    /// deadline (with a zero margin, a record still never starts with no
    /// time left), and records still running then are cancelled
    /// ([`Cancelled`]): the margin is the time left to answer. Default: 500 ms.
    pub fn deadline_margin(mut self, margin: Duration) -> Self {
        self.config.deadline_margin = margin;
        self
    }

    /// Stop the whole batch at its first failure: records after it are
    /// reported failed without being started. Default: off (only the failed
    /// record's ordered group stops).
    pub fn stop_on_first_failure(mut self, yes: bool) -> Self {
        self.config.stop_on_first_failure = yes;
        self
    }

    /// The wall clock every record's envelopes carry
    /// ([`Metadata::clock`]): layers without a clock of their own read it
    /// (idempotency expiry, alarm timestamps, dead letters). Default: the
    /// system clock. Tests pass a [`TokioClock`](crate::ports::TokioClock),
    /// which follows tokio's paused clock; the testkit's `TestApp` does it for you.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.config.clock = Some(clock);
        self
    }

    /// Checks the routes and builds the app.
    ///
    /// Fails when two routes can never be told apart, or a route produces an
    /// event type no handler is registered for.
    pub fn build(self) -> Result<App, BuildError> {
        self.factory.check_routes().map_err(BuildError::Conflict)?;
        for r in self.factory.routes() {
            if !self.bus.handles(r.event_type_id) {
                return Err(BuildError::no_handler(r, &self.bus));
            }
        }
        Ok(App {
            inner: Arc::new(Inner {
                factory: self.factory,
                bus: self.bus,
                config: self.config,
            }),
        })
    }
}

struct Inner {
    factory: Arc<dyn EventFactory>,
    bus: Bus,
    config: Config,
}

/// A factory and a bus, processing batches. See the [module docs](self).
///
/// Cloning is cheap.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("factory", &self.inner.factory)
            .field("bus", &self.inner.bus)
            .field("config", &self.inner.config)
            .finish()
    }
}

fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()) * 4
}

impl App {
    /// Starts an app from a router or factory and a bus.
    pub fn builder(factory: impl EventFactory, bus: Bus) -> AppBuilder {
        crate::error::register::<NotStarted>();
        crate::error::register::<Cancelled>();
        AppBuilder {
            factory: Arc::new(factory),
            bus,
            config: Config {
                acknowledge_unmatched: Acknowledge::None,
                concurrency: default_concurrency(),
                deadline_margin: Duration::from_millis(500),
                stop_on_first_failure: false,
                clock: None,
            },
        }
    }

    /// The bus.
    pub fn bus(&self) -> &Bus {
        &self.inner.bus
    }

    /// The factory.
    pub fn factory(&self) -> &dyn EventFactory {
        &*self.inner.factory
    }

    /// The route table: source → matcher → event type → handlers. Event
    /// types with handlers that no declared route produces are listed with
    /// source `-` (a hand-written factory produces them).
    pub fn routes(&self) -> RouteTable {
        let bus = &self.inner.bus;
        let routes = self.inner.factory.routes();
        let mut rows: Vec<RouteRow> = routes
            .iter()
            .map(|r| RouteRow {
                source: Some(r.source),
                matcher: r.matcher.clone(),
                event_type: short_type_name(r.event_type),
                handlers: bus.handler_names(r.event_type_id),
            })
            .collect();
        for (id, name) in bus.event_types() {
            if !routes.iter().any(|r| r.event_type_id == id) {
                rows.push(RouteRow {
                    source: None,
                    matcher: "(factory)".into(),
                    event_type: short_type_name(name),
                    handlers: bus.handler_names(id),
                });
            }
        }
        RouteTable::new(rows)
    }

    /// Transforms one raw event with the factory: one [`Routed`] per input
    /// record, in input order, always.
    ///
    /// The factory's outputs are matched to the input records by record id
    /// ([`SourceEvent::record_ids`]). When the factory keeps its contract
    /// (one output per record, in input order), that is one comparison per
    /// record. When it does not, every input record that is not matched one-to-one
    /// with an output (none has its id, or several do) fails, retryably,
    /// with [`RecordError::no_output`](crate::error::RecordError::no_output):
    /// it did not run, and the source delivers it again. Outputs that match
    /// no record one-to-one are dropped without running, and logged at ERROR.
    pub fn transform(&self, event: SourceEvent) -> Vec<Routed> {
        let source = event.source();
        let inputs = event.inputs();
        let f = &self.inner.factory;
        let outputs = match event {
            SourceEvent::Sqs(e) => f.transform_sqs(e),
            SourceEvent::Sns(e) => f.transform_sns(e),
            SourceEvent::S3(e) => f.transform_s3(e),
            SourceEvent::DynamoDb(e) => f.transform_dynamodb_stream(e),
            SourceEvent::Kinesis(e) => f.transform_kinesis(e),
            SourceEvent::EventBridge(e) => f.transform_eventbridge(e),
            SourceEvent::Kafka(b) => f.transform_kafka(b),
            SourceEvent::S3Batch(e) => f.transform_s3_batch(e),
            SourceEvent::Firehose(e) => f.transform_firehose(e),
            SourceEvent::StepFunction(e) => f.transform_step_function(e),
        }
        .into_vec();
        one_per_record(source, &inputs, outputs)
    }

    /// Processes one raw event: transform, dispatch, one outcome per record.
    /// See the [module docs](self).
    pub async fn process(&self, event: SourceEvent, inv: &Invocation) -> Report {
        let source = event.source();
        let routed = self.transform(event);
        let outcomes = self.run(routed, inv).await;
        Report { source, outcomes }
    }

    /// Processes the records of a raw payload (see [`RawEvent`]), the path
    /// the Lambda adapter takes: each record is decoded once, by the
    /// factory's [`transform_raw`](EventFactory::transform_raw), then
    /// dispatched as [`process`](Self::process) does.
    pub async fn process_raw(&self, event: &RawEvent<'_>, inv: &Invocation) -> Report {
        let source = event.source();
        let routed = self.inner.factory.transform_raw(event).into_vec();
        let outcomes = self.run(routed, inv).await;
        Report { source, outcomes }
    }

    /// Dispatches records an [`EventFactory`] produced.
    pub async fn run(&self, routed: Vec<Routed>, inv: &Invocation) -> Vec<RecordOutcome> {
        let cfg = &self.inner.config;
        let ordered = cfg.stop_on_first_failure || routed.iter().any(|r| r.order_key().is_some());
        let n = routed.len();
        if !ordered {
            // Each record starts as soon as a slot is free, whatever the
            // records before it are doing; outcomes go back in input order.
            // A record is polled once as it starts: one that finishes there
            // (most do) never takes a slot nor a task in the set.
            let mut outcomes: Vec<(usize, RecordOutcome)> = Vec::with_capacity(n);
            let mut running = FuturesUnordered::new();
            for (i, r) in routed.into_iter().enumerate() {
                // Records that wait move on as they are woken, as they did
                // in their own tasks; a full set waits for a free slot.
                if !running.is_empty() {
                    while let Some(Some(done)) = running.next().now_or_never() {
                        outcomes.push(done);
                    }
                }
                while running.len() >= cfg.concurrency {
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
            }
            while let Some(done) = running.next().await {
                outcomes.push(done);
            }
            return in_input_order(n, outcomes);
        }
        // Ordered: group by key, preserving first-appearance order. Records
        // without a key are groups of their own.
        let mut groups: Vec<Vec<(usize, Routed)>> = Vec::new();
        let mut by_key: HashMap<Arc<str>, usize> = HashMap::new();
        for (i, r) in routed.into_iter().enumerate() {
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
            .buffer_unordered(cfg.concurrency)
            .collect()
            .await;
        in_input_order(n, results.into_iter().flatten())
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
        let (meta, _, result) = routed.into_parts();
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
        let mut meta = meta;
        meta.set_stats(Arc::clone(&stats));
        let stamp = |mut env: AnyEnvelope| {
            let m = env.meta_mut();
            if m.deadline().is_none() {
                m.set_deadline(inv.deadline);
            }
            m.set_stats(Arc::clone(&stats));
            env
        };
        let bus = &self.inner.bus;
        let mut envs = envelopes.into_iter().map(stamp);
        let work = match (envs.next(), envs.len()) {
            (None, _) => Work::Nothing,
            (Some(one), 0) => Work::One(bus.dispatch(one)),
            (Some(first), _) => {
                let all: Vec<Dispatch> = std::iter::once(first)
                    .chain(envs)
                    .map(|e| bus.dispatch(e))
                    .collect();
                Work::Many(Box::pin(async move {
                    let results = futures_util::future::join_all(all).await;
                    let mut outputs = Vec::with_capacity(results.len());
                    for r in results {
                        outputs.push(r?);
                    }
                    Ok(Output::array(outputs))
                }))
            }
        };
        // Cancelled (dropped) when only the margin is left, so the
        // invocation answers in time whatever the handlers do.
        let cancel_at = self.cancel_at(inv);
        Start::Running(Running {
            meta,
            stats,
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

/// The outcomes of `n` records, tagged with their input index, in input order.
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
    meta: Metadata,
    stats: Arc<Stats>,
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
        let mut meta = self.meta;
        let attempts = self.stats.attempts();
        if attempts > meta.attempt() {
            meta.set_attempt(attempts);
        }
        match result {
            Some(Ok(Ok(output))) => RecordOutcome {
                meta,
                status: Status::Done(output),
            },
            Some(Ok(Err(e))) => fail(meta, e, true),
            Some(Err(panic)) => fail(meta, Box::new(HandlerPanic::from_payload(panic)), true),
            None => {
                let ran_for = self.started.map(|s| s.elapsed()).unwrap_or_default();
                fail(meta, Box::new(Cancelled { ran_for }), true)
            }
        }
    }
}

fn in_input_order(
    n: usize,
    tagged: impl IntoIterator<Item = (usize, RecordOutcome)>,
) -> Vec<RecordOutcome> {
    let mut slots: Vec<Option<RecordOutcome>> = (0..n).map(|_| None).collect();
    for (i, o) in tagged {
        slots[i] = Some(o);
    }
    let outcomes: Vec<RecordOutcome> = slots.into_iter().flatten().collect();
    debug_assert_eq!(outcomes.len(), n, "every record has one outcome");
    outcomes
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factory::Record;
    use crate::layers::{
        IdempotencyOptions, MemoryIdempotencyStore, RetryPolicy, ServiceBuilderExt,
    };
    use crate::{handler_fn, Envelope, HandlerError, Router, Source};
    use tower::ServiceBuilder;

    #[derive(Debug)]
    struct Ping(&'static str);

    #[tokio::test(start_paused = true)]
    async fn retries_and_replayed_duplicates_are_counted() {
        let flaky = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let handler = ServiceBuilder::new()
            .idempotent(
                Arc::new(MemoryIdempotencyStore::new()),
                |env: &Envelope<Ping>| Some(env.event().0.to_owned()),
                IdempotencyOptions::new(),
            )
            .retries(RetryPolicy::default().with_max_attempts(3))
            .service(handler_fn(move |env: Envelope<Ping>| {
                let flaky = Arc::clone(&flaky);
                async move {
                    if env.event().0 == "flaky"
                        && flaky.swap(false, std::sync::atomic::Ordering::SeqCst)
                    {
                        return Err(HandlerError::retryable("busy"));
                    }
                    Ok::<_, HandlerError>(())
                }
            }));
        let bus = Bus::builder().on(handler).build();
        let app = App::builder(Router::new(), bus).build().unwrap();
        let routed = vec![
            Record::new("a", Source::Direct).event(Ping("flaky")),
            Record::new("b", Source::Direct).event(Ping("once")),
        ];
        let inv = Invocation::new("r-1");
        let outcomes = app.run(routed, &inv).await;
        let report = Report {
            source: Source::Direct,
            outcomes,
        };
        assert_eq!((report.failed(), report.retried()), (0, 1));
        assert_eq!(report.duplicates(), 0);

        // The same events again: both answered from the store.
        let again = vec![
            Record::new("a2", Source::Direct).event(Ping("flaky")),
            Record::new("b2", Source::Direct).event(Ping("once")),
        ];
        let inv = Invocation::new("r-2");
        let outcomes = app.run(again, &inv).await;
        assert!(outcomes.iter().all(|o| !o.is_failed()));
        let report = Report {
            source: Source::Direct,
            outcomes,
        };
        assert_eq!(report.duplicates(), 2);
    }
}
