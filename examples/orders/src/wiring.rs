//! The bus: every handler behind the production stack, outermost first:
//!
//! ```text
//! journal (counts) → tracing → alarm → task token → idempotency → timeout → retry → journal (attempts) → handler
//! ```
//!
//! - alarm: an `ERROR` alarm on the alarm topic when the handler finally fails;
//! - task token: for Step Functions tasks, the output or the failure is
//!   reported with the task's token (other envelopes pass through);
//! - idempotency: one run per delivery (the task token, else the record id),
//!   namespaced by handler; a duplicate gets the stored result back;
//! - timeout: 10 s, or less when the invocation's deadline is nearer;
//! - retry: 3 attempts, waiting 1 s then 2 s, retryable errors only (a
//!   permanent one fails at once).

use std::time::Duration;

use eventrail::bus::handler_fn_with_state;
use eventrail::dynamodb::DataChange;
use eventrail::layers::{IdempotencyLayer, RetryPolicy, ServiceBuilderExt};
use eventrail::{Bus, Envelope};
use tower::ServiceBuilder;

use crate::events::{Order, Product, User};
use crate::handlers::{changes, dead_letters, imports, notifications, orders, Deps};
use crate::journal::Journal;
use crate::ports::Ports;

/// The per-attempt time limit.
pub const ATTEMPT_LIMIT: Duration = Duration::from_secs(10);

/// The idempotency key of a delivery: the task token for a Step Functions
/// task (every task input has the same record id), else the record id
/// (SQS message id, stream event id, S3 bucket/key/sequencer).
pub fn delivery_key<E>(env: &Envelope<E>) -> Option<String> {
    let meta = env.meta();
    Some(meta.task_token().unwrap_or(meta.record_id()).to_owned())
}

/// `$f(env, State<Deps>)` as a handler, behind the stack of the module
/// docs. The handler shares its `Deps` with every call (no copy of the ports
/// per event).
macro_rules! stack {
    ($deps:expr, $f:expr) => {{
        let deps: Deps = $deps;
        let handler = handler_fn_with_state(deps.clone(), $f);
        deps.journal.metered(
            deps.name,
            ServiceBuilder::new()
                .traced()
                .alarm(deps.alarms.clone(), deps.name)
                .task_token(deps.ports.task_callbacks.clone())
                .layer(
                    IdempotencyLayer::new(deps.ports.idempotency.clone(), delivery_key)
                        .namespace(deps.name)
                        .with_clock(deps.ports.clock.clone()),
                )
                .deadline_timeout(ATTEMPT_LIMIT)
                .retries(RetryPolicy::default())
                .layer_fn(|s| deps.journal.attempts(deps.name, s))
                .service(handler),
        )
    }};
}

/// Every handler, by name, on one bus.
pub fn bus(ports: &Ports, journal: &Journal) -> Bus {
    let deps = |name| Deps::new(name, ports, journal);
    Bus::builder()
        .on_named(
            "send-notification",
            stack!(deps("send-notification"), notifications::send_notification),
        )
        .on_named(
            "sync-request",
            stack!(deps("sync-request"), notifications::sync_request),
        )
        .on_named(
            "import-csv",
            stack!(deps("import-csv"), imports::import_csv),
        )
        .on_named(
            "file-upload",
            stack!(deps("file-upload"), imports::file_upload),
        )
        .on_named(
            "sync-order",
            stack!(deps("sync-order"), |e: Envelope<DataChange<Order>>, d| {
                changes::sync_change(e, "ORDER", d)
            }),
        )
        .on_named(
            "reserve-inventory",
            stack!(deps("reserve-inventory"), orders::reserve_inventory),
        )
        .on_named(
            "send-confirmation",
            stack!(deps("send-confirmation"), orders::send_confirmation),
        )
        .on_named(
            "start-follow-up",
            stack!(deps("start-follow-up"), orders::start_follow_up),
        )
        .on_named(
            "sync-product",
            stack!(
                deps("sync-product"),
                |e: Envelope<DataChange<Product>>, d| changes::sync_change(e, "PRODUCT", d)
            ),
        )
        .on_named(
            "sync-user",
            stack!(deps("sync-user"), |e: Envelope<DataChange<User>>, d| {
                changes::sync_change(e, "USER", d)
            }),
        )
        .on_named(
            "process-order",
            stack!(deps("process-order"), orders::process_order),
        )
        .on_named(
            "store-dead-letter",
            stack!(deps("store-dead-letter"), dead_letters::store_dead_letter),
        )
        .build()
}
