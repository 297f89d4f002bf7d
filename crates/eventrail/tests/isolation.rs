//! One bad record fails only itself: panics, deadlines and fan-out.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use eventrail::app::{Cancelled, HandlerPanic, Invocation, NotStarted, SourceEvent, Status};
use eventrail::bus::FanOutError;
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Job {
    n: u32,
}

fn batch(ns: &[u32]) -> SqsEvent {
    let mut e = SqsEvent::default();
    for n in ns {
        let mut m = SqsMessage::default();
        m.message_id = Some(format!("m{n}"));
        m.body = Some(format!(r#"{{"type":"JOB","n":{n}}}"#));
        e.records.push(m);
    }
    e
}

fn router() -> Router {
    Router::new().sqs("type", "JOB").to::<Job>()
}

#[tokio::test]
async fn a_panicking_handler_fails_only_its_record() {
    let bus = Bus::builder()
        .on(handler_fn(|j: Envelope<Job>| async move {
            if j.n == 2 {
                panic!("job {} exploded", j.n);
            }
            Ok::<_, HandlerError>(j.n)
        }))
        .build();
    let app = App::builder(router(), bus).build().unwrap();
    let report = app
        .process(SourceEvent::Sqs(batch(&[1, 2, 3])), &Invocation::default())
        .await;
    assert_eq!(report.failed_ids().collect::<Vec<_>>(), ["m2"]);
    let Status::Failed(f) = &report.outcomes[1].status else {
        unreachable!()
    };
    let panic = f.error.downcast_ref::<HandlerPanic>().unwrap();
    assert_eq!(panic.message(), "job 2 exploded");
    assert!(!f.retry.is_retryable());
    assert!(matches!(&report.outcomes[2].status, Status::Done(v) if v == 3));

    // The app keeps serving after a panic.
    let again = app
        .process(SourceEvent::Sqs(batch(&[4])), &Invocation::default())
        .await;
    assert_eq!(again.failed(), 0);
}

#[tokio::test(start_paused = true)]
async fn records_are_not_started_when_the_deadline_is_too_close() {
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    let bus = Bus::builder()
        .on(handler_fn(move |_: Envelope<Job>| {
            let s = s.clone();
            async move {
                s.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(1)).await;
                Ok::<_, HandlerError>(())
            }
        }))
        .build();
    // One record at a time, so the clock moves between records.
    let app = App::builder(router(), bus)
        .concurrency(1)
        .deadline_margin(Duration::from_millis(500))
        .build()
        .unwrap();
    let inv = Invocation::new("req-1")
        .with_deadline(tokio::time::Instant::now() + Duration::from_millis(2_200));
    let report = app
        .process(SourceEvent::Sqs(batch(&[1, 2, 3, 4])), &inv)
        .await;
    // t=0 start m1, t=1 start m2 (1.2 s left), cancelled at t=1.7 when only
    // the margin is left; m3 and m4 are not started.
    assert_eq!(started.load(Ordering::SeqCst), 2);
    assert_eq!(report.failed_ids().collect::<Vec<_>>(), ["m2", "m3", "m4"]);
    let Status::Failed(f) = &report.outcomes[1].status else {
        unreachable!()
    };
    let cancelled = f.error.downcast_ref::<Cancelled>().unwrap();
    assert_eq!(cancelled.ran_for(), Duration::from_millis(700));
    assert!(f.retry.is_retryable() && f.attempted);
    let Status::Failed(f) = &report.outcomes[3].status else {
        unreachable!()
    };
    assert!(f.error.downcast_ref::<NotStarted>().unwrap().is_deadline());
    assert!(f.retry.is_retryable() && !f.attempted);
}

#[tokio::test]
async fn the_deadline_reaches_every_envelope() {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let bus = Bus::builder()
        .on(handler_fn(move |j: Envelope<Job>| async move {
            assert_eq!(j.meta().deadline(), Some(deadline));
            Ok::<_, HandlerError>(())
        }))
        .build();
    let app = App::builder(router(), bus).build().unwrap();
    let inv = Invocation::new("req").with_deadline(deadline);
    let report = app.process(SourceEvent::Sqs(batch(&[1])), &inv).await;
    assert_eq!(report.failed(), 0, "{report:?}");
}

#[tokio::test]
async fn fan_out_all_handlers_run_and_all_must_succeed() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (a, b) = (calls.clone(), calls.clone());
    let bus = Bus::builder()
        .on_named(
            "audit",
            handler_fn(move |_: Envelope<Job>| {
                let a = a.clone();
                async move {
                    a.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, HandlerError>(())
                }
            }),
        )
        .on_named(
            "inventory",
            handler_fn(move |j: Envelope<Job>| {
                let b = b.clone();
                async move {
                    b.fetch_add(1, Ordering::SeqCst);
                    if j.n == 2 {
                        return Err(HandlerError::retryable("inventory busy"));
                    }
                    Ok(())
                }
            }),
        )
        .build();
    let app = App::builder(router(), bus).build().unwrap();
    let report = app
        .process(SourceEvent::Sqs(batch(&[1, 2])), &Invocation::default())
        .await;
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!(report.failed_ids().collect::<Vec<_>>(), ["m2"]);
    let Status::Failed(f) = &report.outcomes[1].status else {
        unreachable!()
    };
    let fan = f.error.downcast_ref::<FanOutError>().unwrap();
    assert_eq!(
        fan.failures().map(|(n, _)| n).collect::<Vec<_>>(),
        ["inventory"]
    );
    assert!(f.retry.is_retryable());
}
