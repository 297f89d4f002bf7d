//! The fuzz harnesses: what each target in `fuzz/fuzz_targets/` calls, and
//! what `tests/fuzz_corpus.rs` calls with every committed corpus entry.
//!
//! Each takes the fuzzer's bytes and panics when an invariant breaks (a
//! panic is what the fuzzer reports as a crash):
//!
//! | target | harness | invariants |
//! |---|---|---|
//! | `detect_route` | [`detect_and_route`] | one outcome per input record, the response is exactly the failed records, unusable payloads are bad-payload errors |
//! | `s3_key` | [`s3_key`] | encoding then decoding gives the key back; a decoded key survives a round trip |
//! | `dynamodb_image` | [`dynamodb_image`] | an item or stream record unmarshals or fails with an error |
//! | `alarm_subject` | [`alarm_subject`] | 1 to 100 printable ASCII characters, trimmed, single spaces, idempotent |
//! | `sqs_batch` | [`sqs_batch`] | structure-aware: the response names exactly the records the batch's shape says fail, FIFO groups included |
//! | `kafka_batch` | [`kafka_batch`] | structure-aware: the `batchItemFailures` are exactly the records the batch's shape says fail (a partition stops at its first failure), named by topic-partition and offset (`null` when unreadable); done records carry their decoded key and headers |
//! | `s3_batch` | [`s3_batch`](fn@s3_batch) | structure-aware, schemas 1.0 and 2.0: one result per task in order, under its `taskId`, with the code its shape says, the invocation echoed, result strings within the cap |
//! | `firehose_batch` | [`firehose_batch`] | structure-aware, Direct PUT / Kinesis / MSK: one entry per record under its id, `Ok` with the rewritten data and partition keys, `Dropped` or `ProcessingFailed` with the original data in the field it came in |
//!
//! ```
//! example_hostile_input::fuzz::alarm_subject("[ERROR] handler:\n boom".as_bytes());
//! example_hostile_input::fuzz::s3_key(b"a+b%2Bc");
//! ```

use std::collections::HashSet;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use eventrail::app::{Invocation, Report, Status};
use eventrail::aws_lambda_events::event::dynamodb::EventRecord;
use eventrail::dynamodb::DataChange;
use eventrail::layers::alarm::{sanitize_subject, MAX_SUBJECT_CHARS};
use eventrail::s3::{decode_key, encode_key};
use eventrail::{App, Source};
use serde_json::{json, Value};

use crate::{Order, POISON};

pub mod firehose;
pub mod kafka;
pub mod s3_batch;

pub use self::firehose::firehose_batch;
pub use self::kafka::kafka_batch;
pub use self::s3_batch::s3_batch;

fn shared_app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(crate::app)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    thread_local! {
        static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime");
    }
    RT.with(|rt| rt.block_on(f))
}

/// Processes `payload` in process and checks the report against the response.
fn process(payload: &[u8]) -> Option<(Report, Result<Value, eventrail_lambda::InvokeError>)> {
    let app = shared_app();
    let detected = match eventrail_lambda::detect(payload) {
        Ok(d) => d,
        Err(e) => {
            assert!(e.is_bad_payload(), "detect failed with {e}");
            let again = block_on(eventrail_lambda::invoke(
                app,
                payload,
                Invocation::default(),
            ));
            let err = again.expect_err("invoke accepts what detect refused");
            assert!(err.is_bad_payload(), "{err}");
            return None;
        }
    };
    let records = detected.records();
    let _ = detected.malformed();
    let _ = detected.to_event();
    assert_eq!(
        app.factory().transform_raw(detected.raw()).len(),
        records,
        "the router returns one output per record"
    );
    let report = block_on(eventrail_lambda::process(
        app,
        detected,
        &Invocation::default(),
    ));
    assert_eq!(report.outcomes.len(), records, "one outcome per record");
    let response = match report.source {
        // Their responses echo the payload: `invoke` reads it again.
        Source::S3Batch | Source::Firehose => {
            assert!(eventrail_lambda::respond(&report)
                .is_err_and(|e| e.error_type() == "Eventrail.NeedsPayload"));
            block_on(eventrail_lambda::invoke(
                app,
                payload,
                Invocation::default(),
            ))
        }
        _ => eventrail_lambda::respond(&report),
    };
    let failed: Vec<&str> = report.failed_ids().collect();
    match report.source {
        Source::Sqs => assert_eq!(
            reported(response.as_ref().expect("an SQS batch is answered")),
            failed,
            "the SQS response names exactly the failed records"
        ),
        Source::DynamoDb | Source::Kinesis => assert_eq!(
            reported(response.as_ref().expect("a stream batch is answered")),
            failed.first().copied().into_iter().collect::<Vec<_>>(),
            "a stream batch answers its first failure"
        ),
        Source::StepFunctions => {
            let failed_task = matches!(
                report.outcomes.first().map(|o| &o.status),
                Some(Status::Failed(_))
            );
            assert_eq!(response.is_err(), failed_task, "a failed task fails");
        }
        Source::Kafka => {
            let items: Vec<Value> = failed
                .iter()
                .map(|id| match eventrail::source::kafka::item_identifier(id) {
                    Some((partition, offset)) => json!({"partition": partition, "offset": offset}),
                    None => Value::Null,
                })
                .map(|id| json!({ "itemIdentifier": id }))
                .collect();
            assert_eq!(
                response.as_ref().expect("a Kafka batch is answered"),
                &json!({ "batchItemFailures": items }),
                "the Kafka response names exactly the failed records"
            );
        }
        Source::S3Batch | Source::Firehose => {
            let (list, id, code, done) = if report.source == Source::S3Batch {
                (
                    "results",
                    "taskId",
                    "resultCode",
                    ["Succeeded", "Succeeded"],
                )
            } else {
                ("records", "recordId", "result", ["Ok", "Dropped"])
            };
            let response = response.as_ref().expect("answered per record");
            let entries = response[list].as_array().expect("a list of answers");
            assert_eq!(entries.len(), records, "one answer per record");
            for (o, e) in report.outcomes.iter().zip(entries) {
                assert_eq!(e[id].as_str(), Some(o.record_id()), "answered under its id");
                let ok = done.contains(&e[code].as_str().expect("a result code"));
                assert_eq!(ok, !o.is_failed(), "{e}: {:?}", o.status);
            }
        }
        _ => assert_eq!(response.is_err(), !failed.is_empty()),
    }
    Some((report, response))
}

