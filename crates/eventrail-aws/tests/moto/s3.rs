//! `S3ObjectStore` against moto: `CreateBucket`, `PutObject`, `GetObject`.

use bytes::Bytes;
use eventrail::ports::ObjectStore;
use eventrail_aws::S3ObjectStore;
use futures_util::StreamExt;

use crate::harness::Aws;

async fn bucket(aws: &Aws) -> String {
    let name = aws.name("bucket");
    aws.s3().create_bucket().bucket(&name).send().await.unwrap();
    name
}

/// 10 MiB that are not all the same byte, so a reordered or dropped chunk shows.
fn ten_mib() -> Bytes {
    (0..10 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect::<Vec<u8>>()
        .into()
}

#[tokio::test]
async fn put_then_a_streamed_get_of_10_mib() {
    let aws = Aws::new();
    let bucket = bucket(&aws).await;
    let store = S3ObjectStore::new(aws.s3());
    let data = ten_mib();

    let etag = store
        .put(
            &bucket,
            "big/object.bin",
            data.clone(),
            Some("application/octet-stream"),
        )
        .await
        .unwrap();
    assert!(etag.is_some());

    let object = store.get(&bucket, "big/object.bin").await.unwrap();
    assert_eq!(object.content_length, Some(data.len() as u64));
    assert_eq!(
        object.content_type.as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(object.e_tag, etag);

    // Read it as a stream: it arrives in many chunks, none larger than the
    // whole, and together they are the object.
    let mut body = object.body;
    let mut chunks = 0;
    let mut got = Vec::with_capacity(data.len());
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap();
        assert!(chunk.len() < data.len());
        chunks += 1;
        got.extend_from_slice(&chunk);
    }
    assert!(chunks > 1, "a 10 MiB body came in {chunks} chunk(s)");
    assert!(got == data, "the streamed body differs from what was put");
}

#[tokio::test]
async fn small_objects_round_trip_with_collect() {
    let aws = Aws::new();
    let bucket = bucket(&aws).await;
    let store = S3ObjectStore::new(aws.s3());
    store
        .put(
            &bucket,
            "a b/ü.json",
            Bytes::from_static(b"{\"k\":1}"),
            None,
        )
        .await
        .unwrap();
    let got = store
        .get(&bucket, "a b/ü.json")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(&got[..], b"{\"k\":1}");
}

#[tokio::test]
async fn a_missing_key_is_a_permanent_no_such_key() {
    let aws = Aws::new();
    let bucket = bucket(&aws).await;
    let err = S3ObjectStore::new(aws.s3())
        .get(&bucket, "not/there")
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert_eq!(err.code(), Some("NoSuchKey"), "{err}");
    assert!(err.message().contains("not/there"), "{err}");
}

#[tokio::test]
async fn a_missing_bucket_is_a_permanent_no_such_bucket() {
    let aws = Aws::new();
    let store = S3ObjectStore::new(aws.s3());
    let missing = aws.name("no-bucket");
    let err = store.get(&missing, "k").await.unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert_eq!(err.code(), Some("NoSuchBucket"), "{err}");
    let err = store
        .put(&missing, "k", Bytes::from_static(b"x"), None)
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert_eq!(err.code(), Some("NoSuchBucket"), "{err}");
}

#[tokio::test]
async fn from_conf_with_an_endpoint_uses_path_style_addresses() {
    // `from_conf` alone must reach moto: with an endpoint override it
    // addresses `http://127.0.0.1:PORT/bucket/key`, which is the only form
    // that reaches a server on an IP address.
    let aws = Aws::new();
    let bucket = aws.name("plain");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&aws.sdk)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let store = S3ObjectStore::from_conf(&aws.sdk);
    store
        .put(&bucket, "k", Bytes::from_static(b"v"), Some("text/plain"))
        .await
        .unwrap();
    let got = store
        .get(&bucket, "k")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(&got[..], b"v");
}
