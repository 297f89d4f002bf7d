//! Failures below the service: nothing listening, or a server that never
//! answers. Both are retryable, and neither hangs.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use aws_config::timeout::TimeoutConfig;
use eventrail::ports::{Notifier, SnsMessage};
use eventrail_aws::{config, SnsNotifier};

use crate::harness::Aws;

#[tokio::test]
async fn connection_refused_is_retryable() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let aws = Aws::new();
    let nowhere = config::with_endpoint(&aws.sdk, format!("http://127.0.0.1:{port}"));
    let err = SnsNotifier::from_conf(&nowhere)
        .publish(SnsMessage::new("arn:aws:sns:us-east-1:123456789012:t", "x"))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(err.code(), None, "{err}");
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_retryable_timeout() {
    // The kernel accepts the connection into the backlog; nobody reads it.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let aws = Aws::new();
    let slow = config::with_endpoint(&aws.sdk, format!("http://127.0.0.1:{port}"))
        .to_builder()
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_millis(500))
                .build(),
        )
        .build();
    let started = Instant::now();
    let err = SnsNotifier::from_conf(&slow)
        .publish(SnsMessage::new("arn:aws:sns:us-east-1:123456789012:t", "x"))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(err.message().contains("timed out"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(silent);
}
