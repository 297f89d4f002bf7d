use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use super::{Callbacks, TaskToken};
use crate::layers::RetryPolicy;

/// Applies [`TaskToken`] to a service. See the [module docs](super).
#[derive(Clone, Debug)]
pub struct TaskTokenLayer {
    pub(super) callbacks: Callbacks,
    pub(super) error_name: Option<Arc<str>>,
    pub(super) callback_retry: RetryPolicy,
}

impl TaskTokenLayer {
    /// Reports through `callbacks`.
    pub fn new(callbacks: Callbacks) -> Self {
        Self {
            callbacks,
            error_name: None,
            callback_retry: RetryPolicy::default()
                .with_initial_backoff(Duration::from_millis(200))
                .with_max_backoff(Duration::from_secs(2)),
        }
    }

    /// The error name every task failure reports (a state machine's `Retry`
    /// and `Catch` match on it), e.g. `ImportProcessError`.
    pub fn error_name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.error_name = Some(name.into());
        self
    }

    /// How failed callbacks are retried.
    pub fn callback_retry(mut self, policy: RetryPolicy) -> Self {
        self.callback_retry = policy;
        self
    }
}

impl<S> Layer<S> for TaskTokenLayer {
    type Service = TaskToken<S>;

    fn layer(&self, inner: S) -> TaskToken<S> {
        TaskToken::new(inner, self.clone())
    }
}
