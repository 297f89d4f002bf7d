//! What each handler did: counts per handler (processed, failed, retried,
//! duplicates, skipped, alarms, mails, task tokens) and, when it records
//! them, a line per action, for the demo's report and for tests.
//!
//! The counts come from two small layers around every handler
//! ([`Journal::metered`] outside the stack, [`Journal::attempts`] inside the
//! retry layer) and from the ports each handler gets, wrapped to count what
//! went through them ([`Journal::mailer`], [`Journal::alarm_notifier`],
//! [`Journal::task_callbacks`]). Each handler has its own slot of counters
//! ([`Journal::handler`]): counting is an atomic increment, with no lock
//! and no look-up by name.
//!
//! Two modes: [`Journal::default`] records lines (the demo, the tests);
//! [`Journal::counts_only`] keeps the counts and no line, for a process
//! nobody reads the lines of (the Lambda function, `invoke`): its memory does
//! not grow with the events it sees, and a line is never even formatted
//! ([`note`](HandlerJournal::note) takes anything `Display`, such as
//! `format_args!`, and formats it only to record it).
//!
//! ```
//! use example_orders::Journal;
//!
//! let journal = Journal::default();
//! journal.register("file-upload");
//! journal.skip("file-upload", "unsupported file type .exe");
//! assert_eq!(journal.counts()[0].1.skipped, 1);
//! assert_eq!(journal.take()[0].text, "skipped: unsupported file type .exe");
//!
//! let quiet = Journal::counts_only();
//! quiet.handler("file-upload").note(format_args!("processed {} upload(s)", 1));
//! quiet.skip("file-upload", "unsupported file type .exe");
//! assert_eq!(quiet.counts_of("file-upload").skipped, 1);
//! assert!(quiet.take().is_empty());
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use eventrail::async_trait;
use eventrail::ports::{
    Email, Mailer, Notifier, PortError, PublishReceipt, SnsMessage, TaskCallbacks,
};
use eventrail::{Envelope, Metadata};
use pin_project_lite::pin_project;
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

type Lines = Arc<Mutex<Vec<Entry>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The counters of one handler (relaxed atomics: each is read once the
/// events that touched it are done).
#[derive(Debug, Default)]
struct Counters {
    processed: AtomicU32,
    failed: AtomicU32,
    retried: AtomicU32,
    duplicates: AtomicU32,
    skipped: AtomicU32,
    alarms: AtomicU32,
    mails: AtomicU32,
    tokens: AtomicU32,
}

fn bump(c: &AtomicU32) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    fn snapshot(&self) -> Counts {
        let get = |c: &AtomicU32| c.load(Ordering::Relaxed);
        Counts {
            processed: get(&self.processed),
            failed: get(&self.failed),
            retried: get(&self.retried),
            duplicates: get(&self.duplicates),
            skipped: get(&self.skipped),
            alarms: get(&self.alarms),
            mails: get(&self.mails),
            tokens: get(&self.tokens),
        }
    }
}

#[derive(Debug)]
struct Slot {
    name: String,
    counters: Counters,
    /// The journal's lines; `None` when it keeps counts only.
    lines: Option<Lines>,
}

impl Slot {
    /// See [`HandlerJournal::note`].
    fn note(&self, text: impl fmt::Display) {
        if let Some(lines) = &self.lines {
            let text = text.to_string();
            lock(lines).push(Entry {
                handler: self.name.clone(),
                text,
            });
        }
    }
}

#[derive(Debug)]
struct Shared {
    lines: Option<Lines>,
    /// One slot per handler, in registration order.
    slots: Mutex<Vec<Arc<Slot>>>,
}

/// The shared journal; clones write to the same one. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Journal(Arc<Shared>);

impl Default for Journal {
    /// A journal that records lines as well as counts.
    fn default() -> Self {
        Self::with_lines(Some(Lines::default()))
    }
}

impl Journal {
    fn with_lines(lines: Option<Lines>) -> Self {
        Self(Arc::new(Shared {
            lines,
            slots: Mutex::new(Vec::new()),
        }))
    }

