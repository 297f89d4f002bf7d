//! The fault table (issue 11), dependency faults: one test per row, on the
//! testkit's fakes with fault injection and tokio's paused clock.
//!
//! | fault | expected | test |
//! |---|---|---|
//! | SNS down while alarming | the handler's error still reported; the alarm failure counted | [`sns_down_while_alarming`] |
//! | Step Functions rejects the token (timed out) after a successful handler | reported once, not retried | [`step_functions_rejects_the_token_after_a_successful_handler`] |
//! | idempotency store unavailable | fail closed by default (retryable, nothing runs) | [`idempotency_store_unavailable_fails_closed_by_default`] |
//! | idempotency store unavailable, fail open | runs unprotected, counted | [`idempotency_store_unavailable_fails_open_when_configured`] |
//! | the same key twice in one batch, concurrently | runs once; the other retried, then answered from the store | [`the_same_idempotency_key_twice_in_one_batch`] |
//! | a handler panics holding the in-progress lock | lock released at once; alarm and dead letter see a `HandlerPanic` | [`a_handler_panics_while_holding_the_in_progress_lock`] |
//! | the store fails on `complete` after success | retried with backoff; then counted, the record done | [`the_store_fails_on_complete_after_a_successful_handler`] |
//! | a dependency that succeeds on the third try | exactly three calls, waits of exactly 1 s and 2 s | [`a_dependency_that_succeeds_on_the_third_try`] |
//! | a whole batch delivered twice | no side effect runs twice | [`a_whole_batch_delivered_twice`] |
//!
//! The deadline, panic and FIFO rows are in `faults_batches.rs`.

mod faults_common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventrail::app::HandlerPanic;
use eventrail::layers::idempotency::{IdempotencyError, OnStoreError};
use eventrail::layers::task_token::TaskTokenError;
use eventrail::layers::{DeadLetterLayer, IdempotencyLayer, RetryPolicy, ServiceBuilderExt};
use eventrail::ports::{Email, IdempotencyStatus, SnsMessage};
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
use eventrail_testkit::fakes::{Fault, IdempotencyCall, SfnCall, TaskOptions};
use eventrail_testkit::{sqs, Fakes, TestApp};
use faults_common::*;
use serde_json::json;
use tokio::time::Instant;
use tower::{Layer, ServiceBuilder};

/// The idempotency layer the tests use: keyed by the job's key, on the test clock.
fn idempotency(f: &Fakes) -> IdempotencyLayer<Job> {
    IdempotencyLayer::new(f.idempotency_store(), |j: &Envelope<Job>| {
        Some(j.key.clone())
    })
    .with_clock(f.clock())
}

#[tokio::test(start_paused = true)]
async fn sns_down_while_alarming() {
    let fakes = Fakes::new();
    let alarms = fakes.alarm_service(ALARMS);
    let handler = ServiceBuilder::new()
        .alarm(alarms.clone(), "JobHandler")
        .service(handler_fn(|_: Envelope<Job>| async {
            Err::<(), _>(HandlerError::permanent("the warehouse rejected the job"))
        }));
    let app = App::builder(router(), Bus::builder().on(handler).build())
        .build()
        .unwrap();
    let app = TestApp::from_parts(app, fakes);
    app.sns().fail_next(1, Fault::internal());

    let out = app.send(sqs::batch([job("m-1", "k-1")])).await;

    // The handler's own error is what the record reports.
    assert_eq!(out.batch_item_failures(), ["m-1"]);
    let f = failure(&out, "m-1");
    assert!(f.error.is::<HandlerError>(), "{}", f.error);
    assert_eq!(f.error.to_string(), "the warehouse rejected the job");
    assert!(!f.retry.is_retryable());
    // The alarm was tried once, failed, and was counted.
    let calls = app.sns().calls();
    assert_eq!(calls.len(), 1);
    assert!(!calls[0].is_ok());
    assert!(app.sns().published_to(ALARMS).is_empty());
    assert_eq!(alarms.failed_publishes(), 1);

    // SNS is back: the next failure alarms, the count stays.
    let out = app.send(sqs::batch([job("m-2", "k-2")])).await;
    assert_eq!(out.batch_item_failures(), ["m-2"]);
    assert_eq!(app.sns().published_to(ALARMS).len(), 1);
    assert_eq!(alarms.failed_publishes(), 1);
}

