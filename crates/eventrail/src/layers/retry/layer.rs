use tower_layer::Layer;

use super::{Retry, RetryPolicy};

/// Applies [`Retry`] to a service. See the [module docs](super).
#[derive(Clone, Copy, Debug, Default)]
pub struct RetryLayer {
    policy: RetryPolicy,
}

impl RetryLayer {
    /// A layer retrying with `policy`.
    pub fn new(policy: RetryPolicy) -> Self {
        Self { policy }
    }
}

impl From<RetryPolicy> for RetryLayer {
    fn from(policy: RetryPolicy) -> Self {
        Self::new(policy)
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;

    fn layer(&self, inner: S) -> Retry<S> {
        Retry::new(inner, self.policy)
    }
}
