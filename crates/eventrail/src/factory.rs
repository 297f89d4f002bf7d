//! The event factory: raw AWS events in, typed envelopes out.
//!
//! An [`EventFactory`] has one transform per source, taking the typed AWS
//! event from `aws_lambda_events` and returning, for **every** input record,
//! either the envelopes to dispatch (zero or more) or the reason the record
//! failed. The defaults route nothing: every record comes back unmatched,
//! which the [`App`](crate::App) reports as a failure unless told otherwise.
//!
//! Most applications use the declarative [`Router`](crate::Router) instead; the
//! two are interchangeable, and a router can fall back to a hand-written
//! factory.
//!
//! ```
//! use aws_lambda_events::event::sqs::SqsEvent;
//! use eventrail::error::RecordError;
//! use eventrail::factory::{EventFactory, Record, Transformed};
//!
//! #[derive(Debug, serde::Deserialize)]
//! struct SyncRequest {
//!     pk: String,
//! }
//!
//! #[derive(Debug)]
//! struct MyFactory;
//!
//! impl EventFactory for MyFactory {
//!     fn transform_sqs(&self, event: SqsEvent) -> Transformed {
//!         event
//!             .records
//!             .iter()
//!             .map(|msg| {
//!                 let record = Record::sqs(msg);
//!                 match serde_json::from_str::<SyncRequest>(msg.body.as_deref().unwrap_or("")) {
//!                     Ok(req) => record.event(req),
//!                     Err(e) => record.fail(RecordError::bad_input("not a sync request").with_source(e)),
//!                 }
//!             })
//!             .collect()
//!     }
//! }
//!
//! let mut event = SqsEvent::default();
//! let mut msg = aws_lambda_events::event::sqs::SqsMessage::default();
//! msg.message_id = Some("m-1".into());
//! msg.body = Some(r#"{"pk":"ORDER#1"}"#.into());
//! event.records.push(msg);
//!
//! let out = MyFactory.transform_sqs(event);
//! assert_eq!(out.len(), 1);
//! assert_eq!(out.as_slice()[0].record_id(), "m-1");
//! ```

use std::fmt;
use std::sync::Arc;

use aws_lambda_events::event::dynamodb::{Event as DynamoDbEvent, EventRecord as DynamoDbRecord};
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use aws_lambda_events::event::sns::{SnsEvent, SnsRecord};
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};

use crate::envelope::{AnyEnvelope, Envelope, Metadata, Source};
use crate::error::RecordError;
use crate::router::RouteConflict;
use crate::routes::RouteInfo;
use crate::source::{self, Identity, MalformedRecord, RawEvent};

pub use crate::source::step_functions::StepFunctionInput;
pub use crate::source::{CORRELATION_ATTRIBUTES, TENANT_ATTRIBUTES};

/// Turns raw AWS events into envelopes. See the [module docs](self).
///
/// Every transform must return one [`Routed`] per input record, in input order.
pub trait EventFactory: Send + Sync + fmt::Debug + 'static {
    /// The records of a raw payload, borrowed from it (see [`RawEvent`]):
    /// what the Lambda adapter calls.
    ///
    /// The default decodes each record into its `aws_lambda_events` type (a
    /// record that does not have its source's shape fails alone, see
    /// [`Record::malformed`]) and calls the source's transform below.
    /// [`Router`](crate::Router) overrides it to read SQS records without
    /// that copy.
    fn transform_raw(&self, event: &RawEvent<'_>) -> Transformed {
        transform_typed(self, event)
    }

    /// S3 event notifications.
    fn transform_s3(&self, event: S3Event) -> Transformed {
        event
            .records
            .iter()
            .map(|r| Record::s3(r).unmatched())
            .collect()
    }

    /// SQS messages.
    fn transform_sqs(&self, event: SqsEvent) -> Transformed {
        event
            .records
            .iter()
            .map(|r| Record::sqs(r).unmatched())
            .collect()
    }

    /// SNS notifications.
    fn transform_sns(&self, event: SnsEvent) -> Transformed {
        event
            .records
            .iter()
            .map(|r| Record::sns(r).unmatched())
            .collect()
    }

    /// A Step Functions task's input.
    fn transform_step_function(&self, input: StepFunctionInput) -> Transformed {
        std::iter::once(Record::step_function(&input).unmatched()).collect()
    }

    /// DynamoDB Streams records.
    fn transform_dynamodb_stream(&self, event: DynamoDbEvent) -> Transformed {
        event
            .records
            .iter()
            .map(|r| Record::dynamodb(r).unmatched())
            .collect()
    }

    /// An EventBridge event.
    fn transform_eventbridge(&self, event: EventBridgeEvent) -> Transformed {
        std::iter::once(Record::eventbridge(&event).unmatched()).collect()
    }

    /// Kinesis records.
    fn transform_kinesis(&self, event: KinesisEvent) -> Transformed {
        event
            .records
            .iter()
            .map(|r| Record::kinesis(r).unmatched())
            .collect()
    }

    /// The routes this factory knows, for [route listing](crate::routes) and
    /// for checking at build time that every routed event type has a handler.
    /// Hand-written factories may leave it empty.
    fn routes(&self) -> Vec<RouteInfo> {
        Vec::new()
    }

    /// Reports routes that can never match; [`App`](crate::App) runs it at
    /// build time. Hand-written factories may leave the default.
    fn check_routes(&self) -> Result<(), RouteConflict> {
        Ok(())
    }
}

