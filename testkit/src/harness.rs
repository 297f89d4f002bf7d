//! The harness: an app wired to every fake, driven by raw events exactly as
//! the Lambda adapter drives it.
//!
//! [`TestApp::new`] hands the [`Fakes`] to a closure that builds the app (so
//! handlers and layers get the fakes as their ports), sets the app's
//! [clock](eventrail::app::AppBuilder::clock) to the test clock, and
//! [`TestApp::send`] takes a built event through the same three steps as
//! [`eventrail_lambda::invoke()`]: detect the source of the raw JSON, run the
//! records through factory → bus → layers, build the Lambda response. The
//! [`Outcome`] has both the per-record report and that response.
//!
//! Run tests on tokio's paused clock (`#[tokio::test(start_paused = true)]`,
//! or [`run_paused`] outside an async test): retries and backoffs then take
//! no wall time, task timeouts of [`FakeSfn`] follow [`TestApp::advance`], and
//! so do idempotency expiry, alarm timestamps and dead letters' `failed_at`:
//! the layers read the envelope's clock, which is the test clock, unless you
//! gave them another. Every run is the same.
//!
//! ```
//! use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
//! use eventrail::ports::SnsMessage;
//! use eventrail_testkit::{sqs, TestApp};
//!
//! #[derive(Debug, serde::Deserialize)]
//! struct Ping { id: u32 }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let app = TestApp::new(|fakes| {
//!     let sns = fakes.notifier();
//!     let bus = Bus::builder()
//!         .on(handler_fn(move |p: Envelope<Ping>| {
//!             let sns = sns.clone();
//!             async move {
//!                 sns.publish(SnsMessage::new("arn:aws:sns:us-east-1:123456789012:pongs", p.id.to_string())).await?;
//!                 Ok::<_, HandlerError>(())
//!             }
//!         }))
//!         .build();
//!     App::builder(Router::new().sqs_all().to::<Ping>(), bus)
//! });
//!
//! let out = app.send(sqs::batch([
//!     sqs::message(r#"{"id": 1}"#).id("a"),
//!     sqs::message("not json").id("b"),
//! ])).await;
//!
//! assert_eq!(out.done(), ["a"]);
//! assert_eq!(out.batch_item_failures(), ["b"]);
//! assert_eq!(app.sns().published_to("arn:aws:sns:us-east-1:123456789012:pongs")[0].message, "1");
//! # }
//! ```

use std::fmt;
#[cfg(feature = "paused-clock")]
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use eventrail::app::{AppBuilder, BuildError, Failure, Invocation, RecordOutcome, Report, Status};
use eventrail::layers::AlarmService;
use eventrail::ports::{
    Clock, IdempotencyStore, Mailer, Notifier, ObjectStore, TaskCallbacks, TokioClock,
};
use eventrail::App;
use eventrail_lambda::InvokeError;
use serde_json::Value;

use crate::events::{lambda, TestEvent, EPOCH_MS};
use crate::fakes::{FakeIdempotencyStore, FakeS3, FakeSes, FakeSfn, FakeSns};

/// The wall time the test clock starts at: [`EPOCH_MS`] (2026-01-01T00:00:00Z).
pub fn test_epoch() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(EPOCH_MS)
}

/// Every fake, and a clock that follows tokio's (paused) clock.
///
/// Cloning shares the fakes. The `Arc<dyn Port>` accessors give what
/// handlers and layers take.
#[derive(Clone, Debug)]
pub struct Fakes {
    sns: FakeSns,
    ses: FakeSes,
    s3: FakeS3,
    sfn: FakeSfn,
    idempotency: FakeIdempotencyStore,
    clock: TokioClock,
}

impl Default for Fakes {
    fn default() -> Self {
        Self::new()
    }
}

impl Fakes {
    /// Fresh fakes, the clock reading [`test_epoch`] now.
    pub fn new() -> Self {
        Self {
            sns: FakeSns::new(),
            ses: FakeSes::new(),
            s3: FakeS3::new(),
            sfn: FakeSfn::new(),
            idempotency: FakeIdempotencyStore::new(),
            clock: TokioClock::starting_at(test_epoch()),
        }
    }

    /// The SNS fake.
    pub fn sns(&self) -> &FakeSns {
        &self.sns
    }

    /// The SES fake.
    pub fn ses(&self) -> &FakeSes {
        &self.ses
    }

    /// The S3 fake.
    pub fn s3(&self) -> &FakeS3 {
        &self.s3
    }

    /// The Step Functions fake.
    pub fn sfn(&self) -> &FakeSfn {
        &self.sfn
    }

    /// The idempotency store fake.
    pub fn idempotency(&self) -> &FakeIdempotencyStore {
        &self.idempotency
    }

    /// The SNS fake as a port.
    pub fn notifier(&self) -> Arc<dyn Notifier> {
        Arc::new(self.sns.clone())
    }

    /// The SES fake as a port.
    pub fn mailer(&self) -> Arc<dyn Mailer> {
        Arc::new(self.ses.clone())
    }

