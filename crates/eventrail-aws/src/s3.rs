//! [`ObjectStore`] over S3 `GetObject` and `PutObject`.
//!
//! [`get`](ObjectStore::get) returns as soon as the response headers arrive;
//! the body streams chunk by chunk as the handler reads it, so an object
//! larger than the function's memory can be processed.
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use eventrail::ports::ObjectStore;
//! use eventrail_aws::{config, S3ObjectStore};
//!
//! # async fn run() -> Result<(), eventrail::ports::PortError> {
//! let store = S3ObjectStore::from_conf(&config::load().await);
//! store
//!     .put("reports", "2026/11/day.csv", "a,b\n1,2\n".into(), Some("text/csv"))
//!     .await?;
//!
//! let mut object = store.get("reports", "2026/11/day.csv").await?;
//! let mut lines = 0;
//! while let Some(chunk) = object.body.next().await {
//!     lines += chunk?.iter().filter(|b| **b == b'\n').count();
//! }
//! # Ok(()) }
//! ```
//!
//! # Errors
//!
//! A missing key is a permanent error with code `NoSuchKey`, a missing
//! bucket one with `NoSuchBucket`; access denied is permanent; `SlowDown`,
//! 5xx and a body that breaks off while streaming are retryable.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use aws_sdk_s3::Client;
use bytes::Bytes;
use eventrail::error::ErrorClass;
use eventrail::ports::{ByteStream, Object, ObjectStore, PortError};

use crate::error::{from_sdk, from_sdk_refined};

/// Reads and writes S3 objects. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct S3ObjectStore {
    client: Client,
}

impl S3ObjectStore {
    /// A store over a client you configured.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// A store configured by `config` (region, credentials, endpoint).
    ///
    /// When `config` has an endpoint override (`AWS_ENDPOINT_URL`,
    /// [`config::with_endpoint`](crate::config::with_endpoint)), the client
    /// uses path-style addresses (`http://host/bucket/key`), as local
    /// emulators need. For other settings build an `aws_sdk_s3::Client`
    /// yourself and use [`new`](Self::new).
    pub fn from_conf(config: &SdkConfig) -> Self {
        let mut s3 = aws_sdk_s3::config::Builder::from(config);
        if config.endpoint_url().is_some() {
            s3 = s3.force_path_style(true);
        }
        Self::new(Client::from_conf(s3.build()))
    }

    /// The SDK client, for calls this type does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    async fn get(&self, bucket: &str, key: &str) -> Result<Object, PortError> {
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                use aws_sdk_s3::operation::get_object::GetObjectError as E;
                from_sdk_refined(
                    &format!("S3 GetObject s3://{bucket}/{key}"),
                    e,
                    |e| match e {
                        E::NoSuchKey(_) => Some((ErrorClass::Permanent, "NoSuchKey")),
                        E::InvalidObjectState(_) => {
                            Some((ErrorClass::Permanent, "InvalidObjectState"))
                        }
                        _ => None,
                    },
                )
            })?;
        let mut object = Object::new(into_stream(out.body, format!("s3://{bucket}/{key}")));
        object.content_length = out.content_length.and_then(|n| u64::try_from(n).ok());
        object.content_type = out.content_type;
        object.e_tag = out.e_tag;
        Ok(object)
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: Option<&str>,
    ) -> Result<Option<String>, PortError> {
        let len = i64::try_from(body.len()).unwrap_or(i64::MAX);
        let out = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_length(len)
            .set_content_type(content_type.map(str::to_owned))
            .body(SdkByteStream::from(body))
            .send()
            .await
            .map_err(|e| from_sdk(&format!("S3 PutObject s3://{bucket}/{key}"), e))?;
        Ok(out.e_tag)
    }
}

/// The SDK's body as our stream. A read error ends the stream after it is
/// yielded; it is retryable (the connection broke, a new `get` may work).
fn into_stream(body: SdkByteStream, what: String) -> ByteStream {
    let stream = futures_util::stream::unfold(Some(body), move |state| {
        let what = what.clone();
        async move {
            let mut body = state?;
            match body.try_next().await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some(body))),
                Ok(None) => None,
                Err(e) => {
                    let err = PortError::retryable(format!(
                        "S3 GetObject {what}: reading the body failed: {e}"
                    ))
                    .with_source(e);
                    Some((Err(err), None))
                }
            }
        }
    });
    Box::pin(stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn the_sdk_body_streams_through_unchanged() {
        let body = SdkByteStream::from(Bytes::from_static(b"hello world"));
        let mut stream = into_stream(body, "s3://b/k".into());
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(out, b"hello world");
    }
}