#[tokio::test(start_paused = true)]
async fn step_functions_rejects_the_token_after_a_successful_handler() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let app = TestApp::new(|f| {
        let handler = ServiceBuilder::new()
            .task_token(f.task_callbacks())
            .retries(RetryPolicy::default())
            .service(handler_fn(move |j: Envelope<Job>| {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    // Longer than the task's timeout.
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    Ok::<_, HandlerError>(json!({"key": j.key}))
                }
            }));
        App::builder(
            Router::new().step_function("JOB").to::<Job>(),
            Bus::builder().on(handler).build(),
        )
    });
    let (token, task) = app.sfn().task_with(
        json!({"type": "JOB", "payload": {"key": "k-1"}}),
        TaskOptions::new().timeout(Duration::from_secs(1)),
    );

    let out = app.send(task).await;

    assert!(out.invocation_error().is_some(), "{out:?}");
    let f = failure(&out, out.records()[0].record_id());
    let e = f
        .error
        .downcast_ref::<TaskTokenError>()
        .expect("a TaskTokenError");
    assert!(e.is_callback_failed());
    assert!(!f.retry.is_retryable(), "a timed-out token is permanent");
    // One handler run, one SendTaskSuccess: nothing retried.
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let calls = app.sfn().calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(matches!(&calls[0].request, SfnCall::Success { token: t, .. } if *t == token));
    assert_eq!(
        calls[0].error.as_ref().unwrap().code.as_deref(),
        Some("TaskTimedOut")
    );
    assert!(app.sfn().timed_out(&token));
}

#[tokio::test(start_paused = true)]
async fn idempotency_store_unavailable_fails_closed_by_default() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let app = TestApp::new(|f| {
        let handler = idempotency(f).layer(handler_fn(move |_: Envelope<Job>| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, HandlerError>(()) }
        }));
        App::builder(router(), Bus::builder().on(handler).build())
    });
    app.idempotency().fail_when(
        |c| matches!(c, IdempotencyCall::TryLock { .. }),
        Fault::internal(),
    );
    // A store that says "permanent" (access denied) fails the record
    // retryably too: the handler did not run, so a redelivery is safe.
    let batch = sqs::batch([job("m-1", "k-1"), job("m-2", "k-2")]);
    app.idempotency().fail_next(1, Fault::access_denied());

    let out = app.send(&batch).await;

    assert_eq!(out.batch_item_failures(), ["m-1", "m-2"]);
    for id in ["m-1", "m-2"] {
        let f = failure(&out, id);
        let e = f.error.downcast_ref::<IdempotencyError>().unwrap();
        assert!(e.is_store());
        assert!(f.retry.is_retryable(), "{id}: {}", f.error);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 0, "nothing ran unprotected");

    // The store is back: the redelivery runs each once.
    app.idempotency().clear_faults();
    let out = app.send(&batch).await;
    out.assert_all_done();
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(app.idempotency().completed_keys(), ["Job#k-1", "Job#k-2"]);
}

#[tokio::test(start_paused = true)]
async fn idempotency_store_unavailable_fails_open_when_configured() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let fakes = Fakes::new();
    let layer = idempotency(&fakes).on_store_error(OnStoreError::FailOpen);
    let handler = layer.layer(handler_fn(move |_: Envelope<Job>| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, HandlerError>(()) }
    }));
    let app = App::builder(router(), Bus::builder().on(handler).build())
        .build()
        .unwrap();
    let app = TestApp::from_parts(app, fakes);
    app.idempotency().fail_when(
        |c| matches!(c, IdempotencyCall::TryLock { .. }),
        Fault::internal(),
    );

    let out = app
        .send(sqs::batch([job("m-1", "k-1"), job("m-2", "k-2")]))
        .await;

    out.assert_all_done();
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(layer.unprotected_runs(), 2);
    // Nothing was stored, nothing completed: the store was down.
    assert!(app.idempotency().keys().is_empty());
    assert!(app
        .idempotency()
        .calls()
        .iter()
        .all(|c| matches!(c.request, IdempotencyCall::TryLock { .. }) && !c.is_ok()));
}

