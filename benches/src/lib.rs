//! Benchmarks for eventrail.
//!
//! - `cargo bench -p eventrail-benches --bench dispatch`: criterion benches of
//!   the hot path (router transform, bus dispatch, whole-batch processing).
//! - `cargo run --release -p eventrail-benches --bin allocs`: heap allocations
//!   per dispatch and per record, counted exactly.
//!
//! This library holds what the benches share: the order app's SQS workload
//! (its event types come from `example-orders`),
//! shaped like the workload generator the team benchmarks with (bodies
//! `{"type": "NOTIFICATION" | "SYNC_REQUEST", ...}`, every 100th record with
//! malformed JSON and every 100th with an unknown channel), built in memory so
//! benches need no files.

use aws_events::SqsEvent;
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
pub use example_orders::{Channel, Notification, SyncRequest};

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

/// An SQS batch of `n` records; with `poison`, records `i % 100 == 37` carry
/// malformed JSON and `i % 100 == 73` an unknown channel. Returns the batch and
/// the ids that must fail.
pub fn sqs_batch(n: usize, poison: bool) -> (SqsEvent, Vec<String>) {
    let mut event = SqsEvent::default();
    let mut failing = Vec::new();
    for i in 0..n {
        let id = format!("00000000-0000-4000-8000-{i:012}");
        let body = if poison && i % 100 == 37 {
            failing.push(id.clone());
            r#"{"type": "NOTIFICATION", "recipient": "#.to_owned()
        } else if poison && i % 100 == 73 {
            failing.push(id.clone());
            format!(
                r#"{{"type": "NOTIFICATION", "channel": "FAX", "recipient": "user{i}@example.com", "subject": "x", "body": "y"}}"#
            )
        } else if i % 2 == 0 {
            format!(
                r#"{{"type": "NOTIFICATION", "channel": "EMAIL", "recipient": "user{i}@example.com", "subject": "Order {i} confirmed", "body": "Thank you for your order."}}"#
            )
        } else {
            format!(
                r#"{{"type": "SYNC_REQUEST", "entity": "ORDER", "pk": "ORDER#{i}", "sk": "META"}}"#
            )
        };
        let mut m = aws_events::SqsMessage::default();
        m.message_id = Some(id);
        m.receipt_handle = Some(format!("AQEB{i:040}"));
        m.body = Some(body);
        m.event_source = Some("aws:sqs".into());
        m.event_source_arn = Some("arn:aws:sqs:us-east-2:123456789012:orders-notifications".into());
        m.aws_region = Some("us-east-2".into());
        for (k, v) in [
            ("ApproximateReceiveCount", "1"),
            ("SentTimestamp", "1545082649183"),
            ("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
        ] {
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
}
