//! Criterion benches of the hot path.
//!
//! Run with `cargo bench -p eventrail-benches --bench dispatch`
//! (`-- --warm-up-time 1 --measurement-time 3` for the figures in
//! `benches/README.md`; `cargo test -p eventrail-benches --benches` runs each
//! bench once).
//!
//! | group | what it measures |
//! |---|---|
//! | `router/transform_sqs` | the router on a typed `SqsEvent` (clone of the batch included) |
//! | `bus/send_one` | one `bus.send` to a no-op handler |
//! | `bus/overhead` | the same `async fn` called directly, and through `handler_fn` and `bus.send` |
//! | `stack` | one event through `bus.send` to a handler behind the production stack |
//! | `app/process_sqs` | whole typed batches (clone of the batch included) |
//! | `process_raw/bare`, `process_raw/orders` | whole payloads, `RawEvent::parse` + `App::process_raw`, 10 to 10 000 records |

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use eventrail::app::{Invocation, SourceEvent};
use eventrail::layers::{
    AlarmService, IdempotencyOptions, MemoryIdempotencyStore, RetryPolicy, ServiceBuilderExt,
};
use eventrail::ports::IdempotencyStore;
use eventrail::source::RawEvent;
use eventrail::{handler_fn, App, Bus, Envelope};
use eventrail_benches::workload::sqs_event_json;
use eventrail_benches::{app, notification, notify, order_app, sqs_batch, Journal, Notification};
use eventrail_testkit::Fakes;
use tokio::runtime::Runtime;
use tower::ServiceBuilder;

/// The topic the production stack's alarms would go to (no handler fails here).
const ALARMS: &str = "arn:aws:sns:us-east-2:123456789012:alarms";

/// A current-thread runtime with timers (the timeout layer needs them).
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn transform(c: &mut Criterion) {
    let app = app();
    let mut g = c.benchmark_group("router/transform_sqs");
    for n in [10usize, 1_000] {
        let (batch, _) = sqs_batch(n, true);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &batch, |b, batch| {
            b.iter(|| black_box(app.factory().transform_sqs(batch.clone())))
        });
    }
    g.finish();
}

fn dispatch(c: &mut Criterion) {
    let rt = runtime();
    let app = app();
    let env = notification("m-1");
    c.bench_function("bus/send_one", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(app.bus().send(env.clone()).await.unwrap()) })
    });
}

/// What `bus.send` adds to a handler call: the same `async fn`, awaited
/// directly and through `handler_fn` + `Bus::send`, in one group.
fn overhead(c: &mut Criterion) {
    let rt = runtime();
    let bus = Bus::builder().on(handler_fn(notify)).build();
    let env = notification("m-1");
    let mut g = c.benchmark_group("bus/overhead");
    g.bench_function("direct_call", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(notify(env.clone()).await).unwrap() })
    });
    g.bench_function("bus_send", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(bus.send(env.clone()).await.unwrap()) })
    });
    g.finish();
}

/// A bus whose one handler, [`notify`], sits behind the production stack,
/// outermost first: span, alarm, (with `store`) idempotency keyed by record
/// id, deadline-aware timeout, retries.
fn production_bus(alarms: &AlarmService, store: Option<Arc<dyn IdempotencyStore>>) -> Bus {
    let limit = Duration::from_secs(25);
    let builder = Bus::builder();
    let builder = match store {
        None => builder.on(ServiceBuilder::new()
            .traced()
            .alarm(alarms.clone(), "SendNotification")
            .deadline_timeout(limit)
            .retries(RetryPolicy::default())
            .service(handler_fn(notify))),
        Some(store) => builder.on(ServiceBuilder::new()
            .traced()
            .alarm(alarms.clone(), "SendNotification")
            .idempotent(
                store,
                |env: &Envelope<Notification>| Some(env.meta().record_id().to_owned()),
                IdempotencyOptions::new(),
            )
            .deadline_timeout(limit)
            .retries(RetryPolicy::default())
            .service(handler_fn(notify))),
    };
    builder.build()
}

