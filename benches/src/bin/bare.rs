//! The bare app: the order app's two SQS routes on eventrail's router and
//! bus, with no-op handlers and no layers, as a Lambda binary.
//!
//! Run with
//!
//! ```sh
//! cargo run --release -p eventrail-benches --bin bare -- invoke EVENT.json
//! ```
//!
//! `bare invoke FILE [--log-level LEVEL]` behaves like
//! `example-orders invoke FILE`: same runtime (tokio's current-thread
//! scheduler), same Lambda binding, same answer for the SQS workload.
//! Between `floor` and `example-orders` it shows what the framework's core
//! costs without the production handler stack.

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match eventrail_lambda::run(eventrail_benches::app()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
