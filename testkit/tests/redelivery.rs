//! Redelivery: the failed records of an invocation sent again with the ids
//! of their first delivery and a higher receive count, so the idempotency
//! layer and the handler see the same messages, not new ones.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use eventrail::layers::IdempotencyLayer;
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
use eventrail_testkit::events::{dynamodb, sqs, Redeliver, TestEvent};
use eventrail_testkit::TestApp;
use serde_json::json;
use tower::ServiceBuilder;

#[derive(Debug, serde::Deserialize)]
struct Job {
    name: String,
}

/// Jobs named `flaky*` fail (retryable) on their first run only; every run
/// is counted.
fn app(runs: Arc<AtomicU32>) -> TestApp {
    TestApp::new(move |fakes| {
        let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let handler = ServiceBuilder::new()
            .layer(
                IdempotencyLayer::new(fakes.idempotency_store(), |e: &Envelope<Job>| {
                    Some(e.meta().record_id().to_owned())
                })
                .with_clock(fakes.clock()),
            )
            .service(handler_fn(move |j: Envelope<Job>| {
                let (runs, seen) = (runs.clone(), seen.clone());
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    let mut seen = seen.lock().unwrap();
                    let first = !seen.contains(&j.name);
                    seen.push(j.name.clone());
                    if first && j.name.starts_with("flaky") {
                        return Err(HandlerError::retryable("not yet"));
                    }
                    Ok(json!({"ran": j.name}))
                }
            }));
        App::builder(
            Router::new().sqs_all().to::<Job>(),
            Bus::builder().on(handler).build(),
        )
    })
}

fn job(name: &str) -> sqs::Message {
    sqs::message(json!({"name": name}).to_string())
}

#[tokio::test(start_paused = true)]
async fn the_failed_messages_come_back_with_their_ids_and_a_higher_receive_count() {
    let runs = Arc::new(AtomicU32::new(0));
    let app = app(runs.clone());
    // No explicit ids: each message's id comes from its position.
    let batch = sqs::batch([job("a"), job("flaky-1"), job("b"), job("flaky-2")]);
    let ids = batch.message_ids();

    let first = app.send(&batch).await;
    assert_eq!(first.failed(), [ids[1].as_str(), ids[3].as_str()]);

    let again = batch.redeliver_failed(&first);
    let json = again.to_json();
    let records = json["Records"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    for (r, (i, original)) in records.iter().zip([(1, &ids[1]), (3, &ids[3])]) {
        let was = &batch.to_json()["Records"][i];
        assert_eq!(
            r["messageId"],
            original.as_str(),
            "the id of its first delivery"
        );
        assert_eq!(r["attributes"]["ApproximateReceiveCount"], "2");
        assert_eq!(
            r["attributes"]["SentTimestamp"],
            was["attributes"]["SentTimestamp"]
        );
        assert_eq!(r["body"], was["body"]);
        assert_ne!(r["receiptHandle"], was["receiptHandle"], "a new receive");
    }
    let typed = again.typed();
    assert_eq!(
        typed.records[0]
            .attributes
            .get("ApproximateReceiveCount")
            .map(String::as_str),
        Some("2")
    );

    let second = app.send(&again).await;
    second.assert_all_done();
    assert_eq!(second.done(), [ids[1].as_str(), ids[3].as_str()]);
    assert_eq!(second.duplicates(), 0, "released on failure, so run again");
    assert_eq!(runs.load(Ordering::SeqCst), 6);
    // Keyed by record id (namespaced by the event type): the same keys.
    assert_eq!(app.idempotency().acquired(&format!("Job#{}", ids[1])), 2);
    assert_eq!(app.idempotency().acquired(&format!("Job#{}", ids[0])), 1);
    assert_eq!(app.idempotency().keys().len(), 4);

    // A third delivery of the whole batch: every message is a duplicate now.
    let third = app.send(&batch.redeliver(&ids)).await;
    assert_eq!(third.duplicates(), 4);
    assert_eq!(runs.load(Ordering::SeqCst), 6);
    let counts: Vec<String> = batch.redeliver(&ids).redeliver([&ids[0]]).to_json()["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["attributes"]["ApproximateReceiveCount"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(counts, ["3"], "each redelivery counts one more receive");
}

#[tokio::test(start_paused = true)]
async fn test_app_redelivers_the_failed_records() {
    let runs = Arc::new(AtomicU32::new(0));
    let app = app(runs.clone());
    let batch = sqs::batch([job("flaky-x"), job("c")]);
    let first = app.send(&batch).await;
    assert_eq!(first.failed(), [batch.message_ids()[0].as_str()]);
    let again = app.redeliver_failed(&batch, &first).await;
    again.assert_all_done();
    assert_eq!(again.done(), first.failed());
    assert_eq!(
        again.output(&batch.message_ids()[0]),
        Some(&json!({"ran": "flaky-x"}))
    );
}

#[test]
fn a_subset_of_a_stream_batch_keeps_its_sequence_numbers_and_event_ids() {
    let batch = dynamodb::batch([
        dynamodb::insert(json!({"pk": "A"}), json!({"pk": "A"})),
        dynamodb::insert(json!({"pk": "B"}), json!({"pk": "B"})),
        dynamodb::insert(json!({"pk": "C"}), json!({"pk": "C"})).sequence_number("777"),
    ]);
    let seqs = batch.sequence_numbers();
    let again = batch.redeliver([&seqs[2], &seqs[1]]);
    assert_eq!(
        again.sequence_numbers(),
        [seqs[1].clone(), "777".to_owned()],
        "stream order"
    );
    let (was, now) = (batch.to_json(), again.to_json());
    assert_eq!(now["Records"][0]["eventID"], was["Records"][1]["eventID"]);
    assert_eq!(now["Records"][0]["dynamodb"], was["Records"][1]["dynamodb"]);
    assert_eq!(now["Records"][1]["eventID"], was["Records"][2]["eventID"]);
    assert_eq!(again.typed().records.len(), 2);
}

#[test]
#[should_panic(expected = "cannot redeliver [\"nope\"]")]
fn an_unknown_id_is_a_mistake_in_the_test() {
    let batch = sqs::batch([sqs::message("a").id("m-1")]);
    let _ = batch.redeliver(["m-1", "nope"]);
}
