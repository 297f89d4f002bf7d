//! Amazon S3 Batch Operations invoking the function (`LambdaInvoke`): a
//! record is one task, one object of the job's manifest.
//!
//! Both invocation schemas are read: `1.0` names the bucket by ARN
//! (`s3BucketArn`), `2.0` by name (`s3Bucket`) and carries the job's
//! `userArguments`.
//!
//! - Record id: the `taskId`.
//! - Order key: none.
//! - Key: S3 sends it URL-encoded, as in event notifications; it is decoded
//!   the same way ([`crate::s3::decode_key`]).
//! - Response: one result per task, `Succeeded`, `TemporaryFailure` (a
//!   retryable failure) or `PermanentFailure`, with the invocation's
//!   `invocationId` and `invocationSchemaVersion` echoed.
//!
//! ```
//! use eventrail::source::s3_batch::S3BatchEvent;
//!
//! let event: S3BatchEvent = serde_json::from_str(r#"{
//!     "invocationSchemaVersion": "2.0",
//!     "invocationId": "aW52LTE",
//!     "job": {"id": "job-1", "userArguments": {"target": "archive"}},
//!     "tasks": [{"taskId": "dGFzay0x", "s3Key": "reports/2026/q1+summary.csv",
//!                "s3VersionId": null, "s3Bucket": "finance"}]
//! }"#).unwrap();
//! let task = event.task(&event.tasks[0]).unwrap();
//! assert_eq!((task.bucket.as_str(), task.key.as_str()), ("finance", "reports/2026/q1 summary.csv"));
//! assert_eq!(task.user_arguments["target"], "archive");
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::Identity;
use crate::envelope::Source;
use crate::error::RecordError;
use crate::json::str_at;

/// An S3 Batch Operations invocation. See the [module docs](self).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct S3BatchEvent {
    /// `1.0` or `2.0`.
    pub invocation_schema_version: String,
    /// The invocation, echoed in the response.
    pub invocation_id: String,
    /// The job.
    #[serde(default)]
    pub job: S3BatchJob,
    /// The tasks (S3 sends one per invocation today).
    #[serde(default)]
    pub tasks: Vec<S3BatchTaskRecord>,
}

/// The job a task belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct S3BatchJob {
    /// The job id.
    #[serde(default)]
    pub id: String,
    /// The job's user arguments (schema 2.0; empty otherwise).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_arguments: BTreeMap<String, String>,
}

/// One task as S3 sends it, the key still encoded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct S3BatchTaskRecord {
    /// The task id, which the result names.
    pub task_id: String,
    /// The object key, URL-encoded.
    pub s3_key: String,
    /// The object version, on a versioned bucket.
    #[serde(default)]
    pub s3_version_id: Option<String>,
    /// The bucket's ARN (schema 1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_bucket_arn: Option<String>,
    /// The bucket's name (schema 2.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_bucket: Option<String>,
}

/// A routed task: the object to act on, the key decoded, with the job's id
/// and user arguments. What [`Router::s3_batch`](crate::Router::s3_batch)
/// routes hand to `E: From<S3BatchTask>`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct S3BatchTask {
    /// The task id.
    pub task_id: String,
    /// The bucket name (from the ARN in schema 1.0).
    pub bucket: String,
    /// The object key, decoded.
    pub key: String,
    /// The object key as S3 sent it.
    pub encoded_key: String,
    /// The object version, on a versioned bucket.
    pub version_id: Option<String>,
    /// The job id.
    pub job_id: String,
    /// The job's user arguments (schema 2.0).
    pub user_arguments: BTreeMap<String, String>,
    /// `1.0` or `2.0`.
    pub schema_version: String,
}

