//! The order app tested with the testkit: raw events in, what reached SES,
//! SNS and Step Functions out, on tokio's paused clock.

use eventrail::layers::AlarmService;
use eventrail_testkit::fakes::Fault;
use eventrail_testkit::{dynamodb, sqs, Fakes, TestApp};
use example_orders::{app_builder, Journal, Ports, ALARMS_TOPIC, FROM, ORDERS_TOPIC};
use serde_json::json;

fn orders() -> TestApp {
    TestApp::new(|fakes: &Fakes| {
        fakes.ses().verify(FROM);
        let ports = Ports {
            mailer: fakes.mailer(),
            notifier: fakes.notifier(),
            objects: fakes.object_store(),
            task_callbacks: fakes.task_callbacks(),
            idempotency: fakes.idempotency_store(),
            alarms: AlarmService::new(fakes.notifier(), ALARMS_TOPIC).with_environment("test"),
        };
        app_builder(&ports, &Journal::default())
    })
}

fn notification(to: &str, channel: &str) -> String {
    json!({"type": "NOTIFICATION", "channel": channel, "recipient": to,
           "subject": "Order confirmed", "body": "Thanks"})
    .to_string()
}

#[tokio::test(start_paused = true)]
async fn notifications_batch_reports_exactly_the_failed_messages() {
    let app = orders();
    let batch = sqs::batch([
        sqs::message(notification("ana@example.com", "EMAIL")),
        sqs::message(r#"{"type": "NOTIFICATION", "recipient": "#),
        sqs::message(notification("+15550100", "SMS")),
    ]);
    let ids = batch.message_ids();
    let out = app.send(batch).await;

    assert_eq!(
        out.response(),
        Some(&json!({"batchItemFailures": [
            {"itemIdentifier": ids[1]}, {"itemIdentifier": ids[2]}
        ]}))
    );
    assert_eq!(app.ses().sent_to("ana@example.com").len(), 1);
    // The SMS notification reached its handler and failed for good: one alarm.
    // The malformed body never reached a handler: no alarm, but still reported.
    let alarms = app.sns().published_to(ALARMS_TOPIC);
    assert_eq!(alarms.len(), 1);
    let alarm: serde_json::Value = serde_json::from_str(&alarms[0].message).unwrap();
    assert_eq!(alarm["eventId"], ids[2]);
}

#[tokio::test(start_paused = true)]
async fn a_throttled_mail_is_retried_after_the_backoff() {
    let app = orders();
    app.ses().fail_next(1, Fault::throttled());
    let out = app
        .send(sqs::batch([sqs::message(notification(
            "bo@example.com",
            "EMAIL",
        ))]))
        .await;
    assert_eq!(out.response(), Some(&json!({"batchItemFailures": []})));
    assert_eq!(app.ses().sent_to("bo@example.com").len(), 1);
    assert!(app.sns().published_to(ALARMS_TOPIC).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_redelivered_new_order_is_confirmed_once() {
    let app = orders();
    let keys = json!({"pk": "ORDER#1001", "sk": "META"});
    let order =
        json!({"pk": "ORDER#1001", "sk": "META", "email": "ana@example.com", "total": 4200});
    let stream = dynamodb::batch([dynamodb::insert(&keys, &order)]);

    for _ in 0..2 {
        let out = app.send(stream.clone()).await;
        assert_eq!(out.response(), Some(&json!({"batchItemFailures": []})));
    }
    assert_eq!(app.ses().sent_to("ana@example.com").len(), 1);
    assert_eq!(app.sns().published_to(ORDERS_TOPIC).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_step_functions_task_reports_its_result_with_the_token() {
    let app = orders();
    let (token, task) = app.sfn().task(json!({
        "type": "ORDER_PROCESS", "payload": {"orderId": "1001", "items": 3}
    }));
    let out = app.send(task).await;
    let result = json!({"orderId": "1001", "reserved": true});
    assert_eq!(out.response(), Some(&result));
    assert_eq!(app.sfn().succeeded(&token), Some(result));
}
