//! Counts heap allocations on the hot path, per dispatch and per record: the
//! typed path (`App::process` on an `SqsEvent`) and the raw path the Lambda
//! adapter takes (`RawEvent::parse` + `App::process_raw` on the payload's
//! bytes).
//!
//! Run with `cargo run --release -p eventrail-benches --bin allocs`.
//!
//! Counted with `dhat`'s allocator. Allocation counts, unlike timings, do not depend on how busy the machine
//! is: the figures are exact and repeatable.

use eventrail::app::{Invocation, SourceEvent};
use eventrail::source::RawEvent;
use eventrail_benches::workload::sqs_event_json;
use eventrail_benches::{app, notification, order_app, sqs_batch, Journal};
use eventrail_testkit::Fakes;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn allocations() -> u64 {
    dhat::HeapStats::get().total_blocks
}

fn count<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = allocations();
    let out = f();
    (out, allocations() - before)
}

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let app = app();
    let env = notification("m-1");

    // Warm up (lazy statics, runtime internals).
    rt.block_on(app.bus().send(env.clone())).expect("handled");
    let (_, per_dispatch) = count(|| rt.block_on(app.bus().send(env.clone())).expect("handled"));
    println!("bus.send, one handler:            {per_dispatch} allocation(s) per dispatch");

    const N: usize = 1_000;
    let (batch, failing) = sqs_batch(N, true);
    let (_, transform) = count(|| app.factory().transform_sqs(batch.clone()));
    let (_, cloning) = count(|| batch.clone());
    let inv = Invocation::default();
    let (report, process) =
        count(|| rt.block_on(app.process(SourceEvent::Sqs(batch.clone()), &inv)));
    assert_eq!(report.failed_ids().collect::<Vec<_>>(), failing);
    let per = |n: u64| n.saturating_sub(cloning) as f64 / N as f64;
    println!(
        "router transform (SQS, {N} records): {:.1} allocation(s) per record",
        per(transform)
    );
    println!(
        "app.process (SQS, {N} records):      {:.1} allocation(s) per record (transform, dispatch, outcome)",
        per(process)
    );
    println!("(the input batch's own copy, {cloning} allocations, is not counted)");

    // The raw path, on the same records as a payload; its bytes are made
    // before counting. One uncounted round first (lazy statics of the path).
    let (json, failing) = sqs_event_json(N, true);
    let raw = |json: &[u8]| {
        let event = RawEvent::parse(json).expect("an SQS event");
        rt.block_on(app.process_raw(&event, &inv))
    };
    raw(&json);
    let (event, parse) = count(|| RawEvent::parse(&json).expect("an SQS event"));
    let (report, process_raw) = count(|| rt.block_on(app.process_raw(&event, &inv)));
    assert_eq!(report.failed_ids().collect::<Vec<_>>(), failing);
    drop((report, event));
    let (report, both) = count(|| raw(&json));
    assert_eq!(report.failed_ids().collect::<Vec<_>>(), failing);
    let per = |n: u64| n as f64 / N as f64;
    println!(
        "RawEvent::parse (SQS, {N} records):       {:.1} allocation(s) per record ({parse} in all)",
        per(parse)
    );
    println!(
        "app.process_raw (SQS, {N} records):       {:.1} allocation(s) per record ({process_raw} in all: decode, dispatch, outcome)",
        per(process_raw)
    );
    println!(
        "parse + process_raw (SQS, {N} records):   {:.1} allocation(s) per record ({both} in all)",
        per(both)
    );
    println!(
        "(the payload's {} bytes, made before counting, are not counted)",
        json.len()
    );

    // The order app, every handler behind its production stack on the
    // testkit's fakes (its timeouts need the runtime's timers). One
    // uncounted round first, on other fakes (its idempotency store would
    // answer the counted round as duplicates).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let run = |orders: &eventrail::App| {
        let event = RawEvent::parse(&json).expect("an SQS event");
        let report = rt.block_on(orders.process_raw(&event, &inv));
        assert_eq!(report.failed_ids().collect::<Vec<_>>(), failing);
    };
    let (fakes, journal) = (Fakes::new(), Journal::default());
    run(&order_app(&fakes, &journal));
    let (fakes, journal) = (Fakes::new(), Journal::default());
    let orders = order_app(&fakes, &journal);
    let ((), orders_both) = count(|| run(&orders));
    println!(
        "order app, parse + process_raw (SQS, {N} records): {:.1} allocation(s) per record ({orders_both} in all, handlers and fakes included)",
        per(orders_both)
    );
}
