//! The timeout layer on a paused clock: fixed and deadline-aware limits,
//! implausible deadlines, and how it composes with retry.

mod layers_support;

use std::time::Duration;

use eventrail::error::is_retryable;
use eventrail::layers::timeout::Elapsed;
use eventrail::layers::{RetryPolicy, ServiceBuilderExt, TimeoutLayer};
use eventrail::{handler_fn, Envelope, HandlerError};
use layers_support::{env, CallLog};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

/// A handler that takes `secs` seconds.
fn slow(
    secs: u64,
) -> impl Service<
    Envelope<()>,
    Response = &'static str,
    Error = HandlerError,
    Future = impl std::future::Future<Output = Result<&'static str, HandlerError>> + Send,
> + Clone {
    handler_fn(move |_: Envelope<()>| async move {
        tokio::time::sleep(Duration::from_secs(secs)).await;
        Ok::<_, HandlerError>("finished")
    })
}

fn with_deadline(in_ms: u64) -> Envelope<()> {
    let mut e = env((), "m-1");
    e.meta_mut()
        .set_deadline(Some(Instant::now() + Duration::from_millis(in_ms)));
    e
}

#[tokio::test(start_paused = true)]
async fn fixed_limit_fails_a_slow_call_with_a_retryable_elapsed() {
    let start = Instant::now();
    let mut svc = TimeoutLayer::new(Duration::from_secs(5)).layer(slow(60));
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(env((), "m"))
        .await
        .unwrap_err();
    let elapsed = err.downcast_ref::<Elapsed>().expect("an Elapsed");
    assert_eq!(elapsed.budget(), Duration::from_secs(5));
    assert!(is_retryable(&*err));
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert_eq!(
        err.to_string(),
        "the handler did not finish within its budget of 5000 ms"
    );
}

#[tokio::test(start_paused = true)]
async fn a_fast_call_is_untouched() {
    let mut svc = TimeoutLayer::new(Duration::from_secs(5)).layer(slow(4));
    assert_eq!(
        svc.ready().await.unwrap().call(env((), "m")).await.unwrap(),
        "finished"
    );
}

#[tokio::test(start_paused = true)]
async fn fixed_mode_ignores_the_deadline() {
    let mut svc = TimeoutLayer::new(Duration::from_secs(5)).layer(slow(4));
    let out = svc.ready().await.unwrap().call(with_deadline(1_000)).await;
    assert_eq!(out.unwrap(), "finished");
}

#[tokio::test(start_paused = true)]
async fn deadline_aware_uses_the_deadline_minus_the_margin() {
    let start = Instant::now();
    let mut svc = ServiceBuilder::new()
        .deadline_timeout(Duration::from_secs(25))
        .service(slow(60));
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(with_deadline(10_000))
        .await
        .unwrap_err();
    assert_eq!(
        err.downcast_ref::<Elapsed>().unwrap().budget(),
        Duration::from_millis(9_500)
    );
    assert_eq!(start.elapsed(), Duration::from_millis(9_500));
}

#[tokio::test(start_paused = true)]
async fn deadline_aware_keeps_the_fixed_limit_when_it_is_smaller() {
    let layer = TimeoutLayer::deadline_aware(Duration::from_secs(2));
    let mut svc = layer.layer(slow(60));
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(with_deadline(10_000))
        .await
        .unwrap_err();
    assert_eq!(
        err.downcast_ref::<Elapsed>().unwrap().budget(),
        Duration::from_secs(2)
    );
}

#[tokio::test(start_paused = true)]
async fn the_margin_is_configurable() {
    let layer =
        TimeoutLayer::deadline_aware(Duration::from_secs(25)).margin(Duration::from_secs(2));
    assert_eq!(
        layer.budget(with_deadline(10_000).meta()),
        Duration::from_secs(8)
    );
    // Less time left than the margin: no budget at all.
    assert_eq!(layer.budget(with_deadline(1_000).meta()), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn no_deadline_means_the_fixed_limit() {
    let layer = TimeoutLayer::deadline_aware(Duration::from_secs(25));
    assert_eq!(layer.budget(env((), "m").meta()), Duration::from_secs(25));
}

#[tokio::test(start_paused = true)]
async fn a_past_deadline_falls_back_to_the_fixed_limit() {
    let mut e = env((), "m-1");
    let deadline = Instant::now();
    tokio::time::advance(Duration::from_secs(3)).await;
    e.meta_mut().set_deadline(Some(deadline));
    let mut svc = TimeoutLayer::deadline_aware(Duration::from_secs(25)).layer(slow(10));
    assert_eq!(
        svc.ready().await.unwrap().call(e).await.unwrap(),
        "finished"
    );
}

#[tokio::test(start_paused = true)]
async fn an_absurd_deadline_falls_back_to_the_fixed_limit() {
    let layer = TimeoutLayer::deadline_aware(Duration::from_secs(25));
    let far = with_deadline(365 * 24 * 3600 * 1000);
    assert_eq!(layer.budget(far.meta()), Duration::from_secs(25));
    let plausible = with_deadline(15 * 60 * 1000);
    assert_eq!(layer.budget(plausible.meta()), Duration::from_secs(25));
}

#[tokio::test(start_paused = true)]
async fn outside_retry_it_bounds_all_attempts_together() {
    let log = CallLog::new();
    let handler = {
        let log = log.clone();
        handler_fn(move |e: Envelope<()>| {
            log.record(e.meta().attempt());
            async { Err::<(), _>(HandlerError::retryable("busy")) }
        })
    };
    let mut svc = ServiceBuilder::new()
        .fixed_timeout(Duration::from_millis(2_500))
        .retries(RetryPolicy::default().with_max_attempts(5))
        .service(handler);
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(env((), "m"))
        .await
        .unwrap_err();
    assert!(err.is::<Elapsed>());
    assert_eq!(
        log.calls(),
        [(1, 0), (2, 1_000)],
        "the third attempt (at 3 s) never started"
    );
}

#[tokio::test(start_paused = true)]
async fn inside_retry_it_bounds_each_attempt_and_is_retried() {
    let log = CallLog::new();
    let handler = {
        let log = log.clone();
        handler_fn(move |e: Envelope<()>| {
            let attempt = e.meta().attempt();
            log.record(attempt);
            async move {
                if attempt < 3 {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
                Ok::<_, HandlerError>(attempt)
            }
        })
    };
    let mut svc = ServiceBuilder::new()
        .retries(RetryPolicy::default())
        .fixed_timeout(Duration::from_secs(1))
        .service(handler);
    assert_eq!(
        svc.ready().await.unwrap().call(env((), "m")).await.unwrap(),
        3
    );
    // Attempt 1 times out at 1 s, waits 1 s; attempt 2 at 2 s times out at 3 s, waits 2 s.
    assert_eq!(log.calls(), [(1, 0), (2, 2_000), (3, 5_000)]);
}
