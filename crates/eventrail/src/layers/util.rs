//! Helpers shared by the layers: error chains, text limits and timestamps.
//! (What inner layers report to outer ones travels in the envelope's
//! metadata: see `envelope::Stats`.)

use std::error::Error as StdError;
use std::time::SystemTime;

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
