//! Every builder's JSON has the shape of the real event (compared with
//! real-shaped fixtures in `tests/fixtures/`) and deserializes into the
//! `aws_lambda_events` type as the real event does.

use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use eventrail::dynamodb::{ChangeKind, DataChange};
use eventrail::s3::S3Object;
use eventrail_testkit::events::{dynamodb, eventbridge, s3, sns, sqs, TestEvent};
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let raw: &[u8] = match name {
        "sqs" => include_bytes!("fixtures/sqs.json"),
        "sqs_fifo" => include_bytes!("fixtures/sqs_fifo.json"),
        "sns" => include_bytes!("fixtures/sns.json"),
        "sns_sqs_body" => include_bytes!("fixtures/sns_sqs_body.json"),
        "s3_put" => include_bytes!("fixtures/s3_put.json"),
        "s3_delete" => include_bytes!("fixtures/s3_delete.json"),
        "dynamodb" => include_bytes!("fixtures/dynamodb.json"),
        "eventbridge" => include_bytes!("fixtures/eventbridge.json"),
        other => panic!("no fixture {other}"),
    };
    serde_json::from_slice(raw).unwrap()
}

/// The structure of a JSON value: object keys, array element shape and leaf
/// types. Under the keys in `data`, only "an object" is kept: those hold the
/// user's data (attributes, images, detail), not the event's shape.
fn shape(v: &Value, data: &[&str]) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let s = if data.contains(&k.as_str()) {
                        json!("object")
                    } else {
                        shape(v, data)
                    };
                    (k.clone(), s)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.first().map(|v| shape(v, data)).into_iter().collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => json!("null"),
    }
}

fn assert_same_shape(built: &Value, real: &Value, data: &[&str]) {
    assert_eq!(
        shape(built, data),
        shape(real, data),
        "builder output:\n{built:#}\nreal-shaped event:\n{real:#}"
    );
}

/// Deserializes, re-serializes and deserializes again: both typed values agree.
fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(v: &Value) -> T {
    let typed: T = serde_json::from_value(v.clone()).expect("deserializes");
    let again: T = serde_json::from_value(serde_json::to_value(&typed).unwrap()).unwrap();
    assert_eq!(
        serde_json::to_value(&typed).unwrap(),
        serde_json::to_value(&again).unwrap()
    );
    typed
}

#[test]
fn sqs_message() {
    let body = r#"{"type":"ORDER_CREATED","orderId":"o-1001"}"#;
    let built = sqs::message(body)
        .id("c80e8021-a70a-42c7-a470-796e1186f753")
        .attribute("tenantCode", "acme")
        .receive_count(2)
        .to_json();
    let real = fixture("sqs");
    assert_same_shape(&built, &real, &[]);

    let (b, r): (SqsEvent, SqsEvent) = (round_trip(&built), round_trip(&real));
    let (b, r) = (&b.records[0], &r.records[0]);
    assert_eq!(b.message_id, r.message_id);
    assert_eq!(b.body, r.body);
    assert_eq!(b.message_attributes, r.message_attributes);
    assert_eq!(b.attributes["ApproximateReceiveCount"], "2");
    assert_eq!(b.event_source.as_deref(), Some("aws:sqs"));
}

#[test]
fn sqs_md5_of_body_is_the_real_md5() {
    let built = sqs::message("The quick brown fox jumps over the lazy dog").to_json();
    assert_eq!(
        built["Records"][0]["md5OfBody"],
        "9e107d9d372bb6826bd81d3542a419d6"
    );
}

