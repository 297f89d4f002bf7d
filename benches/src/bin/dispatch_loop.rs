//! The `bus/overhead` and `stack` cases of the `dispatch` bench as plain
//! loops, to count instructions per event under callgrind (exact and
//! repeatable on a loaded machine, where criterion's wall times are not).
//!
//! Run with
//!
//! ```text
//! CARGO_PROFILE_RELEASE_DEBUG=line-tables-only CARGO_PROFILE_RELEASE_STRIP=false \
//!     cargo build --release -p eventrail-benches --bin dispatch_loop
//! valgrind --tool=callgrind --toggle-collect=dispatch_loop::timed_direct \
//!     --toggle-collect=dispatch_loop::timed_send --toggle-collect=dispatch_loop::timed_each \
//!     target/release/dispatch_loop <case> <events>
//! ```
//!
//! (the two variables keep line tables for `callgrind_annotate`; name the
//! three functions exactly: a pattern such as `timed*` also matches their
//! `async` blocks, and the nested toggles cancel out), where `<case>` is
//! `direct`, `bus`, `stack`, `first` or `duplicate` (the same handler and
//! stacks as the bench's `direct_call`, `bus_send`,
//! `production_no_idempotency`, `production_idempotent_first_time` and
//! `production_idempotent_duplicate`). Only the timed loop is counted (the
//! envelopes of `first` are made before it); divide the total by `<events>`.
//! A profiling tool, not part of the test suite.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use eventrail::layers::alarm::AlarmOnFailure;
use eventrail::layers::idempotency::Idempotent;
use eventrail::layers::retry::Retry;
use eventrail::layers::timeout::Timeout;
use eventrail::layers::trace::Trace;
use eventrail::layers::{
    AlarmLayer, AlarmService, IdempotencyLayer, IdempotencyOptions, MemoryIdempotencyStore,
    RetryPolicy, TimeoutLayer,
};
use eventrail::ports::IdempotencyStore;
use eventrail::{handler_fn, Bus, Envelope};
use eventrail_benches::{notification, notify, Notification};
use eventrail_testkit::Fakes;
use tokio::runtime::Runtime;

const ALARMS: &str = "arn:aws:sns:us-east-2:123456789012:alarms";

/// The bench's production stack, outermost first: span, alarm, (with
/// `store`) idempotency keyed by record id, deadline-aware timeout, retries.
fn production_bus(alarms: &AlarmService, store: Option<Arc<dyn IdempotencyStore>>) -> Bus {
    let limit = Duration::from_secs(25);
    let inner = Timeout::new(
        Retry::new(handler_fn(notify), RetryPolicy::default()),
        TimeoutLayer::deadline_aware(limit),
    );
    let alarm = AlarmLayer::new(alarms.clone(), "SendNotification");
    let builder = Bus::builder();
    let builder = match store {
        None => builder.on(Trace::new(AlarmOnFailure::new(inner, alarm))),
        Some(store) => builder.on(Trace::new(AlarmOnFailure::new(
            Idempotent::new(
                inner,
                IdempotencyLayer::with_options(
                    store,
                    |env: &Envelope<Notification>| Some(env.meta().record_id().to_owned()),
                    IdempotencyOptions::new(),
                ),
            ),
            alarm,
        ))),
    };
    builder.build()
}

// The timed loops: plain functions (never inlined) that callgrind's
// `--toggle-collect` can name.

#[inline(never)]
fn timed_direct(rt: &Runtime, env: &Envelope<Notification>, n: usize) {
    rt.block_on(async {
        for _ in 0..n {
            black_box(notify(env.clone()).await).unwrap();
        }
    })
}

#[inline(never)]
fn timed_send(rt: &Runtime, bus: &Bus, env: &Envelope<Notification>, n: usize) {
    rt.block_on(async {
        for _ in 0..n {
            black_box(bus.send(env.clone()).await.unwrap());
        }
    })
}

#[inline(never)]
fn timed_each(rt: &Runtime, bus: &Bus, envs: Vec<Envelope<Notification>>) {
    rt.block_on(async {
        for env in envs {
            black_box(bus.send(env).await.unwrap());
        }
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(case), Some(n)) = (args.next(), args.next().and_then(|n| n.parse().ok())) else {
        eprintln!("usage: dispatch_loop direct|bus|stack|first|duplicate <events>");
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let fakes = Fakes::new();
    let alarms = AlarmService::new(fakes.notifier(), ALARMS);
    let env = notification("m-1");
    match case.as_str() {
        "direct" => timed_direct(&rt, &env, n),
        "bus" => {
            let bus = Bus::builder().on(handler_fn(notify)).build();
            timed_send(&rt, &bus, &env, n)
        }
        "stack" => timed_send(&rt, &production_bus(&alarms, None), &env, n),
        "first" => {
            let store = Arc::new(MemoryIdempotencyStore::new());
            let bus = production_bus(&alarms, Some(store.clone()));
            let envs = (0..n).map(|i| notification(format!("m-{i}"))).collect();
            timed_each(&rt, &bus, envs);
            assert_eq!(store.len(), n);
        }
        "duplicate" => {
            let bus = production_bus(&alarms, Some(Arc::new(MemoryIdempotencyStore::new())));
            rt.block_on(bus.send(env.clone())).unwrap();
            timed_send(&rt, &bus, &env, n)
        }
        other => {
            eprintln!("unknown case {other}");
            std::process::exit(2);
        }
    }
    assert!(fakes.sns().published().is_empty(), "no handler failed");
}
