//! Property: nothing lost (issue 11).
//!
//! Random batches mix good, malformed, panicking, slow, retryable-then-ok and
//! permanently failing records, on standard and FIFO queues (random groups)
//! and on a DynamoDB stream, with random deadlines and concurrency. For every
//! batch:
//!
//! - every record id appears exactly once in done ∪ failed, in input order,
//!   and failed ⊆ input;
//! - an SQS batch response lists exactly the failed records, in input order
//!   (so it is never empty while a record failed);
//! - a FIFO group stops at its first failure: nothing after it runs;
//! - a stream batch answers its first failure's sequence number (and
//!   nothing when none failed), and nothing after it runs;
//! - a record meant to fail never ends done; without a deadline every
//!   record ends as its fate says, and nothing is cancelled or left unstarted;
//! - the invocation answers no later than the deadline minus the margin.
//!
//! | property | cases (default; `EVENTRAIL_PROPTEST_CASES` sets each) |
//! |---|---|
//! | SQS, standard or FIFO, 1..=60 records | 1 000 |
//! | DynamoDB stream, 1..=30 records | 300 |

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use eventrail::app::{Cancelled, NotStarted, Status};
use eventrail::dynamodb::DataChange;
use eventrail::layers::{RetryPolicy, ServiceBuilderExt};
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
use eventrail_testkit::{dynamodb, lambda, run_paused, strategies, Outcome, TestApp};
use proptest::prelude::*;
use serde_json::{json, Value};
use tokio::time::Instant;
use tower::ServiceBuilder;

/// What a record does when handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Fate {
    Ok,
    /// Takes this many ms.
    Slow(u64),
    /// Fails retryably this many attempts, then succeeds (the retry layer
    /// makes 3 attempts: 3 or more failures fail the record).
    Flaky(u32),
    Permanent,
    Panic,
}

impl Fate {
    fn succeeds(self) -> bool {
        match self {
            Fate::Ok | Fate::Slow(_) => true,
            Fate::Flaky(n) => n < ATTEMPTS,
            Fate::Permanent | Fate::Panic => false,
        }
    }
}

const ATTEMPTS: u32 = 3;
const MARGIN: Duration = Duration::from_millis(500);
const HANDLER_BUG: &str = "handler bug";

#[derive(Debug, serde::Deserialize)]
struct Job {
    fate: Fate,
}

fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![
        8 => Just(Fate::Ok),
        3 => (1u64..=2_000).prop_map(Fate::Slow),
        3 => (1u32..=4).prop_map(Fate::Flaky),
        2 => Just(Fate::Permanent),
        // Rare: unwinding is the costliest thing a record can do.
        1 => Just(Fate::Panic),
    ]
}

fn job_body() -> impl Strategy<Value = Value> {
    fate().prop_map(|f| json!({"type": "JOB", "fate": f}))
}

/// The fate of a body, or `None` when it fails before any handler runs.
fn fate_of(body: &str) -> Option<Fate> {
    let v: Value = serde_json::from_str(body).ok()?;
    if v.get("type")? != "JOB" {
        return None;
    }
    serde_json::from_value::<Job>(v).ok().map(|j| j.fate)
}

fn quiet_handler_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&HANDLER_BUG) {
                default(info);
            }
        }));
    });
}

/// Does what `fate` says, on attempt `attempt`.
async fn act(fate: Fate, attempt: u32) -> Result<(), HandlerError> {
    match fate {
        Fate::Ok => Ok(()),
        Fate::Slow(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(())
        }
        Fate::Flaky(n) if attempt <= n => Err(HandlerError::retryable("not yet")),
        Fate::Flaky(_) => Ok(()),
        Fate::Permanent => Err(HandlerError::permanent("invalid")),
        Fate::Panic => std::panic::panic_any(HANDLER_BUG),
    }
}

fn retry() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(100))
}

