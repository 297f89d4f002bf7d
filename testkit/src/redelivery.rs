//! Redelivering the failed records of an invocation through a [`TestApp`].

use crate::events::Redeliver;
use crate::harness::{Outcome, TestApp};

impl TestApp {
    /// Sends the records of `event` that `outcome` failed once more, as
    /// the source redelivers them (see [`Redeliver`]), and returns the
    /// outcome of that delivery.
    ///
    /// ```
    /// use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
    /// use eventrail_testkit::{sqs, TestApp};
    ///
    /// #[derive(Debug, serde::Deserialize)]
    /// struct Job { ok: bool }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let app = TestApp::new(|_| {
    ///     let bus = Bus::builder()
    ///         .on(handler_fn(|j: Envelope<Job>| async move {
    ///             if j.ok { Ok(()) } else { Err(HandlerError::retryable("not yet")) }
    ///         }))
    ///         .build();
    ///     App::builder(Router::new().sqs_all().to::<Job>(), bus)
    /// });
    /// let batch = sqs::batch([sqs::message(r#"{"ok": true}"#), sqs::message(r#"{"ok": false}"#)]);
    /// let first = app.send(&batch).await;
    /// let again = app.redeliver_failed(&batch, &first).await;
    /// assert_eq!(again.failed(), first.failed(), "the same message, by its id");
    /// # }
    /// ```
    pub async fn redeliver_failed<E: Redeliver>(&self, event: &E, outcome: &Outcome) -> Outcome {
        self.send(event.redeliver_failed(outcome)).await
    }
}
