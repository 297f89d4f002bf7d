//! Alarm: publish an alarm to SNS when a handler finally fails.
//!
//! [`AlarmService`] publishes an [`Alarm`] (severity, source, message, error
//! chain, event id, tenant, correlation id, timestamp, environment) as JSON to
//! an SNS topic through a [`Notifier`](crate::ports::Notifier), with a subject
//! `[SEVERITY] source: message` that is always valid for SNS (at most 100
//! printable ASCII characters, no line breaks: see [`sanitize_subject`]).
//! Handlers use it directly through its `critical`, `error`, `warning` and
//! `info` helpers.
//!
//! [`AlarmLayer`] publishes an alarm for every final failure that reaches it;
//! put it outside the retry layer, so only failures after retries alarm. A
//! duplicate delivery that found its idempotency key in progress is not final
//! ([`is_in_progress_elsewhere`](crate::layers::idempotency::is_in_progress_elsewhere))
//! and never alarms: the first delivery reports the outcome. The
//! alarm also says how many attempts were made. The handler's error is always
//! returned as it was: an alarm that fails to publish is logged and counted
//! ([`AlarmService::failed_publishes`]), never returned instead. A panic of
//! the wrapped service alarms too, as a [`HandlerPanic`](crate::error::HandlerPanic).
//!
//! A [redaction hook](AlarmService::with_redaction) edits each alarm before it
//! is published, e.g. to drop payload details or [mask e-mail
//! addresses](mask_emails).
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use eventrail::layers::alarm::{mask_emails, AlarmLayer, AlarmService, Severity};
//! use eventrail::ports::{Notifier, PortError, PublishReceipt, SnsMessage};
//! use eventrail::{handler_fn, Envelope, HandlerError, Metadata, Source};
//! use tower::{Layer, Service, ServiceExt};
//!
//! #[derive(Debug, Default)]
//! struct Topic(Mutex<Vec<SnsMessage>>);
//!
//! #[eventrail::async_trait]
//! impl Notifier for Topic {
//!     async fn publish(&self, msg: SnsMessage) -> Result<PublishReceipt, PortError> {
//!         self.0.lock().unwrap().push(msg);
//!         Ok(PublishReceipt { message_id: "1".into() })
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let topic = Arc::new(Topic::default());
//! let alarms = AlarmService::new(topic.clone(), "arn:aws:sns:eu-west-1:123456789012:alarms")
//!     .with_environment("prod")
//!     .with_redaction(|a| {
//!         if let Some(e) = a.error.as_mut() {
//!             e.chain = e.chain.iter().map(|m| mask_emails(m)).collect();
//!         }
//!         a.message = mask_emails(&a.message);
//!     });
//!
//! let mut svc = AlarmLayer::new(alarms.clone(), "MailHandler")
//!     .severity(Severity::Critical)
//!     .layer(handler_fn(|_: Envelope<()>| async {
//!         Err::<(), _>(HandlerError::permanent("mailbox jane@example.com is full"))
//!     }));
//! let env = Envelope::new((), Metadata::new("m-1", Source::Sqs).with_tenant("acme"));
//! let err = svc.ready().await.unwrap().call(env).await.unwrap_err();
//! assert!(err.is::<HandlerError>(), "the handler's own error comes back");
//!
//! let sent = topic.0.lock().unwrap();
//! assert_eq!(sent[0].subject.as_deref(), Some("[CRITICAL] MailHandler: mailbox [email] is full"));
//! let body: serde_json::Value = serde_json::from_str(&sent[0].message).unwrap();
//! assert_eq!(body["tenant"], "acme");
//! assert_eq!(body["environment"], "prod");
//!
//! // Handlers can raise alarms too.
//! # drop(sent);
//! alarms.warning("MailHandler", "bounce rate above 5%", None).await.unwrap();
//! # }
//! ```

mod future;
mod layer;
mod message;
mod service;

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower_service::Service;

use crate::envelope::{Envelope, Metadata, Stats};
use crate::error::BoxError;
use crate::layers::catch_panic::{call_catching, CallCatching};
use crate::layers::util::{rfc3339, truncate_chars};
use crate::routes::short_type_name;

pub use self::future::ResponseFuture;
pub use self::layer::AlarmLayer;
pub use self::message::{
    mask_emails, sanitize_subject, Alarm, AlarmError, Severity, MAX_SUBJECT_CHARS,
};
pub use self::service::AlarmService;

/// Publishes an alarm when the inner service fails. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct AlarmOnFailure<S> {
    inner: S,
    /// Shared: a call clones one `Arc`, not every setting.
    layer: Arc<AlarmLayer>,
}

impl<S> AlarmOnFailure<S> {
    /// Wraps `inner` with the settings of `layer`.
    pub fn new(inner: S, layer: AlarmLayer) -> Self {
        Self {
            inner,
            layer: Arc::new(layer),
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, E> Service<Envelope<E>> for AlarmOnFailure<S>
where
    S: Service<Envelope<E>>,
    S::Error: Into<BoxError>,
    E: 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, E>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut env: Envelope<E>) -> Self::Future {
        let scope = env.meta_mut().enter_scope();
        // What an alarm needs of the metadata, without a second reference
        // to `scope` (the future holds one; the alarm's copy gets it back).
        let meta = env.meta().clone_without_stats();
        let fut = call_catching(&mut self.inner, env);
        ResponseFuture::new(AlarmCall::Calling {
            fut,
            meta: Some(meta),
            layer: Arc::clone(&self.layer),
            scope,
            _event: PhantomData::<fn(E)>,
        })
    }
}

pin_project_lite::pin_project! {
    /// The inner call, then, if it failed finally, the alarm: a state
    /// machine rather than one `async` block, so a call that succeeds holds
    /// the inner future once and nothing of the alarm's publishing.
    #[project = AlarmCallProj]
    enum AlarmCall<F, E> {
        Calling {
            #[pin]
            fut: CallCatching<F>,
            meta: Option<Metadata>,
            layer: Arc<AlarmLayer>,
            scope: Arc<Stats>,
            _event: PhantomData<fn(E)>,
        },
        Alarming { alarm: Pin<Box<dyn Future<Output = BoxError> + Send>> },
    }
}

/// Publishes the alarm for `err`, the final failure of a call of an `E`
/// handler, and gives `err` back as it was.
async fn send_alarm<E: 'static>(
    layer: Arc<AlarmLayer>,
    scope: Arc<Stats>,
    meta: Metadata,
    err: BoxError,
) -> BoxError {
    let severity = (layer.severity)(&*err);
    let message = truncate_chars(&err.to_string(), MAX_MESSAGE_CHARS);
    let mut alarm = Alarm::new(severity, &*layer.source, message)
        .with_error(&*err)
        .with_meta(&meta)
        .with_event_type(short_type_name(std::any::type_name::<E>()))
        .with_attempts(scope.attempts_for(&meta));
    if !layer.service.has_clock() {
        alarm.timestamp = rfc3339(meta.clock().now());
    }
    // Logged and counted by the service; never replaces `err`. The
    // record's stats count it for the invocation's metrics.
    let sent = layer.service.send(alarm).await.is_ok();
    meta.record_alarm(sent);
    err
}

/// An alarm's message is cut to this many characters (SNS takes 256 KiB in
/// all; the error chain is in the body too).
const MAX_MESSAGE_CHARS: usize = 32 * 1024;

pub(crate) type FilterFn = Arc<dyn Fn(&(dyn std::error::Error + 'static)) -> bool + Send + Sync>;

pub(crate) type SeverityFn =
    Arc<dyn Fn(&(dyn std::error::Error + 'static)) -> Severity + Send + Sync>;
