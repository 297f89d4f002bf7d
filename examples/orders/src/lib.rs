//! An order-processing backend as one eventrail app: orders arrive as CSV
//! imports and uploads on S3, Step Functions tasks, SQS messages and changes
//! on the orders table's DynamoDB stream. Each raw record becomes a typed
//! domain event (the routes below), and each event goes to its handler(s),
//! each behind the same production middleware.
//!
//! | source | route | event | handler(s) |
//! |---|---|---|---|
//! | S3 | prefix `imports/csv/` | [`CsvImport`] | `import-csv`: parses the CSV, bad rows reported |
//! | S3 | prefix `uploads/` | [`FileUpload`] | `file-upload`: by extension; others skipped with a reason |
//! | Step Functions | `type = "CSV_IMPORT"` | [`CsvImport`] | `import-csv`, result sent with the task token |
//! | Step Functions | `type = "ORDER_PROCESS"` | [`ProcessOrder`] | `process-order`, result sent with the task token |
//! | SQS | `type = "NOTIFICATION"` | [`Notification`] | `send-notification`: SES e-mail; SMS, push skipped |
//! | SQS | `type = "SYNC_REQUEST"` | [`SyncRequest`] | `sync-request` |
//! | SQS | attribute `DeadLetterQueueSourceArn` | [`DeadLetter`] | `store-dead-letter`: S3, then a `CRITICAL` alarm |
//! | DynamoDB Streams | `pk` prefix `ORDER#` | `DataChange<Order>` | `sync-order`, and for a new order `reserve-inventory`, `send-confirmation`, `start-follow-up` |
//! | DynamoDB Streams | `pk` prefix `PRODUCT#` | `DataChange<Product>` | `sync-product` |
//! | DynamoDB Streams | `pk` prefix `USER#` | `DataChange<User>` | `sync-user` |
//!
//! Every handler runs behind the production stack (see [`wiring`]): tracing
//! → alarm → task token → idempotency → timeout → retry. Handlers talk to
//! the outside only through ports ([`ports`]), so the same [`app`] runs on
//! Lambda with the AWS clients of `eventrail-aws` ([`aws`]), with the
//! `local` feature on eventrail's local backends for `invoke FILE`
//! ([`local`]), with `demo` in the demo ([`demo`]), and in the tests on the
//! testkit's fakes.
//!
//! ```
//! use example_orders::{app, Journal, Ports};
//! # #[cfg(feature = "local")] {
//! let local = eventrail::local::LocalBackends::new();
//! let ports: Ports = example_orders::local::ports(&local);
//! let app = app(&ports, &Journal::default());
//! assert_eq!(app.routes().rows().len(), 10);
//! # }
//! ```

pub mod aws;
#[cfg(feature = "demo")]
pub mod demo;
pub mod events;
pub mod factory;
#[cfg(feature = "testkit")]
pub mod fakes;
pub mod handlers;
pub mod journal;
#[cfg(feature = "local")]
pub mod local;
pub mod ports;
pub mod wiring;

use eventrail::app::AppBuilder;
use eventrail::App;

pub use events::{
    Channel, CsvImport, DeadLetter, FileUpload, Notification, Order, ProcessOrder, Product,
    SyncRequest, User,
};
pub use journal::Journal;
pub use ports::{Config, Ports, ALARMS_TOPIC, BUCKET, FROM, ORDERS_TOPIC};

/// The app, ready for options (see [`AppBuilder`]).
pub fn app_builder(ports: &Ports, journal: &Journal) -> AppBuilder {
    App::builder(factory::OrdersFactory::new(), wiring::bus(ports, journal))
}

/// The whole app.
pub fn app(ports: &Ports, journal: &Journal) -> App {
    app_builder(ports, journal)
        .build()
        .expect("the order routes are consistent and every route has a handler")
}
