//! `DynamoDbIdempotencyStore` against moto: `CreateTable`, the conditional
//! `PutItem` with `ReturnValuesOnConditionCheckFailure=ALL_OLD`,
//! `UpdateItem`, `DeleteItem`, `GetItem`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use eventrail::ports::{IdempotencyRecord, IdempotencyStatus, IdempotencyStore, LockOutcome};
use eventrail_aws::{DynamoDbIdempotencyStore, TableLayout};

use crate::harness::Aws;

const HOUR: Duration = Duration::from_secs(3600);
const MINUTE: Duration = Duration::from_secs(60);

/// A fixed instant, whole milliseconds, so records compare exactly.
fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_800_000_000_000)
}

/// A table keyed by `key` (and `sort`, when given).
async fn table(aws: &Aws, key: &str, sort: Option<&str>) -> String {
    let name = aws.name("idempotency");
    let mut create = aws
        .dynamodb()
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(key)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(key)
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        );
    if let Some(sort) = sort {
        create = create
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(sort)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(sort)
                    .key_type(KeyType::Range)
                    .build()
                    .unwrap(),
            );
    }
    create.send().await.unwrap();
    name
}

async fn store(aws: &Aws) -> DynamoDbIdempotencyStore {
    let table = table(aws, "id", None).await;
    DynamoDbIdempotencyStore::new(aws.dynamodb(), TableLayout::new(table))
}

fn in_progress(key: &str, now: SystemTime) -> IdempotencyRecord {
    IdempotencyRecord::in_progress(key, now + HOUR, Some(now + MINUTE), Some("hash-1".into()))
}

#[tokio::test]
async fn lock_then_a_duplicate_lock_sees_the_in_progress_record() {
    let aws = Aws::new();
    let store = store(&aws).await;
    let now = t0();
    let first = in_progress("order-1", now);

    assert_eq!(
        store.try_lock(first.clone(), now).await.unwrap(),
        LockOutcome::Acquired
    );
    // The same key a second later: the first lock is live, and comes back
    // whole from the failed PutItem itself.
    let later = now + Duration::from_secs(1);
    match store
        .try_lock(in_progress("order-1", later), later)
        .await
        .unwrap()
    {
        LockOutcome::Exists(existing) => assert_eq!(existing, first),
        other => panic!("expected the existing record, got {other:?}"),
    }
    // Another key is unaffected.
    assert_eq!(
        store
            .try_lock(in_progress("order-2", later), later)
            .await
            .unwrap(),
        LockOutcome::Acquired
    );
}

#[tokio::test]
async fn an_expired_in_progress_lock_is_taken_over() {
    let aws = Aws::new();
    let store = store(&aws).await;
    let now = t0();
    store.try_lock(in_progress("k", now), now).await.unwrap();

    // Just before the in-progress expiry the lock holds...
    let almost = now + MINUTE - Duration::from_millis(1);
    assert!(matches!(
        store
            .try_lock(in_progress("k", almost), almost)
            .await
            .unwrap(),
        LockOutcome::Exists(_)
    ));
    // ...at it, the handler is presumed dead and the key is taken over.
    let at = now + MINUTE;
    let takeover = in_progress("k", at);
    assert_eq!(
        store.try_lock(takeover.clone(), at).await.unwrap(),
        LockOutcome::Acquired
    );
    assert_eq!(store.get("k").await.unwrap(), Some(takeover));
}

