//! The ports on the testkit's in-memory fakes (feature `demo`): what the
//! demo, `example-orders invoke FILE` and the tests use.
//!
//! [`ports`] seeds the fakes for the bundled events: the sender is a
//! verified SES identity, the `order-confirmed` template exists, the files
//! the S3 events announce are in their bucket, and Step Functions accepts
//! the task tokens recorded in the bundled task inputs.
//!
//! ```
//! let fakes = eventrail_testkit::Fakes::new();
//! let ports = example_orders::fakes::ports(&fakes);
//! assert_eq!(ports.config.environment, "demo");
//! assert!(fakes.s3().body("orders-uploads", "imports/csv/daily orders(2026-11-28).csv").is_some());
//! ```

use eventrail_testkit::fakes::Template;
use eventrail_testkit::Fakes;

use crate::ports::{Config, Ports};

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

/// Seeds `fakes` (see the [module docs](self)) and returns ports on them,
/// with [`Config::demo`] and the fakes' clock.
pub fn ports(fakes: &Fakes) -> Ports {
    let config = Config::demo();
    fakes.ses().verify(config.mail_from.as_str());
    fakes.ses().add_template(
        TEMPLATE,
        Template::new("Order {{orderId}} confirmed")
            .text("Hello {{name}}, your order {{orderId}} is confirmed."),
    );
    fakes.s3().create_bucket(&config.bucket);
    for (key, body) in SEEDED_FILES {
        fakes.s3().seed(UPLOADS_BUCKET, key, body);
    }
    fakes.sfn().adopt_unknown_tokens();
    let mut ports = Ports::new(
        fakes.mailer(),
        fakes.notifier(),
        fakes.object_store(),
        fakes.task_callbacks(),
        fakes.idempotency_store(),
        config,
    );
    ports.clock = fakes.clock();
    ports
}
