//! The demo (feature `demo`): a mixed stream of the bundled events through
//! the app on eventrail's local backends (in-memory fakes of AWS, see
//! [`local`](crate::local)), and a plain-text report of what each handler
//! did and what each batch answered.
//!
//! The stream: a batch of notifications (with a poison body, a channel that
//! does not exist, an unknown type, and SES throttling one mail twice
//! before it goes through), a redelivery of one of them (answered from the
//! idempotency store), S3 uploads, DynamoDB changes (a new order fans out;
//! an image that does not decode stops its shard), two Step Functions tasks
//! and two dead letters.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let report = example_orders::demo::run().await;
//! assert_eq!(report.counts_of("store-dead-letter").processed, 2);
//! assert!(report.to_string().contains("store-dead-letter"));
//! # }
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use eventrail::app::{Invocation, Status};
use eventrail::local::{Fault, LocalBackends};
use serde_json::Value;

use crate::journal::{Counts, Entry, Journal};

/// The bundled events, by file name.
pub const EVENTS: [(&str, &str); 6] = [
    (
        "sqs-notifications.json",
        include_str!("../events/sqs-notifications.json"),
    ),
    ("s3-uploads.json", include_str!("../events/s3-uploads.json")),
    (
        "dynamodb-changes.json",
        include_str!("../events/dynamodb-changes.json"),
    ),
    (
        "sfn-csv-import.json",
        include_str!("../events/sfn-csv-import.json"),
    ),
    (
        "sfn-process-order.json",
        include_str!("../events/sfn-process-order.json"),
    ),
    ("sqs-dlq.json", include_str!("../events/sqs-dlq.json")),
];

/// The recipient whose mail SES throttles twice in the demo.
pub const THROTTLED_RECIPIENT: &str = "ana@example.com";

/// The recipient whose mail SES rejects in the demo.
pub const REJECTED_RECIPIENT: &str = "bounced@example.com";

/// A failed record of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedRecord {
    /// The record id.
    pub id: String,
    /// Whether a retry can help.
    pub retryable: bool,
    /// The error.
    pub reason: String,
}

/// One batch of the demo.
#[derive(Clone, Debug)]
pub struct Batch {
    /// What it is.
    pub title: String,
    /// Input records.
    pub records: usize,
    /// What the handlers wrote while it ran.
    pub journal: Vec<Entry>,
    /// The records that failed.
    pub failed: Vec<FailedRecord>,
    /// The Lambda response, or the invocation error.
    pub response: Result<Value, String>,
}

/// Everything the demo saw. `Display` renders the report.
#[derive(Clone, Debug)]
pub struct DemoReport {
    /// The batches, in order.
    pub batches: Vec<Batch>,
    /// The counts per handler, in registration order.
    pub counts: Vec<(String, Counts)>,
    /// Mails in the SES outbox: `(to, subject)`.
    pub mails: Vec<(String, String)>,
    /// Subjects of the alarms published.
    pub alarms: Vec<String>,
    /// Messages on the orders topic.
    pub follow_ups: Vec<String>,
    /// Objects written to the app's bucket.
    pub stored: Vec<String>,
    /// Step Functions tokens and their final state (`succeeded` / `failed` / `running`).
    pub tasks: Vec<(String, String)>,
}

impl DemoReport {
    /// The counts of `handler` (zeros if unknown).
    pub fn counts_of(&self, handler: &str) -> Counts {
        self.counts
            .iter()
            .find(|(n, _)| n == handler)
            .map(|(_, c)| *c)
            .unwrap_or_default()
    }
}

