//! [`AppBuilder`]: what an [`App`] is built from and how it runs its
//! records (acknowledging unmatched ones, concurrency, the deadline margin,
//! stopping at the first failure, the clock).

use std::sync::Arc;
use std::time::Duration;

use super::{App, BuildError, Inner};
use crate::bus::Bus;
use crate::envelope::Source;
use crate::factory::EventFactory;
use crate::ports::Clock;

/// Whose unmatched records are acknowledged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) enum Acknowledge {
    /// Nobody's: an unmatched record fails.
    #[default]
    None,
    /// Those of these sources.
    Sources(Vec<Source>),
    /// Every source's.
    All,
}

impl Acknowledge {
    pub(super) fn covers(&self, source: Source) -> bool {
        match self {
            Acknowledge::None => false,
            Acknowledge::Sources(s) => s.contains(&source),
            Acknowledge::All => true,
        }
    }
}

#[derive(Clone, Debug)]
pub(super) struct Config {
    pub(super) acknowledge_unmatched: Acknowledge,
    /// `None`: the default, 4 per CPU ([`Config::concurrency`]).
    pub(super) concurrency: Option<usize>,
    pub(super) deadline_margin: Duration,
    pub(super) stop_on_first_failure: bool,
    pub(super) clock: Option<Arc<dyn Clock>>,
}

impl Config {
    /// How many records (or ordered groups) run at once.
    pub(super) fn concurrency(&self) -> usize {
        self.concurrency.unwrap_or_else(super::default_concurrency)
    }
}

/// Builds an [`App`]. See [`App::builder`].
#[derive(Debug)]
pub struct AppBuilder {
    pub(super) factory: Arc<dyn EventFactory>,
    pub(super) bus: Bus,
    pub(super) config: Config,
}

impl AppBuilder {
    /// Acknowledge records no route matches instead of failing them, from
    /// every source (`true`) or from none (`false`, the default; this also
    /// undoes [`acknowledge_unmatched_from`](Self::acknowledge_unmatched_from)).
    /// They are still logged (at WARN) and counted in the [`Report`](super::Report).
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
    /// counted in the [`Report`](super::Report) ([`Report::acknowledged`](super::Report::acknowledged)).
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
        self.config.concurrency = Some(n.max(1));
        self
    }

    /// Records are not started when this or less is left before the
    /// deadline (with a zero margin, a record still never starts with no
    /// time left), and records still running then are cancelled
    /// ([`Cancelled`](super::Cancelled)): the margin is the time left to answer. Default: 500 ms.
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
    /// ([`Metadata::clock`](crate::Metadata::clock)): layers without a clock of their own read it
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
