//! A handler that panicked: see [`HandlerPanic`].

use std::fmt;

use super::{Classify, ErrorClass};

/// A handler panicked; the message is kept. Permanent: a panic is a bug.
///
/// The layers that act on failures (idempotency, alarm, dead letter, task
/// token, and [`CatchPanicLayer`](crate::layers::CatchPanicLayer)) turn a
/// panic of what they wrap into this error, so every layer outside them sees
/// it as an ordinary failure; [`App`](crate::App) catches what no layer caught.
#[derive(Debug)]
pub struct HandlerPanic {
    message: String,
}

impl HandlerPanic {
    /// The error for a caught panic, from its payload (the message of a
    /// `&str` or `String` payload; a placeholder for any other).
    pub(crate) fn from_payload(payload: Box<dyn std::any::Any + Send>) -> Self {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(a non-string panic payload)".to_owned());
        Self { message }
    }

    /// The panic message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for HandlerPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "handler panicked: {}", self.message)
    }
}

impl std::error::Error for HandlerPanic {}

impl Classify for HandlerPanic {
    fn retry(&self) -> ErrorClass {
        ErrorClass::Permanent
    }
}
