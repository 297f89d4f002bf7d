//! The local S3.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;

use super::faults::{fault_methods, lock, CallLog, FaultPlan};
use crate::ports::{Object, ObjectStore, PortError};

/// Bodies are streamed in chunks of this size, so consumers that stream are
/// exercised too.
const CHUNK: usize = 64 * 1024;

/// A call to a [`LocalObjectStore`].
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

/// An object held by a [`LocalObjectStore`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredObject {
    /// The body.
    pub body: Bytes,
    /// The content type given on put.
    pub content_type: Option<String>,
    /// The ETag (quoted, as S3 returns it).
    pub e_tag: String,
    /// The sequencer of the put that wrote it (hex, increasing).
    pub sequencer: String,
}

/// An [`ObjectStore`] of buckets in memory; every put is logged.
///
/// Buckets must exist ([`with_bucket`](Self::with_bucket),
/// [`create_bucket`](Self::create_bucket), [`seed`](Self::seed)): a put or
/// get on another one fails with `NoSuchBucket`, a get of a missing key with
/// `NoSuchKey`, both permanent, as S3 answers. Every put is logged at `DEBUG`
/// with its bucket, key, size and content type.
///
/// ```
/// use bytes::Bytes;
/// use eventrail::local::LocalObjectStore;
/// use eventrail::ports::ObjectStore;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let s3 = LocalObjectStore::new().with_bucket("uploads");
/// s3.put("uploads", "in/a.csv", Bytes::from_static(b"a,b"), Some("text/csv")).await.unwrap();
///
/// let body = s3.get("uploads", "in/a.csv").await.unwrap().collect().await.unwrap();
/// assert_eq!(&body[..], b"a,b");
/// assert_eq!(s3.get("uploads", "nope").await.unwrap_err().code(), Some("NoSuchKey"));
/// assert_eq!(s3.keys("uploads"), ["in/a.csv"]);
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct LocalObjectStore {
    inner: Arc<Mutex<State>>,
    faults: FaultPlan<S3Request>,
    calls: CallLog<S3Request>,
}

#[derive(Debug, Default)]
struct State {
    buckets: BTreeMap<String, BTreeMap<String, StoredObject>>,
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

fn no_bucket(bucket: &str) -> PortError {
    PortError::permanent(format!("The specified bucket does not exist: {bucket}"))
        .with_code("NoSuchBucket")
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
}

impl LocalObjectStore {
    /// A store with no buckets.
    pub fn new() -> Self {
        Self::default()
    }

    history_constructors! {
        /// A store that keeps no history: its call log is
        /// [discarding](CallLog::discarding) (calls are counted, none kept).
        /// Buckets and objects are kept as by [`new`](Self::new).
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

    /// Stores an object directly, as setup: the bucket is created if needed,
    /// and no call is recorded.
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

    /// [`ObjectStore::put`], returning the object as stored (with the
    /// sequencer of this put): for wrappers that announce puts.
    pub fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: Option<&str>,
    ) -> Result<StoredObject, PortError> {
        let mut state = lock(&self.inner);
        let size = body.len();
        let req = || S3Request::Put {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size,
            content_type: content_type.map(str::to_owned),
        };
        let result = self.faults.run_lazy(&self.calls, req, || {
            if !state.buckets.contains_key(bucket) {
                return Err(no_bucket(bucket));
            }
            let obj = state.store(body, content_type);
            if let Some(b) = state.buckets.get_mut(bucket) {
                b.insert(key.to_owned(), obj.clone());
            }
            Ok(obj)
        });
        match &result {
            Ok(obj) => tracing::debug!(
                target: "eventrail::local",
                bucket = %bucket, key = %key,
                size = obj.body.len(),
                content_type = content_type.unwrap_or(""),
                "S3 put"
            ),
            Err(e) => {
                tracing::debug!(target: "eventrail::local", bucket = %bucket, key = %key, error = %e, "S3 put failed")
            }
        }
        result
    }
}

#[async_trait]
impl ObjectStore for LocalObjectStore {
    async fn get(&self, bucket: &str, key: &str) -> Result<Object, PortError> {
        let req = || S3Request::Get {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        };
        let stored = {
            let state = lock(&self.inner);
            self.faults
                .run_lazy(&self.calls, req, || match state.buckets.get(bucket) {
                    None => Err(no_bucket(bucket)),
                    Some(b) => b.get(key).cloned().ok_or_else(|| {
                        PortError::permanent("The specified key does not exist.")
                            .with_code("NoSuchKey")
                    }),
                })
        };
        let stored = match stored {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(target: "eventrail::local", bucket = %bucket, key = %key, error = %e, "S3 get failed");
                return Err(e);
            }
        };
        let chunks: Vec<Result<Bytes, PortError>> = stored
            .body
            .chunks(CHUNK)
            .map(|c| Ok(stored.body.slice_ref(c)))
            .collect();
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
        self.put_object(bucket, key, body, content_type)
            .map(|o| Some(o.e_tag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::Fault;

    #[tokio::test]
    async fn missing_bucket_and_chunked_body() {
        let s3 = LocalObjectStore::new();
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
        assert_eq!(
            s3.calls()
                .iter()
                .map(|c| c.request.key().to_owned())
                .collect::<Vec<_>>(),
            ["k", "k", "k"]
        );
    }

    #[tokio::test]
    async fn faults_by_request_and_seeding() {
        let s3 = LocalObjectStore::new().with_bucket("b");
        s3.seed("b", "k", "v");
        s3.fail_when(
            |r| matches!(r, S3Request::Get { .. }) && r.key() == "k",
            Fault::internal(),
        );
        assert!(s3.get("b", "k").await.unwrap_err().is_retryable());
        s3.clear_faults();
        assert_eq!(
            s3.get("b", "k").await.unwrap().collect().await.unwrap(),
            "v"
        );
        assert_eq!(s3.calls().len(), 2, "seeding records no call");
        let a = s3
            .put_object("b", "x", Bytes::from_static(b"1"), Some("text/plain"))
            .unwrap();
        let b = s3
            .put_object("b", "x", Bytes::from_static(b"2"), None)
            .unwrap();
        assert!(a.sequencer < b.sequencer);
        assert_eq!(s3.object("b", "x").unwrap().body, "2");
    }
}
