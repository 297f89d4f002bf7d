//! The S3 fake.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use eventrail::ports::{Object, ObjectStore, PortError};

use super::{fault_methods, lock, record, Call, Faults};
use crate::events::s3::{self as s3_events, Batch as S3Batch, Record as S3Record};

/// Bodies are streamed in chunks of this size, so consumers that stream are
/// exercised too.
const CHUNK: usize = 64 * 1024;

/// A call to a [`FakeS3`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum S3Request {
    /// `GetObject`.
    Get {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
    },
    /// `PutObject`.
    Put {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The body's size in bytes.
        size: usize,
        /// The content type.
        content_type: Option<String>,
    },
}

impl S3Request {
    /// The bucket.
    pub fn bucket(&self) -> &str {
        match self {
            S3Request::Get { bucket, .. } | S3Request::Put { bucket, .. } => bucket,
        }
    }

    /// The key.
    pub fn key(&self) -> &str {
        match self {
            S3Request::Get { key, .. } | S3Request::Put { key, .. } => key,
        }
    }
}

/// An object held by a [`FakeS3`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredObject {
    /// The body.
    pub body: Bytes,
    /// The content type given on put.
    pub content_type: Option<String>,
    /// The ETag (quoted, as S3 returns it).
    pub e_tag: String,
    /// The sequencer of the put that wrote it.
    pub sequencer: String,
}

/// An in-memory S3: buckets of objects.
///
/// Buckets must exist ([`with_bucket`](Self::with_bucket),
/// [`create_bucket`](Self::create_bucket)): a put or get on another one fails
/// with `NoSuchBucket`, a get of a missing key with `NoSuchKey`, both
/// permanent. Every successful put also queues the `ObjectCreated:Put` event
/// record S3 would send, with the key encoded as S3 encodes it; take them with
/// [`take_notifications`](Self::take_notifications) and push them through the
/// app.
///
/// ```
/// use bytes::Bytes;
/// use eventrail::ports::ObjectStore;
/// use eventrail_testkit::events::TestEvent;
/// use eventrail_testkit::fakes::FakeS3;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let s3 = FakeS3::new().with_bucket("uploads");
/// s3.put("uploads", "in/my file.csv", Bytes::from_static(b"a,b"), Some("text/csv")).await.unwrap();
///
/// let body = s3.get("uploads", "in/my file.csv").await.unwrap().collect().await.unwrap();
/// assert_eq!(&body[..], b"a,b");
/// let err = s3.get("uploads", "nope").await.unwrap_err();
/// assert_eq!(err.code(), Some("NoSuchKey"));
///
/// let event = s3.take_notifications().to_json();
/// assert_eq!(event["Records"][0]["s3"]["object"]["key"], "in/my+file.csv");
/// assert_eq!(event["Records"][0]["s3"]["object"]["size"], 3);
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct FakeS3 {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    buckets: BTreeMap<String, BTreeMap<String, StoredObject>>,
    calls: Vec<Call<S3Request>>,
    faults: Faults<S3Request>,
    notifications: Vec<S3Record>,
    puts: u64,
}

