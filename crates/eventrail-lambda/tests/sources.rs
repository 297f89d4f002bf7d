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

fn s3_batch_app() -> (App, Seen) {
    use eventrail::source::s3_batch::S3BatchTask;
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    let bus = Bus::builder()
        .on(handler_fn(move |t: Envelope<S3BatchTask>| {
            let log = Arc::clone(&log);
            async move {
                log.lock().unwrap().push(format!("{}/{}", t.bucket, t.key));
                match t.key.as_str() {
                    "videos/busy.mov" => Err(HandlerError::retryable("transcoder busy")),
                    "videos/corrupt.mov" => Err(HandlerError::permanent("not a video")),
                    _ => Ok(format!(
                        "transcoded to {}",
                        t.user_arguments
                            .get("preset")
                            .map_or("720p", String::as_str)
                    )),
                }
            }
        }))
        .build();
    let router = Router::new()
        .s3_batch()
        .prefix("videos/")
        .to::<S3BatchTask>();
    (App::builder(router, bus).build().unwrap(), seen)
}

#[tokio::test]
async fn s3_batch_schema_2_answers_one_result_per_task_with_the_invocation_echoed() {
    let (app, seen) = s3_batch_app();
    let resp = invoke(
        &app,
        include_bytes!("fixtures/s3_batch_v2.json"),
        Invocation::new("t"),
    )
    .await
    .unwrap();
    assert_eq!(
        resp,
        json!({
            "invocationSchemaVersion": "2.0",
            "treatMissingKeysAs": "PermanentFailure",
            "invocationId": "aW52b2NhdGlvbi0yMDI2LTAxLTAxLTAwMDE",
            "results": [
                {"taskId": "dGFzay0xMDAx", "resultCode": "Succeeded", "resultString": "transcoded to 1080p"},
                {"taskId": "dGFzay0xMDAy", "resultCode": "TemporaryFailure", "resultString": "transcoder busy"},
                {"taskId": "dGFzay0xMDAz", "resultCode": "PermanentFailure", "resultString": "not a video"},
            ]
        })
    );
    assert_eq!(seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn s3_batch_schema_1_decodes_the_key_and_reads_the_bucket_from_its_arn() {
    let (app, seen) = s3_batch_app();
    let resp = invoke(
        &app,
        include_bytes!("fixtures/s3_batch_v1.json"),
        Invocation::new("t"),
    )
    .await
    .unwrap();
    assert_eq!(resp["invocationSchemaVersion"], "1.0");
    assert_eq!(
        resp["invocationId"],
        "YXNkZmxramFzZGZsa2phc2RmbGtqYXNkZmxrag"
    );
    assert_eq!(
        resp["results"],
        json!([{"taskId": "dGFzay0wMDAx", "resultCode": "Succeeded", "resultString": "transcoded to 720p"}])
    );
    assert_eq!(
        seen.lock().unwrap().clone(),
        ["media-archive/videos/2026/launch day(1).mov"]
    );
}

#[tokio::test]
async fn a_malformed_or_unrouted_s3_batch_task_fails_permanently_alone() {
    let (app, seen) = s3_batch_app();
    let payload = json!({
        "invocationSchemaVersion": "1.0",
        "invocationId": "inv-3",
        "job": {"id": "j"},
        "tasks": [
            {"taskId": "t-1", "s3Key": 42, "s3VersionId": null, "s3BucketArn": "arn:aws:s3:::b"},
            {"taskId": "t-2", "s3Key": "bad%zzkey", "s3VersionId": null, "s3BucketArn": "arn:aws:s3:::b"},
            {"taskId": "t-3", "s3Key": "photos/a.jpg", "s3VersionId": null, "s3BucketArn": "arn:aws:s3:::b"},
        ]
    });
    let resp = eventrail_lambda::invoke_value(&app, payload, Invocation::new("t"))
        .await
        .unwrap();
    let codes: Vec<(&str, &str)> = resp["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["taskId"].as_str().unwrap(),
                r["resultCode"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        [
            ("t-1", "PermanentFailure"),
            ("t-2", "PermanentFailure"),
            ("t-3", "PermanentFailure")
        ]
    );
    assert!(resp["results"][2]["resultString"]
        .as_str()
        .unwrap()
        .contains("no route matched"));
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn respond_without_the_payload_names_what_s3_batch_needs() {
    let (app, _) = s3_batch_app();
    let detected = eventrail_lambda::detect(include_bytes!("fixtures/s3_batch_v1.json")).unwrap();
    let report = app.process_raw(detected.raw(), &Invocation::new("t")).await;
    let err = eventrail_lambda::respond(&report).unwrap_err();
    assert_eq!(err.error_type(), "Eventrail.NeedsPayload");
    assert!(eventrail_lambda::respond_to(&report, detected.raw()).is_ok());
}

#[derive(Debug, serde::Deserialize)]
struct LogLine {
    level: String,
    msg: String,
}

fn firehose_app() -> App {
    use eventrail::source::firehose::Transformation;
    let bus =
        Bus::builder()
            .on(handler_fn(|l: Envelope<LogLine>| async move {
                match (l.level.as_str(), l.msg.as_str()) {
                    ("debug", _) => Ok(Transformation::dropped()),
                    (_, "fail") => Err(HandlerError::permanent("unparseable")),
                    (_, "busy") => Err(HandlerError::retryable("enricher busy")),
                    (level, msg) => Ok(Transformation::data(format!("{level}: {msg}\n"))
                        .partition_key("level", level)),
                }
            }))
            .build();
    let router = Router::new().firehose("kind", "log").to::<LogLine>();
    App::builder(router, bus).build().unwrap()
}

fn b64(s: &str) -> String {
    eventrail::source::firehose::encode(s.as_bytes())
}

#[tokio::test]
async fn firehose_answers_every_record_ok_dropped_or_processing_failed() {
    let app = firehose_app();
    let payload = include_bytes!("fixtures/firehose.json");
    let resp = invoke(&app, payload, Invocation::new("t")).await.unwrap();
    let input: Value = serde_json::from_slice(payload).unwrap();
    let id = |i: usize| input["records"][i]["recordId"].clone();
    let data = |i: usize| input["records"][i]["data"].clone();
    assert_eq!(
        resp,
        json!({"records": [
            {"recordId": id(0), "result": "Ok", "data": b64("info: started\n"),
             "metadata": {"partitionKeys": {"level": "info"}}},
            {"recordId": id(1), "result": "Dropped", "data": data(1)},
            {"recordId": id(2), "result": "Ok", "data": b64("warn: disk 91%\n"),
             "metadata": {"partitionKeys": {"level": "warn"}}},
            {"recordId": id(3), "result": "ProcessingFailed", "data": data(3)},
            {"recordId": id(4), "result": "ProcessingFailed", "data": data(4)},
        ]})
    );
}

#[tokio::test]
async fn firehose_plain_outputs_and_msk_records_keep_their_shape() {
    let bus = Bus::builder()
        .on(handler_fn(|l: Envelope<LogLine>| async move {
            Ok::<_, HandlerError>(match l.msg.as_str() {
                "keep" => serde_json::Value::Null,
                "json" => json!({"m": l.msg}),
                other => json!(other.to_uppercase()),
            })
        }))
        .build();
    let app = App::builder(Router::new().firehose_all().to::<LogLine>(), bus)
        .build()
        .unwrap();
    let line = |m: &str| b64(&format!(r#"{{"level":"info","msg":"{m}"}}"#));
    let payload = json!({
        "invocationId": "inv-msk",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/from-msk",
        "sourceMSKArn": "arn:aws:kafka:us-east-1:123456789012:cluster/shop/4f1c-2",
        "region": "us-east-1",
        "records": [
            {"recordId": "r-1", "approximateArrivalTimestamp": 1, "kafkaRecordValue": line("keep"),
             "topic": "logs", "kafkaPartition": 0, "kafkaOffset": 5},
            {"recordId": "r-2", "approximateArrivalTimestamp": 1, "kafkaRecordValue": line("json")},
            {"recordId": "r-3", "approximateArrivalTimestamp": 1, "kafkaRecordValue": line("shout")},
            {"recordId": "r-4", "approximateArrivalTimestamp": 1, "kafkaRecordValue": "not base64!"},
        ]
    });
    let resp = eventrail_lambda::invoke_value(&app, payload, Invocation::new("t"))
        .await
        .unwrap();
    assert_eq!(
        resp,
        json!({"records": [
            {"recordId": "r-1", "result": "Ok", "kafkaRecordValue": line("keep")},
            {"recordId": "r-2", "result": "Ok", "kafkaRecordValue": b64(r#"{"m":"json"}"#)},
            {"recordId": "r-3", "result": "Ok", "kafkaRecordValue": b64("SHOUT")},
            {"recordId": "r-4", "result": "ProcessingFailed", "kafkaRecordValue": "not base64!"},
        ]})
    );
}

#[tokio::test]
async fn a_malformed_firehose_record_fails_alone() {
    let app = firehose_app();
    let payload = json!({
        "invocationId": "inv-1",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/app-logs",
        "region": "us-east-1",
        "records": [
            {"recordId": "r-1", "approximateArrivalTimestamp": "soon", "data": "e30="},
            {"recordId": "r-2", "approximateArrivalTimestamp": 1,
             "data": b64(r#"{"kind":"log","level":"info","msg":"ok"}"#)},
            {"recordId": "r-3", "approximateArrivalTimestamp": 1, "data": b64("not json")},
        ]
    });
    let resp = eventrail_lambda::invoke_value(&app, payload, Invocation::new("t"))
        .await
        .unwrap();
    let results: Vec<&str> = resp["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["ProcessingFailed", "Ok", "ProcessingFailed"]);
    assert_eq!(resp["records"][0]["data"], "e30=");
}

#[test]
fn detected_new_sources_give_their_typed_events_without_the_malformed_records() {
    use eventrail::app::SourceEvent;
    let payload =
        br#"{"eventSource": "aws:kafka", "bootstrapServers": "b:9098", "records": {"t-0": [
        {"topic": "t", "partition": 0, "offset": 1, "timestamp": 0, "headers": []},
        {"topic": "t", "partition": 0, "offset": "two"}
    ]}}"#;
    let detected = eventrail_lambda::detect(payload).unwrap();
    assert_eq!(detected.malformed()[0].record_id(), "t-0@two");
    match detected.to_event() {
        Some(SourceEvent::Kafka(b)) => {
            assert_eq!(b.records.len(), 1);
            assert_eq!(b.bootstrap_servers.as_deref(), Some("b:9098"));
        }
        other => panic!("{other:?}"),
    }
    let detected = eventrail_lambda::detect(include_bytes!("fixtures/s3_batch_v2.json")).unwrap();
    assert!(matches!(detected.to_event(), Some(SourceEvent::S3Batch(e)) if e.tasks.len() == 3));
    let detected = eventrail_lambda::detect(include_bytes!("fixtures/firehose.json")).unwrap();
    assert!(matches!(detected.to_event(), Some(SourceEvent::Firehose(e)) if e.records.len() == 5));
}
