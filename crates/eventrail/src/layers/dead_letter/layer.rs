use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tower_layer::Layer;

use super::{DeadLetterSink, DeadLettering};
use crate::ports::Clock;

/// Applies [`DeadLettering`] to a service. See the [module docs](super).
pub struct DeadLetterLayer<E> {
    pub(super) sink: Arc<dyn DeadLetterSink<E>>,
    /// `None`: the envelope's ([`Metadata::clock`](crate::Metadata::clock)).
    pub(super) clock: Option<Arc<dyn Clock>>,
    pub(super) failed: Arc<AtomicU64>,
}

impl<E> Clone for DeadLetterLayer<E> {
    fn clone(&self) -> Self {
        Self {
            sink: Arc::clone(&self.sink),
            clock: self.clock.clone(),
            failed: Arc::clone(&self.failed),
        }
    }
}

impl<E> fmt::Debug for DeadLetterLayer<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadLetterLayer")
            .field("sink", &self.sink)
            .field("clock", &self.clock)
            .field("failed_stores", &self.failed_stores())
            .finish()
    }
}

impl<E> DeadLetterLayer<E> {
    /// Hands final failures to `sink`.
    pub fn new(sink: Arc<dyn DeadLetterSink<E>>) -> Self {
        Self {
            sink,
            clock: None,
            failed: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Sets the clock that stamps [`DeadLetter::failed_at`](super::DeadLetter::failed_at)
    /// (default: the envelope's [`Metadata::clock`](crate::Metadata::clock),
    /// which is the app's).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }
}

impl<E> DeadLetterLayer<E> {
    /// How many letters the sink failed to store, across every service this
    /// layer (or a clone) made.
    pub fn failed_stores(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

impl<S, E> Layer<S> for DeadLetterLayer<E> {
    type Service = DeadLettering<S, E>;

    fn layer(&self, inner: S) -> DeadLettering<S, E> {
        DeadLettering::new(inner, self.clone())
    }
}
