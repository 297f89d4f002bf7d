//! A redelivery that arrives while the first delivery still runs, through a
//! whole SQS app with the recommended stack (alarm and dead letter outside
//! idempotency): the duplicate fails retryably, so SQS delivers it again, but
//! it is not a final failure, so no alarm reaches the topic and no dead
//! letter reaches the sink.

mod layers_support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use eventrail::app::{BatchAlarm, Invocation, SourceEvent, Status};
use eventrail::layers::dead_letter::{DeadLetter, DeadLetterSink};
use eventrail::layers::idempotency::{is_in_progress_elsewhere, IdempotencyError};
use eventrail::layers::{
    AlarmService, IdempotencyOptions, MemoryIdempotencyStore, RetryPolicy, ServiceBuilderExt,
};
use eventrail::ports::PortError;
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
use layers_support::Topic;
use serde::{Deserialize, Serialize};
use tower::ServiceBuilder;

#[derive(Debug, Serialize, Deserialize)]
struct ChargeCard {
    payment_id: String,
    /// Test knob: `slow` takes 5 s, `declined` fails permanently.
    behaviour: String,
}

#[derive(Debug, Default)]
struct Letters(Mutex<Vec<String>>);

#[async_trait::async_trait]
impl DeadLetterSink<ChargeCard> for Letters {
    async fn store(&self, letter: DeadLetter<'_, ChargeCard>) -> Result<(), PortError> {
        self.0
            .lock()
            .unwrap()
            .push(letter.envelope.meta().record_id().to_owned());
        Ok(())
    }
}

struct World {
    app: App,
    topic: Arc<Topic>,
    letters: Arc<Letters>,
    runs: Arc<AtomicU32>,
}

fn world() -> World {
    let topic = Topic::new();
    let letters = Arc::new(Letters::default());
    let runs = Arc::new(AtomicU32::new(0));
    let alarms = AlarmService::new(topic.clone(), "arn:aws:sns:eu-west-1:123456789012:alarms");
    let counted = runs.clone();
    let handler = ServiceBuilder::new()
        .traced()
        .alarm(alarms, "ChargeCardHandler")
        .dead_letter(letters.clone() as Arc<dyn DeadLetterSink<ChargeCard>>)
        .idempotent(
            Arc::new(MemoryIdempotencyStore::new()),
            |e: &Envelope<ChargeCard>| Some(e.payment_id.clone()),
            IdempotencyOptions::new().with_payload_hash(),
        )
        .deadline_timeout(Duration::from_secs(25))
        .retries(RetryPolicy::default())
        .service(handler_fn(move |e: Envelope<ChargeCard>| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                match e.behaviour.as_str() {
                    "slow" => tokio::time::sleep(Duration::from_secs(5)).await,
                    "declined" => return Err(HandlerError::permanent("card declined")),
                    _ => {}
                }
                Ok(format!("charged {}", e.payment_id))
            }
        }));
    let bus = Bus::builder()
        .on_named("ChargeCardHandler", handler)
        .build();
    let router = Router::new().sqs("type", "CHARGE_CARD").to::<ChargeCard>();
    World {
        app: App::builder(router, bus).build().unwrap(),
        topic,
        letters,
        runs,
    }
}

/// One SQS message; a redelivery has the same message id.
fn delivery(message_id: &str, payment_id: &str, behaviour: &str) -> SourceEvent {
    let body = serde_json::json!({
        "type": "CHARGE_CARD",
        "payment_id": payment_id,
        "behaviour": behaviour,
    })
    .to_string();
    let event: SqsEvent = serde_json::from_value(serde_json::json!({"Records": [{
        "messageId": message_id,
        "receiptHandle": "rh",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:payments",
        "awsRegion": "eu-west-1",
    }]}))
    .unwrap();
    SourceEvent::Sqs(event)
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_in_progress_neither_alarms_nor_dead_letters() {
    let w = world();
    let app = w.app.clone();
    let first = tokio::spawn(async move {
        app.process(delivery("m-1", "p-1", "slow"), &Invocation::default())
            .await
    });
    tokio::time::sleep(Duration::from_secs(1)).await;

    // SQS redelivers m-1 (visibility timeout) while the first still runs.
    let dup = w
        .app
        .process(delivery("m-1", "p-1", "slow"), &Invocation::default())
        .await;
    let Status::Failed(f) = &dup.outcomes[0].status else {
        panic!("the duplicate must fail: {dup:?}")
    };
    assert!(f.retry.is_retryable(), "SQS delivers it again");
    assert!(is_in_progress_elsewhere(&*f.error));
    assert!(f
        .error
        .downcast_ref::<IdempotencyError>()
        .is_some_and(IdempotencyError::is_in_progress));
    assert_eq!(dup.failed_ids().collect::<Vec<_>>(), ["m-1"]);
    assert_eq!(dup.counts().alarms_sent, 0);
    assert_eq!(dup.counts().dead_lettered, 0);
    assert!(w.topic.messages().is_empty(), "{:?}", w.topic.messages());
    assert!(w.letters.0.lock().unwrap().is_empty());
    // Nor does a batch summary alarm for it.
    assert!(batch_alarm(&w).alarm_for(&dup).is_none());

    // The first delivery ends well; the next redelivery gets its result.
    let first = first.await.unwrap();
    assert!(matches!(&first.outcomes[0].status, Status::Done(v) if v == "charged p-1"));
    let again = w
        .app
        .process(delivery("m-1", "p-1", "slow"), &Invocation::default())
        .await;
    assert!(matches!(&again.outcomes[0].status, Status::Done(v) if v == "charged p-1"));
    assert_eq!(again.duplicates(), 1);
    assert_eq!(
        w.runs.load(Ordering::SeqCst),
        1,
        "the card was charged once"
    );
    assert!(w.topic.messages().is_empty());
    assert!(w.letters.0.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_final_failure_behind_the_same_stack_still_alarms_and_dead_letters() {
    let w = world();
    let report = w
        .app
        .process(delivery("m-2", "p-2", "declined"), &Invocation::default())
        .await;
    assert_eq!(report.failed_ids().collect::<Vec<_>>(), ["m-2"]);
    assert_eq!(report.counts().alarms_sent, 1);
    let bodies = w.topic.bodies();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["source"], "ChargeCardHandler");
    assert_eq!(bodies[0]["message"], "card declined");
    assert_eq!(*w.letters.0.lock().unwrap(), ["m-2"]);
    let summary = batch_alarm(&w).alarm_for(&report).unwrap();
    assert_eq!(summary.message, "1 of 1 records failed");
}

fn batch_alarm(w: &World) -> BatchAlarm {
    BatchAlarm::new(
        AlarmService::new(w.topic.clone(), "arn:aws:sns:eu-west-1:123456789012:alarms"),
        "ChargeCardConsumer",
    )
}
