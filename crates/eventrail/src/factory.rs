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
use crate::routes::RouteConflict;
use crate::routes::RouteInfo;
use crate::source::firehose::{self, FirehoseEvent, FirehoseRecord};
use crate::source::kafka::{KafkaBatch, KafkaRecord};
use crate::source::s3_batch::{self, S3BatchEvent, S3BatchTaskRecord};
use crate::source::{
    self, dynamodb, eventbridge, kafka, kinesis, s3, sns, sqs, step_functions, Identity,
    MalformedRecord, RawEvent,
};

pub use crate::source::step_functions::StepFunctionInput;
pub use crate::source::{CORRELATION_ATTRIBUTES, TENANT_ATTRIBUTES};

/// Turns raw AWS events into envelopes. See the [module docs](self).
///
/// Every transform must return one [`Routed`] per input record, in input order,
/// with the record's id (build it with the [`Record`] constructors). The
/// [`App`](crate::App) holds factories to it: a record left without exactly
/// one output fails retryably instead of vanishing (see
/// [`App::transform`](crate::App::transform)).
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

    /// Kafka records (Amazon MSK, self-managed Apache Kafka).
    fn transform_kafka(&self, batch: KafkaBatch) -> Transformed {
        batch
            .records
            .iter()
            .map(|r| Record::kafka(r).unmatched())
            .collect()
    }

    /// An S3 Batch Operations invocation's tasks.
    fn transform_s3_batch(&self, event: S3BatchEvent) -> Transformed {
        event
            .tasks
            .iter()
            .map(|t| Record::s3_batch(t).unmatched())
            .collect()
    }

    /// A Firehose transformation's records.
    fn transform_firehose(&self, event: FirehoseEvent) -> Transformed {
        event
            .records
            .iter()
            .map(|r| Record::firehose(r).unmatched())
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
    fn transform_kafka(&self, batch: KafkaBatch) -> Transformed {
        (**self).transform_kafka(batch)
    }
    fn transform_s3_batch(&self, event: S3BatchEvent) -> Transformed {
        (**self).transform_s3_batch(event)
    }
    fn transform_firehose(&self, event: FirehoseEvent) -> Transformed {
        (**self).transform_firehose(event)
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
        Source::Sqs => split(
            source,
            records,
            |m, ins| ins.push(sqs::record_id(m), sqs::order_key(m)),
            |v| {
                let mut e = SqsEvent::default();
                e.records = v;
                factory.transform_sqs(e)
            },
        ),
        Source::Sns => split(
            source,
            records,
            |r, ins| ins.push(sns::record_id(r), None),
            |v| {
                let mut e = SnsEvent::default();
                e.records = v;
                factory.transform_sns(e)
            },
        ),
        Source::S3 => split(
            source,
            records,
            |r, ins| ins.push_with(|t| s3::write_record_id(r, t), None),
            |v| {
                let mut e = S3Event::default();
                e.records = v;
                factory.transform_s3(e)
            },
        ),
        Source::DynamoDb => split(
            source,
            records,
            |r, ins| ins.push(dynamodb::record_id(r), Some(dynamodb::order_key(r))),
            |v| {
                let mut e = DynamoDbEvent::default();
                e.records = v;
                factory.transform_dynamodb_stream(e)
            },
        ),
        Source::Kinesis => split(
            source,
            records,
            |r, ins| ins.push(kinesis::record_id(r), Some(kinesis::order_key(r))),
            |v| {
                let mut e = KinesisEvent::default();
                e.records = v;
                factory.transform_kinesis(e)
            },
        ),
        Source::Kafka => split(
            source,
            records,
            |r: &KafkaRecord, ins| {
                ins.push_with(|t| kafka::write_record_id(r, t), Some(&kafka::order_key(r)))
            },
            |v| {
                // The batch's own fields, without its records (already split).
                let mut batch = kafka::envelope(event.payload());
                batch.records = v;
                factory.transform_kafka(batch)
            },
        ),
        Source::S3Batch => split(
            source,
            records,
            |t: &S3BatchTaskRecord, ins| ins.push(s3_batch::record_id(t), None),
            |v| {
                let mut event = s3_batch::envelope(event.payload());
                event.tasks = v;
                factory.transform_s3_batch(event)
            },
        ),
        Source::Firehose => split(
            source,
            records,
            |r: &FirehoseRecord, ins| ins.push(firehose::record_id(r), None),
            |v| {
                let mut event = firehose::envelope(event.payload());
                event.records = v;
                factory.transform_firehose(event)
            },
        ),
        Source::EventBridge => split(
            source,
            records,
            |e, ins| ins.push(eventbridge::record_id(e), None),
            |v: Vec<EventBridgeEvent>| {
                v.into_iter()
                    .flat_map(|e| factory.transform_eventbridge(e))
                    .collect()
            },
        ),
        Source::StepFunctions => split(
            source,
            records,
            |_, ins| ins.push(step_functions::RECORD_ID, None),
            |v: Vec<serde_json::Value>| {
                v.into_iter()
                    .flat_map(|input| {
                        factory.transform_step_function(StepFunctionInput::from_json(input))
                    })
                    .collect()
            },
        ),
        _ => records
            .iter()
            .map(|_| Record::new("", source).unmatched())
            .collect(),
    }
}

