//! Routing of the Kafka, S3 Batch Operations and Firehose sources, on
//! real-shaped payloads: route listing, conflicts, the typed path.

use eventrail::app::{Invocation, SourceEvent};
use eventrail::source::kafka::{KafkaBatch, KafkaMessage};
use eventrail::source::RawEvent;
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router, Source};

#[derive(Debug, serde::Deserialize)]
struct Order {
    id: u32,
}

const KAFKA: &str = r#"{
    "eventSource": "aws:kafka",
    "eventSourceArn": "arn:aws:kafka:us-east-1:123456789012:cluster/shop/4f1c-2",
    "bootstrapServers": "b-1.shop.kafka.us-east-1.amazonaws.com:9098",
    "records": {
        "orders-0": [
            {"topic": "orders", "partition": 0, "offset": 10, "timestamp": 1767225600000,
             "timestampType": "CREATE_TIME", "key": null,
             "value": "eyJ0eXBlIjoiUExBQ0VEIiwiaWQiOjF9", "headers": []},
            {"topic": "orders", "partition": 0, "offset": 11, "timestamp": 1767225600000,
             "timestampType": "CREATE_TIME", "key": null,
             "value": "eyJ0eXBlIjoiQ0FOQ0VMTEVEIiwiaWQiOjJ9", "headers": []}
        ]
    }
}"#;

fn kafka_app() -> App {
    let bus = Bus::builder()
        .on_named(
            "place",
            handler_fn(|m: Envelope<KafkaMessage<Order>>| async move {
                match m.id {
                    0 => Err(HandlerError::permanent("order 0")),
                    _ => Ok(()),
                }
            }),
        )
        .build();
    let router = Router::new()
        .kafka()
        .topic("orders")
        .field("type", "PLACED")
        .to::<Order>();
    App::builder(router, bus).build().unwrap()
}

#[test]
fn kafka_routes_are_listed() {
    let table = kafka_app().routes().to_string();
    assert!(table.contains("kafka"), "{table}");
    assert!(
        table.contains(r#"topic = "orders", type = "PLACED""#),
        "{table}"
    );
    assert!(
        table.contains("KafkaMessage<Order>") && table.contains("place"),
        "{table}"
    );
}

#[test]
fn a_kafka_route_an_earlier_one_always_wins_is_a_conflict() {
    let err = Router::new()
        .kafka()
        .topic("orders")
        .to::<Order>()
        .kafka()
        .topic("orders")
        .field("type", "PLACED")
        .to::<Order>()
        .check()
        .unwrap_err();
    assert_eq!(err.earlier, r#"topic = "orders""#);
    let ok = Router::new()
        .kafka()
        .field("type", "PLACED")
        .to::<Order>()
        .kafka()
        .topic("orders")
        .to::<Order>()
        .check();
    assert_eq!(ok, Ok(()));
}

#[tokio::test]
async fn kafka_records_route_by_field_on_the_raw_and_the_typed_path() {
    let app = kafka_app();
    let raw = RawEvent::parse(KAFKA.as_bytes()).unwrap();
    assert_eq!(raw.source(), Source::Kafka);
    let report = app.process_raw(&raw, &Invocation::default()).await;
    assert_eq!(report.failed_ids().collect::<Vec<_>>(), ["orders-0@11"]);

    let typed: KafkaBatch = serde_json::from_str(KAFKA).unwrap();
    assert_eq!(
        typed.bootstrap_servers.as_deref(),
        Some("b-1.shop.kafka.us-east-1.amazonaws.com:9098")
    );
    let report = app
        .process(SourceEvent::Kafka(typed), &Invocation::default())
        .await;
    assert_eq!(report.failed_ids().collect::<Vec<_>>(), ["orders-0@11"]);
}

#[test]
fn a_kafka_batch_whose_records_are_not_grouped_is_not_a_source() {
    let err = RawEvent::parse(br#"{"eventSource": "aws:kafka", "records": [1]}"#).unwrap_err();
    assert!(
        err.to_string()
            .contains("a Kafka batch whose `records` is not an object of arrays"),
        "{err}"
    );
}
