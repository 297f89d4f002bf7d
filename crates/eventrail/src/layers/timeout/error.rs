use std::fmt;
use std::time::Duration;

use crate::error::{Classify, ErrorClass};

/// The handler did not finish within its time budget. Retryable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed {
    budget: Duration,
}

impl Elapsed {
    pub(crate) fn new(budget: Duration) -> Self {
        Self { budget }
    }

    /// The budget that ran out.
    pub fn budget(&self) -> Duration {
        self.budget
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the handler did not finish within its budget of {} ms",
            self.budget.as_millis()
        )
    }
}

impl std::error::Error for Elapsed {}

impl Classify for Elapsed {
    fn retry(&self) -> ErrorClass {
        ErrorClass::Retryable
    }
}
