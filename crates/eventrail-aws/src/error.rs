//! How SDK errors become [`PortError`]s.
//!
//! One rule for every client, so a handler sees the same classification
//! whichever service failed:
//!
//! | what went wrong | retryable? | code |
//! |---|---|---|
//! | throttling codes (`Throttling`, `ThrottledException`, `SlowDown`, ...) or HTTP 429 | yes | the service's |
//! | HTTP 5xx, `InternalError`, `ServiceUnavailable`, `RequestTimeout` | yes | the service's |
//! | timeout, connection failure, a response cut off | yes | none |
//! | any other service error (validation, not found, access denied, ...) | no | the service's |
//! | the request could not be built (a missing required field) | no | none |
//!
//! Clients refine this where a service's typed errors say more (Step
//! Functions' `TaskDoesNotExist` is permanent whatever its status).

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use eventrail::error::ErrorClass;
use eventrail::ports::PortError;

/// Error codes that mean "slow down": retrying later helps.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "SlowDown",
    "PriorRequestNotComplete",
    "TransactionInProgressException",
    "KMSThrottlingException",
    "KmsThrottlingException",
];

/// Error codes of transient server-side failures, whatever the HTTP status.
const TRANSIENT_CODES: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServerException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
    "TransactionConflictException",
    "ReplicatedWriteConflictException",
];

/// Whether a service error code names a condition a retry can fix.
pub(crate) fn is_retryable_code(code: &str) -> bool {
    THROTTLING_CODES.contains(&code) || TRANSIENT_CODES.contains(&code)
}

/// Whether an HTTP status names a condition a retry can fix.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

/// Classifies an SDK error from `what` (such as `"SNS Publish"`).
// Only the Step Functions client refines every call.
#[cfg_attr(
    not(any(feature = "sns", feature = "ses", feature = "s3", feature = "dynamodb")),
    allow(dead_code)
)]
pub(crate) fn from_sdk<E>(what: &str, err: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    from_sdk_refined(what, err, |_| None)
}

/// Like [`from_sdk`], but `refine` may classify a service's typed error
/// itself: it returns the classification and the canonical code.
pub(crate) fn from_sdk_refined<E>(
    what: &str,
    err: SdkError<E, HttpResponse>,
    refine: impl FnOnce(&E) -> Option<(ErrorClass, &'static str)>,
) -> PortError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let port = match &err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let service = ctx.err();
            let detail = service
                .message()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("HTTP {status}"));
            let message = format!("{what} failed: {detail}");
            let (retry, code) = match refine(service) {
                Some((retry, code)) => (retry, Some(code.to_owned())),
                None => {
                    let code = service.code().map(str::to_owned);
                    let retryable = is_retryable_status(status)
                        || code.as_deref().is_some_and(is_retryable_code);
                    let retry = if retryable {
                        ErrorClass::Retryable
                    } else {
                        ErrorClass::Permanent
                    };
                    (retry, code)
                }
            };
            let port = PortError::new(retry, message);
            match code {
                Some(code) => port.with_code(code),
                None => port,
            }
        }
        SdkError::TimeoutError(_) => PortError::retryable(format!("{what} timed out")),
        SdkError::DispatchFailure(failure) => {
            if failure.is_user() {
                PortError::permanent(format!("{what} could not be sent: {}", chain(&err)))
            } else if failure.is_timeout() {
                PortError::retryable(format!("{what} timed out: {}", chain(&err)))
            } else {
                PortError::retryable(format!("{what} could not be sent: {}", chain(&err)))
            }
        }
        SdkError::ResponseError(ctx) => {
            // The response could not be read or parsed: a cut-off body is
            // worth another try, a 4xx whose body we cannot read is not.
            let status = ctx.raw().status().as_u16();
            let message = format!("{what}: unreadable response (HTTP {status})");
            if status < 400 || is_retryable_status(status) {
                PortError::retryable(message)
            } else {
                PortError::permanent(message)
            }
        }
        SdkError::ConstructionFailure(_) => {
            PortError::permanent(format!("{what}: invalid request: {}", chain(&err)))
        }
        _ => PortError::retryable(format!("{what} failed: {}", chain(&err))),
    };
    tracing::debug!(error = %port, retryable = port.is_retryable(), "AWS call failed");
    port.with_source(err)
}

