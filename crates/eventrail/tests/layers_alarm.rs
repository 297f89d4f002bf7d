//! The alarm layer and `AlarmService`: what reaches the SNS topic.

mod layers_support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use eventrail::layers::alarm::{
    mask_emails, sanitize_subject, AlarmLayer, Severity, MAX_SUBJECT_CHARS,
};
use eventrail::layers::{Alarm, AlarmService, RetryPolicy, ServiceBuilderExt};
use eventrail::ports::{AttributeValue, PortError, TokioClock};
use eventrail::{handler_fn, Envelope, HandlerError, Metadata, Source};
use layers_support::Topic;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

const TOPIC: &str = "arn:aws:sns:ap-northeast-1:123456789012:alarms";

fn alarms(topic: &Arc<Topic>) -> AlarmService {
    AlarmService::new(topic.clone(), TOPIC)
        .with_environment("prod")
        .with_clock(Arc::new(TokioClock::starting_at(
            SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_874_709_123),
        )))
}

#[derive(Debug)]
struct ImportProcess;

fn import_env() -> Envelope<ImportProcess> {
    Envelope::new(
        ImportProcess,
        Metadata::new("rec-7", Source::Sqs)
            .with_tenant("acme")
            .with_correlation_id("corr-1"),
    )
}

fn failing(
    msg: &'static str,
) -> impl Service<
    Envelope<ImportProcess>,
    Response = (),
    Error = HandlerError,
    Future = impl std::future::Future<Output = Result<(), HandlerError>> + Send,
> + Clone {
    handler_fn(move |_: Envelope<ImportProcess>| async move {
        Err::<(), _>(HandlerError::permanent(msg))
    })
}

#[tokio::test(start_paused = true)]
async fn a_final_failure_publishes_one_json_alarm() {
    let topic = Topic::new();
    let mut svc = AlarmLayer::new(alarms(&topic), "ImportProcessEventHandler")
        .layer(failing("bucket not found"));
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(import_env())
        .await
        .unwrap_err();
    assert!(err.is::<HandlerError>());
    assert_eq!(err.to_string(), "bucket not found");

    let sent = topic.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].topic_arn, TOPIC);
    assert_eq!(
        sent[0].subject.as_deref(),
        Some("[ERROR] ImportProcessEventHandler: bucket not found")
    );
    assert_eq!(
        sent[0].attributes["severity"],
        AttributeValue::String("ERROR".into())
    );
    let body = &topic.bodies()[0];
    assert_eq!(
        *body,
        serde_json::json!({
            "severity": "ERROR",
            "source": "ImportProcessEventHandler",
            "message": "bucket not found",
            "error": { "message": "bucket not found", "chain": ["bucket not found"], "retryable": false },
            "eventId": "rec-7",
            "eventType": "ImportProcess",
            "tenant": "acme",
            "correlationId": "corr-1",
            "attempts": 1,
            "timestamp": "2026-11-28T14:05:09.123Z",
            "environment": "prod",
        })
    );
}

#[tokio::test(start_paused = true)]
async fn success_publishes_nothing() {
    let topic = Topic::new();
    let mut svc = AlarmLayer::new(alarms(&topic), "H").layer(handler_fn(
        |_: Envelope<ImportProcess>| async { Ok::<_, HandlerError>(1) },
    ));
    assert_eq!(
        svc.ready().await.unwrap().call(import_env()).await.unwrap(),
        1
    );
    assert!(topic.messages().is_empty());
}

#[tokio::test(start_paused = true)]
async fn only_the_final_failure_alarms_and_it_counts_attempts() {
    let topic = Topic::new();
    let mut svc = ServiceBuilder::new()
        .alarm(alarms(&topic), "ImportProcessEventHandler")
        .retries(RetryPolicy::default())
        .service(handler_fn(|_: Envelope<ImportProcess>| async {
            Err::<(), _>(HandlerError::retryable("S3 slow down"))
        }));
    svc.ready()
        .await
        .unwrap()
        .call(import_env())
        .await
        .unwrap_err();
    let bodies = topic.bodies();
    assert_eq!(bodies.len(), 1, "one alarm after three attempts");
    assert_eq!(bodies[0]["attempts"], 3);
    assert_eq!(bodies[0]["error"]["retryable"], true);
    assert_eq!(
        bodies[0]["timestamp"], "2026-11-28T14:05:12.123Z",
        "after 1 s + 2 s of backoff"
    );
}

