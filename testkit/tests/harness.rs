//! `TestApp` drives raw events through the real path, per source, on the
//! paused clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventrail::app::Status;
use eventrail::dynamodb::DataChange;
use eventrail::layers::{RetryPolicy, ServiceBuilderExt};
use eventrail::ports::ObjectStore;
use eventrail::s3::S3Object;
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
use eventrail_testkit::events::lambda;
use eventrail_testkit::fakes::{FakeIdempotencyStore, FakeS3, FakeSes, FakeSfn, FakeSns};
use eventrail_testkit::{dynamodb, eventbridge, s3, sns, sqs, Fakes, Outcome, TestApp};
use serde_json::json;
use tower::ServiceBuilder;

#[derive(Debug, serde::Deserialize)]
struct Ping {
    n: u32,
}

/// An app routing SQS `{"type":"PING"}` (also via SNS) to a handler that
/// fails permanently on `n == 0` and returns `n * 2`.
fn ping_app() -> TestApp {
    TestApp::new(|_| {
        let bus = Bus::builder()
            .on(handler_fn(|p: Envelope<Ping>| async move {
                if p.n == 0 {
                    return Err(HandlerError::permanent("zero"));
                }
                Ok(p.n * 2)
            }))
            .build();
        App::builder(
            Router::new()
                .sqs("type", "PING")
                .to::<Ping>()
                .sns("type", "PING")
                .to::<Ping>(),
            bus,
        )
    })
}

