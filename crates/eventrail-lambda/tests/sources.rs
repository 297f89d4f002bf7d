//! Kafka, S3 Batch Operations and Firehose transformations through the
//! adapter: detect, process, respond, as `invoke` (and the local `invoke`
//! command) does.

use std::sync::{Arc, Mutex};

use eventrail::app::Invocation;
use eventrail::source::kafka::KafkaMessage;
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
use eventrail_lambda::invoke;
use serde_json::{json, Value};

/// The order every fixture carries.
#[derive(Debug, serde::Deserialize)]
struct Order {
    id: String,
    #[serde(default)]
    fail: Option<String>,
}

fn outcome(fail: Option<&str>) -> Result<(), HandlerError> {
    match fail {
        Some("permanent") => Err(HandlerError::permanent("rejected")),
        Some(_) => Err(HandlerError::retryable("busy")),
        None => Ok(()),
    }
}

type Seen = Arc<Mutex<Vec<String>>>;

fn kafka_app() -> (App, Seen) {
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    let bus = Bus::builder()
        .on(handler_fn(move |m: Envelope<KafkaMessage<Order>>| {
            let log = Arc::clone(&log);
            async move {
                let corr = m.meta().correlation_id().to_owned();
                log.lock().unwrap().push(format!(
                    "{}:{}:{}",
                    m.id,
                    m.key_str().unwrap_or("-"),
                    corr
                ));
                outcome(m.fail.as_deref())
            }
        }))
        .build();
    let router = Router::new()
        .kafka()
        .topic("orders")
        .field("type", "ORDER_PLACED")
        .to::<Order>();
    (App::builder(router, bus).build().unwrap(), seen)
}

#[tokio::test]
async fn kafka_reports_failed_records_by_topic_partition_and_offset() {
    let (app, seen) = kafka_app();
    let resp = invoke(
        &app,
        include_bytes!("fixtures/kafka.json"),
        Invocation::new("t"),
    )
    .await
    .unwrap();
    // orders-0@42 fails in its handler, so orders-0@43 is not started;
    // orders-1@8 is not JSON. orders-1 ran beside orders-0.
    assert_eq!(
        resp,
        json!({"batchItemFailures": [
            {"itemIdentifier": {"partition": "orders-0", "offset": 42}},
            {"itemIdentifier": {"partition": "orders-0", "offset": 43}},
            {"itemIdentifier": {"partition": "orders-1", "offset": 8}},
        ]})
    );
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    // The correlation id is the header, else the record id.
    assert_eq!(
        seen,
        [
            "o-41:order-41:c-41",
            "o-42:order-42:orders-0@42",
            "o-7:order-7:orders-1@7"
        ]
    );
}

#[tokio::test]
async fn a_self_managed_kafka_batch_without_failures_answers_an_empty_list() {
    let (app, _) = kafka_app();
    let payload = json!({
        "eventSource": "SelfManagedKafka",
        "bootstrapServers": "kafka-1.internal:9092",
        "records": {"orders-3": [{
            "topic": "orders", "partition": 3, "offset": 0, "timestamp": 1_767_225_600_000_i64,
            "timestampType": "CREATE_TIME", "key": null,
            "value": "eyJ0eXBlIjoiT1JERVJfUExBQ0VEIiwiaWQiOiJvLTEifQ==", "headers": []
        }]}
    });
    let resp = eventrail_lambda::invoke_value(&app, payload, Invocation::new("t"))
        .await
        .unwrap();
    assert_eq!(resp, json!({"batchItemFailures": []}));
}

#[tokio::test]
async fn a_malformed_kafka_record_fails_alone_and_an_unidentifiable_one_fails_the_batch() {
    let (app, seen) = kafka_app();
    let payload = json!({
        "eventSource": "aws:kafka",
        "records": {
            "orders-0": [{"topic": "orders", "partition": 0, "offset": 5, "headers": [{"h": [512]}]}],
            "orders-1": [
                {"topic": "orders", "partition": 1, "offset": 9, "timestamp": 0,
                 "value": "eyJ0eXBlIjoiT1JERVJfUExBQ0VEIiwiaWQiOiJvLTkifQ==", "headers": []},
                {"partition": 1}
            ]
        }
    });
    let resp: Value = eventrail_lambda::invoke_value(&app, payload, Invocation::new("t"))
        .await
        .unwrap();
    assert_eq!(
        resp,
        json!({"batchItemFailures": [
            {"itemIdentifier": {"partition": "orders-0", "offset": 5}},
            {"itemIdentifier": null},
        ]})
    );
    assert_eq!(seen.lock().unwrap().clone(), ["o-9:-:orders-1@9"]);
}