#[tokio::test]
async fn a_completed_record_blocks_until_it_expires() {
    let aws = Aws::new();
    let store = store(&aws).await;
    let now = t0();
    store.try_lock(in_progress("k", now), now).await.unwrap();
    store
        .complete("k", r#"{"shipped":true}"#.into(), now + HOUR)
        .await
        .unwrap();

    let stored = store.get("k").await.unwrap().expect("a record");
    assert_eq!(stored.status, IdempotencyStatus::Completed);
    assert_eq!(stored.result.as_deref(), Some(r#"{"shipped":true}"#));
    assert_eq!(stored.expires_at, now + HOUR);
    assert_eq!(stored.in_progress_expires_at, None);
    assert_eq!(stored.payload_hash.as_deref(), Some("hash-1"));

    // Past the in-progress expiry a completed record still blocks...
    let later = now + 2 * MINUTE;
    match store
        .try_lock(in_progress("k", later), later)
        .await
        .unwrap()
    {
        LockOutcome::Exists(existing) => assert_eq!(existing, stored),
        other => panic!("expected the completed record, got {other:?}"),
    }
    // ...until it expires.
    let expired = now + HOUR;
    assert_eq!(
        store
            .try_lock(in_progress("k", expired), expired)
            .await
            .unwrap(),
        LockOutcome::Acquired
    );
}

#[tokio::test]
async fn the_ttl_attribute_holds_epoch_seconds() {
    let aws = Aws::new();
    let store = store(&aws).await;
    let now = t0() + Duration::from_millis(250);
    store.try_lock(in_progress("k", now), now).await.unwrap();
    let item = aws
        .dynamodb()
        .get_item()
        .table_name(store.layout().table())
        .key("id", AttributeValue::S("k".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    // 1_800_000_000.250 s + 1 h, rounded up to whole seconds.
    assert_eq!(item["ttl"], AttributeValue::N("1800003601".into()));
    assert_eq!(
        item["expires_at"],
        AttributeValue::N("1800003600250".into())
    );
    assert_eq!(item["status"], AttributeValue::S("INPROGRESS".into()));
}

#[tokio::test]
async fn delete_frees_the_key_and_missing_keys_are_fine() {
    let aws = Aws::new();
    let store = store(&aws).await;
    let now = t0();
    store.try_lock(in_progress("k", now), now).await.unwrap();
    store.delete("k").await.unwrap();
    assert_eq!(store.get("k").await.unwrap(), None);
    assert_eq!(
        store.try_lock(in_progress("k", now), now).await.unwrap(),
        LockOutcome::Acquired
    );
    store.delete("never-there").await.unwrap();
    assert_eq!(store.get("never-there").await.unwrap(), None);
}

/// Lockers racing for one key. DynamoDB makes a conditional put atomic, so
/// there exactly one of them wins. moto (5.2.1) is not atomic here: its
/// `put_item` reads the item, parses the condition and writes, with no
/// lock, so two racing puts can both pass, and a run here once saw two
/// winners. Against moto this test checks what holds anyway. At least one
/// locker wins, every loser was refused with a record a winner wrote, and
/// the key ends up holding a winner's record. That a locker coming after
/// another is refused is `lock_then_a_duplicate_lock_sees_the_in_progress_record`.
#[tokio::test]
async fn racing_lockers_are_refused_with_a_winners_record() {
    let aws = Aws::new();
    let store = Arc::new(store(&aws).await);
    let now = t0();
    for round in 0..10 {
        let key = format!("race-{round}");
        let lockers: Vec<_> = (0..4)
            .map(|i| {
                let store = Arc::clone(&store);
                let hash = format!("locker-{i}");
                let record = IdempotencyRecord::in_progress(
                    &key,
                    now + HOUR,
                    Some(now + MINUTE),
                    Some(hash.clone()),
                );
                tokio::spawn(async move { (hash, store.try_lock(record, now).await.unwrap()) })
            })
            .collect();
        let mut winners = Vec::new();
        let mut seen = Vec::new();
        for locker in lockers {
            match locker.await.unwrap() {
                (hash, LockOutcome::Acquired) => winners.push(Some(hash)),
                (_, LockOutcome::Exists(record)) => seen.push(record.payload_hash),
            }
        }
        assert!(!winners.is_empty(), "round {round}: no locker won");
        assert_eq!(winners.len() + seen.len(), 4, "round {round}");
        assert!(
            seen.iter().all(|h| winners.contains(h)),
            "round {round}: losers saw {seen:?}, winners {winners:?}"
        );
        let stored = store.get(&key).await.unwrap().unwrap().payload_hash;
        assert!(
            winners.contains(&stored),
            "round {round}: {stored:?} is no winner's ({winners:?})"
        );
    }
}

#[tokio::test]
async fn a_custom_layout_with_a_sort_key_and_renamed_attributes() {
    let aws = Aws::new();
    let table = table(&aws, "pk", Some("sk")).await;
    let layout = TableLayout::new(&table)
        .with_key_attribute("pk")
        .with_sort_key("sk", "idempotency#orders")
        .with_status_attribute("state")
        .with_expires_at_attribute("exp_ms")
        .with_in_progress_expires_at_attribute("lease_ms")
        .with_ttl_attribute("expires")
        .with_payload_hash_attribute("hash")
        .with_result_attribute("response");
    let store = DynamoDbIdempotencyStore::new(aws.dynamodb(), layout);
    let now = t0();
    let record = in_progress("order-9", now);

    assert_eq!(
        store.try_lock(record.clone(), now).await.unwrap(),
        LockOutcome::Acquired
    );
    assert_eq!(
        store
            .try_lock(in_progress("order-9", now), now)
            .await
            .unwrap(),
        LockOutcome::Exists(record)
    );
    store
        .complete("order-9", "42".into(), now + HOUR)
        .await
        .unwrap();

    let item = aws
        .dynamodb()
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("idempotency#orders".into()))
        .key("sk", AttributeValue::S("order-9".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["state"], AttributeValue::S("COMPLETED".into()));
    assert_eq!(item["response"], AttributeValue::S("42".into()));
    assert_eq!(item["hash"], AttributeValue::S("hash-1".into()));
    assert!(item.contains_key("exp_ms") && item.contains_key("expires"));
    assert!(!item.contains_key("lease_ms"));

    store.delete("order-9").await.unwrap();
    assert_eq!(store.get("order-9").await.unwrap(), None);
}

#[tokio::test]
async fn a_missing_table_is_permanent_and_the_error_names_the_key() {
    let aws = Aws::new();
    let store =
        DynamoDbIdempotencyStore::new(aws.dynamodb(), TableLayout::new(aws.name("missing")));
    let now = t0();
    let err = store
        .try_lock(in_progress("order-77", now), now)
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert_eq!(err.code(), Some("ResourceNotFoundException"), "{err}");
    assert!(err.message().contains("`order-77`"), "{err}");
}

#[tokio::test]
async fn a_foreign_item_under_the_key_is_a_permanent_error_naming_it() {
    let aws = Aws::new();
    let store = store(&aws).await;
    aws.dynamodb()
        .put_item()
        .table_name(store.layout().table())
        .item("id", AttributeValue::S("k".into()))
        .item("status", AttributeValue::S("SOMETHING_ELSE".into()))
        .item("expires_at", AttributeValue::N("9999999999999".into()))
        .send()
        .await
        .unwrap();
    let now = t0();
    let err = store
        .try_lock(in_progress("k", now), now)
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert!(err.message().contains("`k`"), "{err}");
}