    /// The S3 fake as a port.
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        Arc::new(self.s3.clone())
    }

    /// The Step Functions fake as a port.
    pub fn task_callbacks(&self) -> Arc<dyn TaskCallbacks> {
        Arc::new(self.sfn.clone())
    }

    /// The idempotency store fake as a port.
    pub fn idempotency_store(&self) -> Arc<dyn IdempotencyStore> {
        Arc::new(self.idempotency.clone())
    }

    /// The clock: [`test_epoch`] when the fakes were made, advancing with
    /// tokio's clock. [`TestApp`] makes it the app's clock, which the layers
    /// that read wall time (idempotency, alarms, dead letters) use when they
    /// have no clock of their own; give it to an app you build yourself with
    /// [`AppBuilder::clock`].
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(self.clock)
    }

    /// The clock's reading now.
    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// An [`AlarmService`] publishing to `topic_arn` on the SNS fake, its
    /// timestamps from the test clock.
    pub fn alarm_service(&self, topic_arn: &str) -> AlarmService {
        AlarmService::new(self.notifier(), topic_arn).with_clock(self.clock())
    }
}

/// An app wired to [`Fakes`], driven like the Lambda adapter drives it. See
/// the [module docs](self).
#[derive(Clone, Debug)]
pub struct TestApp {
    app: App,
    fakes: Fakes,
    context: lambda::Context,
}

impl TestApp {
    /// Builds the app with `build`, which gets the fakes.
    ///
    /// # Panics
    ///
    /// If the app does not build (conflicting routes, a route without a
    /// handler); use [`try_new`](Self::try_new) to get the error instead.
    pub fn new(build: impl FnOnce(&Fakes) -> AppBuilder) -> Self {
        match Self::try_new(build) {
            Ok(app) => app,
            Err(e) => panic!("the app under test does not build: {e}"),
        }
    }

    /// Builds the app with `build`, which gets the fakes, on the test clock
    /// ([`AppBuilder::clock`] with [`Fakes::clock`]).
    pub fn try_new(build: impl FnOnce(&Fakes) -> AppBuilder) -> Result<Self, BuildError> {
        let fakes = Fakes::new();
        let app = build(&fakes).clock(fakes.clock()).build()?;
        Ok(Self::from_parts(app, fakes))
    }

    /// Wraps an app already built with `fakes` (build it with
    /// `.clock(fakes.clock())` for expiry to follow the test clock).
    pub fn from_parts(app: App, fakes: Fakes) -> Self {
        Self {
            app,
            fakes,
            context: lambda::context(),
        }
    }

    /// Sets the Lambda context of later invocations (request id, time left).
    pub fn with_context(mut self, context: lambda::Context) -> Self {
        self.context = context;
        self
    }

    /// The app.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The fakes.
    pub fn fakes(&self) -> &Fakes {
        &self.fakes
    }

    /// The SNS fake.
    pub fn sns(&self) -> &FakeSns {
        &self.fakes.sns
    }

    /// The SES fake.
    pub fn ses(&self) -> &FakeSes {
        &self.fakes.ses
    }

    /// The S3 fake.
    pub fn s3(&self) -> &FakeS3 {
        &self.fakes.s3
    }

    /// The Step Functions fake.
    pub fn sfn(&self) -> &FakeSfn {
        &self.fakes.sfn
    }

    /// The idempotency store fake.
    pub fn idempotency(&self) -> &FakeIdempotencyStore {
        &self.fakes.idempotency
    }

    /// The test clock's reading now.
    pub fn now(&self) -> SystemTime {
        self.fakes.now()
    }

    /// Moves tokio's paused clock forward by `d` (and so the test clock, the
    /// task timeouts, idempotency expiry and alarm timestamps). Feature
    /// `paused-clock`.
    #[cfg(feature = "paused-clock")]
    pub async fn advance(&self, d: Duration) {
        tokio::time::advance(d).await;
    }

    /// Invokes the app with `event`.
    ///
    /// # Panics
    ///
    /// If the payload is unusable (not an event of a known source); use
    /// [`try_send`](Self::try_send) to test such payloads.
    pub async fn send(&self, event: impl TestEvent) -> Outcome {
        match self.try_send(event).await {
            Ok(out) => out,
            Err(e) => panic!("the payload was rejected before any record ran: {e}"),
        }
    }

    /// Invokes the app with `event`; fails if the payload is unusable.
    pub async fn try_send(&self, event: impl TestEvent) -> Result<Outcome, InvokeError> {
        let inv = self.context.invocation();
        let payload = serde_json::to_vec(&event.to_json()).map_err(InvokeError::NotJson)?;
        let detected = eventrail_lambda::detect(&payload)?;
        Ok(self.finish(detected, &inv).await)
    }

    /// Invokes the app with raw bytes, as the runtime would hand them over.
    pub async fn send_bytes(&self, payload: &[u8]) -> Result<Outcome, InvokeError> {
        let inv = self.context.invocation();
        let detected = eventrail_lambda::detect(payload)?;
        Ok(self.finish(detected, &inv).await)
    }