impl<F: EventFactory + ?Sized> EventFactory for Arc<F> {
    fn transform_raw(&self, event: &RawEvent<'_>) -> Transformed {
        (**self).transform_raw(event)
    }
    fn transform_s3(&self, event: S3Event) -> Transformed {
        (**self).transform_s3(event)
    }
    fn transform_sqs(&self, event: SqsEvent) -> Transformed {
        (**self).transform_sqs(event)
    }
    fn transform_sns(&self, event: SnsEvent) -> Transformed {
        (**self).transform_sns(event)
    }
    fn transform_step_function(&self, input: StepFunctionInput) -> Transformed {
        (**self).transform_step_function(input)
    }
    fn transform_dynamodb_stream(&self, event: DynamoDbEvent) -> Transformed {
        (**self).transform_dynamodb_stream(event)
    }
    fn transform_eventbridge(&self, event: EventBridgeEvent) -> Transformed {
        (**self).transform_eventbridge(event)
    }
    fn transform_kinesis(&self, event: KinesisEvent) -> Transformed {
        (**self).transform_kinesis(event)
    }
    fn routes(&self) -> Vec<RouteInfo> {
        (**self).routes()
    }
    fn check_routes(&self) -> Result<(), RouteConflict> {
        (**self).check_routes()
    }
}

/// Decodes each record of `event` into its `aws_lambda_events` type and
/// hands the well-formed ones to `factory`'s transform for the source; the
/// malformed ones fail alone, in their place. What
/// [`EventFactory::transform_raw`] does by default.
pub fn transform_typed<F: EventFactory + ?Sized>(factory: &F, event: &RawEvent<'_>) -> Transformed {
    let records = event.records();
    let source = event.source();
    match source {
        Source::Sqs => split(source, records, |v| {
            let mut e = SqsEvent::default();
            e.records = v;
            factory.transform_sqs(e)
        }),
        Source::Sns => split(source, records, |v| {
            let mut e = SnsEvent::default();
            e.records = v;
            factory.transform_sns(e)
        }),
        Source::S3 => split(source, records, |v| {
            let mut e = S3Event::default();
            e.records = v;
            factory.transform_s3(e)
        }),
        Source::DynamoDb => split(source, records, |v| {
            let mut e = DynamoDbEvent::default();
            e.records = v;
            factory.transform_dynamodb_stream(e)
        }),
        Source::Kinesis => split(source, records, |v| {
            let mut e = KinesisEvent::default();
            e.records = v;
            factory.transform_kinesis(e)
        }),
        Source::EventBridge => split(source, records, |v: Vec<EventBridgeEvent>| {
            v.into_iter()
                .flat_map(|e| factory.transform_eventbridge(e))
                .collect()
        }),
        Source::StepFunctions => split(source, records, |v: Vec<serde_json::Value>| {
            v.into_iter()
                .flat_map(|input| {
                    factory.transform_step_function(StepFunctionInput::from_json(input))
                })
                .collect()
        }),
        _ => records
            .iter()
            .map(|_| Record::new("", source).unmatched())
            .collect(),
    }
}

