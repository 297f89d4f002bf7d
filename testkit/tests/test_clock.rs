//! Under `TestApp`, layers built without a clock follow the test clock: an
//! idempotency record expires when `advance` passes its expiry, and alarms
//! are stamped with the test clock's time. Nothing is wired by hand.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eventrail::layers::{IdempotencyOptions, ServiceBuilderExt};
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
use eventrail_testkit::{sqs, test_epoch, TestApp};
use tower::ServiceBuilder;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Invoice {
    invoice_id: String,
    amount: i64,
}

const ALARMS: &str = "arn:aws:sns:eu-west-1:123456789012:alarms";

fn app(runs: Arc<AtomicU32>) -> TestApp {
    TestApp::new(|fakes| {
        let handler = ServiceBuilder::new()
            // No clock given to either layer.
            .alarm(
                eventrail::layers::AlarmService::new(fakes.notifier(), ALARMS),
                "InvoiceHandler",
            )
            .idempotent(
                fakes.idempotency_store(),
                |e: &Envelope<Invoice>| Some(e.invoice_id.clone()),
                IdempotencyOptions::new()
                    .namespace("invoices")
                    .expires_after(Duration::from_secs(3600)),
            )
            .service(handler_fn(move |e: Envelope<Invoice>| {
                let runs = runs.clone();
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    if e.amount < 0 {
                        return Err(HandlerError::permanent("negative amount"));
                    }
                    Ok(format!("booked {}", e.invoice_id))
                }
            }));
        App::builder(
            Router::new().sqs_all().to::<Invoice>(),
            Bus::builder().on(handler).build(),
        )
    })
}

fn invoice(id: &str, amount: i64) -> sqs::Message {
    sqs::message(format!(r#"{{"invoice_id": "{id}", "amount": {amount}}}"#)).id(id)
}

#[tokio::test(start_paused = true)]
async fn idempotency_expiry_follows_the_advanced_test_clock() {
    let runs = Arc::new(AtomicU32::new(0));
    let app = app(runs.clone());

    app.send(sqs::batch([invoice("inv-1", 10)]))
        .await
        .assert_all_done();
    let record = app.idempotency().record("invoices#inv-1").unwrap();
    assert_eq!(
        record.expires_at,
        test_epoch() + Duration::from_secs(3600),
        "the expiry is computed on the test clock"
    );

    app.advance(Duration::from_secs(59 * 60)).await;
    let dup = app.send(sqs::batch([invoice("inv-1", 10)])).await;
    assert_eq!(dup.output("inv-1").unwrap(), "booked inv-1");
    assert_eq!(dup.duplicates(), 1);
    assert_eq!(runs.load(Ordering::SeqCst), 1, "still within the hour");

    app.advance(Duration::from_secs(2 * 60)).await;
    let later = app.send(sqs::batch([invoice("inv-1", 10)])).await;
    assert_eq!(later.duplicates(), 0);
    assert_eq!(runs.load(Ordering::SeqCst), 2, "the record expired at 1 h");
}

#[tokio::test(start_paused = true)]
async fn alarms_are_stamped_with_the_test_clock() {
    let app = app(Arc::new(AtomicU32::new(0)));
    app.advance(Duration::from_secs(90)).await;
    let out = app.send(sqs::batch([invoice("inv-2", -1)])).await;
    assert_eq!(out.batch_item_failures(), ["inv-2"]);
    let sent = app.sns().published_to(ALARMS);
    assert_eq!(sent.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&sent[0].message).unwrap();
    assert_eq!(body["timestamp"], "2026-01-01T00:01:30.000Z");
}
