//! Loading the shared AWS configuration, and pointing it at a local emulator.
//!
//! ```no_run
//! use eventrail_aws::{config, S3ObjectStore};
//!
//! # async fn run() {
//! // Region, credentials and `AWS_ENDPOINT_URL` from the environment:
//! let aws = config::load().await;
//! // The same, but every client talks to an emulator on this machine:
//! let local = config::with_endpoint(&aws, "http://127.0.0.1:5000");
//! let store = S3ObjectStore::from_conf(&local);
//! # }
//! ```

use aws_config::{BehaviorVersion, SdkConfig};

/// Loads the configuration from the environment, the way every AWS SDK does:
/// region, credentials (environment, profile, container or instance role),
/// and the endpoint override in `AWS_ENDPOINT_URL` (or the per-service
/// `AWS_ENDPOINT_URL_<SERVICE>`, such as `AWS_ENDPOINT_URL_S3`), using the
/// latest behavior version.
pub async fn load() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// A copy of `config` whose clients all send their requests to `url`, such as
/// `http://127.0.0.1:5000` for a local emulator.
///
/// S3 clients built from such a configuration use path-style addressing
/// (`http://host/bucket/key`), which emulators need; see
/// [`S3ObjectStore::from_conf`](crate::S3ObjectStore::from_conf).
pub fn with_endpoint(config: &SdkConfig, url: impl Into<String>) -> SdkConfig {
    config.to_builder().endpoint_url(url).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_endpoint_overrides_only_the_endpoint() {
        let base = SdkConfig::builder()
            .region(aws_config::Region::new("eu-west-1"))
            .build();
        let local = with_endpoint(&base, "http://127.0.0.1:1");
        assert_eq!(local.endpoint_url(), Some("http://127.0.0.1:1"));
        assert_eq!(local.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(base.endpoint_url(), None);
    }
}
