//! The idempotency layer with the in-memory store, on a paused clock.

mod layers_support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use eventrail::error::is_retryable;
use eventrail::layers::idempotency::{IdempotencyError, MissingKey};
use eventrail::layers::{
    IdempotencyKey, IdempotencyLayer, IdempotencyOptions, MemoryIdempotencyStore, ServiceBuilderExt,
};
use eventrail::ports::{IdempotencyStatus, IdempotencyStore, TokioClock};
use eventrail::{handler_fn, BoxError, Envelope, HandlerError};
use layers_support::env;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

#[derive(Debug, Clone, Serialize)]
struct Payment {
    id: Option<String>,
    cents: u64,
}

impl IdempotencyKey for Payment {
    fn idempotency_key(&self) -> Option<String> {
        self.id.clone()
    }
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Receipt {
    charged: u64,
    run: u32,
}

fn pay(id: &str, cents: u64) -> Envelope<Payment> {
    env(
        Payment {
            id: Some(id.into()),
            cents,
        },
        "m",
    )
}

fn clock() -> Arc<TokioClock> {
    Arc::new(TokioClock::starting_at(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
    ))
}

/// A payment handler counting its runs; takes `secs` seconds; fails while
/// `fail` is set.
#[derive(Clone, Default)]
struct Handler {
    runs: Arc<AtomicU32>,
    fail: Arc<std::sync::atomic::AtomicBool>,
    secs: u64,
}

impl Handler {
    fn service(
        &self,
    ) -> impl Service<
        Envelope<Payment>,
        Response = Receipt,
        Error = HandlerError,
        Future = impl std::future::Future<Output = Result<Receipt, HandlerError>> + Send,
    > + Clone
           + Send
           + Sync
           + 'static {
        let me = self.clone();
        handler_fn(move |e: Envelope<Payment>| {
            let me = me.clone();
            async move {
                let run = me.runs.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::time::sleep(Duration::from_secs(me.secs)).await;
                if me.fail.load(Ordering::SeqCst) {
                    return Err(HandlerError::retryable("card processor busy"));
                }
                Ok(Receipt {
                    charged: e.cents,
                    run,
                })
            }
        })
    }
    fn runs(&self) -> u32 {
        self.runs.load(Ordering::SeqCst)
    }
}

