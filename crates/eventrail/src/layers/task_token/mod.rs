//! Task token: report a handler's result to Step Functions.
//!
//! For an envelope carrying a Step Functions task token (a
//! `.waitForTaskToken` task), [`TaskTokenLayer`] reports the outcome through
//! [`TaskCallbacks`]:
//!
//! - success: `SendTaskSuccess` with the handler's output as JSON;
//! - failure: `SendTaskFailure` with an error name (by default
//!   `eventrail.RetryableError` or `eventrail.PermanentError`, or the
//!   [name you set](TaskTokenLayer::error_name)) and a cause (the error chain),
//!   cut to Step Functions' limits (256 and 32 768 characters); the handler's
//!   error is then returned;
//! - an output over Step Functions' 256 KiB limit (or one that does not
//!   serialize) becomes a task failure named `eventrail.OutputTooLarge` (or
//!   `eventrail.InvalidOutput`) with a cause that says so, and a permanent
//!   [`TaskTokenError`]: the task is never left waiting for a lost callback.
//!
//! A callback that fails is retried (3 attempts, 200 ms then 400 ms, by
//! default; see [`callback_retry`](TaskTokenLayer::callback_retry)) when the
//! port says a retry can help, then surfaces as a [`TaskTokenError`] that
//! still carries the handler's error. Envelopes without a token pass through.
//! A panic of the wrapped service fails the task as a permanent
//! [`HandlerPanic`](crate::error::HandlerPanic), so the task is not left
//! waiting until its timeout.
//!
//! Put it outside the retry layer so only final failures are reported, and
//! inside the idempotency layer so a duplicate delivery does not report twice.
//! In either order a duplicate never disturbs the task: one that arrives while
//! the first delivery is still running (an
//! [`IdempotencyError`](crate::layers::idempotency::IdempotencyError) that is
//! [in progress elsewhere](crate::layers::idempotency::is_in_progress_elsewhere))
//! does not fail it, and one answered with the stored result does not report
//! it a second time.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use eventrail::layers::TaskTokenLayer;
//! use eventrail::ports::{PortError, TaskCallbacks};
//! use eventrail::{handler_fn, Envelope, HandlerError, Metadata, Source};
//! use tower::{Layer, Service, ServiceExt};
//!
//! #[derive(Debug, Default)]
//! struct Sfn(Mutex<Vec<String>>);
//!
//! #[eventrail::async_trait]
//! impl TaskCallbacks for Sfn {
//!     async fn send_task_success(&self, token: &str, output: &str) -> Result<(), PortError> {
//!         self.0.lock().unwrap().push(format!("success {token} {output}"));
//!         Ok(())
//!     }
//!     async fn send_task_failure(&self, token: &str, error: &str, _cause: &str) -> Result<(), PortError> {
//!         self.0.lock().unwrap().push(format!("failure {token} {error}"));
//!         Ok(())
//!     }
//!     async fn send_task_heartbeat(&self, _: &str) -> Result<(), PortError> { Ok(()) }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let sfn = Arc::new(Sfn::default());
//! let mut svc = TaskTokenLayer::new(sfn.clone())
//!     .error_name("ImportProcessError")
//!     .layer(handler_fn(|env: Envelope<u32>| async move {
//!         if *env.event() == 0 {
//!             return Err(HandlerError::permanent("empty import"));
//!         }
//!         Ok(serde_json::json!({ "rows": *env.event() }))
//!     }));
//!
//! let meta = |t: &str| Metadata::new("m", Source::StepFunctions).with_task_token(t);
//! svc.ready().await.unwrap().call(Envelope::new(7, meta("t-1"))).await.unwrap();
//! svc.ready().await.unwrap().call(Envelope::new(0, meta("t-2"))).await.unwrap_err();
//! assert_eq!(
//!     *sfn.0.lock().unwrap(),
//!     [r#"success t-1 {"rows":7}"#, "failure t-2 ImportProcessError"]
//! );
//! # }
//! ```

mod error;
mod future;
mod layer;

use std::sync::Arc;
use std::task::{Context, Poll};

use serde::Serialize;
use tower_service::Service;

use crate::envelope::Envelope;
use crate::error::{classify, BoxError, ErrorClass};
use crate::layers::catch_panic::call_catching;
use crate::layers::idempotency::is_in_progress_elsewhere;
use crate::layers::util::{error_chain, truncate_chars};
use crate::ports::{
    PortError, TaskCallbacks, SFN_MAX_CAUSE_CHARS, SFN_MAX_ERROR_CHARS, SFN_MAX_OUTPUT_BYTES,
};

pub use self::error::TaskTokenError;
pub use self::future::ResponseFuture;
pub use self::layer::TaskTokenLayer;