    /// A journal that keeps the counts and no line: [`take`](Self::take)
    /// is always empty, and notes are not formatted. For a process nobody
    /// reads the lines of (a warm Lambda function would otherwise keep a
    /// line per action for as long as it lives).
    pub fn counts_only() -> Self {
        Self::with_lines(None)
    }

    /// Whether this journal records lines (see [`counts_only`](Self::counts_only)).
    pub fn records_lines(&self) -> bool {
        self.0.lines.is_some()
    }

    fn slot(&self, handler: &str) -> Arc<Slot> {
        let mut slots = lock(&self.0.slots);
        if let Some(s) = slots.iter().find(|s| s.name == handler) {
            return Arc::clone(s);
        }
        let slot = Arc::new(Slot {
            name: handler.to_owned(),
            counters: Counters::default(),
            lines: self.0.lines.clone(),
        });
        slots.push(Arc::clone(&slot));
        slot
    }

    /// The journal of `handler` (registered, see [`register`](Self::register)):
    /// what its layers, ports and body write to, with no look-up per event.
    pub fn handler(&self, handler: &str) -> HandlerJournal {
        HandlerJournal(self.slot(handler))
    }

    /// Makes `handler` appear in [`counts`](Self::counts) (in registration
    /// order) even before it ran.
    pub fn register(&self, handler: &str) {
        self.slot(handler);
    }

    /// Writes a line for `handler`, if this journal records lines: `text`
    /// is formatted only then.
    pub fn note(&self, handler: &str, text: impl fmt::Display) {
        if self.records_lines() {
            self.handler(handler).note(text);
        }
    }

    /// Records that `handler` acknowledged an event without acting on it, and why.
    pub fn skip(&self, handler: &str, reason: &str) {
        self.handler(handler).skip(reason);
    }

    /// Takes the lines written so far (none for a [counts-only](Self::counts_only) journal).
    pub fn take(&self) -> Vec<Entry> {
        self.0
            .lines
            .as_ref()
            .map(|l| std::mem::take(&mut *lock(l)))
            .unwrap_or_default()
    }

    /// The counts of every handler, in registration order.
    pub fn counts(&self) -> Vec<(String, Counts)> {
        lock(&self.0.slots)
            .iter()
            .map(|s| (s.name.clone(), s.counters.snapshot()))
            .collect()
    }

    /// The counts of `handler` (zeros if it never ran).
    pub fn counts_of(&self, handler: &str) -> Counts {
        lock(&self.0.slots)
            .iter()
            .find(|s| s.name == handler)
            .map(|s| s.counters.snapshot())
            .unwrap_or_default()
    }

    /// The outer layer: counts each event's final outcome for `handler`.
    pub fn metered<S>(&self, handler: &str, inner: S) -> Metered<S> {
        Metered {
            inner,
            slot: self.slot(handler),
            attempts: false,
        }
    }

    /// The inner layer (inside the retry layer): counts attempts after the first.
    pub fn attempts<S>(&self, handler: &str, inner: S) -> Metered<S> {
        Metered {
            inner,
            slot: self.slot(handler),
            attempts: true,
        }
    }

    /// `mailer`, counting the mail `handler` sends.
    pub fn mailer(&self, handler: &str, mailer: Arc<dyn Mailer>) -> Arc<dyn Mailer> {
        Arc::new(Counting {
            inner: mailer,
            slot: self.slot(handler),
        })
    }

    /// `notifier`, counting the alarms published for `handler`.
    pub fn alarm_notifier(&self, handler: &str, notifier: Arc<dyn Notifier>) -> Arc<dyn Notifier> {
        Arc::new(Counting {
            inner: notifier,
            slot: self.slot(handler),
        })
    }

    /// `callbacks`, counting the task tokens `handler` completes.
    pub fn task_callbacks(
        &self,
        handler: &str,
        callbacks: Arc<dyn TaskCallbacks>,
    ) -> Arc<dyn TaskCallbacks> {
        Arc::new(Counting {
            inner: callbacks,
            slot: self.slot(handler),
        })
    }
}

