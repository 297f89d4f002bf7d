//! How `App` schedules records: slots free as records finish, whatever their
//! order, and the deadline cut-off. On a paused clock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use eventrail::app::{Invocation, NotStarted, SourceEvent, Status};
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
use serde::Deserialize;
use tokio::time::Instant;

#[derive(Debug, Deserialize)]
struct Job {
    n: u32,
    sleep_ms: u64,
}

fn batch(sleeps: impl IntoIterator<Item = u64>) -> SqsEvent {
    let mut e = SqsEvent::default();
    for (n, sleep_ms) in sleeps.into_iter().enumerate() {
        let mut m = SqsMessage::default();
        m.message_id = Some(format!("m{n}"));
        m.body = Some(format!(r#"{{"type":"JOB","n":{n},"sleep_ms":{sleep_ms}}}"#));
        e.records.push(m);
    }
    e
}

/// An app whose handler sleeps as the job says; counts the jobs started.
fn job_app(concurrency: usize, margin: Duration) -> (App, Arc<AtomicUsize>) {
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    let bus = Bus::builder()
        .on(handler_fn(move |j: Envelope<Job>| {
            let s = s.clone();
            async move {
                s.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(j.sleep_ms)).await;
                Ok::<_, HandlerError>(j.n)
            }
        }))
        .build();
    let app = App::builder(Router::new().sqs("type", "JOB").to::<Job>(), bus)
        .concurrency(concurrency)
        .deadline_margin(margin)
        .build()
        .unwrap();
    (app, started)
}

fn in_ms(ms: u64) -> Invocation {
    Invocation::new("req").with_deadline(Instant::now() + Duration::from_millis(ms))
}

#[tokio::test(start_paused = true)]
async fn a_thousand_quick_records_share_eight_slots() {
    let (app, started) = job_app(8, Duration::from_millis(500));
    let start = Instant::now();
    let report = app
        .process(SourceEvent::Sqs(batch(vec![10; 1_000])), &in_ms(2_000))
        .await;
    assert_eq!(report.done(), 1_000);
    assert_eq!(started.load(Ordering::SeqCst), 1_000);
    // 125 rounds of 10 ms.
    assert_eq!(start.elapsed(), Duration::from_millis(1_250));
}

#[tokio::test(start_paused = true)]
async fn a_slow_record_never_stops_the_others_from_starting() {
    let (app, started) = job_app(8, Duration::from_millis(500));
    let start = Instant::now();
    let sleeps = std::iter::once(1_800).chain(std::iter::repeat_n(10, 999));
    let report = app
        .process(SourceEvent::Sqs(batch(sleeps)), &in_ms(2_500))
        .await;
    // Seven slots run the 999 quick records (143 rounds of 10 ms, the last
    // started at 1.42 s) while the eighth runs the slow one, which ends
    // before the cut-off at 2 s (where it would be cancelled).
    assert_eq!(report.failed(), 0, "{:?}", report.failed_ids().next());
    assert_eq!(report.done(), 1_000);
    assert_eq!(started.load(Ordering::SeqCst), 1_000);
    assert_eq!(start.elapsed(), Duration::from_millis(1_800));
    // Outcomes come back in input order.
    let ids: Vec<String> = report
        .outcomes
        .iter()
        .map(|o| o.record_id().to_owned())
        .collect();
    let expected: Vec<String> = (0..1_000).map(|n| format!("m{n}")).collect();
    assert_eq!(ids, expected);
    assert!(matches!(&report.outcomes[0].status, Status::Done(v) if v == 0));
    assert!(matches!(&report.outcomes[999].status, Status::Done(v) if v == 999));
}

fn is_deadline(status: &Status) -> bool {
    matches!(status, Status::Failed(f)
        if f.error.downcast_ref::<NotStarted>().is_some_and(NotStarted::is_deadline))
}

#[tokio::test(start_paused = true)]
async fn with_exactly_the_margin_left_nothing_starts() {
    let (app, started) = job_app(1, Duration::from_millis(500));
    let report = app
        .process(SourceEvent::Sqs(batch([10, 10])), &in_ms(500))
        .await;
    assert_eq!(started.load(Ordering::SeqCst), 0);
    assert!(report.outcomes.iter().all(|o| is_deadline(&o.status)));
}

#[tokio::test(start_paused = true)]
async fn with_no_margin_a_record_never_starts_with_no_time_left() {
    let (app, started) = job_app(1, Duration::ZERO);
    // The first record takes exactly the time there is; the second would
    // start with nothing left.
    let report = app
        .process(SourceEvent::Sqs(batch([100, 10])), &in_ms(100))
        .await;
    assert_eq!(started.load(Ordering::SeqCst), 1);
    assert!(matches!(report.outcomes[0].status, Status::Done(_)));
    assert!(is_deadline(&report.outcomes[1].status));

    // A deadline already reached starts nothing.
    let (app, started) = job_app(1, Duration::ZERO);
    let report = app.process(SourceEvent::Sqs(batch([10])), &in_ms(0)).await;
    assert_eq!(started.load(Ordering::SeqCst), 0);
    assert!(is_deadline(&report.outcomes[0].status));
}
