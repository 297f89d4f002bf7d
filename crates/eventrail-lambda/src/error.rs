//! The error of an invocation: unusable input, or records that failed where
//! the source has no per-record response.

use eventrail::Source;

/// Why an invocation failed.
///
/// The first four variants mean the payload was unusable; the others mean the
/// payload was processed and the failure belongs to the invocation (Lambda's
/// retry or on-failure destination then applies). On Lambda, the variant
/// becomes the `errorType` of the error response (see [`InvokeError::error_type`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvokeError {
    /// The payload is empty (or only whitespace).
    #[error("the payload is empty")]
    Empty,
    /// The payload is not UTF-8.
    #[error("the payload is not UTF-8 (invalid byte at offset {valid_up_to})")]
    NotUtf8 {
        /// The length of the valid UTF-8 prefix.
        valid_up_to: usize,
    },
    /// The payload is not JSON.
    #[error("the payload is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The payload is JSON, but no event source was recognised.
    #[error("no event source detected: the payload is {seen}")]
    UnknownSource {
        /// What the payload looked like, e.g. ``a JSON object with keys `a`, `b` ``.
        seen: String,
    },
    /// Records of an asynchronous source (S3, SNS, EventBridge) failed, or
    /// every record of an SQS or stream batch under
    /// [`WholeBatchFailure::FailInvocation`](crate::WholeBatchFailure::FailInvocation).
    #[error("{failed} of {total} {event_source} record(s) failed; first: {first}")]
    RecordsFailed {
        /// The source.
        event_source: Source,
        /// How many records failed.
        failed: usize,
        /// How many records the event carried.
        total: usize,
        /// The first failed record's id and error.
        first: String,
    },
    /// The response of this source echoes parts of the payload (S3 Batch
    /// Operations' `invocationId`, Firehose's record data), and was asked
    /// for without it: build it with
    /// [`respond_to`](crate::response::respond_to).
    #[error("a {event_source} response echoes the payload: build it with `respond_to`")]
    NeedsPayload {
        /// The source.
        event_source: Source,
    },
    /// A Step Functions task failed.
    #[error("the Step Functions task failed: {error}")]
    TaskFailed {
        /// The handler's error.
        error: String,
        /// Whether a retry can help (the state machine's `Retry` decides).
        retryable: bool,
    },
}

impl InvokeError {
    /// Whether the payload itself was unusable (empty, not UTF-8, not JSON,
    /// unknown source), as opposed to records that failed.
    pub fn is_bad_payload(&self) -> bool {
        matches!(
            self,
            InvokeError::Empty
                | InvokeError::NotUtf8 { .. }
                | InvokeError::NotJson(_)
                | InvokeError::UnknownSource { .. }
        )
    }

    /// A stable name for the condition, used as the Lambda `errorType`:
    /// `Eventrail.EmptyPayload`, `Eventrail.NotUtf8`, `Eventrail.NotJson`,
    /// `Eventrail.UnknownSource`, `Eventrail.RecordsFailed`, `Eventrail.NeedsPayload`,
    /// `Eventrail.TaskFailed` or `Eventrail.TaskFailed.Retryable`.
    pub fn error_type(&self) -> &'static str {
        match self {
            InvokeError::Empty => "Eventrail.EmptyPayload",
            InvokeError::NotUtf8 { .. } => "Eventrail.NotUtf8",
            InvokeError::NotJson(_) => "Eventrail.NotJson",
            InvokeError::UnknownSource { .. } => "Eventrail.UnknownSource",
            InvokeError::RecordsFailed { .. } => "Eventrail.RecordsFailed",
            InvokeError::NeedsPayload { .. } => "Eventrail.NeedsPayload",
            InvokeError::TaskFailed {
                retryable: true, ..
            } => "Eventrail.TaskFailed.Retryable",
            InvokeError::TaskFailed { .. } => "Eventrail.TaskFailed",
        }
    }
}

impl From<InvokeError> for lambda_runtime::Diagnostic {
    fn from(e: InvokeError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.error_type().to_owned(),
            error_message: e.to_string(),
        }
    }
}