/// Decodes every record on its own, transforms the good ones together
/// (holding the factory to one output per record, see [`one_per_record`]) and
/// puts the malformed ones back in their places.
fn split<T: serde::de::DeserializeOwned>(
    source: Source,
    records: &[&str],
    input: impl Fn(&T, &mut InputRecords),
    transform: impl FnOnce(Vec<T>) -> Transformed,
) -> Transformed {
    let mut good = Vec::with_capacity(records.len());
    let mut bad = Vec::new();
    for (i, raw) in records.iter().enumerate() {
        match serde_json::from_str::<T>(raw) {
            Ok(r) => good.push(r),
            Err(e) => bad.push(MalformedRecord::new(source, i, raw, e.to_string())),
        }
    }
    let mut inputs = InputRecords::with_capacity(good.len());
    for g in &good {
        input(g, &mut inputs);
    }
    let good = if good.is_empty() {
        Vec::new()
    } else {
        one_per_record(source, &inputs, transform(good).into_vec())
    };
    if bad.is_empty() {
        return good.into_iter().collect();
    }
    // `good` has one output per well-formed record: interleave.
    let mut good = good.into_iter();
    let mut bad = bad.into_iter().peekable();
    let mut out = Transformed::with_capacity(records.len());
    for i in 0..records.len() {
        match bad.next_if(|m| m.index() == i) {
            Some(m) => out.push(Record::malformed(m)),
            None => out.extend(good.next()),
        }
    }
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

    /// An SQS message: see [`source::sqs`] for its id,
    /// order key, correlation id and tenant.
    pub fn sqs(msg: &SqsMessage) -> Self {
        Self::from_identity(source::sqs::identity(msg))
    }

    /// An SNS notification: see [`source::sns`].
    pub fn sns(r: &SnsRecord) -> Self {
        Self::from_identity(source::sns::identity(r))
    }

    /// An S3 notification: see [`source::s3`].
    pub fn s3(r: &S3EventRecord) -> Self {
        Self::from_identity(source::s3::identity(r))
    }

    /// A DynamoDB Streams record: see [`source::dynamodb`].
    pub fn dynamodb(r: &DynamoDbRecord) -> Self {
        Self::from_identity(source::dynamodb::identity(r))
    }

    /// A Kinesis record: see [`source::kinesis`].
    pub fn kinesis(r: &KinesisEventRecord) -> Self {
        Self::from_identity(source::kinesis::identity(r))
    }

    /// A Kafka record: see [`source::kafka`].
    pub fn kafka(r: &KafkaRecord) -> Self {
        Self::from_identity(source::kafka::identity(r))
    }

    /// An S3 Batch Operations task: see [`source::s3_batch`].
    pub fn s3_batch(t: &S3BatchTaskRecord) -> Self {
        Self::from_identity(source::s3_batch::identity(t))
    }

    /// A Firehose record to transform: see [`source::firehose`].
    pub fn firehose(r: &FirehoseRecord) -> Self {
        Self::from_identity(source::firehose::identity(r))
    }

    /// An EventBridge event: see [`source::eventbridge`].
    pub fn eventbridge(e: &EventBridgeEvent) -> Self {
        Self::from_identity(source::eventbridge::identity(e))
    }

    /// A Step Functions task input: see
    /// [`source::step_functions`].
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

/// The input records as the app knows them before the factory runs: their
/// ids and order keys, in input order, kept in one buffer (a few allocations
/// per batch, none per record).
#[derive(Debug, Default)]
pub(crate) struct InputRecords {
    text: String,
    /// Per record: the byte range of its id in `text`, and of its order key.
    spans: Vec<(Span, Option<Span>)>,
}

type Span = (usize, usize);

impl InputRecords {
    pub(crate) fn with_capacity(records: usize) -> Self {
        Self {
            text: String::new(),
            spans: Vec::with_capacity(records),
        }
    }

    /// Appends a record whose id `write_id` writes.
    pub(crate) fn push_with(&mut self, write_id: impl FnOnce(&mut String), key: Option<&str>) {
        let start = self.text.len();
        write_id(&mut self.text);
        let id = (start, self.text.len());
        let key = key.map(|k| match self.spans.last() {
            // Consecutive records of one group or stream share their key.
            Some((_, Some(last))) if self.slice(*last) == k => *last,
            _ => {
                let start = self.text.len();
                self.text.push_str(k);
                (start, self.text.len())
            }
        });
        self.spans.push((id, key));
    }

    /// Appends a record.
    pub(crate) fn push(&mut self, id: &str, key: Option<&str>) {
        self.push_with(|t| t.push_str(id), key);
    }

    fn slice(&self, (start, end): Span) -> &str {
        &self.text[start..end]
    }

    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The id of record `i`.
    pub(crate) fn id(&self, i: usize) -> &str {
        self.slice(self.spans[i].0)
    }

    /// The order key of record `i`.
    pub(crate) fn order_key(&self, i: usize) -> Option<&str> {
        self.spans[i].1.map(|k| self.slice(k))
    }
}

/// One [`Routed`] per input record, in input order: each input takes the
/// factory output with its id when exactly one output has it (as many outputs
/// as inputs for an id repeated in the batch, matched in order). Every other
/// input fails retryably with [`RecordError::no_output`]; outputs that match
/// no input one-to-one are dropped and logged at ERROR.
///
/// The common case, outputs in input order with the same ids, is one linear
/// pass without hashing.
pub(crate) fn one_per_record(
    source: Source,
    inputs: &InputRecords,
    outputs: Vec<Routed>,
) -> Vec<Routed> {
    if inputs.len() == outputs.len()
        && outputs
            .iter()
            .enumerate()
            .all(|(i, o)| inputs.id(i) == o.meta.record_id())
    {
        return outputs;
    }
    reconcile(source, inputs, outputs)
}

#[cold]
fn reconcile(source: Source, inputs: &InputRecords, outputs: Vec<Routed>) -> Vec<Routed> {
    use std::collections::{HashMap, VecDeque};

    // Per id: how many inputs have it, and its outputs in order.
    let mut by_id: HashMap<&str, (usize, VecDeque<Routed>)> = HashMap::new();
    for i in 0..inputs.len() {
        by_id.entry(inputs.id(i)).or_default().0 += 1;
    }
    let mut strays = 0usize;
    for o in outputs {
        match by_id.get_mut(o.meta.record_id()) {
            Some((_, outs)) => outs.push_back(o),
            None => {
                strays += 1;
                tracing::error!(
                    record_id = o.meta.record_id(),
                    %source,
                    "the factory returned an output for a record that is not in the batch; dropped"
                );
            }
        }
    }
    let mut out = Vec::with_capacity(inputs.len());
    let mut failed = 0usize;
    for i in 0..inputs.len() {
        let id = inputs.id(i);
        let (expected, outs) = by_id.get_mut(id).expect("every input id was counted");
        if *expected == outs.len() {
            if let Some(o) = outs.pop_front() {
                *expected -= 1;
                out.push(o);
                continue;
            }
        }
        let message = match outs.len() {
            0 => "the factory returned no output for this record".to_owned(),
            n => format!(
                "the factory returned {n} outputs for {expected} record(s) with this id; none was run"
            ),
        };
        tracing::error!(
            record_id = id,
            %source,
            outputs = outs.len(),
            "{message}; the record fails and is delivered again"
        );
        failed += 1;
        let mut record = Record::new(id, source);
        record.order_key = inputs.order_key(i).map(Arc::from);
        out.push(record.fail(RecordError::no_output(message)));
    }
    if failed == 0 && strays == 0 {
        tracing::warn!(
            %source,
            records = out.len(),
            "the factory returned its outputs out of input order; matched by record id"
        );
    } else {
        tracing::error!(
            %source,
            records = out.len(),
            failed,
            dropped_outputs = strays,
            "the factory broke its contract of one output per input record"
        );
    }
    out
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
    fn input_records_keep_ids_and_keys_in_one_buffer() {
        let mut inputs = InputRecords::with_capacity(3);
        inputs.push("a", Some("shard-1"));
        inputs.push("b", Some("shard-1"));
        inputs.push_with(|t| t.push_str("c-1"), None);
        let ids: Vec<_> = (0..inputs.len()).map(|i| inputs.id(i)).collect();
        let keys: Vec<_> = (0..inputs.len()).map(|i| inputs.order_key(i)).collect();
        assert_eq!(ids, ["a", "b", "c-1"]);
        assert_eq!(keys, [Some("shard-1"), Some("shard-1"), None]);
        assert_eq!(inputs.text, "ashard-1bc-1", "a shared key is kept once");
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