#[tokio::test(start_paused = true)]
async fn the_same_idempotency_key_twice_in_one_batch() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let app = TestApp::new(|f| {
        let sns = f.notifier();
        let handler = idempotency(f).layer(handler_fn(move |j: Envelope<Job>| {
            let (counted, sns) = (counted.clone(), sns.clone());
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                sns.publish(SnsMessage::new(SHIPPED, j.key.clone())).await?;
                Ok::<_, HandlerError>(format!("shipped {}", j.key))
            }
        }));
        App::builder(router(), Bus::builder().on(handler).build())
    });

    let out = app
        .send(sqs::batch([job("m-1", "k"), job("m-2", "k")]))
        .await;

    // m-1 took the lock; m-2 found it in progress and is redelivered.
    assert_eq!(out.done(), ["m-1"]);
    assert_eq!(out.batch_item_failures(), ["m-2"]);
    let f = failure(&out, "m-2");
    assert!(f
        .error
        .downcast_ref::<IdempotencyError>()
        .is_some_and(IdempotencyError::is_in_progress));
    assert!(f.retry.is_retryable());

    // The redelivery is answered from the store.
    let again = app.send(sqs::batch([job("m-2", "k")])).await;
    again.assert_all_done();
    assert_eq!(again.output("m-2"), Some(&json!("shipped k")));
    assert_eq!(again.duplicates(), 1);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(app.sns().published_to(SHIPPED).len(), 1, "one side effect");
}

#[tokio::test(start_paused = true)]
async fn a_handler_panics_while_holding_the_in_progress_lock() {
    quiet_panics();
    let panicked = Arc::new(AtomicBool::new(false));
    let flag = panicked.clone();
    let letters = Letters::new();
    let sink = letters.clone();
    let app = TestApp::new(|f| {
        let handler = ServiceBuilder::new()
            .alarm(f.alarm_service(ALARMS), "JobHandler")
            .layer(DeadLetterLayer::new(sink))
            .layer(idempotency(f))
            .service(handler_fn(move |j: Envelope<Job>| {
                let flag = flag.clone();
                async move {
                    // The first delivery hits a bug; later ones succeed.
                    if !flag.swap(true, Ordering::SeqCst) {
                        std::panic::panic_any(HANDLER_BUG);
                    }
                    Ok::<_, HandlerError>(j.n)
                }
            }));
        App::builder(router(), Bus::builder().on(handler).build())
    });
    let batch = sqs::batch([sqs::message(body("k-1", 7)).id("m-1")]);

    let out = app.send(&batch).await;

    assert_eq!(out.batch_item_failures(), ["m-1"]);
    let f = failure(&out, "m-1");
    let p = f
        .error
        .downcast_ref::<HandlerPanic>()
        .expect("a HandlerPanic");
    assert_eq!(p.message(), HANDLER_BUG);
    assert!(!f.retry.is_retryable() && f.attempted);
    // The lock is gone at once, not in progress until the deadline.
    assert_eq!(app.idempotency().record("Job#k-1"), None);
    let calls: Vec<IdempotencyCall> = app
        .idempotency()
        .calls()
        .into_iter()
        .map(|c| c.request)
        .collect();
    assert!(matches!(
        calls.as_slice(),
        [IdempotencyCall::TryLock { .. }, IdempotencyCall::Delete { key }] if key == "Job#k-1"
    ));
    // The alarm and dead-letter layers saw the panic.
    let alarms = app.sns().published_to(ALARMS);
    assert_eq!(alarms.len(), 1);
    let alarm: serde_json::Value = serde_json::from_str(&alarms[0].message).unwrap();
    assert_eq!(alarm["message"], "handler panicked: handler bug");
    assert_eq!(
        letters.get(),
        [("m-1".to_owned(), "handler panicked: handler bug".to_owned())]
    );

    // Redelivered right away (no clock advance): it runs, and is done.
    let again = app.send(&batch).await;
    again.assert_all_done();
    assert_eq!(again.output("m-1"), Some(&json!(7)));
    assert_eq!(app.idempotency().completed_keys(), ["Job#k-1"]);
}

/// `complete` fails for the first `fail` calls; the instants of every
/// `complete` call are kept.
fn failing_completes(app: &TestApp, fail: usize) -> Arc<Mutex<Vec<Instant>>> {
    let at: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let seen = at.clone();
    app.idempotency().fail_when(
        move |c| {
            if !matches!(c, IdempotencyCall::Complete { .. }) {
                return false;
            }
            let mut seen = seen.lock().unwrap();
            seen.push(Instant::now());
            seen.len() <= fail
        },
        Fault::throttled(),
    );
    at
}