fn sqs_app(concurrency: usize, time_left: Option<Duration>) -> TestApp {
    quiet_handler_panics();
    let app = TestApp::new(|_| {
        let handler = ServiceBuilder::new().retries(retry()).service(handler_fn(
            |j: Envelope<Job>| async move { act(j.fate, j.meta().attempt()).await },
        ));
        App::builder(
            Router::new().sqs("type", "JOB").to::<Job>(),
            Bus::builder().on(handler).build(),
        )
        .concurrency(concurrency)
        .deadline_margin(MARGIN)
    });
    with_time_left(app, time_left)
}

fn with_time_left(app: TestApp, time_left: Option<Duration>) -> TestApp {
    match time_left {
        Some(d) => app.with_context(lambda::context().time_left(d)),
        None => app,
    }
}

/// Sends `event` on a paused clock; the outcome and how long it took.
fn send(app: &TestApp, event: impl eventrail_testkit::TestEvent) -> (Outcome, Duration) {
    run_paused(async {
        let start = Instant::now();
        let out = app.send(event).await;
        (out, start.elapsed())
    })
}

fn attempted(out: &Outcome, i: usize) -> bool {
    match &out.records()[i].status {
        Status::Failed(f) => f.attempted,
        _ => true,
    }
}

fn cut_by_deadline(out: &Outcome) -> bool {
    out.records().iter().any(|o| match &o.status {
        Status::Failed(f) => {
            f.error.is::<Cancelled>()
                || f.error
                    .downcast_ref::<NotStarted>()
                    .is_some_and(NotStarted::is_deadline)
        }
        _ => false,
    })
}

/// What holds for every batch: each input id once, in order, in done ∪
/// failed; the answer before the deadline's margin.
fn check_common(
    out: &Outcome,
    ids: &[String],
    fates: &[Option<Fate>],
    time_left: Option<Duration>,
    took: Duration,
) -> Result<(), TestCaseError> {
    let outcome_ids: Vec<&str> = out.records().iter().map(|o| o.record_id()).collect();
    prop_assert_eq!(
        &outcome_ids,
        &ids.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let done: HashSet<&str> = out.done().into_iter().collect();
    let failed: HashSet<&str> = out.failed().into_iter().collect();
    let input: HashSet<&str> = ids.iter().map(String::as_str).collect();
    prop_assert_eq!(input.len(), ids.len(), "ids are unique");
    prop_assert!(done.is_disjoint(&failed));
    prop_assert_eq!(done.len() + failed.len(), ids.len());
    prop_assert!(failed.is_subset(&input));
    // A record meant to fail never ends done.
    for (i, fate) in fates.iter().enumerate() {
        if !fate.is_some_and(Fate::succeeds) {
            prop_assert!(
                out.records()[i].is_failed(),
                "{} ({:?}) is done",
                ids[i],
                fate
            );
        }
    }
    match time_left {
        Some(left) => prop_assert!(
            took <= left.saturating_sub(MARGIN),
            "answered after {:?} with {:?} left",
            took,
            left
        ),
        None => prop_assert!(!cut_by_deadline(out), "no deadline, yet cut: {:?}", out),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(strategies::cases(1_000)))]

    #[test]
    fn sqs_batches_lose_nothing(
        batch in prop_oneof![
            strategies::sqs_batch(strategies::sqs_body(job_body()), 1..=60usize),
            (1..=5usize).prop_flat_map(|groups| {
                strategies::fifo_batch(strategies::sqs_body(job_body()), 1..=60usize, groups)
            }),
        ],
        time_left in strategies::time_left(),
        concurrency in 1..=8usize,
    ) {
        let app = sqs_app(concurrency, time_left);
        let (out, took) = send(&app, &batch);
        let ids = batch.message_ids();
        let fates: Vec<Option<Fate>> = batch.messages().iter().map(|m| fate_of(m.body())).collect();
        check_common(&out, &ids, &fates, time_left, took)?;

        // The response is exactly the failed records, in input order.
        let failed: Vec<String> = out.failed().into_iter().map(str::to_owned).collect();
        prop_assert_eq!(out.batch_item_failures(), failed.clone());
        prop_assert_eq!(failed.is_empty(), out.records().iter().all(|o| !o.is_failed()));

        // FIFO: nothing after a group's first failure runs.
        let mut group_failed: HashMap<&str, bool> = HashMap::new();
        for (i, m) in batch.messages().iter().enumerate() {
            let Some(group) = m.message_group() else { continue };
            let before = group_failed.get(group).copied().unwrap_or(false);
            if before {
                prop_assert!(out.records()[i].is_failed() && !attempted(&out, i),
                    "{} ran after its group {} failed", ids[i], group);
            }
            group_failed.insert(group, before || out.records()[i].is_failed());
        }

        // Without a deadline, every record ends as its fate says.
        if time_left.is_none() {
            for (i, fate) in fates.iter().enumerate() {
                let group_cut = batch.messages()[i].message_group().is_some() && !attempted(&out, i);
                if fate.is_some_and(Fate::succeeds) && !group_cut {
                    prop_assert!(!out.records()[i].is_failed(), "{} ({:?}) failed: {:?}", ids[i], fate, out.failure(&ids[i]).map(|f| f.error.to_string()));
                }
            }
        }
    }
}

