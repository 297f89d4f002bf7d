//! The hostile-input corpus and what each case must come to.
//!
//! Cases are the files under `tests/corpus/<class>/` (named for what they
//! are) and a few generated here at test time because they are large: a
//! 1 MiB string, JSON nested 100 000 deep, 10 000 SQS records malformed each
//! in a different way, a 6 MB batch, SNS messages at and over 256 KiB. Every
//! case has an expectation in [`expectation`]; a file without one fails the
//! test.

#![allow(dead_code, unreachable_pub)] // each test file uses part of it

use std::path::{Path, PathBuf};

use eventrail::app::{NotStarted, Report, Status};
use eventrail::error::{RecordError, RecordErrorKind};
use eventrail::layers::task_token::TaskTokenError;
use eventrail::HandlerError;
use serde_json::{json, Value};

mod sources;

/// One hostile payload.
pub struct Case {
    /// `class/name`, e.g. `s3/key-bad-escape`.
    pub name: String,
    /// The raw bytes.
    pub payload: Vec<u8>,
    /// What it must come to.
    pub expect: Expect,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} bytes)", self.name, self.payload.len())
    }
}

/// What a case must come to.
#[derive(Debug, Clone)]
pub enum Expect {
    /// The payload is refused as a whole, with this `errorType`.
    Refused(&'static str),
    /// One outcome per record, in input order: the id it is reported under
    /// and what became of it.
    Records(Vec<(String, Want)>),
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Want {
    /// Done, with this handler output (`None`: any).
    Done(Option<Value>),
    /// Failed as bad input (malformed record, body, key or image).
    BadInput,
    /// Failed: no route.
    NoRoute,
    /// Failed: the handler's permanent error.
    Handler,
    /// Failed: not started, an earlier record of its group failed.
    NotStarted,
    /// Failed in the task-token layer: the output is over Step Functions' limit.
    OutputTooLarge,
    /// Failed in the task-token layer: Step Functions refused the callback.
    CallbackRefused,
}

fn ids(pairs: &[(&str, Want)]) -> Expect {
    Expect::Records(
        pairs
            .iter()
            .map(|(id, w)| ((*id).to_owned(), w.clone()))
            .collect(),
    )
}

fn done() -> Want {
    Want::Done(None)
}

fn mailed() -> Want {
    Want::Done(Some(json!({"mailed": "a@example.com"})))
}

/// An S3 record (reported as `bucket/raw key#sequencer`) done with the key decoded.
fn s3(raw: &str, key: &str, size: Option<i64>) -> Expect {
    ids(&[(
        &format!("inbox/{raw}#01"),
        Want::Done(Some(json!({"bucket": "inbox", "key": key, "size": size}))),
    )])
}

fn s3_bad(raw: &str) -> Expect {
    ids(&[(&format!("inbox/{raw}#01"), Want::BadInput)])
}

/// The expectation of a committed case. Panics for a file without one.
pub fn expectation(name: &str) -> Expect {
    use Want::*;
    if let Some(e) = sources::expectation(name) {
        return e;
    }
    let good = ("m-good", mailed());
    match name {
        "top/empty" | "top/whitespace" => Expect::Refused("Eventrail.EmptyPayload"),
        "top/not-utf8" => Expect::Refused("Eventrail.NotUtf8"),
        "top/number-beyond-f64" | "top/truncated" | "top/trailing-garbage" => {
            Expect::Refused("Eventrail.NotJson")
        }
        "top/null"
        | "top/empty-array"
        | "top/empty-object"
        | "top/records-string"
        | "top/records-object"
        | "top/records-empty"
        | "top/records-of-numbers" => Expect::Refused("Eventrail.UnknownSource"),
        // An ignored field is skipped without reading its value as a number.
        "top/records-number-beyond-f64" => ids(&[("m-1", NoRoute)]),
        // The first record that says what it is names the source; a record
        // of another source then fails as a malformed one of that source.
        "top/records-of-mixed-sources" => ids(&[good, ("", BadInput)]),
        // At the top level the last of duplicate keys wins, as in a map;
        // inside a record they make it malformed, as in the typed record.
        "top/duplicate-keys" => ids(&[("m-2", BadInput)]),

        // Processed; a failure would be reported under `""`, which Lambda
        // answers by retrying the whole batch: nothing is lost.
        "sqs/message-id-missing" | "sqs/message-id-null" => ids(&[good, ("", mailed())]),
        "sqs/message-id-number" => ids(&[good, ("", BadInput)]),
        "sqs/body-null" => ids(&[good, ("m-null", BadInput)]),
        "sqs/body-number" => ids(&[good, ("m-num", BadInput)]),
        "sqs/body-missing" => ids(&[good, ("m-nobody", BadInput)]),
        "sqs/body-not-json" => ids(&[good, ("m-text", BadInput)]),
        "sqs/body-json-array" => ids(&[good, ("m-arr", BadInput)]),
        "sqs/body-number-beyond-f64" => ids(&[("m-big", mailed()), ("m-big-field", BadInput)]),
        "sqs/body-poison" => ids(&[good, ("m-poison", Handler)]),
        "sqs/body-unrouted-type" => ids(&[good, ("m-other", NoRoute)]),
        "sqs/binary-value-not-base64" => ids(&[good, ("m-bin", BadInput)]),
        "sqs/attributes-not-strings" => ids(&[good, ("m-attr", BadInput)]),
        "sqs/record-not-an-object" => ids(&[good, ("", BadInput), ("", BadInput)]),
        "sqs/fifo-group-stops-after-failure" => ids(&[
            ("f-0", mailed()),
            ("f-1", Handler),
            ("f-2", NotStarted),
            ("f-3", mailed()),
        ]),
        // S3 → SQS: the inner notification goes to the S3 route.
        "sqs/s3-inner-bad-key" => ids(&[
            (
                "m-s3",
                Done(Some(
                    json!({"bucket": "inbox", "key": "imports/a b.csv", "size": 1}),
                )),
            ),
            ("m-s3-bad", BadInput),
        ]),
        "sqs/sns-inner-notification" => ids(&[("m-sns", mailed())]),
        "sqs/sns-inner-not-json" => ids(&[good, ("m-sns-text", BadInput)]),

        "s3/key-plus" => s3("imports/my+file.csv", "imports/my file.csv", Some(10)),
        "s3/key-escaped-plus" => s3("imports/a%2Bb.csv", "imports/a+b.csv", Some(10)),
        "s3/key-unicode-escaped" => s3(
            "caf%C3%A9/%E6%97%A5%E6%9C%AC.txt",
            "café/日本.txt",
            Some(10),
        ),
        "s3/key-unicode-raw" => s3("café/日本.txt", "café/日本.txt", Some(10)),
        "s3/key-1024-bytes" => {
            let key = format!("k/{}", "a".repeat(1022));
            s3(&key, &key, Some(10))
        }
        "s3/size-missing" => s3("deleted.csv", "deleted.csv", None),
        "s3/key-bad-escape" => s3_bad("imports/%ZZ.csv"),
        "s3/key-truncated-escape" => s3_bad("imports/a%2"),
        "s3/key-escape-not-utf8" => s3_bad("imports/%FF.csv"),
        "s3/key-missing" => s3_bad(""),
        "s3/size-negative" => s3_bad("neg.csv"),
        "s3/size-not-a-number" => s3_bad("nan.csv"),

        "dynamodb/every-attribute-type" => ids(&[(
            "100",
            Done(Some(json!({
                "kind": "INSERT",
                "old": null,
                "new": {
                    "pk": "ORDER#1", "total": 12.5, "paid": true, "note": null,
                    "address": {"city": "Lyon"}, "lines": ["a", "b"],
                    "tags": ["x", "y"], "sizes": [1.0, 2.5],
                    "receipt": [104, 105], "blobs": [[104, 105], [121, 111]],
                },
            }))),
        )]),
        "dynamodb/number-not-a-number" => ids(&[("101", BadInput)]),
        "dynamodb/binary-not-base64" => ids(&[("102", BadInput)]),
        "dynamodb/empty-map" => ids(&[("103", done())]),
        "dynamodb/set-with-duplicates" => ids(&[("104", done())]),
        // AWS never sends it; the image is passed on, not invented away.
        "dynamodb/old-image-on-insert" => ids(&[("105", done())]),
        "dynamodb/unknown-event-name" => ids(&[("106", BadInput)]),
        "dynamodb/attribute-of-two-types" => ids(&[("107", BadInput)]),
        "dynamodb/stops-at-first-failure" => {
            ids(&[("110", done()), ("111", BadInput), ("112", NotStarted)])
        }

        // Without a (string) token the task-token layer lets the envelope
        // through: the handler's output is the invocation's result. 2 048
        // characters is Step Functions' limit, so that token is accepted.
        "sfn/task-token-missing" | "sfn/task-token-2048-chars" | "sfn/task-token-not-a-string" => {
            ids(&[("task", Done(Some(json!({"orderId": "o-1"}))))])
        }
        // Step Functions refuses the callback (InvalidToken, permanent): the
        // invocation fails, so the state machine sees the task fail.
        "sfn/task-token-2049-chars" | "sfn/task-token-empty" => ids(&[("task", CallbackRefused)]),
        "sfn/output-over-256kib-with-token" => ids(&[("task", OutputTooLarge)]),
        // Without a token the output is the Lambda response (up to 6 MB);
        // the state machine applies its own limit.
        "sfn/output-over-256kib-without-token" => ids(&[("task", done())]),
        "sfn/payload-wrong-type" => ids(&[("task", BadInput)]),
        "sfn/type-unrouted" => ids(&[("task", NoRoute)]),

        // SNS's limits bind the publisher; a delivered notification is
        // processed whatever its subject.
        "sns/subject-100-chars" | "sns/subject-101-chars" | "sns/subject-control-characters" => {
            ids(&[("n-1", mailed())])
        }
        "sns/message-not-json" => ids(&[("n-1", BadInput)]),
        "sns/message-poison" => ids(&[("n-1", mailed()), ("n-2", Handler)]),
        other => panic!("corpus file {other} has no expectation: add one to tests/support"),
    }
}

/// The directory of the committed cases.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// Every case: the committed files, then the generated ones.
pub fn corpus() -> Vec<Case> {
    let mut files = Vec::new();
    for class in std::fs::read_dir(corpus_dir()).expect("tests/corpus") {
        let class = class.unwrap().path();
        for f in std::fs::read_dir(&class).unwrap() {
            files.push(f.unwrap().path());
        }
    }
    files.sort();
    let mut cases: Vec<Case> = files
        .into_iter()
        .map(|path| {
            let class = path
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy();
            let stem = path.file_stem().unwrap().to_string_lossy();
            let name = format!("{class}/{stem}");
            Case {
                payload: std::fs::read(&path).unwrap(),
                expect: expectation(&name),
                name,
            }
        })
        .collect();
    cases.extend(generated());
    cases.extend(sources::generated());
    cases
}

fn notification(to: &str, subject: &str) -> String {
    json!({"type": "NOTIFICATION", "recipient": to, "subject": subject}).to_string()
}

fn sqs_record(id: &str, body: &str) -> Value {
    json!({
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:inbox",
        "messageId": id,
        "body": body,
    })
}

fn sns_record(id: &str, message: &str) -> Value {
    json!({
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:topic:sub",
        "Sns": {
            "Type": "Notification",
            "MessageId": id,
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:topic",
            "Subject": "s",
            "Message": message,
            "Timestamp": "2026-11-28T14:05:09.123Z",
            "SignatureVersion": "1",
            "Signature": "c2ln",
            "SigningCertUrl": "https://example.invalid/c.pem",
            "UnsubscribeUrl": "https://example.invalid/u",
            "MessageAttributes": {},
        },
    })
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// SNS's limit on a message: 256 KiB.
pub const SNS_MAX_MESSAGE_BYTES: usize = 262_144;
/// Lambda's limit on a synchronous invocation's payload: 6 MB.
pub const LAMBDA_MAX_PAYLOAD_BYTES: usize = 6_291_456;

/// A notification whose JSON text is exactly `len` bytes.
fn notification_of_len(len: usize) -> String {
    let base = notification("a@example.com", "").len();
    notification("a@example.com", &"s".repeat(len - base))
}

/// The 10 000 records of `sqs/10000-malformed`: record `i` is malformed in
/// its own way (a field chosen by `i % 9`, given a wrong value that
/// contains `i`), and reported under its id (empty when the id is what is wrong).
fn ten_thousand_malformed() -> Case {
    let mut records = Vec::with_capacity(10_000);
    let mut want = Vec::with_capacity(10_000);
    for i in 0..10_000u32 {
        let id = format!("m-{i}");
        let mut r = sqs_record(&id, &notification("a@example.com", "hi"));
        let wrong = match (i / 9) % 4 {
            0 => json!(i),
            1 => json!([i]),
            2 => json!({ "v": i }),
            _ => json!(i % 2 == 0),
        };
        let mut reported = id.clone();
        match i % 9 {
            0 => {
                r["messageId"] = wrong;
                reported.clear();
            }
            1 => r["body"] = wrong,
            2 => r["receiptHandle"] = wrong,
            3 => r["md5OfBody"] = wrong,
            4 => r["attributes"] = json!({ "SentTimestamp": wrong }),
            5 => {
                r["messageAttributes"] =
                    json!({ "a": { "dataType": "Binary", "binaryValue": format!("!{i}!") } })
            }
            6 => r["eventSourceARN"] = wrong,
            7 => r["awsRegion"] = wrong,
            // The body is a string, but not JSON.
            _ => r["body"] = json!(format!("{{\"type\": {i}")),
        }
        records.push(r);
        want.push((reported, Want::BadInput));
    }
    Case {
        name: "sqs/10000-malformed-differently (generated)".into(),
        payload: bytes(&json!({ "Records": records })),
        expect: Expect::Records(want),
    }
}

/// The cases generated at test time.
pub fn generated() -> Vec<Case> {
    const DEEP: usize = 100_000;
    let deep_array = "[".repeat(DEEP) + &"]".repeat(DEEP);
    let deep_object = "{\"a\":".repeat(DEEP) + "1" + &"}".repeat(DEEP);
    let mut cases = vec![
        Case {
            name: "top/string-1mib (generated)".into(),
            payload: bytes(&Value::String("x".repeat(1 << 20))),
            expect: Expect::Refused("Eventrail.UnknownSource"),
        },
        // Skipped values are scanned without recursion: depth costs nothing
        // until something decodes them.
        Case {
            name: "top/nested-100000-arrays (generated)".into(),
            payload: deep_array.clone().into_bytes(),
            expect: Expect::Refused("Eventrail.UnknownSource"),
        },
        Case {
            name: "top/nested-100000-objects (generated)".into(),
            payload: deep_object.clone().into_bytes(),
            expect: Expect::Refused("Eventrail.UnknownSource"),
        },
        Case {
            name: "top/nested-100000-in-a-record (generated)".into(),
            payload: format!(
                r#"{{"Records": [{{"eventSource": "aws:sqs", "messageId": "m-1", "body": "{{}}", "x": {deep_array}}}]}}"#
            )
            .into_bytes(),
            expect: ids(&[("m-1", Want::NoRoute)]),
        },
        Case {
            name: "sqs/notification-with-a-field-nested-100000 (generated)".into(),
            payload: bytes(&json!({"Records": [sqs_record(
                "m-deep",
                &format!(r#"{{"type": "NOTIFICATION", "recipient": "a@example.com", "subject": "hi", "x": {deep_array}}}"#),
            )]})),
            expect: ids(&[("m-deep", mailed())]),
        },
        Case {
            name: "sfn/input-nested-100000 (generated)".into(),
            payload: format!(r#"{{"type": "ORDER_PROCESS", "payload": {{"orderId": "o-1"}}, "x": {deep_array}}}"#).into_bytes(),
            expect: ids(&[("task", Want::BadInput)]),
        },
        Case {
            name: "dynamodb/image-nested-100000 (generated)".into(),
            payload: format!(
                r#"{{"Records": [{{"eventSource": "aws:dynamodb", "eventName": "INSERT", "dynamodb": {{"Keys": {{"pk": {{"S": "ORDER#1"}}}}, "SequenceNumber": "120", "NewImage": {{"pk": {{"S": "ORDER#1"}}, "address": {}1{}}}}}}}]}}"#,
                "{\"M\": {\"a\": ".repeat(DEEP),
                "}}".repeat(DEEP)
            )
            .into_bytes(),
            expect: ids(&[("120", Want::BadInput)]),
        },
        Case {
            name: "sqs/body-nested-100000-arrays (generated)".into(),
            payload: bytes(&json!({"Records": [sqs_record("m-deep", &deep_array)]})),
            expect: ids(&[("m-deep", Want::BadInput)]),
        },
        Case {
            name: "sqs/body-nested-100000-objects (generated)".into(),
            payload: bytes(&json!({"Records": [sqs_record("m-deep", &deep_object)]})),
            expect: ids(&[("m-deep", Want::NoRoute)]),
        },
        Case {
            name: "sqs/body-string-1mib (generated)".into(),
            payload: bytes(&json!({"Records": [sqs_record("m-long", &"x".repeat(1 << 20))]})),
            expect: ids(&[("m-long", Want::BadInput)]),
        },
        ten_thousand_malformed(),
    ];
    // Just under Lambda's 6 MB: 23 messages of SQS's former 256 KiB maximum.
    let body = notification_of_len(SNS_MAX_MESSAGE_BYTES);
    let records: Vec<Value> = (0..23)
        .map(|i| sqs_record(&format!("m-{i}"), &body))
        .collect();
    let payload = bytes(&json!({ "Records": records }));
    assert!(payload.len() > 6_000_000 && payload.len() < LAMBDA_MAX_PAYLOAD_BYTES);
    cases.push(Case {
        name: "sqs/6mb-batch (generated)".into(),
        payload,
        expect: Expect::Records((0..23).map(|i| (format!("m-{i}"), mailed())).collect()),
    });
    for (name, len) in [
        ("sns/message-256kib", SNS_MAX_MESSAGE_BYTES),
        ("sns/message-over-256kib", SNS_MAX_MESSAGE_BYTES + 1),
    ] {
        cases.push(Case {
            name: format!("{name} (generated)"),
            payload: bytes(&json!({"Records": [sns_record("n-1", &notification_of_len(len))]})),
            expect: ids(&[("n-1", mailed())]),
        });
    }
    cases
}

/// Checks a report against the expectation, record by record: the
/// mismatches, described (empty when it holds).
pub fn check_report(case: &Case, report: &Report) -> Vec<String> {
    let Expect::Records(want) = &case.expect else {
        return vec![format!(
            "{case:?}: expected {:?}, but it was processed",
            case.expect
        )];
    };
    if report.outcomes.len() != want.len() {
        return vec![format!(
            "{case:?}: {} outcomes for {} records",
            report.outcomes.len(),
            want.len()
        )];
    }
    let mut wrong = Vec::new();
    for (i, (o, (id, w))) in report.outcomes.iter().zip(want).enumerate() {
        if o.record_id() != id {
            wrong.push(format!(
                "{case:?}: record {i} is reported as {:?}, not {id:?}",
                o.record_id()
            ));
        }
        let (got, detail) = match &o.status {
            Status::Done(out) => match w {
                Want::Done(None) => (Want::Done(None), String::new()),
                _ => (Want::Done(Some(out.value().clone())), String::new()),
            },
            Status::Failed(f) => (classify(&*f.error), error_chain(&*f.error)),
            other => (Want::Done(None), format!("{other:?}")),
        };
        if &got != w {
            wrong.push(format!(
                "{case:?}: record {i} ({id}) is {got:?} ({detail}), not {w:?}"
            ));
        }
    }
    wrong
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

fn classify(e: &(dyn std::error::Error + 'static)) -> Want {
    if let Some(r) = e.downcast_ref::<RecordError>() {
        return match r.kind() {
            RecordErrorKind::BadInput => Want::BadInput,
            RecordErrorKind::NoRoute => Want::NoRoute,
            _ => Want::Done(None),
        };
    }
    if let Some(t) = e.downcast_ref::<TaskTokenError>() {
        if t.is_output_too_large() {
            return Want::OutputTooLarge;
        }
        if t.is_callback_failed() {
            return Want::CallbackRefused;
        }
        return Want::Done(None);
    }
    if let Some(n) = e.downcast_ref::<NotStarted>() {
        assert!(!n.is_deadline(), "no deadline is set: {n}");
        return Want::NotStarted;
    }
    if let Some(h) = e.downcast_ref::<HandlerError>() {
        assert!(!h.is_retryable(), "the handler fails permanently: {h}");
        return Want::Handler;
    }
    Want::Done(None)
}
