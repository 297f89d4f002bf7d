//! The ports on the real AWS clients of `eventrail-aws`, configured from
//! the environment: what the function uses under Lambda, and
//! `example-orders invoke --aws FILE`.
//!
//! Region and credentials come from the usual AWS variables; every client
//! sends its requests to `AWS_ENDPOINT_URL` when it is set (an emulator
//! such as moto). The app's own settings are in [`Config::from_env`].
//!
//! ```no_run
//! # async fn run() -> Result<(), String> {
//! let ports = example_orders::aws::ports().await?;
//! let app = example_orders::app(&ports, &example_orders::Journal::default());
//! # let _ = app; Ok(()) }
//! ```

use std::sync::Arc;

use eventrail_aws::dynamodb::{DynamoDbIdempotencyStore, TableLayout};
use eventrail_aws::{S3ObjectStore, SesMailer, SfnTaskCallbacks, SnsNotifier};

use crate::ports::{Config, Ports};

/// Ports on the AWS clients, with [`Config::from_env`]. The error names
/// every missing variable.
pub async fn ports() -> Result<Ports, String> {
    let config = Config::from_env()?;
    let aws = eventrail_aws::config::load().await;
    Ok(Ports::new(
        Arc::new(SesMailer::from_conf(&aws)),
        Arc::new(SnsNotifier::from_conf(&aws)),
        Arc::new(S3ObjectStore::from_conf(&aws)),
        Arc::new(SfnTaskCallbacks::from_conf(&aws)),
        Arc::new(DynamoDbIdempotencyStore::from_conf(
            &aws,
            TableLayout::new(config.idempotency_table.as_str()),
        )),
        config,
    ))
}
