//! Step Functions: both tasks behind the task-token layer, and an unknown type.

use super::*;

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
