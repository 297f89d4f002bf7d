//! The S3 fake: eventrail's local object store, and the events of its puts.

use std::ops::Deref;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use eventrail::local::LocalObjectStore;
use eventrail::ports::{Object, ObjectStore, PortError};

pub use eventrail::local::{S3Request, StoredObject};

use crate::events::s3::{self as s3_events, Batch as S3Batch, Record as S3Record};

/// An in-memory S3: buckets of objects.
///
/// It is a [`LocalObjectStore`] (it dereferences to one: `create_bucket`,
/// `seed`, `keys`, `fail_when`, `calls`... are its methods): buckets must
/// exist, a put or get on another one fails with `NoSuchBucket`, a get of a
/// missing key with `NoSuchKey`. The fake adds the S3 events: every
/// successful put also queues the `ObjectCreated:Put` event record S3 would
/// send, with the key encoded as S3 encodes it; take them with
/// [`take_notifications`](Self::take_notifications) and push them through
/// the app.
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
    local: LocalObjectStore,
    notifications: Arc<Mutex<Vec<S3Record>>>,
}

impl FakeS3 {
    /// A fake with no buckets.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates `bucket` (builder style).
    pub fn with_bucket(self, bucket: &str) -> Self {
        self.local.create_bucket(bucket);
        self
    }

    /// The local object store this fake is.
    pub fn local(&self) -> &LocalObjectStore {
        &self.local
    }

    /// The S3 event records of the puts since the last call, as one event.
    pub fn take_notifications(&self) -> S3Batch {
        let mut queued = self
            .notifications
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s3_events::batch(std::mem::take(&mut *queued))
    }
}

impl Deref for FakeS3 {
    type Target = LocalObjectStore;

    fn deref(&self) -> &LocalObjectStore {
        &self.local
    }
}

#[async_trait]
impl ObjectStore for FakeS3 {
    async fn get(&self, bucket: &str, key: &str) -> Result<Object, PortError> {
        self.local.get(bucket, key).await
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: Option<&str>,
    ) -> Result<Option<String>, PortError> {
        // Under the notifications' lock, so their order is the puts' order.
        let mut queued = self
            .notifications
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let size = body.len() as u64;
        let obj = self.local.put_object(bucket, key, body, content_type)?;
        queued.push(
            s3_events::put(bucket, key, size)
                .e_tag(obj.e_tag.trim_matches('"'))
                .sequencer(&obj.sequencer),
        );
        Ok(Some(obj.e_tag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::Fault;
    use bytes::Bytes;

    #[tokio::test]
    async fn missing_bucket_and_chunked_body() {
        let s3 = FakeS3::new();
        let e = s3
            .put("nope", "k", Bytes::from_static(b"x"), None)
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("NoSuchBucket"));
        s3.create_bucket("b");
        let big = Bytes::from(vec![7u8; 64 * 1024 * 2 + 5]);
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
