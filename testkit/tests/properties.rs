//! The project's own properties, on the strategies the testkit exports.
//!
//! | property | cases |
//! |---|---|
//! | SQS, 1..=1 000 records (two cases in three at most 10): nothing lost (each record exactly once in done ∪ failed) and the batch response lists exactly the failed records, in input order, by `messageId` | 64 |
//! | the same, 1 001..=10 000 records | 3 |
//! | SQS FIFO: same, and nothing after a group's first failure runs | 48 |
//! | idempotency: the same batch dispatched twice runs each handler once per key | 48 |
//! | S3 keys: `decode_key(encode_key(k)) == k` | 512 |
//! | S3 keys: a put notification reaches the handler with the key it was put under | 64 |
//! | DynamoDB images of every attribute type survive the builder and the stream record | 128 |
//! | DynamoDB: nothing lost, the response names the first failure | 32 |
//!
//! Bodies are jobs (ok, retryable or permanent failure, panic) mixed with
//! malformed JSON and JSON of arbitrary shape ([`strategies::sqs_body`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use eventrail::dynamodb::DataChange;
use eventrail::layers::IdempotencyLayer;
use eventrail::s3::{decode_key, encode_key, S3Object};
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
use eventrail_testkit::events::TestEvent;
use eventrail_testkit::{dynamodb, run_paused, s3, sqs, strategies, TestApp};
use proptest::prelude::*;
use serde_json::{json, Value};
use tower::Layer;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Fate {
    Ok,
    Retryable,
    Permanent,
    Panic,
}

#[derive(Debug, serde::Deserialize)]
struct Job {
    key: u16,
    fate: Fate,
}

fn job() -> impl Strategy<Value = Value> {
    let fate = prop_oneof![
        // Panics are rare: unwinding is the costliest thing a record can do.
        20 => Just("ok"),
        3 => Just("retryable"),
        3 => Just("permanent"),
        1 => Just("panic"),
    ];
    (0u16..50, fate).prop_map(|(key, fate)| json!({"type": "JOB", "key": key, "fate": fate}))
}

/// What should become of a body: `Some(fate)` if it is a job, else it fails
/// before any handler runs.
fn expected(body: &str) -> Option<Fate> {
    let v: Value = serde_json::from_str(body).ok()?;
    if v.get("type")? != "JOB" {
        return None;
    }
    serde_json::from_value::<Job>(v).ok().map(|j| j.fate)
}

/// Handlers panic on purpose here: keep those panics quiet (the default hook
/// formats and captures each one, which costs more than the record itself).
fn quiet_handler_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&HANDLER_BUG) {
                default(info);
            }
        }));
    });
}

const HANDLER_BUG: &str = "handler bug";

fn job_app() -> TestApp {
    quiet_handler_panics();
    TestApp::new(|_| {
        let bus = Bus::builder()
            .on(handler_fn(|j: Envelope<Job>| async move {
                match j.fate {
                    Fate::Ok => Ok(j.key),
                    Fate::Retryable => Err(HandlerError::retryable("busy")),
                    Fate::Permanent => Err(HandlerError::permanent("invalid")),
                    Fate::Panic => std::panic::panic_any(HANDLER_BUG),
                }
            }))
            .build();
        App::builder(Router::new().sqs("type", "JOB").to::<Job>(), bus)
    })
}

fn bodies(batch: &sqs::Batch) -> Vec<&str> {
    batch.messages().iter().map(sqs::Message::body).collect()
}

