//! Fault plans and call logs: what every local backend, every testkit fake
//! and a user's own fake of their own port record and fail with.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::error::ErrorClass;
use crate::ports::PortError;

/// Locks shared state; a panic in another thread does not poison it (every
/// write under these locks leaves the state whole).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An injected failure: the error a port returns instead of doing its work.
///
/// See the [module docs](super#a-fake-of-your-own-port) for an example.
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

    /// The [`PortError`] the port returns.
    pub fn to_error(&self) -> PortError {
        PortError::new(self.retry, self.message.clone()).with_code(self.code.clone())
    }
}

type Predicate<T> = Arc<dyn Fn(&T) -> bool + Send + Sync>;

struct Plan<T> {
    next: VecDeque<Fault>,
    rules: Vec<(Predicate<T>, Fault)>,
}

/// When a port fails: the next *n* calls ([`fail_next`](Self::fail_next)),
/// then every call whose request matches a predicate
/// ([`fail_when`](Self::fail_when)), in the order they were added, so a test
/// fails the same way on every run.
///
/// `T` is the port's request as data (a struct or an enum of its calls).
/// Clones share the plan: keep one to arrange faults, give another to the
/// fake. See the [module docs](super#a-fake-of-your-own-port) for a fake
/// written with it.
pub struct FaultPlan<T> {
    inner: Arc<Mutex<Plan<T>>>,
}

impl<T> Clone for FaultPlan<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> Default for FaultPlan<T> {
    fn default() -> Self {
        Self {
            inner: Arc::new(Mutex::new(Plan {
                next: VecDeque::new(),
                rules: Vec::new(),
            })),
        }
    }
}

impl<T> fmt::Debug for FaultPlan<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plan = lock(&self.inner);
        f.debug_struct("FaultPlan")
            .field("next", &plan.next)
            .field(
                "rules",
                &plan.rules.iter().map(|(_, f)| f).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl<T> FaultPlan<T> {
    /// A plan that fails nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fails the next `n` calls with `fault` (after any already queued).
    pub fn fail_next(&self, n: usize, fault: Fault) -> &Self {
        lock(&self.inner).next.extend(std::iter::repeat_n(fault, n));
        self
    }

    /// Fails every call whose request matches `pred` with `fault`.
    pub fn fail_when(
        &self,
        pred: impl Fn(&T) -> bool + Send + Sync + 'static,
        fault: Fault,
    ) -> &Self {
        lock(&self.inner).rules.push((Arc::new(pred), fault));
        self
    }

    /// Removes every queued fault and predicate.
    pub fn clear(&self) -> &Self {
        let mut plan = lock(&self.inner);
        plan.next.clear();
        plan.rules.clear();
        self
    }

    /// How many queued faults ([`fail_next`](Self::fail_next)) are left.
    pub fn queued(&self) -> usize {
        lock(&self.inner).next.len()
    }

    /// The error for a call with `request`, if the plan fails it; consumes
    /// a queued fault.
    pub fn check(&self, request: &T) -> Result<(), PortError> {
        let plan = &mut *lock(&self.inner);
        if let Some(f) = plan.next.pop_front() {
            return Err(f.to_error());
        }
        match plan.rules.iter().find(|(p, _)| p(request)) {
            Some((_, f)) => Err(f.to_error()),
            None => Ok(()),
        }
    }

    /// One call of a fake: [`check`](Self::check)s the plan, runs `work`
    /// unless the plan fails the call, records the call and its result in
    /// `log`, and returns the result.
    pub fn run<R>(
        &self,
        log: &CallLog<T>,
        request: T,
        work: impl FnOnce(&T) -> Result<R, PortError>,
    ) -> Result<R, PortError> {
        let result = self.check(&request).and_then(|()| work(&request));
        log.record(request, result)
    }
}

/// One call a port received, and whether it failed.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Call<T> {
    /// What was asked.
    pub request: T,
    /// Why it failed; `None` when it succeeded.
    pub error: Option<CallError>,
}

impl<T> Call<T> {
    /// A call that succeeded.
    pub fn ok(request: T) -> Self {
        Self {
            request,
            error: None,
        }
    }

