//! In-memory fakes of the eventrail ports.
//!
//! | fake | port | what it keeps |
//! |---|---|---|
//! | [`FakeSns`] | [`Notifier`](eventrail::ports::Notifier) | every published message, per topic |
//! | [`FakeSes`] | [`Mailer`](eventrail::ports::Mailer) | an outbox, templates rendered |
//! | [`FakeS3`] | [`ObjectStore`](eventrail::ports::ObjectStore) | buckets and objects; the S3 event of every put |
//! | [`FakeSfn`] | [`TaskCallbacks`](eventrail::ports::TaskCallbacks) | task tokens and their final state |
//! | [`FakeIdempotencyStore`] | [`IdempotencyStore`](eventrail::ports::IdempotencyStore) | records, expiring on the caller's clock |
//!
//! Every fake is `Clone` (clones share state, so keep one for assertions and
//! hand another to the code under test), records every call it receives in
//! [`calls`](FakeSns::calls), and fails on demand: the next *n* calls
//! ([`fail_next`](FakeSns::fail_next)) or every call matching a predicate
//! ([`fail_when`](FakeSns::fail_when)), with a retryable or permanent
//! [`Fault`]. Faults are applied in a fixed order (queued ones first, then
//! predicates in the order they were added), so a test fails the same way on
//! every run.
//!
//! ```
//! use std::sync::Arc;
//! use eventrail::ports::{Notifier, SnsMessage};
//! use eventrail_testkit::fakes::{FakeSns, Fault};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let sns = FakeSns::new();
//! sns.fail_next(1, Fault::throttled());
//! let port: Arc<dyn Notifier> = Arc::new(sns.clone());
//!
//! let err = port.publish(SnsMessage::new("arn:aws:sns:us-east-1:1:alarms", "a")).await.unwrap_err();
//! assert!(err.is_retryable());
//! port.publish(SnsMessage::new("arn:aws:sns:us-east-1:1:alarms", "b")).await.unwrap();
//!
//! assert_eq!(sns.calls().len(), 2);
//! assert_eq!(sns.published_to("arn:aws:sns:us-east-1:1:alarms")[0].message, "b");
//! # }
//! ```

mod idempotency;
mod s3;
mod ses;
mod sfn;
mod sns;

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use eventrail::error::ErrorClass;
use eventrail::ports::PortError;

pub use idempotency::{FakeIdempotencyStore, IdempotencyCall};
pub use s3::{FakeS3, S3Request, StoredObject};
pub use ses::{FakeSes, SentMail, Template};
pub use sfn::{FakeSfn, SfnCall, TaskOptions, TaskState};
pub use sns::FakeSns;

/// An injected failure: the error a fake returns instead of doing its work.
///
/// See the [module docs](self) for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    retry: ErrorClass,
    code: String,
    message: String,
}

impl Fault {
    /// A failure a retry may fix, with the service error code `code`.
    pub fn retryable(code: impl Into<String>) -> Self {
        Self::new(ErrorClass::Retryable, code)
    }

    /// A failure a retry cannot fix, with the service error code `code`.
    pub fn permanent(code: impl Into<String>) -> Self {
        Self::new(ErrorClass::Permanent, code)
    }

    /// Throttling (`ThrottlingException`, retryable), the most common
    /// transient AWS failure.
    pub fn throttled() -> Self {
        Self::retryable("ThrottlingException").with_message("Rate exceeded")
    }

    /// A server-side failure (`InternalError`, retryable).
    pub fn internal() -> Self {
        Self::retryable("InternalError").with_message("We encountered an internal error")
    }

    /// Access denied (`AccessDeniedException`, permanent).
    pub fn access_denied() -> Self {
        Self::permanent("AccessDeniedException").with_message("not authorized")
    }

    fn new(retry: ErrorClass, code: impl Into<String>) -> Self {
        let code = code.into();
        Self {
            retry,
            message: format!("injected fault: {code}"),
            code,
        }
    }

    /// Replaces the error message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// Whether a retry can help.
    pub fn is_retryable(&self) -> bool {
        self.retry.is_retryable()
    }