/// One event through the production stack, on in-memory ports, against the
/// bare handler in the same group.
fn stack(c: &mut Criterion) {
    let rt = runtime();
    let fakes = Fakes::new();
    let alarms = AlarmService::new(fakes.notifier(), ALARMS);
    let bare = Bus::builder().on(handler_fn(notify)).build();
    let layered = production_bus(&alarms, None);
    let env = notification("m-1");
    let mut g = c.benchmark_group("stack");
    g.bench_function("bus_send_no_layers", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(bare.send(env.clone()).await.unwrap()) })
    });
    g.bench_function("production_no_idempotency", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(layered.send(env.clone()).await.unwrap()) })
    });
    // Every event has a new record id, so a new key: the store's lock, the
    // handler, the completion. A fresh store per sample keeps it from
    // growing over the whole run; envelopes and store are made untimed.
    g.bench_function("production_idempotent_first_time", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let bus = production_bus(&alarms, Some(Arc::new(MemoryIdempotencyStore::new())));
            let envs: Vec<_> = (0..iters).map(|i| notification(format!("m-{i}"))).collect();
            async move {
                let start = Instant::now();
                for env in envs {
                    black_box(bus.send(env).await.unwrap());
                }
                start.elapsed()
            }
        })
    });
    // The same record again and again: the stored result is replayed, the
    // handler does not run.
    let store = Arc::new(MemoryIdempotencyStore::new());
    let replaying = production_bus(&alarms, Some(store.clone()));
    rt.block_on(replaying.send(env.clone())).unwrap();
    assert_eq!(store.len(), 1);
    g.bench_function("production_idempotent_duplicate", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(replaying.send(env.clone()).await.unwrap()) })
    });
    g.finish();
    assert!(fakes.sns().published().is_empty(), "no handler failed");
}

fn process(c: &mut Criterion) {
    let rt = runtime();
    let app = app();
    let inv = Invocation::default();
    let mut g = c.benchmark_group("app/process_sqs");
    for n in [10usize, 1_000] {
        let (batch, _) = sqs_batch(n, true);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &batch, |b, batch| {
            b.to_async(&rt).iter(|| async {
                black_box(app.process(SourceEvent::Sqs(batch.clone()), &inv).await)
            })
        });
    }
    g.finish();
}

/// Per-record cost of whole payloads as the Lambda adapter processes them,
/// `RawEvent::parse` + `App::process_raw`, at 10 to 10 000 records: the bare
/// app, and the order app with its production stack on testkit's fakes.
fn growth(c: &mut Criterion) {
    let rt = runtime();
    let inv = Invocation::default();
    let payloads: Vec<(usize, Vec<u8>, usize)> = [10usize, 100, 1_000, 10_000]
        .into_iter()
        .map(|n| {
            let (json, failing) = sqs_event_json(n, true);
            (n, json, failing.len())
        })
        .collect();

    let bare = app();
    let mut g = c.benchmark_group("process_raw/bare");
    g.sample_size(20);
    for (n, json, failing) in &payloads {
        let event = RawEvent::parse(json).unwrap();
        assert_eq!(
            rt.block_on(bare.process_raw(&event, &inv)).failed(),
            *failing
        );
        g.throughput(Throughput::Elements(*n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), json, |b, json| {
            b.to_async(&rt).iter(|| async {
                let event = RawEvent::parse(json).unwrap();
                black_box(bare.process_raw(&event, &inv).await)
            })
        });
    }
    g.finish();

    let (fakes, journal) = (Fakes::new(), Journal::default());
    let orders = order_app(&fakes, &journal);
    // What the fakes and the journal keep is dropped after each batch,
    // untimed; the idempotency records too, so that every batch is a first
    // delivery (not 10 000 duplicates answered from the store).
    let forget = || {
        fakes.ses().clear();
        fakes.sns().clear();
        fakes.idempotency().clear();
        journal.take();
    };
    stateful_growth(
        c,
        &rt,
        &inv,
        &payloads,
        "process_raw/orders",
        &orders,
        &forget,
    );

    // The same app on the backends `example-orders invoke` runs on: no call
    // history, the journal counting only. What still grows with the batch
    // is what production keeps too: the idempotency records.
    let local = eventrail::local::LocalBackends::without_history();
    let mut ports = example_orders::local::ports(&local);
    ports.config.environment = "bench".into();
    let orders = example_orders::app(&ports, &Journal::counts_only());
    stateful_growth(
        c,
        &rt,
        &inv,
        &payloads,
        "process_raw/orders_invoke_backends",
        &orders,
        &|| local.idempotency().clear(),
    );
}

/// `RawEvent::parse` + `process_raw` of each payload with `app`, timed per
/// batch; `forget` (untimed) drops what the batch left in the app's
/// backends, so that every batch starts as the first did.
fn stateful_growth(
    c: &mut Criterion,
    rt: &Runtime,
    inv: &Invocation,
    payloads: &[(usize, Vec<u8>, usize)],
    name: &str,
    app: &App,
    forget: &dyn Fn(),
) {
    let mut g = c.benchmark_group(name);
    g.sample_size(20);
    for (n, json, failing) in payloads {
        let event = RawEvent::parse(json).unwrap();
        assert_eq!(rt.block_on(app.process_raw(&event, inv)).failed(), *failing);
        forget();
        g.throughput(Throughput::Elements(*n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), json, |b, json| {
            b.to_async(rt).iter_custom(|iters| async move {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let event = RawEvent::parse(json).unwrap();
                    black_box(app.process_raw(&event, inv).await);
                    drop(event);
                    timed += start.elapsed();
                    forget();
                }
                timed
            })
        });
    }
    g.finish();
}

criterion_group!(benches, transform, dispatch, overhead, stack, process, growth);
criterion_main!(benches);