/// The journal of one handler, from [`Journal::handler`]; clones write to
/// the same counters and lines.
#[derive(Clone, Debug)]
pub struct HandlerJournal(Arc<Slot>);

impl HandlerJournal {
    /// The handler's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Writes a line, if the journal records lines: `text` is formatted
    /// only then (pass `format_args!(..)` to format nothing otherwise).
    pub fn note(&self, text: impl fmt::Display) {
        self.0.note(text);
    }

    /// Records that the handler acknowledged an event without acting on
    /// it, and why.
    pub fn skip(&self, reason: &str) {
        bump(&self.0.counters.skipped);
        self.note(format_args!("skipped: {reason}"));
    }

    /// The handler's counts so far.
    pub fn counts(&self) -> Counts {
        self.0.counters.snapshot()
    }
}

/// A handler service with counting around it; see [`Journal::metered`] and
/// [`Journal::attempts`].
#[derive(Clone, Debug)]
pub struct Metered<S> {
    inner: S,
    slot: Arc<Slot>,
    attempts: bool,
}

impl<S, E> Service<Envelope<E>> for Metered<S>
where
    S: Service<Envelope<E>>,
    S::Error: fmt::Display,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = MeteredFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, env: Envelope<E>) -> Self::Future {
        let slot = Arc::clone(&self.slot);
        let kind = if self.attempts {
            let attempt = env.meta().attempt();
            if attempt > 1 {
                bump(&slot.counters.retried);
            }
            Kind::Attempt(attempt)
        } else {
            // The metadata's stats node is shared with the clone: after the
            // call it says whether the idempotency layer inside replayed a
            // result.
            Kind::Outcome(env.meta().clone())
        };
        MeteredFuture {
            inner: self.inner.call(env),
            slot,
            kind,
        }
    }
}

#[derive(Debug)]
enum Kind {
    /// The outer layer: counts the final outcome.
    Outcome(Metadata),
    /// The inner layer: notes how the attempt went.
    Attempt(u32),
}

pin_project! {
    /// The future of a [`Metered`] call: the handler's, then the count.
    #[derive(Debug)]
    pub struct MeteredFuture<F> {
        #[pin]
        inner: F,
        slot: Arc<Slot>,
        kind: Kind,
    }
}

impl<F, R, Err> Future for MeteredFuture<F>
where
    F: Future<Output = Result<R, Err>>,
    Err: fmt::Display,
{
    type Output = Result<R, Err>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        // Written through the slot the future holds: a `HandlerJournal`
        // here would be one more reference count per call.
        let journal = &**this.slot;
        match this.kind {
            Kind::Attempt(attempt) => match &result {
                Err(e) => journal.note(format_args!("attempt {attempt} failed: {e}")),
                Ok(_) if *attempt > 1 => {
                    journal.note(format_args!("attempt {attempt} succeeded"));
                }
                Ok(_) => {}
            },
            Kind::Outcome(meta) => {
                let c = &this.slot.counters;
                match &result {
                    Ok(_) if meta.replayed() => {
                        bump(&c.duplicates);
                        journal.note(format_args!(
                            "duplicate of {}: answered from the idempotency store",
                            meta.record_id()
                        ));
                    }
                    Ok(_) => bump(&c.processed),
                    Err(_) => bump(&c.failed),
                }
            }
        }
        Poll::Ready(result)
    }
}

#[derive(Debug)]
struct Counting<P: ?Sized> {
    inner: Arc<P>,
    slot: Arc<Slot>,
}

#[async_trait]
impl Mailer for Counting<dyn Mailer> {
    async fn send(&self, mail: Email) -> Result<String, PortError> {
        let id = self.inner.send(mail).await?;
        bump(&self.slot.counters.mails);
        Ok(id)
    }
}

#[async_trait]
impl Notifier for Counting<dyn Notifier> {
    async fn publish(&self, msg: SnsMessage) -> Result<PublishReceipt, PortError> {
        let receipt = self.inner.publish(msg).await?;
        bump(&self.slot.counters.alarms);
        Ok(receipt)
    }
}