fn layer(store: &Arc<MemoryIdempotencyStore>) -> IdempotencyLayer<Payment> {
    IdempotencyLayer::from_event(store.clone()).with_clock(clock())
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_gets_the_stored_result_without_running() {
    let store = Arc::new(MemoryIdempotencyStore::new());
    let h = Handler::default();
    let mut svc = layer(&store).layer(h.service());
    let first = svc
        .ready()
        .await
        .unwrap()
        .call(pay("p-1", 500))
        .await
        .unwrap();
    let second = svc
        .ready()
        .await
        .unwrap()
        .call(pay("p-1", 500))
        .await
        .unwrap();
    assert_eq!(
        first,
        Receipt {
            charged: 500,
            run: 1
        }
    );
    assert_eq!(second, first);
    assert_eq!(h.runs(), 1);
    let other = svc
        .ready()
        .await
        .unwrap()
        .call(pay("p-2", 10))
        .await
        .unwrap();
    assert_eq!(other.run, 2, "another key runs");
}

#[tokio::test(start_paused = true)]
async fn records_go_in_progress_then_completed_with_a_one_hour_expiry() {
    let store = Arc::new(MemoryIdempotencyStore::new());
    let clock = clock();
    let started = eventrail::ports::Clock::now(&*clock);
    let h = Handler {
        secs: 2,
        ..Handler::default()
    };
    let svc = IdempotencyLayer::from_event(store.clone())
        .with_clock(clock.clone())
        .layer(h.service());
    let mut e = pay("p-1", 500);
    e.meta_mut()
        .set_deadline(Some(Instant::now() + Duration::from_secs(30)));
    let call = tokio::spawn(svc.oneshot(e));
    tokio::time::sleep(Duration::from_secs(1)).await;

    let rec = store
        .get("Payment#p-1")
        .await
        .unwrap()
        .expect("an in-progress record");
    assert_eq!(rec.status, IdempotencyStatus::InProgress);
    assert_eq!(
        rec.in_progress_expires_at,
        Some(started + Duration::from_secs(30)),
        "from the deadline"
    );
    assert_eq!(rec.expires_at, started + Duration::from_secs(3600));

    call.await.unwrap().unwrap();
    let rec = store.get("Payment#p-1").await.unwrap().unwrap();
    assert_eq!(rec.status, IdempotencyStatus::Completed);
    assert_eq!(rec.expires_at, started + Duration::from_secs(2 + 3600));
    assert_eq!(rec.result.as_deref(), Some(r#"{"charged":500,"run":1}"#));
}

#[tokio::test(start_paused = true)]
async fn completed_records_expire_and_the_handler_runs_again() {
    let store = Arc::new(MemoryIdempotencyStore::new());
    let h = Handler::default();
    let mut svc = layer(&store)
        .expires_after(Duration::from_secs(600))
        .layer(h.service());
    svc.ready()
        .await
        .unwrap()
        .call(pay("p-1", 500))
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(599)).await;
    assert_eq!(
        svc.ready()
            .await
            .unwrap()
            .call(pay("p-1", 500))
            .await
            .unwrap()
            .run,
        1
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(
        svc.ready()
            .await
            .unwrap()
            .call(pay("p-1", 500))
            .await
            .unwrap()
            .run,
        2
    );
}

#[tokio::test(start_paused = true)]
async fn concurrent_duplicates_get_a_distinct_retryable_error() {
    let store = Arc::new(MemoryIdempotencyStore::new());
    let h = Handler {
        secs: 5,
        ..Handler::default()
    };
    let svc = layer(&store).layer(h.service());
    let first = tokio::spawn(svc.clone().oneshot(pay("p-1", 500)));
    tokio::time::sleep(Duration::from_secs(1)).await;

    let err = svc.clone().oneshot(pay("p-1", 500)).await.unwrap_err();
    let idem = err
        .downcast_ref::<IdempotencyError>()
        .expect("an IdempotencyError");
    assert!(idem.is_in_progress());
    assert!(is_retryable(&*err));
    assert_eq!(idem.key(), "Payment#p-1");

    assert_eq!(first.await.unwrap().unwrap().run, 1);
    // Once the first is done, the redelivered duplicate gets its result.
    assert_eq!(svc.oneshot(pay("p-1", 500)).await.unwrap().run, 1);
    assert_eq!(h.runs(), 1);
}

#[tokio::test(start_paused = true)]
async fn many_simultaneous_duplicates_run_the_handler_once() {
    let store = Arc::new(MemoryIdempotencyStore::new());
    let h = Handler {
        secs: 1,
        ..Handler::default()
    };
    let svc = layer(&store).layer(h.service());
    let calls: Vec<_> = (0..10)
        .map(|_| svc.clone().oneshot(pay("p-1", 500)))
        .collect();
    let results = futures_util::future::join_all(calls).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let in_progress = results
        .iter()
        .filter(|r| {
            r.as_ref()
                .err()
                .and_then(|e| e.downcast_ref::<IdempotencyError>())
                .is_some_and(IdempotencyError::is_in_progress)
        })
        .count();
    assert_eq!((ok, in_progress), (1, 9));
    assert_eq!(h.runs(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_handler_error_deletes_the_record_so_a_retry_runs() {
    let store = Arc::new(MemoryIdempotencyStore::new());
    let h = Handler::default();
    h.fail.store(true, Ordering::SeqCst);
    let mut svc = layer(&store).layer(h.service());
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(pay("p-1", 500))
        .await
        .unwrap_err();
    assert!(err.is::<HandlerError>(), "the handler's error, unchanged");
    assert!(store.is_empty(), "the record was deleted");
    h.fail.store(false, Ordering::SeqCst);
    assert_eq!(
        svc.ready()
            .await
            .unwrap()
            .call(pay("p-1", 500))
            .await
            .unwrap()
            .run,
        2
    );
}

#[tokio::test(start_paused = true)]
async fn the_same_key_with_another_payload_fails_permanently() {
    let store = Arc::new(MemoryIdempotencyStore::new());
    let h = Handler::default();
    let mut svc = layer(&store).with_payload_hash().layer(h.service());
    svc.ready()
        .await
        .unwrap()
        .call(pay("p-1", 500))
        .await
        .unwrap();
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(pay("p-1", 900))
        .await
        .unwrap_err();
    let idem = err.downcast_ref::<IdempotencyError>().unwrap();
    assert!(idem.is_payload_mismatch());
    assert!(!is_retryable(&*err));
    assert_eq!(h.runs(), 1);
    // The same payload still replays.
    assert_eq!(
        svc.ready()
            .await
            .unwrap()
            .call(pay("p-1", 500))
            .await
            .unwrap()
            .run,
        1
    );
    let rec = store.get("Payment#p-1").await.unwrap().unwrap();
    assert_eq!(
        rec.payload_hash.as_deref().map(str::len),
        Some(32),
        "128-bit hex"
    );
}

#[tokio::test(start_paused = true)]
async fn a_payload_mismatch_is_caught_while_in_progress_too() {
    let store = Arc::new(MemoryIdempotencyStore::new());
    let h = Handler {
        secs: 5,
        ..Handler::default()
    };
    let svc = layer(&store).with_payload_hash().layer(h.service());
    let first = tokio::spawn(svc.clone().oneshot(pay("p-1", 500)));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let err = svc.oneshot(pay("p-1", 1)).await.unwrap_err();
    assert!(err
        .downcast_ref::<IdempotencyError>()
        .unwrap()
        .is_payload_mismatch());
    first.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_missing_key_fails_permanently_by_default() {
    let store = Arc::new(MemoryIdempotencyStore::new());
    let h = Handler::default();
    let mut svc = layer(&store).layer(h.service());
    let e = env(Payment { id: None, cents: 1 }, "m-9");
    let err = svc.ready().await.unwrap().call(e).await.unwrap_err();
    assert!(err
        .downcast_ref::<IdempotencyError>()
        .unwrap()
        .is_missing_key());
    assert!(!is_retryable(&*err));
    assert!(err.to_string().contains("no idempotency key"));
    assert_eq!(h.runs(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_missing_key_can_pass_through() {
    let store = Arc::new(MemoryIdempotencyStore::new());
    let h = Handler::default();
    let mut svc = layer(&store)
        .on_missing_key(MissingKey::PassThrough)
        .layer(h.service());
    for _ in 0..2 {
        let e = env(Payment { id: None, cents: 1 }, "m-9");
        svc.ready().await.unwrap().call(e).await.unwrap();
    }
    assert_eq!(h.runs(), 2);
    assert!(store.is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_in_progress_record_of_a_dead_invocation_is_taken_over_after_its_deadline() {
    let store = Arc::new(MemoryIdempotencyStore::new());
    let h = Handler {
        secs: 3600,
        ..Handler::default()
    };
    let idem = layer(&store);
    let svc = idem.layer(h.service());
    let mut e = pay("p-1", 500);
    e.meta_mut()
        .set_deadline(Some(Instant::now() + Duration::from_secs(10)));
    // The first invocation "dies": its call is dropped while in progress.
    let dead = tokio::spawn(svc.clone().oneshot(e));
    tokio::time::sleep(Duration::from_secs(1)).await;
    dead.abort();
    let err = svc.clone().oneshot(pay("p-1", 500)).await.unwrap_err();
    assert!(err
        .downcast_ref::<IdempotencyError>()
        .unwrap()
        .is_in_progress());
    tokio::time::advance(Duration::from_secs(9)).await;
    // Past the first invocation's deadline, a redelivery runs.
    let fast = Handler::default();
    let svc = idem.layer(fast.service());
    svc.oneshot(pay("p-1", 500)).await.unwrap();
    assert_eq!(fast.runs(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_closure_key_and_namespaces_via_the_builder() {
    let store: Arc<dyn IdempotencyStore> = Arc::new(MemoryIdempotencyStore::new());
    let h = Handler::default();
    let mut by_tenant = ServiceBuilder::new()
        .idempotent(
            store.clone(),
            |e: &Envelope<Payment>| Some(format!("{}:{}", e.meta().tenant()?, e.id.as_deref()?)),
            IdempotencyOptions::new(),
        )
        .service(h.service());
    let mut e = pay("p-1", 5);
    *e.meta_mut() = e.meta().clone().with_tenant("acme");
    by_tenant.ready().await.unwrap().call(e).await.unwrap();
    assert!(store.get("Payment#acme:p-1").await.unwrap().is_some());

    let mut other = IdempotencyLayer::from_event(store.clone())
        .namespace("refunds")
        .layer(h.service());
    other
        .ready()
        .await
        .unwrap()
        .call(pay("p-1", 5))
        .await
        .unwrap();
    assert!(store.get("refunds#p-1").await.unwrap().is_some());
    assert_eq!(h.runs(), 2);
}

#[tokio::test(start_paused = true)]
async fn store_failures_are_reported_with_the_store_classification() {
    #[derive(Debug)]
    struct Down;
    #[async_trait::async_trait]
    impl IdempotencyStore for Down {
        async fn try_lock(
            &self,
            _: eventrail::ports::IdempotencyRecord,
            _: SystemTime,
        ) -> Result<eventrail::ports::LockOutcome, eventrail::ports::PortError> {
            Err(eventrail::ports::PortError::retryable("throttled")
                .with_code("ProvisionedThroughputExceededException"))
        }
        async fn complete(
            &self,
            _: &str,
            _: String,
            _: SystemTime,
        ) -> Result<(), eventrail::ports::PortError> {
            unreachable!()
        }
        async fn delete(&self, _: &str) -> Result<(), eventrail::ports::PortError> {
            unreachable!()
        }
        async fn get(
            &self,
            _: &str,
        ) -> Result<Option<eventrail::ports::IdempotencyRecord>, eventrail::ports::PortError>
        {
            unreachable!()
        }
    }
    let h = Handler::default();
    let mut svc = IdempotencyLayer::from_event(Arc::new(Down)).layer(h.service());
    let err: BoxError = svc
        .ready()
        .await
        .unwrap()
        .call(pay("p-1", 1))
        .await
        .unwrap_err();
    assert!(err.downcast_ref::<IdempotencyError>().unwrap().is_store());
    assert!(is_retryable(&*err));
    assert_eq!(h.runs(), 0);
}

/// A store that answers only through its futures (as one with I/O does):
/// it delegates to the memory store and counts the calls that reach it.
#[derive(Debug, Default)]
struct Remote {
    inner: MemoryIdempotencyStore,
    calls: AtomicU32,
}

#[async_trait::async_trait]
impl IdempotencyStore for Remote {
    async fn try_lock(
        &self,
        record: eventrail::ports::IdempotencyRecord,
        now: SystemTime,
    ) -> Result<eventrail::ports::LockOutcome, eventrail::ports::PortError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        self.inner.try_lock(record, now).await
    }
    async fn complete(
        &self,
        key: &str,
        result: String,
        expires_at: SystemTime,
    ) -> Result<(), eventrail::ports::PortError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        self.inner.complete(key, result, expires_at).await
    }
    async fn delete(&self, key: &str) -> Result<(), eventrail::ports::PortError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(key).await
    }
    async fn get(
        &self,
        key: &str,
    ) -> Result<Option<eventrail::ports::IdempotencyRecord>, eventrail::ports::PortError> {
        self.inner.get(key).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_store_without_immediate_answers_is_awaited_with_the_same_results() {
    let store = Arc::new(Remote::default());
    let h = Handler::default();
    let mut svc = IdempotencyLayer::from_event(store.clone())
        .with_clock(clock())
        .layer(h.service());
    let mut results = Vec::new();
    for _ in 0..2 {
        results.push(
            svc.ready()
                .await
                .unwrap()
                .call(pay("p-9", 700))
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        results,
        [
            Receipt {
                charged: 700,
                run: 1
            },
            Receipt {
                charged: 700,
                run: 1
            }
        ]
    );
    assert_eq!(h.runs(), 1);
    // Lock and completion of the first delivery, the duplicate's lock.
    assert_eq!(store.calls.load(Ordering::SeqCst), 3);
    let stored = store.inner.get("Payment#p-9").await.unwrap().unwrap();
    assert_eq!(stored.status, IdempotencyStatus::Completed);
    assert_eq!(stored.result.as_deref(), Some(r#"{"charged":700,"run":1}"#));
}
