//! A function with a route for every source, built to be attacked: the
//! hostile-input corpus in `tests/corpus/` runs through it in process, through
//! its binary's local `invoke` command and under a Lambda Runtime API
//! emulator, and the fuzz targets in `fuzz/` call the harnesses in [`fuzz`].
//!
//! Run with
//!
//! ```sh
//! # one hostile event, locally
//! cargo run -p example-hostile-input -- invoke examples/hostile-input/tests/corpus/s3/key-bad-escape.json
//! # the corpus through every path (the emulator test needs cargo-lambda)
//! cargo test -p example-hostile-input
//! ```
//!
//! | source | route | handler |
//! |---|---|---|
//! | SQS, SNS (and SNS in SQS) | `type = "NOTIFICATION"` | [`Notification`]; `poison@example.com` fails permanently |
//! | S3 | any key | [`Upload`]: answers the decoded key and size |
//! | DynamoDB Streams | `pk` prefix `ORDER#` | [`DataChange<Order>`]: answers the change |
//! | Step Functions | `type = "ORDER_PROCESS"`, with a task-token layer | [`OrderTask`]: answers `{"orderId"}`, padded to `outputBytes` |
//! | Kafka | topic `orders` | [`KafkaOrder`]: answers `{"id", "key", "headers"}`; an order with no items fails permanently |
//! | S3 Batch Operations | any key | answers `bucket/key`, padded to the user argument `pad`; a key ending in `.poison` fails permanently |
//! | Firehose | `kind = "log"` | [`LogLine`]: rewritten as `level: msg`, partitioned by level; `debug` lines are dropped, a `poison` message fails permanently |
//!
//! ```
//! use eventrail::app::Invocation;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let app = example_hostile_input::app();
//! let sqs = br#"{"Records": [
//!     {"eventSource": "aws:sqs", "messageId": "m-1", "body": null},
//!     {"eventSource": "aws:sqs", "messageId": "m-2",
//!      "body": "{\"type\":\"NOTIFICATION\",\"recipient\":\"a@example.com\",\"subject\":\"hi\"}"}
//! ]}"#;
//! let response = eventrail_lambda::invoke(&app, sqs, Invocation::default()).await.unwrap();
//! assert_eq!(response, serde_json::json!({"batchItemFailures": [{"itemIdentifier": "m-1"}]}));
//! # }
//! ```

use std::sync::Arc;

use eventrail::dynamodb::DataChange;
use eventrail::layers::ServiceBuilderExt;
use eventrail::ports::{PortError, TaskCallbacks};
use eventrail::s3::S3Object;
use eventrail::source::firehose::Transformation;
use eventrail::source::kafka::KafkaMessage;
use eventrail::source::s3_batch::S3BatchTask;
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tower::ServiceBuilder;

pub mod fuzz;

/// The recipient whose messages always fail (permanently).
pub const POISON: &str = "poison@example.com";

/// Step Functions' limit on a task token: `SendTaskSuccess` and
/// `SendTaskFailure` take 1 to 2 048 characters (older API models said
/// 1 024; the larger, current bound is the one checked).
pub const MAX_TASK_TOKEN_CHARS: usize = 2048;

/// An SQS or SNS message of type `NOTIFICATION`.
#[derive(Debug, Deserialize)]
pub struct Notification {
    /// Who gets it.
    pub recipient: String,
    /// What it is about.
    pub subject: String,
}

/// An S3 object that changed, as the router decoded it.
#[derive(Debug)]
pub struct Upload(pub S3Object);

impl From<S3Object> for Upload {
    fn from(o: S3Object) -> Self {
        Self(o)
    }
}

/// A DynamoDB item, one field per attribute type.
#[derive(Debug, Deserialize, Serialize)]
pub struct Order {
    /// `S`: the partition key.
    pub pk: String,
    /// `N`.
    #[serde(default)]
    pub total: Option<f64>,
    /// `BOOL`.
    #[serde(default)]
    pub paid: Option<bool>,
    /// `S` or `NULL`.
    #[serde(default)]
    pub note: Option<String>,
    /// `M` of `S`.
    #[serde(default)]
    pub address: Option<std::collections::BTreeMap<String, String>>,
    /// `L` of `S`.
    #[serde(default)]
    pub lines: Option<Vec<String>>,
    /// `SS`.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// `NS`.
    #[serde(default)]
    pub sizes: Option<Vec<f64>>,
    /// `B`.
    #[serde(default)]
    pub receipt: Option<Blob>,
    /// `BS`.
    #[serde(default)]
    pub blobs: Option<Vec<Blob>>,
}

