//! The order app's scenarios through the testkit (CSV imports and uploads
//! from S3, Step Functions tasks, SQS notifications, sync requests and dead
//! letters, DynamoDB stream changes): one test (or a few) per row of the
//! example's route table, raw events in, what reached the fakes and the
//! ports out, on tokio's paused clock.

use std::sync::Arc;

use eventrail_testkit::fakes::Fault;
use eventrail_testkit::{dynamodb, s3, sqs, step_functions, Fakes, TestApp};
use example_orders::local::UPLOADS_BUCKET;
use example_orders::ports::{ItemKey, MemoryCache, MemoryExternalSync};
use example_orders::{app_builder, Config, Journal, Ports, ALARMS_TOPIC, BUCKET, ORDERS_TOPIC};
use serde_json::{json, Value};

pub(crate) struct Orders {
    pub(crate) app: TestApp,
    pub(crate) journal: Journal,
    pub(crate) cache: MemoryCache,
    pub(crate) erp: MemoryExternalSync,
}

pub(crate) fn orders() -> Orders {
    let (journal, cache, erp) = (
        Journal::default(),
        MemoryCache::default(),
        MemoryExternalSync::default(),
    );
    let app = TestApp::new(|fakes: &Fakes| {
        let mut ports = ports(fakes);
        ports.cache = Arc::new(cache.clone());
        ports.external = Arc::new(erp.clone());
        app_builder(&ports, &journal)
    });
    Orders {
        app,
        journal,
        cache,
        erp,
    }
}

/// The ports on the fakes, seeded as the local run seeds its backends (the
/// SES fake is a local mailer, the S3 fake dereferences to a local object
/// store), on the test clock.
pub(crate) fn ports(fakes: &Fakes) -> Ports {
    let config = Config::demo();
    example_orders::local::seed(fakes.ses(), fakes.s3(), &config);
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

pub(crate) fn alarm_subjects(app: &TestApp) -> Vec<String> {
    app.sns()
        .published_to(ALARMS_TOPIC)
        .into_iter()
        .map(|m| m.subject.unwrap_or_default())
        .collect()
}

mod dead_letters;
mod dynamodb_events;
mod fan_out;
mod notifications;
pub(crate) fn notification(to: &str, channel: &str) -> Value {
    json!({"type": "NOTIFICATION", "channel": channel, "recipient": to,
           "subject": "Order confirmed", "body": "Thanks"})
}

mod s3_events;
mod stack;
mod step_functions_events;