impl S3BatchEvent {
    /// The task `t` of this invocation, decoded. Fails (bad input) when the
    /// key does not decode or the task names no bucket.
    pub fn task(&self, t: &S3BatchTaskRecord) -> Result<S3BatchTask, RecordError> {
        let bucket = match (&t.s3_bucket, &t.s3_bucket_arn) {
            (Some(b), _) if !b.is_empty() => b.clone(),
            (_, Some(arn)) => bucket_from_arn(arn).to_owned(),
            _ => return Err(RecordError::bad_input("the S3 Batch task names no bucket")),
        };
        let key = crate::s3::decode_key(&t.s3_key).map_err(|e| {
            RecordError::bad_input("the S3 Batch task's key does not decode").with_source(e)
        })?;
        Ok(S3BatchTask {
            task_id: t.task_id.clone(),
            bucket,
            key,
            encoded_key: t.s3_key.clone(),
            version_id: t.s3_version_id.clone(),
            job_id: self.job.id.clone(),
            user_arguments: self.job.user_arguments.clone(),
            schema_version: self.invocation_schema_version.clone(),
        })
    }
}

/// `arn:aws:s3:::bucket` → `bucket` (what follows the last `:`).
fn bucket_from_arn(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

/// What S3 Batch Operations makes of a task's result; also the values of a
/// response's `treatMissingKeysAs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResultCode {
    /// The task is done; its result string goes to the completion report.
    Succeeded,
    /// The task is tried again before the job completes.
    TemporaryFailure,
    /// The task failed for good.
    PermanentFailure,
}

impl ResultCode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ResultCode::Succeeded => "Succeeded",
            ResultCode::TemporaryFailure => "TemporaryFailure",
            ResultCode::PermanentFailure => "PermanentFailure",
        }
    }

    /// The result code of a wire name (`Succeeded`, `TemporaryFailure`,
    /// `PermanentFailure`), if it is one.
    pub fn from_wire(name: &str) -> Option<Self> {
        [
            ResultCode::Succeeded,
            ResultCode::TemporaryFailure,
            ResultCode::PermanentFailure,
        ]
        .into_iter()
        .find(|c| c.as_str() == name)
    }
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The longest `resultString` answered, in bytes; longer ones are cut at a
/// character boundary and end with `…`.
///
/// A bound of eventrail's, not of S3's: the Amazon S3 User Guide ("Invoke
/// AWS Lambda function", <https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html>,
/// and "Examples: S3 Batch Operations completion reports",
/// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html>)
/// states no limit on `resultString`; it only says the string of a
/// `Succeeded` task goes to the completion report (one CSV row per task) and
/// that result strings of failed tasks are ignored. Checked on 2026-12-01.
/// The whole response must still fit Lambda's 6 MB synchronous response, and a
/// report row per task stays readable: 1 KiB (the same as the longest S3
/// key) keeps both, and an error's message and its first causes fit.
pub const RESULT_STRING_MAX_BYTES: usize = 1024;

/// `text` cut to [`RESULT_STRING_MAX_BYTES`].
pub fn result_string(text: &str) -> String {
    if text.len() <= RESULT_STRING_MAX_BYTES {
        return text.to_owned();
    }
    const ELLIPSIS: &str = "…";
    let mut end = RESULT_STRING_MAX_BYTES - ELLIPSIS.len();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ELLIPSIS}", &text[..end])
}

/// The record id of a typed task: its task id.
pub fn record_id(t: &S3BatchTaskRecord) -> &str {
    &t.task_id
}

/// The identity of a typed task. See the [module docs](self).
pub fn identity(t: &S3BatchTaskRecord) -> Identity {
    Identity::new(t.task_id.as_str(), Source::S3Batch)
}

pub(super) fn identify_raw(raw: &str) -> Identity {
    Identity::new(
        str_at(raw, &["taskId"]).unwrap_or_default(),
        Source::S3Batch,
    )
}

