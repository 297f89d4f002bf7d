//! The Kafka, S3 Batch Operations and Firehose builders and the harness on
//! them.

use eventrail::source::firehose::Transformation;
use eventrail::source::kafka::KafkaMessage;
use eventrail::source::s3_batch::S3BatchTask;
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
use eventrail_testkit::{firehose, kafka, s3_batch, TestApp, TestEvent};

#[derive(Debug, serde::Deserialize)]
struct Order {
    id: u32,
}

#[test]
fn kafka_builder_round_trips_through_the_typed_batch() {
    let batch = kafka::batch([
        kafka::record("orders", 0, 1, r#"{"id":1}"#)
            .key("k")
            .header("tenant", "acme"),
        kafka::record("orders", 1, 9, "").tombstone(),
    ])
    .self_managed();
    let json = batch.to_json();
    assert_eq!(json["eventSource"], "SelfManagedKafka");
    assert!(json.get("eventSourceArn").is_none());
    let typed = batch.typed();
    assert_eq!(typed.records[0].header("tenant"), Some(&b"acme"[..]));
    assert_eq!(typed.records[0].key_bytes().unwrap(), Some(b"k".to_vec()));
    assert_eq!(typed.records[1].value, None);
    // The batch the builder makes is what the adapter detects.
    let bytes = batch.to_bytes();
    let detected = eventrail_lambda::detect(&bytes).unwrap();
    assert_eq!(detected.source(), eventrail::Source::Kafka);
    assert_eq!(detected.records(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_harness_names_kafka_failures_by_record_id() {
    let app = TestApp::new(|_| {
        let bus = Bus::builder()
            .on(handler_fn(|m: Envelope<KafkaMessage<Order>>| async move {
                if m.id == 2 {
                    return Err(HandlerError::permanent("no"));
                }
                Ok::<_, HandlerError>(())
            }))
            .build();
        App::builder(Router::new().kafka().topic("orders").to::<Order>(), bus)
    });
    let out = app
        .send(kafka::batch([
            kafka::record("orders", 0, 1, r#"{"id":1}"#),
            kafka::record("orders", 0, 2, r#"{"id":2}"#),
            kafka::record("orders", 0, 3, r#"{"id":3}"#),
            kafka::record("audit", 0, 1, r#"{"id":4}"#),
        ]))
        .await;
    assert_eq!(out.done(), ["orders-0@1"]);
    // Groups come in topic-partition order (a JSON object's keys, sorted).
    assert_eq!(
        out.batch_item_failures(),
        ["audit-0@1", "orders-0@2", "orders-0@3"]
    );
}

#[test]
fn s3_batch_builder_round_trips_both_schemas() {
    let v1 = s3_batch::invocation([s3_batch::task("media", "a b.mov").version("7")]);
    let typed = v1.typed();
    let task = typed.task(&typed.tasks[0]).unwrap();
    assert_eq!(
        (task.bucket.as_str(), task.key.as_str()),
        ("media", "a b.mov")
    );
    assert_eq!(task.version_id.as_deref(), Some("7"));
    let v2 = s3_batch::invocation([s3_batch::task("media", "b.mov")]).user_argument("k", "v");
    let typed = v2.typed();
    assert_eq!(typed.invocation_schema_version, "2.0");
    assert_eq!(
        typed.task(&typed.tasks[0]).unwrap().user_arguments["k"],
        "v"
    );
}

#[tokio::test(start_paused = true)]
async fn the_harness_answers_s3_batch_with_one_result_per_task() {
    let app = TestApp::new(|_| {
        let bus = Bus::builder()
            .on(handler_fn(|t: Envelope<S3BatchTask>| async move {
                if t.key.ends_with(".tmp") {
                    return Err(HandlerError::retryable("locked"));
                }
                Ok::<_, HandlerError>(format!("archived {}", t.key))
            }))
            .build();
        App::builder(Router::new().s3_batch().to::<S3BatchTask>(), bus)
    });
    let out = app
        .send(s3_batch::invocation([
            s3_batch::task("docs", "a.pdf").id("t-1"),
            s3_batch::task("docs", "b.tmp").id("t-2"),
        ]))
        .await;
    let results = &out.response().unwrap()["results"];
    assert_eq!(results[0]["resultCode"], "Succeeded");
    assert_eq!(results[0]["resultString"], "archived a.pdf");
    assert_eq!(results[1]["resultCode"], "TemporaryFailure");
    assert_eq!(out.failed(), ["t-2"]);
}

#[test]
fn firehose_builder_round_trips_every_origin() {
    let make = || firehose::invocation([firehose::record("a"), firehose::record("b").id("r-b")]);
    for inv in [make(), make().from_kinesis(), make().from_msk()] {
        let typed = inv.typed();
        assert_eq!(typed.records[1].record_id, "r-b");
        assert_eq!(typed.records[1].data_bytes().unwrap(), b"b");
    }
    assert!(make().from_msk().typed().source_msk_arn.is_some());
    assert!(make()
        .from_kinesis()
        .typed()
        .source_kinesis_stream_arn
        .is_some());
}

#[derive(Debug, serde::Deserialize)]
struct Click {
    page: String,
}

#[tokio::test(start_paused = true)]
async fn the_harness_answers_firehose_per_record() {
    let app = TestApp::new(|_| {
        let bus = Bus::builder()
            .on(handler_fn(|c: Envelope<Click>| async move {
                if c.page == "/health" {
                    return Ok::<_, HandlerError>(Transformation::dropped());
                }
                Ok(Transformation::data(c.page.clone()).partition_key("page", c.page.clone()))
            }))
            .build();
        App::builder(Router::new().firehose_all().to::<Click>(), bus)
    });
    let out = app
        .send(firehose::invocation([
            firehose::record(r#"{"page":"/cart"}"#).id("r-1"),
            firehose::record(r#"{"page":"/health"}"#).id("r-2"),
            firehose::record("{").id("r-3"),
        ]))
        .await;
    let records = &out.response().unwrap()["records"];
    assert_eq!(records[0]["result"], "Ok");
    assert_eq!(records[0]["data"], "L2NhcnQ=");
    assert_eq!(records[0]["metadata"]["partitionKeys"]["page"], "/cart");
    assert_eq!(records[1]["result"], "Dropped");
    assert_eq!(records[2]["result"], "ProcessingFailed");
    assert_eq!(out.failed(), ["r-3"]);
}

#[tokio::test(start_paused = true)]
async fn the_harness_sees_the_kafka_key_and_headers_a_builder_sets() {
    let app = TestApp::new(|_| {
        let bus = Bus::builder()
            .on(handler_fn(|m: Envelope<KafkaMessage<Order>>| async move {
                let key = m.meta().key().map(<[u8]>::to_vec);
                Ok::<_, HandlerError>(serde_json::json!({
                    "id": m.id,
                    "key": key,
                    "trace": m.header("trace"),
                }))
            }))
            .build();
        App::builder(Router::new().kafka().topic("orders").to::<Order>(), bus)
    });
    let out = app
        .send(kafka::batch([
            kafka::record("orders", 0, 1, r#"{"id":1}"#)
                .key([0xffu8, 0x00, b'k'])
                .header("trace", [0x80u8, 0x01]),
            kafka::record("orders", 0, 2, r#"{"id":2}"#),
        ]))
        .await;
    out.assert_all_done();
    assert_eq!(
        out.output("orders-0@1"),
        Some(&serde_json::json!({"id": 1, "key": [255, 0, 107], "trace": [128, 1]}))
    );
    assert_eq!(
        out.output("orders-0@2"),
        Some(&serde_json::json!({"id": 2, "key": null, "trace": null}))
    );
}

#[tokio::test(start_paused = true)]
async fn a_kafka_key_or_value_that_is_not_base64_fails_its_record_as_bad_input() {
    let app = TestApp::new(|_| {
        let bus = Bus::builder()
            .on(handler_fn(|_: Envelope<KafkaMessage<Order>>| async {
                Ok::<_, HandlerError>(())
            }))
            .build();
        App::builder(Router::new().kafka().topic("orders").to::<Order>(), bus)
    });
    let out = app
        .send(kafka::batch([
            kafka::record("orders", 0, 1, r#"{"id":1}"#).raw_key("k!"),
            kafka::record("orders", 1, 1, "").raw_value("%%"),
            kafka::record("orders", 2, 1, r#"{"id":3}"#).raw_key("azE="),
        ]))
        .await;
    assert_eq!(out.done(), ["orders-2@1"]);
    for id in ["orders-0@1", "orders-1@1"] {
        let failure = out.failure(id).expect("failed");
        assert!(
            failure.error.to_string().contains("is not base64"),
            "{id}: {}",
            failure.error
        );
        assert!(!failure.retry.is_retryable());
    }
}
