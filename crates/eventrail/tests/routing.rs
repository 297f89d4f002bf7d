//! The router and the app against real-shaped AWS events (fixtures/): every
//! record ends done or failed, routed to the right typed handler.

use std::sync::{Arc, Mutex};

use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use eventrail::app::{Invocation, Report, SourceEvent, Status};
use eventrail::dynamodb::{ChangeKind, DataChange};
use eventrail::error::{is_retryable, RecordError};
use eventrail::factory::{EventFactory, Record, StepFunctionInput, Transformed};
use eventrail::s3::S3Object;
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
use serde::Deserialize;

// ---------------------------------------------------------------- domain

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "UPPERCASE")]
enum Channel {
    Email,
    Sms,
}

#[derive(Debug, Deserialize)]
struct Notification {
    channel: Channel,
    recipient: String,
}

#[derive(Debug, Deserialize)]
struct SyncRequest {
    pk: String,
}

#[derive(Debug)]
struct CsvImport(S3Object);
impl From<S3Object> for CsvImport {
    fn from(o: S3Object) -> Self {
        Self(o)
    }
}

#[derive(Debug)]
struct FileUpload(S3Object);
impl From<S3Object> for FileUpload {
    fn from(o: S3Object) -> Self {
        Self(o)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderShipped {
    order_id: String,
    carrier: String,
}

#[derive(Debug, Deserialize)]
struct Order {
    pk: String,
    total: u64,
    status: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderPlaced {
    order_id: String,
    total: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CsvImportTask {
    import_id: String,
    key: String,
}

/// What the handlers saw, as lines.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn push(&self, s: String) {
        self.0.lock().unwrap().push(s);
    }
    fn lines(&self) -> Vec<String> {
        let mut v = self.0.lock().unwrap().clone();
        v.sort();
        v
    }
}

fn router() -> Router {
    Router::new()
        .s3()
        .prefix("imports/csv/")
        .to::<CsvImport>()
        .s3()
        .prefix("uploads/")
        .suffix(".pdf")
        .to::<FileUpload>()
        .sqs("type", "NOTIFICATION")
        .to::<Notification>()
        .sqs("type", "SYNC_REQUEST")
        .to::<SyncRequest>()
        .sns("type", "ORDER_SHIPPED")
        .to::<OrderShipped>()
        .kinesis("type", "ORDER_SHIPPED")
        .to::<OrderShipped>()
        .dynamodb("ORDER#")
        .to::<Order>()
        .eventbridge("com.example.orders", "OrderPlaced")
        .to::<OrderPlaced>()
        .step_function("CSV_IMPORT")
        .to::<CsvImportTask>()
}

fn bus(seen: &Seen) -> Bus {
    let s = seen.clone();
    let notify = handler_fn(move |n: Envelope<Notification>| {
        let s = s.clone();
        async move {
            s.push(format!(
                "mail {:?} {} tenant={:?} corr={}",
                n.channel,
                n.recipient,
                n.meta().tenant(),
                n.meta().correlation_id()
            ));
            Ok::<_, HandlerError>(())
        }
    });
    let s = seen.clone();
    let sync = handler_fn(move |r: Envelope<SyncRequest>| {
        let s = s.clone();
        async move {
            s.push(format!("sync {}", r.pk));
            Ok::<_, HandlerError>(())
        }
    });
    let s = seen.clone();
    let csv = handler_fn(move |c: Envelope<CsvImport>| {
        let s = s.clone();
        async move {
            s.push(format!("csv {}/{} {:?}", c.0.bucket, c.0.key, c.0.size));
            Ok::<_, HandlerError>(())
        }
    });
    let s = seen.clone();
    let upload = handler_fn(move |u: Envelope<FileUpload>| {
        let s = s.clone();
        async move {
            s.push(format!("upload {}", u.0.key));
            Ok::<_, HandlerError>(())
        }
    });
    let s = seen.clone();
    let shipped = handler_fn(move |e: Envelope<OrderShipped>| {
        let s = s.clone();
        async move {
            s.push(format!(
                "shipped {} {} via {} tenant={:?}",
                e.order_id,
                e.carrier,
                e.meta().source(),
                e.meta().tenant()
            ));
            Ok::<_, HandlerError>(())
        }
    });
    let s = seen.clone();
    let order = handler_fn(move |c: Envelope<DataChange<Order>>| {
        let s = s.clone();
        async move {
            let new = c
                .new
                .as_ref()
                .map(|o| (o.pk.as_str(), o.total, o.status.as_str()));
            let old = c.old.as_ref().map(|o| o.status.as_str());
            s.push(format!("order {} old={old:?} new={new:?}", c.kind));
            Ok::<_, HandlerError>(())
        }
    });
    let s = seen.clone();
    let placed = handler_fn(move |e: Envelope<OrderPlaced>| {
        let s = s.clone();
        async move {
            s.push(format!("placed {} {}", e.order_id, e.total));
            Ok::<_, HandlerError>(())
        }
    });
    let task = handler_fn(move |t: Envelope<CsvImportTask>| async move {
        Ok::<_, HandlerError>(serde_json::json!({
            "importId": t.import_id,
            "key": t.key,
            "token": t.meta().task_token(),
        }))
    });
    Bus::builder()
        .on(notify)
        .on(sync)
        .on(csv)
        .on(upload)
        .on(shipped)
        .on(order)
        .on(placed)
        .on(task)
        .build()
}

fn app(seen: &Seen) -> App {
    App::builder(router(), bus(seen)).build().unwrap()
}

fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn record_error(report: &Report, i: usize) -> &RecordError {
    match &report.outcomes[i].status {
        Status::Failed(f) => f
            .error
            .downcast_ref::<RecordError>()
            .unwrap_or_else(|| panic!("record {i} failed with {}", f.error)),
        other => panic!("record {i} did not fail: {other:?}"),
    }
}

async fn process(app: &App, event: SourceEvent) -> Report {
    app.process(event, &Invocation::default()).await
}

// ---------------------------------------------------------------- SQS

#[tokio::test]
async fn sqs_batch_every_record_is_done_or_failed_for_a_reason() {
    let seen = Seen::default();
    let app = app(&seen);
    let report = process(&app, SourceEvent::Sqs(fixture("sqs_batch.json"))).await;

    assert_eq!(report.outcomes.len(), 5);
    assert_eq!(
        report.failed_ids().collect::<Vec<_>>(),
        [
            "4f1c3b2e-0003-4c8a-9d3e-000000000003",
            "4f1c3b2e-0004-4c8a-9d3e-000000000004",
            "4f1c3b2e-0005-4c8a-9d3e-000000000005",
        ]
    );
    assert!(record_error(&report, 2).is_bad_input(), "malformed JSON");
    assert!(record_error(&report, 3).is_no_route(), "unknown type");
    assert!(record_error(&report, 4).is_bad_input(), "unknown channel");
    for o in &report.outcomes[2..] {
        let Status::Failed(f) = &o.status else {
            unreachable!()
        };
        assert!(!f.retry.is_retryable() && !is_retryable(&*f.error));
        assert!(!f.attempted);
    }
    assert_eq!(
        seen.lines(),
        [
            "mail Email ana@example.com tenant=Some(\"acme\") corr=corr-77",
            "sync ORDER#1001",
        ]
    );
}

#[tokio::test]
async fn unmatched_records_can_be_acknowledged_and_are_still_counted() {
    let seen = Seen::default();
    let app = App::builder(router(), bus(&seen))
        .acknowledge_unmatched(true)
        .build()
        .unwrap();
    let report = process(&app, SourceEvent::Sqs(fixture("sqs_batch.json"))).await;
    assert!(matches!(report.outcomes[3].status, Status::Acknowledged));
    assert_eq!(report.acknowledged(), 1);
    // Bad input is still a failure: acknowledging applies to "no route" only.
    assert_eq!(report.failed(), 2);
}

#[tokio::test]
async fn sns_and_s3_notifications_inside_sqs_are_unwrapped() {
    let seen = Seen::default();
    let app = app(&seen);
    let report = process(&app, SourceEvent::Sqs(fixture("sqs_wrapped.json"))).await;
    assert_eq!(report.failed(), 0, "{report:?}");
    assert_eq!(
        seen.lines(),
        [
            "csv orders-uploads/imports/csv/daily report(2026-11-28).csv Some(5120)",
            "mail Email ana@example.com tenant=Some(\"initech\") corr=corr-sns-1",
        ]
    );
    // The S3 test event produces no event and is done.
    assert!(matches!(&report.outcomes[2].status, Status::Done(v) if v.is_null()));
}

#[tokio::test]
async fn fifo_group_stops_at_its_first_failure_other_groups_go_on() {
    let seen = Seen::default();
    let app = app(&seen);
    let report = process(&app, SourceEvent::Sqs(fixture("sqs_fifo.json"))).await;
    // g1: 0 ok, 2 poison, 4 not started. g2: 1 and 3 ok.
    assert_eq!(
        report.failed_ids().collect::<Vec<_>>(),
        ["f1f0-0002", "f1f0-0004"]
    );
    let Status::Failed(f) = &report.outcomes[4].status else {
        unreachable!()
    };
    assert!(!f.attempted);
    assert!(
        f.retry.is_retryable(),
        "a record not started can be redelivered"
    );
    assert_eq!(seen.lines().len(), 3);
}

// ---------------------------------------------------------------- S3

#[tokio::test]
async fn s3_routes_by_decoded_key_prefix_and_suffix() {
    let seen = Seen::default();
    let app = app(&seen);
    let report = process(&app, SourceEvent::S3(fixture::<S3Event>("s3_put.json"))).await;
    assert_eq!(
        seen.lines(),
        [
            "csv orders-uploads/imports/csv/daily report(2026-11-28).csv Some(5120)",
            "upload uploads/invoices/INV-1001.pdf",
        ]
    );
    assert!(
        record_error(&report, 2).is_no_route(),
        ".png matches no route"
    );
    let bad = record_error(&report, 3);
    assert!(
        bad.is_bad_input(),
        "a key that does not decode fails its record"
    );
    assert!(bad.to_string().contains("does not decode"));
    assert_eq!(
        report.outcomes[0].record_id(),
        "orders-uploads/imports/csv/daily+report%282026-11-28%29.csv#0065E1F0A3B2C1D0E1"
    );
}

// ---------------------------------------------------------------- SNS, Kinesis

#[tokio::test]
async fn sns_routes_on_the_message_body() {
    let seen = Seen::default();
    let app = app(&seen);
    let report = process(&app, SourceEvent::Sns(fixture::<SnsEvent>("sns.json"))).await;
    assert_eq!(
        seen.lines(),
        ["shipped 1001 DHL via sns tenant=Some(\"globex\")"]
    );
    assert!(record_error(&report, 1).is_bad_input(), "plain text body");
}

#[tokio::test]
async fn kinesis_data_is_decoded_and_routed() {
    let seen = Seen::default();
    let app = app(&seen);
    let report = process(
        &app,
        SourceEvent::Kinesis(fixture::<KinesisEvent>("kinesis.json")),
    )
    .await;
    assert_eq!(seen.lines(), ["shipped 1001 UPS via kinesis tenant=None"]);
    assert!(record_error(&report, 1).is_bad_input());
    assert_eq!(
        report.outcomes[1].record_id(),
        "49590338271490256608559692538361571095921575989136588802"
    );
}

// ---------------------------------------------------------------- DynamoDB

#[tokio::test]
async fn dynamodb_changes_are_typed_with_old_and_new_images() {
    let seen = Seen::default();
    let app = app(&seen);
    let event: DynamoDbEvent = fixture("dynamodb.json");
    let report = process(&app, SourceEvent::DynamoDb(event)).await;
    assert_eq!(
        seen.lines(),
        [
            "order INSERT old=None new=Some((\"ORDER#1001\", 4200, \"NEW\"))",
            "order MODIFY old=Some(\"NEW\") new=Some((\"ORDER#1001\", 4200, \"PAID\"))",
            "order REMOVE old=Some(\"PAID\") new=None",
        ]
    );
    // A stream is processed in order: the unmatched CUSTOMER# record fails and
    // the record after it is not started (the stream resumes from the failure).
    assert_eq!(
        report.failed_ids().collect::<Vec<_>>(),
        ["100000000000000000004", "100000000000000000005"]
    );
    assert!(record_error(&report, 3).is_no_route());
}

#[test]
fn dynamodb_image_that_does_not_unmarshal_is_bad_input() {
    let seen = Seen::default();
    let app = app(&seen);
    let routed = app.transform(SourceEvent::DynamoDb(fixture("dynamodb.json")));
    let err = routed[4].result().unwrap_err();
    assert!(err.is_bad_input());
    assert!(err.to_string().contains("new image"), "{err}");
    let first = &routed[0].result().unwrap()[0];
    let change = first.event_ref::<DataChange<Order>>().unwrap();
    assert_eq!(change.kind, ChangeKind::Insert);
    assert_eq!(
        change.sequence_number.as_deref(),
        Some("100000000000000000001")
    );
    assert!(change.keys.contains_key("sk"));
}

// ---------------------------------------------------------------- EventBridge, Step Functions

#[tokio::test]
async fn eventbridge_routes_on_source_and_detail_type() {
    let seen = Seen::default();
    let app = app(&seen);
    let mut event: EventBridgeEvent = fixture("eventbridge.json");
    let report = process(&app, SourceEvent::EventBridge(event.clone())).await;
    assert_eq!(report.failed(), 0);
    assert_eq!(seen.lines(), ["placed 1001 4200"]);

    event.detail_type = "OrderCancelled".into();
    let report = process(&app, SourceEvent::EventBridge(event)).await;
    assert!(record_error(&report, 0).is_no_route());
}

#[tokio::test]
async fn step_functions_task_keeps_its_token_and_returns_the_output() {
    let seen = Seen::default();
    let app = app(&seen);
    let input = StepFunctionInput::from_json(fixture("sfn_task.json"));
    let report = process(&app, SourceEvent::StepFunction(input)).await;
    let Status::Done(output) = &report.outcomes[0].status else {
        panic!("{report:?}")
    };
    assert_eq!(
        *output,
        serde_json::json!({
            "importId": "imp-42",
            "key": "imports/csv/daily.csv",
            "token": "AQCEAAAAKgAAAAMAAAAAAAAAAf7nKd0GsaHLxZNbaR0EXAMPLE",
        })
    );
}

// ---------------------------------------------------------------- fallback, factories

#[derive(Debug)]
struct Refund {
    order_id: String,
}

/// A hand-written factory for what the router does not know.
#[derive(Debug)]
struct RefundFactory;

impl EventFactory for RefundFactory {
    fn transform_sqs(&self, event: SqsEvent) -> Transformed {
        event
            .records
            .iter()
            .map(|m| {
                let rec = Record::sqs(m);
                let body: serde_json::Value =
                    serde_json::from_str(m.body.as_deref().unwrap_or_default()).unwrap_or_default();
                match (body["type"].as_str(), body["orderId"].as_str()) {
                    (Some("REFUND_REQUEST"), Some(id)) => rec.event(Refund {
                        order_id: id.to_owned(),
                    }),
                    _ => rec.unmatched(),
                }
            })
            .collect()
    }
}

#[tokio::test]
async fn router_falls_back_to_a_hand_written_factory() {
    let seen = Seen::default();
    let s = seen.clone();
    let refund = handler_fn(move |r: Envelope<Refund>| {
        let s = s.clone();
        async move {
            s.push(format!("refund {}", r.order_id));
            Ok::<_, HandlerError>(())
        }
    });
    let app = App::builder(
        Router::new().fallback(RefundFactory),
        Bus::builder().on(refund).build(),
    )
    .build()
    .unwrap();
    let report = process(&app, SourceEvent::Sqs(fixture("sqs_batch.json"))).await;
    assert_eq!(seen.lines(), ["refund 1001"]);
    assert_eq!(report.failed(), 4);
    assert!(matches!(report.outcomes[3].status, Status::Done(_)));
}

#[tokio::test]
async fn a_factory_event_without_a_handler_fails_its_record_permanently() {
    let app = App::builder(RefundFactory, Bus::builder().build())
        .build()
        .unwrap();
    let report = process(&app, SourceEvent::Sqs(fixture("sqs_batch.json"))).await;
    let err = record_error(&report, 3);
    assert!(err.is_no_handler(), "{err}");
    assert!(err.to_string().contains("Refund"));
}

// ---------------------------------------------------------------- build-time checks

#[test]
fn routes_that_can_never_be_told_apart_are_rejected() {
    let seen = Seen::default();
    let dup = router().sqs("type", "NOTIFICATION").to::<Notification>();
    let err = App::builder(dup, bus(&seen))
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains(r#"type = "NOTIFICATION""#), "{err}");
    assert!(err.contains("can never match"), "{err}");

    let shadowed = Router::new()
        .s3()
        .prefix("imports/")
        .to::<CsvImport>()
        .s3()
        .prefix("imports/csv/")
        .to::<FileUpload>();
    let err = shadowed.check().unwrap_err();
    assert_eq!(err.earlier, r#"prefix "imports/""#);
    assert_eq!(err.later, r#"prefix "imports/csv/""#);

    // The specific route first is fine.
    let ordered = Router::new()
        .s3()
        .prefix("imports/csv/")
        .to::<CsvImport>()
        .s3()
        .prefix("imports/")
        .to::<FileUpload>();
    assert_eq!(ordered.check(), Ok(()));

    let catch_all_first = Router::new()
        .sqs_all()
        .to::<SyncRequest>()
        .sqs("type", "NOTIFICATION")
        .to::<Notification>();
    assert!(catch_all_first.check().is_err());
}

#[test]
fn a_route_without_a_handler_is_rejected() {
    let err = App::builder(
        Router::new()
            .sqs("type", "NOTIFICATION")
            .to::<Notification>(),
        Bus::builder().build(),
    )
    .build()
    .unwrap_err()
    .to_string();
    assert!(err.contains("Notification"), "{err}");
    assert!(err.contains("no handler"), "{err}");
}

#[test]
fn route_table_lists_source_matcher_event_and_handlers() {
    let seen = Seen::default();
    let table = app(&seen).routes();
    let text = table.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("SOURCE"));
    assert_eq!(table.rows().len(), 9);
    let dyn_row = table
        .rows()
        .iter()
        .find(|r| r.event_type == "DataChange<Order>")
        .unwrap();
    assert_eq!(dyn_row.matcher, r#"pk prefix "ORDER#""#);
    assert_eq!(dyn_row.handlers.len(), 1);
    assert!(
        text.contains(r#"prefix "uploads/" suffix ".pdf""#),
        "{text}"
    );
}