/// The item identifiers of a batch response.
pub fn reported(response: &Value) -> Vec<&str> {
    response["batchItemFailures"]
        .as_array()
        .expect("batchItemFailures is a list")
        .iter()
        .map(|f| {
            f["itemIdentifier"]
                .as_str()
                .expect("itemIdentifier is a string")
        })
        .collect()
}

/// Source detection and routing on arbitrary bytes, through the app's whole
/// in-process path. See the [module docs](self).
pub fn detect_and_route(data: &[u8]) {
    let _ = process(data);
}

/// S3 key decoding on arbitrary text. See the [module docs](self).
pub fn s3_key(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    assert_eq!(
        decode_key(&encode_key(text)).as_deref(),
        Ok(text),
        "encoding then decoding gives the key back"
    );
    if let Ok(decoded) = decode_key(text) {
        assert_eq!(decode_key(&encode_key(&decoded)), Ok(decoded));
    }
}

/// DynamoDB image unmarshalling: the bytes as an item (`{"pk": {"S": ..}}`)
/// and as a stream record. See the [module docs](self).
pub fn dynamodb_image(data: &[u8]) {
    if let Ok(item) = serde_json::from_slice::<serde_dynamo::Item>(data) {
        let _ = serde_dynamo::from_item::<_, Order>(item.clone());
        let _ = serde_dynamo::from_item::<_, Value>(item.clone());
        // What unmarshals marshals back.
        if let Ok(order) = serde_dynamo::from_item::<_, Order>(item) {
            let _: serde_dynamo::Item =
                serde_dynamo::to_item(&order).expect("an order marshals back");
        }
    }
    if let Ok(record) = serde_json::from_slice::<EventRecord>(data) {
        let _ = DataChange::<Order>::from_record(&record);
        let _ = DataChange::<Value>::from_record(&record);
    }
}

/// The alarm subject sanitizer on arbitrary text. See the [module docs](self).
pub fn alarm_subject(data: &[u8]) {
    let raw = String::from_utf8_lossy(data);
    let s = sanitize_subject(&raw);
    assert!(
        !s.is_empty() && s.len() <= MAX_SUBJECT_CHARS,
        "{} characters: {s:?}",
        s.len()
    );
    assert!(s.bytes().all(|b| (0x20..0x7f).contains(&b)), "{s:?}");
    assert_eq!(s.trim(), s, "trimmed");
    assert!(!s.contains("  "), "single spaces: {s:?}");
    assert_eq!(sanitize_subject(&s), s, "idempotent");
}

// ------------------------------------------------------------ SQS batches

/// The `messageId` of a generated message.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum MessageId {
    /// `m-N`.
    Text(u8),
    /// Absent.
    Missing,
    /// A number instead of a string.
    Number(u8),
}

/// The body of a generated message.
#[derive(Arbitrary, Clone, Debug)]
pub enum Body {
    /// A good notification.
    Notification,
    /// A notification to the poison recipient.
    Poison,
    /// A notification inside an SNS envelope (SNS → SQS), poisoned or not.
    SnsWrapped(bool),
    /// An SNS envelope whose `Message` is not JSON.
    SnsNotJson(String),
    /// A JSON object of an unrouted type.
    OtherType(String),
    /// Arbitrary text.
    Text(String),
    /// `[[[..]]]`, this deep.
    Nested(u16),
    /// `null`.
    Null,
    /// A number.
    Number(i32),
    /// Absent.
    Missing,
}

/// One generated message.
#[derive(Arbitrary, Clone, Debug)]
pub struct Message {
    /// Its id.
    pub id: MessageId,
    /// Its body.
    pub body: Body,
    /// Its FIFO message group (one of three), if any.
    pub group: Option<u8>,
    /// A message attribute with a `binaryValue` that is not base64.
    pub bad_binary_attribute: bool,
}