/// Reports results to Step Functions. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct TaskToken<S> {
    inner: S,
    layer: TaskTokenLayer,
}

impl<S> TaskToken<S> {
    /// Wraps `inner` with the settings of `layer`.
    pub fn new(inner: S, layer: TaskTokenLayer) -> Self {
        crate::error::register::<TaskTokenError>();
        Self { inner, layer }
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

impl<S, E> Service<Envelope<E>> for TaskToken<S>
where
    S: Service<Envelope<E>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    S::Response: Serialize + Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut env: Envelope<E>) -> Self::Future {
        // Most envelopes carry no task token: nothing to report, so no
        // scope to read afterwards (and the layers inside report to one
        // node fewer).
        let Some(token) = env.meta().task_token().map(Arc::<str>::from) else {
            return ResponseFuture::plain(call_catching(&mut self.inner, env));
        };
        let record_id: Arc<str> = Arc::from(env.meta().record_id());
        let scope = env.meta_mut().enter_scope();
        let fut = call_catching(&mut self.inner, env);
        let layer = self.layer.clone();
        ResponseFuture::reporting(async move {
            let result = fut.await;
            if result.is_ok() && scope.replayed() {
                // A duplicate answered from the idempotency store: the first
                // delivery already reported this result.
                tracing::debug!(record_id = &*record_id, "replayed result; no callback");
                return result;
            }
            let reporter = Reporter {
                layer: &layer,
                token: &token,
                record_id: &record_id,
            };
            match result {
                Ok(resp) => reporter.success(resp).await,
                Err(err) => Err(reporter.failure(err).await),
            }
        })
    }
}

struct Reporter<'a> {
    layer: &'a TaskTokenLayer,
    token: &'a str,
    record_id: &'a str,
}

impl Reporter<'_> {
    async fn success<R: Serialize>(&self, resp: R) -> Result<R, BoxError> {
        let problem = match serde_json::to_string(&resp) {
            Ok(json) if json.len() <= SFN_MAX_OUTPUT_BYTES => {
                return match self.send_success(&json).await {
                    Ok(()) => Ok(resp),
                    Err(port) => Err(TaskTokenError::callback_failed(port, None).into()),
                };
            }
            Ok(json) => TaskTokenError::output_too_large(json.len()),
            Err(e) => TaskTokenError::invalid_output(e),
        };
        let cause = truncate_chars(&problem.to_string(), SFN_MAX_CAUSE_CHARS);
        match self.send_failure(problem.sfn_error_name(), &cause).await {
            Ok(()) => Err(problem.into()),
            Err(port) => Err(TaskTokenError::callback_failed(port, Some(problem.into())).into()),
        }
    }

    async fn failure(&self, err: BoxError) -> BoxError {
        if is_in_progress_elsewhere(&*err) {
            // The first delivery is still running and will report.
            return err;
        }
        let name = match &self.layer.error_name {
            Some(n) => truncate_chars(n, SFN_MAX_ERROR_CHARS),
            None => match classify(&*err) {
                ErrorClass::Retryable => "eventrail.RetryableError".to_owned(),
                ErrorClass::Permanent => "eventrail.PermanentError".to_owned(),
            },
        };
        let cause = truncate_chars(&error_chain(&*err).join(": "), SFN_MAX_CAUSE_CHARS);
        match self.send_failure(&name, &cause).await {
            Ok(()) => err,
            Err(port) => TaskTokenError::callback_failed(port, Some(err)).into(),
        }
    }

    async fn send_success(&self, output: &str) -> Result<(), PortError> {
        self.with_retries("SendTaskSuccess", || {
            self.layer.callbacks.send_task_success(self.token, output)
        })
        .await
    }

    async fn send_failure(&self, error: &str, cause: &str) -> Result<(), PortError> {
        self.with_retries("SendTaskFailure", || {
            self.layer
                .callbacks
                .send_task_failure(self.token, error, cause)
        })
        .await
    }

    async fn with_retries<F, Fut>(&self, what: &'static str, mut call: F) -> Result<(), PortError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(), PortError>>,
    {
        let policy = self.layer.callback_retry;
        let mut attempt = 1;
        loop {
            match call().await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_retryable() && attempt < policy.max_attempts() => {
                    let delay = policy.delay(attempt);
                    tracing::warn!(
                        record_id = self.record_id,
                        callback = what,
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        error = %e,
                        "Step Functions callback failed; retrying"
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(e) => {
                    tracing::error!(
                        record_id = self.record_id,
                        callback = what,
                        attempts = attempt,
                        error = %e,
                        "Step Functions callback failed"
                    );
                    return Err(e);
                }
            }
        }
    }
}

pub(crate) type Callbacks = Arc<dyn TaskCallbacks>;