#[tokio::test(start_paused = true)]
async fn sqs_batch_reports_each_record_and_the_batch_response() {
    let app = ping_app();
    let out = app
        .send(sqs::batch([
            sqs::message(r#"{"type":"PING","n":1}"#).id("ok"),
            sqs::message("{oops").id("malformed"),
            sqs::message(r#"{"type":"PING","n":0}"#).id("zero"),
            sqs::message(r#"{"type":"PONG"}"#).id("unrouted"),
            sns::notification("pings", r#"{"type":"PING","n":4}"#)
                .to_sqs()
                .id("via-sns"),
        ]))
        .await;
    assert_eq!(out.done(), ["ok", "via-sns"]);
    assert_eq!(out.failed(), ["malformed", "zero", "unrouted"]);
    assert_eq!(out.batch_item_failures(), out.failed());
    assert_eq!(out.output("ok"), Some(&json!(2)));
    assert_eq!(out.output("via-sns"), Some(&json!(8)));
    assert!(!out.failure("zero").unwrap().retry.is_retryable());
    assert_eq!(out.records().len(), 5);
}

#[tokio::test(start_paused = true)]
async fn sns_failures_are_an_invocation_error() {
    let app = ping_app();
    let ok = app
        .send(sns::notification("pings", r#"{"type":"PING","n":1}"#))
        .await;
    ok.assert_all_done();
    assert_eq!(ok.response(), Some(&serde_json::Value::Null));
    let bad = app
        .send(sns::notification("pings", r#"{"type":"PING","n":0}"#))
        .await;
    assert!(bad.invocation_error().is_some());
}

#[tokio::test(start_paused = true)]
async fn unusable_payloads_are_rejected() {
    let app = ping_app();
    let err = app.send_bytes(b"not json").await.unwrap_err();
    assert!(err.is_bad_payload());
    let err = app.try_send(json!({"hello": "world"})).await.unwrap_err();
    assert!(err.is_bad_payload());
}

#[derive(Debug)]
struct Upload(S3Object);
impl From<S3Object> for Upload {
    fn from(o: S3Object) -> Self {
        Self(o)
    }
}

#[tokio::test(start_paused = true)]
async fn an_s3_put_on_the_fake_becomes_the_event_the_app_handles() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = TestApp::new(|f| {
        let (store, seen) = (f.object_store(), seen.clone());
        let bus = Bus::builder()
            .on(handler_fn(move |u: Envelope<Upload>| {
                let (store, seen) = (store.clone(), seen.clone());
                async move {
                    let body = store.get(&u.0.bucket, &u.0.key).await?.collect().await?;
                    seen.lock().unwrap().push((u.0.key.clone(), body.len()));
                    Ok::<_, HandlerError>(())
                }
            }))
            .build();
        App::builder(Router::new().s3().prefix("in/").to::<Upload>(), bus)
    });
    app.s3().create_bucket("uploads");
    app.s3()
        .put(
            "uploads",
            "in/a file+1%.csv",
            "a,b,c".into(),
            Some("text/csv"),
        )
        .await
        .unwrap();
    let event = app.s3().take_notifications();
    assert_eq!(event.records()[0].encoded_key(), "in/a+file%2B1%25.csv");
    app.send(&event).await.assert_all_done();
    assert_eq!(*seen.lock().unwrap(), [("in/a file+1%.csv".to_owned(), 5)]);

    // A notification for an object that is gone: NoSuchKey, permanent.
    let out = app.send(s3::put("uploads", "in/gone.csv", 3)).await;
    let failure = out.failure(&s3::put("uploads", "in/gone.csv", 3).record_id());
    assert!(!failure.unwrap().retry.is_retryable());
}

#[derive(Debug, serde::Deserialize)]
struct Order {
    total: u32,
}

#[tokio::test(start_paused = true)]
async fn dynamodb_batches_answer_with_the_checkpoint() {
    let app = TestApp::new(|_| {
        let bus = Bus::builder()
            .on(handler_fn(|c: Envelope<DataChange<Order>>| async move {
                match c.new.as_ref() {
                    Some(o) if o.total == 0 => Err(HandlerError::permanent("free order")),
                    _ => Ok(()),
                }
            }))
            .build();
        App::builder(Router::new().dynamodb("ORDER#").to::<Order>(), bus)
    });
    let keys = |id: &str| json!({ "pk": format!("ORDER#{id}") });
    let batch = dynamodb::batch([
        dynamodb::insert(keys("1"), json!({"pk": "ORDER#1", "total": 5})),
        dynamodb::insert(keys("2"), json!({"pk": "ORDER#2", "total": 0})),
        dynamodb::modify(
            keys("3"),
            json!({"pk": "ORDER#3", "total": 1}),
            json!({"pk": "ORDER#3", "total": 2}),
        ),
        dynamodb::remove(keys("4"), json!({"pk": "ORDER#4", "total": 1})),
    ]);
    let seq = batch.sequence_numbers();
    let out = app.send(&batch).await;
    assert_eq!(out.done(), [seq[0].as_str()]);
    // In order per stream: nothing after the failure started; the response
    // names the first failure, where the stream resumes.
    assert_eq!(out.failed(), [&seq[1], &seq[2], &seq[3]]);
    assert_eq!(out.batch_item_failures(), [seq[1].clone()]);
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderPlaced {
    order_id: String,
}

#[tokio::test(start_paused = true)]
async fn eventbridge_events_are_routed_on_source_and_detail_type() {
    let app = TestApp::new(|_| {
        let bus = Bus::builder()
            .on(handler_fn(|o: Envelope<OrderPlaced>| async move {
                Ok::<_, HandlerError>(o.order_id.clone())
            }))
            .build();
        App::builder(
            Router::new()
                .eventbridge("shop.orders", "OrderPlaced")
                .to::<OrderPlaced>(),
            bus,
        )
    });
    let event =
        eventbridge::event("shop.orders", "OrderPlaced", json!({"orderId": "o-9"})).id("ev-1");
    let out = app.send(event).await;
    assert_eq!(out.output("ev-1"), Some(&json!("o-9")));
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_on_the_paused_clock() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let app = TestApp::new(|_| {
        let calls = calls.clone();
        let handler = ServiceBuilder::new()
            .retries(RetryPolicy::default())
            .service(handler_fn(move |_: Envelope<Ping>| {
                let calls = calls.clone();
                async move {
                    let mut c = calls.lock().unwrap();
                    c.push(tokio::time::Instant::now());
                    if c.len() < 3 {
                        return Err(HandlerError::retryable("busy"));
                    }
                    Ok(())
                }
            }));
        App::builder(
            Router::new().sqs("type", "PING").to::<Ping>(),
            Bus::builder().on(handler).build(),
        )
    });
    let wall = std::time::Instant::now();
    app.send(sqs::message(r#"{"type":"PING","n":1}"#))
        .await
        .assert_all_done();
    let calls = calls.lock().unwrap();
    assert_eq!(calls[1] - calls[0], Duration::from_secs(1));
    assert_eq!(calls[2] - calls[1], Duration::from_secs(2));
    assert!(wall.elapsed() < Duration::from_secs(1), "no real sleeping");
}

#[tokio::test(start_paused = true)]
async fn a_deadline_too_close_leaves_records_unstarted_and_retryable() {
    let app = ping_app().with_context(lambda::context().time_left(Duration::from_millis(100)));
    let out = app
        .send(sqs::batch([
            sqs::message(r#"{"type":"PING","n":1}"#).id("late")
        ]))
        .await;
    let failure = out.failure("late").unwrap();
    assert!(failure.retry.is_retryable());
    assert!(!failure.attempted);
    assert!(matches!(out.records()[0].status, Status::Failed(_)));
}

#[tokio::test(start_paused = true)]
async fn the_test_clock_follows_advance() {
    let app = ping_app();
    let t0 = app.now();
    app.advance(Duration::from_secs(90)).await;
    assert_eq!(app.now(), t0 + Duration::from_secs(90));
    assert_eq!(t0, eventrail_testkit::test_epoch());
}

#[test]
fn everything_is_send_sync_and_static() {
    fn is<T: Send + Sync + 'static>() {}
    is::<FakeSns>();
    is::<FakeSes>();
    is::<FakeS3>();
    is::<FakeSfn>();
    is::<FakeIdempotencyStore>();
    is::<Fakes>();
    is::<TestApp>();
    fn is_send<T: Send + 'static>() {}
    is_send::<Outcome>();
}

#[test]
fn ports_are_usable_as_trait_objects() {
    let fakes = Fakes::new();
    let _: Arc<dyn ObjectStore> = fakes.object_store();
    let _ = (
        fakes.notifier(),
        fakes.mailer(),
        fakes.task_callbacks(),
        fakes.idempotency_store(),
        fakes.clock(),
    );
}

#[derive(Debug, serde::Deserialize)]
struct Shipped {
    n: u32,
}

#[tokio::test(start_paused = true)]
async fn what_one_handler_publishes_can_drive_the_next() {
    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:shipped";
    let shipped = Arc::new(Mutex::new(Vec::new()));
    let app = TestApp::new(|f| {
        let (sns, shipped) = (f.notifier(), shipped.clone());
        let bus = Bus::builder()
            .on(handler_fn(move |p: Envelope<Ping>| {
                let sns = sns.clone();
                async move {
                    let body = json!({"type": "SHIPPED", "n": p.n}).to_string();
                    let msg = eventrail::ports::SnsMessage::new(TOPIC, body).with_attribute(
                        "tenantCode",
                        eventrail::ports::AttributeValue::String("acme".into()),
                    );
                    sns.publish(msg).await?;
                    Ok::<_, HandlerError>(())
                }
            }))
            .on(handler_fn(move |s: Envelope<Shipped>| {
                let shipped = shipped.clone();
                async move {
                    let tenant = s.meta().tenant().map(str::to_owned);
                    shipped.lock().unwrap().push((s.n, tenant));
                    Ok::<_, HandlerError>(())
                }
            }))
            .build();
        App::builder(
            Router::new()
                .sqs("type", "PING")
                .to::<Ping>()
                .sns("type", "SHIPPED")
                .to::<Shipped>()
                // SNS-in-SQS bodies are unwrapped and routed with the SQS routes.
                .sqs("type", "SHIPPED")
                .to::<Shipped>(),
            bus,
        )
    });
    app.send(sqs::batch((1..=3).map(|n| {
        sqs::message(json!({"type": "PING", "n": n}).to_string())
    })))
    .await
    .assert_all_done();
    let notifications = app.sns().notifications(TOPIC);
    assert_eq!(notifications.len(), 3);
    app.send(&notifications).await.assert_all_done();
    let mut direct = std::mem::take(&mut *shipped.lock().unwrap());
    direct.sort();
    let acme = Some("acme".to_owned());
    assert_eq!(
        direct,
        [(1, acme.clone()), (2, acme.clone()), (3, acme.clone())]
    );

    // The same notifications through a subscribed queue.
    app.send(notifications.to_sqs()).await.assert_all_done();
    let mut via_sqs: Vec<u32> = shipped.lock().unwrap().iter().map(|(n, _)| *n).collect();
    via_sqs.sort();
    assert_eq!(via_sqs, [1, 2, 3]);
}

#[tokio::test(start_paused = true)]
async fn idempotency_records_expire_on_the_test_clock() {
    use eventrail::layers::IdempotencyLayer;
    use tower::Layer;

    let runs = Arc::new(Mutex::new(0u32));
    let app = TestApp::new(|f| {
        let runs = runs.clone();
        let handler = IdempotencyLayer::new(f.idempotency_store(), |p: &Envelope<Ping>| {
            Some(p.n.to_string())
        })
        .with_clock(f.clock())
        .expires_after(Duration::from_secs(3600))
        .layer(handler_fn(move |_: Envelope<Ping>| {
            let runs = runs.clone();
            async move {
                *runs.lock().unwrap() += 1;
                Ok::<_, HandlerError>(())
            }
        }));
        App::builder(
            Router::new().sqs("type", "PING").to::<Ping>(),
            Bus::builder().on(handler).build(),
        )
    });
    let ping = || sqs::message(r#"{"type":"PING","n":7}"#);
    app.send(ping()).await.assert_all_done();
    let again = app.send(ping()).await;
    assert_eq!((again.duplicates(), *runs.lock().unwrap()), (1, 1));
    app.advance(Duration::from_secs(3600)).await;
    app.send(ping()).await.assert_all_done();
    assert_eq!(*runs.lock().unwrap(), 2, "the record expired an hour later");
    assert_eq!(app.idempotency().acquired("Ping#7"), 2);
}

#[tokio::test(start_paused = true)]
async fn a_handler_slower_than_its_task_timeout_is_told_by_step_functions() {
    use eventrail_testkit::fakes::TaskOptions;

    let app = TestApp::new(|f| {
        let handler = ServiceBuilder::new()
            .task_token(f.task_callbacks())
            .service(handler_fn(|p: Envelope<Ping>| async move {
                tokio::time::sleep(Duration::from_secs(u64::from(p.n))).await;
                Ok::<_, HandlerError>(json!({ "slept": p.n }))
            }));
        App::builder(
            Router::new().step_function("PING").to::<Ping>(),
            Bus::builder().on(handler).build(),
        )
    });
    let options = TaskOptions::new().timeout(Duration::from_secs(60));
    let (fast, task) = app
        .sfn()
        .task_with(json!({"type": "PING", "payload": {"n": 30}}), options);
    app.send(task).await.assert_all_done();
    assert_eq!(app.sfn().succeeded(&fast), Some(json!({ "slept": 30 })));

    let (slow, task) = app
        .sfn()
        .task_with(json!({"type": "PING", "payload": {"n": 90}}), options);
    let out = app.send(task).await;
    assert!(out.invocation_error().is_some());
    assert!(app.sfn().timed_out(&slow));
    let last = app.sfn().calls().pop().unwrap();
    assert_eq!(last.error.unwrap().code.as_deref(), Some("TaskTimedOut"));
}
