//! The layers stack over the real clients, end to end: a Step Functions task
//! handled through `App` with alarm → SNS, idempotency → DynamoDB and task
//! token → Step Functions, all in moto.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use eventrail::app::{Invocation, SourceEvent, Status};
use eventrail::factory::StepFunctionInput;
use eventrail::layers::{
    AlarmService, IdempotencyLayer, RetryPolicy, ServiceBuilderExt, TaskTokenLayer,
};
use eventrail::ports::{IdempotencyStore, Notifier, TaskCallbacks};
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
use eventrail_aws::{DynamoDbIdempotencyStore, SfnTaskCallbacks, SnsNotifier, TableLayout};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::time::Instant;
use tower::ServiceBuilder;

use crate::harness::Aws;
use crate::sfn::{finished, waiting_execution};
use crate::sns::{receive_one, topic_with_queue};

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Import {
    import_id: String,
    fail: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Imported {
    import_id: String,
    rows: u32,
}

struct World {
    aws: Aws,
    app: App,
    alarms_queue: String,
    table: String,
    runs: Arc<AtomicU32>,
}

async fn world() -> World {
    let aws = Aws::new();
    let (alarm_topic, alarms_queue) = topic_with_queue(&aws, false, false).await;
    let table = aws.name("idempotency");
    aws.dynamodb()
        .create_table()
        .table_name(&table)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let notifier: Arc<dyn Notifier> = Arc::new(SnsNotifier::new(aws.sns()));
    let store: Arc<dyn IdempotencyStore> = Arc::new(DynamoDbIdempotencyStore::new(
        aws.dynamodb(),
        TableLayout::new(&table),
    ));
    let callbacks: Arc<dyn TaskCallbacks> = Arc::new(SfnTaskCallbacks::new(aws.sfn()));

    let runs = Arc::new(AtomicU32::new(0));
    let counted = runs.clone();
    let handler = ServiceBuilder::new()
        .traced()
        .alarm(
            AlarmService::new(notifier, alarm_topic).with_environment("test"),
            "ImportHandler",
        )
        .layer(
            IdempotencyLayer::new(store, |e: &Envelope<Import>| Some(e.import_id.clone()))
                .with_payload_hash(),
        )
        .layer(TaskTokenLayer::new(callbacks).error_name("ImportError"))
        .retries(RetryPolicy::default())
        .service(handler_fn(move |e: Envelope<Import>| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                if e.fail {
                    return Err(HandlerError::permanent(format!(
                        "import {} has no rows",
                        e.import_id
                    )));
                }
                Ok(Imported {
                    import_id: e.import_id.clone(),
                    rows: 7,
                })
            }
        }));
    let bus = Bus::builder().on_named("ImportHandler", handler).build();
    let router = Router::new().step_function("IMPORT").to::<Import>();
    World {
        aws,
        app: App::builder(router, bus).build().unwrap(),
        alarms_queue,
        table,
        runs,
    }
}

fn task(import_id: &str, fail: bool, token: &str) -> SourceEvent {
    SourceEvent::StepFunction(StepFunctionInput::from_json(json!({
        "type": "IMPORT",
        "taskToken": token,
        "payload": { "importId": import_id, "fail": fail },
    })))
}

fn invocation() -> Invocation {
    Invocation::new("req-1").with_deadline(Instant::now() + Duration::from_secs(60))
}

#[tokio::test]
async fn success_reports_to_step_functions_and_a_redelivery_is_answered_from_dynamodb() {
    let w = world().await;
    let (execution, token) = waiting_execution(&w.aws).await;

    let report = w
        .app
        .process(task("imp-1", false, &token), &invocation())
        .await;
    let Status::Done(out) = &report.outcomes[0].status else {
        panic!("{report:?}")
    };
    assert_eq!(*out, json!({"importId": "imp-1", "rows": 7}));

    // Step Functions got the handler's result as the task's output.
    let described = finished(&w.aws, &execution).await;
    assert_eq!(described.status, ExecutionStatus::Succeeded);
    let output: Value = serde_json::from_str(described.output.as_deref().unwrap()).unwrap();
    assert_eq!(output, json!({"importId": "imp-1", "rows": 7}));

    // DynamoDB holds the completed record.
    let items = w
        .aws
        .dynamodb()
        .scan()
        .table_name(&w.table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0]["status"],
        aws_sdk_dynamodb::types::AttributeValue::S("COMPLETED".into())
    );

    // A redelivery is answered from DynamoDB: the handler does not run again
    // and Step Functions is not called again (the used token would now be
    // refused, which would fail the record).
    let again = w
        .app
        .process(task("imp-1", false, &token), &invocation())
        .await;
    assert!(
        matches!(&again.outcomes[0].status, Status::Done(o) if *o == *out),
        "{again:?}"
    );
    assert_eq!(w.runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_permanent_failure_fails_the_execution_and_publishes_an_alarm_to_sns() {
    let w = world().await;
    let (execution, token) = waiting_execution(&w.aws).await;

    let report = w
        .app
        .process(task("imp-2", true, &token), &invocation())
        .await;
    let Status::Failed(f) = &report.outcomes[0].status else {
        panic!("{report:?}")
    };
    assert!(!f.retry.is_retryable());
    assert_eq!(
        w.runs.load(Ordering::SeqCst),
        1,
        "a permanent error is not retried"
    );

    let described = finished(&w.aws, &execution).await;
    assert_eq!(described.status, ExecutionStatus::Failed);
    assert_eq!(described.error.as_deref(), Some("ImportError"));

    // The alarm went through SNS to the subscribed queue.
    let msg = receive_one(&w.aws, &w.alarms_queue).await;
    let envelope: Value = serde_json::from_str(msg.body().unwrap()).unwrap();
    let alarm: Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
    assert_eq!(alarm["severity"], "ERROR");
    assert_eq!(alarm["source"], "ImportHandler");
    assert_eq!(alarm["eventType"], "Import");
    assert!(
        alarm.to_string().contains("import imp-2 has no rows"),
        "{alarm}"
    );
}
