//! The metrics line: one embedded metric format document per invocation,
//! valid against the format's schema, with the counts of what the app did.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use eventrail::app::Invocation;
use eventrail::layers::alarm::AlarmService;
use eventrail::layers::dead_letter::{DeadLetter, DeadLetterSink};
use eventrail::layers::{
    IdempotencyOptions, MemoryIdempotencyStore, RetryPolicy, ServiceBuilderExt,
};
use eventrail::metrics::{Emf, Unit};
use eventrail::ports::{Clock, Notifier, PortError, PublishReceipt, SnsMessage, TokioClock};
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
use eventrail_lambda::{invoke, Function, WholeBatchFailure};
use serde_json::{json, Value};
use tower::ServiceBuilder;

const SCHEMA: &str = include_str!("schema/emf.schema.json");

#[derive(Debug, serde::Deserialize)]
struct Job {
    id: String,
    #[serde(default)]
    fail: String,
}

/// An SNS topic that refuses alarms whose message mentions `nomail`.
#[derive(Debug, Default)]
struct Topic(Mutex<Vec<SnsMessage>>);

#[async_trait::async_trait]
impl Notifier for Topic {
    async fn publish(&self, msg: SnsMessage) -> Result<PublishReceipt, PortError> {
        if msg.message.contains("nomail") {
            return Err(PortError::retryable("topic throttled"));
        }
        self.0.lock().unwrap().push(msg);
        Ok(PublishReceipt {
            message_id: "1".into(),
        })
    }
}

#[derive(Debug, Default)]
struct Letters(Mutex<Vec<String>>);

#[async_trait::async_trait]
impl DeadLetterSink<Job> for Letters {
    async fn store(&self, letter: DeadLetter<'_, Job>) -> Result<(), PortError> {
        self.0.lock().unwrap().push(letter.envelope.id.clone());
        Ok(())
    }
}

/// Jobs behind alarm → dead letter → idempotency → retries. `flaky` fails
/// retryably once, `permanent` and `nomail` fail permanently; every job done
/// adds `JobsDone` and its id's length as `IdBytes`.
fn app() -> (App, Arc<Topic>, Arc<Letters>) {
    let topic = Arc::new(Topic::default());
    let letters = Arc::new(Letters::default());
    let flaky_once = Arc::new(AtomicBool::new(true));
    let alarms = AlarmService::new(topic.clone(), "arn:aws:sns:eu-west-1:111122223333:alarms");
    let handler = ServiceBuilder::new()
        .alarm(alarms, "Jobs")
        .dead_letter(letters.clone() as Arc<dyn DeadLetterSink<Job>>)
        .idempotent(
            Arc::new(MemoryIdempotencyStore::new()),
            |e: &Envelope<Job>| Some(e.id.clone()),
            IdempotencyOptions::new(),
        )
        .retries(RetryPolicy::default().with_max_attempts(3))
        .service(handler_fn(move |job: Envelope<Job>| {
            let flaky_once = flaky_once.clone();
            async move {
                match job.fail.as_str() {
                    "flaky" if flaky_once.swap(false, Ordering::SeqCst) => {
                        return Err(HandlerError::retryable("busy, try again"));
                    }
                    "permanent" | "nomail" => {
                        return Err(HandlerError::permanent(format!(
                            "job {} is {}",
                            job.id, job.fail
                        )));
                    }
                    _ => {}
                }
                job.meta().add_metric("JobsDone", 1.0, Unit::Count);
                job.meta()
                    .add_metric("IdBytes", job.id.len() as f64, Unit::Bytes);
                Ok::<_, HandlerError>(())
            }
        }));
    let app = App::builder(
        Router::new().sqs("type", "JOB").to::<Job>(),
        Bus::builder().on(handler).build(),
    )
    .build()
    .unwrap();
    (app, topic, letters)
}

fn record(id: &str, body: &str) -> Value {
    json!({"eventSource": "aws:sqs", "messageId": id, "body": body})
}

fn job(id: &str, fail: &str) -> Value {
    record(
        id,
        &json!({"type": "JOB", "id": id, "fail": fail}).to_string(),
    )
}

fn payload(records: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({ "Records": records })).unwrap()
}

