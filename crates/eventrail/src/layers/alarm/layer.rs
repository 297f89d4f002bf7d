use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::{AlarmOnFailure, AlarmService, FilterFn, Severity, SeverityFn};

/// Applies [`AlarmOnFailure`] to a service. See the [module docs](super).
#[derive(Clone)]
pub struct AlarmLayer {
    pub(super) service: AlarmService,
    pub(super) source: Arc<str>,
    pub(super) severity: SeverityFn,
    pub(super) filter: Option<FilterFn>,
}

impl fmt::Debug for AlarmLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlarmLayer")
            .field("service", &self.service)
            .field("source", &self.source)
            .field("filtered", &self.filter.is_some())
            .finish_non_exhaustive()
    }
}

impl AlarmLayer {
    /// Alarms through `service`, naming `source` (e.g. the handler's name) as
    /// their origin, with severity `ERROR`.
    pub fn new(service: AlarmService, source: impl Into<Arc<str>>) -> Self {
        Self {
            service,
            source: source.into(),
            severity: Arc::new(|_| Severity::Error),
            filter: None,
        }
    }

    /// Every alarm gets `severity`.
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = Arc::new(move |_| severity);
        self
    }

    /// The severity is chosen per error, e.g. `CRITICAL` for permanent ones.
    pub fn severity_fn(
        mut self,
        f: impl Fn(&(dyn std::error::Error + 'static)) -> Severity + Send + Sync + 'static,
    ) -> Self {
        self.severity = Arc::new(f);
        self
    }

    /// Alarms only for errors `f` accepts, e.g. only permanent ones when the
    /// source redelivers retryable failures and a later delivery may succeed:
    /// `.only_if(|e| !eventrail::error::is_retryable(e))`.
    pub fn only_if(
        mut self,
        f: impl Fn(&(dyn std::error::Error + 'static)) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.filter = Some(Arc::new(f));
        self
    }
}

impl<S> Layer<S> for AlarmLayer {
    type Service = AlarmOnFailure<S>;

    fn layer(&self, inner: S) -> AlarmOnFailure<S> {
        AlarmOnFailure::new(inner, self.clone())
    }
}
