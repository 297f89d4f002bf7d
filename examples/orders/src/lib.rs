//! The order scenario of the event-handling guide, as an eventrail app.
//!
//! | source | route | event | handler |
//! |---|---|---|---|
//! | SQS | `type = "NOTIFICATION"` | [`Notification`] | e-mails the recipient |
//! | SQS | `type = "SYNC_REQUEST"` | [`SyncRequest`] | records the sync |
//! | S3 | prefix `imports/csv/` | [`CsvImport`] | counts the rows |
//! | S3 | prefix `uploads/`, suffix `.pdf` | [`FileUpload`] | notes the upload |
//! | DynamoDB Streams | `pk` prefix `ORDER#` | `DataChange<Order>` | confirms new orders by e-mail and SNS |
//! | Step Functions | `type = "ORDER_PROCESS"` | [`ProcessOrder`] | returns the processing result |
//!
//! Every handler runs in a production stack, outermost first: a tracing span,
//! an alarm on SNS when it finally fails, (for new orders) idempotency so a
//! redelivered stream record never mails twice, (for the Step Functions task)
//! the task-token callback, a deadline-aware timeout, and retries with the
//! guide's backoff (3 attempts, 1 s, ×2).
//!
//! The handlers talk to the outside world only through eventrail's ports, so
//! the same [`app`] runs on Lambda with the AWS clients of `eventrail-aws`,
//! and in the demo and the tests with the in-memory fakes of
//! `eventrail-testkit`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventrail::app::AppBuilder;
use eventrail::dynamodb::{ChangeKind, DataChange};
use eventrail::layers::{AlarmService, RetryPolicy, ServiceBuilderExt};
use eventrail::ports::{
    Email, IdempotencyStore, Mailer, Notifier, ObjectStore, SnsMessage, TaskCallbacks,
};
use eventrail::s3::S3Object;
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
use serde::{Deserialize, Serialize};
use tower::ServiceBuilder;

/// The sender of every e-mail.
pub const FROM: &str = "orders@example.com";
/// The topic new orders are announced on.
pub const ORDERS_TOPIC: &str = "arn:aws:sns:eu-west-1:111122223333:orders";

/// The delivery channel of a notification.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum Channel {
    /// E-mail.
    Email,
    /// Text message (not wired in this example: such notifications fail permanently).
    Sms,
}

/// `{"type": "NOTIFICATION", ...}` on the notifications queue.
#[derive(Debug, Deserialize)]
pub struct Notification {
    /// How to deliver it.
    pub channel: Channel,
    /// The recipient's address.
    pub recipient: String,
    /// The subject.
    pub subject: String,
    /// The text.
    pub body: String,
}

/// `{"type": "SYNC_REQUEST", ...}` on the notifications queue.
#[derive(Debug, Deserialize)]
pub struct SyncRequest {
    /// The entity kind, e.g. `ORDER`.
    pub entity: String,
    /// Partition key of the item to sync.
    pub pk: String,
}

/// A CSV file landed under `imports/csv/`.
#[derive(Debug)]
pub struct CsvImport(pub S3Object);

impl From<S3Object> for CsvImport {
    fn from(o: S3Object) -> Self {
        Self(o)
    }
}

/// A PDF landed under `uploads/`.
#[derive(Debug)]
pub struct FileUpload(pub S3Object);

impl From<S3Object> for FileUpload {
    fn from(o: S3Object) -> Self {
        Self(o)
    }
}

/// An order item in the orders table.
#[derive(Debug, Deserialize)]
pub struct Order {
    /// `ORDER#<id>`.
    pub pk: String,
    /// The customer's e-mail address.
    pub email: String,
    /// Total in cents.
    pub total: u64,
}

/// The Step Functions task `ORDER_PROCESS`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessOrder {
    /// The order id.
    pub order_id: String,
    /// Number of items.
    pub items: u32,
}

/// What [`ProcessOrder`] returns to the state machine.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProcessResult {
    /// The order id.
    pub order_id: String,
    /// Whether stock was reserved for every item.
    pub reserved: bool,
}

/// The topic alarms go to.
pub const ALARMS_TOPIC: &str = "arn:aws:sns:eu-west-1:111122223333:orders-alarms";

/// The services the handlers and layers use.
#[derive(Clone, Debug)]
pub struct Ports {
    /// E-mail (SES).
    pub mailer: Arc<dyn Mailer>,
    /// Notifications (SNS).
    pub notifier: Arc<dyn Notifier>,
    /// Objects (S3).
    pub objects: Arc<dyn ObjectStore>,
    /// Step Functions callbacks.
    pub task_callbacks: Arc<dyn TaskCallbacks>,
    /// Idempotency records (DynamoDB).
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// Where final failures are reported.
    pub alarms: AlarmService,
}

/// A log of what the handlers did, one line per action, for the demo's output.
#[derive(Clone, Debug, Default)]
pub struct Journal(Arc<Mutex<Vec<String>>>);

impl Journal {
    fn note(&self, line: String) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }

    /// Takes the lines written so far.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The routes.
pub fn router() -> Router {
    Router::new()
        .sqs("type", "NOTIFICATION")
        .to::<Notification>()
        .sqs("type", "SYNC_REQUEST")
        .to::<SyncRequest>()
        .s3()
        .prefix("imports/csv/")
        .to::<CsvImport>()
        .s3()
        .prefix("uploads/")
        .suffix(".pdf")
        .to::<FileUpload>()
        .dynamodb("ORDER#")
        .to::<Order>()
        .step_function("ORDER_PROCESS")
        .to::<ProcessOrder>()
}

