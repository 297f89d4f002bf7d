//! The retry layer on a paused clock: backoff sequence, permanent errors,
//! the deadline, attempt numbers.

mod layers_support;

use std::time::Duration;

use eventrail::layers::{Jitter, RetryLayer, RetryPolicy, ServiceBuilderExt};
use eventrail::{handler_fn, Envelope, HandlerError};
use layers_support::{env, CallLog};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

/// A handler that fails with `fail` until `succeed_on` (an attempt number).
fn flaky(
    log: CallLog,
    succeed_on: u32,
    permanent: bool,
) -> impl Service<
    Envelope<&'static str>,
    Response = String,
    Error = HandlerError,
    Future = impl std::future::Future<Output = Result<String, HandlerError>> + Send,
> + Clone {
    handler_fn(move |e: Envelope<&'static str>| {
        let log = log.clone();
        async move {
            let attempt = e.meta().attempt();
            log.record(attempt);
            if attempt >= succeed_on {
                Ok(format!("{} done on {attempt}", e.event()))
            } else if permanent {
                Err(HandlerError::permanent("bad input"))
            } else {
                Err(HandlerError::retryable("busy"))
            }
        }
    })
}

#[tokio::test(start_paused = true)]
async fn default_policy_waits_one_then_two_seconds() {
    let log = CallLog::new();
    let mut svc = RetryLayer::new(RetryPolicy::default()).layer(flaky(log.clone(), 99, false));
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(env("x", "m-1"))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "busy");
    assert!(
        err.is::<HandlerError>(),
        "the last error comes back unchanged"
    );
    assert_eq!(log.calls(), [(1, 0), (2, 1_000), (3, 3_000)]);
}

#[tokio::test(start_paused = true)]
async fn exact_backoff_sequence_with_cap() {
    let log = CallLog::new();
    let policy = RetryPolicy::new()
        .with_max_attempts(6)
        .with_initial_backoff(Duration::from_millis(100))
        .with_multiplier(3.0)
        .with_max_backoff(Duration::from_millis(1_000));
    let mut svc = ServiceBuilder::new()
        .retries(policy)
        .service(flaky(log.clone(), 99, false));
    svc.ready()
        .await
        .unwrap()
        .call(env("x", "m-1"))
        .await
        .unwrap_err();
    // Waits: 100, 300, 900, 1000 (capped), 1000.
    assert_eq!(
        log.calls(),
        [
            (1, 0),
            (2, 100),
            (3, 400),
            (4, 1_300),
            (5, 2_300),
            (6, 3_300)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn succeeds_on_a_later_attempt_and_numbers_attempts() {
    let log = CallLog::new();
    let mut svc = RetryLayer::new(RetryPolicy::default()).layer(flaky(log.clone(), 2, false));
    let out = svc
        .ready()
        .await
        .unwrap()
        .call(env("x", "m-1"))
        .await
        .unwrap();
    assert_eq!(out, "x done on 2");
    assert_eq!(log.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn attempts_count_on_from_the_envelope() {
    let log = CallLog::new();
    let mut svc = RetryLayer::new(RetryPolicy::default()).layer(flaky(log.clone(), 99, false));
    let mut e = env("x", "m-1");
    e.meta_mut().set_attempt(4); // e.g. the fourth delivery of an SQS message
    svc.ready().await.unwrap().call(e).await.unwrap_err();
    assert_eq!(log.calls(), [(4, 0), (5, 1_000), (6, 3_000)]);
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_are_never_retried() {
    let log = CallLog::new();
    let start = Instant::now();
    let mut svc = RetryLayer::new(RetryPolicy::default().with_max_attempts(10)).layer(flaky(
        log.clone(),
        99,
        true,
    ));
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(env("x", "m-1"))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "bad input");
    assert_eq!(log.count(), 1);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn unclassified_errors_are_retried() {
    let log = CallLog::new();
    let inner = {
        let log = log.clone();
        handler_fn(move |e: Envelope<()>| {
            log.record(e.meta().attempt());
            async { Err::<(), std::io::Error>(std::io::Error::other("reset")) }
        })
    };
    let mut svc = RetryLayer::new(RetryPolicy::default()).layer(inner);
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(env((), "m"))
        .await
        .unwrap_err();
    assert!(err.is::<std::io::Error>());
    assert_eq!(log.count(), 3);
}

#[tokio::test(start_paused = true)]
async fn never_sleeps_past_the_deadline() {
    let log = CallLog::new();
    let start = Instant::now();
    let mut svc = RetryLayer::new(RetryPolicy::default().with_max_attempts(10)).layer(flaky(
        log.clone(),
        99,
        false,
    ));
    let mut e = env("x", "m-1");
    // Attempts at 0 s, 1 s, 3 s; the next would start at 7 s, past 6.5 s.
    e.meta_mut()
        .set_deadline(Some(start + Duration::from_millis(6_500)));
    let err = svc.ready().await.unwrap().call(e).await.unwrap_err();
    assert_eq!(err.to_string(), "busy");
    assert_eq!(log.calls(), [(1, 0), (2, 1_000), (3, 3_000)]);
    assert_eq!(start.elapsed(), Duration::from_secs(3), "gave up at once");
}

#[tokio::test(start_paused = true)]
async fn a_deadline_exactly_at_the_next_start_also_stops() {
    let log = CallLog::new();
    let start = Instant::now();
    let mut svc = RetryLayer::new(RetryPolicy::default()).layer(flaky(log.clone(), 99, false));
    let mut e = env("x", "m-1");
    e.meta_mut()
        .set_deadline(Some(start + Duration::from_secs(1)));
    svc.ready().await.unwrap().call(e).await.unwrap_err();
    assert_eq!(log.calls(), [(1, 0)]);
}

#[tokio::test(start_paused = true)]
async fn full_jitter_waits_at_most_the_backoff() {
    let log = CallLog::new();
    let policy = RetryPolicy::default()
        .with_max_attempts(4)
        .with_jitter(Jitter::Full);
    let mut svc = RetryLayer::new(policy).layer(flaky(log.clone(), 99, false));
    svc.ready()
        .await
        .unwrap()
        .call(env("x", "m-1"))
        .await
        .unwrap_err();
    let calls = log.calls();
    assert_eq!(calls.len(), 4);
    let gaps: Vec<u128> = calls.windows(2).map(|w| w[1].1 - w[0].1).collect();
    for (gap, max) in gaps.iter().zip([1_000, 2_000, 4_000]) {
        assert!(*gap <= max, "gap {gap} ms over {max} ms");
    }
}

#[tokio::test(start_paused = true)]
async fn one_attempt_means_no_retry() {
    let log = CallLog::new();
    let mut svc = RetryLayer::new(RetryPolicy::default().with_max_attempts(1)).layer(flaky(
        log.clone(),
        99,
        false,
    ));
    svc.ready()
        .await
        .unwrap()
        .call(env("x", "m-1"))
        .await
        .unwrap_err();
    assert_eq!(log.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn concurrent_calls_retry_independently() {
    let log = CallLog::new();
    let svc = RetryLayer::new(RetryPolicy::default()).layer(flaky(log.clone(), 3, false));
    let a = svc.clone().oneshot(env("a", "m-a"));
    let b = svc.oneshot(env("b", "m-b"));
    let (a, b) = tokio::join!(a, b);
    assert_eq!(a.unwrap(), "a done on 3");
    assert_eq!(b.unwrap(), "b done on 3");
    assert_eq!(log.count(), 6);
}
