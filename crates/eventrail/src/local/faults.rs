//! Fault plans and call logs: what every local backend, every testkit fake
//! and a user's own fake of their own port record and fail with.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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

impl<T> Plan<T> {
    fn is_empty(&self) -> bool {
        self.next.is_empty() && self.rules.is_empty()
    }
}

struct PlanState<T> {
    /// Whether `plan` may fail a call: false once it is empty, so a call
    /// on a plan with nothing planned takes no lock. Written under the lock.
    armed: AtomicBool,
    plan: Mutex<Plan<T>>,
}

/// When a port fails: the next *n* calls ([`fail_next`](Self::fail_next)),
/// then every call whose request matches a predicate
/// ([`fail_when`](Self::fail_when)), in the order they were added, so a test
/// fails the same way on every run.
///
/// `T` is the port's request as data (a struct or an enum of its calls).
/// Clones share the plan: keep one to arrange faults, give another to the
/// fake. See the [module docs](super#a-fake-of-your-own-port) for a fake
/// written with it. A plan with nothing planned costs a call one atomic
/// load: no lock, no look at the request.
pub struct FaultPlan<T> {
    inner: Arc<PlanState<T>>,
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
            inner: Arc::new(PlanState {
                armed: AtomicBool::new(false),
                plan: Mutex::new(Plan {
                    next: VecDeque::new(),
                    rules: Vec::new(),
                }),
            }),
        }
    }
}

impl<T> fmt::Debug for FaultPlan<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plan = lock(&self.inner.plan);
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

    /// The plan, locked, with `armed` brought up to date when the guard
    /// is dropped.
    fn edit<R>(&self, f: impl FnOnce(&mut Plan<T>) -> R) -> R {
        let mut plan = lock(&self.inner.plan);
        let out = f(&mut plan);
        self.inner.armed.store(!plan.is_empty(), Ordering::Release);
        out
    }

    /// Fails the next `n` calls with `fault` (after any already queued).
    pub fn fail_next(&self, n: usize, fault: Fault) -> &Self {
        self.edit(|plan| plan.next.extend(std::iter::repeat_n(fault, n)));
        self
    }

    /// Fails every call whose request matches `pred` with `fault`.
    pub fn fail_when(
        &self,
        pred: impl Fn(&T) -> bool + Send + Sync + 'static,
        fault: Fault,
    ) -> &Self {
        self.edit(|plan| plan.rules.push((Arc::new(pred), fault)));
        self
    }

    /// Removes every queued fault and predicate.
    pub fn clear(&self) -> &Self {
        self.edit(|plan| {
            plan.next.clear();
            plan.rules.clear();
        });
        self
    }

    /// How many queued faults ([`fail_next`](Self::fail_next)) are left.
    pub fn queued(&self) -> usize {
        lock(&self.inner.plan).next.len()
    }

    /// Whether anything is planned: a queued fault or a predicate.
    pub fn is_empty(&self) -> bool {
        !self.inner.armed.load(Ordering::Acquire)
    }

    /// The error for a call with `request`, if the plan fails it; consumes
    /// a queued fault.
    pub fn check(&self, request: &T) -> Result<(), PortError> {
        if self.is_empty() {
            return Ok(());
        }
        self.edit(|plan| {
            if let Some(f) = plan.next.pop_front() {
                return Err(f.to_error());
            }
            match plan.rules.iter().find(|(p, _)| p(request)) {
                Some((_, f)) => Err(f.to_error()),
                None => Ok(()),
            }
        })
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

    /// [`run`](Self::run) for a fake whose work does not need the request
    /// as data: `request` is built only if the plan has something planned
    /// or `log` keeps calls. With neither (a backend
    /// [without history](super::LocalBackends::without_history) and no
    /// fault planned), a call costs `work` and a count.
    ///
    /// ```
    /// use eventrail::local::{CallLog, Fault, FaultPlan};
    ///
    /// let (plan, log) = (FaultPlan::<String>::new(), CallLog::discarding());
    /// let mut built = 0;
    /// let mut request = || { built += 1; "GET k".to_owned() };
    /// assert_eq!(plan.run_lazy(&log, &mut request, || Ok(1)).unwrap(), 1);
    /// plan.fail_next(1, Fault::throttled());
    /// assert!(plan.run_lazy(&log, &mut request, || Ok(2)).is_err());
    /// assert_eq!((built, log.len()), (1, 2));
    /// ```
    pub fn run_lazy<R>(
        &self,
        log: &CallLog<T>,
        request: impl FnOnce() -> T,
        work: impl FnOnce() -> Result<R, PortError>,
    ) -> Result<R, PortError> {
        if self.skips_request(log) {
            return log.count(work());
        }
        self.run(log, request(), |_| work())
    }

    /// Whether a call can skip building its request: nothing is planned and
    /// `log` keeps no call (then count the call with [`CallLog::count`]).
    pub(crate) fn skips_request(&self, log: &CallLog<T>) -> bool {
        self.is_empty() && !log.keeps_calls()
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
/// A [`discarding`](Self::discarding) log counts calls and keeps none (for
/// a process nobody inspects the calls of: a long-lived one would otherwise
/// keep every request it ever served).
pub struct CallLog<T> {
    inner: Arc<LogState<T>>,
}

struct LogState<T> {
    keep: bool,
    /// Calls counted by a discarding log.
    counted: AtomicUsize,
    calls: Mutex<Vec<Call<T>>>,
}

impl<T> LogState<T> {
    fn new(keep: bool) -> Self {
        Self {
            keep,
            counted: AtomicUsize::new(0),
            calls: Mutex::new(Vec::new()),
        }
    }
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
            inner: Arc::new(LogState::new(true)),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for CallLog<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.keeps_calls() {
            f.debug_tuple("CallLog")
                .field(&*lock(&self.inner.calls))
                .finish()
        } else {
            f.debug_struct("CallLog")
                .field("discarded", &self.len())
                .finish()
        }
    }
}

impl<T> CallLog<T> {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// A log that counts calls and keeps none: [`len`](Self::len) says
    /// how many there were, [`calls`](Self::calls) is always empty.
    pub fn discarding() -> Self {
        Self {
            inner: Arc::new(LogState::new(false)),
        }
    }

    /// Whether this log keeps the calls it records (see
    /// [`discarding`](Self::discarding)).
    pub fn keeps_calls(&self) -> bool {
        self.inner.keep
    }

    /// Appends a call with `request` and the outcome of `result` (a
    /// [discarding](Self::discarding) log only counts it); returns `result`
    /// unchanged.
    pub fn record<R>(&self, request: T, result: Result<R, PortError>) -> Result<R, PortError> {
        if !self.inner.keep {
            return self.count(result);
        }
        lock(&self.inner.calls).push(Call {
            request,
            error: result.as_ref().err().map(CallError::from),
        });
        result
    }

    /// Counts a call without keeping it.
    pub(crate) fn count<R>(&self, result: Result<R, PortError>) -> Result<R, PortError> {
        self.inner.counted.fetch_add(1, Ordering::Relaxed);
        result
    }

    /// How many calls were recorded (kept or, by a discarding log, counted).
    pub fn len(&self) -> usize {
        lock(&self.inner.calls).len() + self.inner.counted.load(Ordering::Relaxed)
    }

    /// Whether no call was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every call.
    pub fn clear(&self) {
        lock(&self.inner.calls).clear();
        self.inner.counted.store(0, Ordering::Relaxed);
    }
}

impl<T: Clone> CallLog<T> {
    /// Every call kept so far, in order (none for a
    /// [discarding](Self::discarding) log).
    pub fn calls(&self) -> Vec<Call<T>> {
        lock(&self.inner.calls).clone()
    }

    /// The requests of the calls that succeeded, in order.
    pub fn succeeded(&self) -> Vec<T> {
        lock(&self.inner.calls)
            .iter()
            .filter(|c| c.is_ok())
            .map(|c| c.request.clone())
            .collect()
    }
}

/// `fail_next`, `fail_when`, `clear_faults`, `calls` and `call_count` on a backend with
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

        /// Every call received so far, failed ones included, in order
        /// (none kept by a backend without history).
        pub fn calls(&self) -> Vec<$crate::local::Call<$req>> {
            self.calls.calls()
        }

        /// How many calls were received so far, failed ones included (also
        /// counted by a backend without history).
        pub fn call_count(&self) -> usize {
            self.calls.len()
        }
    };
}
pub(crate) use fault_methods;