#[async_trait]
impl TaskCallbacks for Counting<dyn TaskCallbacks> {
    async fn send_task_success(&self, token: &str, output: &str) -> Result<(), PortError> {
        self.inner.send_task_success(token, output).await?;
        bump(&self.slot.counters.tokens);
        Ok(())
    }

    async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), PortError> {
        self.inner.send_task_failure(token, error, cause).await?;
        bump(&self.slot.counters.tokens);
        Ok(())
    }

    async fn send_task_heartbeat(&self, token: &str) -> Result<(), PortError> {
        self.inner.send_task_heartbeat(token).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    /// A `Display` that counts how often it is formatted.
    struct Watched<'a>(&'a AtomicU32);

    impl fmt::Display for Watched<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.fetch_add(1, Ordering::Relaxed);
            f.write_str("watched")
        }
    }

    #[test]
    fn a_counts_only_journal_keeps_counts_and_formats_no_line() {
        let formatted = AtomicU32::new(0);
        let journal = Journal::counts_only();
        assert!(!journal.records_lines());
        journal.register("a");
        let a = journal.handler("a");
        a.note(Watched(&formatted));
        journal.note("a", Watched(&formatted));
        a.skip("no reason");
        journal.skip("b", "late registration");
        assert_eq!(formatted.load(Ordering::Relaxed), 0);
        assert!(journal.take().is_empty());
        assert_eq!(journal.counts_of("a").skipped, 1);
        assert_eq!(
            journal.counts(),
            [
                (
                    "a".to_owned(),
                    Counts {
                        skipped: 1,
                        ..Counts::default()
                    }
                ),
                (
                    "b".to_owned(),
                    Counts {
                        skipped: 1,
                        ..Counts::default()
                    }
                ),
            ]
        );
    }

    #[test]
    fn a_recording_journal_keeps_lines_in_order() {
        let formatted = AtomicU32::new(0);
        let journal = Journal::default();
        let a = journal.handler("a");
        a.note(Watched(&formatted));
        journal.note("b", format_args!("{} + {}", 1, 2));
        a.skip("why");
        assert_eq!(formatted.load(Ordering::Relaxed), 1);
        let lines: Vec<(String, String)> = journal
            .take()
            .into_iter()
            .map(|e| (e.handler, e.text))
            .collect();
        assert_eq!(
            lines,
            [
                ("a".to_owned(), "watched".to_owned()),
                ("b".to_owned(), "1 + 2".to_owned()),
                ("a".to_owned(), "skipped: why".to_owned()),
            ]
        );
        assert!(journal.take().is_empty(), "take empties the lines");
        assert_eq!(a.counts().skipped, 1);
        assert_eq!(a.name(), "a");
    }

    #[tokio::test]
    async fn the_layers_count_outcomes_and_attempts() {
        use tower::ServiceExt;
        for journal in [Journal::default(), Journal::counts_only()] {
            let svc = |fail: bool| {
                tower::service_fn(move |_: Envelope<u32>| async move {
                    if fail {
                        Err("boom")
                    } else {
                        Ok::<_, &str>(())
                    }
                })
            };
            let env = |attempt| {
                let mut meta = Metadata::new("r-1", eventrail::Source::Sqs);
                meta.set_attempt(attempt);
                Envelope::new(7u32, meta)
            };
            let outer = journal.metered("h", svc(false));
            assert!(outer.oneshot(env(1)).await.is_ok());
            let outer = journal.metered("h", svc(true));
            assert!(outer.oneshot(env(1)).await.is_err());
            let inner = journal.attempts("h", svc(true));
            assert!(inner.oneshot(env(2)).await.is_err());
            let inner = journal.attempts("h", svc(false));
            assert!(inner.oneshot(env(3)).await.is_ok());
            let c = journal.counts_of("h");
            assert_eq!((c.processed, c.failed, c.retried), (1, 1, 2));
            let mut text = String::new();
            for e in journal.take() {
                writeln!(text, "{}: {}", e.handler, e.text).unwrap();
            }
            let expected = if journal.records_lines() {
                "h: attempt 2 failed: boom\nh: attempt 3 succeeded\n"
            } else {
                ""
            };
            assert_eq!(text, expected);
        }
    }
}
