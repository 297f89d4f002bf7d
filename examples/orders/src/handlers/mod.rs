//! The handlers, one module per concern. Each is a plain async function of
//! the event's envelope and its [`Deps`], which it receives as a
//! [`State<Deps>`](eventrail::bus::State): shared by every call, never
//! copied per event ([`crate::wiring`] builds each with
//! [`handler_fn_with_state`](eventrail::bus::handler_fn_with_state) and puts
//! it behind the production stack).
//!
//! | module | handlers |
//! |---|---|
//! | [`imports`] | `import-csv`, `file-upload` |
//! | [`notifications`] | `send-notification`, `sync-request` |
//! | [`changes`] | `sync-order`, `sync-product`, `sync-user` |
//! | [`orders`] | `reserve-inventory`, `send-confirmation`, `start-follow-up` (the new-order fan-out), `process-order` |
//! | [`dead_letters`] | `store-dead-letter` |
//!
//! A handler that acknowledges an event without acting on it returns
//! [`Handled::Skipped`] with a reason (the record is done, and the journal
//! says why); failing is for events that can never, or not yet, be handled.
//!
//! ```
//! use example_orders::handlers::Handled;
//!
//! let skipped: Handled<()> = Handled::Skipped { reason: "unsupported file type .exe".into() };
//! assert_eq!(
//!     serde_json::to_value(&skipped).unwrap(),
//!     serde_json::json!({"status": "skipped", "reason": "unsupported file type .exe"}),
//! );
//! ```

use std::fmt;

use eventrail::layers::AlarmService;
use serde::{Deserialize, Serialize};

use crate::journal::{HandlerJournal, Journal};
use crate::ports::Ports;

pub mod changes;
pub mod dead_letters;
pub mod imports;
pub mod notifications;
pub mod orders;

/// A handler's output: what it did, or why it skipped the event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Handled<T> {
    /// The event was acted on; `T`'s fields say how.
    Processed(T),
    /// The event needs nothing from this handler; it is done.
    Skipped {
        /// Why.
        reason: String,
    },
}

impl<T> Handled<T> {
    /// The reason, if skipped.
    pub fn skip_reason(&self) -> Option<&str> {
        match self {
            Handled::Skipped { reason } => Some(reason),
            Handled::Processed(_) => None,
        }
    }
}

/// What one handler works with: its name, its ports (counted for it in the
/// journal), its alarms and the journal.
#[derive(Clone, Debug)]
pub struct Deps {
    /// The handler's name, as the bus, the alarms and the journal know it.
    pub name: &'static str,
    /// The ports; the mailer and the task callbacks count for this handler.
    pub ports: Ports,
    /// Alarms published as this handler, to the alarm topic.
    pub alarms: AlarmService,
    /// The journal.
    pub journal: Journal,
    /// This handler's slot of the journal: what [`note`](Self::note) and
    /// [`skip`](Self::skip) write to.
    pub log: HandlerJournal,
}

impl Deps {
    /// The dependencies of the handler `name`.
    pub fn new(name: &'static str, ports: &Ports, journal: &Journal) -> Self {
        journal.register(name);
        let mut ports = ports.clone();
        ports.mailer = journal.mailer(name, ports.mailer);
        ports.task_callbacks = journal.task_callbacks(name, ports.task_callbacks);
        let alarms = AlarmService::new(
            journal.alarm_notifier(name, ports.notifier.clone()),
            ports.config.alarms_topic.as_str(),
        )
        .with_environment(ports.config.environment.as_str())
        .with_clock(ports.clock.clone());
        Self {
            name,
            ports,
            alarms,
            journal: journal.clone(),
            log: journal.handler(name),
        }
    }

    /// Writes a journal line, if the journal records lines; `text` (e.g.
    /// `format_args!(..)`) is formatted only then.
    pub fn note(&self, text: impl fmt::Display) {
        self.log.note(text);
    }

    /// Skips the event with `reason`, noting it in the journal.
    pub fn skip<T>(&self, reason: impl Into<String>) -> Handled<T> {
        let reason = reason.into();
        self.log.skip(&reason);
        Handled::Skipped { reason }
    }
}
