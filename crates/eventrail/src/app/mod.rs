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

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use tokio::time::Instant;

use crate::bus::{Bus, Output, Outputs};
use crate::envelope::{Metadata, Source};
use crate::error::{BoxError, Classify, ErrorClass, RecordError};
use crate::factory::{one_per_record, EventFactory, InputRecords, Routed, StepFunctionInput};
use crate::routes::{short_type_name, RouteRow, RouteTable};
use crate::source::firehose::{self, FirehoseEvent};
use crate::source::kafka::{self, KafkaBatch};
use crate::source::s3_batch::{self, S3BatchEvent};
use crate::source::{dynamodb, eventbridge, kinesis, s3, sns, sqs, step_functions, RawEvent};

mod batch_alarm;
mod build_error;
mod builder;
mod error;
mod event;
mod report;
mod run;

pub use self::batch_alarm::BatchAlarm;
pub use self::build_error::BuildError;
pub use self::builder::AppBuilder;
use self::builder::{Acknowledge, Config};
pub use self::error::{Cancelled, NotStarted};
pub use self::event::{Invocation, SourceEvent};
pub use self::report::{Counts, Failure, Outcomes, RecordOutcome, Report, Status};
pub use crate::envelope::MAX_PLAUSIBLE_DEADLINE;
pub use crate::error::HandlerPanic;

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

