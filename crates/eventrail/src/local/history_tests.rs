//! Backends without history: they answer as with it, keep their state, and
//! keep no call, mail or message.

use std::cell::Cell;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde_json::json;

use super::*;
use crate::envelope::{Envelope, Metadata, Source};
use crate::layers::{DeadLetter, DeadLetterSink};
use crate::ports::{Email, IdempotencyRecord, LockOutcome, PortError, SnsMessage};

#[test]
fn a_discarding_log_counts_and_keeps_nothing() {
    let log = CallLog::<String>::discarding();
    assert!(!log.keeps_calls());
    assert!(log.record("a".into(), Ok::<_, PortError>(1)).is_ok());
    let err = log.record("b".into(), Err::<(), _>(PortError::permanent("no")));
    assert_eq!(err.unwrap_err().message(), "no");
    assert_eq!(log.len(), 2);
    assert!(!log.is_empty());
    assert!(log.calls().is_empty());
    assert!(log.succeeded().is_empty());
    log.clear();
    assert!(log.is_empty());
    assert!(CallLog::<u8>::new().keeps_calls());
}

#[test]
fn a_plan_is_empty_until_something_is_planned_and_again_once_used_up() {
    let plan = FaultPlan::<u32>::new();
    assert!(plan.is_empty());
    plan.fail_next(2, Fault::throttled());
    assert!(!plan.is_empty());
    assert!(plan.check(&1).is_err());
    assert!(!plan.is_empty(), "one queued fault left");
    assert!(plan.check(&1).is_err());
    assert!(plan.is_empty(), "the queue is used up");
    assert!(plan.check(&1).is_ok());
    plan.fail_when(|n| *n == 3, Fault::internal());
    assert!(plan.check(&3).is_err());
    assert!(!plan.is_empty(), "a predicate stays");
    assert!(plan.check(&4).is_ok());
    plan.clear();
    assert!(plan.is_empty() && plan.check(&3).is_ok());
}

#[test]
fn run_lazy_builds_the_request_only_when_the_plan_or_the_log_needs_it() {
    let built = Cell::new(0);
    let request = || {
        built.set(built.get() + 1);
        7u32
    };
    let plan = FaultPlan::new();
    let quiet = CallLog::discarding();
    assert_eq!(
        plan.run_lazy(&quiet, request, || Ok("done")).unwrap(),
        "done"
    );
    assert_eq!((built.get(), quiet.len()), (0, 1));

    let recording = CallLog::new();
    plan.run_lazy(&recording, request, || Ok(())).unwrap();
    assert_eq!(built.get(), 1);
    assert_eq!(recording.succeeded(), [7]);

    plan.fail_when(|n| *n == 7, Fault::permanent("Seven"));
    let ran = Cell::new(false);
    let err = plan
        .run_lazy(&quiet, request, || {
            ran.set(true);
            Ok(())
        })
        .unwrap_err();
    assert_eq!(err.code(), Some("Seven"));
    assert!(!ran.get(), "a failed call does no work");
    assert_eq!((built.get(), quiet.len()), (2, 2));
    assert!(quiet.calls().is_empty());
}