/// Every record exactly once in done ∪ failed, and the batch response lists
/// exactly the failed records, in input order, by `messageId`.
fn check_sqs_batch(batch: &sqs::Batch) -> Result<(), TestCaseError> {
    let out = run_paused(job_app().send(batch));
    let ids = batch.message_ids();
    let bodies = bodies(batch);

    // One outcome per record, in input order, each id once.
    let outcome_ids: Vec<&str> = out.records().iter().map(|o| o.record_id()).collect();
    prop_assert_eq!(
        &outcome_ids,
        &ids.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let done: HashSet<&str> = out.done().into_iter().collect();
    let failed: HashSet<&str> = out.failed().into_iter().collect();
    prop_assert!(done.is_disjoint(&failed));
    prop_assert_eq!(done.len() + failed.len(), ids.len());

    // Exactly the records that should fail did, and the response lists them.
    let should_fail: Vec<String> = ids
        .iter()
        .zip(&bodies)
        .filter(|(_, b)| expected(b) != Some(Fate::Ok))
        .map(|(id, _)| id.clone())
        .collect();
    prop_assert_eq!(&out.batch_item_failures(), &should_fail);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sqs_batches_up_to_1000_lose_nothing_and_answer_exactly_the_failures(
        batch in prop_oneof![2 => 1..=10usize, 1 => 11..=1_000usize]
            .prop_flat_map(|n| strategies::sqs_batch(strategies::sqs_body(job()), n))
    ) {
        check_sqs_batch(&batch)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3))]

    #[test]
    fn sqs_batches_up_to_10000_lose_nothing_and_answer_exactly_the_failures(
        batch in strategies::sqs_batch(strategies::sqs_body(job()), 1_001..=strategies::MAX_SQS_BATCH)
    ) {
        check_sqs_batch(&batch)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn fifo_groups_stop_at_their_first_failure(
        batch in strategies::fifo_batch(strategies::sqs_body(job()), 1..=200usize, 4)
    ) {
        let out = run_paused(job_app().send(&batch));
        let json = batch.to_json();
        let records = json["Records"].as_array().unwrap();
        let mut group_failed: HashMap<String, bool> = HashMap::new();
        let mut should_fail = Vec::new();
        for (r, o) in records.iter().zip(out.records()) {
            let group = r["attributes"]["MessageGroupId"].as_str().unwrap().to_owned();
            let before = group_failed.get(&group).copied().unwrap_or(false);
            let fails = before || expected(r["body"].as_str().unwrap()) != Some(Fate::Ok);
            if before {
                let f = out.failure(o.record_id()).unwrap();
                prop_assert!(!f.attempted, "ran after its group failed");
            }
            if fails {
                should_fail.push(r["messageId"].as_str().unwrap().to_owned());
            }
            group_failed.insert(group, fails);
        }
        prop_assert_eq!(out.batch_item_failures(), should_fail);
    }

    #[test]
    fn idempotency_runs_each_handler_once_per_key_across_two_dispatches(
        keys in proptest::collection::vec(0u16..20, 1..=300)
    ) {
        let runs: Arc<Mutex<BTreeMap<u16, u32>>> = Arc::default();
        let app = TestApp::new(|f| {
            let runs = runs.clone();
            let handler = IdempotencyLayer::new(f.idempotency_store(), |j: &Envelope<Job>| Some(j.key.to_string()))
                .with_clock(f.clock())
                .layer(handler_fn(move |j: Envelope<Job>| {
                    let runs = runs.clone();
                    async move {
                        *runs.lock().unwrap().entry(j.key).or_default() += 1;
                        tokio::task::yield_now().await;
                        Ok::<_, HandlerError>(j.key)
                    }
                }));
            App::builder(Router::new().sqs("type", "JOB").to::<Job>(), Bus::builder().on(handler).build())
        });
        let batch = sqs::batch(keys.iter().map(|k| sqs::message(json!({"type": "JOB", "key": k, "fate": "ok"}).to_string())));

        let first = run_paused(app.send(&batch));
        let second = run_paused(app.send(&batch));

        let distinct: HashSet<u16> = keys.iter().copied().collect();
        let runs = runs.lock().unwrap();
        prop_assert_eq!(runs.len(), distinct.len());
        prop_assert!(runs.values().all(|&n| n == 1), "runs per key: {:?}", runs);
        // Duplicates in flight in the first dispatch are redelivered (retryable);
        // the second dispatch replays stored results: everything is done.
        prop_assert!(first.records().iter().all(|o| !o.is_failed() || o.status_is_retryable()));
        prop_assert!(second.failed().is_empty(), "{:?}", second);
        for k in &distinct {
            prop_assert_eq!(app.idempotency().acquired(&format!("Job#{k}")), 1);
        }
    }
}