/// A generated SQS batch: the structure-aware target's input.
#[derive(Arbitrary, Clone, Debug)]
pub struct Batch {
    /// Whether the queue is a FIFO queue.
    pub fifo: bool,
    /// The messages.
    pub messages: Vec<Message>,
}

impl Message {
    fn to_json(&self, fifo: bool) -> Value {
        let notification = |to: &str| {
            json!({"type": "NOTIFICATION", "recipient": to, "subject": "hi"}).to_string()
        };
        let sns = |message: String| {
            json!({
                "Type": "Notification",
                "MessageId": "sns-1",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:topic",
                "Message": message,
            })
            .to_string()
        };
        let body = match &self.body {
            Body::Notification => Some(Value::String(notification("a@example.com"))),
            Body::Poison => Some(Value::String(notification(POISON))),
            Body::SnsWrapped(poison) => Some(Value::String(sns(notification(if *poison {
                POISON
            } else {
                "a@example.com"
            })))),
            Body::SnsNotJson(text) => Some(Value::String(sns(format!("not json: {text}")))),
            Body::OtherType(t) => Some(Value::String(json!({"type": format!("X{t}")}).to_string())),
            Body::Text(t) => Some(Value::String(t.clone())),
            Body::Nested(depth) => {
                let d = usize::from(*depth);
                Some(Value::String("[".repeat(d) + &"]".repeat(d)))
            }
            Body::Null => Some(Value::Null),
            Body::Number(n) => Some(json!(n)),
            Body::Missing => None,
        };
        let mut m = json!({
            "eventSource": "aws:sqs",
            "eventSourceARN": self.arn(fifo),
            "attributes": {},
        });
        match self.id {
            MessageId::Text(n) => m["messageId"] = json!(format!("m-{n}")),
            MessageId::Number(n) => m["messageId"] = json!(n),
            MessageId::Missing => {}
        }
        if let Some(body) = body {
            m["body"] = body;
        }
        if let Some(g) = self.group {
            m["attributes"]["MessageGroupId"] = json!(format!("g-{}", g % 3));
        }
        if self.bad_binary_attribute {
            m["messageAttributes"] =
                json!({"blob": {"dataType": "Binary", "binaryValue": "not base64!"}});
        }
        m
    }

    fn arn(&self, fifo: bool) -> &'static str {
        if fifo {
            "arn:aws:sqs:us-east-1:123456789012:jobs.fifo"
        } else {
            "arn:aws:sqs:us-east-1:123456789012:jobs"
        }
    }

    /// The id the response reports the message under.
    fn reported_id(&self) -> String {
        match self.id {
            MessageId::Text(n) => format!("m-{n}"),
            _ => String::new(),
        }
    }

    /// The key the message is ordered by.
    fn order_key(&self, fifo: bool) -> Option<String> {
        match self.group {
            Some(g) => Some(format!("g-{}", g % 3)),
            None => fifo.then(|| self.arn(fifo).to_owned()),
        }
    }

    /// Whether the message fails by itself (before ordering).
    fn fails(&self) -> bool {
        let malformed = matches!(self.id, MessageId::Number(_))
            || self.bad_binary_attribute
            || matches!(self.body, Body::Null | Body::Number(_));
        malformed || !matches!(self.body, Body::Notification | Body::SnsWrapped(false))
    }
}

impl Batch {
    /// The batch as an SQS event.
    pub fn to_json(&self) -> Value {
        let records: Vec<Value> = self.messages.iter().map(|m| m.to_json(self.fifo)).collect();
        json!({ "Records": records })
    }

    /// The ids the batch response must name, in input order: every message
    /// that fails, and every message after a failure in its order group.
    pub fn expected_failures(&self) -> Vec<String> {
        let mut stopped = HashSet::new();
        let mut out = Vec::new();
        for m in &self.messages {
            let key = m.order_key(self.fifo);
            let blocked = key.as_ref().is_some_and(|k| stopped.contains(k));
            if blocked || m.fails() {
                if let Some(k) = key {
                    stopped.insert(k);
                }
                out.push(m.reported_id());
            }
        }
        out
    }
}

/// The structure-aware target: an SQS batch built from the bytes, whose
/// response must name exactly the records its shape says fail. See the
/// [module docs](self).
pub fn sqs_batch(data: &[u8]) {
    let Ok(mut batch) = Batch::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    // Lambda delivers at most 10 000 messages per batch.
    batch.messages.truncate(10_000);
    let payload = serde_json::to_vec(&batch.to_json()).expect("JSON");
    if batch.messages.is_empty() {
        // `{"Records": []}` names no source.
        assert!(eventrail_lambda::detect(&payload).is_err());
        return;
    }
    let (report, response) = process(&payload).expect("an SQS batch is detected");
    assert_eq!(report.source, Source::Sqs);
    let response = response.expect("an SQS batch is answered");
    assert_eq!(
        reported(&response),
        batch.expected_failures(),
        "batch {batch:?}"
    );
}