/// Decodes every record on its own, transforms the good ones together and
/// puts the malformed ones back in their places.
fn split<T: serde::de::DeserializeOwned>(
    source: Source,
    records: &[&serde_json::value::RawValue],
    transform: impl FnOnce(Vec<T>) -> Transformed,
) -> Transformed {
    let mut good = Vec::with_capacity(records.len());
    let mut bad = Vec::new();
    for (i, raw) in records.iter().enumerate() {
        match serde_json::from_str::<T>(raw.get()) {
            Ok(r) => good.push(r),
            Err(e) => bad.push(MalformedRecord::new(source, i, raw, e.to_string())),
        }
    }
    if bad.is_empty() {
        return transform(good);
    }
    let good = if good.is_empty() {
        Vec::new()
    } else {
        transform(good).into_vec()
    };
    let total = good.len() + bad.len();
    let mut good = good.into_iter();
    let mut bad = bad.into_iter().peekable();
    let mut out = Transformed::with_capacity(total);
    for i in 0..total {
        if let Some(m) = bad.next_if(|m| m.index() == i) {
            out.push(Record::malformed(m));
        } else if let Some(r) = good.next() {
            out.push(r);
        }
    }
    // A factory that broke its contract (not one output per record) leaves
    // some behind; they still get an outcome.
    out.extend(bad.map(Record::malformed));
    out.extend(good);
    out
}

/// One input record being transformed: its identity and default metadata.
///
/// Build it from the raw record ([`Record::sqs`], [`Record::s3`], ...), then
/// finish it with [`event`](Record::event), [`events`](Record::events),
/// [`fail`](Record::fail) or [`unmatched`](Record::unmatched).
#[derive(Clone, Debug)]
pub struct Record {
    meta: Metadata,
    order_key: Option<Arc<str>>,
}

impl Record {
    /// A record with the given id and source.
    pub fn new(record_id: impl Into<Arc<str>>, source: Source) -> Self {
        Self {
            meta: Metadata::new(record_id, source),
            order_key: None,
        }
    }

    /// A record with this identity.
    pub fn from_identity(identity: Identity) -> Self {
        Self {
            meta: identity.meta,
            order_key: identity.order_key,
        }
    }

    /// An SQS message: see [`source::sqs`](crate::source::sqs) for its id,
    /// order key, correlation id and tenant.
    pub fn sqs(msg: &SqsMessage) -> Self {
        Self::from_identity(source::sqs::identity(msg))
    }

    /// An SNS notification: see [`source::sns`](crate::source::sns).
    pub fn sns(r: &SnsRecord) -> Self {
        Self::from_identity(source::sns::identity(r))
    }

    /// An S3 notification: see [`source::s3`](crate::source::s3).
    pub fn s3(r: &S3EventRecord) -> Self {
        Self::from_identity(source::s3::identity(r))
    }

    /// A DynamoDB Streams record: see [`source::dynamodb`](crate::source::dynamodb).
    pub fn dynamodb(r: &DynamoDbRecord) -> Self {
        Self::from_identity(source::dynamodb::identity(r))
    }

    /// A Kinesis record: see [`source::kinesis`](crate::source::kinesis).
    pub fn kinesis(r: &KinesisEventRecord) -> Self {
        Self::from_identity(source::kinesis::identity(r))
    }

    /// An EventBridge event: see [`source::eventbridge`](crate::source::eventbridge).
    pub fn eventbridge(e: &EventBridgeEvent) -> Self {
        Self::from_identity(source::eventbridge::identity(e))
    }

    /// A Step Functions task input: see
    /// [`source::step_functions`](crate::source::step_functions).
    pub fn step_function(input: &StepFunctionInput) -> Self {
        Self::from_identity(source::step_functions::identity(input))
    }

    /// A record that does not have its source's shape: it fails (permanent,
    /// bad input) under the identity read from its raw bytes.
    pub fn malformed(m: MalformedRecord) -> Routed {
        let source = m.source();
        let (identity, reason) = m.into_parts();
        let msg = format!("the {source} record does not have its source's shape");
        Self::from_identity(identity).fail(RecordError::bad_input(msg).with_source(reason))
    }

    /// The metadata envelopes of this record start with.
    pub fn meta(&self) -> &Metadata {
        &self.meta
    }

    /// The metadata, mutably (to set a tenant or correlation id found in the body).
    pub fn meta_mut(&mut self) -> &mut Metadata {
        &mut self.meta
    }

    /// The record id.
    pub fn id(&self) -> &str {
        self.meta.record_id()
    }

    /// Sets the key records are ordered by (FIFO message group, stream).
    pub fn with_order_key(mut self, key: impl Into<Arc<str>>) -> Self {
        self.order_key = Some(key.into());
        self
    }

