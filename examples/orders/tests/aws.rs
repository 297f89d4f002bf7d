//! `example-orders invoke --aws FILE` against moto's server: the real
//! clients of `eventrail-aws`, pointed at moto with `AWS_ENDPOINT_URL`, and
//! what reached SES, SNS, S3 and the DynamoDB idempotency table.
//!
//! moto comes from `EVENTRAIL_MOTO_ENDPOINT` (set by `scripts/test`); without
//! it the test starts `python3 -m moto.server` on a free port of 127.0.0.1
//! and stops it at the end. The binary runs in moto's default account, so
//! every resource name carries a suffix unique to this run.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_sns::config::{Credentials, SharedCredentialsProvider};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_example-orders");
const REGION: &str = "eu-west-1";

/// moto's URL, and the server if this test started it (killed on drop).
struct Moto {
    url: String,
    child: Option<Child>,
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_for(addr: SocketAddr, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn moto() -> Moto {
    if let Ok(url) = std::env::var("EVENTRAIL_MOTO_ENDPOINT") {
        if !url.is_empty() {
            return Moto { url, child: None };
        }
    }
    let advice = "run the tests with scripts/test (it installs and starts moto), or \
                  `pip install 'moto[server]==5.2.1'`, or set EVENTRAIL_MOTO_ENDPOINT";
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let mut child = Command::new(&python)
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {python} -m moto.server: {e}; {advice}"));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    if !wait_for(addr, Duration::from_secs(60)) {
        let _ = child.kill();
        let mut err = String::new();
        if let Some(mut s) = child.stderr.take() {
            let _ = s.read_to_string(&mut err);
        }
        panic!("moto's server did not start on {addr}: {err}; {advice}");
    }
    Moto {
        url: format!("http://{addr}"),
        child: Some(child),
    }
}

fn sdk(url: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(url)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::for_tests()))
        .build()
}

