//! Benchmarks for eventrail.
//!
//! - `cargo bench -p eventrail-benches --bench dispatch`: criterion benches of
//!   the hot path (router transform, bus dispatch, whole-batch processing).
//! - `cargo run --release -p eventrail-benches --bin allocs`: heap allocations
//!   per dispatch and per record, typed and raw paths, counted exactly.
//! - `cargo run --release -p eventrail-benches --bin bench_compare`: the order
//!   app's `invoke` against `floor`, a minimal serde-only program with the
//!   same answer, in wall time and peak RSS (see `benches/README.md`).
//!
//! This library holds what the benches share: the order app's SQS workload
//! (its event types come from `example-orders`),
//! shaped like the workload generator the team benchmarks with (bodies
//! `{"type": "NOTIFICATION" | "SYNC_REQUEST", ...}`, every 100th record with
//! malformed JSON and every 100th with an unknown channel), built in memory so
//! benches need no files, or written as an event file ([`workload`]); and the
//! two apps that process it: [`app`] (no layers) and [`order_app`] (every
//! handler behind its production stack).

use aws_events::SqsEvent;
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
use eventrail_testkit::Fakes;
pub use example_orders::{Channel, Journal, Notification, SyncRequest};

pub mod workload;

mod aws_events {
    pub(crate) use eventrail::aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
}

/// The workload's app: two SQS routes, two no-op handlers.
pub fn app() -> App {
    let bus = Bus::builder()
        .on(handler_fn(|n: Envelope<Notification>| async move {
            std::hint::black_box(&n.recipient);
            Ok::<_, HandlerError>(())
        }))
        .on(handler_fn(|s: Envelope<SyncRequest>| async move {
            std::hint::black_box(&s.pk);
            Ok::<_, HandlerError>(())
        }))
        .build();
    let router = Router::new()
        .sqs("type", "NOTIFICATION")
        .to::<Notification>()
        .sqs("type", "SYNC_REQUEST")
        .to::<SyncRequest>();
    App::builder(router, bus)
        .build()
        .expect("consistent routes")
}

/// The order app, `example_orders::app`, on `fakes` as `example-orders
/// invoke` runs it: every handler behind its production stack (span, alarm,
/// task token, idempotency, timeout, retries), mail through the fake SES,
/// alarms to the fake SNS.
///
/// The fakes and `journal` keep what the handlers did; clear them
/// (`fakes.ses().clear()`, `fakes.sns().clear()`, `journal.take()`) between
/// batches so a long bench does not grow them without bound.
pub fn order_app(fakes: &Fakes, journal: &Journal) -> App {
    let mut ports = example_orders::fakes::ports(fakes);
    ports.config.environment = "bench".into();
    example_orders::app(&ports, journal)
}

/// A notification envelope for record `record_id`, as the dispatch benches
/// send it (one e-mail, every field short).
pub fn notification(record_id: impl Into<std::sync::Arc<str>>) -> Envelope<Notification> {
    Envelope::new(
        Notification {
            channel: Channel::Email,
            recipient: "a@example.com".into(),
            subject: "s".into(),
            body: "b".into(),
            template_id: None,
            template_data: None,
        },
        eventrail::Metadata::new(record_id, eventrail::Source::Sqs),
    )
}

/// The handler the dispatch benches time: it reads one field and succeeds.
pub async fn notify(env: Envelope<Notification>) -> Result<(), HandlerError> {
    std::hint::black_box(&env.recipient);
    Ok(())
}

/// An SQS batch of `n` records (see [`workload`]); with `poison`, records
/// `i % 100 == 37` carry malformed JSON and `i % 100 == 73` an unknown
/// channel. Returns the batch and the ids that must fail.
pub fn sqs_batch(n: usize, poison: bool) -> (SqsEvent, Vec<String>) {
    let mut event = SqsEvent::default();
    let mut failing = Vec::new();
    for r in workload::sqs_records(n, poison) {
        if r.fails {
            failing.push(r.message_id.clone());
        }
        let mut m = aws_events::SqsMessage::default();
        m.message_id = Some(r.message_id);
        m.receipt_handle = Some(r.receipt_handle);
        m.body = Some(r.body);
        m.md5_of_body = Some(r.md5_of_body);
        m.event_source = Some("aws:sqs".into());
        m.event_source_arn = Some(workload::EVENT_SOURCE_ARN.into());
        m.aws_region = Some(workload::AWS_REGION.into());
        for (k, v) in workload::ATTRIBUTES {
            m.attributes.insert(k.into(), v.into());
        }
        event.records.push(m);
    }
    (event, failing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventrail::app::{Invocation, SourceEvent};

    #[tokio::test]
    async fn the_workload_fails_exactly_the_poison_records() {
        let (batch, failing) = sqs_batch(1_000, true);
        assert_eq!(failing.len(), 20);
        let report = app()
            .process(SourceEvent::Sqs(batch), &Invocation::default())
            .await;
        assert_eq!(report.failed_ids().collect::<Vec<_>>(), failing);
        assert_eq!(report.done(), 980);
    }

    #[tokio::test]
    async fn the_order_app_fails_the_same_records_on_the_raw_path() {
        let (json, failing) = workload::sqs_event_json(1_000, true);
        let (fakes, journal) = (Fakes::new(), Journal::default());
        let app = order_app(&fakes, &journal);
        let event = eventrail::source::RawEvent::parse(&json).unwrap();
        let report = app.process_raw(&event, &Invocation::default()).await;
        assert_eq!(report.failed_ids().collect::<Vec<_>>(), failing);
        // Even records are notifications; the poison ones replace sync requests.
        assert_eq!(fakes.ses().outbox().len(), 500, "one mail per notification");
        // Both kinds of poison fail decoding, before any handler runs.
        assert!(fakes.sns().published().is_empty(), "no handler failed");
        assert_eq!(journal.take().len(), 980);
    }
}
