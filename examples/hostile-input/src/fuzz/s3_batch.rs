//! The structure-aware S3 Batch Operations target: invocations of schema
//! 1.0 or 2.0 with good, poisoned and malformed tasks.

use arbitrary::{Arbitrary, Unstructured};
use eventrail::s3::{decode_key, encode_key};
use eventrail::source::s3_batch::{result_string, RESULT_STRING_MAX_BYTES};
use eventrail::Source;
use serde_json::{json, Value};

use super::process;
use crate::POISON_SUFFIX;

/// The `taskId` of a generated task.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum TaskId {
    /// `t-N`.
    Text(u8),
    /// Absent.
    Missing,
    /// A number.
    Number(u8),
}

/// The key of a generated task.
#[derive(Arbitrary, Clone, Debug)]
pub enum Key {
    /// This key, URL-encoded as S3 sends it.
    Encoded(String),
    /// This text sent as is (it may not decode).
    Raw(String),
    /// A key ending in the poison suffix, encoded.
    Poison(String),
    /// A number instead of a string.
    Number(u16),
}

/// How a generated task names its bucket.
#[derive(Arbitrary, Clone, Copy, Debug)]
pub enum Bucket {
    /// As its schema does (`s3BucketArn` in 1.0, `s3Bucket` in 2.0).
    Schema,
    /// Both fields.
    Both,
    /// Neither.
    Neither,
    /// An empty `s3Bucket` and the ARN.
    EmptyNameAndArn,
}

/// One generated task.
#[derive(Arbitrary, Clone, Debug)]
pub struct Task {
    /// Its id.
    pub id: TaskId,
    /// Its key.
    pub key: Key,
    /// Its bucket.
    pub bucket: Bucket,
    /// Its version id, if any.
    pub version: Option<u16>,
}

/// A generated invocation: the target's input.
#[derive(Arbitrary, Clone, Debug)]
pub struct Invocation {
    /// Schema 2.0 (`s3Bucket`, user arguments) rather than 1.0.
    pub schema_2: bool,
    /// The user argument `pad` (schema 2.0): pads the answer.
    pub pad: Option<u16>,
    /// A user argument that is a number, not a string.
    pub bad_argument: bool,
    /// The tasks (S3 sends one; more are answered the same way).
    pub tasks: Vec<Task>,
}

const BUCKET: &str = "media";

impl Task {
    fn reported_id(&self) -> String {
        match self.id {
            TaskId::Text(n) => format!("t-{n}"),
            _ => String::new(),
        }
    }

    fn encoded_key(&self) -> Option<String> {
        match &self.key {
            Key::Encoded(k) => Some(encode_key(k)),
            Key::Raw(k) => Some(k.clone()),
            Key::Poison(k) => Some(encode_key(&format!("{k}{POISON_SUFFIX}"))),
            Key::Number(_) => None,
        }
    }

    fn to_json(&self, schema_2: bool) -> Value {
        let mut t = json!({ "s3VersionId": self.version.map(|v| v.to_string()) });
        match self.id {
            TaskId::Text(_) => t["taskId"] = json!(self.reported_id()),
            TaskId::Number(n) => t["taskId"] = json!(n),
            TaskId::Missing => {}
        }
        t["s3Key"] = match (&self.key, self.encoded_key()) {
            (Key::Number(n), _) => json!(n),
            (_, k) => json!(k),
        };
        let arn = format!("arn:aws:s3:::{BUCKET}");
        match (self.bucket, schema_2) {
            (Bucket::Schema, false) => t["s3BucketArn"] = json!(arn),
            (Bucket::Schema, true) => t["s3Bucket"] = json!(BUCKET),
            (Bucket::Both, _) => {
                t["s3BucketArn"] = json!(arn);
                t["s3Bucket"] = json!(BUCKET);
            }
            (Bucket::Neither, _) => {}
            (Bucket::EmptyNameAndArn, _) => {
                t["s3BucketArn"] = json!(arn);
                t["s3Bucket"] = json!("");
            }
        }
        t
    }

    /// The result code and string the task must be answered with (the
    /// string `None` when it is an error's message, which is not checked).
    fn expected(&self, pad: usize) -> (&'static str, Option<String>) {
        let permanent = ("PermanentFailure", None);
        let malformed = matches!(self.id, TaskId::Missing | TaskId::Number(_))
            || matches!(self.key, Key::Number(_));
        if malformed || matches!(self.bucket, Bucket::Neither) {
            return permanent;
        }
        let Some(Ok(key)) = self.encoded_key().map(|k| decode_key(&k)) else {
            return permanent;
        };
        if key.ends_with(POISON_SUFFIX) {
            return permanent;
        }
        let answer = format!("{BUCKET}/{key}{}", "x".repeat(pad));
        ("Succeeded", Some(result_string(&answer)))
    }
}

impl Invocation {
    /// The invocation as S3 sends it.
    pub fn to_json(&self) -> Value {
        let version = if self.schema_2 { "2.0" } else { "1.0" };
        let mut job = json!({ "id": "job-1" });
        if self.schema_2 {
            let mut args = json!({ "target": "archive" });
            if let Some(p) = self.pad {
                args["pad"] = json!(p.to_string());
            }
            if self.bad_argument {
                args["retries"] = json!(3);
            }
            job["userArguments"] = args;
        }
        let tasks: Vec<Value> = self
            .tasks
            .iter()
            .map(|t| t.to_json(self.schema_2))
            .collect();
        json!({
            "invocationSchemaVersion": version,
            "invocationId": "aW52LTE",
            "job": job,
            "tasks": tasks,
        })
    }

    fn pad(&self) -> usize {
        match (self.schema_2, self.pad) {
            (true, Some(p)) => usize::from(p),
            _ => 0,
        }
    }
}

/// The S3 Batch Operations target: an invocation built from the bytes,
/// answered with one result per task, in order, each with the code the
/// task's shape says, the invocation echoed, result strings within the
/// cap. See the [module docs](super).
pub fn s3_batch(data: &[u8]) {
    let Ok(mut inv) = Invocation::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    inv.tasks.truncate(1_000);
    let payload = serde_json::to_vec(&inv.to_json()).expect("JSON");
    let Some((report, response)) = process(&payload) else {
        assert!(inv.tasks.is_empty(), "an invocation with tasks is detected");
        return;
    };
    assert_eq!(report.source, Source::S3Batch);
    let response = response.expect("an S3 Batch invocation is answered");
    assert_eq!(response["invocationId"], "aW52LTE");
    let version = if inv.schema_2 { "2.0" } else { "1.0" };
    assert_eq!(response["invocationSchemaVersion"], version);
    assert_eq!(response["treatMissingKeysAs"], "PermanentFailure");
    let results = response["results"].as_array().expect("results");
    assert_eq!(results.len(), inv.tasks.len(), "one result per task");
    for (t, r) in inv.tasks.iter().zip(results) {
        assert_eq!(r["taskId"], t.reported_id().as_str(), "task {t:?}");
        let (code, text) = t.expected(inv.pad());
        assert_eq!(r["resultCode"], code, "task {t:?}: {r}");
        let got = r["resultString"].as_str().expect("a result string");
        assert!(got.len() <= RESULT_STRING_MAX_BYTES, "{} bytes", got.len());
        if let Some(text) = text {
            assert_eq!(got, text, "task {t:?}");
        }
    }
}
