//! The tracing layer: the span's structured fields and the closing event,
//! captured with a small subscriber.

mod layers_support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventrail::layers::{RetryPolicy, ServiceBuilderExt};
use eventrail::{handler_fn, Envelope, HandlerError, Metadata, Source};
use tower::{Service, ServiceBuilder, ServiceExt};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata as TraceMeta, Subscriber};

type Fields = BTreeMap<String, String>;

#[derive(Default)]
struct FieldsOf(Fields);

impl Visit for FieldsOf {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

/// Spans named `event` with their fields, and the events inside them.
#[derive(Default)]
struct Capture {
    next: AtomicU64,
    spans: Mutex<BTreeMap<u64, (String, Fields)>>,
    current: Mutex<Vec<u64>>,
    events: Mutex<Vec<(Option<u64>, Fields)>>,
}

#[derive(Clone, Default)]
struct Shared(Arc<Capture>);

impl Subscriber for Shared {
    fn enabled(&self, _: &TraceMeta<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let id = self.0.next.fetch_add(1, Ordering::SeqCst) + 1;
        let mut f = FieldsOf::default();
        attrs.record(&mut f);
        self.0
            .spans
            .lock()
            .unwrap()
            .insert(id, (attrs.metadata().name().to_owned(), f.0));
        Id::from_u64(id)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut f = FieldsOf::default();
        values.record(&mut f);
        if let Some((_, fields)) = self.0.spans.lock().unwrap().get_mut(&span.into_u64()) {
            fields.extend(f.0);
        }
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut f = FieldsOf::default();
        event.record(&mut f);
        let cur = self.0.current.lock().unwrap().last().copied();
        self.0.events.lock().unwrap().push((cur, f.0));
    }
    fn enter(&self, span: &Id) {
        self.0.current.lock().unwrap().push(span.into_u64());
    }
    fn exit(&self, _: &Id) {
        self.0.current.lock().unwrap().pop();
    }
}

#[derive(Debug)]
struct OrderCreated;

fn envelope() -> Envelope<OrderCreated> {
    Envelope::new(
        OrderCreated,
        Metadata::new("m-42", Source::Sqs)
            .with_tenant("acme")
            .with_correlation_id("corr-9"),
    )
}

fn span_fields(c: &Capture) -> Fields {
    let spans = c.spans.lock().unwrap();
    let (name, fields) = spans
        .values()
        .find(|(n, _)| n == "event")
        .expect("an `event` span");
    assert_eq!(name, "event");
    fields.clone()
}

fn closing_event(c: &Capture) -> Fields {
    let events = c.events.lock().unwrap();
    events
        .iter()
        .rev()
        .find(|(_, f)| f.contains_key("outcome"))
        .map(|(span, f)| {
            assert!(span.is_some(), "the closing event is inside the span");
            f.clone()
        })
        .expect("a closing event")
}

#[tokio::test(start_paused = true)]
async fn a_span_with_structured_fields_and_a_closing_event() {
    let capture = Shared::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let mut svc =
        ServiceBuilder::new()
            .traced()
            .service(handler_fn(|_: Envelope<OrderCreated>| async {
                tokio::time::sleep(Duration::from_millis(250)).await;
                tracing::info!(step = "reserve", "inside");
                Ok::<_, HandlerError>(())
            }));
    svc.ready().await.unwrap().call(envelope()).await.unwrap();

    let span = span_fields(&capture.0);
    assert_eq!(span["event_type"], "OrderCreated");
    assert_eq!(span["record_id"], "m-42");
    assert_eq!(span["source"], "sqs");
    assert_eq!(span["tenant"], "acme");
    assert_eq!(span["correlation_id"], "corr-9");
    assert_eq!(span["attempt"], "1");
    assert_eq!(span["outcome"], "ok");
    assert_eq!(span["duration_ms"], "250");

    let end = closing_event(&capture.0);
    assert_eq!(end["outcome"], "ok");
    assert_eq!(end["duration_ms"], "250");
    assert_eq!(end["attempts"], "1");
    // The handler's own event is inside the span too.
    let events = capture.0.events.lock().unwrap();
    assert!(events
        .iter()
        .any(|(s, f)| s.is_some() && f.get("step").map(String::as_str) == Some("reserve")));
}

#[tokio::test(start_paused = true)]
async fn a_failure_logs_the_error_its_class_and_the_attempts() {
    let capture = Shared::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let mut svc = ServiceBuilder::new()
        .traced()
        .retries(RetryPolicy::default())
        .service(handler_fn(|_: Envelope<OrderCreated>| async {
            Err::<(), _>(HandlerError::retryable("inventory busy"))
        }));
    svc.ready()
        .await
        .unwrap()
        .call(envelope())
        .await
        .unwrap_err();
    let end = closing_event(&capture.0);
    assert_eq!(end["outcome"], "error");
    assert_eq!(end["retryable"], "true");
    assert_eq!(end["error"], "inventory busy");
    assert_eq!(end["attempts"], "3");
    assert_eq!(end["duration_ms"], "3000");
    assert_eq!(span_fields(&capture.0)["outcome"], "error");
}
