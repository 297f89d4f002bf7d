use tower_layer::Layer;

use super::Trace;

/// Applies [`Trace`] to a service. See the [module docs](super).
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceLayer {
    _priv: (),
}

impl TraceLayer {
    /// The layer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for TraceLayer {
    type Service = Trace<S>;

    fn layer(&self, inner: S) -> Trace<S> {
        Trace::new(inner)
    }
}
