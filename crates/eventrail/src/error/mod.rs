//! The error model: every failure says whether a retry can help.
//!
//! Errors cross `tower::Service` boundaries as a [`BoxError`]. Whether a retry
//! can help is read from the error itself with [`is_retryable`], which walks the
//! error's `source()` chain and asks every error type eventrail knows about:
//!
//! - [`HandlerError`]: what handlers return to say it explicitly;
//! - [`RecordError`]: bad input, no route, no handler — permanent; and a
//!   record its factory returned no output for — retryable;
//! - [`PortError`]: failures of SNS, SES, S3, Step Functions and idempotency
//!   stores, classified by the port;
//! - [`HandlerPanic`]: a handler that panicked — permanent, a panic is a bug;
//! - the errors of the bus, the app and the middleware layers (a timeout is
//!   retryable, an idempotency payload mismatch is not, ...): each of those
//!   components [`register`]s its error type when it is built, so this
//!   module, at the bottom of the crate, knows none of them.
//!
//! An error no one classified is treated as **retryable**, as AWS itself does
//! with a failed invocation. Return [`HandlerError::permanent`] for failures a
//! retry cannot fix.
//!
//! ```
//! use eventrail::error::{is_retryable, BoxError, HandlerError};
//!
//! let bad: BoxError = HandlerError::permanent("order id missing").into();
//! assert!(!is_retryable(&*bad));
//!
//! let flaky: BoxError = HandlerError::retryable("inventory service busy").into();
//! assert!(is_retryable(&*flaky));
//!
//! let unknown: BoxError = "connection reset".into();
//! assert!(is_retryable(&*unknown));
//! ```

use std::error::Error as StdError;
use std::fmt;

mod panic;
mod port;

pub use self::panic::HandlerPanic;
pub use self::port::PortError;

/// A type-erased error, as used across `tower::Service` boundaries.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The class of an error: whether a retry can help. (Not to be confused
/// with the retry layer's service, [`layers::retry::Retry`](crate::layers::retry::Retry).)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// A later attempt may succeed (throttling, timeouts, a busy dependency).
    Retryable,
    /// A later attempt fails the same way (bad input, unknown type, a bug).
    Permanent,
}

impl ErrorClass {
    /// `true` for [`ErrorClass::Retryable`].
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorClass::Retryable)
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorClass::Retryable => "retryable",
            ErrorClass::Permanent => "permanent",
        })
    }
}

/// Implemented by error types that know whether a retry can help.
///
/// [`is_retryable`] consults it for every error type eventrail defines. Your
/// own error types that implement it are honoured in two ways:
///
/// - converted into a [`HandlerError`] (`?` in a handler that returns
///   `Result<_, HandlerError>`, or `HandlerError::from(e)`), which keeps
///   their classification;
/// - returned as they are (a service whose `Error` is your type), once the
///   type is [`register`]ed.
///
/// ```
/// use eventrail::error::{is_retryable, register, BoxError, Classify, HandlerError, ErrorClass};
///
/// #[derive(Debug)]
/// struct InvalidOrder;
/// impl std::fmt::Display for InvalidOrder {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("the order has no lines")
///     }
/// }
/// impl std::error::Error for InvalidOrder {}
/// impl Classify for InvalidOrder {
///     fn retry(&self) -> ErrorClass { ErrorClass::Permanent }
/// }
///
/// // Through a HandlerError, the classification is kept.
/// let wrapped: BoxError = HandlerError::from(InvalidOrder).into();
/// assert!(!is_retryable(&*wrapped));
/// // Boxed as it is, the type is honoured once registered.
/// register::<InvalidOrder>();
/// let bare: BoxError = Box::new(InvalidOrder);
/// assert!(!is_retryable(&*bare));
/// ```
pub trait Classify {
    /// Whether a retry can help with this error.
    fn retry(&self) -> ErrorClass;
}

/// Decides whether a retry can help with `err`.
///
/// Walks the `source()` chain and returns the classification of the first error
/// that carries one (outermost wins, so a layer can reclassify what it wraps).
/// Unclassified errors are retryable.
pub fn classify(err: &(dyn StdError + 'static)) -> ErrorClass {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(r) = classify_one(e) {
            return r;
        }
        cur = e.source();
    }
    ErrorClass::Retryable
}

