//! `config::load` honours `AWS_ENDPOINT_URL`: clients built from the loaded
//! configuration alone reach moto. A test binary of its own, because it sets
//! process-wide environment variables.

#[path = "moto/harness.rs"]
mod harness;

use bytes::Bytes;
use eventrail::ports::{Notifier, ObjectStore, SnsMessage};
use eventrail_aws::{config, S3ObjectStore, SnsNotifier};

#[tokio::test]
async fn clients_from_the_environment_reach_the_endpoint_in_aws_endpoint_url() {
    let endpoint = harness::endpoint();
    // The only test in this binary, so nothing reads the environment while
    // it changes.
    std::env::set_var("AWS_ENDPOINT_URL", &endpoint);
    std::env::set_var("AWS_REGION", "eu-west-1");
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::remove_var("AWS_PROFILE");
    std::env::set_var("AWS_CONFIG_FILE", "/nonexistent/eventrail-aws-test");
    std::env::set_var(
        "AWS_SHARED_CREDENTIALS_FILE",
        "/nonexistent/eventrail-aws-test",
    );
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");

    let aws = config::load().await;
    assert_eq!(aws.endpoint_url(), Some(endpoint.as_str()));

    // S3: path-style addressing follows from the override.
    let bucket = format!("from-env-{}", std::process::id());
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&aws)
            .force_path_style(true)
            .build(),
    )
    .create_bucket()
    .bucket(&bucket)
    .create_bucket_configuration(
        aws_sdk_s3::types::CreateBucketConfiguration::builder()
            .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
            .build(),
    )
    .send()
    .await
    .unwrap();
    let store = S3ObjectStore::from_conf(&aws);
    store
        .put(
            &bucket,
            "k",
            Bytes::from_static(b"from the environment"),
            None,
        )
        .await
        .unwrap();
    let got = store
        .get(&bucket, "k")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(&got[..], b"from the environment");

    // SNS through the same configuration.
    let topic = aws_sdk_sns::Client::new(&aws)
        .create_topic()
        .name(format!("from-env-{}", std::process::id()))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    assert!(topic.starts_with("arn:aws:sns:eu-west-1:"), "{topic}");
    SnsNotifier::from_conf(&aws)
        .publish(SnsMessage::new(topic, "hello"))
        .await
        .unwrap();
}
