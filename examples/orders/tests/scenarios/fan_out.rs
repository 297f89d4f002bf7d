//! The new-order fan-out: three handlers, done only when all three are.

use super::*;

fn new_order() -> dynamodb::Batch {
    let order = json!({"pk": "ORDER#1001", "sk": "META", "email": "ana@example.com",
                       "total": 4200, "items": 3, "status": "NEW"});
    dynamodb::batch([dynamodb::insert(
        json!({"pk": "ORDER#1001", "sk": "META"}),
        &order,
    )])
}

#[tokio::test(start_paused = true)]
async fn a_new_order_reserves_inventory_confirms_and_starts_the_follow_up() {
    let o = orders();
    let out = o.app.send(new_order()).await;
    out.assert_all_done();
    let reservation = o
        .app
        .s3()
        .body(BUCKET, "inventory/reservations/1001.json")
        .unwrap();
    let reservation: Value = serde_json::from_slice(&reservation).unwrap();
    assert_eq!(reservation, json!({"orderId": "1001", "items": 3}));
    assert_eq!(
        o.app.ses().sent_to("ana@example.com")[0].subject,
        "Order 1001 confirmed"
    );
    let follow_up: Value =
        serde_json::from_str(&o.app.sns().published_to(ORDERS_TOPIC)[0].message).unwrap();
    assert_eq!(follow_up["orderId"], "1001");
    assert!(o
        .erp
        .item("ORDER", &ItemKey::new("ORDER#1001", "META"))
        .is_some());
}

#[tokio::test(start_paused = true)]
async fn a_new_order_is_done_only_when_all_three_handlers_are() {
    let o = orders();
    o.app
        .sns()
        .fail_when(|m| m.topic_arn == ORDERS_TOPIC, Fault::access_denied());
    let stream = new_order();
    let seq = stream.sequence_numbers();
    let out = o.app.send(stream).await;
    assert_eq!(
        out.batch_item_failures(),
        seq,
        "the follow-up failed: the order is not done"
    );
    // The other two ran.
    assert!(o
        .app
        .s3()
        .body(BUCKET, "inventory/reservations/1001.json")
        .is_some());
    assert_eq!(o.app.ses().sent_to("ana@example.com").len(), 1);
    assert_eq!(o.journal.counts_of("start-follow-up").failed, 1);

    // Redelivered once SNS works again: only the follow-up runs again.
    o.app.sns().clear_faults();
    let out = o.app.send(new_order()).await;
    out.assert_all_done();
    assert_eq!(
        o.app.ses().sent_to("ana@example.com").len(),
        1,
        "no second confirmation"
    );
    assert_eq!(o.app.sns().published_to(ORDERS_TOPIC).len(), 1);
    assert_eq!(o.journal.counts_of("send-confirmation").duplicates, 1);
}
