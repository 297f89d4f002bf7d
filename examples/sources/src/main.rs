//! One Lambda function for the three sources that answer per record:
//!
//! - Kafka (MSK or self-managed): orders on topic `orders`; an order with
//!   no items is rejected (permanent), one for a locked warehouse waits
//!   (retryable) and holds back the rest of its partition. Failed records
//!   come back as `batchItemFailures` named by topic-partition and offset.
//! - S3 Batch Operations: every task under `invoices/` is archived; a
//!   `.tmp` object is still being written (`TemporaryFailure`), a `.exe`
//!   is refused (`PermanentFailure`).
//! - Firehose: click events are rewritten as CSV lines partitioned by page,
//!   health checks are dropped, a click without a page fails.
//!
//! Run with
//!
//! ```sh
//! # one event, locally: prints the Lambda response
//! cargo run -p example-sources -- invoke examples/sources/events/kafka.json
//! cargo run -p example-sources -- invoke examples/sources/events/s3-batch.json
//! cargo run -p example-sources -- invoke examples/sources/events/firehose.json
//!
//! # under a Lambda Runtime API (Lambda itself, or an emulator)
//! AWS_LAMBDA_RUNTIME_API=127.0.0.1:9000/.rt cargo run -p example-sources
//! ```

use eventrail::source::firehose::Transformation;
use eventrail::source::kafka::KafkaMessage;
use eventrail::source::s3_batch::S3BatchTask;
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};

#[derive(Debug, serde::Deserialize)]
struct OrderPlaced {
    id: String,
    warehouse: String,
    items: u32,
}

#[derive(Debug, serde::Deserialize)]
struct Click {
    #[serde(default)]
    page: String,
    user: String,
}

fn app() -> Result<App, eventrail::app::BuildError> {
    let bus = Bus::builder()
        .on_named(
            "reserve-stock",
            handler_fn(|o: Envelope<KafkaMessage<OrderPlaced>>| async move {
                if o.items == 0 {
                    return Err(HandlerError::permanent(format!(
                        "order {} has no items",
                        o.id
                    )));
                }
                if o.warehouse == "locked" {
                    return Err(HandlerError::retryable("the warehouse is being counted"));
                }
                Ok(())
            }),
        )
        .on_named(
            "archive-invoice",
            handler_fn(|t: Envelope<S3BatchTask>| async move {
                if t.key.ends_with(".tmp") {
                    return Err(HandlerError::retryable("the object is still being written"));
                }
                if t.key.ends_with(".exe") {
                    return Err(HandlerError::permanent("executables are not invoices"));
                }
                let tier = t
                    .user_arguments
                    .get("tier")
                    .map_or("GLACIER", String::as_str);
                Ok(format!("archived s3://{}/{} to {tier}", t.bucket, t.key))
            }),
        )
        .on_named(
            "clicks-to-csv",
            handler_fn(|c: Envelope<Click>| async move {
                if c.page == "/health" {
                    return Ok(Transformation::dropped());
                }
                if c.page.is_empty() {
                    return Err(HandlerError::permanent("a click without a page"));
                }
                Ok(Transformation::data(format!("{},{}\n", c.user, c.page))
                    .partition_key("page", c.page.trim_start_matches('/')))
            }),
        )
        .build();
    let router = Router::new()
        .kafka()
        .topic("orders")
        .field("type", "ORDER_PLACED")
        .to::<OrderPlaced>()
        .s3_batch()
        .prefix("invoices/")
        .to::<S3BatchTask>()
        .firehose("kind", "click")
        .to::<Click>();
    App::builder(router, bus).build()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), eventrail_lambda::lambda_runtime::Error> {
    eventrail_lambda::run(app()?).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_source_has_its_route_and_handler() {
        let table = super::app().unwrap().routes();
        let text = table.to_string();
        for row in [
            r#"topic = "orders", type = "ORDER_PLACED""#,
            r#"prefix "invoices/""#,
            r#"kind = "click""#,
            "reserve-stock",
            "archive-invoice",
            "clicks-to-csv",
        ] {
            assert!(text.contains(row), "{row} missing from\n{text}");
        }
    }
}
