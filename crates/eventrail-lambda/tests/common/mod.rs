//! A test app with one route per source and handlers whose behaviour the
//! event decides: fail permanently or retryably, panic, sleep.

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventrail::dynamodb::DataChange;
use eventrail::s3::S3Object;
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};

/// The job every JSON source carries.
#[derive(Debug, serde::Deserialize)]
pub struct Job {
    pub id: String,
    #[serde(default)]
    pub fail: Option<String>,
    #[serde(default)]
    pub sleep_ms: u64,
}

/// A DynamoDB item.
#[derive(Debug, serde::Deserialize)]
pub struct Item {
    pub pk: String,
    #[serde(default)]
    pub fail: String,
}

/// An uploaded object.
#[derive(Debug)]
pub struct Upload(pub S3Object);

impl From<S3Object> for Upload {
    fn from(o: S3Object) -> Self {
        Self(o)
    }
}

/// What the handlers saw.
#[derive(Debug, Default)]
pub struct Probe {
    pub in_flight: AtomicUsize,
    pub peak: AtomicUsize,
    pub started: Mutex<Vec<String>>,
}

impl Probe {
    pub fn started(&self) -> Vec<String> {
        self.started.lock().unwrap().clone()
    }
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

async fn behave(
    probe: &Probe,
    id: &str,
    fail: &str,
    sleep_ms: u64,
) -> Result<String, HandlerError> {
    probe.started.lock().unwrap().push(id.to_owned());
    let now = probe.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    probe.peak.fetch_max(now, Ordering::SeqCst);
    if sleep_ms > 0 {
        tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
    } else {
        tokio::task::yield_now().await;
    }
    probe.in_flight.fetch_sub(1, Ordering::SeqCst);
    match fail {
        "permanent" => Err(HandlerError::permanent(format!("job {id} is poison"))),
        "retryable" => Err(HandlerError::retryable(format!(
            "job {id} hit a busy dependency"
        ))),
        "panic" => panic!("job {id} blew up"),
        _ => Ok(format!("done {id}")),
    }
}

/// The app, its probe, built with `tune` applied to the builder.
pub fn app_with(
    tune: impl FnOnce(eventrail::app::AppBuilder) -> eventrail::app::AppBuilder,
) -> (App, Arc<Probe>) {
    install_log_capture();
    let probe = Arc::new(Probe::default());
    let (p1, p2, p3) = (probe.clone(), probe.clone(), probe.clone());
    let router = Router::new()
        .sqs("type", "JOB")
        .to::<Job>()
        .sns("type", "JOB")
        .to::<Job>()
        .kinesis("type", "JOB")
        .to::<Job>()
        .step_function("JOB")
        .to::<Job>()
        .eventbridge("com.example.jobs", "Job Requested")
        .to::<Job>()
        .s3()
        .prefix("uploads/")
        .to::<Upload>()
        .dynamodb("JOB#")
        .to::<Item>();
    let bus = Bus::builder()
        .on(handler_fn(move |job: Envelope<Job>| {
            let p = p1.clone();
            async move { behave(&p, &job.id, job.fail.as_deref().unwrap_or(""), job.sleep_ms).await }
        }))
        .on(handler_fn(move |up: Envelope<Upload>| {
            let p = p2.clone();
            async move {
                let fail = if up.0.key.contains("poison") { "permanent" } else { "" };
                behave(&p, &up.0.key, fail, 0).await
            }
        }))
        .on(handler_fn(move |change: Envelope<DataChange<Item>>| {
            let p = p3.clone();
            async move {
                let item = change.new.as_ref().expect("new image");
                behave(&p, &item.pk, &item.fail, 0).await
            }
        }))
        .build();
    let app = tune(App::builder(router, bus))
        .build()
        .expect("routes are consistent");
    (app, probe)
}

/// The app with default settings.
pub fn app() -> (App, Arc<Probe>) {
    app_with(|b| b)
}

/// An SQS record with `body`.
pub fn sqs_record(id: &str, body: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "messageId": id,
        "receiptHandle": format!("rh-{id}"),
        "body": body.to_string(),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:111122223333:jobs",
        "awsRegion": "eu-west-1"
    })
}

/// An SQS FIFO record of message group `group`.
pub fn fifo_record(id: &str, group: &str, body: serde_json::Value) -> serde_json::Value {
    let mut r = sqs_record(id, body);
    r["attributes"]["MessageGroupId"] = group.into();
    r["eventSourceARN"] = "arn:aws:sqs:eu-west-1:111122223333:jobs.fifo".into();
    r
}

/// A batch of records.
pub fn batch(records: Vec<serde_json::Value>) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "Records": records })).unwrap()
}

/// A job body.
pub fn job(id: &str) -> serde_json::Value {
    serde_json::json!({"type": "JOB", "id": id})
}

/// A job body that fails with `how` (`permanent`, `retryable`, `panic`).
pub fn failing(id: &str, how: &str) -> serde_json::Value {
    serde_json::json!({"type": "JOB", "id": id, "fail": how})
}

/// The item identifiers of a batch response.
pub fn failures(resp: &serde_json::Value) -> Vec<String> {
    resp["batchItemFailures"]
        .as_array()
        .expect("a batch response")
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

/// Log lines written on this thread while the returned guard lives.
///
/// One subscriber serves the whole test process, installed as the global
/// default before any test logs (see [`install_log_capture`]); it writes
/// each event to the buffer of the thread that emitted it, if that thread is
/// capturing. Per-thread `set_default` subscribers are not used: tracing
/// caches each callsite's interest across threads, and a callsite first hit
/// by a test without a subscriber could stay disabled for a test with one.
pub struct Captured {
    buf: Arc<Mutex<Vec<u8>>>,
}

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
    }
}

impl Drop for Captured {
    fn drop(&mut self) {
        let _ = SINK.try_with(|s| s.borrow_mut().take());
    }
}

thread_local! {
    static SINK: std::cell::RefCell<Option<Arc<Mutex<Vec<u8>>>>> =
        const { std::cell::RefCell::new(None) };
}

struct ThreadSink;

impl std::io::Write for ThreadSink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        SINK.with(|s| {
            if let Some(buf) = &*s.borrow() {
                buf.lock().unwrap().extend_from_slice(b);
            }
        });
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the process's one log subscriber (INFO and above, plain text),
/// once. The app helpers call it first, so it is in place before any test
/// of the binary logs anything.
pub fn install_log_capture() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(|| ThreadSink)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in the test process");
    });
}

pub fn capture_logs() -> Captured {
    install_log_capture();
    let buf = Arc::new(Mutex::new(Vec::new()));
    SINK.with(|s| *s.borrow_mut() = Some(buf.clone()));
    Captured { buf }
}
