//! A fake of an app's own port, written with the testkit's fault plan and
//! call log: a payment gateway that throttles, declines and records.

use std::sync::Arc;

use eventrail::layers::{RetryPolicy, ServiceBuilderExt};
use eventrail::ports::PortError;
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
use eventrail_testkit::fakes::{CallLog, Fault, FaultPlan};
use eventrail_testkit::{sqs, TestApp};
use serde_json::json;
use tower::ServiceBuilder;

/// The app's port.
#[async_trait::async_trait]
trait PaymentGateway: Send + Sync + std::fmt::Debug {
    async fn charge(&self, charge: Charge) -> Result<String, PortError>;
}

#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
struct Charge {
    order_id: String,
    cents: u64,
}

// The whole fake: a fault plan, a call log, and one line per method.
#[derive(Clone, Debug, Default)]
struct FakeGateway {
    faults: FaultPlan<Charge>,
    calls: CallLog<Charge>,
}

#[async_trait::async_trait]
impl PaymentGateway for FakeGateway {
    async fn charge(&self, charge: Charge) -> Result<String, PortError> {
        self.faults
            .run(&self.calls, charge, |c| Ok(format!("ch_{}", c.order_id)))
    }
}

#[tokio::test(start_paused = true)]
async fn a_payment_gateway_fake_in_a_few_lines() {
    let gateway = FakeGateway::default();
    gateway.faults.fail_next(1, Fault::throttled());
    gateway.faults.fail_when(
        |c| c.cents > 100_000,
        Fault::permanent("CardDeclined").with_message("over the limit"),
    );

    let port: Arc<dyn PaymentGateway> = Arc::new(gateway.clone());
    let app = TestApp::new(move |_| {
        let handler = ServiceBuilder::new()
            .retries(RetryPolicy::default())
            .service(handler_fn(move |c: Envelope<Charge>| {
                let port = port.clone();
                async move {
                    let id = port.charge(c.event().clone()).await?;
                    Ok::<_, HandlerError>(json!({ "charge": id }))
                }
            }));
        App::builder(
            Router::new().sqs_all().to::<Charge>(),
            Bus::builder().on(handler).build(),
        )
    });

    let out = app
        .send(sqs::batch([
            sqs::message(r#"{"order_id": "o-1", "cents": 500}"#).id("m-1"),
            sqs::message(r#"{"order_id": "o-2", "cents": 250000}"#).id("m-2"),
        ]))
        .await;

    assert_eq!(out.output("m-1"), Some(&json!({"charge": "ch_o-1"})));
    assert_eq!(out.batch_item_failures(), ["m-2"]);
    assert!(
        !out.failure("m-2").unwrap().retry.is_retryable(),
        "declined for good"
    );

    // Throttled once, then charged; the declined charge is recorded too.
    let calls = gateway.calls.calls();
    let summary: Vec<(&str, Option<&str>)> = calls
        .iter()
        .map(|c| {
            (
                c.request.order_id.as_str(),
                c.error.as_ref().and_then(|e| e.code.as_deref()),
            )
        })
        .collect();
    assert_eq!(summary.len(), 3);
    assert!(summary.contains(&("o-2", Some("CardDeclined"))));
    assert_eq!(
        summary
            .iter()
            .filter(|(id, _)| *id == "o-1")
            .map(|(_, e)| *e)
            .collect::<Vec<_>>(),
        [Some("ThrottlingException"), None]
    );
    assert_eq!(
        gateway.calls.succeeded(),
        [Charge {
            order_id: "o-1".into(),
            cents: 500
        }]
    );
    assert_eq!(gateway.faults.queued(), 0);
}