/// The error and its sources on one line (the SDK's own `Display` of a
/// dispatch failure says only "dispatch failure").
fn chain(err: &dyn StdError) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(e) = next {
        let text = e.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_transient_codes_are_retryable() {
        for code in [
            "Throttling",
            "ThrottledException",
            "SlowDown",
            "InternalError",
        ] {
            assert!(is_retryable_code(code), "{code}");
        }
        for code in [
            "ValidationException",
            "NoSuchKey",
            "InvalidToken",
            "NotFound",
        ] {
            assert!(!is_retryable_code(code), "{code}");
        }
    }

    #[test]
    fn status_429_and_5xx_are_retryable() {
        assert!(is_retryable_status(429));
        assert!(is_retryable_status(500));
        assert!(is_retryable_status(503));
        assert!(!is_retryable_status(400));
        assert!(!is_retryable_status(404));
    }

    #[cfg(feature = "sns")]
    mod classification {
        use super::super::*;
        use aws_sdk_sns::operation::publish::PublishError;
        use aws_smithy_runtime_api::client::result::ConnectorError;
        use aws_smithy_runtime_api::http::StatusCode;
        use aws_smithy_types::body::SdkBody;
        use aws_smithy_types::error::ErrorMetadata;

        fn service(status: u16, code: &str) -> PortError {
            let err =
                PublishError::generic(ErrorMetadata::builder().code(code).message("msg").build());
            let raw = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
            from_sdk("SNS Publish", SdkError::service_error(err, raw))
        }

        #[test]
        fn service_errors() {
            let e = service(400, "Throttling");
            assert!(e.is_retryable());
            assert_eq!(e.code(), Some("Throttling"));
            assert_eq!(e.message(), "SNS Publish failed: msg");

            let e = service(503, "ServiceUnavailable");
            assert!(e.is_retryable());
            let e = service(500, "Whatever");
            assert!(e.is_retryable());
            let e = service(429, "TooManyRequests");
            assert!(e.is_retryable());

            let e = service(400, "InvalidParameter");
            assert!(!e.is_retryable());
            assert_eq!(e.code(), Some("InvalidParameter"));
            let e = service(404, "NotFound");
            assert!(!e.is_retryable());
            let e = service(403, "AuthorizationError");
            assert!(!e.is_retryable());
        }

        #[test]
        fn transport_errors() {
            let timeout: SdkError<PublishError, HttpResponse> = SdkError::timeout_error("too slow");
            assert!(from_sdk("SNS Publish", timeout).is_retryable());

            let refused: SdkError<PublishError, HttpResponse> =
                SdkError::dispatch_failure(ConnectorError::io("connection refused".into()));
            let e = from_sdk("SNS Publish", refused);
            assert!(e.is_retryable());
            assert!(e.message().contains("connection refused"), "{e}");

            let timed_out: SdkError<PublishError, HttpResponse> =
                SdkError::dispatch_failure(ConnectorError::timeout("connect timeout".into()));
            assert!(from_sdk("SNS Publish", timed_out).is_retryable());

            let built: SdkError<PublishError, HttpResponse> =
                SdkError::construction_failure("missing TopicArn");
            assert!(!from_sdk("SNS Publish", built).is_retryable());
        }

        #[test]
        fn a_refinement_overrides_the_status() {
            let err = PublishError::generic(ErrorMetadata::builder().code("X").build());
            let raw = HttpResponse::new(StatusCode::try_from(500).unwrap(), SdkBody::empty());
            let e = from_sdk_refined("op", SdkError::service_error(err, raw), |_| {
                Some((ErrorClass::Permanent, "Canonical"))
            });
            assert!(!e.is_retryable());
            assert_eq!(e.code(), Some("Canonical"));
            assert_eq!(e.message(), "op failed: HTTP 500");
        }
    }
}
