//! Middleware layers for handlers: retry, timeout, idempotency, alarm, task
//! token, dead letter and tracing. (Filled in by the layers work; see the
//! project's issue tracker.)

use std::error::Error as StdError;

use crate::error::Retry;

/// Classifies the error types of the layers in this module, for
/// [`classify`](crate::error::classify).
pub(crate) fn classify_layer_error(_e: &(dyn StdError + 'static)) -> Option<Retry> {
    None
}
