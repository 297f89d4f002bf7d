//! The `mockall` mocks stand in for the ports wherever a fake would.
#![cfg(feature = "mocks")]

use std::sync::Arc;

use bytes::Bytes;
use eventrail::ports::{ObjectStore, PortError, TaskCallbacks};
use eventrail_testkit::mocks::mockall::predicate::eq;
use eventrail_testkit::mocks::{MockObjectStore, MockTaskCallbacks};

#[tokio::test]
async fn object_store_mock_sees_the_content_type() {
    let mut s3 = MockObjectStore::new();
    s3.expect_put()
        .withf(|bucket, key, body, ct| {
            bucket == "b"
                && key == "k"
                && body == &Bytes::from_static(b"x")
                && ct.as_deref() == Some("text/plain")
        })
        .times(1)
        .returning(|_, _, _, _| Ok(Some("\"etag\"".into())));
    s3.expect_get()
        .returning(|_, _| Err(PortError::permanent("gone").with_code("NoSuchKey")));
    let port: Arc<dyn ObjectStore> = Arc::new(s3);
    let tag = port
        .put("b", "k", Bytes::from_static(b"x"), Some("text/plain"))
        .await
        .unwrap();
    assert_eq!(tag.as_deref(), Some("\"etag\""));
    assert_eq!(
        port.get("b", "k").await.unwrap_err().code(),
        Some("NoSuchKey")
    );
}

#[tokio::test]
async fn task_callbacks_mock_expects_a_success_once() {
    let mut sfn = MockTaskCallbacks::new();
    sfn.expect_send_task_success()
        .with(eq("tok"), eq("{}"))
        .times(1)
        .returning(|_, _| Ok(()));
    let port: Arc<dyn TaskCallbacks> = Arc::new(sfn);
    port.send_task_success("tok", "{}").await.unwrap();
    assert!(format!("{port:?}").contains("MockTaskCallbacks"));
}
