//! The quick start as a Lambda function: SQS messages whose `type` is
//! `NOTIFICATION` are mailed; a message addressed to `poison@example.com`
//! fails, and only that message is reported for redelivery.
//!
//! Run with
//!
//! ```sh
//! # one event, locally: prints the Lambda response
//! cargo run -p example-quickstart -- invoke examples/quickstart/events/sqs-batch.json
//!
//! # the same with the invocation's CloudWatch metrics line (embedded metric
//! # format; on stderr locally, on stdout under Lambda)
//! EVENTRAIL_METRICS=emf cargo run -p example-quickstart -- invoke examples/quickstart/events/sqs-batch.json --log-level off
//!
//! # under a Lambda Runtime API (Lambda itself, or an emulator such as
//! # `cargo lambda watch --only-lambda-apis`)
//! AWS_LAMBDA_RUNTIME_API=127.0.0.1:9000/.rt cargo run -p example-quickstart
//! ```

use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};

#[derive(Debug, serde::Deserialize)]
struct Notification {
    recipient: String,
    subject: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), eventrail_lambda::lambda_runtime::Error> {
    let bus = Bus::builder()
        .on(handler_fn(|n: Envelope<Notification>| async move {
            if n.recipient == "poison@example.com" {
                return Err(HandlerError::permanent("this recipient always bounces"));
            }
            tracing::info!(recipient = %n.recipient, subject = %n.subject, "mailed");
            Ok(())
        }))
        .build();
    let router = Router::new()
        .sqs("type", "NOTIFICATION")
        .to::<Notification>();
    let app = App::builder(router, bus).build()?;
    eventrail_lambda::run(app).await
}