/// 4 per CPU, asked of the system once per process, and only when a batch
/// first has a second record to start: a one-record cold start does not
/// pay for reading the CPU quota (a dozen system calls).
fn default_concurrency() -> usize {
    static DEFAULT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *DEFAULT.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get()) * 4)
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
                concurrency: None,
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
        let (outcomes, tally) = self.run_each(routed.into_iter(), inv, inv.outcomes).await;
        Report::tallied(source, outcomes, tally)
    }

    /// Processes the records of a raw payload (see [`RawEvent`]), the path
    /// the Lambda adapter takes: each record is decoded once, by the
    /// factory's [`transform_raw_iter`](EventFactory::transform_raw_iter),
    /// as it starts, then dispatched as [`process`](Self::process) does.
    pub async fn process_raw(&self, event: &RawEvent<'_>, inv: &Invocation) -> Report {
        let source = event.source();
        let records = self.inner.factory.transform_raw_iter(event);
        let (outcomes, tally) = self.run_each(records, inv, inv.outcomes).await;
        Report::tallied(source, outcomes, tally)
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
        let report = Report::new(Source::Direct, outcomes);
        assert_eq!((report.failed(), report.retried()), (0, 1));
        assert_eq!(report.duplicates(), 0);
        // Nothing but attempts reported: the attempts are in the metadata
        // and the record's node is gone, so outcomes stay small.
        let attempts: Vec<u32> = report.outcomes.iter().map(|o| o.meta.attempt()).collect();
        assert_eq!(attempts, [2, 1]);
        assert!(report.outcomes.iter().all(|o| !o.meta.has_stats()));

        // The same events again: both answered from the store.
        let again = vec![
            Record::new("a2", Source::Direct).event(Ping("flaky")),
            Record::new("b2", Source::Direct).event(Ping("once")),
        ];
        let inv = Invocation::new("r-2");
        let outcomes = app.run(again, &inv).await;
        assert!(outcomes.iter().all(|o| !o.is_failed()));
        let report = Report::new(Source::Direct, outcomes);
        assert_eq!(report.duplicates(), 2);
        // A replay is kept with its node.
        assert!(report.outcomes.iter().all(|o| o.meta.has_stats()));
    }

    #[tokio::test]
    async fn a_record_with_a_metric_keeps_its_node() {
        let bus = Bus::builder()
            .on(handler_fn(|env: Envelope<Ping>| async move {
                if env.event().0 == "count" {
                    env.meta()
                        .add_metric("Pings", 1.0, crate::metrics::Unit::Count);
                }
                Ok::<_, HandlerError>(())
            }))
            .build();
        let app = App::builder(Router::new(), bus).build().unwrap();
        let routed = vec![
            Record::new("a", Source::Direct).event(Ping("count")),
            Record::new("b", Source::Direct).event(Ping("quiet")),
        ];
        let outcomes = app.run(routed, &Invocation::new("r-1")).await;
        let kept: Vec<bool> = outcomes.iter().map(|o| o.meta.has_stats()).collect();
        assert_eq!(kept, [true, false]);
        let report = Report::new(Source::Direct, outcomes);
        let names: Vec<String> = report
            .handler_metrics()
            .iter()
            .map(|m| m.name.to_string())
            .collect();
        assert_eq!(names, ["Pings"]);
    }

    /// A batch of every kind of outcome: done at once, failed at once,
    /// failed after waiting (so out of order), retried, with a metric, and
    /// a FIFO group stopped by a failure.
    fn mixed_batch() -> Vec<Routed> {
        let r = |id: &str| Record::new(id, Source::Direct);
        vec![
            r("a").event(Ping("ok")),
            r("b").event(Ping("slow-fail")),
            r("c").event(Ping("fail")),
            r("d").event(Ping("count")),
            r("e").event(Ping("flaky")),
            r("f").with_order_key("g").event(Ping("ok")),
            r("g").with_order_key("g").event(Ping("fail")),
            r("h").with_order_key("g").event(Ping("ok")),
            r("i").event(Ping("ok")),
        ]
    }

    /// What `process` does with records already routed.
    async fn process(app: &App, routed: Vec<Routed>, inv: &Invocation) -> Report {
        let (outcomes, tally) = app.run_each(routed.into_iter(), inv, inv.outcomes).await;
        Report::tallied(Source::Direct, outcomes, tally)
    }

    fn mixed_app() -> App {
        let flaky = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let handler = ServiceBuilder::new()
            .retries(RetryPolicy::default().with_max_attempts(3))
            .service(handler_fn(move |env: Envelope<Ping>| {
                let flaky = Arc::clone(&flaky);
                async move {
                    match env.event().0 {
                        "fail" => Err(HandlerError::permanent("no")),
                        "slow-fail" => {
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            Err(HandlerError::permanent("late no"))
                        }
                        "count" => {
                            env.meta()
                                .add_metric("Pings", 2.0, crate::metrics::Unit::Count);
                            Ok(())
                        }
                        "flaky" if flaky.swap(false, std::sync::atomic::Ordering::SeqCst) => {
                            Err(HandlerError::retryable("busy"))
                        }
                        _ => Ok(()),
                    }
                }
            }));
        let bus = Bus::builder().on(handler).build();
        App::builder(Router::new(), bus).build().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_report_of_failures_counts_every_record() {
        let inv = Invocation::new("r-1");
        let all = process(&mixed_app(), mixed_batch(), &inv).await;
        let inv = inv.with_outcomes(Outcomes::Failures);
        let failures = process(&mixed_app(), mixed_batch(), &inv).await;

        let ids = |r: &Report| -> Vec<String> {
            r.outcomes
                .iter()
                .map(|o| o.record_id().to_owned())
                .collect()
        };
        assert_eq!(ids(&all), ["a", "b", "c", "d", "e", "f", "g", "h", "i"]);
        // Only the failures, in input order (`b` ended last).
        assert_eq!(ids(&failures), ["b", "c", "g", "h"]);
        assert_eq!(
            failures.failed_ids().collect::<Vec<_>>(),
            ["b", "c", "g", "h"]
        );

        let c = failures.counts();
        assert_eq!(c, all.counts());
        assert_eq!((c.records, c.done, c.failed, c.retried), (9, 5, 4, 1));
        assert_eq!(
            (failures.records(), failures.done(), failures.failed()),
            (9, 5, 4)
        );
        assert_eq!(failures.retried(), all.retried());
        assert_eq!(failures.duplicates(), all.duplicates());
        assert_eq!(failures.acknowledged(), all.acknowledged());
        let metrics = |r: &Report| -> Vec<(String, f64)> {
            r.handler_metrics()
                .iter()
                .map(|m| (m.name.to_string(), m.value))
                .collect()
        };
        assert_eq!(metrics(&failures), [("Pings".to_owned(), 2.0)]);
        assert_eq!(metrics(&failures), metrics(&all));
        // `run` always gives one outcome per record.
        let outcomes = mixed_app().run(mixed_batch(), &inv).await;
        assert_eq!(outcomes.len(), 9);
    }
}