/// A function writing its metrics lines into the returned vector.
fn with_lines(function: Function) -> (Function, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let f = function.metrics_sink(move |l| sink.lock().unwrap().push(l.to_owned()));
    (f, lines)
}

fn take_one(lines: &Mutex<Vec<String>>) -> Value {
    let mut lines = lines.lock().unwrap();
    assert_eq!(lines.len(), 1, "one line per invocation: {lines:?}");
    let line = lines.pop().unwrap();
    assert!(!line.contains('\n'), "one line: {line}");
    serde_json::from_str(&line).expect("the line is JSON")
}

/// Checks `doc` against the format: the schema, then the rules on target
/// members the schema cannot state.
fn assert_valid_emf(doc: &Value) {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator.iter_errors(doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "schema errors: {errors:?} in {doc}");
    for directive in doc["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
        for set in directive["Dimensions"].as_array().unwrap() {
            for key in set.as_array().unwrap() {
                let key = key.as_str().unwrap();
                assert!(
                    doc[key].is_string(),
                    "dimension `{key}` is a string member of the root"
                );
            }
        }
        let mut seen = HashSet::new();
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(seen.insert(name), "metric `{name}` defined once");
            let target = &doc[name];
            let numeric = target.is_number()
                || target
                    .as_array()
                    .is_some_and(|a| a.len() <= 100 && a.iter().all(Value::is_number));
            assert!(numeric, "metric `{name}` targets a number: {target}");
        }
    }
}