/// A queue subscribed (raw delivery) to a new topic; returns (topic ARN, queue URL).
async fn topic_with_queue(sdk: &SdkConfig, name: &str) -> (String, String) {
    let sns = aws_sdk_sns::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let topic = sns
        .create_topic()
        .name(name)
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let queue = sqs
        .create_queue()
        .queue_name(format!("{name}-tap"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    (topic, queue)
}

/// Every message waiting in `queue`.
async fn drain(sdk: &SdkConfig, queue: &str) -> Vec<String> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut out = Vec::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if got.is_empty() {
            return out;
        }
        for m in got {
            out.push(m.body.unwrap_or_default());
            sqs.delete_message()
                .queue_url(queue)
                .receipt_handle(m.receipt_handle.unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

/// The SES messages moto accepted from `from`: `(to, subject)`.
async fn mails_from(url: &str, from: &str) -> Vec<(String, String)> {
    let data = moto_dump(url).await;
    data["ses"]["Message"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["source"] == from)
        .map(|m| {
            (
                m["destinations"]["ToAddresses"][0]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
                m["subject"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// moto's dump of every model it holds, by a plain HTTP/1.0 GET (no HTTP
/// client dependency).
///
/// The dump checks each attribute is JSON and serializes the whole later,
/// unlocked: an object another test changes in between (an S3 key added to
/// a bucket, say) makes it answer 500 ("Object of type FakeKey is not JSON
/// serializable"). Nothing is wrong with our request then, so it is asked
/// again, a bounded number of times.
async fn moto_dump(url: &str) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = url.strip_prefix("http://").unwrap().trim_end_matches('/');
    let mut last = String::new();
    for _ in 0..10 {
        let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
        s.write_all(format!("GET /moto-api/data.json HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf);
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        match head.split_whitespace().nth(1) {
            Some("200") => return serde_json::from_str(body).unwrap(),
            Some("500") => last = body.to_owned(),
            _ => panic!("moto's /moto-api/data.json: {head}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("moto's /moto-api/data.json answered 500 ten times: {last}")
}

struct Run<'a> {
    moto: &'a str,
    env: Vec<(&'static str, String)>,
}

impl Run<'_> {
    fn invoke(&self, file: &str) -> Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("events")
            .join(file);
        let out = Command::new(BIN)
            .args(["invoke", "--aws"])
            .arg(path)
            .args(["--log-level", "off"])
            .env("AWS_ENDPOINT_URL", self.moto)
            .env("AWS_REGION", REGION)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn invoke_aws_reaches_ses_sns_s3_and_the_idempotency_table() {
    let moto = moto();
    let sdk = sdk(&moto.url);
    let suffix = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            % 1_000_000
    );
    let (alarms, alarms_tap) = topic_with_queue(&sdk, &format!("orders-alarms-{suffix}")).await;
    let (orders, orders_tap) = topic_with_queue(&sdk, &format!("orders-{suffix}")).await;
    let bucket = format!("orders-data-{suffix}");
    aws_sdk_s3::Client::new(&sdk)
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
    let table = format!("orders-idempotency-{suffix}");
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    dynamodb
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let from = format!("orders-{suffix}@example.com");
    aws_sdk_sesv2::Client::new(&sdk)
        .create_email_identity()
        .email_identity(&from)
        .send()
        .await
        .unwrap();

    let run = Run {
        moto: &moto.url,
        env: vec![
            ("ORDERS_ALARMS_TOPIC_ARN", alarms),
            ("ORDERS_TOPIC_ARN", orders),
            ("ORDERS_IDEMPOTENCY_TABLE", table.clone()),
            ("ORDERS_BUCKET", bucket.clone()),
            ("ORDERS_MAIL_FROM", from.clone()),
            ("ORDERS_ENVIRONMENT", "moto".into()),
        ],
    };

    // The orders stream: the new order fans out, the bad image stops the shard.
    let response = run.invoke("dynamodb-changes.json");
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": "300000000000000000006"}]})
    );
    assert_eq!(
        mails_from(&moto.url, &from).await,
        [(
            "ana@example.com".to_owned(),
            "Order 1001 confirmed".to_owned()
        )]
    );
    let follow_ups = drain(&sdk, &orders_tap).await;
    assert_eq!(follow_ups.len(), 1);
    let follow_up: Value = serde_json::from_str(&follow_ups[0]).unwrap();
    assert_eq!(follow_up["orderId"], "1001");
    let s3 = aws_sdk_s3::Client::new(&sdk);
    let reservation = s3
        .get_object()
        .bucket(&bucket)
        .key("inventory/reservations/1001.json")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(
        serde_json::from_slice::<Value>(&reservation).unwrap(),
        json!({"orderId": "1001", "items": 3})
    );
    // One completed idempotency record per handler run: the INSERT and the
    // MODIFY of the order (four handlers each), the product twice, the user.
    let items = dynamodb
        .scan()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let mut namespaces: Vec<String> = items
        .iter()
        .map(|i| {
            assert_eq!(i["status"].as_s().unwrap(), "COMPLETED", "{i:?}");
            assert!(i.contains_key("ttl"), "{i:?}");
            let id = i["id"].as_s().unwrap();
            id.split('#').next().unwrap().to_owned()
        })
        .collect();
    namespaces.sort();
    assert_eq!(
        namespaces,
        [
            "reserve-inventory",
            "reserve-inventory",
            "send-confirmation",
            "send-confirmation",
            "start-follow-up",
            "start-follow-up",
            "sync-order",
            "sync-order",
            "sync-product",
            "sync-product",
            "sync-user",
        ]
    );

    // The same stream again (a redelivery): answered from the table, in a new
    // process: no second mail, no second follow-up.
    run.invoke("dynamodb-changes.json");
    assert_eq!(mails_from(&moto.url, &from).await.len(), 1);
    assert!(drain(&sdk, &orders_tap).await.is_empty());

    // The dead-letter queue: stored in S3, a CRITICAL alarm each.
    assert_eq!(run.invoke("sqs-dlq.json"), json!({"batchItemFailures": []}));
    let stored = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("dead-letters/")
        .send()
        .await
        .unwrap()
        .contents
        .unwrap_or_default();
    assert_eq!(stored.len(), 2);
    let alarms: Vec<Value> = drain(&sdk, &alarms_tap)
        .await
        .iter()
        .map(|m| serde_json::from_str(m).unwrap())
        .collect();
    assert_eq!(alarms.len(), 2);
    for a in &alarms {
        assert_eq!(a["severity"], "CRITICAL");
        assert_eq!(a["source"], "store-dead-letter");
        assert_eq!(a["environment"], "moto");
    }
}
