//! The guide's scenarios through the testkit, one test (or a few) per
//! bullet of the example's route table: raw events in, what reached the
//! fakes and the ports out, on tokio's paused clock.

use std::sync::Arc;

use eventrail_testkit::fakes::Fault;
use eventrail_testkit::{dynamodb, s3, sqs, step_functions, Fakes, TestApp};
use example_orders::fakes::UPLOADS_BUCKET;
use example_orders::ports::{ItemKey, MemoryCache, MemoryExternalSync};
use example_orders::{app_builder, Journal, ALARMS_TOPIC, BUCKET, ORDERS_TOPIC};
use serde_json::{json, Value};

struct Orders {
    app: TestApp,
    journal: Journal,
    cache: MemoryCache,
    erp: MemoryExternalSync,
}

fn orders() -> Orders {
    let (journal, cache, erp) = (
        Journal::default(),
        MemoryCache::default(),
        MemoryExternalSync::default(),
    );
    let app = TestApp::new(|fakes: &Fakes| {
        let mut ports = example_orders::fakes::ports(fakes);
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

fn alarm_subjects(app: &TestApp) -> Vec<String> {
    app.sns()
        .published_to(ALARMS_TOPIC)
        .into_iter()
        .map(|m| m.subject.unwrap_or_default())
        .collect()
}

// ---------------------------------------------------------------- S3

#[tokio::test(start_paused = true)]
async fn s3_csv_import_reads_the_object_and_reports_bad_rows() {
    let o = orders();
    o.app.s3().seed(
        UPLOADS_BUCKET,
        "imports/csv/batch 7.csv",
        "order_id,email,total,items\n1,a@example.com,100,1\nbroken line\n3,c@example.com,x,1\n4,d@example.com,400,2\n",
    );
    let put = s3::put(UPLOADS_BUCKET, "imports/csv/batch 7.csv", 90);
    let id = put.record_id();
    let out = o.app.send(s3::batch([put])).await;
    out.assert_all_done();
    let summary = out.output(&id).unwrap();
    assert_eq!(summary["imported"], 2);
    assert_eq!(summary["totalCents"], 500);
    let bad: Vec<u64> = summary["badRows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["line"].as_u64().unwrap())
        .collect();
    assert_eq!(bad, [3, 4]);
}

#[tokio::test(start_paused = true)]
async fn s3_a_missing_import_fails_permanently_with_an_alarm() {
    let o = orders();
    let out = o
        .app
        .send(s3::batch([s3::put(
            UPLOADS_BUCKET,
            "imports/csv/gone.csv",
            1,
        )]))
        .await;
    assert_eq!(out.failed().len(), 1);
    assert!(
        out.invocation_error().is_some(),
        "S3 reports failures as an invocation error"
    );
    assert_eq!(
        o.journal.counts_of("import-csv").retried,
        0,
        "NoSuchKey is not retried"
    );
    assert_eq!(alarm_subjects(&o.app).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn s3_uploads_are_dispatched_by_extension_and_others_skipped_with_a_reason() {
    let o = orders();
    let files = [
        ("uploads/a.CSV", "x,y\n1,2\n"),
        ("uploads/b.xls", "sheet"),
        ("uploads/c.pdf", "%PDF-1.7"),
        ("uploads/d.jpeg", "jpeg"),
        ("uploads/e.png", "png"),
    ];
    for (k, body) in files {
        o.app.s3().seed(UPLOADS_BUCKET, k, body);
    }
    let mut records: Vec<_> = files
        .iter()
        .map(|(k, b)| s3::put(UPLOADS_BUCKET, *k, b.len() as u64))
        .collect();
    records.push(s3::put(UPLOADS_BUCKET, "uploads/virus.exe", 10));
    records.push(s3::put(UPLOADS_BUCKET, "uploads/Makefile", 10));
    let ids: Vec<String> = records.iter().map(|r| r.record_id()).collect();
    let out = o.app.send(s3::batch(records)).await;
    out.assert_all_done();

    let kinds: Vec<&Value> = ids[..5]
        .iter()
        .map(|id| &out.output(id).unwrap()["kind"])
        .collect();
    assert_eq!(
        kinds,
        [
            &json!("csv"),
            &json!("spreadsheet"),
            &json!("pdf"),
            &json!("image"),
            &json!("image")
        ]
    );
    assert_eq!(out.output(&ids[0]).unwrap()["rows"], 1);
    assert_eq!(
        out.output(&ids[5]),
        Some(
            &json!({"status": "skipped", "reason": "unsupported file type .exe (uploads/virus.exe)"})
        )
    );
    assert_eq!(out.output(&ids[6]).unwrap()["status"], "skipped");
    let counts = o.journal.counts_of("file-upload");
    assert_eq!((counts.processed, counts.skipped, counts.failed), (7, 2, 0));
    assert!(alarm_subjects(&o.app).is_empty());
}

#[tokio::test(start_paused = true)]
async fn s3_keys_decode_as_s3_encodes_them_up_to_1024_bytes() {
    let o = orders();
    // `+` is a space, `%2B` a plus, `%C3%A9` an é.
    let decoded = "uploads/a b+c caf\u{e9}.pdf";
    o.app.s3().seed(UPLOADS_BUCKET, decoded, "%PDF");
    let put = s3::put(UPLOADS_BUCKET, decoded, 4).raw_key("uploads/a+b%2Bc+caf%C3%A9.pdf");
    let id = put.record_id();
    let out = o.app.send(s3::batch([put])).await;
    out.assert_all_done();
    assert_eq!(out.output(&id).unwrap()["key"], decoded);

    // The longest key S3 allows: 1 024 bytes once decoded (2-byte characters).
    let long = format!("uploads/{}.png", "\u{e9}".repeat((1024 - 12) / 2));
    assert_eq!(long.len(), 1024);
    o.app.s3().seed(UPLOADS_BUCKET, &long, "png");
    let put = s3::put(UPLOADS_BUCKET, &long, 3);
    let id = put.record_id();
    let out = o.app.send(s3::batch([put])).await;
    out.assert_all_done();
    assert_eq!(out.output(&id).unwrap()["key"], long.as_str());
}

// ---------------------------------------------------------------- Step Functions

#[tokio::test(start_paused = true)]
async fn step_functions_csv_import_reports_the_summary_with_the_token() {
    let o = orders();
    o.app.s3().seed(
        UPLOADS_BUCKET,
        "imports/csv/x.csv",
        "order_id,email,total,items\n9,z@example.com,900,1\n",
    );
    let (token, task) = o.app.sfn().task(json!({
        "type": "CSV_IMPORT", "payload": {"bucket": UPLOADS_BUCKET, "key": "imports/csv/x.csv"}
    }));
    let out = o.app.send(task).await;
    let summary = o.app.sfn().succeeded(&token).expect("task succeeded");
    assert_eq!(summary["imported"], 1);
    assert_eq!(out.response(), Some(&summary));
    assert_eq!(o.journal.counts_of("import-csv").tokens, 1);
}

#[tokio::test(start_paused = true)]
async fn step_functions_order_process_succeeds_or_fails_the_task_with_an_alarm() {
    let o = orders();
    let (ok, task) = o.app.sfn().task(json!({
        "type": "ORDER_PROCESS", "payload": {"orderId": "1001", "items": 3}
    }));
    o.app.send(task).await;
    assert_eq!(
        o.app.sfn().succeeded(&ok),
        Some(json!({"orderId": "1001", "items": 3,
                    "reservation": "s3://orders-data/inventory/reservations/1001.json"}))
    );
    assert!(o
        .app
        .s3()
        .body(BUCKET, "inventory/reservations/1001.json")
        .is_some());

    let (bad, task) = o.app.sfn().task(json!({
        "type": "ORDER_PROCESS", "payload": {"orderId": "1003", "items": 0}
    }));
    let out = o.app.send(task).await;
    assert!(out.invocation_error().is_some());
    let (error, cause) = o.app.sfn().failed(&bad).expect("task failed");
    assert_eq!(error, "eventrail.PermanentError");
    assert!(cause.contains("order 1003 has no items"), "{cause}");
    assert_eq!(
        alarm_subjects(&o.app),
        ["[ERROR] process-order: order 1003 has no items"]
    );
}

#[tokio::test(start_paused = true)]
async fn step_functions_an_unknown_type_fails_the_invocation_clearly() {
    let o = orders();
    let out = o
        .app
        .send(step_functions::task(
            json!({"type": "REFUND", "payload": {}}),
            "AQCEtoken",
        ))
        .await;
    let err = out
        .invocation_error()
        .expect("the invocation fails")
        .to_string();
    assert!(
        err.contains(r#"unknown Step Functions task type "REFUND"; expected one of ["CSV_IMPORT", "ORDER_PROCESS"]"#),
        "{err}"
    );
    assert!(!out.failure("task").unwrap().retry.is_retryable());
}

// ---------------------------------------------------------------- SQS notifications

fn notification(to: &str, channel: &str) -> Value {
    json!({"type": "NOTIFICATION", "channel": channel, "recipient": to,
           "subject": "Order confirmed", "body": "Thanks"})
}

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

// ---------------------------------------------------------------- DynamoDB Streams

#[tokio::test(start_paused = true)]
async fn dynamodb_changes_invalidate_the_cache_and_sync_remove_deletes() {
    let o = orders();
    let pkey = ItemKey::new("PRODUCT#7", "META");
    o.cache.put(pkey.clone(), json!({}));
    let product = json!({"pk": "PRODUCT#7", "sk": "META", "name": "Saucer", "price": 400});
    let user =
        json!({"pk": "USER#ana", "sk": "PROFILE", "email": "ana@example.com", "name": "Ana"});
    let order =
        json!({"pk": "ORDER#5", "sk": "META", "email": "e@example.com", "total": 100, "items": 1});
    let keys = |v: &Value| json!({"pk": v["pk"], "sk": v["sk"]});
    let out = o
        .app
        .send(dynamodb::batch([
            dynamodb::insert(keys(&product), &product),
            dynamodb::modify(keys(&user), &user, &user),
            dynamodb::modify(keys(&order), &order, &order),
            dynamodb::remove(keys(&product), &product),
        ]))
        .await;
    out.assert_all_done();
    assert_eq!(
        o.erp.operations(),
        [
            "upsert PRODUCT PRODUCT#7/META",
            "upsert USER USER#ana/PROFILE",
            "upsert ORDER ORDER#5/META",
            "delete PRODUCT PRODUCT#7/META",
        ]
    );
    assert_eq!(o.erp.item("PRODUCT", &pkey), None);
    assert_eq!(o.cache.get(&pkey), None);
    assert_eq!(o.cache.invalidated().len(), 4);
    // A changed order is synced but is not a new order: no fan-out.
    assert!(o.app.ses().outbox().is_empty());
}

#[tokio::test(start_paused = true)]
async fn dynamodb_an_image_that_does_not_decode_fails_and_stops_the_shard() {
    let o = orders();
    let good = json!({"pk": "USER#a", "sk": "P", "email": "a@example.com"});
    let bad = json!({"pk": "USER#b", "sk": "P"});
    let after = json!({"pk": "USER#c", "sk": "P", "email": "c@example.com"});
    let keys = |v: &Value| json!({"pk": v["pk"], "sk": v["sk"]});
    let stream = dynamodb::batch([
        dynamodb::insert(keys(&good), &good),
        dynamodb::insert(keys(&bad), &bad),
        dynamodb::insert(keys(&after), &after),
    ]);
    let seq = stream.sequence_numbers();
    let out = o.app.send(stream).await;
    assert_eq!(out.batch_item_failures(), [seq[1].clone()]);
    assert_eq!(
        o.erp.operations(),
        ["upsert USER USER#a/P"],
        "USER#c was not started"
    );
}

// ---------------------------------------------------------------- order created fan-out

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

// ---------------------------------------------------------------- dead-letter queue

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

// ---------------------------------------------------------------- the production stack

#[tokio::test(start_paused = true)]
async fn every_handler_runs_behind_retry_and_idempotency() {
    let o = orders();
    o.app.ses().fail_next(2, Fault::throttled());
    let batch = sqs::batch([sqs::message(
        notification("ana@example.com", "EMAIL").to_string(),
    )]);
    let out = o.app.send(batch.clone()).await;
    out.assert_all_done();
    assert_eq!(out.retried(), 1);
    let again = o.app.send(batch).await;
    again.assert_all_done();
    assert_eq!(again.duplicates(), 1);
    assert_eq!(o.app.ses().sent_to("ana@example.com").len(), 1);
    let c = o.journal.counts_of("send-notification");
    assert_eq!(
        (c.processed, c.retried, c.duplicates, c.mails),
        (1, 2, 1, 1)
    );
    assert!(
        alarm_subjects(&o.app).is_empty(),
        "a retry that succeeds raises no alarm"
    );
}
