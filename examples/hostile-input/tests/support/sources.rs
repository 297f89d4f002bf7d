//! The expectations of the Kafka, S3 Batch Operations and Firehose cases
//! (`tests/corpus/{kafka,s3batch,firehose}/`) and their generated cases.

use serde_json::{json, Value};

use super::{done, ids, Case, Expect, Want};

/// What the Kafka route answers for order `id` with key `key` and headers.
fn order(id: &str, key: Option<&str>, headers: Value) -> Want {
    Want::Done(Some(json!({"id": id, "key": key, "headers": headers})))
}

/// Order `o-1`, offset 1 of `orders-0`, key `k1`, no headers.
fn good() -> (&'static str, Want) {
    ("orders-0@1", order("o-1", Some("k1"), json!([])))
}

fn kafka_bad(id: &'static str) -> Expect {
    ids(&[good(), (id, Want::BadInput)])
}

/// What the S3 Batch route answers for a task on `key` in `media`.
fn task(key: &str) -> Want {
    Want::Done(Some(json!(format!("media/{key}"))))
}

fn firehose_bad(id: &str) -> Expect {
    ids(&[("r-ok", done()), (id, Want::BadInput)])
}

/// The expectation of a committed Kafka, S3 Batch or Firehose case, if the
/// name is one.
pub fn expectation(name: &str) -> Option<Expect> {
    use Want::*;
    Some(match name {
        // Values and keys are base64 (standard alphabet, padded); a value
        // must be a JSON order, a key any bytes.
        "kafka/value-not-base64"
        | "kafka/value-tombstone"
        | "kafka/value-not-json"
        | "kafka/value-wrong-type"
        | "kafka/value-not-utf8"
        | "kafka/value-json-array"
        | "kafka/key-not-base64"
        | "kafka/key-base64-unpadded" => kafka_bad("orders-0@2"),
        // Malformed records (a field of the wrong type) keep their id.
        "kafka/key-not-a-string"
        | "kafka/header-byte-out-of-range"
        | "kafka/header-byte-not-a-number"
        | "kafka/headers-not-a-list" => kafka_bad("orders-0@2"),
        "kafka/offset-not-a-number" => kafka_bad("orders-0@x7"),
        "kafka/offset-numeric-string" => kafka_bad("orders-0@7"),
        "kafka/offset-beyond-i64" => kafka_bad("orders-0@18446744073709551615"),
        "kafka/partition-missing" => kafka_bad(""),
        "kafka/record-not-an-object" => ids(&[good(), ("", BadInput), ("", BadInput)]),
        // Keys are bytes: not URL-decoded, not required to be UTF-8.
        "kafka/key-binary" => ids(&[(
            "orders-0@1",
            order("o-1", Some("\u{fffd}\u{0}k"), json!([])),
        )]),
        "kafka/key-url-escapes-kept" => {
            ids(&[("orders-0@1", order("o-1", Some("a%2Fb+c d"), json!([])))])
        }
        "kafka/key-empty" => ids(&[("orders-0@1", order("o-1", Some(""), json!([])))]),
        "kafka/key-missing-and-null" => ids(&[
            ("orders-0@1", order("o-1", None, json!([]))),
            ("orders-0@2", order("o-2", None, json!([]))),
        ]),
        // Java's signed bytes are read as the bytes 128 to 255.
        "kafka/headers-signed-bytes" => ids(&[(
            "orders-0@1",
            order("o-1", Some("k1"), json!([["trace", [255, 0, 127, 128]]])),
        )]),
        "kafka/headers-repeated-names" => ids(&[(
            "orders-0@1",
            order(
                "o-1",
                Some("k1"),
                json!([["h", [97]], ["h", [98]], ["tenant", [97, 99, 109, 101]]]),
            ),
        )]),
        "kafka/partition-stops-at-first-failure" => ids(&[
            ("orders-0@1", order("o-1", Some("k1"), json!([]))),
            ("orders-0@2", Handler),
            ("orders-0@3", NotStarted),
            ("orders-1@1", order("o-1", Some("k1"), json!([]))),
        ]),
        "kafka/topic-unrouted" => ids(&[good(), ("payments-0@5", NoRoute)]),
        // The record's own topic-partition names and orders it.
        "kafka/record-filed-under-another-partition" => {
            ids(&[good(), ("orders-1@9", order("o-9", Some("k1"), json!([])))])
        }
        "kafka/self-managed" => ids(&[good()]),
        "kafka/duplicate-offsets" => ids(&[good(), good()]),
        "kafka/records-a-list" | "kafka/group-not-a-list" => {
            Expect::Refused("Eventrail.UnknownSource")
        }
        // An empty batch (Lambda sends none) is answered with no failures.
        "kafka/records-empty" => ids(&[]),

        "s3batch/v1-key-plus-and-escaped-plus" => {
            ids(&[("dGFzay0x", task("reports/q1 summary+final.csv"))])
        }
        "s3batch/v1-key-unicode-escaped" => ids(&[("dGFzay0x", task("café/日本.txt"))]),
        "s3batch/v1-key-1024-bytes" => {
            ids(&[("dGFzay0x", task(&format!("k/{}", "a".repeat(1022))))])
        }
        "s3batch/v1-key-bad-escape"
        | "s3batch/v1-key-escape-not-utf8"
        | "s3batch/v1-key-missing"
        | "s3batch/v1-key-not-a-string"
        | "s3batch/v1-bucket-missing"
        | "s3batch/v1-version-id-number"
        | "s3batch/v2-bucket-name-empty" => ids(&[("dGFzay0x", BadInput)]),
        "s3batch/v1-key-poison" => ids(&[("dGFzay0x", Handler)]),
        "s3batch/v1-task-id-missing" | "s3batch/v1-task-id-number" => ids(&[("", BadInput)]),
        "s3batch/v1-two-tasks-one-failing" => {
            ids(&[("dGFzay0x", task("a.csv")), ("dGFzay0y", Handler)])
        }
        "s3batch/v1-task-not-an-object" => ids(&[("dGFzay0x", task("a.csv")), ("", BadInput)]),
        "s3batch/v1-tasks-empty" => ids(&[]),
        "s3batch/v2-user-arguments" => ids(&[("dGFzay0x", task("a.csvxxx"))]),
        // A user argument that is not a string is read as its JSON text.
        "s3batch/v2-user-argument-not-a-string" => ids(&[("dGFzay0x", task("a.csvxxx"))]),
        // The handler's answer is whole; the response cuts it (checked there).
        "s3batch/v2-result-string-over-1kib" => {
            ids(&[("dGFzay0x", task(&format!("a.csv{}", "x".repeat(5000))))])
        }
        "s3batch/v2-directory-bucket-key-plus" => ids(&[(
            "dGFzay0x",
            Done(Some(json!("logs--use1-az4--x-s3/logs/a b.txt"))),
        )]),
        "s3batch/v2-job-missing" | "s3batch/v3-unknown-schema" | "s3batch/invocation-id-number" => {
            ids(&[("dGFzay0x", task("a.csv"))])
        }

        "firehose/data-not-base64"
        | "firehose/data-base64-with-newline"
        | "firehose/data-not-json"
        | "firehose/data-not-utf8"
        | "firehose/data-json-array"
        | "firehose/data-missing"
        | "firehose/data-number"
        | "firehose/data-empty"
        | "firehose/level-wrong-type" => firehose_bad("r-bad"),
        "firehose/record-id-missing" | "firehose/record-id-number" => firehose_bad(""),
        "firehose/record-not-an-object" => firehose_bad(""),
        "firehose/kind-unrouted" => ids(&[("r-ok", done()), ("r-bad", NoRoute)]),
        "firehose/level-debug-dropped" => ids(&[("r-ok", done()), ("r-drop", done())]),
        "firehose/msg-poison" => ids(&[("r-ok", done()), ("r-bad", Handler)]),
        "firehose/msk-kafka-record-value" | "firehose/msk-value-missing" => {
            ids(&[("r-ok", done()), ("r-bad", BadInput)])
        }
        "firehose/partition-key-unicode" => ids(&[("r-ok", done())]),
        "firehose/records-empty" => ids(&[]),
        _ => return None,
    })
}

