//! An order flow, tested with the testkit: a Step Functions task
//! (`.waitForTaskToken`) asks for an order to be processed; the
//! `OrderCreated` handler reserves stock (S3), mails a confirmation (SES) and
//! returns the task result; the task-token layer reports that result to Step
//! Functions and the alarm layer publishes final failures to SNS.

use std::sync::Arc;

use eventrail::app::AppBuilder;
use eventrail::layers::{RetryPolicy, ServiceBuilderExt};
use eventrail::ports::{Email, Mailer, ObjectStore};
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
use eventrail_testkit::fakes::{Fault, Template};
use eventrail_testkit::{Fakes, TestApp};
use serde_json::{json, Value};
use tower::ServiceBuilder;

// ---- the app under test: an OrderCreated handler and its stack ----

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderCreated {
    order_id: String,
    email: String,
    qty: u32,
}

const ALARMS: &str = "arn:aws:sns:us-east-1:123456789012:alarms";

async fn order_created(
    o: Envelope<OrderCreated>,
    mail: Arc<dyn Mailer>,
    stock: Arc<dyn ObjectStore>,
) -> Result<Value, HandlerError> {
    if o.qty == 0 {
        return Err(HandlerError::permanent("empty order"));
    }
    let key = format!("reserved/{}", o.order_id);
    stock
        .put("inventory", &key, o.qty.to_string().into(), None)
        .await?;
    let data = json!({ "orderId": o.order_id });
    let confirmation = Email::template("shop@example.com", &*o.email, "order-confirmed", data);
    mail.send(confirmation).await?;
    Ok(json!({ "success": true, "orderId": o.order_id }))
}

fn build(f: &Fakes) -> AppBuilder {
    let (mail, stock) = (f.mailer(), f.object_store());
    let handler = ServiceBuilder::new()
        .alarm(f.alarm_service(ALARMS), "OrderCreatedHandler")
        .task_token(f.task_callbacks())
        .retries(RetryPolicy::default())
        .service(handler_fn(move |o| {
            order_created(o, mail.clone(), stock.clone())
        }));
    let router = Router::new()
        .step_function("ORDER_PROCESS")
        .to::<OrderCreated>();
    App::builder(router, Bus::builder().on(handler).build())
}

// ---- the test ----

fn order(id: &str, qty: u32) -> Value {
    let payload = json!({ "orderId": id, "email": "ann@example.com", "qty": qty });
    json!({ "type": "ORDER_PROCESS", "payload": payload })
}

#[tokio::test(start_paused = true)]
async fn order_flow() {
    let app = TestApp::new(build);
    app.s3().create_bucket("inventory");
    let template = Template::new("Order {{orderId}} confirmed");
    app.ses().add_template("order-confirmed", template);
    app.ses().fail_next(1, Fault::throttled()); // retried after 1 s of paused time

    let (ok, task) = app.sfn().task(order("o-1", 2));
    app.send(task).await.assert_all_done();
    let result = json!({ "success": true, "orderId": "o-1" });
    assert_eq!(app.sfn().succeeded(&ok), Some(result));
    assert_eq!(app.s3().body("inventory", "reserved/o-1").unwrap(), "2");
    let mail = &app.ses().sent_to("ann@example.com")[0];
    assert_eq!(mail.subject, "Order o-1 confirmed");
    assert_eq!(app.ses().calls().len(), 2, "throttled once, then sent");

    let (bad, task) = app.sfn().task(order("o-2", 0));
    assert!(app.send(task).await.invocation_error().is_some());
    let (error, cause) = app.sfn().failed(&bad).unwrap();
    assert_eq!(error, "eventrail.PermanentError");
    assert!(cause.contains("empty order"));
    assert_eq!(app.sns().published_to(ALARMS).len(), 1);
}