/// One stream change: a job under `JOB#i`, or one no route matches, or one
/// whose image is not a job.
#[derive(Clone, Debug)]
enum Change {
    Job(Fate),
    Unrouted,
    NotAJob,
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        10 => fate().prop_map(Change::Job),
        1 => Just(Change::Unrouted),
        1 => Just(Change::NotAJob),
    ]
}

fn stream_app(time_left: Option<Duration>) -> TestApp {
    quiet_handler_panics();
    let app = TestApp::new(|_| {
        let handler = ServiceBuilder::new().retries(retry()).service(handler_fn(
            |c: Envelope<DataChange<Value>>| async move {
                let fate = c
                    .new
                    .as_ref()
                    .and_then(|v| v.get("fate"))
                    .and_then(|f| serde_json::from_value::<Fate>(f.clone()).ok())
                    .ok_or_else(|| HandlerError::permanent("not a job"))?;
                act(fate, c.meta().attempt()).await
            },
        ));
        App::builder(
            Router::new().dynamodb("JOB#").to::<Value>(),
            Bus::builder().on(handler).build(),
        )
        .deadline_margin(MARGIN)
    });
    with_time_left(app, time_left)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(strategies::cases(300)))]

    #[test]
    fn stream_batches_lose_nothing_and_answer_the_first_failure(
        changes in proptest::collection::vec(change(), 1..=30),
        time_left in strategies::time_left(),
    ) {
        let batch = dynamodb::batch(changes.iter().enumerate().map(|(i, c)| {
            let (pk, image) = match c {
                Change::Job(f) => (format!("JOB#{i}"), json!({"pk": format!("JOB#{i}"), "fate": f})),
                Change::Unrouted => (format!("USER#{i}"), json!({"pk": format!("USER#{i}")})),
                Change::NotAJob => (format!("JOB#{i}"), json!({"pk": format!("JOB#{i}"), "fate": 42})),
            };
            dynamodb::insert(json!({"pk": pk}), image)
        }));
        let fates: Vec<Option<Fate>> = changes
            .iter()
            .map(|c| match c { Change::Job(f) => Some(*f), _ => None })
            .collect();
        let app = stream_app(time_left);
        let (out, took) = send(&app, &batch);
        let seq = batch.sequence_numbers();
        check_common(&out, &seq, &fates, time_left, took)?;

        // One shard: nothing after the first failure runs, and the response
        // is that failure's sequence number.
        let first = out.records().iter().position(|o| o.is_failed());
        if let Some(first) = first {
            for i in first + 1..seq.len() {
                prop_assert!(out.records()[i].is_failed() && !attempted(&out, i));
            }
        }
        prop_assert_eq!(out.batch_item_failures(), first.map(|i| seq[i].clone()).into_iter().collect::<Vec<_>>());
        if time_left.is_none() {
            let expected_first = fates.iter().position(|f| !f.is_some_and(Fate::succeeds));
            prop_assert_eq!(first, expected_first);
        }
    }
}
