//! The fault table (issue 11), batch faults: deadlines, panics and FIFO
//! groups. One test per row, on tokio's paused clock.
//!
//! | fault | expected | test |
//! |---|---|---|
//! | handlers slower than the time left, no timeout layer | in-flight records cancelled at the margin, reported retryable; the answer comes before the deadline | [`handlers_slower_than_the_time_left_with_no_timeout_layer`] |
//! | 1 000 slow records with 2 s left | started records finish or fail, the rest reported, the answer before the deadline | [`a_deadline_with_1000_slow_records_and_2s_left`] |
//! | a deadline of 0 ms or already past | nothing started, every record reported | [`a_deadline_of_0ms_or_already_past`] |
//! | a panic on every 7th of 10 000 records | exactly those fail; the next invocation is served | [`a_panic_on_every_7th_record_of_10000`] |
//! | FIFO, three groups interleaved, one failure in B | only B's later records reported, in order; no state leaks into the next invocation | [`fifo_three_groups_interleaved_one_failure_in_b`] |
//!
//! The dependency rows are in `faults.rs`.

mod faults_common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventrail::app::{Cancelled, HandlerPanic, Invocation, NotStarted, SourceEvent, Status};
use eventrail::layers::IdempotencyLayer;
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError};
use eventrail_testkit::{lambda, sqs, Outcome, TestApp};
use faults_common::*;
use tokio::time::Instant;
use tower::Layer;

/// An app whose handler sleeps `n` ms (the job's `n`), behind an
/// idempotency layer, with `concurrency` slots and the default 500 ms
/// margin; counts the handlers started.
fn sleeper(concurrency: usize, time_left: Duration) -> (TestApp, Arc<AtomicUsize>) {
    let started = Arc::new(AtomicUsize::new(0));
    let counted = started.clone();
    let app = TestApp::new(|f| {
        let handler = IdempotencyLayer::new(f.idempotency_store(), |j: &Envelope<Job>| {
            Some(j.key.clone())
        })
        .with_clock(f.clock())
        .layer(handler_fn(move |j: Envelope<Job>| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(j.n)).await;
                Ok::<_, HandlerError>(j.n)
            }
        }));
        App::builder(router(), Bus::builder().on(handler).build()).concurrency(concurrency)
    })
    .with_context(lambda::context().time_left(time_left));
    (app, started)
}

fn sleeping(n: usize, ms: u64) -> sqs::Batch {
    sqs::batch((0..n).map(|i| sqs::message(body(&format!("k-{i}"), ms)).id(format!("m-{i}"))))
}

fn cancelled(out: &Outcome) -> Vec<&str> {
    ids_where(
        out,
        |s| matches!(s, Status::Failed(f) if f.error.is::<Cancelled>() && f.retry.is_retryable() && f.attempted),
    )
}

fn not_started(out: &Outcome) -> Vec<&str> {
    ids_where(out, |s| {
        matches!(s, Status::Failed(f) if f.error.downcast_ref::<NotStarted>().is_some_and(NotStarted::is_deadline)
            && f.retry.is_retryable() && !f.attempted)
    })
}

fn ids_where(out: &Outcome, pred: impl Fn(&Status) -> bool) -> Vec<&str> {
    out.records()
        .iter()
        .filter(|o| pred(&o.status))
        .map(|o| o.record_id())
        .collect()
}

fn ids(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("m-{i}")).collect()
}

#[tokio::test(start_paused = true)]
async fn handlers_slower_than_the_time_left_with_no_timeout_layer() {
    // 1.2 s handlers, 2 s left, 8 slots: 0..8 run 0 → 1.2 s; 8..16 start at
    // 1.2 s (0.8 s left) and are cancelled at 1.5 s, when only the 500 ms
    // margin is left; 16..20 never start.
    let (app, started) = sleeper(8, Duration::from_secs(2));
    let start = Instant::now();

    let out = app.send(sleeping(20, 1_200)).await;

    assert_eq!(
        start.elapsed(),
        Duration::from_millis(1_500),
        "answered 500 ms before the deadline"
    );
    assert_eq!(out.done(), ids(0..8));
    assert_eq!(cancelled(&out), ids(8..16));
    assert_eq!(not_started(&out), ids(16..20));
    assert_eq!(out.batch_item_failures(), ids(8..20));
    assert_eq!(started.load(Ordering::SeqCst), 16);
    let c = failure(&out, "m-8")
        .error
        .downcast_ref::<Cancelled>()
        .unwrap();
    assert_eq!(c.ran_for(), Duration::from_millis(300));

    // The cancelled records' idempotency locks are released (by a task the
    // dropped call spawned): only the done records keep one, and a
    // redelivery runs at once.
    tokio::task::yield_now().await;
    let mut kept: Vec<String> = (0..8).map(|i| format!("Job#k-{i}")).collect();
    kept.sort();
    assert_eq!(app.idempotency().keys(), kept);
    assert_eq!(app.idempotency().completed_keys(), kept);
    let again = app
        .send(sqs::batch([sqs::message(body("k-8", 1_200)).id("m-8")]))
        .await;
    again.assert_all_done();
    assert_eq!(app.idempotency().acquired("Job#k-8"), 2);
}