    /// A call that failed with `error`.
    pub fn failed(request: T, error: &PortError) -> Self {
        Self {
            request,
            error: Some(CallError::from(error)),
        }
    }

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

/// Every call a port received, failed ones included, in order.
///
/// Clones share the log. See the [module docs](super#a-fake-of-your-own-port).
pub struct CallLog<T> {
    inner: Arc<Mutex<Vec<Call<T>>>>,
}

impl<T> Clone for CallLog<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> Default for CallLog<T> {
    fn default() -> Self {
        Self {
            inner: Arc::new(Mutex::new(Vec::new())),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for CallLog<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CallLog").field(&*lock(&self.inner)).finish()
    }
}

impl<T> CallLog<T> {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a call with `request` and the outcome of `result`; returns
    /// `result` unchanged.
    pub fn record<R>(&self, request: T, result: Result<R, PortError>) -> Result<R, PortError> {
        lock(&self.inner).push(Call {
            request,
            error: result.as_ref().err().map(CallError::from),
        });
        result
    }

    /// How many calls were recorded.
    pub fn len(&self) -> usize {
        lock(&self.inner).len()
    }

    /// Whether no call was recorded.
    pub fn is_empty(&self) -> bool {
        lock(&self.inner).is_empty()
    }

    /// Forgets every call.
    pub fn clear(&self) {
        lock(&self.inner).clear();
    }
}

impl<T: Clone> CallLog<T> {
    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call<T>> {
        lock(&self.inner).clone()
    }

    /// The requests of the calls that succeeded, in order.
    pub fn succeeded(&self) -> Vec<T> {
        lock(&self.inner)
            .iter()
            .filter(|c| c.is_ok())
            .map(|c| c.request.clone())
            .collect()
    }
}

/// `fail_next`, `fail_when`, `clear_faults` and `calls` on a backend with
/// `faults: FaultPlan<$req>` and `calls: CallLog<$req>` fields.
macro_rules! fault_methods {
    ($req:ty, $what:literal) => {
        /// Fails the next `n` calls with `fault`.
        pub fn fail_next(&self, n: usize, fault: $crate::local::Fault) -> &Self {
            self.faults.fail_next(n, fault);
            self
        }

        #[doc = concat!("Fails every call whose ", $what, " matches `pred` with `fault`.")]
        pub fn fail_when(
            &self,
            pred: impl Fn(&$req) -> bool + Send + Sync + 'static,
            fault: $crate::local::Fault,
        ) -> &Self {
            self.faults.fail_when(pred, fault);
            self
        }

        /// Removes every queued fault and predicate.
        pub fn clear_faults(&self) -> &Self {
            self.faults.clear();
            self
        }

        /// The fault plan (shared with this backend).
        pub fn faults(&self) -> &$crate::local::FaultPlan<$req> {
            &self.faults
        }

        /// Every call received so far, failed ones included, in order.
        pub fn calls(&self) -> Vec<$crate::local::Call<$req>> {
            self.calls.calls()
        }
    };
}
pub(crate) use fault_methods;

/// A deterministic, UUID-shaped id: the `n`th id a backend hands out, with a
/// per-backend `tag` so ids of different backends never collide.
pub fn local_id(tag: u16, n: u64) -> String {
    format!("00000000-0000-4000-{tag:04x}-{n:012x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_faults_come_first_then_predicates_in_order() {
        let plan = FaultPlan::<u32>::new();
        let log = CallLog::new();
        plan.fail_when(|n| *n > 10, Fault::permanent("TooBig"))
            .fail_when(|n| *n > 5, Fault::throttled())
            .fail_next(1, Fault::internal());
        let codes: Vec<Option<String>> = [1, 1, 7, 11]
            .into_iter()
            .map(|n| {
                plan.run(&log, n, |n| Ok(*n))
                    .err()
                    .and_then(|e| e.code().map(str::to_owned))
            })
            .collect();
        assert_eq!(
            codes,
            [
                Some("InternalError".to_owned()),
                None,
                Some("ThrottlingException".to_owned()),
                Some("TooBig".to_owned())
            ]
        );
        assert_eq!(log.len(), 4);
        assert_eq!(log.succeeded(), [1]);
        assert!(log.calls()[0].error.as_ref().unwrap().retryable);
        assert!(!log.calls()[3].error.as_ref().unwrap().retryable);
        assert_eq!(plan.queued(), 0);
        plan.clear();
        assert!(plan.check(&100).is_ok());
    }

    #[test]
    fn calls_can_be_built_outside_a_log() {
        let e = PortError::permanent("no").with_code("Nope");
        let c = Call::failed("req", &e);
        assert!(!c.is_ok());
        assert_eq!(c.error.unwrap().code.as_deref(), Some("Nope"));
        assert!(Call::ok(1).is_ok());
    }
}