fn b64(bytes: &[u8]) -> String {
    eventrail::source::firehose::encode(bytes)
}

/// The generated Kafka, S3 Batch and Firehose cases: huge values and keys,
/// and a batch of 10 000 records.
pub fn generated() -> Vec<Case> {
    let mib = "v".repeat(1 << 20);
    let kafka_record = |offset: u64, key: &[u8], value: &str| {
        json!({
            "topic": "orders", "partition": 0, "offset": offset, "timestamp": 1_767_225_600_000u64,
            "timestampType": "CREATE_TIME", "key": b64(key), "value": b64(value.as_bytes()),
            "headers": [],
        })
    };
    let kafka = |records: Vec<Value>| {
        serde_json::to_vec(&json!({
            "eventSource": "aws:kafka",
            "eventSourceArn": "arn:aws:kafka:us-east-1:123456789012:cluster/shop/1",
            "records": { "orders-0": records },
        }))
        .unwrap()
    };
    let order = |id: &str| json!({"id": id, "items": 1}).to_string();
    let big_order = json!({"id": "o-1", "items": 1, "note": mib}).to_string();
    let mut cases = vec![
        Case {
            name: "kafka/value-1mib (generated)".into(),
            payload: kafka(vec![kafka_record(1, b"k", &big_order)]),
            expect: ids(&[("orders-0@1", order_done("o-1", "k"))]),
        },
        Case {
            name: "kafka/key-1mib (generated)".into(),
            payload: kafka(vec![kafka_record(1, mib.as_bytes(), &order("o-1"))]),
            expect: ids(&[("orders-0@1", order_done("o-1", &mib))]),
        },
    ];
    let records: Vec<Value> = (0..10_000u64)
        .map(|i| kafka_record(i, b"k", &order(&format!("o-{i}"))))
        .collect();
    cases.push(Case {
        name: "kafka/10000-records (generated)".into(),
        payload: kafka(records),
        expect: Expect::Records(
            (0..10_000)
                .map(|i| (format!("orders-0@{i}"), order_done(&format!("o-{i}"), "k")))
                .collect(),
        ),
    });
    cases.push(Case {
        name: "s3batch/key-1mib-escaped (generated)".into(),
        payload: serde_json::to_vec(&json!({
            "invocationSchemaVersion": "1.0", "invocationId": "aW52LTE", "job": {"id": "j"},
            "tasks": [{"taskId": "dGFzay0x", "s3Key": "%41".repeat(1 << 18),
                       "s3VersionId": null, "s3BucketArn": "arn:aws:s3:::media"}],
        }))
        .unwrap(),
        expect: ids(&[("dGFzay0x", task(&"A".repeat(1 << 18)))]),
    });
    let line = json!({"kind": "log", "level": "info", "msg": mib}).to_string();
    cases.push(Case {
        name: "firehose/data-1mib (generated)".into(),
        payload: serde_json::to_vec(&json!({
            "invocationId": "inv", "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/logs",
            "region": "us-east-1",
            "records": [{"recordId": "r-1", "approximateArrivalTimestamp": 1, "data": b64(line.as_bytes())}],
        }))
        .unwrap(),
        expect: ids(&[("r-1", done())]),
    });
    cases
}

fn order_done(id: &str, key: &str) -> Want {
    order(id, Some(key), json!([]))
}
