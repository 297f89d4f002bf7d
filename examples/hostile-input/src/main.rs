//! The hostile-input function: every source routed (see the library docs).
//!
//! Run with
//!
//! ```sh
//! cargo run -p example-hostile-input -- invoke examples/hostile-input/tests/corpus/sqs/body-null.json
//! AWS_LAMBDA_RUNTIME_API=127.0.0.1:9000/.rt cargo run -p example-hostile-input
//! ```

#[tokio::main]
async fn main() -> Result<(), eventrail_lambda::lambda_runtime::Error> {
    eventrail_lambda::run(example_hostile_input::app()).await
}
