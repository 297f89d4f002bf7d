//! The order app as a Lambda function, and a demo of it.
//!
//! Run with
//!
//! ```sh
//! # the demo: the bundled events (examples/orders/events) through the app,
//! # with AWS replaced by in-memory fakes; prints what happened
//! cargo run -p example-orders
//!
//! # one event file, as Lambda would process it (fakes too): prints the response
//! cargo run -p example-orders -- invoke examples/orders/events/sqs-notifications.json
//! ```
//!
//! Under a Lambda Runtime API it serves with the real AWS clients; set
//! `ORDERS_ALARMS_TOPIC_ARN` and `ORDERS_IDEMPOTENCY_TABLE`.

use std::process::ExitCode;
use std::sync::Arc;

use eventrail::app::Invocation;
use eventrail::layers::AlarmService;
use eventrail_testkit::Fakes;
use example_orders::{app, Journal, Ports, ALARMS_TOPIC, FROM, ORDERS_TOPIC};

/// The bundled events, in the order the demo plays them.
const EVENTS: [(&str, &str); 4] = [
    (
        "sqs-notifications.json",
        include_str!("../events/sqs-notifications.json"),
    ),
    ("s3-uploads.json", include_str!("../events/s3-uploads.json")),
    (
        "dynamodb-orders.json",
        include_str!("../events/dynamodb-orders.json"),
    ),
    (
        "sfn-process-order.json",
        include_str!("../events/sfn-process-order.json"),
    ),
];

/// The CSV file the S3 event announces, as the fake bucket holds it.
const CSV_KEY: &str = "imports/csv/daily orders(2026-11-28).csv";
const CSV: &str = "order_id,total\n1001,4200\n1002,1999\n1003,500\n";

/// Ports on in-memory fakes, seeded for the bundled events.
fn fake_ports(fakes: &Fakes) -> Ports {
    fakes.ses().verify(FROM);
    fakes.s3().seed("orders-uploads", CSV_KEY, CSV);
    Ports {
        mailer: fakes.mailer(),
        notifier: fakes.notifier(),
        objects: fakes.object_store(),
        task_callbacks: fakes.task_callbacks(),
        idempotency: fakes.idempotency_store(),
        alarms: AlarmService::new(fakes.notifier(), ALARMS_TOPIC).with_environment("demo"),
    }
}

/// Ports on the AWS clients, configured from the environment.
async fn aws_ports() -> Result<Ports, String> {
    use eventrail_aws::dynamodb::{DynamoDbIdempotencyStore, TableLayout};
    let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let aws = eventrail_aws::config::load().await;
    let notifier = Arc::new(eventrail_aws::SnsNotifier::from_conf(&aws));
    Ok(Ports {
        mailer: Arc::new(eventrail_aws::SesMailer::from_conf(&aws)),
        notifier: notifier.clone(),
        objects: Arc::new(eventrail_aws::S3ObjectStore::from_conf(&aws)),
        task_callbacks: Arc::new(eventrail_aws::SfnTaskCallbacks::from_conf(&aws)),
        idempotency: Arc::new(DynamoDbIdempotencyStore::from_conf(
            &aws,
            TableLayout::new(var("ORDERS_IDEMPOTENCY_TABLE")?),
        )),
        alarms: AlarmService::new(notifier, var("ORDERS_ALARMS_TOPIC_ARN")?).with_environment(
            std::env::var("ORDERS_ENVIRONMENT").unwrap_or_else(|_| "prod".into()),
        ),
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let first = std::env::args().nth(1);
    let result = match first.as_deref() {
        None => demo().await,
        Some("invoke") => {
            // Local invoke of one event file: the same path as on Lambda, on fakes.
            let fakes = Fakes::new();
            let app = app(&fake_ports(&fakes), &Journal::default());
            eventrail_lambda::run(app).await.map_err(|e| e.to_string())
        }
        Some(_) if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() => Err(
            "usage: example-orders            (the demo)\n       example-orders invoke FILE|-"
                .into(),
        ),
        Some(_) => match aws_ports().await {
            Ok(ports) => eventrail_lambda::run(app(&ports, &Journal::default()))
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn demo() -> Result<(), String> {
    let fakes = Fakes::new();
    let journal = Journal::default();
    let app = app(&fake_ports(&fakes), &journal);

    println!("eventrail order demo: bundled AWS events through the order app, AWS replaced by in-memory fakes\n");
    println!("{}", app.routes());

    for (i, (name, text)) in EVENTS.iter().enumerate() {
        let mut payload: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("{name}: {e}"))?;
        if let Some(token) = payload.get_mut("taskToken") {
            // The fake Step Functions only accepts tokens it issued.
            *token = fakes.sfn().issue_token().into();
        }
        let records = payload["Records"].as_array().map_or(1, Vec::len);
        println!("== {name} ({records} record(s))");
        let result = eventrail_lambda::invoke_value(
            &app,
            payload,
            Invocation::new(format!("demo-{}", i + 1)),
        )
        .await;
        for line in journal.take() {
            println!("   handler: {line}");
        }
        match result {
            Ok(response) => println!("   response: {response}\n"),
            Err(e) => println!("   invocation error: {e}\n"),
        }
    }

    println!("== what reached the fakes");
    for mail in fakes.ses().outbox() {
        println!("   SES mail to {:?}: {:?}", mail.email.to, mail.subject);
    }
    for msg in fakes.sns().published_to(ORDERS_TOPIC) {
        println!("   SNS {ORDERS_TOPIC}: {}", msg.message);
    }
    for msg in fakes.sns().published_to(ALARMS_TOPIC) {
        println!(
            "   SNS alarm: {}",
            msg.subject.as_deref().unwrap_or("(no subject)")
        );
    }
    for token in fakes.sfn().tokens() {
        match fakes.sfn().succeeded(&token) {
            Some(output) => println!("   Step Functions task succeeded with {output}"),
            None => println!(
                "   Step Functions task state: {:?}",
                fakes.sfn().state(&token)
            ),
        }
    }
    Ok(())
}
