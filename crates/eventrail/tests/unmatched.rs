//! Records no route names, on real-shaped events: acknowledged per source
//! (a single-table stream's other item types) while other sources still
//! fail them, or taken by a catch-all route (`dynamodb_all`, `kinesis_all`).

use std::sync::{Arc, Mutex};

use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use eventrail::app::{AppBuilder, Invocation, NotStarted, Report, SourceEvent, Status};
use eventrail::dynamodb::DataChange;
use eventrail::error::RecordError;
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router, Source};
use serde::Deserialize;

const SINGLE_TABLE: &[u8] = include_bytes!("fixtures/dynamodb_single_table.json");
const CLICKSTREAM: &[u8] = include_bytes!("fixtures/kinesis_mixed.json");

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Invoice {
    pk: String,
    sk: String,
    #[serde(default)]
    total_cents: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Click {
    page: String,
}

#[derive(Debug, Deserialize)]
struct Mail {
    to: String,
}

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn push(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

fn stream() -> DynamoDbEvent {
    let event: DynamoDbEvent = serde_json::from_slice(SINGLE_TABLE).unwrap();
    // The fixture is the shape Lambda sends: it round-trips.
    let again: DynamoDbEvent =
        serde_json::from_value(serde_json::to_value(&event).unwrap()).unwrap();
    assert_eq!(again.records.len(), event.records.len());
    event
}

fn clickstream() -> KinesisEvent {
    serde_json::from_slice(CLICKSTREAM).unwrap()
}

fn sqs(bodies: &[(&str, &str)]) -> SqsEvent {
    let mut batch = SqsEvent::default();
    for (id, body) in bodies {
        let mut m = SqsMessage::default();
        m.message_id = Some((*id).into());
        m.body = Some((*body).into());
        m.event_source_arn = Some("arn:aws:sqs:eu-west-1:111122223333:mail".into());
        batch.records.push(m);
    }
    batch
}

/// Invoices from the stream, mails from a queue.
fn invoicing(seen: &Seen, configure: impl FnOnce(AppBuilder) -> AppBuilder) -> App {
    let (s1, s2) = (seen.clone(), seen.clone());
    let bus = Bus::builder()
        .on(handler_fn(move |c: Envelope<DataChange<Invoice>>| {
            let seen = s1.clone();
            async move {
                let inv = c.new.as_ref().expect("inserted");
                seen.push(format!(
                    "invoice {} {} {:?}",
                    inv.pk, inv.sk, inv.total_cents
                ));
                Ok::<_, HandlerError>(())
            }
        }))
        .on(handler_fn(move |m: Envelope<Mail>| {
            let seen = s2.clone();
            async move {
                seen.push(format!("mail {}", m.to));
                Ok::<_, HandlerError>(())
            }
        }))
        .build();
    let router = Router::new()
        .dynamodb("INVOICE#")
        .to::<Invoice>()
        .sqs("type", "MAIL")
        .to::<Mail>();
    configure(App::builder(router, bus)).build().unwrap()
}

async fn process(app: &App, event: SourceEvent) -> Report {
    app.process(event, &Invocation::default()).await
}

fn statuses(report: &Report) -> Vec<&'static str> {
    report
        .outcomes
        .iter()
        .map(|o| match &o.status {
            Status::Done(_) => "done",
            Status::Acknowledged => "acknowledged",
            Status::Failed(_) => "failed",
            _ => "other",
        })
        .collect()
}

#[tokio::test]
async fn without_acknowledging_the_first_other_item_holds_the_shard() {
    let seen = Seen::default();
    let app = invoicing(&seen, |b| b);
    let report = process(&app, SourceEvent::DynamoDb(stream())).await;
    // The customer item fails, and the shard stops there: the invoice line
    // after it is not even started.
    assert_eq!(statuses(&report), ["done", "failed", "failed", "failed"]);
    let Status::Failed(f) = &report.outcomes[2].status else {
        unreachable!()
    };
    assert!(f.error.is::<NotStarted>() && !f.attempted);
    // The stream's checkpoint is the first failure: the customer item (its sequence number).
    assert_eq!(report.failed_ids().next(), Some("200000000000000000002"));
    assert_eq!(
        seen.lines(),
        ["invoice INVOICE#2026-0042 META Some(129900)"]
    );
}

#[tokio::test]
async fn acknowledging_one_source_lets_the_stream_pass_and_keeps_queue_failures() {
    let seen = Seen::default();
    let app = invoicing(&seen, |b| b.acknowledge_unmatched_from(Source::DynamoDb));

    let report = process(&app, SourceEvent::DynamoDb(stream())).await;
    assert_eq!(
        statuses(&report),
        ["done", "acknowledged", "done", "acknowledged"]
    );
    assert_eq!(report.failed_ids().count(), 0, "nothing holds the shard");
    assert_eq!(report.acknowledged(), 2);
    assert_eq!(
        seen.lines(),
        [
            "invoice INVOICE#2026-0042 META Some(129900)",
            "invoice INVOICE#2026-0042 LINE#1 None",
        ]
    );

    // A queue message no route knows is still reported, not swallowed.
    let report = process(
        &app,
        SourceEvent::Sqs(sqs(&[
            ("m-1", r#"{"type":"MAIL","to":"ana@example.com"}"#),
            ("m-2", r#"{"type":"SMS","to":"+4470000000"}"#),
        ])),
    )
    .await;
    assert_eq!(statuses(&report), ["done", "failed"]);
    let Status::Failed(f) = &report.outcomes[1].status else {
        unreachable!()
    };
    assert!(f
        .error
        .downcast_ref::<RecordError>()
        .is_some_and(RecordError::is_no_route));
}

#[tokio::test]
async fn acknowledging_every_source_still_works_and_false_undoes_a_source() {
    let seen = Seen::default();
    let all = invoicing(&seen, |b| b.acknowledge_unmatched(true));
    let report = process(&all, SourceEvent::Sqs(sqs(&[("m-2", r#"{"type":"SMS"}"#)]))).await;
    assert_eq!(statuses(&report), ["acknowledged"]);

    let undone = invoicing(&seen, |b| {
        b.acknowledge_unmatched_from(Source::DynamoDb)
            .acknowledge_unmatched(false)
    });
    let report = process(&undone, SourceEvent::DynamoDb(stream())).await;
    assert_eq!(report.failed_ids().next(), Some("200000000000000000002"));
}

#[tokio::test]
async fn dynamodb_catch_all_takes_every_other_item_whatever_its_keys() {
    let seen = Seen::default();
    let (s1, s2) = (seen.clone(), seen.clone());
    let bus = Bus::builder()
        .on(handler_fn(move |c: Envelope<DataChange<Invoice>>| {
            let seen = s1.clone();
            async move {
                seen.push(format!("invoice {}", c.new.as_ref().unwrap().sk));
                Ok::<_, HandlerError>(())
            }
        }))
        .on(handler_fn(
            move |c: Envelope<DataChange<serde_json::Value>>| {
                let seen = s2.clone();
                async move {
                    let image = c.new.as_ref().or(c.old.as_ref()).unwrap();
                    seen.push(format!("other {:?} {}", c.kind, image["pk"]));
                    Ok::<_, HandlerError>(())
                }
            },
        ))
        .build();
    let router = Router::new()
        .dynamodb("INVOICE#")
        .to::<Invoice>()
        .dynamodb_all()
        .to::<serde_json::Value>();
    let app = App::builder(router, bus).build().unwrap();
    let routes = app.routes().to_string();
    assert!(routes.contains("any record"), "{routes}");

    let report = process(&app, SourceEvent::DynamoDb(stream())).await;
    assert_eq!(report.failed(), 0, "{report:?}");
    assert_eq!(
        seen.lines(),
        [
            "invoice META",
            r#"other Modify "CUSTOMER#7""#,
            "invoice LINE#1",
            r#"other Remove "SESSION#a1b2""#,
        ]
    );
}

#[test]
fn a_route_after_a_catch_all_is_reported() {
    let dynamo = Router::new()
        .dynamodb_all()
        .to::<serde_json::Value>()
        .dynamodb("INVOICE#")
        .to::<Invoice>();
    let err = dynamo.check().unwrap_err();
    assert_eq!(
        (err.earlier.as_str(), err.later.as_str()),
        ("any record", r#"pk prefix "INVOICE#""#)
    );

    let kinesis = Router::new()
        .kinesis_all()
        .to::<Click>()
        .kinesis("kind", "click")
        .to::<Click>();
    assert!(kinesis.check().is_err());
}

#[tokio::test]
async fn kinesis_catch_all_takes_other_kinds_and_data_that_is_not_json() {
    #[derive(Debug)]
    struct Other(String);

    let seen = Seen::default();
    let (s1, s2) = (seen.clone(), seen.clone());
    let bus = Bus::builder()
        .on(handler_fn(move |c: Envelope<Click>| {
            let seen = s1.clone();
            async move {
                seen.push(format!("click {}", c.page));
                Ok::<_, HandlerError>(())
            }
        }))
        .on(handler_fn(move |o: Envelope<Other>| {
            let seen = s2.clone();
            async move {
                seen.push(format!("other {}", o.0));
                Ok::<_, HandlerError>(())
            }
        }))
        .build();
    let router = Router::new()
        .kinesis("kind", "click")
        .to::<Click>()
        .kinesis_all()
        .map(|data| Ok::<_, RecordError>(Other(data.to_owned())));
    let app = App::builder(router, bus).build().unwrap();

    let report = process(&app, SourceEvent::Kinesis(clickstream())).await;
    assert_eq!(report.failed(), 0, "{report:?}");
    assert_eq!(
        seen.lines(),
        [
            "click /pricing",
            r#"other {"kind":"scroll","depth":80}"#,
            "other heartbeat 2026-12-01T13:00:00Z",
        ]
    );
}

#[tokio::test]
async fn without_a_kinesis_catch_all_other_kinds_fail_and_text_is_bad_input() {
    let seen = Seen::default();
    let s = seen.clone();
    let bus = Bus::builder()
        .on(handler_fn(move |c: Envelope<Click>| {
            let seen = s.clone();
            async move {
                seen.push(format!("click {}", c.page));
                Ok::<_, HandlerError>(())
            }
        }))
        .build();
    let app = App::builder(Router::new().kinesis("kind", "click").to::<Click>(), bus)
        .acknowledge_unmatched_from(Source::Kinesis)
        .build()
        .unwrap();
    let report = process(&app, SourceEvent::Kinesis(clickstream())).await;
    // The scroll has no route (acknowledged as configured); the heartbeat is
    // not JSON, which is bad input, never acknowledged.
    assert_eq!(statuses(&report), ["done", "acknowledged", "failed"]);
}

#[test]
fn a_handler_for_the_wrapped_type_is_named_in_the_build_error() {
    use eventrail::app::BuildError;

    let bus = Bus::builder()
        .on(handler_fn(|_: Envelope<Invoice>| async {
            Ok::<_, HandlerError>(())
        }))
        .build();
    let err = App::builder(Router::new().dynamodb("INVOICE#").to::<Invoice>(), bus)
        .build()
        .unwrap_err();
    let BuildError::NoHandler {
        event_type,
        handled,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert!(event_type.ends_with("DataChange<unmatched::Invoice>"));
    assert_eq!(*handled, Some("unmatched::Invoice"));
    assert_eq!(
        err.to_string(),
        "dynamodb route `pk prefix \"INVOICE#\"` produces \
         `eventrail::dynamodb::DataChange<unmatched::Invoice>`, which has no handler on the bus; \
         there is a handler for `Invoice`, but this route wraps it in `DataChange<Invoice>`: \
         make that handler take `Envelope<DataChange<Invoice>>`"
    );

    // The other way round: a handler for the wrapper, a route for the bare type.
    let bus = Bus::builder()
        .on(handler_fn(|_: Envelope<DataChange<Mail>>| async {
            Ok::<_, HandlerError>(())
        }))
        .build();
    let err = App::builder(Router::new().sqs("type", "MAIL").to::<Mail>(), bus)
        .build()
        .unwrap_err();
    assert!(
        err.to_string().ends_with(
            "there is a handler for `DataChange<Mail>`, but this route delivers the bare `Mail`: \
             make that handler take `Envelope<Mail>`"
        ),
        "{err}"
    );

    // Unrelated types: no hint.
    let bus = Bus::builder()
        .on(handler_fn(|_: Envelope<Click>| async {
            Ok::<_, HandlerError>(())
        }))
        .build();
    let err = App::builder(Router::new().sqs("type", "MAIL").to::<Mail>(), bus)
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::NoHandler { handled: None, .. }));
    assert!(err.to_string().ends_with("which has no handler on the bus"));
}
