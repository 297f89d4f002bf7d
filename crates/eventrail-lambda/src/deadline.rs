//! The invocation deadline Lambda sends, as an [`Instant`].
//!
//! The Runtime API gives each invocation a deadline in
//! `Lambda-Runtime-Deadline-Ms`, milliseconds since the Unix epoch
//! (`lambda_runtime::Context::deadline`). [`from_epoch_ms`] turns it into the
//! [`Invocation`](eventrail::app::Invocation)'s deadline, with the same
//! meaning as everywhere else in eventrail:
//!
//! - a deadline ahead, at most [`MAX_PLAUSIBLE_DEADLINE`] (16 minutes) away,
//!   is kept;
//! - a deadline already past, by at most as much, means **no time left**: no
//!   record starts (they are reported failed for redelivery), as with the
//!   local `invoke --deadline-ms 0`;
//! - a deadline that cannot be real, more than 16 minutes away either way
//!   (Lambda runs a function for at most 15), is ignored with a warning: the
//!   invocation has no deadline.
//!
//! What the local emulators send, and so what they get:
//!
//! | sender | `Lambda-Runtime-Deadline-Ms` | read as |
//! |---|---|---|
//! | Lambda | now + the function's timeout | kept |
//! | AWS's Runtime Interface Emulator (`aws-lambda-rie`) | now + `AWS_LAMBDA_FUNCTION_TIMEOUT` (default 300 s) | kept (ignored if that timeout is over 16 minutes) |
//! | `cargo lambda watch` | always `600000`, 10 minutes after the epoch (1970) | ignored: no deadline |
//! | older `sam local` images | decades ahead | ignored: no deadline |
//! | `lambda_runtime::Context::default()` | `0` (1970) | ignored: no deadline |
//!
//! ```
//! use std::time::{SystemTime, UNIX_EPOCH};
//! use eventrail_lambda::deadline::from_epoch_ms;
//!
//! let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
//! assert!(from_epoch_ms(now_ms + 60_000).is_some(), "a minute left");
//! let spent = from_epoch_ms(now_ms - 1_000).expect("a past deadline is kept");
//! assert!(spent <= tokio::time::Instant::now(), "and has no time left");
//! assert!(from_epoch_ms(600_000).is_none(), "cargo lambda watch: no deadline");
//! assert!(from_epoch_ms(0).is_none());
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use eventrail::app::MAX_PLAUSIBLE_DEADLINE;
use tokio::time::Instant;

/// Reads a `Lambda-Runtime-Deadline-Ms` value (milliseconds since the Unix
/// epoch) as a deadline on tokio's clock. See the [module docs](self).
pub fn from_epoch_ms(epoch_ms: u64) -> Option<Instant> {
    at(epoch_ms, SystemTime::now(), Instant::now())
}

/// [`from_epoch_ms`] with the wall clock reading `wall` at the instant `now`.
fn at(epoch_ms: u64, wall: SystemTime, now: Instant) -> Option<Instant> {
    let deadline = Duration::from_millis(epoch_ms);
    let since_epoch = wall.duration_since(UNIX_EPOCH).unwrap_or_default();
    let max_s = MAX_PLAUSIBLE_DEADLINE.as_secs();
    if let Some(left) = deadline.checked_sub(since_epoch) {
        if left <= MAX_PLAUSIBLE_DEADLINE {
            return Some(now + left);
        }
        tracing::warn!(
            deadline_ms = epoch_ms,
            left_ms = left.as_millis() as u64,
            "ignoring an invocation deadline more than {max_s} s away: not a real one"
        );
        return None;
    }
    let ago = since_epoch - deadline;
    if ago <= MAX_PLAUSIBLE_DEADLINE {
        tracing::warn!(
            deadline_ms = epoch_ms,
            past_ms = ago.as_millis() as u64,
            "the invocation deadline is already past: no record starts"
        );
        return Some(now);
    }
    tracing::warn!(
        deadline_ms = epoch_ms,
        "ignoring an invocation deadline more than {max_s} s in the past: not a real one"
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-28T14:05:09.123Z.
    const NOW_MS: u64 = 1_795_874_709_123;

    fn read(epoch_ms: u64) -> (Option<Instant>, Instant) {
        let wall = UNIX_EPOCH + Duration::from_millis(NOW_MS);
        let now = Instant::now();
        (at(epoch_ms, wall, now), now)
    }

    #[test]
    fn a_plausible_deadline_is_kept() {
        let (d, now) = read(NOW_MS + 60_000);
        assert_eq!(d, Some(now + Duration::from_secs(60)));
        let (d, now) = read(NOW_MS + MAX_PLAUSIBLE_DEADLINE.as_millis() as u64);
        assert_eq!(
            d,
            Some(now + MAX_PLAUSIBLE_DEADLINE),
            "16 minutes is still real"
        );
        let (d, now) = read(NOW_MS);
        assert_eq!(d, Some(now), "reached now: no time left");
    }

    #[test]
    fn a_past_deadline_has_no_time_left() {
        let (d, now) = read(NOW_MS - 1);
        assert_eq!(d, Some(now));
        let (d, now) = read(NOW_MS - 15 * 60_000);
        assert_eq!(d, Some(now));
    }

    #[test]
    fn a_deadline_far_in_the_future_is_ignored() {
        assert_eq!(read(NOW_MS + 17 * 60_000).0, None);
        assert_eq!(
            read(NOW_MS + 50 * 365 * 86_400_000).0,
            None,
            "old sam local"
        );
        assert_eq!(read(u64::MAX).0, None);
    }

    #[test]
    fn a_deadline_far_in_the_past_is_ignored() {
        assert_eq!(read(0).0, None, "lambda_runtime's default context");
        assert_eq!(read(600_000).0, None, "cargo lambda watch");
        assert_eq!(read(NOW_MS - 17 * 60_000).0, None);
    }
}
