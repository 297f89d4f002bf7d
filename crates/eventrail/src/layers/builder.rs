//! The sealed extension trait that adds eventrail's layers to
//! `tower::ServiceBuilder`.

use std::sync::Arc;
use std::time::Duration;

use tower::layer::util::Stack;
use tower::ServiceBuilder;

use super::{
    AlarmLayer, AlarmService, CatchPanicLayer, DeadLetterLayer, DeadLetterSink, IdempotencyLayer,
    IdempotencyOptions, RetryLayer, RetryPolicy, TaskTokenLayer, TimeoutLayer, TraceLayer,
};
use crate::envelope::Envelope;
use crate::ports::{IdempotencyStore, TaskCallbacks};

mod sealed {
    #[allow(unreachable_pub)]
    pub trait Sealed<T> {}
    impl<L> Sealed<L> for tower::ServiceBuilder<L> {}
}

/// eventrail's layers as `ServiceBuilder` methods, so a stack reads top
/// (outermost) to bottom. Sealed: implemented for `tower::ServiceBuilder` only.
///
/// The retry and timeout methods are called `retries` and
/// `deadline_timeout` / `fixed_timeout` rather than `retry` and `timeout`:
/// `ServiceBuilder` has inherent methods of those names when tower's `retry`
/// or `timeout` features are on, and inherent methods win.
///
/// Each method is shorthand for `.layer(XLayer::new(..))` (`.idempotent`
/// takes its settings as [`IdempotencyOptions`]); use `.layer(..)` with a
/// configured layer for the other layers' settings. See the
/// [module docs](super) for a whole stack.
pub trait ServiceBuilderExt<L>: sealed::Sealed<L> + Sized {
    /// A span per event: [`TraceLayer`].
    fn traced(self) -> ServiceBuilder<Stack<TraceLayer, L>>;

    /// An `ERROR` alarm through `alarms` on final failure, naming `source`:
    /// [`AlarmLayer`].
    fn alarm(
        self,
        alarms: AlarmService,
        source: impl Into<Arc<str>>,
    ) -> ServiceBuilder<Stack<AlarmLayer, L>>;

    /// Final failures to `sink`: [`DeadLetterLayer`].
    fn dead_letter<E>(
        self,
        sink: Arc<dyn DeadLetterSink<E>>,
    ) -> ServiceBuilder<Stack<DeadLetterLayer<E>, L>>;

    /// Once per key from `key`, records in `store`, with the other settings
    /// (namespace, payload hash, expiry, clock, ...) in `options`
    /// (`IdempotencyOptions::new()` for the defaults):
    /// [`IdempotencyLayer::with_options`].
    fn idempotent<E>(
        self,
        store: Arc<dyn IdempotencyStore>,
        key: impl Fn(&Envelope<E>) -> Option<String> + Send + Sync + 'static,
        options: IdempotencyOptions<E>,
    ) -> ServiceBuilder<Stack<IdempotencyLayer<E>, L>>;

    /// Step Functions callbacks for envelopes with a task token: [`TaskTokenLayer`].
    fn task_token(
        self,
        callbacks: Arc<dyn TaskCallbacks>,
    ) -> ServiceBuilder<Stack<TaskTokenLayer, L>>;

    /// At most `limit`, and never past the deadline minus 500 ms:
    /// [`TimeoutLayer::deadline_aware`].
    fn deadline_timeout(self, limit: Duration) -> ServiceBuilder<Stack<TimeoutLayer, L>>;

    /// At most `limit`: [`TimeoutLayer::new`].
    fn fixed_timeout(self, limit: Duration) -> ServiceBuilder<Stack<TimeoutLayer, L>>;

    /// Retries with `policy`: [`RetryLayer`].
    fn retries(self, policy: RetryPolicy) -> ServiceBuilder<Stack<RetryLayer, L>>;

    /// Panics of the inner service become failures: [`CatchPanicLayer`].
    fn catch_panic(self) -> ServiceBuilder<Stack<CatchPanicLayer, L>>;
}

impl<L> ServiceBuilderExt<L> for ServiceBuilder<L> {
    fn traced(self) -> ServiceBuilder<Stack<TraceLayer, L>> {
        self.layer(TraceLayer::new())
    }

    fn alarm(
        self,
        alarms: AlarmService,
        source: impl Into<Arc<str>>,
    ) -> ServiceBuilder<Stack<AlarmLayer, L>> {
        self.layer(AlarmLayer::new(alarms, source))
    }

    fn dead_letter<E>(
        self,
        sink: Arc<dyn DeadLetterSink<E>>,
    ) -> ServiceBuilder<Stack<DeadLetterLayer<E>, L>> {
        self.layer(DeadLetterLayer::new(sink))
    }

    fn idempotent<E>(
        self,
        store: Arc<dyn IdempotencyStore>,
        key: impl Fn(&Envelope<E>) -> Option<String> + Send + Sync + 'static,
        options: IdempotencyOptions<E>,
    ) -> ServiceBuilder<Stack<IdempotencyLayer<E>, L>> {
        self.layer(IdempotencyLayer::with_options(store, key, options))
    }

    fn task_token(
        self,
        callbacks: Arc<dyn TaskCallbacks>,
    ) -> ServiceBuilder<Stack<TaskTokenLayer, L>> {
        self.layer(TaskTokenLayer::new(callbacks))
    }

    fn deadline_timeout(self, limit: Duration) -> ServiceBuilder<Stack<TimeoutLayer, L>> {
        self.layer(TimeoutLayer::deadline_aware(limit))
    }

    fn fixed_timeout(self, limit: Duration) -> ServiceBuilder<Stack<TimeoutLayer, L>> {
        self.layer(TimeoutLayer::new(limit))
    }

    fn retries(self, policy: RetryPolicy) -> ServiceBuilder<Stack<RetryLayer, L>> {
        self.layer(RetryLayer::new(policy))
    }

    fn catch_panic(self) -> ServiceBuilder<Stack<CatchPanicLayer, L>> {
        self.layer(CatchPanicLayer::new())
    }
}