#[tokio::test]
async fn backends_without_history_answer_keep_their_state_and_no_history() {
    let local = LocalBackends::without_history();
    assert!(!local.keeps_history() && LocalBackends::new().keeps_history());

    // SES: mail is checked, rendered and answered; no outbox, no calls.
    let ses = local.mailer();
    local.ses().verify("shop@example.com");
    local
        .ses()
        .add_template("t", Template::new("Order {{id}}").text("Hi {{name}}"));
    let first = ses
        .send(Email::text("shop@example.com", "a@example.com", "s", "b"))
        .await
        .unwrap();
    let second = ses
        .send(Email::template(
            "shop@example.com",
            "a@example.com",
            "t",
            json!({"id": 1, "name": "A"}),
        ))
        .await
        .unwrap();
    assert_ne!(first, second);
    let missing = ses
        .send(Email::template(
            "shop@example.com",
            "a@example.com",
            "t",
            json!({"id": 1}),
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Some("MissingRenderingAttributeException"));
    let rejected = ses
        .send(Email::text("other@example.org", "a@example.com", "s", "b"))
        .await
        .unwrap_err();
    assert_eq!(rejected.code(), Some("MessageRejected"));
    local.ses().fail_next(1, Fault::throttled());
    assert!(ses
        .send(Email::text("shop@example.com", "a@example.com", "s", "b"))
        .await
        .unwrap_err()
        .is_retryable());
    assert!(local.ses().outbox().is_empty() && local.ses().calls().is_empty());
    assert_eq!(local.ses().call_count(), 5);

    // SNS: validated and answered; nothing kept.
    let topic = "arn:aws:sns:us-east-1:123456789012:t";
    let r = local
        .notifier()
        .publish(SnsMessage::new(topic, "m"))
        .await
        .unwrap();
    assert!(!r.message_id.is_empty());
    let bad = local.notifier().publish(SnsMessage::new(topic, "")).await;
    assert_eq!(bad.unwrap_err().code(), Some("InvalidParameter"));
    assert!(local.sns().published().is_empty() && local.sns().topics().is_empty());
    assert!(local.sns().calls().is_empty());
    assert_eq!(local.sns().call_count(), 2);

    // S3: objects are state, kept; calls are not.
    let s3 = local.object_store();
    local.s3().create_bucket("b");
    s3.put("b", "k", Bytes::from_static(b"body"), None)
        .await
        .unwrap();
    let body = s3.get("b", "k").await.unwrap().collect().await.unwrap();
    assert_eq!(&body[..], b"body");
    assert_eq!(
        s3.get("b", "nope").await.unwrap_err().code(),
        Some("NoSuchKey")
    );
    assert!(local.s3().calls().is_empty());
    assert_eq!(local.s3().call_count(), 3);

    // Idempotency: records are state, a duplicate is answered from them.
    let store = local.idempotency_store();
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
    let exp = t0 + Duration::from_secs(60);
    let rec = || IdempotencyRecord::in_progress("k", exp, None, None);
    assert_eq!(
        store.try_lock(rec(), t0).await.unwrap(),
        LockOutcome::Acquired
    );
    store.complete("k", "42".into(), exp).await.unwrap();
    match store.try_lock(rec(), t0).await.unwrap() {
        LockOutcome::Exists(r) => assert_eq!(r.result.as_deref(), Some("42")),
        other => panic!("expected the stored record, got {other:?}"),
    }
    assert_eq!(
        store
            .get("k")
            .await
            .unwrap()
            .and_then(|r| r.result)
            .as_deref(),
        Some("42")
    );
    local.idempotency().fail_next(1, Fault::throttled());
    assert!(store.delete("k").await.unwrap_err().is_retryable());
    store.delete("k").await.unwrap();
    assert_eq!(store.get("k").await.unwrap(), None);
    assert_eq!(local.idempotency().acquired("k"), 1);
    assert!(local.idempotency().calls().is_empty());
    assert_eq!(local.idempotency().call_count(), 7);

    // Step Functions: task states are state; a finished token is rejected.
    let sfn = local.task_callbacks();
    sfn.send_task_success("AQCEtokenA", "{}").await.unwrap();
    assert_eq!(
        sfn.send_task_success("AQCEtokenA", "{}")
            .await
            .unwrap_err()
            .code(),
        Some("TaskTimedOut")
    );
    assert_eq!(local.sfn().succeeded("AQCEtokenA"), Some(json!({})));
    assert!(local.sfn().calls().is_empty());
    assert_eq!(local.sfn().call_count(), 2);

    // Dead letters: the letters are what the sink stores.
    let env = Envelope::new(5u32, Metadata::new("r-1", Source::Sqs));
    let error = PortError::permanent("broken");
    local
        .dead_letters()
        .store(DeadLetter::new(&env, &error, 3, t0))
        .await
        .unwrap();
    assert_eq!(local.dead_letters().letters()[0].record_id, "r-1");
    assert!(local.dead_letters().calls().is_empty());
    assert_eq!(local.dead_letters().call_count(), 1);
}