#[test]
fn the_schema_rejects_what_the_format_forbids() {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    let good = json!({
        "_aws": {"Timestamp": 1, "CloudWatchMetrics": [{
            "Namespace": "n", "Dimensions": [["A"]], "Metrics": [{"Name": "m", "Unit": "Count"}]}]},
        "A": "a", "m": 1
    });
    assert!(v.is_valid(&good));
    let mut bad_unit = good.clone();
    bad_unit["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("Records");
    let mut no_timestamp = good.clone();
    no_timestamp["_aws"]
        .as_object_mut()
        .unwrap()
        .remove("Timestamp");
    let mut float_timestamp = good.clone();
    float_timestamp["_aws"]["Timestamp"] = json!(1.5);
    let mut extra_member = good.clone();
    extra_member["_aws"]["CloudWatchMetrics"][0]["Extra"] = json!(1);
    let mut empty_namespace = good.clone();
    empty_namespace["_aws"]["CloudWatchMetrics"][0]["Namespace"] = json!("");
    let mut ten_dimensions = good.clone();
    ten_dimensions["_aws"]["CloudWatchMetrics"][0]["Dimensions"] =
        json!([["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]]);
    for (what, doc) in [
        ("unit", bad_unit),
        ("no timestamp", no_timestamp),
        ("float timestamp", float_timestamp),
        ("extra member", extra_member),
        ("empty namespace", empty_namespace),
        ("ten dimensions", ten_dimensions),
    ] {
        assert!(!v.is_valid(&doc), "{what} must be rejected");
    }
}

#[tokio::test(start_paused = true)]
async fn one_valid_line_counts_what_the_batch_did() {
    let (app, topic, letters) = app();
    let start = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_583_200_123);
    let clock = TokioClock::starting_at(start);
    let (function, lines) = with_lines(
        Function::new(app)
            .metrics(Emf::new("Jobs").unwrap().function_name("jobs-prod"))
            .clock(clock),
    );
    let batch = payload(vec![
        job("a", ""),
        job("b", "flaky"),
        job("c", "permanent"),
        record("d", "{not json"),
        job("e", "nomail"),
    ]);
    let response = invoke(&function, &batch, Invocation::new("req-1"))
        .await
        .unwrap();
    assert_eq!(
        response,
        json!({"batchItemFailures": [
            {"itemIdentifier": "c"}, {"itemIdentifier": "d"}, {"itemIdentifier": "e"}]})
    );
    let doc = take_one(&lines);
    assert_valid_emf(&doc);

    let counts: Vec<(&str, u64)> = [
        ("Records", 5),
        ("Done", 2),
        ("Acknowledged", 0),
        ("Failed", 3),
        ("FailedRetryable", 0),
        ("FailedPermanent", 3),
        ("Retried", 1),
        ("DuplicatesSkipped", 0),
        ("NotStarted", 0),
        ("AlarmsSent", 1),
        ("AlarmFailures", 1),
        ("DeadLettered", 2),
        ("DeadLetterFailures", 0),
    ]
    .into();
    for (name, n) in counts {
        assert_eq!(doc[name].as_u64(), Some(n), "{name} in {doc}");
    }
    // What reached the fakes agrees with the counts.
    assert_eq!(topic.0.lock().unwrap().len(), 1);
    assert_eq!(*letters.0.lock().unwrap(), ["c", "e"]);

    // The handlers' own metrics, summed over the batch.
    assert_eq!(doc["JobsDone"].as_f64(), Some(2.0));
    assert_eq!(doc["IdBytes"].as_f64(), Some(2.0));
    assert_eq!(doc["InvocationFailed"].as_f64(), Some(0.0));

    // Dimensions, properties, units, timestamp from the clock.
    assert_eq!(doc["FunctionName"], "jobs-prod");
    assert_eq!(doc["Source"], "sqs");
    assert_eq!(doc["RequestId"], "req-1");
    assert_eq!(doc["WholeBatchFailure"], "report-items");
    let directive = &doc["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "Jobs");
    assert_eq!(directive["Dimensions"], json!([["FunctionName", "Source"]]));
    let unit_of = |name: &str| {
        directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["Name"] == name)
            .map(|m| m["Unit"].as_str().unwrap().to_owned())
    };
    assert_eq!(unit_of("Duration").as_deref(), Some("Milliseconds"));
    assert_eq!(unit_of("Failed").as_deref(), Some("Count"));
    assert_eq!(unit_of("IdBytes").as_deref(), Some("Bytes"));
    let now_ms = clock
        .now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert_eq!(doc["_aws"]["Timestamp"].as_u64(), Some(now_ms));
    // On the paused clock the duration is the retry's backoff, exactly.
    let elapsed = now_ms - 1_764_583_200_123;
    assert!(elapsed > 0, "the retry waited");
    assert_eq!(doc["Duration"].as_f64(), Some(elapsed as f64));

    // The same jobs again: the done ones are answered from the store.
    invoke(
        &function,
        &payload(vec![job("a", ""), job("b", "flaky")]),
        Invocation::new("req-2"),
    )
    .await
    .unwrap();
    let doc = take_one(&lines);
    assert_valid_emf(&doc);
    assert_eq!(doc["DuplicatesSkipped"].as_u64(), Some(2));
    assert_eq!(doc["Done"].as_u64(), Some(2));
    assert!(doc.get("JobsDone").is_none(), "no handler ran: {doc}");
}

#[tokio::test(start_paused = true)]
async fn records_not_started_for_the_deadline_are_counted() {
    let (app, _, _) = app();
    let (function, lines) = with_lines(Function::new(app).metrics(Emf::new("Jobs").unwrap()));
    let inv = Invocation::new("req-late").with_deadline(tokio::time::Instant::now());
    let response = invoke(&function, &payload(vec![job("a", ""), job("b", "")]), inv)
        .await
        .unwrap();
    assert_eq!(response["batchItemFailures"].as_array().unwrap().len(), 2);
    let doc = take_one(&lines);
    assert_valid_emf(&doc);
    assert_eq!(doc["NotStarted"].as_u64(), Some(2));
    assert_eq!(doc["FailedRetryable"].as_u64(), Some(2));
    assert_eq!(doc["Done"].as_u64(), Some(0));
}

#[tokio::test(start_paused = true)]
async fn no_line_without_metrics_and_env_turns_them_on_and_off() {
    let (app, _, _) = app();
    let (function, lines) = with_lines(Function::new(app));
    invoke(
        &function,
        &payload(vec![job("a", "")]),
        Invocation::default(),
    )
    .await
    .unwrap();
    assert!(
        lines.lock().unwrap().is_empty(),
        "metrics are off by default"
    );

    let on = function
        .clone()
        .with_vars(Some("emf"), Some("FromEnv"))
        .unwrap();
    invoke(&on, &payload(vec![job("b", "")]), Invocation::default())
        .await
        .unwrap();
    let doc = take_one(&lines);
    assert_valid_emf(&doc);
    assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "FromEnv");
    assert!(doc.get("RequestId").is_none(), "no request id, no property");

    let off = on.with_vars(Some("off"), None).unwrap();
    assert!(off.metrics_config().is_none());
    invoke(&off, &payload(vec![job("c", "")]), Invocation::default())
        .await
        .unwrap();
    assert!(lines.lock().unwrap().is_empty());

    let err = function.with_vars(Some("statsd"), None).unwrap_err();
    assert!(err.to_string().contains("`statsd`"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn configured_dimensions_and_unusable_handler_metrics() {
    let router = Router::new().sqs("type", "JOB").to::<Job>();
    let bus = Bus::builder()
        .on(handler_fn(|job: Envelope<Job>| async move {
            let m = job.meta();
            m.add_metric("Records", 99.0, Unit::Count); // taken by a built-in
            m.add_metric("Latency", f64::NAN, Unit::Milliseconds); // not finite
            m.add_metric("Stage", 1.0, Unit::Count); // taken by a dimension
            m.add_metric("Lines", 3.0, Unit::Count);
            Ok::<_, HandlerError>(())
        }))
        .build();
    let app = App::builder(router, bus).build().unwrap();
    let emf = Emf::new("Jobs")
        .unwrap()
        .without_default_dimensions()
        .dimension("Stage", "prod")
        .unwrap();
    let (function, lines) = with_lines(Function::new(app).metrics(emf));
    invoke(
        &function,
        &payload(vec![job("a", ""), job("b", "")]),
        Invocation::default(),
    )
    .await
    .unwrap();
    let doc = take_one(&lines);
    assert_valid_emf(&doc);
    assert_eq!(
        doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["Stage"]])
    );
    assert_eq!(doc["Stage"], "prod");
    assert_eq!(
        doc["Records"].as_u64(),
        Some(2),
        "the built-in count stands"
    );
    assert_eq!(doc["Lines"].as_f64(), Some(6.0));
    assert!(doc.get("Latency").is_none());
    assert!(doc.get("FunctionName").is_none());

    assert!(Emf::new("").is_err());
    assert!(Emf::new("AWS/Lambda").is_err());
    assert!(Emf::new("Jobs").unwrap().dimension("Failed", "x").is_err());
    assert!(Emf::new("Jobs").unwrap().dimension("Source", "x").is_err());
}

#[tokio::test(start_paused = true)]
async fn more_than_a_hundred_metrics_are_split_over_directives() {
    let router = Router::new().sqs("type", "JOB").to::<Job>();
    let bus = Bus::builder()
        .on(handler_fn(|job: Envelope<Job>| async move {
            for i in 0..120 {
                job.meta().add_metric(format!("M{i}"), 1.0, Unit::None);
            }
            Ok::<_, HandlerError>(())
        }))
        .build();
    let app = App::builder(router, bus).build().unwrap();
    let (function, lines) = with_lines(Function::new(app).metrics(Emf::new("Jobs").unwrap()));
    invoke(
        &function,
        &payload(vec![job("a", "")]),
        Invocation::default(),
    )
    .await
    .unwrap();
    let doc = take_one(&lines);
    assert_valid_emf(&doc);
    let directives = doc["_aws"]["CloudWatchMetrics"].as_array().unwrap();
    let total: usize = directives
        .iter()
        .map(|d| d["Metrics"].as_array().unwrap().len())
        .sum();
    // 14 built-in + InvocationFailed + 120 of the handler's.
    assert_eq!((directives.len(), total), (2, 135));
}

#[tokio::test(start_paused = true)]
async fn a_failed_invocation_is_counted_on_the_line() {
    let (app, _, _) = app();
    let (function, lines) = with_lines(
        Function::new(app)
            .whole_batch_failure(WholeBatchFailure::FailInvocation)
            .metrics(Emf::new("Jobs").unwrap()),
    );
    let err = invoke(
        &function,
        &payload(vec![job("x", "permanent")]),
        Invocation::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "Eventrail.RecordsFailed");
    let doc = take_one(&lines);
    assert_valid_emf(&doc);
    assert_eq!(doc["InvocationFailed"].as_f64(), Some(1.0));
    assert_eq!(doc["WholeBatchFailure"], "fail-invocation");
    assert_eq!(doc["Failed"].as_u64(), Some(1));
}