    /// The service error code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The [`PortError`] the fake returns.
    pub fn to_error(&self) -> PortError {
        PortError::new(self.retry, self.message.clone()).with_code(self.code.clone())
    }
}

/// One call a fake received, and whether it failed.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Call<T> {
    /// What was asked.
    pub request: T,
    /// Why it failed; `None` when it succeeded.
    pub error: Option<CallError>,
}

impl<T> Call<T> {
    /// Whether the call succeeded.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// The error a recorded call returned, as data (a [`PortError`] is not `Clone`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallError {
    /// The service error code, such as `NoSuchKey`.
    pub code: Option<String>,
    /// Whether a retry can help.
    pub retryable: bool,
    /// The message.
    pub message: String,
}

impl From<&PortError> for CallError {
    fn from(e: &PortError) -> Self {
        Self {
            code: e.code().map(str::to_owned),
            retryable: e.is_retryable(),
            message: e.message().to_owned(),
        }
    }
}

type Predicate<T> = Arc<dyn Fn(&T) -> bool + Send + Sync>;

/// The fault plan of one fake: queued faults, then predicates.
pub(crate) struct Faults<T> {
    next: VecDeque<Fault>,
    rules: Vec<(Predicate<T>, Fault)>,
}

impl<T> Default for Faults<T> {
    fn default() -> Self {
        Self {
            next: VecDeque::new(),
            rules: Vec::new(),
        }
    }
}

impl<T> fmt::Debug for Faults<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Faults")
            .field("next", &self.next)
            .field(
                "rules",
                &self.rules.iter().map(|(_, f)| f).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl<T> Faults<T> {
    pub(crate) fn fail_next(&mut self, n: usize, fault: Fault) {
        self.next.extend(std::iter::repeat_n(fault, n));
    }

    pub(crate) fn fail_when(&mut self, pred: Predicate<T>, fault: Fault) {
        self.rules.push((pred, fault));
    }

    pub(crate) fn clear(&mut self) {
        self.next.clear();
        self.rules.clear();
    }

    /// The fault for this call, if any; consumes a queued one.
    pub(crate) fn check(&mut self, req: &T) -> Option<PortError> {
        if let Some(f) = self.next.pop_front() {
            return Some(f.to_error());
        }
        self.rules
            .iter()
            .find(|(p, _)| p(req))
            .map(|(_, f)| f.to_error())
    }
}

/// Locks a fake's state; a panic in another test thread does not poison it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Appends a call to a log, returning the result unchanged.
pub(crate) fn record<T, R>(
    calls: &mut Vec<Call<T>>,
    request: T,
    result: Result<R, PortError>,
) -> Result<R, PortError> {
    calls.push(Call {
        request,
        error: result.as_ref().err().map(CallError::from),
    });
    result
}

/// A deterministic, UUID-shaped id: the `n`th id a fake hands out, with a
/// per-fake `tag` so ids of different fakes never collide.
pub(crate) fn fake_id(tag: u16, n: u64) -> String {
    format!("00000000-0000-4000-{tag:04x}-{n:012x}")
}

macro_rules! fault_methods {
    ($req:ty, $what:literal) => {
        /// Fails the next `n` calls with `fault`.
        pub fn fail_next(&self, n: usize, fault: $crate::fakes::Fault) -> &Self {
            $crate::fakes::lock(&self.inner).faults.fail_next(n, fault);
            self
        }

        #[doc = concat!("Fails every call whose ", $what, " matches `pred` with `fault`.")]
        pub fn fail_when(
            &self,
            pred: impl Fn(&$req) -> bool + Send + Sync + 'static,
            fault: $crate::fakes::Fault,
        ) -> &Self {
            $crate::fakes::lock(&self.inner)
                .faults
                .fail_when(std::sync::Arc::new(pred), fault);
            self
        }

        /// Removes every queued fault and predicate.
        pub fn clear_faults(&self) -> &Self {
            $crate::fakes::lock(&self.inner).faults.clear();
            self
        }

        /// Every call received so far, failed ones included, in order.
        pub fn calls(&self) -> Vec<$crate::fakes::Call<$req>> {
            $crate::fakes::lock(&self.inner).calls.clone()
        }
    };
}
pub(crate) use fault_methods;
