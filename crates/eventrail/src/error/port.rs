//! The error of a port call: see [`PortError`].

use std::fmt;

use super::{BoxError, Classify, ErrorClass};

/// The error every port returns.
///
/// It says whether a retry can help ([`PortError::is_retryable`]) and, where the
/// service gave one, carries the service's error code ([`PortError::code`]).
#[derive(Debug)]
pub struct PortError {
    retry: ErrorClass,
    code: Option<String>,
    message: String,
    source: Option<BoxError>,
}

impl PortError {
    /// A failure a retry may fix (throttling, timeouts, 5xx).
    pub fn retryable(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Retryable, message)
    }

    /// A failure a retry cannot fix (validation, not found, access denied).
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Permanent, message)
    }

    /// A failure with an explicit classification.
    pub fn new(retry: ErrorClass, message: impl Into<String>) -> Self {
        Self {
            retry,
            code: None,
            message: message.into(),
            source: None,
        }
    }

    /// Sets the service's error code, such as `NoSuchKey` or `TaskDoesNotExist`.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Whether a retry can help.
    pub fn is_retryable(&self) -> bool {
        self.retry.is_retryable()
    }

    /// The service's error code, if any.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl Classify for PortError {
    fn retry(&self) -> ErrorClass {
        self.retry
    }
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{code}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for PortError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