/// A deterministic 128-bit digest, shown as an MD5-like ETag.
fn e_tag(body: &[u8]) -> String {
    let fnv = |seed: u64| {
        body.iter().fold(seed, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    format!(
        "\"{:016x}{:016x}\"",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x6c62_272e_07bb_0142)
    )
}

impl FakeS3 {
    /// A fake with no buckets.
    pub fn new() -> Self {
        Self::default()
    }

    fault_methods!(S3Request, "request");

    /// Creates `bucket` (builder style).
    pub fn with_bucket(self, bucket: &str) -> Self {
        self.create_bucket(bucket);
        self
    }

    /// Creates `bucket`; no effect if it exists.
    pub fn create_bucket(&self, bucket: &str) -> &Self {
        lock(&self.inner)
            .buckets
            .entry(bucket.to_owned())
            .or_default();
        self
    }

    /// Stores an object directly, as test setup: the bucket is created if
    /// needed, and neither a call nor a notification is recorded.
    pub fn seed(&self, bucket: &str, key: &str, body: impl Into<Bytes>) -> &Self {
        let mut state = lock(&self.inner);
        let obj = state.store(body.into(), None);
        state
            .buckets
            .entry(bucket.to_owned())
            .or_default()
            .insert(key.to_owned(), obj);
        self
    }

    /// The object at `bucket/key`, if any.
    pub fn object(&self, bucket: &str, key: &str) -> Option<StoredObject> {
        lock(&self.inner).buckets.get(bucket)?.get(key).cloned()
    }

    /// The body of the object at `bucket/key`, if any.
    pub fn body(&self, bucket: &str, key: &str) -> Option<Bytes> {
        self.object(bucket, key).map(|o| o.body)
    }

    /// The keys in `bucket`, sorted (as S3 lists them).
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        lock(&self.inner)
            .buckets
            .get(bucket)
            .map(|b| b.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The S3 event records of the puts since the last call, as one event.
    pub fn take_notifications(&self) -> S3Batch {
        s3_events::batch(std::mem::take(&mut lock(&self.inner).notifications))
    }
}

impl State {
    fn store(&mut self, body: Bytes, content_type: Option<&str>) -> StoredObject {
        self.puts += 1;
        StoredObject {
            e_tag: e_tag(&body),
            sequencer: format!("{:018X}", self.puts),
            body,
            content_type: content_type.map(str::to_owned),
        }
    }

    fn no_bucket(bucket: &str) -> PortError {
        PortError::permanent(format!("The specified bucket does not exist: {bucket}"))
            .with_code("NoSuchBucket")
    }
}

#[async_trait]
impl ObjectStore for FakeS3 {
    async fn get(&self, bucket: &str, key: &str) -> Result<Object, PortError> {
        let mut state = lock(&self.inner);
        let req = S3Request::Get {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        };
        let result = match state.faults.check(&req) {
            Some(e) => Err(e),
            None => match state.buckets.get(bucket) {
                None => Err(State::no_bucket(bucket)),
                Some(b) => b.get(key).cloned().ok_or_else(|| {
                    PortError::permanent("The specified key does not exist.").with_code("NoSuchKey")
                }),
            },
        };
        let stored = record(&mut state.calls, req, result)?;
        drop(state);
        let chunks: Vec<Result<Bytes, PortError>> = if stored.body.is_empty() {
            Vec::new()
        } else {
            stored
                .body
                .chunks(CHUNK)
                .map(|c| Ok(stored.body.slice_ref(c)))
                .collect()
        };
        let mut obj = Object::new(Box::pin(futures_util::stream::iter(chunks)));
        obj.content_length = Some(stored.body.len() as u64);
        obj.content_type = stored.content_type;
        obj.e_tag = Some(stored.e_tag);
        Ok(obj)
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: Option<&str>,
    ) -> Result<Option<String>, PortError> {
        let mut state = lock(&self.inner);
        let req = S3Request::Put {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size: body.len(),
            content_type: content_type.map(str::to_owned),
        };
        let result = match state.faults.check(&req) {
            Some(e) => Err(e),
            None if !state.buckets.contains_key(bucket) => Err(State::no_bucket(bucket)),
            None => {
                let size = body.len();
                let obj = state.store(body, content_type);
                let tag = obj.e_tag.clone();
                let event = s3_events::put(bucket, key, size as u64)
                    .e_tag(obj.e_tag.trim_matches('"'))
                    .sequencer(&obj.sequencer);
                state.notifications.push(event);
                state
                    .buckets
                    .entry(bucket.to_owned())
                    .or_default()
                    .insert(key.to_owned(), obj);
                Ok(Some(tag))
            }
        };
        record(&mut state.calls, req, result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::Fault;

    #[tokio::test]
    async fn missing_bucket_and_chunked_body() {
        let s3 = FakeS3::new();
        let e = s3
            .put("nope", "k", Bytes::from_static(b"x"), None)
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("NoSuchBucket"));
        s3.create_bucket("b");
        let big = Bytes::from(vec![7u8; CHUNK * 2 + 5]);
        let tag = s3.put("b", "k", big.clone(), None).await.unwrap();
        let obj = s3.get("b", "k").await.unwrap();
        assert_eq!(obj.e_tag, tag);
        assert_eq!(obj.collect().await.unwrap(), big);
        assert_eq!(s3.keys("b"), ["k"]);
    }

    #[tokio::test]
    async fn faults_by_request() {
        let s3 = FakeS3::new().with_bucket("b");
        s3.seed("b", "k", "v");
        s3.fail_when(
            |r| matches!(r, S3Request::Get { .. }) && r.key() == "k",
            Fault::internal(),
        );
        assert!(s3.get("b", "k").await.unwrap_err().is_retryable());
        s3.clear_faults();
        assert!(s3.get("b", "k").await.is_ok());
        assert!(
            s3.take_notifications().is_empty(),
            "seeding does not notify"
        );
    }
}