#[tokio::test(start_paused = true)]
async fn a_deadline_with_1000_slow_records_and_2s_left() {
    // 400 ms records, 8 slots: rounds start at 0, 0.4, 0.8 and 1.2 s; the
    // last is cancelled at 1.5 s; the other 968 are not started.
    let (app, started) = sleeper(8, Duration::from_secs(2));
    let batch = sleeping(1_000, 400);
    let start = Instant::now();

    let out = app.send(&batch).await;

    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(start.elapsed(), Duration::from_millis(1_500));
    assert_eq!(started.load(Ordering::SeqCst), 32);
    assert_eq!(out.done(), ids(0..24));
    assert_eq!(cancelled(&out), ids(24..32));
    assert_eq!(not_started(&out), ids(32..1_000));
    // Every record once, in input order; the response names every failure.
    let all: Vec<&str> = out.records().iter().map(|o| o.record_id()).collect();
    assert_eq!(all, ids(0..1_000));
    assert_eq!(out.batch_item_failures(), ids(24..1_000));
}

#[tokio::test(start_paused = true)]
async fn a_deadline_of_0ms_or_already_past() {
    let (app, started) = sleeper(8, Duration::ZERO);
    let batch = sleeping(5, 10);

    // 0 ms left, through the Lambda path.
    let out = app.send(&batch).await;
    assert_eq!(not_started(&out), ids(0..5));
    assert_eq!(out.batch_item_failures(), ids(0..5));

    // A deadline already past.
    for past in [Duration::from_millis(1), Duration::from_secs(60)] {
        let inv = Invocation::new("r-past").with_deadline(Instant::now() - past);
        let report = app
            .app()
            .process(SourceEvent::Sqs(batch.typed()), &inv)
            .await;
        assert_eq!(report.failed(), 5);
        assert!(report.outcomes.iter().all(|o| matches!(&o.status,
            Status::Failed(f) if f.error.is::<NotStarted>() && f.retry.is_retryable() && !f.attempted)));
    }
    assert_eq!(started.load(Ordering::SeqCst), 0, "nothing started");
    assert!(app.idempotency().calls().is_empty(), "no lock taken");
}

#[tokio::test(start_paused = true)]
async fn a_panic_on_every_7th_record_of_10000() {
    quiet_panics();
    let app = TestApp::new(|_| {
        let bus = Bus::builder()
            .on(handler_fn(|j: Envelope<Job>| async move {
                if j.n % 7 == 0 {
                    std::panic::panic_any(HANDLER_BUG);
                }
                Ok::<_, HandlerError>(j.n)
            }))
            .build();
        App::builder(router(), bus)
    });
    let batch =
        sqs::batch((1..=10_000u64).map(|n| sqs::message(body("k", n)).id(format!("m-{n}"))));

    let out = app.send(&batch).await;

    let sevens: Vec<String> = (1..=10_000u64)
        .filter(|n| n % 7 == 0)
        .map(|n| format!("m-{n}"))
        .collect();
    assert_eq!(sevens.len(), 1_428);
    assert_eq!(out.batch_item_failures(), sevens);
    assert!(all_failed_with::<HandlerPanic>(&out, &sevens));
    assert_eq!(out.done().len(), 10_000 - 1_428);

    // The same process serves the next invocation.
    let next = app
        .send(sqs::batch([
            sqs::message(body("k", 1)).id("a"),
            sqs::message(body("k", 2)).id("b"),
        ]))
        .await;
    next.assert_all_done();
    assert_eq!(next.output("b"), Some(&serde_json::json!(2)));
}

#[tokio::test(start_paused = true)]
async fn fifo_three_groups_interleaved_one_failure_in_b() {
    let ran: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = ran.clone();
    let app = TestApp::new(|_| {
        let bus = Bus::builder()
            .on(handler_fn(move |j: Envelope<Job>| {
                let seen = seen.clone();
                async move {
                    seen.lock().unwrap().push(j.key.clone());
                    if j.key == "B2" {
                        return Err(HandlerError::retryable("B2 is not ready"));
                    }
                    Ok::<_, HandlerError>(())
                }
            }))
            .build();
        App::builder(router(), bus)
    });
    let fifo = |key: &str| sqs::fifo(body(key, 0), &key[..1]).id(key);
    let batch = sqs::batch(["A1", "B1", "C1", "A2", "B2", "C2", "A3", "B3", "C3", "B4"].map(fifo));

    let out = app.send(&batch).await;

    assert_eq!(out.batch_item_failures(), ["B2", "B3", "B4"]);
    assert!(failure(&out, "B2").attempted);
    for later in ["B3", "B4"] {
        assert!(
            !failure(&out, later).attempted,
            "{later} ran after B2 failed"
        );
    }
    assert_eq!(out.done(), ["A1", "B1", "C1", "A2", "C2", "A3", "C3"]);
    let ran_b: Vec<String> = ran
        .lock()
        .unwrap()
        .iter()
        .filter(|k| k.starts_with('B'))
        .cloned()
        .collect();
    assert_eq!(ran_b, ["B1", "B2"], "B ran in order and stopped");

    // The next invocation: group B starts afresh.
    ran.lock().unwrap().clear();
    let next = app
        .send(sqs::batch(["B3", "A4", "B4", "C4"].map(fifo)))
        .await;
    next.assert_all_done();
    let ran = ran.lock().unwrap().clone();
    assert_eq!(ran.len(), 4);
    let b: Vec<&String> = ran.iter().filter(|k| k.starts_with('B')).collect();
    assert_eq!(b, ["B3", "B4"]);
}