#[tokio::test(start_paused = true)]
async fn the_store_fails_on_complete_after_a_successful_handler() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let fakes = Fakes::new();
    let layer = idempotency(&fakes);
    let handler = layer.layer(handler_fn(move |j: Envelope<Job>| {
        counted.fetch_add(1, Ordering::SeqCst);
        async move { Ok::<_, HandlerError>(j.n) }
    }));
    let app = App::builder(router(), Bus::builder().on(handler).build())
        .build()
        .unwrap();
    let app = TestApp::from_parts(app, fakes)
        .with_context(eventrail_testkit::lambda::context().time_left(Duration::from_secs(30)));

    // Fails twice, then stores: waits of exactly 100 ms and 200 ms.
    let at = failing_completes(&app, 2);
    let out = app
        .send(sqs::batch([sqs::message(body("k-1", 1)).id("m-1")]))
        .await;
    out.assert_all_done();
    let at = at.lock().unwrap().clone();
    let waits: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(
        waits,
        [Duration::from_millis(100), Duration::from_millis(200)]
    );
    let rec = app.idempotency().record("Job#k-1").unwrap();
    assert_eq!(rec.status, IdempotencyStatus::Completed);
    assert_eq!(layer.unrecorded_results(), 0);

    // Fails every time: three attempts, then the record is done (its side
    // effect happened) and the lost result counted.
    app.idempotency().clear_faults();
    let at = failing_completes(&app, usize::MAX);
    let batch = sqs::batch([sqs::message(body("k-2", 2)).id("m-2")]);
    let out = app.send(&batch).await;
    out.assert_all_done();
    assert_eq!(out.output("m-2"), Some(&json!(2)));
    assert_eq!(at.lock().unwrap().len(), 3);
    assert_eq!(layer.unrecorded_results(), 1);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    // The documented case: the lock stays in progress until the deadline, so
    // a duplicate meanwhile is told to come back...
    let rec = app.idempotency().record("Job#k-2").unwrap();
    assert_eq!(rec.status, IdempotencyStatus::InProgress);
    let dup = app.send(&batch).await;
    assert!(failure(&dup, "m-2")
        .error
        .downcast_ref::<IdempotencyError>()
        .is_some_and(IdempotencyError::is_in_progress));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    // ...and one after it runs the handler again.
    app.advance(Duration::from_secs(30)).await;
    app.idempotency().clear_faults();
    app.send(&batch).await.assert_all_done();
    assert_eq!(runs.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn a_dependency_that_succeeds_on_the_third_try() {
    let at: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let seen = at.clone();
    let app = TestApp::new(|f| {
        let mailer = f.mailer();
        let handler = ServiceBuilder::new()
            .retries(RetryPolicy::default())
            .service(handler_fn(move |j: Envelope<Job>| {
                let (mailer, seen) = (mailer.clone(), seen.clone());
                async move {
                    seen.lock().unwrap().push(Instant::now());
                    let mail =
                        Email::text("shop@example.com", "ann@example.com", "Job", j.key.as_str());
                    mailer.send(mail).await?;
                    Ok::<_, HandlerError>(())
                }
            }));
        App::builder(router(), Bus::builder().on(handler).build())
    });
    app.ses().fail_next(2, Fault::throttled());
    let start = Instant::now();

    let out = app.send(sqs::batch([job("m-1", "k-1")])).await;

    out.assert_all_done();
    assert_eq!(app.ses().calls().len(), 3, "exactly three calls");
    assert_eq!(app.ses().sent_to("ann@example.com").len(), 1);
    let at = at.lock().unwrap().clone();
    let offsets: Vec<Duration> = at.iter().map(|t| *t - start).collect();
    assert_eq!(
        offsets,
        [
            Duration::ZERO,
            Duration::from_secs(1),
            Duration::from_secs(3)
        ],
        "backoff 1 s, then 2 s"
    );
    assert_eq!(out.records()[0].meta.attempt(), 3);
    assert_eq!(out.retried(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_whole_batch_delivered_twice() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let app = TestApp::new(|f| {
        let sns = f.notifier();
        let handler = idempotency(f).layer(handler_fn(move |j: Envelope<Job>| {
            let (counted, sns) = (counted.clone(), sns.clone());
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                sns.publish(SnsMessage::new(SHIPPED, j.key.clone())).await?;
                Ok::<_, HandlerError>(j.n)
            }
        }));
        App::builder(router(), Bus::builder().on(handler).build())
    });
    let batch = sqs::batch((0..50).map(|n| sqs::message(body(&format!("k-{n}"), n))));

    let first = app.send(&batch).await;
    let second = app.send(&batch).await;

    first.assert_all_done();
    second.assert_all_done();
    assert_eq!(runs.load(Ordering::SeqCst), 50);
    assert_eq!(
        app.sns().published_to(SHIPPED).len(),
        50,
        "each side effect once"
    );
    assert_eq!((first.duplicates(), second.duplicates()), (0, 50));
    for n in 0..50u64 {
        let id = batch.message_ids()[n as usize].clone();
        assert_eq!(second.output(&id), Some(&json!(n)), "the stored result");
    }
}
