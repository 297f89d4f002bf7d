//! The dead-letter layer and the batch summary alarm.

mod layers_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use eventrail::app::BatchAlarm;
use eventrail::app::{Invocation, SourceEvent};
use eventrail::layers::dead_letter::{DeadLetter, DeadLetterLayer, DeadLetterSink};
use eventrail::layers::{AlarmService, RetryPolicy, ServiceBuilderExt};
use eventrail::ports::{PortError, TokioClock};
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
use layers_support::{env, Topic};
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

#[derive(Debug, serde::Deserialize)]
struct Order {
    id: u32,
}

/// What a sink saw of one letter.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    record_id: String,
    order: u32,
    error: String,
    attempts: u32,
    retryable: bool,
    failed_at: SystemTime,
}

#[derive(Debug, Default)]
struct Sink {
    seen: Mutex<Vec<Seen>>,
    broken: bool,
}

#[async_trait::async_trait]
impl DeadLetterSink<Order> for Sink {
    async fn store(&self, letter: DeadLetter<'_, Order>) -> Result<(), PortError> {
        if self.broken {
            return Err(PortError::retryable("table unavailable"));
        }
        self.seen.lock().unwrap().push(Seen {
            record_id: letter.envelope.meta().record_id().to_owned(),
            order: letter.envelope.event().id,
            error: letter.error.to_string(),
            attempts: letter.attempts,
            retryable: letter.retryable,
            failed_at: letter.failed_at,
        });
        Ok(())
    }
}

fn order(id: u32) -> Envelope<Order> {
    env(Order { id }, &format!("m-{id}"))
}

#[tokio::test(start_paused = true)]
async fn a_final_failure_reaches_the_sink_with_its_attempt_count() {
    let sink = Arc::new(Sink::default());
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let mut svc = ServiceBuilder::new()
        .layer(DeadLetterLayer::new(sink.clone()).with_clock(Arc::new(TokioClock::starting_at(t0))))
        .retries(RetryPolicy::default())
        .service(handler_fn(|_: Envelope<Order>| async {
            Err::<(), _>(HandlerError::retryable("warehouse API down"))
        }));
    let err = svc.ready().await.unwrap().call(order(7)).await.unwrap_err();
    assert!(
        err.is::<HandlerError>(),
        "the handler's error is still returned"
    );
    assert_eq!(
        *sink.seen.lock().unwrap(),
        [Seen {
            record_id: "m-7".into(),
            order: 7,
            error: "warehouse API down".into(),
            attempts: 3,
            retryable: true,
            failed_at: t0 + Duration::from_secs(3),
        }]
    );
}

#[tokio::test(start_paused = true)]
async fn successes_are_not_dead_lettered() {
    let sink = Arc::new(Sink::default());
    let mut svc = ServiceBuilder::new()
        .dead_letter(sink.clone() as Arc<dyn DeadLetterSink<Order>>)
        .service(handler_fn(|e: Envelope<Order>| async move {
            Ok::<_, HandlerError>(e.id)
        }));
    assert_eq!(svc.ready().await.unwrap().call(order(1)).await.unwrap(), 1);
    assert!(sink.seen.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_failing_sink_is_counted_and_does_not_mask_the_error() {
    let sink = Arc::new(Sink {
        broken: true,
        ..Sink::default()
    });
    let layer = DeadLetterLayer::new(sink.clone());
    let mut svc = layer.layer(handler_fn(|_: Envelope<Order>| async {
        Err::<(), _>(HandlerError::permanent("unknown product"))
    }));
    let err = svc.ready().await.unwrap().call(order(1)).await.unwrap_err();
    assert_eq!(err.to_string(), "unknown product");
    assert!(err.is::<HandlerError>());
    assert_eq!(layer.failed_stores(), 1);
}

fn app() -> App {
    App::builder(
        Router::new().sqs("type", "ORDER").to::<Order>(),
        Bus::builder()
            .on(handler_fn(|o: Envelope<Order>| async move {
                match o.id {
                    0 => Err(HandlerError::permanent("order 0 does not exist")),
                    13 => Err(HandlerError::retryable("inventory busy")),
                    n => Ok(n),
                }
            }))
            .build(),
    )
    .build()
    .unwrap()
}

fn batch(ids: &[u32]) -> SourceEvent {
    let records: Vec<_> = ids
        .iter()
        .map(|id| serde_json::json!({ "messageId": format!("m-{id}"), "body": format!(r#"{{"type":"ORDER","id":{id}}}"#) }))
        .collect();
    SourceEvent::Sqs(serde_json::from_value(serde_json::json!({ "Records": records })).unwrap())
}

#[tokio::test(start_paused = true)]
async fn a_batch_with_failures_gets_one_warning_summary() {
    let topic = Topic::new();
    let summary = BatchAlarm::new(
        AlarmService::new(topic.clone(), "arn:aws:sns:us-east-1:1:alarms"),
        "OrderConsumer",
    );
    let report = app()
        .process(batch(&[1, 0, 2, 13, 3]), &Invocation::default())
        .await;
    assert!(summary.publish(&report).await.unwrap());

    let sent = topic.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].subject.as_deref(),
        Some("[WARNING] OrderConsumer: 2 of 5 records failed")
    );
    let body = &topic.bodies()[0];
    assert_eq!(body["severity"], "WARNING");
    let details = &body["details"];
    assert_eq!(details["total"], 5);
    assert_eq!(details["failed"], 2);
    assert_eq!(details["succeeded"], 3);
    assert_eq!(details["source"], "sqs");
    assert_eq!(
        details["failedRecords"],
        serde_json::json!([
            { "recordId": "m-0", "retryable": false, "attempted": true, "error": "order 0 does not exist" },
            { "recordId": "m-13", "retryable": true, "attempted": true, "error": "inventory busy" },
        ])
    );
}

#[tokio::test(start_paused = true)]
async fn a_clean_batch_sends_nothing_and_long_lists_are_capped() {
    let topic = Topic::new();
    let summary =
        BatchAlarm::new(AlarmService::new(topic.clone(), "arn"), "OrderConsumer").max_listed(1);
    let clean = app().process(batch(&[1, 2]), &Invocation::default()).await;
    assert!(!summary.publish(&clean).await.unwrap());
    assert!(topic.messages().is_empty());

    let bad = app()
        .process(batch(&[0, 13, 0]), &Invocation::default())
        .await;
    let alarm = summary.alarm_for(&bad).unwrap();
    let details = alarm.details.unwrap();
    assert_eq!(details["failedRecords"].as_array().unwrap().len(), 1);
    assert_eq!(details["unlisted"], 2);
    assert_eq!(details["failed"], 3);
}
