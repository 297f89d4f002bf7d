//! Helpers shared by the layers: attempt tracking across layers, error
//! chains, text limits and timestamps.

use std::cell::RefCell;
use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use crate::envelope::Metadata;

thread_local! {
    /// Attempt counters of the layers whose futures are being polled on this
    /// thread, outermost first.
    static SCOPES: RefCell<Vec<Arc<Scope>>> = const { RefCell::new(Vec::new()) };
}

/// What the layers inside an outer layer report to it.
#[derive(Debug, Default)]
struct Scope {
    /// The highest attempt number a retry layer started.
    attempts: AtomicU32,
    /// An idempotency layer replayed a stored result instead of running the
    /// handler.
    replayed: AtomicBool,
}

/// Tells every enclosing [`Tracked`] future that attempt `attempt` started.
///
/// The retry layer calls it while it is being polled; the polling is nested,
/// so the scopes on this thread are exactly the layers around it.
pub(crate) fn record_attempt(attempt: u32) {
    SCOPES.with(|s| {
        for c in s.borrow().iter() {
            c.attempts.fetch_max(attempt, Ordering::Relaxed);
        }
    });
}

/// Tells every enclosing [`Tracked`] future that the result is a replay of a
/// stored one (the handler did not run).
pub(crate) fn record_replay() {
    SCOPES.with(|s| {
        for c in s.borrow().iter() {
            c.replayed.store(true, Ordering::Relaxed);
        }
    });
}

/// How many attempts the layers inside an outer layer made, and whether the
/// result was replayed.
#[derive(Clone, Debug, Default)]
pub(crate) struct AttemptCounter(Arc<Scope>);

impl AttemptCounter {
    /// The highest attempt number seen, or the envelope's own when no retry
    /// layer ran inside.
    pub(crate) fn attempts(&self, meta: &Metadata) -> u32 {
        self.get().max(meta.attempt())
    }

    /// The highest attempt number a retry layer inside reported (0 for none).
    pub(crate) fn get(&self) -> u32 {
        self.0.attempts.load(Ordering::Relaxed)
    }

    /// Whether an idempotency layer inside replayed a stored result.
    pub(crate) fn replayed(&self) -> bool {
        self.0.replayed.load(Ordering::Relaxed)
    }
}

pin_project_lite::pin_project! {
    /// Runs `inner` with `counter` registered, so a retry layer inside can
    /// report its attempts to the layer that created this future.
    #[derive(Debug)]
    pub(crate) struct Tracked<F> {
        #[pin]
        inner: F,
        counter: AttemptCounter,
    }
}

impl<F> Tracked<F> {
    pub(crate) fn new(inner: F, counter: AttemptCounter) -> Self {
        Self { inner, counter }
    }
}

struct PopScope;

impl Drop for PopScope {
    fn drop(&mut self) {
        let _ = SCOPES.try_with(|s| s.borrow_mut().pop());
    }
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        SCOPES.with(|s| s.borrow_mut().push(Arc::clone(&this.counter.0)));
        let _pop = PopScope;
        this.inner.poll(cx)
    }
}

/// The messages of `err` and its sources, outermost first. Consecutive
/// duplicates (wrappers that display their source) are kept once.
pub(crate) fn error_chain(err: &(dyn StdError + 'static)) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = Some(err);
    while let Some(e) = cur {
        let msg = e.to_string();
        if out.last() != Some(&msg) {
            out.push(msg);
        }
        cur = e.source();
    }
    out
}

/// `s` cut to at most `max` characters; when cut, the last characters are
/// replaced by `...` so the reader sees it was cut.
pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let keep = max.saturating_sub(3);
    let mut out: String = s.chars().take(keep).collect();
    out.push_str(&"..."[..max.min(3)]);
    out
}

/// `t` as an RFC 3339 UTC timestamp with milliseconds,
/// e.g. `2026-11-28T14:05:09.123Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Defines a boxed response future type for a layer whose work is an
/// `async` block.
macro_rules! boxed_response_future {
    ($(#[$doc:meta])*) => {
        $(#[$doc])*
        pub struct ResponseFuture<T> {
            inner: std::pin::Pin<
                Box<
                    dyn std::future::Future<Output = Result<T, crate::error::BoxError>>
                        + Send
                        + 'static,
                >,
            >,
        }

        impl<T> ResponseFuture<T> {
            pub(crate) fn new(
                f: impl std::future::Future<Output = Result<T, crate::error::BoxError>>
                    + Send
                    + 'static,
            ) -> Self {
                Self { inner: Box::pin(f) }
            }
        }

        impl<T> std::future::Future for ResponseFuture<T> {
            type Output = Result<T, crate::error::BoxError>;

            fn poll(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Self::Output> {
                self.inner.as_mut().poll(cx)
            }
        }

        impl<T> std::fmt::Debug for ResponseFuture<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("ResponseFuture").finish_non_exhaustive()
            }
        }
    };
}
pub(crate) use boxed_response_future;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[tokio::test]
    async fn nested_scopes_all_hear_reports_and_siblings_do_not() {
        let outer = AttemptCounter::default();
        let inner = AttemptCounter::default();
        let sibling = AttemptCounter::default();
        let work = Tracked::new(
            Tracked::new(
                async {
                    record_attempt(3);
                    record_attempt(2);
                    tokio::task::yield_now().await;
                    record_replay();
                },
                inner.clone(),
            ),
            outer.clone(),
        );
        let other = Tracked::new(async { tokio::task::yield_now().await }, sibling.clone());
        tokio::join!(work, other);
        assert_eq!((outer.get(), inner.get(), sibling.get()), (3, 3, 0));
        assert!(outer.replayed() && inner.replayed() && !sibling.replayed());
        // Outside any poll, reports go nowhere.
        record_attempt(9);
        assert_eq!(outer.get(), 3);
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_874_709_123);
        assert_eq!(rfc3339(t), "2026-11-28T14:05:09.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn truncation_marks_the_cut() {
        assert_eq!(truncate_chars("abcdef", 6), "abcdef");
        assert_eq!(truncate_chars("abcdefg", 6), "abc...");
        assert_eq!(truncate_chars("ééééé", 4), "é...");
    }
}
