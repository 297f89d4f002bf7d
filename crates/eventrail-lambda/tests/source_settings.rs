//! What the adapter reads and answers beyond the per-record results for
//! the Kafka, S3 Batch Operations and Firehose sources: the Kafka key on
//! the metadata, `treatMissingKeysAs`, the result-string cap, the field an
//! MSK-fed Firehose record is answered in.

use std::sync::{Arc, Mutex};

use eventrail::app::Invocation;
use eventrail::error::RecordError;
use eventrail::source::firehose::encode;
use eventrail::source::kafka::KafkaMessage;
use eventrail::source::s3_batch::{ResultCode, S3BatchTask, RESULT_STRING_MAX_BYTES};
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
use eventrail_lambda::{invoke, Function};
use serde_json::{json, Value};

#[derive(Debug, serde::Deserialize)]
struct Order {
    id: String,
}

/// A raw (non-JSON) Kafka value, with the key the metadata carried.
#[derive(Debug)]
struct Line(String);

type Keys = Arc<Mutex<Vec<(String, Option<Vec<u8>>)>>>;

fn kafka_app() -> (App, Keys) {
    let keys: Keys = Arc::default();
    let (a, b) = (Arc::clone(&keys), Arc::clone(&keys));
    let bus = Bus::builder()
        .on(handler_fn(move |m: Envelope<KafkaMessage<Order>>| {
            let keys = Arc::clone(&a);
            async move {
                let key = m.meta().key().map(<[u8]>::to_vec);
                // The message carries the same key as its metadata.
                assert_eq!(key.as_deref(), m.key.as_deref());
                keys.lock().unwrap().push((m.id.clone(), key));
                Ok::<_, HandlerError>(())
            }
        }))
        .on(handler_fn(move |l: Envelope<Line>| {
            let keys = Arc::clone(&b);
            async move {
                let key = l.meta().key().map(<[u8]>::to_vec);
                keys.lock().unwrap().push((l.0.clone(), key));
                Ok::<_, HandlerError>(())
            }
        }))
        .build();
    let router = Router::new()
        .kafka()
        .topic("orders")
        .to::<Order>()
        .kafka()
        .topic("lines")
        .map(|_, value| {
            let text = std::str::from_utf8(value.unwrap_or_default())
                .map_err(|e| RecordError::bad_input("not UTF-8").with_source(e))?;
            Ok(Line(text.to_owned()))
        });
    (App::builder(router, bus).build().unwrap(), keys)
}

fn kafka_record(topic: &str, offset: u64, key: Value, value: &str) -> Value {
    json!({
        "topic": topic, "partition": offset / 3, "offset": offset, "timestamp": 1_767_225_600_000u64,
        "timestampType": "CREATE_TIME", "key": key, "value": encode(value.as_bytes()),
        "headers": [],
    })
}

#[tokio::test]
async fn the_kafka_key_is_decoded_onto_the_metadata_on_every_route() {
    let (app, keys) = kafka_app();
    let payload = json!({
        "eventSource": "aws:kafka",
        "eventSourceArn": "arn:aws:kafka:us-east-1:123456789012:cluster/shop/1",
        "records": {
            "orders-0": [
                kafka_record("orders", 1, json!(encode(b"customer-7")), r#"{"id":"o-1"}"#),
                kafka_record("orders", 2, Value::Null, r#"{"id":"o-2"}"#),
            ],
            "lines-0": [
                kafka_record("lines", 1, json!(encode(&[0xff, 0x00])), "plain text"),
                // Not base64: the record fails as bad input, on a `map`
                // route as on a `to` one.
                kafka_record("lines", 2, json!("%%"), "never read"),
            ],
            "orders-1": [kafka_record("orders", 3, json!("%%"), r#"{"id":"o-3"}"#)],
        },
    });
    let resp = eventrail_lambda::invoke_value(&app, payload, Invocation::default())
        .await
        .unwrap();
    assert_eq!(
        resp,
        json!({"batchItemFailures": [
            {"itemIdentifier": {"partition": "lines-0", "offset": 2}},
            {"itemIdentifier": {"partition": "orders-1", "offset": 3}},
        ]})
    );
    let mut seen = keys.lock().unwrap().clone();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("o-1".to_owned(), Some(b"customer-7".to_vec())),
            ("o-2".to_owned(), None),
            ("plain text".to_owned(), Some(vec![0xff, 0x00])),
        ]
    );
}

fn s3_batch_app() -> App {
    let bus = Bus::builder()
        .on(handler_fn(|t: Envelope<S3BatchTask>| async move {
            if t.key.ends_with(".tmp") {
                return Err(HandlerError::retryable("still being written"));
            }
            Ok::<_, HandlerError>(format!("{}:{}", t.key, "é".repeat(2000)))
        }))
        .build();
    App::builder(Router::new().s3_batch().to::<S3BatchTask>(), bus)
        .build()
        .unwrap()
}

fn s3_batch_payload() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "invocationSchemaVersion": "1.0",
        "invocationId": "aW52LTE",
        "job": {"id": "job-1"},
        "tasks": [
            {"taskId": "dGFzay0x", "s3Key": "a.csv", "s3VersionId": null,
             "s3BucketArn": "arn:aws:s3:::media"},
            {"s3Key": "b.csv", "s3VersionId": null, "s3BucketArn": "arn:aws:s3:::media"},
            {"taskId": "dGFzay0z", "s3Key": "c.tmp", "s3VersionId": null,
             "s3BucketArn": "arn:aws:s3:::media"},
        ],
    }))
    .unwrap()
}

