use std::time::Duration;

/// How the backoff between attempts is randomised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Jitter {
    /// Wait exactly the computed backoff.
    #[default]
    None,
    /// Wait a uniform random duration between zero and the computed backoff
    /// ("full jitter"): spreads out the retries of many failing records.
    Full,
}

/// When and how often [`Retry`](super::Retry) tries again.
///
/// Defaults: 3 attempts, 1 s initial backoff, ×2 per attempt, at most 30 s,
/// no jitter. So a record failing three times waits 1 s, then 2 s.
///
/// Each setting is set with `with_*` and read back under its own name:
/// `RetryPolicy::new().with_max_attempts(5).max_attempts() == 5`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    multiplier: f64,
    max_backoff: Duration,
    jitter: Jitter,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_secs(1),
            multiplier: 2.0,
            max_backoff: Duration::from_secs(30),
            jitter: Jitter::None,
        }
    }
}

impl RetryPolicy {
    /// The default policy (see the type's docs).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how many times the handler runs at most, the first call
    /// included (at least 1; 1 means no retry). Read back with
    /// [`max_attempts`](Self::max_attempts).
    pub fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Sets the wait before the second attempt. Read back with
    /// [`initial_backoff`](Self::initial_backoff).
    pub fn with_initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// Sets the factor applied to the wait after each attempt (at least 1; a
    /// value that is not a finite number counts as 1). Read back with
    /// [`multiplier`](Self::multiplier).
    pub fn with_multiplier(mut self, m: f64) -> Self {
        self.multiplier = if m.is_finite() { m.max(1.0) } else { 1.0 };
        self
    }

    /// Sets the longest wait between two attempts. Read back with
    /// [`max_backoff`](Self::max_backoff).
    pub fn with_max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// Sets the jitter. Read back with [`jitter`](Self::jitter).
    pub fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// How many times the handler runs at most, the first call included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The wait before the second attempt.
    pub fn initial_backoff(&self) -> Duration {
        self.initial_backoff
    }

    /// The factor applied to the wait after each attempt.
    pub fn multiplier(&self) -> f64 {
        self.multiplier
    }

    /// The longest wait between two attempts.
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// The jitter.
    pub fn jitter(&self) -> Jitter {
        self.jitter
    }

    /// The wait after attempt `attempt` (1-based) failed, before jitter.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let secs = self.initial_backoff.as_secs_f64() * self.multiplier.powi(exp);
        let max = self.max_backoff.as_secs_f64();
        if !secs.is_finite() || secs >= max {
            self.max_backoff
        } else {
            Duration::from_secs_f64(secs)
        }
    }

    /// The wait after attempt `attempt` failed, jitter applied.
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let base = self.backoff(attempt);
        match self.jitter {
            Jitter::None => base,
            Jitter::Full => {
                let nanos = u64::try_from(base.as_nanos()).unwrap_or(u64::MAX);
                Duration::from_nanos(fastrand::u64(0..=nanos))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_and_capped() {
        let p = RetryPolicy::default()
            .with_max_attempts(10)
            .with_max_backoff(Duration::from_secs(5));
        let waits: Vec<_> = (1..=5).map(|n| p.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(5));
    }

    #[test]
    fn full_jitter_stays_within_the_backoff() {
        let p = RetryPolicy::default().with_jitter(Jitter::Full);
        for _ in 0..200 {
            assert!(p.delay(3) <= Duration::from_secs(4));
        }
    }

    #[test]
    fn settings_are_clamped() {
        let p = RetryPolicy::new()
            .with_max_attempts(0)
            .with_multiplier(f64::NAN);
        assert_eq!(p.max_attempts(), 1);
        assert_eq!(p.backoff(4), Duration::from_secs(1));
    }
}
