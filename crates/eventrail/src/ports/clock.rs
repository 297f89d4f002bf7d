//! The clock the layers read the time from.

use std::fmt;
use std::time::SystemTime;

/// Wall-clock time for records that outlive an invocation (idempotency expiry,
/// alarm timestamps). Tests substitute a clock that follows tokio's paused time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that starts at a given wall time and advances with tokio's clock,
/// so it follows `tokio::time::pause` and `advance` in tests.
#[derive(Clone, Copy, Debug)]
pub struct TokioClock {
    origin_wall: SystemTime,
    origin: tokio::time::Instant,
}

impl TokioClock {
    /// A clock reading `start` now.
    pub fn starting_at(start: SystemTime) -> Self {
        Self {
            origin_wall: start,
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> SystemTime {
        self.origin_wall + self.origin.elapsed()
    }
}