    async fn finish(&self, detected: eventrail_lambda::Detected<'_>, inv: &Invocation) -> Outcome {
        let report = self.app.process_raw(detected.raw(), inv).await;
        let response = eventrail_lambda::respond_to(&report, detected.raw());
        Outcome { report, response }
    }
}

/// What one invocation did: the outcome of every record, in input order,
/// and the Lambda response.
pub struct Outcome {
    report: Report,
    response: Result<Value, InvokeError>,
}

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outcome")
            .field("records", &self.summary())
            .field("response", &self.response)
            .field("duplicates", &self.duplicates())
            .finish()
    }
}

impl Outcome {
    /// The report: one outcome per input record, in input order.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// The record outcomes, in input order.
    pub fn records(&self) -> &[RecordOutcome] {
        &self.report.outcomes
    }

    /// The Lambda response, or `None` when the invocation failed.
    pub fn response(&self) -> Option<&Value> {
        self.response.as_ref().ok()
    }

    /// The invocation error (failed records of S3, SNS or EventBridge, a
    /// failed Step Functions task).
    pub fn invocation_error(&self) -> Option<&InvokeError> {
        self.response.as_ref().err()
    }

    /// How many events an idempotency layer answered from its store
    /// instead of running the handler.
    pub fn duplicates(&self) -> usize {
        self.report.duplicates()
    }

    /// How many records a retry layer ran more than once.
    pub fn retried(&self) -> usize {
        self.report.retried()
    }

    /// The ids of the records that are done (acknowledged ones included), in
    /// input order.
    pub fn done(&self) -> Vec<&str> {
        self.records()
            .iter()
            .filter(|o| !o.is_failed())
            .map(RecordOutcome::record_id)
            .collect()
    }

    /// The ids of the failed records, in input order.
    pub fn failed(&self) -> Vec<&str> {
        self.report.failed_ids().collect()
    }

    /// The handler output of record `id`, if it is done.
    pub fn output(&self, id: &str) -> Option<&Value> {
        self.records()
            .iter()
            .find(|o| o.record_id() == id)
            .and_then(|o| match &o.status {
                Status::Done(v) => Some(v.value()),
                _ => None,
            })
    }

    /// Why record `id` failed, if it did.
    pub fn failure(&self, id: &str) -> Option<&Failure> {
        self.records()
            .iter()
            .find(|o| o.record_id() == id)
            .and_then(|o| match &o.status {
                Status::Failed(f) => Some(f),
                _ => None,
            })
    }

    /// The `itemIdentifier`s of the response's `batchItemFailures` (empty
    /// for sources without a batch response). A Kafka identifier
    /// (`{"partition": "orders-0", "offset": 42}`) is given as the record id
    /// it names, `orders-0@42`.
    pub fn batch_item_failures(&self) -> Vec<String> {
        self.response()
            .and_then(|r| r.get("batchItemFailures"))
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| match i.get("itemIdentifier")? {
                        Value::String(s) => Some(s.clone()),
                        Value::Object(o) => Some(format!(
                            "{}@{}",
                            o.get("partition")?.as_str()?,
                            o.get("offset")?.as_i64()?
                        )),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Panics, listing every failure, unless every record is done and the
    /// invocation succeeded.
    #[track_caller]
    pub fn assert_all_done(&self) -> &Self {
        let failures: Vec<String> = self
            .records()
            .iter()
            .filter_map(|o| match &o.status {
                Status::Failed(f) => {
                    Some(format!("  {}: {} ({})", o.record_id(), f.error, f.retry))
                }
                _ => None,
            })
            .collect();
        if !failures.is_empty() || self.response.is_err() {
            panic!(
                "expected every record done; failed:\n{}\ninvocation: {:?}",
                failures.join("\n"),
                self.response
            );
        }
        self
    }

    fn summary(&self) -> Vec<(String, String)> {
        self.records()
            .iter()
            .map(|o| {
                let s = match &o.status {
                    Status::Done(v) => format!("done {v}"),
                    Status::Acknowledged => "acknowledged".to_owned(),
                    Status::Failed(f) => format!("failed ({}): {}", f.retry, f.error),
                    _ => "?".to_owned(),
                };
                (o.record_id().to_owned(), s)
            })
            .collect()
    }
}

/// Runs `fut` to completion on a current-thread runtime whose clock starts
/// paused: for property tests and other synchronous test functions.
///
/// ```
/// use std::time::Duration;
///
/// let waited = eventrail_testkit::run_paused(async {
///     let start = tokio::time::Instant::now();
///     tokio::time::sleep(Duration::from_secs(3600)).await; // instant: the clock is paused
///     start.elapsed()
/// });
/// assert_eq!(waited, Duration::from_secs(3600));
/// ```
///
/// Feature `paused-clock`.
#[cfg(feature = "paused-clock")]
pub fn run_paused<F: Future>(fut: F) -> F::Output {
    match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
    {
        Ok(rt) => rt.block_on(fut),
        Err(e) => panic!("cannot start a tokio runtime: {e}"),
    }
}
