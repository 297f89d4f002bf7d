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

const S3_BATCH: &str = r#"{
    "invocationSchemaVersion": "2.0",
    "invocationId": "aW52LTAwMDE",
    "job": {"id": "9a8b7c6d-0000-4000-8000-000000000001", "userArguments": {"tier": "GLACIER"}},
    "tasks": [
        {"taskId": "dGFzay0x", "s3Key": "logs/2026/01/app.log.gz", "s3VersionId": null, "s3Bucket": "logs"},
        {"taskId": "dGFzay0y", "s3Key": "tmp/scratch.bin", "s3VersionId": null, "s3Bucket": "logs"}
    ]
}"#;

#[derive(Debug)]
struct Archive(eventrail::source::s3_batch::S3BatchTask);

impl From<eventrail::source::s3_batch::S3BatchTask> for Archive {
    fn from(t: eventrail::source::s3_batch::S3BatchTask) -> Self {
        Self(t)
    }
}

fn s3_batch_app() -> App {
    let bus = Bus::builder()
        .on(handler_fn(|a: Envelope<Archive>| async move {
            Ok::<_, HandlerError>(format!(
                "{} to {}",
                a.event().0.key,
                a.event().0.user_arguments["tier"]
            ))
        }))
        .build();
    let router = Router::new()
        .s3_batch()
        .prefix("logs/")
        .suffix(".gz")
        .to::<Archive>();
    App::builder(router, bus).build().unwrap()
}

#[test]
fn s3_batch_routes_are_listed_and_checked() {
    let table = s3_batch_app().routes().to_string();
    assert!(table.contains("s3batch"), "{table}");
    assert!(table.contains(r#"prefix "logs/" suffix ".gz""#), "{table}");
    let err = Router::new()
        .s3_batch()
        .prefix("logs/")
        .to::<Archive>()
        .s3_batch()
        .prefix("logs/2026/")
        .to::<Archive>()
        .check()
        .unwrap_err();
    assert_eq!(err.source, Source::S3Batch);
}

#[tokio::test]
async fn s3_batch_tasks_route_on_the_raw_and_the_typed_path() {
    let app = s3_batch_app();
    let raw = RawEvent::parse(S3_BATCH.as_bytes()).unwrap();
    assert_eq!((raw.source(), raw.len()), (Source::S3Batch, 2));
    let report = app.process_raw(&raw, &Invocation::default()).await;
    assert_eq!(report.failed_ids().collect::<Vec<_>>(), ["dGFzay0y"]);
    match &report.outcomes[0].status {
        eventrail::app::Status::Done(out) => assert_eq!(out, "logs/2026/01/app.log.gz to GLACIER"),
        other => panic!("{other:?}"),
    }
    let typed: eventrail::source::s3_batch::S3BatchEvent = serde_json::from_str(S3_BATCH).unwrap();
    let report = app
        .process(SourceEvent::S3Batch(typed), &Invocation::default())
        .await;
    assert_eq!(report.failed_ids().collect::<Vec<_>>(), ["dGFzay0y"]);
}

#[test]
fn an_s3_batch_invocation_whose_tasks_are_not_a_list_is_not_a_source() {
    let err =
        RawEvent::parse(br#"{"invocationId": "i", "invocationSchemaVersion": "1.0", "tasks": {}}"#)
            .unwrap_err();
    assert!(
        err.to_string().contains("`tasks` is an empty JSON object"),
        "{err}"
    );
}

#[derive(Debug, serde::Deserialize)]
struct Click {
    page: String,
}

const FIREHOSE: &str = r#"{
    "invocationId": "5f1c0d2a-7e11-4c1e-9a53-1a2b3c4d5e6f",
    "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/clicks",
    "region": "us-east-1",
    "records": [
        {"recordId": "r-1", "approximateArrivalTimestamp": 1767225600000,
         "data": "eyJ0eXBlIjoiY2xpY2siLCJwYWdlIjoiL2NhcnQifQ=="},
        {"recordId": "r-2", "approximateArrivalTimestamp": 1767225600000,
         "data": "eyJ0eXBlIjoidmlldyIsInBhZ2UiOiIvIn0="}
    ]
}"#;

fn firehose_app() -> App {
    let bus = Bus::builder()
        .on(handler_fn(|c: Envelope<Click>| async move {
            Ok::<_, HandlerError>(c.page.clone())
        }))
        .build();
    App::builder(Router::new().firehose("type", "click").to::<Click>(), bus)
        .build()
        .unwrap()
}

#[test]
fn firehose_routes_are_listed_and_checked() {
    let table = firehose_app().routes().to_string();
    assert!(
        table.contains("firehose") && table.contains(r#"type = "click""#),
        "{table}"
    );
    let err = Router::new()
        .firehose_all()
        .to::<Click>()
        .firehose("type", "click")
        .to::<Click>()
        .check()
        .unwrap_err();
    assert_eq!(err.source, Source::Firehose);
}

#[tokio::test]
async fn firehose_records_route_like_kinesis_on_the_raw_and_the_typed_path() {
    let app = firehose_app();
    let raw = RawEvent::parse(FIREHOSE.as_bytes()).unwrap();
    assert_eq!((raw.source(), raw.len()), (Source::Firehose, 2));
    let report = app.process_raw(&raw, &Invocation::default()).await;
    assert_eq!(report.failed_ids().collect::<Vec<_>>(), ["r-2"]);
    let typed: eventrail::source::firehose::FirehoseEvent = serde_json::from_str(FIREHOSE).unwrap();
    let report = app
        .process(SourceEvent::Firehose(typed), &Invocation::default())
        .await;
    assert_eq!(report.failed_ids().collect::<Vec<_>>(), ["r-2"]);
}

#[test]
fn a_firehose_invocation_whose_records_are_not_a_list_is_not_a_source() {
    let err =
        RawEvent::parse(br#"{"invocationId": "i", "deliveryStreamArn": "arn", "records": "x"}"#)
            .unwrap_err();
    assert!(
        err.to_string()
            .contains("Firehose transformation whose `records` is a JSON string"),
        "{err}"
    );
}

#[test]
fn a_task_input_that_happens_to_have_records_is_still_a_task_input() {
    let e = RawEvent::parse(br#"{"type": "IMPORT", "records": [1, 2], "deliveryStreamArn": "x", "tasks": [], "invocationSchemaVersion": "1"}"#)
        .unwrap();
    assert_eq!(e.source(), Source::StepFunctions);
}
