//! [`TaskCallbacks`] over Step Functions `SendTaskSuccess`,
//! `SendTaskFailure` and `SendTaskHeartbeat`.
//!
//! ```no_run
//! use eventrail::ports::TaskCallbacks;
//! use eventrail_aws::{config, SfnTaskCallbacks};
//!
//! # async fn run(token: &str) -> Result<(), eventrail::ports::PortError> {
//! let callbacks = SfnTaskCallbacks::from_conf(&config::load().await);
//! callbacks.send_task_heartbeat(token).await?;
//! match callbacks.send_task_success(token, r#"{"approved":true}"#).await {
//!     Ok(()) => {}
//!     // The execution is gone or the task already finished: nothing to report to.
//!     Err(e) if e.code() == Some("TaskDoesNotExist") || e.code() == Some("TaskTimedOut") => {}
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```
//!
//! # Errors
//!
//! The service's typed errors `TaskDoesNotExist`, `InvalidToken`,
//! `TaskTimedOut` and `InvalidOutput` are permanent errors carrying that
//! code: no retry can make such a callback succeed. KMS throttling,
//! throttling in general and 5xx are retryable; other KMS errors permanent.
//!
//! Before calling, an output over [`SFN_MAX_OUTPUT_BYTES`] is refused
//! locally with code `InvalidOutput`, as the service would; a failure's
//! error name and cause are cut to [`SFN_MAX_ERROR_CHARS`] and
//! [`SFN_MAX_CAUSE_CHARS`] so the failure is still reported.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sfn::operation::send_task_failure::SendTaskFailureError;
use aws_sdk_sfn::operation::send_task_heartbeat::SendTaskHeartbeatError;
use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessError;
use aws_sdk_sfn::Client;
use eventrail::error::ErrorClass;
use eventrail::ports::{
    PortError, TaskCallbacks, SFN_MAX_CAUSE_CHARS, SFN_MAX_ERROR_CHARS, SFN_MAX_OUTPUT_BYTES,
};

use crate::error::from_sdk_refined;

/// Reports Step Functions task results. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct SfnTaskCallbacks {
    client: Client,
}

impl SfnTaskCallbacks {
    /// Callbacks over a client you configured.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Callbacks configured by `config` (region, credentials, endpoint).
    pub fn from_conf(config: &SdkConfig) -> Self {
        Self::new(Client::new(config))
    }

    /// The SDK client, for calls this type does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

const PERMANENT: ErrorClass = ErrorClass::Permanent;

#[async_trait]
impl TaskCallbacks for SfnTaskCallbacks {
    async fn send_task_success(&self, token: &str, output: &str) -> Result<(), PortError> {
        if output.len() > SFN_MAX_OUTPUT_BYTES {
            return Err(PortError::permanent(format!(
                "Step Functions SendTaskSuccess: the output is {} bytes, over the {SFN_MAX_OUTPUT_BYTES}-byte limit",
                output.len()
            ))
            .with_code("InvalidOutput"));
        }
        self.client
            .send_task_success()
            .task_token(token)
            .output(output)
            .send()
            .await
            .map(drop)
            .map_err(|e| from_sdk_refined("Step Functions SendTaskSuccess", e, success_error))
    }

    async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), PortError> {
        self.client
            .send_task_failure()
            .task_token(token)
            .error(truncate_chars(error, SFN_MAX_ERROR_CHARS))
            .cause(truncate_chars(cause, SFN_MAX_CAUSE_CHARS))
            .send()
            .await
            .map(drop)
            .map_err(|e| from_sdk_refined("Step Functions SendTaskFailure", e, failure_error))
    }

    async fn send_task_heartbeat(&self, token: &str) -> Result<(), PortError> {
        self.client
            .send_task_heartbeat()
            .task_token(token)
            .send()
            .await
            .map(drop)
            .map_err(|e| from_sdk_refined("Step Functions SendTaskHeartbeat", e, heartbeat_error))
    }
}

// The service's typed errors, classified whatever their HTTP status.

fn success_error(e: &SendTaskSuccessError) -> Option<(ErrorClass, &'static str)> {
    use SendTaskSuccessError as E;
    match e {
        E::TaskDoesNotExist(_) => Some((PERMANENT, "TaskDoesNotExist")),
        E::InvalidToken(_) => Some((PERMANENT, "InvalidToken")),
        E::TaskTimedOut(_) => Some((PERMANENT, "TaskTimedOut")),
        E::InvalidOutput(_) => Some((PERMANENT, "InvalidOutput")),
        E::KmsThrottlingException(_) => Some((ErrorClass::Retryable, "KmsThrottlingException")),
        _ => None,
    }
}

fn failure_error(e: &SendTaskFailureError) -> Option<(ErrorClass, &'static str)> {
    use SendTaskFailureError as E;
    match e {
        E::TaskDoesNotExist(_) => Some((PERMANENT, "TaskDoesNotExist")),
        E::InvalidToken(_) => Some((PERMANENT, "InvalidToken")),
        E::TaskTimedOut(_) => Some((PERMANENT, "TaskTimedOut")),
        E::KmsThrottlingException(_) => Some((ErrorClass::Retryable, "KmsThrottlingException")),
        _ => None,
    }
}

fn heartbeat_error(e: &SendTaskHeartbeatError) -> Option<(ErrorClass, &'static str)> {
    use SendTaskHeartbeatError as E;
    match e {
        E::TaskDoesNotExist(_) => Some((PERMANENT, "TaskDoesNotExist")),
        E::InvalidToken(_) => Some((PERMANENT, "InvalidToken")),
        E::TaskTimedOut(_) => Some((PERMANENT, "TaskTimedOut")),
        _ => None,
    }
}

/// At most `max` characters of `s`, cut on a character boundary.
fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::types::error::{InvalidOutput, InvalidToken, TaskDoesNotExist, TaskTimedOut};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::client::result::SdkError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn classify(err: SendTaskSuccessError, status: u16) -> PortError {
        let raw = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
        from_sdk_refined("op", SdkError::service_error(err, raw), success_error)
    }

    // moto only ever answers InvalidToken; these are the other typed errors.
    #[test]
    fn typed_errors_are_permanent_with_their_code_whatever_the_status() {
        let cases = [
            (
                SendTaskSuccessError::TaskDoesNotExist(TaskDoesNotExist::builder().build()),
                "TaskDoesNotExist",
            ),
            (
                SendTaskSuccessError::TaskTimedOut(TaskTimedOut::builder().build()),
                "TaskTimedOut",
            ),
            (
                SendTaskSuccessError::InvalidOutput(InvalidOutput::builder().build()),
                "InvalidOutput",
            ),
            (
                SendTaskSuccessError::InvalidToken(InvalidToken::builder().build()),
                "InvalidToken",
            ),
        ];
        for (err, code) in cases {
            // Even if a proxy turned it into a 5xx, no retry can help.
            let e = classify(err, 500);
            assert!(!e.is_retryable(), "{code}");
            assert_eq!(e.code(), Some(code));
        }
    }

    #[test]
    fn failure_and_heartbeat_errors_are_classified_alike() {
        assert_eq!(
            failure_error(&SendTaskFailureError::TaskTimedOut(
                TaskTimedOut::builder().build()
            )),
            Some((PERMANENT, "TaskTimedOut"))
        );
        assert_eq!(
            heartbeat_error(&SendTaskHeartbeatError::TaskDoesNotExist(
                TaskDoesNotExist::builder().build()
            )),
            Some((PERMANENT, "TaskDoesNotExist"))
        );
    }

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(truncate_chars("héllo", 2), "hé");
        assert_eq!(truncate_chars("héllo", 5), "héllo");
        assert_eq!(truncate_chars("héllo", 50), "héllo");
        assert_eq!(truncate_chars("", 0), "");
    }
}