/// The invocation around its tasks, read from the payload (tasks skipped).
///
/// Each field is read on its own, so one of the wrong type loses only
/// itself (the response still echoes the `invocationId`); a user argument
/// that is not a string (S3 sends only strings) is kept as its JSON text.
pub fn envelope(payload: &str) -> S3BatchEvent {
    use serde_json::Value;
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Envelope {
        #[serde(default)]
        invocation_schema_version: Value,
        #[serde(default)]
        invocation_id: Value,
        #[serde(default)]
        job: Value,
    }
    fn text(v: Value) -> String {
        match v {
            Value::String(s) => s,
            _ => String::new(),
        }
    }
    let mut event = S3BatchEvent::default();
    let Ok(e) = serde_json::from_str::<Envelope>(payload) else {
        return event;
    };
    event.invocation_schema_version = text(e.invocation_schema_version);
    event.invocation_id = text(e.invocation_id);
    if let Value::Object(mut job) = e.job {
        event.job.id = job.remove("id").map(text).unwrap_or_default();
        if let Some(Value::Object(args)) = job.remove("userArguments") {
            event.job.user_arguments = args
                .into_iter()
                .map(|(k, v)| match v {
                    Value::String(s) => (k, s),
                    other => (k, other.to_string()),
                })
                .collect();
        }
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_1_names_the_bucket_by_arn() {
        let event: S3BatchEvent = serde_json::from_str(
            r#"{"invocationSchemaVersion": "1.0", "invocationId": "inv",
                "job": {"id": "j"},
                "tasks": [{"taskId": "t", "s3Key": "a%2Fb%C3%A9.txt", "s3VersionId": "3",
                           "s3BucketArn": "arn:aws:s3:::media"}]}"#,
        )
        .unwrap();
        let task = event.task(&event.tasks[0]).unwrap();
        assert_eq!(task.bucket, "media");
        assert_eq!(task.key, "a/bé.txt");
        assert_eq!(task.version_id.as_deref(), Some("3"));
        assert!(task.user_arguments.is_empty());
    }

    #[test]
    fn a_task_without_a_bucket_or_with_a_bad_key_is_bad_input() {
        let event = S3BatchEvent::default();
        let mut t = S3BatchTaskRecord {
            s3_key: "k".into(),
            ..Default::default()
        };
        assert!(event
            .task(&t)
            .unwrap_err()
            .to_string()
            .contains("no bucket"));
        t.s3_bucket = Some("b".into());
        t.s3_key = "bad%zz".into();
        assert!(event
            .task(&t)
            .unwrap_err()
            .to_string()
            .contains("does not decode"));
    }

    #[test]
    fn result_strings_are_cut_on_a_character_boundary() {
        assert_eq!(result_string("ok"), "ok");
        let long = "é".repeat(RESULT_STRING_MAX_BYTES);
        let cut = result_string(&long);
        assert!(cut.len() <= RESULT_STRING_MAX_BYTES, "{}", cut.len());
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn the_invocation_is_read_field_by_field() {
        let e = envelope(
            r#"{"invocationSchemaVersion": 2, "invocationId": "inv-1",
                "job": {"id": "j", "userArguments": {"pad": "3", "retries": 3, "n": null}},
                "tasks": "not a list"}"#,
        );
        assert_eq!(e.invocation_id, "inv-1");
        assert_eq!(e.invocation_schema_version, "");
        assert_eq!(e.job.id, "j");
        assert_eq!(e.job.user_arguments["pad"], "3");
        assert_eq!(e.job.user_arguments["retries"], "3");
        assert_eq!(e.job.user_arguments["n"], "null");
        assert_eq!(envelope("[]"), S3BatchEvent::default());
    }

    #[test]
    fn result_codes_read_back_from_their_wire_names() {
        for c in [
            ResultCode::Succeeded,
            ResultCode::TemporaryFailure,
            ResultCode::PermanentFailure,
        ] {
            assert_eq!(ResultCode::from_wire(c.as_str()), Some(c));
            assert_eq!(c.to_string(), c.as_str());
        }
        assert_eq!(ResultCode::from_wire("succeeded"), None);
    }

    #[test]
    fn malformed_tasks_keep_their_id() {
        assert_eq!(
            identify_raw(r#"{"taskId": "t-9", "s3Key": 5}"#)
                .meta
                .record_id(),
            "t-9"
        );
        assert_eq!(identify_raw("7").meta.record_id(), "");
    }
}
