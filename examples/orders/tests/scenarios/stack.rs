//! The production stack every handler runs behind: retries and idempotency.

use super::*;

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
