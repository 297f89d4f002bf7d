//! Criterion benches of the hot path.
//!
//! Run with `cargo bench -p eventrail-benches --bench dispatch`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use eventrail::app::{Invocation, SourceEvent};
use eventrail::{Envelope, Metadata, Source};
use eventrail_benches::{app, sqs_batch, Notification};

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
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let app = app();
    let env = Envelope::new(
        Notification {
            channel: eventrail_benches::Channel::Email,
            recipient: "a@example.com".into(),
            subject: "s".into(),
            body: "b".into(),
        },
        Metadata::new("m-1", Source::Sqs),
    );
    c.bench_function("bus/send_one", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(app.bus().send(env.clone()).await.unwrap()) })
    });
}

fn process(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
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

criterion_group!(benches, transform, dispatch, process);
criterion_main!(benches);