fn event(name: &str) -> Value {
    let text = EVENTS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .unwrap_or("null");
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// Plays the stream (see the [module docs](self)). Run it on a paused tokio
/// clock: the retries' backoff then takes no real time.
pub async fn run() -> DemoReport {
    let local = LocalBackends::new();
    let journal = Journal::default();
    let ports = crate::local::ports(&local);
    let config = ports.config.clone();
    let app = crate::app(&ports, &journal);

    // SES throttles the first two attempts to mail ana@example.com.
    let throttled = Arc::new(AtomicU32::new(0));
    local.ses().fail_when(
        move |mail| {
            mail.to.iter().any(|t| t == THROTTLED_RECIPIENT)
                && throttled.fetch_add(1, Ordering::SeqCst) < 2
        },
        Fault::throttled(),
    );

    // SES rejects mail to one address for good: that notification fails
    // permanently, with an alarm.
    local.ses().fail_when(
        |mail| mail.to.iter().any(|t| t == REJECTED_RECIPIENT),
        Fault::permanent("MessageRejected")
            .with_message("Email address is on the suppression list"),
    );

    let notifications = event("sqs-notifications.json");
    let mut redelivery = notifications.clone();
    if let Some(records) = redelivery["Records"].as_array_mut() {
        records.truncate(1);
        records[0]["attributes"]["ApproximateReceiveCount"] = "2".into();
    }
    let mut empty_order = event("sfn-process-order.json");
    empty_order["payload"] = serde_json::json!({"orderId": "1003", "items": 0});
    empty_order["taskToken"] = local.sfn().issue_token().into();
    let steps = [
        (
            "sqs-notifications.json: the notifications queue (SES throttles one mail twice)",
            notifications,
        ),
        (
            "the first notification delivered again (at-least-once delivery)",
            redelivery,
        ),
        (
            "s3-uploads.json: files landed in the bucket",
            event("s3-uploads.json"),
        ),
        (
            "dynamodb-changes.json: the orders table's stream",
            event("dynamodb-changes.json"),
        ),
        (
            "sfn-csv-import.json: a CSV_IMPORT task",
            event("sfn-csv-import.json"),
        ),
        (
            "sfn-process-order.json: an ORDER_PROCESS task",
            event("sfn-process-order.json"),
        ),
        (
            "the ORDER_PROCESS task for an order without items (a new token)",
            empty_order,
        ),
        ("sqs-dlq.json: the dead-letter queue", event("sqs-dlq.json")),
    ];

    let mut batches = Vec::new();
    for (i, (title, payload)) in steps.into_iter().enumerate() {
        let records = payload["Records"].as_array().map_or(1, Vec::len);
        let bytes = serde_json::to_vec(&payload).unwrap_or_default();
        let inv = Invocation::new(format!("demo-{}", i + 1));
        let (failed, response) = match eventrail_lambda::detect(&bytes) {
            Ok(detected) => {
                let report = eventrail_lambda::process(&app, detected, &inv).await;
                let failed = report
                    .outcomes
                    .iter()
                    .filter_map(|o| match &o.status {
                        Status::Failed(f) => Some(FailedRecord {
                            id: o.record_id().to_owned(),
                            retryable: f.retry.is_retryable(),
                            reason: f.error.to_string(),
                        }),
                        _ => None,
                    })
                    .collect();
                let response = eventrail_lambda::respond(&report).map_err(|e| e.to_string());
                (failed, response)
            }
            Err(e) => (Vec::new(), Err(e.to_string())),
        };
        batches.push(Batch {
            title: format!("{}. {title}", i + 1),
            records,
            journal: journal.take(),
            failed,
            response,
        });
    }

    DemoReport {
        batches,
        counts: journal.counts(),
        mails: local
            .ses()
            .outbox()
            .into_iter()
            .map(|m| (m.email.to.join(", "), m.subject))
            .collect(),
        alarms: local
            .sns()
            .published_to(&config.alarms_topic)
            .into_iter()
            .map(|m| m.subject.unwrap_or_default())
            .collect(),
        follow_ups: local
            .sns()
            .published_to(&config.orders_topic)
            .into_iter()
            .map(|m| m.message)
            .collect(),
        stored: local
            .s3()
            .keys(&config.bucket)
            .into_iter()
            .map(|k| format!("s3://{}/{k}", config.bucket))
            .collect(),
        tasks: local
            .sfn()
            .tokens()
            .into_iter()
            .map(|t| {
                let state = if local.sfn().succeeded(&t).is_some() {
                    "succeeded"
                } else if local.sfn().failed(&t).is_some() {
                    "failed"
                } else {
                    "running"
                };
                (t, state.to_owned())
            })
            .collect(),
    }
}

fn cut(text: &str, max: usize) -> String {
    let one_line = text.replace('\n', " ");
    match one_line.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &one_line[..i]),
        None => one_line,
    }
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "eventrail order demo: the bundled events through the order app, AWS replaced by in-memory fakes"
        )?;
        writeln!(
            f,
            "(tokio's clock is paused: the retries' backoff takes no real time)"
        )?;
        let width = self
            .counts
            .iter()
            .map(|(n, _)| n.len())
            .chain(
                self.batches
                    .iter()
                    .flat_map(|b| b.journal.iter().map(|e| e.handler.len())),
            )
            .max()
            .unwrap_or(8);
        for b in &self.batches {
            writeln!(f, "\n== {} [{} record(s)]", b.title, b.records)?;
            for e in &b.journal {
                writeln!(f, "   {:width$}  {}", e.handler, e.text)?;
            }
            for r in &b.failed {
                let kind = if r.retryable {
                    "retryable"
                } else {
                    "permanent"
                };
                writeln!(
                    f,
                    "   {:width$}  {} ({kind}): {}",
                    "FAILED",
                    r.id,
                    cut(&r.reason, 110)
                )?;
            }
            match &b.response {
                Ok(v) => writeln!(f, "   response: {v}")?,
                Err(e) => writeln!(f, "   invocation error: {}", cut(e, 160))?,
            }
        }

        writeln!(f, "\n== per handler")?;
        let cols = [
            "processed",
            "failed",
            "retried",
            "duplicates",
            "skipped",
            "alarms",
            "mails",
            "tokens",
        ];
        write!(f, "   {:width$}", "handler")?;
        for c in cols {
            write!(f, "  {c:>10}")?;
        }
        writeln!(f)?;
        let mut total = Counts::default();
        for (name, c) in &self.counts {
            let row = [
                c.processed,
                c.failed,
                c.retried,
                c.duplicates,
                c.skipped,
                c.alarms,
                c.mails,
                c.tokens,
            ];
            write!(f, "   {name:width$}")?;
            for v in row {
                write!(f, "  {v:>10}")?;
            }
            writeln!(f)?;
            total.processed += c.processed;
            total.failed += c.failed;
            total.retried += c.retried;
            total.duplicates += c.duplicates;
            total.skipped += c.skipped;
            total.alarms += c.alarms;
            total.mails += c.mails;
            total.tokens += c.tokens;
        }
        write!(f, "   {:width$}", "total")?;
        for v in [
            total.processed,
            total.failed,
            total.retried,
            total.duplicates,
            total.skipped,
            total.alarms,
            total.mails,
            total.tokens,
        ] {
            write!(f, "  {v:>10}")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "   (retried: attempts after the first; duplicates: answered from the idempotency store;\n    \
             alarms: published to the alarm topic; tokens: Step Functions tasks completed, success or failure)"
        )?;

        writeln!(f, "\n== what reached the fakes")?;
        writeln!(f, "   SES    {} mail(s)", self.mails.len())?;
        for (to, subject) in &self.mails {
            writeln!(f, "          to {to}: {subject:?}")?;
        }
        writeln!(f, "   SNS    {} alarm(s)", self.alarms.len())?;
        for s in &self.alarms {
            writeln!(f, "          {}", cut(s, 110))?;
        }
        writeln!(
            f,
            "   SNS    {} follow-up(s) on the orders topic",
            self.follow_ups.len()
        )?;
        for m in &self.follow_ups {
            writeln!(f, "          {m}")?;
        }
        writeln!(f, "   S3     {} object(s) written", self.stored.len())?;
        for k in &self.stored {
            writeln!(f, "          {k}")?;
        }
        writeln!(f, "   SFN    {} task token(s)", self.tasks.len())?;
        for (t, state) in &self.tasks {
            writeln!(f, "          {}: {state}", cut(t, 40))?;
        }
        Ok(())
    }
}