/// A binary attribute's bytes (`B`, or one of a `BS`).
#[derive(Debug, Serialize)]
pub struct Blob(pub Vec<u8>);

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Blob;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Blob, E> {
                Ok(Blob(v.to_vec()))
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Blob, E> {
                Ok(Blob(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

/// The payload of an `ORDER_PROCESS` Step Functions task.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderTask {
    /// The order.
    pub order_id: String,
    /// Pads the output to about this many bytes (to cross Step Functions'
    /// 256 KiB limit on purpose).
    #[serde(default)]
    pub output_bytes: usize,
}

/// An order on the Kafka topic `orders`.
#[derive(Debug, Deserialize)]
pub struct KafkaOrder {
    /// The order.
    pub id: String,
    /// How many items; none fails the record permanently.
    pub items: u32,
}

/// A log line going through Firehose.
#[derive(Debug, Deserialize)]
pub struct LogLine {
    /// `debug` lines are dropped.
    pub level: String,
    /// `poison` fails the record permanently.
    pub msg: String,
}

/// The S3 Batch Operations key suffix that always fails (permanently).
pub const POISON_SUFFIX: &str = ".poison";

/// Step Functions callbacks that check what AWS checks (the token's length)
/// and otherwise accept: the function has no real state machine to call.
#[derive(Debug, Default)]
pub struct CheckedCallbacks;

impl CheckedCallbacks {
    fn check(token: &str) -> Result<(), PortError> {
        let chars = token.chars().count();
        if chars == 0 || chars > MAX_TASK_TOKEN_CHARS {
            return Err(PortError::permanent(format!(
                "task token of {chars} characters; Step Functions accepts 1 to {MAX_TASK_TOKEN_CHARS}"
            ))
            .with_code("InvalidToken"));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl TaskCallbacks for CheckedCallbacks {
    async fn send_task_success(&self, token: &str, _output: &str) -> Result<(), PortError> {
        Self::check(token)
    }

    async fn send_task_failure(
        &self,
        token: &str,
        _error: &str,
        _cause: &str,
    ) -> Result<(), PortError> {
        Self::check(token)
    }

    async fn send_task_heartbeat(&self, token: &str) -> Result<(), PortError> {
        Self::check(token)
    }
}

/// The router: one route per source. See the [crate docs](crate).
pub fn router() -> Router {
    Router::new()
        .sqs("type", "NOTIFICATION")
        .to::<Notification>()
        .sns("type", "NOTIFICATION")
        .to::<Notification>()
        .s3()
        .to::<Upload>()
        .dynamodb("ORDER#")
        .to::<Order>()
        .step_function("ORDER_PROCESS")
        .to::<OrderTask>()
        .kafka()
        .topic("orders")
        .to::<KafkaOrder>()
        .s3_batch()
        .to::<S3BatchTask>()
        .firehose("kind", "log")
        .to::<LogLine>()
}

/// The app. See the [crate docs](crate).
pub fn app() -> App {
    let notify = handler_fn(|n: Envelope<Notification>| async move {
        if n.recipient == POISON {
            return Err(HandlerError::permanent("this recipient always bounces"));
        }
        Ok::<_, HandlerError>(json!({ "mailed": n.recipient }))
    });
    let upload = handler_fn(|u: Envelope<Upload>| async move {
        let o = &u.event().0;
        Ok::<_, HandlerError>(json!({ "bucket": o.bucket, "key": o.key, "size": o.size }))
    });
    let change = handler_fn(|c: Envelope<DataChange<Order>>| async move {
        let c = c.event();
        Ok::<_, HandlerError>(json!({
            "kind": c.kind.to_string(),
            "old": c.old,
            "new": c.new,
        }))
    });
    let task = ServiceBuilder::new()
        .task_token(Arc::new(CheckedCallbacks))
        .service(handler_fn(|t: Envelope<OrderTask>| async move {
            let mut out = json!({ "orderId": t.order_id });
            if t.output_bytes > 0 {
                out["padding"] = Value::String("x".repeat(t.output_bytes));
            }
            Ok::<_, HandlerError>(out)
        }));
    let order = handler_fn(|o: Envelope<KafkaMessage<KafkaOrder>>| async move {
        if o.items == 0 {
            return Err(HandlerError::permanent(format!(
                "order {} has no items",
                o.id
            )));
        }
        let key = o
            .meta()
            .key()
            .map(|k| String::from_utf8_lossy(k).into_owned());
        let headers: Vec<Value> = o
            .headers
            .iter()
            .map(|(name, bytes)| json!([name, bytes]))
            .collect();
        Ok::<_, HandlerError>(json!({ "id": o.id, "key": key, "headers": headers }))
    });
    let batch_task = handler_fn(|t: Envelope<S3BatchTask>| async move {
        if t.key.ends_with(POISON_SUFFIX) {
            return Err(HandlerError::permanent(format!("{} is poisoned", t.key)));
        }
        let pad = t
            .user_arguments
            .get("pad")
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(0);
        Ok::<_, HandlerError>(format!("{}/{}{}", t.bucket, t.key, "x".repeat(pad)))
    });
    let log = handler_fn(|l: Envelope<LogLine>| async move {
        if l.level == "debug" {
            return Ok(Transformation::dropped());
        }
        if l.msg == "poison" {
            return Err(HandlerError::permanent("a poisoned log line"));
        }
        Ok::<_, HandlerError>(
            Transformation::data(format!("{}: {}\n", l.level, l.msg))
                .partition_key("level", l.level.as_str()),
        )
    });
    let bus = Bus::builder()
        .on(notify)
        .on(upload)
        .on(change)
        .on(task)
        .on(order)
        .on(batch_task)
        .on(log)
        .build();
    App::builder(router(), bus)
        .build()
        .expect("the routes are consistent")
}
