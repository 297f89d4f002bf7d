//! What each handler did: a line per action, and counts per handler
//! (processed, failed, retried, duplicates, skipped, alarms, mails, task
//! tokens), for the demo's report and for tests.
//!
//! The counts come from two small layers around every handler
//! ([`Journal::metered`] outside the stack, [`Journal::attempts`] inside the
//! retry layer) and from the ports each handler gets, wrapped to count what
//! went through them ([`Journal::mailer`], [`Journal::alarm_notifier`],
//! [`Journal::task_callbacks`]).
//!
//! ```
//! use example_orders::Journal;
//!
//! let journal = Journal::default();
//! journal.register("file-upload");
//! journal.skip("file-upload", "unsupported file type .exe");
//! assert_eq!(journal.counts()[0].1.skipped, 1);
//! assert_eq!(journal.take()[0].text, "skipped: unsupported file type .exe");
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use eventrail::async_trait;
use eventrail::ports::{
    Email, Mailer, Notifier, PortError, PublishReceipt, SnsMessage, TaskCallbacks,
};
use eventrail::Envelope;
use tower::Service;

/// Counts of one handler. See the [module docs](self).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Events the handler finished (skips included, duplicates not).
    pub processed: u32,
    /// Events that failed for good (after retries).
    pub failed: u32,
    /// Attempts after the first (a retry layer ran the handler again).
    pub retried: u32,
    /// Duplicate deliveries answered from the idempotency store.
    pub duplicates: u32,
    /// Events acknowledged as skipped, with a reason.
    pub skipped: u32,
    /// Alarms published for this handler (by its alarm layer or by itself).
    pub alarms: u32,
    /// E-mails sent.
    pub mails: u32,
    /// Step Functions task tokens completed (success or failure reported).
    pub tokens: u32,
}

/// One line of the journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The handler that wrote it.
    pub handler: String,
    /// What it did.
    pub text: String,
}

#[derive(Debug, Default)]
struct State {
    entries: Vec<Entry>,
    counts: Vec<(String, Counts)>,
}

/// The shared journal; clones write to the same one. See the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct Journal(Arc<Mutex<State>>);

impl Journal {
    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, handler: &str, f: impl FnOnce(&mut Counts)) {
        let mut s = self.state();
        match s.counts.iter_mut().find(|(n, _)| n == handler) {
            Some((_, c)) => f(c),
            None => {
                let mut c = Counts::default();
                f(&mut c);
                s.counts.push((handler.to_owned(), c));
            }
        }
    }

    /// Makes `handler` appear in [`counts`](Self::counts) (in registration
    /// order) even before it ran.
    pub fn register(&self, handler: &str) {
        self.count(handler, |_| {});
    }

    /// Writes a line for `handler`.
    pub fn note(&self, handler: &str, text: impl Into<String>) {
        self.state().entries.push(Entry {
            handler: handler.to_owned(),
            text: text.into(),
        });
    }

    /// Records that `handler` acknowledged an event without acting on it, and why.
    pub fn skip(&self, handler: &str, reason: &str) {
        self.count(handler, |c| c.skipped += 1);
        self.note(handler, format!("skipped: {reason}"));
    }

    /// Takes the lines written so far.
    pub fn take(&self) -> Vec<Entry> {
        std::mem::take(&mut self.state().entries)
    }

    /// The counts of every handler, in registration order.
    pub fn counts(&self) -> Vec<(String, Counts)> {
        self.state().counts.clone()
    }

    /// The counts of `handler` (zeros if it never ran).
    pub fn counts_of(&self, handler: &str) -> Counts {
        self.state()
            .counts
            .iter()
            .find(|(n, _)| n == handler)
            .map(|(_, c)| *c)
            .unwrap_or_default()
    }

    /// The outer layer: counts each event's final outcome for `handler`.
    pub fn metered<S>(&self, handler: &'static str, inner: S) -> Metered<S> {
        Metered {
            inner,
            journal: self.clone(),
            handler,
            attempts: false,
        }
    }

    /// The inner layer (inside the retry layer): counts attempts after the first.
    pub fn attempts<S>(&self, handler: &'static str, inner: S) -> Metered<S> {
        Metered {
            inner,
            journal: self.clone(),
            handler,
            attempts: true,
        }
    }

    /// `mailer`, counting the mail `handler` sends.
    pub fn mailer(&self, handler: &'static str, mailer: Arc<dyn Mailer>) -> Arc<dyn Mailer> {
        Arc::new(Counting {
            inner: mailer,
            journal: self.clone(),
            handler,
        })
    }

    /// `notifier`, counting the alarms published for `handler`.
    pub fn alarm_notifier(
        &self,
        handler: &'static str,
        notifier: Arc<dyn Notifier>,
    ) -> Arc<dyn Notifier> {
        Arc::new(Counting {
            inner: notifier,
            journal: self.clone(),
            handler,
        })
    }

    /// `callbacks`, counting the task tokens `handler` completes.
    pub fn task_callbacks(
        &self,
        handler: &'static str,
        callbacks: Arc<dyn TaskCallbacks>,
    ) -> Arc<dyn TaskCallbacks> {
        Arc::new(Counting {
            inner: callbacks,
            journal: self.clone(),
            handler,
        })
    }
}

