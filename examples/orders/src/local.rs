//! The ports on eventrail's local backends (feature `local`): what
//! `example-orders invoke FILE` and the demo run on, without AWS.
//!
//! [`seed`] prepares the backends for the bundled events: the sender is a
//! verified SES identity, the `order-confirmed` template exists, and the
//! files the S3 events announce are in their bucket. Step Functions
//! callbacks accept any task token, so the tokens recorded in the bundled
//! task inputs are accepted as they are. Every backend logs what a handler
//! sent (`--log-level info`).
//!
//! ```
//! use eventrail::local::LocalBackends;
//!
//! let local = LocalBackends::new();
//! let ports = example_orders::local::ports(&local);
//! assert_eq!(ports.config.environment, "demo");
//! assert!(local.s3().body("orders-uploads", "imports/csv/daily orders(2026-11-28).csv").is_some());
//! ```

use std::sync::Arc;

use eventrail::local::{LocalBackends, LocalMailer, LocalObjectStore, Template};

use crate::ports::{Config, MemoryCache, MemoryExternalSync, Ports};

/// The bucket the bundled S3 events come from.
pub const UPLOADS_BUCKET: &str = "orders-uploads";

/// The files the bundled S3 events and `CSV_IMPORT` task announce.
pub const SEEDED_FILES: [(&str, &str); 6] = [
    (
        "imports/csv/daily orders(2026-11-28).csv",
        "order_id,email,total,items\n1001,ana@example.com,4200,3\n1002,bo@example.com,1999,1\n1003,cy@example.com,lots,2\n1004,di@example.com,500,1\n",
    ),
    (
        "imports/csv/weekly+extra 2026-W48.csv",
        "order_id,email,total,items\n2001,ed@example.com,12000,4\n2002,fay@example.com,800,1\n",
    ),
    ("uploads/invoices/INV-1001.pdf", "%PDF-1.7\n% invoice 1001\n"),
    ("uploads/photos/café 1.png", "\u{89}PNG\r\n\u{1a}\n(image data)"),
    ("uploads/reports/stock.xlsx", "PK\u{3}\u{4}(spreadsheet)"),
    ("uploads/returns/returns.csv", "order_id,reason\n1001,damaged\n1002,late\n"),
];

/// The SES template the bundled templated notification names.
pub const TEMPLATE: &str = "order-confirmed";

/// Seeds a mailer and an object store for the bundled events (see the
/// [module docs](self)). The testkit's `FakeSes` is a [`LocalMailer`] and
/// its `FakeS3` dereferences to a [`LocalObjectStore`], so tests seed their
/// fakes with it too.
pub fn seed(mailer: &LocalMailer, objects: &LocalObjectStore, config: &Config) {
    mailer.verify(config.mail_from.as_str());
    mailer.add_template(
        TEMPLATE,
        Template::new("Order {{orderId}} confirmed")
            .text("Hello {{name}}, your order {{orderId}} is confirmed."),
    );
    objects.create_bucket(&config.bucket);
    for (key, body) in SEEDED_FILES {
        objects.seed(UPLOADS_BUCKET, key, body);
    }
}

/// Seeds `local` (see [`seed`]) and returns ports on it, with
/// [`Config::demo`] and the system clock. For backends
/// [without history](LocalBackends::without_history) (what `invoke` uses:
/// nobody looks at what was sent), the cache and the external system keep
/// none either ([`MemoryCache::without_history`],
/// [`MemoryExternalSync::without_history`]).
///
/// ```
/// use eventrail::local::LocalBackends;
/// use example_orders::ports::ItemKey;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let local = LocalBackends::without_history();
/// let ports = example_orders::local::ports(&local);
/// ports.external.request_sync("ORDER", &ItemKey::new("ORDER#1", "META")).await.unwrap();
/// assert!(local.s3().body("orders-uploads", "uploads/reports/stock.xlsx").is_some());
/// # }
/// ```
pub fn ports(local: &LocalBackends) -> Ports {
    let config = Config::demo();
    seed(local.ses(), local.s3(), &config);
    let mut ports = Ports::new(
        local.mailer(),
        local.notifier(),
        local.object_store(),
        local.task_callbacks(),
        local.idempotency_store(),
        config,
    );
    if !local.keeps_history() {
        ports.cache = Arc::new(MemoryCache::without_history());
        ports.external = Arc::new(MemoryExternalSync::without_history());
    }
    ports
}