/// The handlers.
pub fn bus(ports: &Ports, journal: &Journal) -> Bus {
    let (mailer, j) = (ports.mailer.clone(), journal.clone());
    let notify = handler_fn(move |n: Envelope<Notification>| {
        let (mailer, j) = (mailer.clone(), j.clone());
        async move {
            if n.channel != Channel::Email {
                return Err(HandlerError::permanent(format!(
                    "channel {:?} is not supported",
                    n.channel
                )));
            }
            let id = mailer
                .send(Email::text(FROM, &n.recipient, &n.subject, &n.body))
                .await?;
            j.note(format!("mailed {} ({:?}) as {id}", n.recipient, n.subject));
            Ok(())
        }
    });

    let j = journal.clone();
    let sync = handler_fn(move |s: Envelope<SyncRequest>| {
        let j = j.clone();
        async move {
            j.note(format!("synced {} {}", s.entity, s.pk));
            Ok::<_, HandlerError>(())
        }
    });

    let (objects, j) = (ports.objects.clone(), journal.clone());
    let csv = handler_fn(move |c: Envelope<CsvImport>| {
        let (objects, j) = (objects.clone(), j.clone());
        async move {
            let obj = &c.0;
            let body = objects.get(&obj.bucket, &obj.key).await?.collect().await?;
            let rows = body
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .count();
            j.note(format!(
                "imported {} rows from s3://{}/{}",
                rows.saturating_sub(1),
                obj.bucket,
                obj.key
            ));
            Ok::<_, HandlerError>(())
        }
    });

    let j = journal.clone();
    let upload = handler_fn(move |u: Envelope<FileUpload>| {
        let j = j.clone();
        async move {
            j.note(format!(
                "filed upload {} ({} bytes)",
                u.0.key,
                u.0.size.unwrap_or(0)
            ));
            Ok::<_, HandlerError>(())
        }
    });

    let (mailer, notifier, j) = (
        ports.mailer.clone(),
        ports.notifier.clone(),
        journal.clone(),
    );
    let order = handler_fn(move |c: Envelope<DataChange<Order>>| {
        let (mailer, notifier, j) = (mailer.clone(), notifier.clone(), j.clone());
        async move {
            let (ChangeKind::Insert, Some(order)) = (c.kind, c.new.as_ref()) else {
                j.note(format!("ignored {} of {:?}", c.kind, c.keys.get("pk")));
                return Ok(());
            };
            let id = order.pk.trim_start_matches("ORDER#");
            mailer
                .send(Email::text(
                    FROM,
                    &order.email,
                    format!("Order {id} confirmed"),
                    format!("Total: {}.{:02}", order.total / 100, order.total % 100),
                ))
                .await?;
            notifier
                .publish(
                    SnsMessage::new(ORDERS_TOPIC, format!(r#"{{"orderId":"{id}"}}"#))
                        .with_subject("Order created"),
                )
                .await?;
            j.note(format!("confirmed order {id} to {}", order.email));
            Ok::<_, HandlerError>(())
        }
    });

    let j = journal.clone();
    let process = handler_fn(move |p: Envelope<ProcessOrder>| {
        let j = j.clone();
        async move {
            j.note(format!(
                "processed order {} ({} items)",
                p.order_id, p.items
            ));
            Ok::<_, HandlerError>(ProcessResult {
                order_id: p.order_id.clone(),
                reserved: p.items > 0,
            })
        }
    });

    let limit = Duration::from_secs(10);
    let alarms = &ports.alarms;
    // The common stack: span, alarm on final failure, timeout, retries.
    macro_rules! stack {
        ($name:literal, $handler:expr) => {
            ServiceBuilder::new()
                .traced()
                .alarm(alarms.clone(), $name)
                .deadline_timeout(limit)
                .retries(RetryPolicy::default())
                .service($handler)
        };
    }
    let order = ServiceBuilder::new()
        .traced()
        .alarm(alarms.clone(), "confirm-order")
        .idempotent(
            ports.idempotency.clone(),
            |c: &Envelope<DataChange<Order>>| {
                // One confirmation per order and change: a redelivered record is a no-op.
                Some(format!("{}#{}", c.kind, c.new.as_ref()?.pk))
            },
        )
        .deadline_timeout(limit)
        .retries(RetryPolicy::default())
        .service(order);
    let process = ServiceBuilder::new()
        .traced()
        .alarm(alarms.clone(), "process-order")
        .task_token(ports.task_callbacks.clone())
        .deadline_timeout(limit)
        .retries(RetryPolicy::default())
        .service(process);

    Bus::builder()
        .on_named("send-notification", stack!("send-notification", notify))
        .on_named("sync", stack!("sync", sync))
        .on_named("import-csv", stack!("import-csv", csv))
        .on_named("file-upload", stack!("file-upload", upload))
        .on_named("confirm-order", order)
        .on_named("process-order", process)
        .build()
}

/// The app, ready for options (see [`AppBuilder`]).
pub fn app_builder(ports: &Ports, journal: &Journal) -> AppBuilder {
    App::builder(router(), bus(ports, journal))
}

/// The whole app.
pub fn app(ports: &Ports, journal: &Journal) -> App {
    app_builder(ports, journal)
        .build()
        .expect("the order routes are consistent and every route has a handler")
}