/// A deterministic, UUID-shaped id: the `n`th id a backend hands out, with a
/// per-backend `tag` so ids of different backends never collide.
pub fn local_id(tag: u16, n: u64) -> String {
    // `format!("00000000-0000-4000-{tag:04x}-{n:012x}")`, without the
    // formatting machinery: one id per mail and message sent.
    let mut id = String::with_capacity(36);
    id.push_str("00000000-0000-4000-");
    push_hex(&mut id, u64::from(tag), 4);
    id.push('-');
    push_hex(&mut id, n, 12);
    id
}

/// Appends `v` in lower-case hex, zero-padded to at least `width` digits.
fn push_hex(out: &mut String, v: u64, width: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digits = (64 - v.leading_zeros() as usize).div_ceil(4).max(width);
    for i in (0..digits).rev() {
        // `digits` is at most 16: every shift is below 64.
        let nibble = (v >> (4 * i)) & 0xf;
        out.push(char::from(DIGITS[nibble as usize]));
    }
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
    fn local_ids_are_zero_padded_hex() {
        for (tag, n) in [
            (0, 0),
            (0x5e5, 1),
            (0x5105, 0xabc),
            (u16::MAX, 0xffff_ffff_ffff),
            (7, 0x1_0000_0000_0000),
            (1, u64::MAX),
        ] {
            assert_eq!(
                local_id(tag, n),
                format!("00000000-0000-4000-{tag:04x}-{n:012x}")
            );
        }
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