/// Shorthand for `classify(err).is_retryable()`.
pub fn is_retryable(err: &(dyn StdError + 'static)) -> bool {
    classify(err).is_retryable()
}

type Classifier = fn(&(dyn StdError + 'static)) -> Option<ErrorClass>;

/// The error types [`register`]ed by applications.
static REGISTERED: std::sync::RwLock<Vec<(std::any::TypeId, Classifier)>> =
    std::sync::RwLock::new(Vec::new());

fn classify_as<E: Classify + StdError + 'static>(
    e: &(dyn StdError + 'static),
) -> Option<ErrorClass> {
    e.downcast_ref::<E>().map(Classify::retry)
}

/// Makes [`classify`] honour `E`'s own [`Classify`] wherever an `E` appears
/// in an error chain, also when it was boxed as it is (a `tower::Service`
/// whose `Error` is `E`). Registering a type twice is harmless. See
/// [`Classify`] for an example.
pub fn register<E: Classify + StdError + 'static>() {
    let id = std::any::TypeId::of::<E>();
    let known = |r: &[(std::any::TypeId, Classifier)]| r.iter().any(|(t, _)| *t == id);
    // Components register their error types each time they are built: the
    // common case is a read.
    if known(&REGISTERED.read().unwrap_or_else(|e| e.into_inner())) {
        return;
    }
    let mut registered = REGISTERED.write().unwrap_or_else(|e| e.into_inner());
    if !known(&registered) {
        registered.push((id, classify_as::<E>));
    }
}

/// The known error types, outermost first.
fn classify_one(e: &(dyn StdError + 'static)) -> Option<ErrorClass> {
    if let Some(h) = e.downcast_ref::<HandlerError>() {
        return Some(h.retry);
    }
    macro_rules! known {
        ($($ty:ty),* $(,)?) => {
            $(if let Some(k) = e.downcast_ref::<$ty>() {
                return Some(Classify::retry(k));
            })*
        };
    }
    known!(RecordError, PortError, HandlerPanic);
    let registered = REGISTERED.read().unwrap_or_else(|e| e.into_inner());
    registered.iter().find_map(|(_, f)| f(e))
}

/// The error a handler returns to say whether a retry can help.
///
/// Any error converts into a [`BoxError`]; wrap it in `HandlerError` to classify
/// it. An error type that implements [`Classify`] converts with `From` (so `?`
/// works) and keeps its classification. The wrapped error itself is
/// [`source()`](StdError::source), so sinks and alarms can downcast to it.
pub struct HandlerError {
    retry: ErrorClass,
    inner: BoxError,
}

impl HandlerError {
    /// A failure a retry may fix.
    pub fn retryable(err: impl Into<BoxError>) -> Self {
        Self {
            retry: ErrorClass::Retryable,
            inner: err.into(),
        }
    }

    /// A failure a retry cannot fix; it is never retried.
    pub fn permanent(err: impl Into<BoxError>) -> Self {
        Self {
            retry: ErrorClass::Permanent,
            inner: err.into(),
        }
    }

    /// Whether a retry can help.
    pub fn is_retryable(&self) -> bool {
        self.retry.is_retryable()
    }

    /// Whether a retry can help, as a [`ErrorClass`].
    pub fn retry(&self) -> ErrorClass {
        self.retry
    }

    /// The wrapped error.
    pub fn get_ref(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.inner
    }

    /// The wrapped error.
    pub fn into_inner(self) -> BoxError {
        self.inner
    }
}

/// An error that knows whether a retry can help keeps its classification, so
/// handlers can use `?` on port calls
/// ([`PortError`]) and on their own classified errors.
impl<E: Classify + StdError + Send + Sync + 'static> From<E> for HandlerError {
    fn from(e: E) -> Self {
        Self {
            retry: e.retry(),
            inner: Box::new(e),
        }
    }
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerError")
            .field("retry", &self.retry)
            .field("inner", &self.inner)
            .finish()
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl StdError for HandlerError {
    /// The wrapped error itself (its own sources follow in the chain).
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.inner)
    }
}

/// Why a record could not be turned into events or dispatched.
///
/// Permanent, except [`NoOutput`](RecordErrorKind::NoOutput): see
/// [`RecordError::kind`] for the conditions.
#[derive(Debug)]
pub struct RecordError {
    kind: RecordErrorKind,
    message: String,
    source: Option<BoxError>,
}

/// The condition behind a [`RecordError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordErrorKind {
    /// The record's payload could not be read: malformed JSON, a body that does
    /// not deserialize into the event type, an S3 key that does not decode.
    BadInput,
    /// No route matched the record.
    NoRoute,
    /// The record became an event whose type has no handler on the bus.
    NoHandler,
    /// The factory did not return exactly one output for the record (none, or
    /// several with its id), so the record was not run. Retryable: the source
    /// delivers it again. See [`App::transform`](crate::App::transform).
    NoOutput,
}

