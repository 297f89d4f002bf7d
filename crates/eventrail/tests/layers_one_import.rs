//! A whole production stack written with one layer import,
//! `eventrail::layers::*`: every layer, setting and layer error type comes
//! from there, and the port implementations use the re-exported
//! `eventrail::async_trait` (no `async_trait::` path in this file).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventrail::layers::*;
use eventrail::ports::{Notifier, PortError, PublishReceipt, SnsMessage, TaskCallbacks};
use eventrail::{async_trait, handler_fn, BoxError, Envelope, HandlerError, Metadata, Source};
use tower::{Service, ServiceBuilder, ServiceExt};

#[derive(Debug, Default)]
struct Topic(Mutex<Vec<String>>);

#[async_trait]
impl Notifier for Topic {
    async fn publish(&self, msg: SnsMessage) -> Result<PublishReceipt, PortError> {
        self.0.lock().unwrap().push(msg.subject.unwrap_or_default());
        Ok(PublishReceipt {
            message_id: "1".into(),
        })
    }
}

#[derive(Debug, Default)]
struct Sfn(Mutex<Vec<String>>);

#[async_trait]
impl TaskCallbacks for Sfn {
    async fn send_task_success(&self, token: &str, _: &str) -> Result<(), PortError> {
        self.0.lock().unwrap().push(format!("success {token}"));
        Ok(())
    }
    async fn send_task_failure(&self, token: &str, error: &str, _: &str) -> Result<(), PortError> {
        self.0
            .lock()
            .unwrap()
            .push(format!("failure {token} {error}"));
        Ok(())
    }
    async fn send_task_heartbeat(&self, _: &str) -> Result<(), PortError> {
        Ok(())
    }
}

#[derive(Debug, Default)]
struct Letters(Mutex<Vec<(String, u32)>>);

#[async_trait]
impl DeadLetterSink<Export> for Letters {
    async fn store(&self, letter: DeadLetter<'_, Export>) -> Result<(), PortError> {
        self.0
            .lock()
            .unwrap()
            .push((letter.envelope.export_id.clone(), letter.attempts));
        Ok(())
    }
}

#[derive(Debug, serde::Serialize)]
struct Export {
    export_id: String,
    /// Test knob: `hang`, `panic` or anything else (succeeds).
    behaviour: String,
}

fn export(id: &str, behaviour: &str, token: &str) -> Envelope<Export> {
    Envelope::new(
        Export {
            export_id: id.into(),
            behaviour: behaviour.into(),
        },
        Metadata::new(format!("m-{id}"), Source::StepFunctions).with_task_token(token),
    )
}

#[tokio::test(start_paused = true)]
async fn a_full_stack_from_one_import() {
    let topic = Arc::new(Topic::default());
    let sfn = Arc::new(Sfn::default());
    let letters = Arc::new(Letters::default());
    let alarms: AlarmService = AlarmService::new(topic.clone(), "arn:aws:sns:eu-west-1:1:alarms");
    let options: IdempotencyOptions<Export> = IdempotencyOptions::new()
        .with_payload_hash()
        .on_missing_key(MissingKey::Fail)
        .on_store_error(OnStoreError::FailClosed);
    let policy: RetryPolicy = RetryPolicy::default().with_jitter(Jitter::None);

    let mut stack = ServiceBuilder::new()
        .traced()
        .alarm(alarms, "ExportHandler")
        .dead_letter(letters.clone() as Arc<dyn DeadLetterSink<Export>>)
        .idempotent(
            Arc::new(MemoryIdempotencyStore::new()),
            |e: &Envelope<Export>| Some(e.export_id.clone()),
            options,
        )
        .task_token(sfn.clone())
        .deadline_timeout(Duration::from_secs(2))
        .retries(policy)
        .service(handler_fn(|e: Envelope<Export>| async move {
            match e.behaviour.as_str() {
                "hang" => tokio::time::sleep(Duration::from_secs(3600)).await,
                "panic" => panic!("bug in the exporter"),
                _ => {}
            }
            Ok::<_, HandlerError>(format!("exported {}", e.export_id))
        }));

    let ok = stack
        .ready()
        .await
        .unwrap()
        .call(export("e-1", "ok", "t-1"))
        .await
        .unwrap();
    assert_eq!(ok, "exported e-1");

    let hung: BoxError = stack
        .ready()
        .await
        .unwrap()
        .call(export("e-2", "hang", "t-2"))
        .await
        .unwrap_err();
    assert!(hung.is::<Elapsed>(), "{hung}");

    let panicked: BoxError = stack
        .ready()
        .await
        .unwrap()
        .call(export("e-3", "panic", "t-3"))
        .await
        .unwrap_err();
    assert!(panicked.is::<HandlerPanic>(), "{panicked}");

    // The layer error types are all here to match on.
    let not_ours = |e: &BoxError| {
        e.downcast_ref::<IdempotencyError>().is_some()
            || e.downcast_ref::<TaskTokenError>().is_some()
            || is_in_progress_elsewhere(&**e)
    };
    assert!(!not_ours(&hung) && !not_ours(&panicked));

    assert_eq!(
        *sfn.0.lock().unwrap(),
        [
            "success t-1",
            "failure t-2 eventrail.RetryableError",
            "failure t-3 eventrail.PermanentError"
        ]
    );
    assert_eq!(
        *letters.0.lock().unwrap(),
        [("e-2".to_owned(), 1), ("e-3".to_owned(), 1)]
    );
    assert_eq!(topic.0.lock().unwrap().len(), 2);
    let _severity: Severity = Severity::Critical;
}