#[test]
fn sqs_fifo_message() {
    let built = sqs::fifo(r#"{"type":"ORDER_CREATED"}"#, "customer-77").to_json();
    let real = fixture("sqs_fifo");
    assert_same_shape(&built, &real, &[]);
    let b: SqsEvent = round_trip(&built);
    let b = &b.records[0];
    assert_eq!(b.attributes["MessageGroupId"], "customer-77");
    assert!(b.event_source_arn.as_deref().unwrap().ends_with(".fifo"));
}

#[test]
fn sqs_batch_ids_are_distinct_and_reported() {
    let batch = sqs::batch((0..5).map(|i| sqs::message(format!("m{i}"))));
    let ids = batch.message_ids();
    let typed = batch.typed();
    let typed_ids: Vec<String> = typed
        .records
        .iter()
        .map(|r| r.message_id.clone().unwrap())
        .collect();
    assert_eq!(ids, typed_ids);
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(unique.len(), 5);
}

#[test]
fn sns_notification() {
    let n = sns::notification(
        "arn:aws:sns:eu-central-1:210987654321:order-topic",
        r#"{"type":"ORDER_SHIPPED","orderId":"o-3003"}"#,
    )
    .subject("Order shipped")
    .attribute("tenantCode", "acme")
    .id("a6f1c2d3-4b5e-5f60-9a7b-8c9d0e1f2a3b");
    let built = n.to_json();
    let real = fixture("sns");
    assert_same_shape(&built, &real, &[]);
    let (b, r): (SnsEvent, SnsEvent) = (round_trip(&built), round_trip(&real));
    let (b, r) = (&b.records[0].sns, &r.records[0].sns);
    assert_eq!(b.message_id, r.message_id);
    assert_eq!(b.topic_arn, r.topic_arn);
    assert_eq!(b.subject, r.subject);
    assert_eq!(b.message, r.message);
    assert_eq!(b.message_attributes, r.message_attributes);
}

#[test]
fn sns_notification_without_subject_is_null() {
    let built = sns::notification("t", "m").to_json();
    assert_eq!(built["Records"][0]["Sns"]["Subject"], Value::Null);
    let b: SnsEvent = round_trip(&built);
    assert_eq!(b.records[0].sns.subject, None);
}

#[test]
fn sns_in_sqs_body() {
    let n = sns::notification("order-topic", "{}")
        .subject("Order shipped")
        .attribute("tenantCode", "acme");
    let body: Value = serde_json::from_str(&n.to_sqs_body()).unwrap();
    assert_same_shape(&body, &fixture("sns_sqs_body"), &["MessageAttributes"]);
}

#[test]
fn s3_put_encodes_the_key_as_s3_does() {
    let built = s3::put(
        "acme-uploads",
        "imports/csv/orders 2026-01-01 (1).csv",
        52_311,
    )
    .to_json();
    let real = fixture("s3_put");
    assert_same_shape(&built, &real, &[]);
    assert_eq!(
        built["Records"][0]["s3"]["object"]["key"],
        real["Records"][0]["s3"]["object"]["key"]
    );
    let (b, r): (S3Event, S3Event) = (round_trip(&built), round_trip(&real));
    let (b, r) = (
        S3Object::from_record(&b.records[0]).unwrap(),
        S3Object::from_record(&r.records[0]).unwrap(),
    );
    assert_eq!(b.key, "imports/csv/orders 2026-01-01 (1).csv");
    assert_eq!(
        (&b.key, b.size, &b.event_name),
        (&r.key, r.size, &r.event_name)
    );
}

#[test]
fn s3_delete() {
    let built = s3::delete("acme-uploads", "tmp/old.csv").to_json();
    let real = fixture("s3_delete");
    assert_same_shape(&built, &real, &[]);
    let b: S3Event = round_trip(&built);
    assert_eq!(b.records[0].s3.object.size, None);
}

#[test]
fn dynamodb_modify() {
    let keys = json!({"pk": "ORDER#o-5005", "sk": "META"});
    let old = json!({"pk": "ORDER#o-5005", "sk": "META", "status": "NEW", "total": 120.5});
    let new = json!({"pk": "ORDER#o-5005", "sk": "META", "status": "PAID", "total": 120.5});
    let built = dynamodb::modify(&keys, &old, &new).to_json();
    let real = fixture("dynamodb");
    assert_same_shape(&built, &real, &["Keys", "NewImage", "OldImage"]);
    let (b, r): (DynamoDbEvent, DynamoDbEvent) = (round_trip(&built), round_trip(&real));
    assert_eq!(b.records[0].change.keys, r.records[0].change.keys);
    assert_eq!(
        b.records[0].change.new_image.get("status"),
        r.records[0].change.new_image.get("status")
    );

    #[derive(Debug, serde::Deserialize)]
    struct Order {
        status: String,
    }
    let change = DataChange::<Order>::from_record(&b.records[0]).unwrap();
    assert_eq!(change.kind, ChangeKind::Modify);
    assert_eq!(change.old.unwrap().status, "NEW");
    assert_eq!(change.new.unwrap().status, "PAID");
}

#[test]
fn dynamodb_insert_and_remove_carry_one_image() {
    let keys = json!({"pk": "ORDER#1"});
    let batch = dynamodb::batch([
        dynamodb::insert(&keys, json!({"pk": "ORDER#1"})),
        dynamodb::remove(&keys, json!({"pk": "ORDER#1"})),
    ]);
    let json = batch.to_json();
    assert!(json["Records"][0]["dynamodb"].get("OldImage").is_none());
    assert!(json["Records"][1]["dynamodb"].get("NewImage").is_none());
    let typed = batch.typed();
    assert_eq!(typed.records[1].event_name, "REMOVE");
    assert_eq!(
        batch.sequence_numbers(),
        typed
            .records
            .iter()
            .map(|r| r.change.sequence_number.clone().unwrap())
            .collect::<Vec<_>>()
    );
}

#[test]
fn eventbridge_event() {
    let built = eventbridge::event(
        "acme.orders",
        "OrderPlaced",
        json!({"orderId": "o-6006", "total": 42}),
    )
    .time("2026-01-01T13:14:15Z")
    .to_json();
    let real = fixture("eventbridge");
    assert_same_shape(&built, &real, &["detail"]);
    let (b, r): (EventBridgeEvent, EventBridgeEvent) = (round_trip(&built), round_trip(&real));
    assert_eq!(b.detail_type, r.detail_type);
    assert_eq!(b.source, r.source);
    assert_eq!(b.detail, r.detail);
    assert_eq!(b.time, r.time);
}
