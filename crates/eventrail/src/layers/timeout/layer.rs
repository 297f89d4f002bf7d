use std::time::Duration;

use tokio::time::Instant;
use tower_layer::Layer;

use super::Timeout;
use crate::envelope::Metadata;
use crate::envelope::MAX_PLAUSIBLE_DEADLINE;

/// Applies [`Timeout`] to a service. See the [module docs](super).
#[derive(Clone, Copy, Debug)]
pub struct TimeoutLayer {
    limit: Duration,
    deadline_margin: Option<Duration>,
}

impl TimeoutLayer {
    /// A fixed limit per call; the envelope's deadline is not consulted.
    pub fn new(limit: Duration) -> Self {
        Self {
            limit,
            deadline_margin: None,
        }
    }

    /// The smaller of `limit` and the time left before the envelope's deadline
    /// minus a margin of 500 ms.
    pub fn deadline_aware(limit: Duration) -> Self {
        Self {
            limit,
            deadline_margin: Some(Duration::from_millis(500)),
        }
    }

    /// Sets the margin kept before the deadline (turns deadline awareness on).
    pub fn margin(mut self, margin: Duration) -> Self {
        self.deadline_margin = Some(margin);
        self
    }

    /// The fixed limit.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// The budget of a call for an envelope with metadata `meta`, now.
    pub fn budget(&self, meta: &Metadata) -> Duration {
        self.budget_at(meta, Instant::now())
    }

    /// [`budget`](Self::budget) at `now`: the layer's call reads the clock
    /// once for the budget and its timer's deadline.
    pub(super) fn budget_at(&self, meta: &Metadata, now: Instant) -> Duration {
        let (Some(margin), Some(deadline)) = (self.deadline_margin, meta.deadline()) else {
            return self.limit;
        };
        if deadline <= now || deadline - now > MAX_PLAUSIBLE_DEADLINE {
            tracing::warn!(
                record_id = meta.record_id(),
                limit_ms = self.limit.as_millis() as u64,
                "the invocation deadline is past or implausibly far; using the fixed limit"
            );
            return self.limit;
        }
        (deadline - now).saturating_sub(margin).min(self.limit)
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Timeout<S> {
        Timeout::new(inner, *self)
    }
}
