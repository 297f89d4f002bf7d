//! Amazon S3: objects, read as a stream of bytes.

use std::fmt;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_core::Stream;

use crate::error::PortError;

/// A streamed object body.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, PortError>> + Send>>;

/// An object read from an [`ObjectStore`], with its body still streaming.
#[non_exhaustive]
pub struct Object {
    /// `Content-Length`, when known.
    pub content_length: Option<u64>,
    /// `Content-Type`, when known.
    pub content_type: Option<String>,
    /// The `ETag`, when known.
    pub e_tag: Option<String>,
    /// The body.
    pub body: ByteStream,
}

impl Object {
    /// An object whose body streams from `body`.
    pub fn new(body: ByteStream) -> Self {
        Self {
            content_length: None,
            content_type: None,
            e_tag: None,
            body,
        }
    }

    /// Reads the whole body into memory.
    pub async fn collect(self) -> Result<Bytes, PortError> {
        use futures_util::StreamExt;
        let mut body = self.body;
        let mut buf = bytes::BytesMut::with_capacity(
            self.content_length
                .map_or(0, |n| usize::try_from(n).unwrap_or(0)),
        );
        while let Some(chunk) = body.next().await {
            buf.extend_from_slice(&chunk?);
        }
        Ok(buf.freeze())
    }
}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Object")
            .field("content_length", &self.content_length)
            .field("content_type", &self.content_type)
            .field("e_tag", &self.e_tag)
            .finish_non_exhaustive()
    }
}

/// Reads and writes objects (S3).
#[async_trait]
pub trait ObjectStore: Send + Sync + fmt::Debug {
    /// Reads `bucket/key`. A missing key is a permanent error with code `NoSuchKey`.
    async fn get(&self, bucket: &str, key: &str) -> Result<Object, PortError>;
    /// Writes `bucket/key`; returns the `ETag`.
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: Option<&str>,
    ) -> Result<Option<String>, PortError>;
}