trait StatusExt {
    fn status_is_retryable(&self) -> bool;
}

impl StatusExt for eventrail::app::RecordOutcome {
    fn status_is_retryable(&self) -> bool {
        match &self.status {
            eventrail::app::Status::Failed(f) => f.retry.is_retryable(),
            _ => false,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn s3_keys_round_trip(key in strategies::s3_key()) {
        prop_assert_eq!(decode_key(&encode_key(&key)).unwrap(), key);
    }
}

#[derive(Debug)]
struct Upload(S3Object);

impl From<S3Object> for Upload {
    fn from(o: S3Object) -> Self {
        Self(o)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn s3_put_notifications_carry_the_key_to_the_handler(key in strategies::s3_key()) {
        let app = TestApp::new(|_| {
            let bus = Bus::builder()
                .on(handler_fn(|u: Envelope<Upload>| async move { Ok::<_, HandlerError>(u.0.key.clone()) }))
                .build();
            App::builder(Router::new().s3().to::<Upload>(), bus)
        });
        let record = s3::put("bucket", &key, 1);
        let out = run_paused(app.send(&record));
        prop_assert_eq!(out.output(&record.record_id()), Some(&Value::String(key)));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn dynamodb_images_of_every_type_survive_the_builder(
        old in strategies::dynamodb_image("ORDER#"),
        new in strategies::dynamodb_image("ORDER#"),
    ) {
        let keys = serde_dynamo::Item::from(HashMap::from([(
            "pk".to_owned(),
            new.get("pk").unwrap().clone(),
        )]));
        let change = dynamodb::change(dynamodb::Kind::Modify, keys.clone(), Some(old.clone()), Some(new.clone()));
        let typed = change.typed();
        let record = &typed.records[0].change;
        prop_assert_eq!(&record.keys, &keys);
        prop_assert_eq!(&record.old_image, &old);
        prop_assert_eq!(&record.new_image, &new);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn dynamodb_nothing_lost_and_the_response_is_the_first_failure(
        images in proptest::collection::vec(
            prop_oneof![strategies::dynamodb_image("ORDER#"), strategies::dynamodb_image("USER#")],
            1..=20,
        ),
        fail_at in proptest::option::of(0usize..20),
    ) {
        let app = TestApp::new(|_| {
            let bus = Bus::builder()
                .on(handler_fn(|c: Envelope<DataChange<Value>>| async move {
                    let fail = c.new.as_ref().and_then(|v| v.get("fail")).is_some();
                    if fail { Err(HandlerError::permanent("marked")) } else { Ok(()) }
                }))
                .build();
            App::builder(Router::new().dynamodb("ORDER#").to::<Value>(), bus)
        });
        let changes: Vec<dynamodb::Change> = images
            .into_iter()
            .enumerate()
            .map(|(i, mut img)| {
                if Some(i) == fail_at {
                    img.insert("fail".into(), serde_dynamo::AttributeValue::Bool(true));
                }
                let keys = serde_dynamo::Item::from(HashMap::from([("pk".to_owned(), img.get("pk").unwrap().clone())]));
                dynamodb::change(dynamodb::Kind::Insert, keys, None, Some(img))
            })
            .collect();
        let batch = dynamodb::batch(changes);
        let seq = batch.sequence_numbers();
        let out = run_paused(app.send(&batch));

        let ids: Vec<&str> = out.records().iter().map(|o| o.record_id()).collect();
        prop_assert_eq!(&ids, &seq.iter().map(String::as_str).collect::<Vec<_>>());
        let done: HashSet<&str> = out.done().into_iter().collect();
        let failed: Vec<&str> = out.failed();
        prop_assert!(failed.iter().all(|f| !done.contains(f)));
        prop_assert_eq!(done.len() + failed.len(), seq.len());
        let first_failed = failed.first().map(|s| (*s).to_owned());
        prop_assert_eq!(out.batch_item_failures(), first_failed.into_iter().collect::<Vec<_>>());
    }
}
