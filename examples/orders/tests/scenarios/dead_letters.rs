//! The dead-letter queue: stored, then a `CRITICAL` alarm.

use super::*;

#[tokio::test(start_paused = true)]
async fn a_dead_letter_is_stored_and_raises_a_critical_alarm() {
    let o = orders();
    let source = "arn:aws:sqs:eu-west-1:111122223333:orders-notifications";
    let batch = sqs::batch([
        sqs::message("not json at all")
            .queue("orders-notifications-dlq")
            .receive_count(5)
            .system_attribute("DeadLetterQueueSourceArn", source),
        sqs::message(notification("ana@example.com", "EMAIL").to_string())
            .queue("orders-notifications-dlq")
            .system_attribute("DeadLetterQueueSourceArn", source),
    ]);
    let ids = batch.message_ids();
    let out = o.app.send(batch).await;
    out.assert_all_done();
    // A dead letter is never handled as its body says.
    assert!(o.app.ses().outbox().is_empty());
    let key = format!("dead-letters/orders-notifications/{}.json", ids[0]);
    let stored: Value = serde_json::from_slice(&o.app.s3().body(BUCKET, &key).unwrap()).unwrap();
    assert_eq!(stored["body"], "not json at all");
    assert_eq!(stored["sourceQueueArn"], source);
    assert_eq!(stored["receiveCount"], 5);
    let alarms = o.app.sns().published_to(ALARMS_TOPIC);
    assert_eq!(alarms.len(), 2);
    let alarm: Value = serde_json::from_str(&alarms[0].message).unwrap();
    assert_eq!(alarm["severity"], "CRITICAL");
    assert_eq!(alarm["source"], "store-dead-letter");
}