impl RecordError {
    /// The record's payload could not be read.
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self {
            kind: RecordErrorKind::BadInput,
            message: message.into(),
            source: None,
        }
    }

    /// No route matched the record.
    pub fn no_route(message: impl Into<String>) -> Self {
        Self {
            kind: RecordErrorKind::NoRoute,
            message: message.into(),
            source: None,
        }
    }

    /// The event type has no handler.
    pub fn no_handler(event_type: &str) -> Self {
        Self {
            kind: RecordErrorKind::NoHandler,
            message: format!("no handler is registered for event type `{event_type}`"),
            source: None,
        }
    }

    /// The factory did not return exactly one output for the record.
    pub fn no_output(message: impl Into<String>) -> Self {
        Self {
            kind: RecordErrorKind::NoOutput,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The condition.
    pub fn kind(&self) -> RecordErrorKind {
        self.kind
    }

    /// `true` when the payload could not be read.
    pub fn is_bad_input(&self) -> bool {
        self.kind == RecordErrorKind::BadInput
    }

    /// `true` when no route matched.
    pub fn is_no_route(&self) -> bool {
        self.kind == RecordErrorKind::NoRoute
    }

    /// `true` when the event type has no handler.
    pub fn is_no_handler(&self) -> bool {
        self.kind == RecordErrorKind::NoHandler
    }

    /// `true` when the factory returned no output (or several) for the record.
    pub fn is_no_output(&self) -> bool {
        self.kind == RecordErrorKind::NoOutput
    }
}

impl Classify for RecordError {
    fn retry(&self) -> ErrorClass {
        match self.kind {
            RecordErrorKind::NoOutput => ErrorClass::Retryable,
            RecordErrorKind::BadInput | RecordErrorKind::NoRoute | RecordErrorKind::NoHandler => {
                ErrorClass::Permanent
            }
        }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(src) => write!(f, "{}: {}", self.message, src),
            None => f.write_str(&self.message),
        }
    }
}

impl StdError for RecordError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapper(BoxError);
    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("wrapper")
        }
    }
    impl StdError for Wrapper {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&*self.0)
        }
    }

    #[test]
    fn classification_walks_the_source_chain() {
        let inner: BoxError = HandlerError::permanent("bad").into();
        let outer = Wrapper(inner);
        assert_eq!(classify(&outer), ErrorClass::Permanent);
    }

    #[test]
    fn record_errors_are_permanent_and_say_why() {
        let e = RecordError::bad_input("body is not JSON").with_source("eof at 3");
        assert!(e.is_bad_input());
        assert!(!is_retryable(&e));
        assert_eq!(e.to_string(), "body is not JSON: eof at 3");
        assert!(RecordError::no_route("x").is_no_route());
        assert!(RecordError::no_handler("T").to_string().contains("`T`"));
    }

    #[derive(Debug)]
    struct Busy;
    impl fmt::Display for Busy {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("busy")
        }
    }
    impl StdError for Busy {}
    impl Classify for Busy {
        fn retry(&self) -> ErrorClass {
            ErrorClass::Permanent
        }
    }

    #[test]
    fn a_users_classified_error_is_honoured() {
        let via_handler_error: BoxError = HandlerError::from(Busy).into();
        assert_eq!(classify(&*via_handler_error), ErrorClass::Permanent);
        // The wrapped error is the source, so it can be downcast.
        let source = via_handler_error.source().unwrap();
        assert!(source.is::<Busy>());
        register::<Busy>();
        register::<Busy>();
        let bare: BoxError = Box::new(Busy);
        assert_eq!(classify(&*bare), ErrorClass::Permanent);
        let busy = std::any::TypeId::of::<Busy>();
        let entries = REGISTERED.read().unwrap();
        assert_eq!(entries.iter().filter(|(t, _)| *t == busy).count(), 1);
    }

    #[test]
    fn unclassified_is_retryable() {
        let e: BoxError = "boom".into();
        assert_eq!(classify(&*e), ErrorClass::Retryable);
    }
}