#[tokio::test]
async fn treat_missing_keys_as_is_permanent_failure_unless_the_function_says_otherwise() {
    let app = s3_batch_app();
    let default = invoke(&app, &s3_batch_payload(), Invocation::default())
        .await
        .unwrap();
    assert_eq!(default["treatMissingKeysAs"], "PermanentFailure");
    assert_eq!(
        Function::new(app.clone()).missing_keys_result(),
        ResultCode::PermanentFailure
    );
    for code in [ResultCode::TemporaryFailure, ResultCode::Succeeded] {
        let function = Function::new(app.clone()).treat_missing_keys_as(code);
        let resp = invoke(&function, &s3_batch_payload(), Invocation::default())
            .await
            .unwrap();
        assert_eq!(resp["treatMissingKeysAs"], code.as_str());
        // The task without an id is answered under "", which names no
        // task: S3 applies `treatMissingKeysAs` to it.
        let ids: Vec<&str> = resp["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["taskId"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["dGFzay0x", "", "dGFzay0z"]);
        assert_eq!(resp["results"][1]["resultCode"], "PermanentFailure");
        assert_eq!(resp["results"][2]["resultCode"], "TemporaryFailure");
    }
}

#[tokio::test]
async fn result_strings_are_cut_to_the_cap_on_a_character_boundary() {
    let resp = invoke(&s3_batch_app(), &s3_batch_payload(), Invocation::default())
        .await
        .unwrap();
    let text = resp["results"][0]["resultString"].as_str().unwrap();
    assert!(
        text.len() <= RESULT_STRING_MAX_BYTES,
        "{} bytes",
        text.len()
    );
    assert!(
        text.len() > RESULT_STRING_MAX_BYTES - 4,
        "{} bytes",
        text.len()
    );
    assert!(text.starts_with("a.csv:éé"), "{text}");
    assert!(text.ends_with('…'), "{text}");
}

#[derive(Debug, serde::Deserialize)]
struct Log {
    msg: String,
}

#[tokio::test]
async fn an_msk_fed_firehose_record_is_answered_in_kafka_record_value_whatever_it_holds() {
    let bus = Bus::builder()
        .on(handler_fn(|l: Envelope<Log>| async move {
            Ok::<_, HandlerError>(format!("{}\n", l.msg))
        }))
        .build();
    let app = App::builder(Router::new().firehose_all().to::<Log>(), bus)
        .build()
        .unwrap();
    let payload = json!({
        "invocationId": "inv-1",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/logs",
        "sourceMSKArn": "arn:aws:kafka:us-east-1:123456789012:cluster/logs/1",
        "region": "us-east-1",
        "records": [
            {"recordId": "r-1", "approximateArrivalTimestamp": 1,
             "kafkaRecordValue": encode(br#"{"msg":"up"}"#)},
            {"recordId": "r-2", "approximateArrivalTimestamp": 1, "kafkaRecordValue": 7},
            {"recordId": "r-3", "approximateArrivalTimestamp": 1},
        ],
    });
    let resp = eventrail_lambda::invoke_value(&app, payload, Invocation::default())
        .await
        .unwrap();
    assert_eq!(
        resp,
        json!({"records": [
            {"recordId": "r-1", "result": "Ok", "kafkaRecordValue": encode(b"up\n")},
            {"recordId": "r-2", "result": "ProcessingFailed", "kafkaRecordValue": ""},
            {"recordId": "r-3", "result": "ProcessingFailed", "kafkaRecordValue": ""},
        ]})
    );
}
