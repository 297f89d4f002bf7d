//! The ports on the testkit's fakes (feature `testkit`, for the benches):
//! the same seeding as [`local`](crate::local), on the paused-clock fakes.
//!
//! ```
//! let fakes = eventrail_testkit::Fakes::new();
//! let ports = example_orders::fakes::ports(&fakes);
//! assert_eq!(ports.config.environment, "demo");
//! assert!(fakes.s3().body("orders-uploads", "imports/csv/daily orders(2026-11-28).csv").is_some());
//! ```

use eventrail_testkit::Fakes;

pub use crate::local::{SEEDED_FILES, TEMPLATE, UPLOADS_BUCKET};
use crate::ports::{Config, Ports};

/// Seeds `fakes` as [`local::seed`](crate::local::seed) does, lets the fake
/// Step Functions adopt the bundled events' task tokens, and returns ports
/// on the fakes with [`Config::demo`] and the fakes' clock.
pub fn ports(fakes: &Fakes) -> Ports {
    let config = Config::demo();
    crate::local::seed(fakes.ses(), fakes.s3(), &config);
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
