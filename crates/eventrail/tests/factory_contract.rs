//! One outcome per input record, whatever a hand-written factory returns:
//! records it drops or duplicates fail retryably without running, outputs it
//! invents are dropped, and outputs out of order are matched by record id.

use std::sync::{Arc, Mutex};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use eventrail::app::{Invocation, Report, SourceEvent, Status};
use eventrail::error::{is_retryable, RecordError};
use eventrail::factory::{EventFactory, Record, Routed, Transformed};
use eventrail::{handler_fn, App, Bus, Envelope, HandlerError};

#[derive(Debug)]
struct Refund(String);

/// What a factory does to its batch.
#[derive(Debug, Clone, Copy)]
enum Contract {
    /// Keeps only `REFUND` bodies (a `filter_map`).
    FilterMap,
    /// Returns every record twice.
    Duplicate,
    /// Returns the records in reverse order.
    Reverse,
    /// Adds an output for a record that is not in the batch.
    Invent,
}

#[derive(Debug)]
struct Factory(Contract);

fn refund(msg: &SqsMessage) -> Routed {
    Record::sqs(msg).event(Refund(msg.body.clone().unwrap_or_default()))
}

impl EventFactory for Factory {
    fn transform_sqs(&self, event: SqsEvent) -> Transformed {
        let records = event.records.iter();
        match self.0 {
            Contract::FilterMap => records
                .filter_map(|m| match m.body.as_deref() {
                    Some(body) if body.starts_with("REFUND") => Some(refund(m)),
                    _ => None,
                })
                .collect(),
            Contract::Duplicate => records.flat_map(|m| [refund(m), refund(m)]).collect(),
            Contract::Reverse => records.rev().map(refund).collect(),
            Contract::Invent => records
                .map(refund)
                .chain(std::iter::once(
                    Record::new("not-in-the-batch", eventrail::Source::Sqs)
                        .event(Refund("REFUND ghost".into())),
                ))
                .collect(),
        }
    }
}

type Seen = Arc<Mutex<Vec<String>>>;

fn app(
    contract: Contract,
    tune: impl FnOnce(eventrail::app::AppBuilder) -> eventrail::app::AppBuilder,
) -> (App, Seen) {
    let seen = Seen::default();
    let s = seen.clone();
    let bus = Bus::builder()
        .on(handler_fn(move |r: Envelope<Refund>| {
            let s = s.clone();
            async move {
                s.lock().unwrap().push(r.0.clone());
                Ok::<_, HandlerError>(())
            }
        }))
        .build();
    (
        tune(App::builder(Factory(contract), bus)).build().unwrap(),
        seen,
    )
}

fn message(id: &str, body: &str) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(id.into());
    m.body = Some(body.into());
    m
}

fn batch(records: &[(&str, &str)]) -> SourceEvent {
    let mut e = SqsEvent::default();
    e.records = records.iter().map(|(id, body)| message(id, body)).collect();
    SourceEvent::Sqs(e)
}

fn ids(report: &Report) -> Vec<&str> {
    report.outcomes.iter().map(|o| o.record_id()).collect()
}

/// The records that failed because the factory gave them no single output;
/// each of those failures is retryable and ran nothing.
fn no_output(report: &Report) -> Vec<&str> {
    report
        .outcomes
        .iter()
        .filter(|o| match &o.status {
            Status::Failed(f) => {
                let lost = f
                    .error
                    .downcast_ref::<RecordError>()
                    .is_some_and(RecordError::is_no_output);
                if lost {
                    assert!(f.retry.is_retryable() && is_retryable(&*f.error) && !f.attempted);
                }
                lost
            }
            _ => false,
        })
        .map(|o| o.record_id())
        .collect()
}

#[tokio::test]
async fn records_a_filter_map_drops_fail_retryably_instead_of_vanishing() {
    // Acknowledging unmatched records does not acknowledge lost ones.
    let (app, seen) = app(Contract::FilterMap, |b| b.acknowledge_unmatched(true));
    let report = app
        .process(
            batch(&[
                ("a", "REFUND 1"),
                ("b", "ORDER 2"),
                ("c", "REFUND 3"),
                ("d", "ORDER 4"),
            ]),
            &Invocation::default(),
        )
        .await;
    assert_eq!(ids(&report), ["a", "b", "c", "d"]);
    assert_eq!(no_output(&report), ["b", "d"]);
    assert_eq!(report.failed_ids().collect::<Vec<_>>(), ["b", "d"]);
    assert_eq!(*seen.lock().unwrap(), ["REFUND 1", "REFUND 3"]);
}

#[tokio::test]
async fn records_a_factory_duplicates_fail_retryably_and_never_run() {
    let (app, seen) = app(Contract::Duplicate, |b| b);
    let report = app
        .process(
            batch(&[("a", "REFUND 1"), ("b", "REFUND 2")]),
            &Invocation::default(),
        )
        .await;
    assert_eq!(ids(&report), ["a", "b"]);
    assert_eq!(no_output(&report), ["a", "b"]);
    assert_eq!(report.failed(), 2);
    assert!(seen.lock().unwrap().is_empty(), "neither copy ran");
}

#[tokio::test]
async fn outputs_out_of_order_are_matched_by_record_id() {
    let (app, seen) = app(Contract::Reverse, |b| b.concurrency(1));
    let report = app
        .process(
            batch(&[("a", "REFUND 1"), ("b", "REFUND 2"), ("c", "REFUND 3")]),
            &Invocation::default(),
        )
        .await;
    assert_eq!(ids(&report), ["a", "b", "c"]);
    assert_eq!(report.failed(), 0);
    assert_eq!(*seen.lock().unwrap(), ["REFUND 1", "REFUND 2", "REFUND 3"]);
}

#[tokio::test]
async fn an_output_for_a_record_not_in_the_batch_is_dropped() {
    let (app, seen) = app(Contract::Invent, |b| b);
    let report = app
        .process(batch(&[("a", "REFUND 1")]), &Invocation::default())
        .await;
    assert_eq!(ids(&report), ["a"]);
    assert_eq!(report.failed(), 0);
    assert_eq!(*seen.lock().unwrap(), ["REFUND 1"]);
}

#[tokio::test]
async fn a_lost_fifo_record_stops_the_rest_of_its_group() {
    let (app, seen) = app(Contract::FilterMap, |b| b);
    let fifo = |id: &str, group: &str, body: &str| {
        let mut m = message(id, body);
        m.attributes.insert("MessageGroupId".into(), group.into());
        m
    };
    let mut e = SqsEvent::default();
    e.records = vec![
        fifo("g1-a", "g1", "ORDER 1"),
        fifo("g1-b", "g1", "REFUND 2"),
        fifo("g2-a", "g2", "REFUND 3"),
    ];
    let report = app
        .process(SourceEvent::Sqs(e), &Invocation::default())
        .await;
    assert_eq!(no_output(&report), ["g1-a"]);
    // g1-b waits for g1-a's redelivery; g2 goes on.
    assert_eq!(report.failed_ids().collect::<Vec<_>>(), ["g1-a", "g1-b"]);
    assert_eq!(*seen.lock().unwrap(), ["REFUND 3"]);
}

#[test]
fn record_ids_are_the_ids_outcomes_are_reported_under() {
    let event = batch(&[("a", "x"), ("b", "y")]);
    let ids: Vec<String> = event.record_ids().iter().map(|s| s.to_string()).collect();
    assert_eq!(ids, ["a", "b"]);
}