#[tokio::test(start_paused = true)]
async fn a_10_kb_multi_line_error_still_gives_a_valid_subject() {
    let topic = Topic::new();
    let huge: &'static str = Box::leak(
        "Traceback line with ünïcode — and a tab\there\r\n"
            .repeat(220)
            .into_boxed_str(),
    );
    assert!(huge.len() > 10_000);
    let mut svc = AlarmLayer::new(alarms(&topic), "ImportProcessEventHandler").layer(failing(huge));
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(import_env())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), huge, "the handler's error is intact");

    let sent = topic.messages();
    let subject = sent[0].subject.clone().unwrap();
    assert!(
        subject.len() <= MAX_SUBJECT_CHARS,
        "{} chars",
        subject.len()
    );
    assert!(
        subject.chars().all(|c| (' '..='~').contains(&c)),
        "{subject:?}"
    );
    assert!(!subject.contains('\n') && !subject.contains('\r'));
    assert!(subject.starts_with(
        "[ERROR] ImportProcessEventHandler: Traceback line with ?n?code ? and a tab here"
    ));
    assert!(subject.ends_with("..."));
    // The body keeps the whole message.
    let body = &topic.bodies()[0];
    assert_eq!(body["message"].as_str().unwrap().len(), huge.len());
}

#[tokio::test(start_paused = true)]
async fn a_failed_publish_is_counted_and_never_masks_the_handler_error() {
    let topic = Topic::new();
    topic.fail_next(PortError::retryable("SNS throttled").with_code("Throttling"));
    let service = alarms(&topic);
    let mut svc = AlarmLayer::new(service.clone(), "H").layer(failing("the real problem"));
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(import_env())
        .await
        .unwrap_err();
    assert!(err.is::<HandlerError>());
    assert_eq!(err.to_string(), "the real problem");
    assert_eq!(service.failed_publishes(), 1);
    assert!(topic.messages().is_empty());

    // The next failure alarms normally.
    svc.ready()
        .await
        .unwrap()
        .call(import_env())
        .await
        .unwrap_err();
    assert_eq!(topic.messages().len(), 1);
    assert_eq!(service.failed_publishes(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_error_chain_is_reported_outermost_first() {
    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("could not read the import file")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    let topic = Topic::new();
    let mut svc = AlarmLayer::new(alarms(&topic), "H").layer(handler_fn(
        |_: Envelope<ImportProcess>| async {
            Err::<(), _>(Outer(std::io::Error::other("connection reset by peer")))
        },
    ));
    svc.ready()
        .await
        .unwrap()
        .call(import_env())
        .await
        .unwrap_err();
    let body = &topic.bodies()[0];
    assert_eq!(
        body["error"]["chain"],
        serde_json::json!(["could not read the import file", "connection reset by peer"])
    );
}

#[tokio::test(start_paused = true)]
async fn redaction_runs_before_publishing_and_shapes_the_subject() {
    let topic = Topic::new();
    let service = alarms(&topic).with_redaction(|a: &mut Alarm| {
        a.message = mask_emails(&a.message);
        if let Some(e) = a.error.as_mut() {
            e.message = mask_emails(&e.message);
            e.chain = e.chain.iter().map(|m| mask_emails(m)).collect();
        }
        a.details = None;
        a.tenant = None;
    });
    let mut svc = AlarmLayer::new(service.clone(), "Mailer")
        .layer(failing("could not mail jane@example.com"));
    svc.ready()
        .await
        .unwrap()
        .call(import_env())
        .await
        .unwrap_err();
    service
        .warning(
            "Mailer",
            "bounce from bob@example.org",
            Some(serde_json::json!({"payload": "secret"})),
        )
        .await
        .unwrap();

    let text: String = topic
        .messages()
        .iter()
        .map(|m| format!("{} {}", m.subject.clone().unwrap(), m.message))
        .collect();
    assert!(
        !text.contains("example.com") && !text.contains("example.org"),
        "{text}"
    );
    assert!(!text.contains("secret") && !text.contains("acme"));
    assert_eq!(
        topic.messages()[0].subject.as_deref(),
        Some("[ERROR] Mailer: could not mail [email]")
    );
}

#[tokio::test(start_paused = true)]
async fn severity_can_depend_on_the_error() {
    let topic = Topic::new();
    let layer = AlarmLayer::new(alarms(&topic), "H").severity_fn(|e| {
        if eventrail::error::is_retryable(e) {
            Severity::Warning
        } else {
            Severity::Critical
        }
    });
    let mut svc = layer.layer(failing("corrupt file"));
    svc.ready()
        .await
        .unwrap()
        .call(import_env())
        .await
        .unwrap_err();
    assert_eq!(topic.bodies()[0]["severity"], "CRITICAL");
}

#[tokio::test(start_paused = true)]
async fn the_service_helpers_for_handlers() {
    let topic = Topic::new();
    let s = alarms(&topic);
    let io = std::io::Error::other("disk full");
    s.critical("Importer", "import stopped", Some(&io))
        .await
        .unwrap();
    s.error("Importer", "one file skipped", None).await.unwrap();
    s.warning(
        "BatchProcessor",
        "3 items failed",
        Some(serde_json::json!({ "errors": [1, 2, 3] })),
    )
    .await
    .unwrap();
    s.info("Importer", "nightly import done", None)
        .await
        .unwrap();
    let subjects: Vec<_> = topic
        .messages()
        .into_iter()
        .map(|m| m.subject.unwrap())
        .collect();
    assert_eq!(
        subjects,
        [
            "[CRITICAL] Importer: import stopped",
            "[ERROR] Importer: one file skipped",
            "[WARNING] BatchProcessor: 3 items failed",
            "[INFO] Importer: nightly import done",
        ]
    );
    let bodies = topic.bodies();
    assert_eq!(bodies[0]["error"]["message"], "disk full");
    assert_eq!(bodies[2]["details"]["errors"], serde_json::json!([1, 2, 3]));
    assert!(bodies[1].get("error").is_none());
    assert!(bodies.iter().all(|b| b["environment"] == "prod"));
}

#[tokio::test(start_paused = true)]
async fn the_service_returns_publish_errors_to_handlers() {
    let topic = Topic::new();
    topic.fail_next(PortError::permanent("topic does not exist").with_code("NotFound"));
    let s = alarms(&topic);
    let err = s.info("x", "y", None).await.unwrap_err();
    assert_eq!(err.code(), Some("NotFound"));
    assert_eq!(s.failed_publishes(), 1);
}

#[test]
fn subjects_from_odd_input() {
    assert_eq!(sanitize_subject("\u{0}\u{7}bell\u{1b}[0m"), "bell [0m");
    assert_eq!(sanitize_subject(&"é".repeat(300)).len(), 100);
    let a = Alarm::new(Severity::Info, "s", "m");
    assert_eq!(a.subject(), "[INFO] s: m");
}

#[tokio::test(start_paused = true)]
async fn alarms_can_be_limited_to_some_errors() {
    let topic = Topic::new();
    let mut svc = AlarmLayer::new(alarms(&topic), "H")
        .only_if(|e| !eventrail::error::is_retryable(e))
        .layer(handler_fn(|e: Envelope<u8>| async move {
            match e.event() {
                0 => Err::<(), _>(HandlerError::retryable("busy")),
                _ => Err(HandlerError::permanent("bad")),
            }
        }));
    let e = |n: u8| Envelope::new(n, Metadata::new("m", Source::Sqs));
    let err = svc.ready().await.unwrap().call(e(0)).await.unwrap_err();
    assert_eq!(err.to_string(), "busy");
    assert!(topic.messages().is_empty());
    svc.ready().await.unwrap().call(e(1)).await.unwrap_err();
    assert_eq!(topic.bodies()[0]["message"], "bad");
}

#[tokio::test(start_paused = true)]
async fn a_huge_error_is_cut_in_the_alarm_but_not_in_the_result() {
    let topic = Topic::new();
    let huge: &'static str = Box::leak("x".repeat(300 * 1024).into_boxed_str());
    let mut svc = AlarmLayer::new(alarms(&topic), "H").layer(failing(huge));
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(import_env())
        .await
        .unwrap_err();
    assert_eq!(err.to_string().len(), 300 * 1024);
    let sent = topic.messages();
    assert!(
        sent[0].message.len() < 256 * 1024,
        "fits in one SNS message"
    );
    assert!(topic.bodies()[0]["message"]
        .as_str()
        .unwrap()
        .ends_with("..."));
}
