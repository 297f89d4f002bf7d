use std::error::Error as StdError;
use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;

use crate::envelope::Envelope;
use crate::ports::PortError;

/// A finally failed event, as handed to a [`DeadLetterSink`].
#[non_exhaustive]
pub struct DeadLetter<'a, E> {
    /// The envelope: the event and its metadata (record id, source, tenant, ...).
    pub envelope: &'a Envelope<E>,
    /// The final error; its `source()` chain is intact.
    pub error: &'a (dyn StdError + Send + Sync + 'static),
    /// How many attempts were made.
    pub attempts: u32,
    /// Whether a retry could help (a later redelivery may still succeed).
    pub retryable: bool,
    /// When it failed, by the layer's clock.
    pub failed_at: SystemTime,
}

impl<'a, E> DeadLetter<'a, E> {
    /// The letter for `envelope`, which failed with `error` after `attempts`
    /// attempts at `failed_at`; whether a retry could help is read from
    /// `error` ([`is_retryable`](crate::error::is_retryable)). The layer
    /// builds the letters it hands over; this is for testing a sink.
    pub fn new(
        envelope: &'a Envelope<E>,
        error: &'a (dyn StdError + Send + Sync + 'static),
        attempts: u32,
        failed_at: SystemTime,
    ) -> Self {
        Self {
            envelope,
            error,
            attempts,
            retryable: crate::error::is_retryable(error),
            failed_at,
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for DeadLetter<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadLetter")
            .field("envelope", self.envelope)
            .field("error", &self.error.to_string())
            .field("attempts", &self.attempts)
            .field("retryable", &self.retryable)
            .field("failed_at", &self.failed_at)
            .finish()
    }
}

/// Where finally failed events go. See the [module docs](super).
///
/// Object safe: used as `Arc<dyn DeadLetterSink<E>>`.
#[async_trait]
pub trait DeadLetterSink<E>: Send + Sync + fmt::Debug {
    /// Stores `letter`. An error is logged and counted; the handler's error
    /// is returned either way.
    async fn store(&self, letter: DeadLetter<'_, E>) -> Result<(), PortError>;
}