/// A handler service with counting around it; see [`Journal::metered`] and
/// [`Journal::attempts`].
#[derive(Clone, Debug)]
pub struct Metered<S> {
    inner: S,
    journal: Journal,
    handler: &'static str,
    attempts: bool,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, E> Service<Envelope<E>> for Metered<S>
where
    S: Service<Envelope<E>>,
    S::Error: fmt::Display,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, env: Envelope<E>) -> Self::Future {
        let (journal, handler) = (self.journal.clone(), self.handler);
        if self.attempts {
            let attempt = env.meta().attempt();
            if attempt > 1 {
                journal.count(handler, |c| c.retried += 1);
            }
            let fut = self.inner.call(env);
            return Box::pin(async move {
                let result = fut.await;
                if let Err(e) = &result {
                    journal.note(handler, format!("attempt {attempt} failed: {e}"));
                } else if attempt > 1 {
                    journal.note(handler, format!("attempt {attempt} succeeded"));
                }
                result
            });
        }
        // The metadata's stats node is shared with the clone: after the call
        // it says whether the idempotency layer inside replayed a result.
        let meta = env.meta().clone();
        let fut = self.inner.call(env);
        Box::pin(async move {
            let result = fut.await;
            let replayed = result.is_ok() && meta.replayed();
            journal.count(handler, |c| match (&result, replayed) {
                (Ok(_), true) => c.duplicates += 1,
                (Ok(_), false) => c.processed += 1,
                (Err(_), _) => c.failed += 1,
            });
            if replayed {
                journal.note(
                    handler,
                    format!(
                        "duplicate of {}: answered from the idempotency store",
                        meta.record_id()
                    ),
                );
            }
            result
        })
    }
}

#[derive(Debug)]
struct Counting<P: ?Sized> {
    inner: Arc<P>,
    journal: Journal,
    handler: &'static str,
}

#[async_trait]
impl Mailer for Counting<dyn Mailer> {
    async fn send(&self, mail: Email) -> Result<String, PortError> {
        let id = self.inner.send(mail).await?;
        self.journal.count(self.handler, |c| c.mails += 1);
        Ok(id)
    }
}

#[async_trait]
impl Notifier for Counting<dyn Notifier> {
    async fn publish(&self, msg: SnsMessage) -> Result<PublishReceipt, PortError> {
        let receipt = self.inner.publish(msg).await?;
        self.journal.count(self.handler, |c| c.alarms += 1);
        Ok(receipt)
    }
}

#[async_trait]
impl TaskCallbacks for Counting<dyn TaskCallbacks> {
    async fn send_task_success(&self, token: &str, output: &str) -> Result<(), PortError> {
        self.inner.send_task_success(token, output).await?;
        self.journal.count(self.handler, |c| c.tokens += 1);
        Ok(())
    }

    async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), PortError> {
        self.inner.send_task_failure(token, error, cause).await?;
        self.journal.count(self.handler, |c| c.tokens += 1);
        Ok(())
    }

    async fn send_task_heartbeat(&self, token: &str) -> Result<(), PortError> {
        self.inner.send_task_heartbeat(token).await
    }
}
