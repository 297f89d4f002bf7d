//! S3 Batch Operations invocations (`LambdaInvoke`), schema 1.0 or 2.0,
//! with keys encoded as S3 encodes them.
//!
//! ```
//! use eventrail_testkit::events::{s3_batch, TestEvent};
//!
//! let v1 = s3_batch::invocation([s3_batch::task("media", "videos/launch day.mov")]).to_json();
//! assert_eq!(v1["invocationSchemaVersion"], "1.0");
//! assert_eq!(v1["tasks"][0]["s3Key"], "videos/launch+day.mov");
//! assert_eq!(v1["tasks"][0]["s3BucketArn"], "arn:aws:s3:::media");
//!
//! let v2 = s3_batch::invocation([s3_batch::task("media", "a.mov").id("t-1")])
//!     .schema_2()
//!     .user_argument("preset", "1080p")
//!     .to_json();
//! assert_eq!(v2["tasks"][0]["s3Bucket"], "media");
//! assert_eq!(v2["job"]["userArguments"]["preset"], "1080p");
//! ```

use std::collections::BTreeMap;

use eventrail::s3::encode_key;
use eventrail::source::s3_batch::S3BatchEvent;
use serde_json::{json, Value};

use super::{typed, uuid, TestEvent};

/// One task being built. See [`task`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    id: Option<String>,
    bucket: String,
    key: String,
    version_id: Option<String>,
}

/// A task on `bucket`/`key` (the key as stored: the builder encodes it).
pub fn task(bucket: impl Into<String>, key: impl AsRef<str>) -> Task {
    Task {
        id: None,
        bucket: bucket.into(),
        key: encode_key(key.as_ref()),
        version_id: None,
    }
}

impl Task {
    /// Sets the task id (default: deterministic, by position).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the object version.
    pub fn version(mut self, version_id: impl Into<String>) -> Self {
        self.version_id = Some(version_id.into());
        self
    }

    /// Sets the key exactly as S3 sends it (already encoded, or malformed).
    pub fn raw_key(mut self, encoded: impl Into<String>) -> Self {
        self.key = encoded.into();
        self
    }
}

/// An invocation being built. See [`invocation`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    tasks: Vec<Task>,
    schema_2: bool,
    user_arguments: BTreeMap<String, String>,
}

/// A schema 1.0 invocation of `tasks` (S3 sends one task per invocation;
/// the schema allows several).
pub fn invocation(tasks: impl IntoIterator<Item = Task>) -> Invocation {
    Invocation {
        tasks: tasks.into_iter().collect(),
        schema_2: false,
        user_arguments: BTreeMap::new(),
    }
}

impl Invocation {
    /// Schema 2.0: buckets by name, user arguments allowed.
    pub fn schema_2(mut self) -> Self {
        self.schema_2 = true;
        self
    }

    /// Adds a user argument (and makes the invocation schema 2.0, which
    /// carries them).
    pub fn user_argument(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.schema_2 = true;
        self.user_arguments.insert(key.into(), value.into());
        self
    }

    /// The invocation as the typed [`S3BatchEvent`].
    pub fn typed(&self) -> S3BatchEvent {
        typed(self.to_json(), "S3 Batch Operations invocation")
    }
}

impl TestEvent for Invocation {
    fn to_json(&self) -> Value {
        let tasks: Vec<Value> = self
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let id = t.id.clone().unwrap_or_else(|| uuid(0x5b, i as u64));
                let mut v = json!({
                    "taskId": id,
                    "s3Key": t.key,
                    "s3VersionId": t.version_id,
                });
                if self.schema_2 {
                    v["s3Bucket"] = json!(t.bucket);
                } else {
                    v["s3BucketArn"] = json!(format!("arn:aws:s3:::{}", t.bucket));
                }
                v
            })
            .collect();
        let mut job = json!({ "id": uuid(0x5a, 0) });
        if self.schema_2 {
            job["userArguments"] = json!(self.user_arguments);
        }
        json!({
            "invocationSchemaVersion": if self.schema_2 { "2.0" } else { "1.0" },
            "invocationId": "aW52b2NhdGlvbi10ZXN0a2l0LTAwMDE",
            "job": job,
            "tasks": tasks,
        })
    }
}
