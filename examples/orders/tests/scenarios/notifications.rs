//! SQS notifications: e-mail (plain and templated), SMS and push skipped, other channels, sync requests, poison records.

use super::*;

#[tokio::test(start_paused = true)]
async fn sqs_email_is_sent_plain_or_templated() {
    let o = orders();
    let mut templated = notification("bo@example.com", "EMAIL");
    templated["templateId"] = "order-confirmed".into();
    templated["templateData"] = json!({"name": "Bo", "orderId": "1002"});
    let out = o
        .app
        .send(sqs::batch([
            sqs::message(notification("ana@example.com", "EMAIL").to_string()),
            sqs::message(templated.to_string()),
        ]))
        .await;
    out.assert_all_done();
    let ana = o.app.ses().sent_to("ana@example.com");
    assert_eq!(
        (ana[0].subject.as_str(), ana[0].text.as_deref()),
        ("Order confirmed", Some("Thanks"))
    );
    let bo = o.app.ses().sent_to("bo@example.com");
    assert_eq!(bo[0].template.as_deref(), Some("order-confirmed"));
    assert_eq!(bo[0].subject, "Order 1002 confirmed");
    assert_eq!(
        bo[0].text.as_deref(),
        Some("Hello Bo, your order 1002 is confirmed.")
    );
}

#[tokio::test(start_paused = true)]
async fn sqs_sms_and_push_are_skipped_and_other_channels_fail_permanently() {
    let o = orders();
    let batch = sqs::batch([
        sqs::message(notification("+15550100", "SMS").to_string()),
        sqs::message(notification("device-1", "PUSH").to_string()),
        sqs::message(notification("+15550199", "FAX").to_string()),
    ]);
    let ids = batch.message_ids();
    let out = o.app.send(batch).await;
    assert_eq!(out.batch_item_failures(), [ids[2].clone()]);
    assert_eq!(out.output(&ids[0]).unwrap()["status"], "skipped");
    assert_eq!(out.output(&ids[1]).unwrap()["status"], "skipped");
    assert!(!out.failure(&ids[2]).unwrap().retry.is_retryable());
    assert!(o.app.ses().outbox().is_empty());
    assert_eq!(o.journal.counts_of("send-notification").skipped, 2);
}

#[tokio::test(start_paused = true)]
async fn sqs_sync_request_invalidates_and_requests_a_sync() {
    let o = orders();
    let key = ItemKey::new("ORDER#1001", "META");
    o.cache.put(key.clone(), json!({"stale": true}));
    let out = o
        .app
        .send(sqs::batch([sqs::message(
            json!({"type": "SYNC_REQUEST", "entity": "ORDER", "pk": "ORDER#1001", "sk": "META"})
                .to_string(),
        )]))
        .await;
    out.assert_all_done();
    assert_eq!(o.cache.get(&key), None);
    assert!(o.erp.was_requested("ORDER", &key));
}

#[tokio::test(start_paused = true)]
async fn sqs_malformed_json_or_an_unknown_type_fails_only_that_record() {
    let o = orders();
    let batch = sqs::batch([
        sqs::message("{not json"),
        sqs::message(json!({"type": "REFUND_REQUEST"}).to_string()),
        sqs::message(notification("ana@example.com", "EMAIL").to_string()),
    ]);
    let ids = batch.message_ids();
    let out = o.app.send(batch).await;
    assert_eq!(out.batch_item_failures(), ids[..2]);
    assert_eq!(o.app.ses().sent_to("ana@example.com").len(), 1);
}