    /// The record became one event.
    pub fn event<E: Send + Sync + 'static>(self, event: E) -> Routed {
        let env = AnyEnvelope::new(Envelope::new(event, self.meta.clone()));
        self.finish(Ok(vec![env]))
    }

    /// The record became these envelopes (possibly none: the record is done).
    pub fn events(self, envelopes: Vec<AnyEnvelope>) -> Routed {
        self.finish(Ok(envelopes))
    }

    /// The record failed.
    pub fn fail(self, err: RecordError) -> Routed {
        self.finish(Err(err))
    }

    /// No route matched the record.
    pub fn unmatched(self) -> Routed {
        let msg = format!("no route matched this {} record", self.meta.source());
        self.finish(Err(RecordError::no_route(msg)))
    }

    fn finish(self, result: Result<Vec<AnyEnvelope>, RecordError>) -> Routed {
        Routed {
            meta: self.meta,
            order_key: self.order_key,
            result,
        }
    }
}

/// What became of one input record. See [`Record`].
#[derive(Debug)]
pub struct Routed {
    meta: Metadata,
    order_key: Option<Arc<str>>,
    result: Result<Vec<AnyEnvelope>, RecordError>,
}

impl Routed {
    /// The input record's id.
    pub fn record_id(&self) -> &str {
        self.meta.record_id()
    }

    /// The input record's shared id.
    pub fn meta(&self) -> &Metadata {
        &self.meta
    }

    /// The key records are ordered by, if the source orders them.
    pub fn order_key(&self) -> Option<&str> {
        self.order_key.as_deref()
    }

    /// The envelopes, or why the record failed.
    pub fn result(&self) -> &Result<Vec<AnyEnvelope>, RecordError> {
        &self.result
    }

    /// Takes the parts.
    pub fn into_parts(
        self,
    ) -> (
        Metadata,
        Option<Arc<str>>,
        Result<Vec<AnyEnvelope>, RecordError>,
    ) {
        (self.meta, self.order_key, self.result)
    }
}

/// The output of a transform: one [`Routed`] per input record, in input order.
#[derive(Debug, Default)]
pub struct Transformed {
    records: Vec<Routed>,
}

impl Transformed {
    /// An empty output with room for `n` records.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            records: Vec::with_capacity(n),
        }
    }

    /// Appends a record's outcome.
    pub fn push(&mut self, routed: Routed) {
        self.records.push(routed);
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The records.
    pub fn as_slice(&self) -> &[Routed] {
        &self.records
    }

    /// The records, by value.
    pub fn into_vec(self) -> Vec<Routed> {
        self.records
    }
}

impl FromIterator<Routed> for Transformed {
    fn from_iter<I: IntoIterator<Item = Routed>>(iter: I) -> Self {
        Self {
            records: iter.into_iter().collect(),
        }
    }
}

impl Extend<Routed> for Transformed {
    fn extend<I: IntoIterator<Item = Routed>>(&mut self, iter: I) {
        self.records.extend(iter);
    }
}

impl IntoIterator for Transformed {
    type Item = Routed;
    type IntoIter = std::vec::IntoIter<Routed>;
    fn into_iter(self) -> Self::IntoIter {
        self.records.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Nothing;
    impl EventFactory for Nothing {}

    #[test]
    fn defaults_route_nothing_but_report_every_record() {
        let mut ev = SqsEvent::default();
        for id in ["a", "b"] {
            let mut m = SqsMessage::default();
            m.message_id = Some(id.into());
            ev.records.push(m);
        }
        let out = Nothing.transform_sqs(ev).into_vec();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].record_id(), "b");
        assert!(out
            .iter()
            .all(|r| r.result().as_ref().is_err_and(|e| e.is_no_route())));
    }

    #[test]
    fn fifo_messages_are_ordered_by_group_or_by_queue() {
        let mut m = SqsMessage::default();
        m.message_id = Some("m".into());
        m.event_source_arn = Some("arn:aws:sqs:eu-west-1:1:jobs.fifo".into());
        let queue = Record::sqs(&m).unmatched();
        assert_eq!(queue.order_key(), Some("arn:aws:sqs:eu-west-1:1:jobs.fifo"));
        m.attributes.insert("MessageGroupId".into(), "g-1".into());
        assert_eq!(Record::sqs(&m).unmatched().order_key(), Some("g-1"));
        m.attributes.clear();
        m.event_source_arn = Some("arn:aws:sqs:eu-west-1:1:jobs".into());
        assert_eq!(Record::sqs(&m).unmatched().order_key(), None);
    }

    #[test]
    fn task_token_is_split_off_the_input() {
        let input = StepFunctionInput::from_json(serde_json::json!({
            "type": "CSV_IMPORT", "taskToken": "tok", "payload": {"a": 1}
        }));
        assert_eq!(input.task_token.as_deref(), Some("tok"));
        assert!(input.input.get("taskToken").is_none());
        let rec = Record::step_function(&input);
        assert_eq!(rec.meta().task_token(), Some("tok"));
    }
}
