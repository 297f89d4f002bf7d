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
use serde_json::Value;

use crate::envelope::{AnyEnvelope, Envelope, Metadata, Source};
use crate::error::RecordError;
use crate::router::RouteConflict;
use crate::routes::RouteInfo;

/// Message attributes read as the correlation id, first found wins.
pub const CORRELATION_ATTRIBUTES: [&str; 3] =
    ["correlationId", "correlation-id", "x-correlation-id"];
/// Message attributes read as the tenant code, first found wins.
pub const TENANT_ATTRIBUTES: [&str; 2] = ["tenantCode", "tenant"];

/// The input of a Step Functions task that invokes the function.
///
/// With `.waitForTaskToken`, the state machine passes the token in the input
/// (conventionally as `taskToken`); it is taken out of the input and kept on
/// every envelope the record produces.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct StepFunctionInput {
    /// The input, without the `taskToken` field.
    pub input: Value,
    /// The task token, if the input carried one.
    pub task_token: Option<String>,
}

impl StepFunctionInput {
    /// Splits `taskToken` off a raw task input.
    pub fn from_json(mut input: Value) -> Self {
        let task_token = match &mut input {
            Value::Object(map) => match map.remove("taskToken") {
                Some(Value::String(t)) => Some(t),
                Some(other) => {
                    // Not a token; leave it where it was.
                    map.insert("taskToken".into(), other);
                    None
                }
                None => None,
            },
            _ => None,
        };
        Self { input, task_token }
    }
}

/// Turns raw AWS events into envelopes. See the [module docs](self).
///
/// Every transform must return one [`Routed`] per input record, in input order,
/// with the record's id (build it with the [`Record`] constructors). The
/// [`App`](crate::App) holds factories to it: a record left without exactly
/// one output fails retryably instead of vanishing (see
/// [`App::transform`](crate::App::transform)).
pub trait EventFactory: Send + Sync + fmt::Debug + 'static {
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

/// Sets the correlation id and tenant from message attributes (see
/// [`CORRELATION_ATTRIBUTES`], [`TENANT_ATTRIBUTES`]) where `meta` has none yet.
pub(crate) fn apply_attributes<'a>(meta: &mut Metadata, get: impl Fn(&str) -> Option<&'a str>) {
    let find = |names: &[&str]| names.iter().find_map(|n| get(n));
    if !meta.has_correlation_id() {
        if let Some(c) = find(&CORRELATION_ATTRIBUTES) {
            meta.set_correlation_id(c);
        }
    }
    if meta.tenant().is_none() {
        if let Some(t) = find(&TENANT_ATTRIBUTES) {
            meta.set_tenant(t);
        }
    }
}

impl Record {
    /// A record with the given id and source.
    pub fn new(record_id: impl Into<Arc<str>>, source: Source) -> Self {
        Self {
            meta: Metadata::new(record_id, source),
            order_key: None,
        }
    }

    /// An SQS message. The record id is the `messageId`; the correlation id and
    /// tenant come from message attributes (see [`CORRELATION_ATTRIBUTES`],
    /// [`TENANT_ATTRIBUTES`]); FIFO messages are ordered by `MessageGroupId`
    /// (a message of a `.fifo` queue without one is ordered by the queue ARN).
    pub fn sqs(msg: &SqsMessage) -> Self {
        let mut rec = Self::new(ids::sqs(msg), Source::Sqs);
        apply_attributes(&mut rec.meta, |n| {
            msg.message_attributes
                .get(n)
                .and_then(|a| a.string_value.as_deref())
        });
        rec.order_key = ids::sqs_order_key(msg).map(Arc::from);
        rec
    }

    /// An SNS notification. The record id is the SNS `MessageId`.
    pub fn sns(r: &SnsRecord) -> Self {
        let mut rec = Self::new(ids::sns(r), Source::Sns);
        apply_attributes(&mut rec.meta, |n| {
            r.sns.message_attributes.get(n).map(|a| a.value.as_str())
        });
        rec
    }

    /// An S3 notification. The record id is `bucket/key#sequencer` (the key as
    /// S3 sent it, still encoded), which is unique per object change.
    pub fn s3(r: &S3EventRecord) -> Self {
        Self::new(ids::s3(r), Source::S3)
    }

    /// A DynamoDB Streams record. The record id is the sequence number, which is
    /// what a batch response reports; records are ordered by stream.
    pub fn dynamodb(r: &DynamoDbRecord) -> Self {
        let mut rec = Self::new(ids::dynamodb(r), Source::DynamoDb);
        rec.order_key = Some(Arc::from(ids::stream_order_key(&r.event_source_arn)));
        rec
    }

    /// A Kinesis record. The record id is the sequence number; records are
    /// ordered by stream.
    pub fn kinesis(r: &KinesisEventRecord) -> Self {
        let mut rec = Self::new(ids::kinesis(r), Source::Kinesis);
        rec.order_key = Some(Arc::from(ids::stream_order_key(&r.event_source_arn)));
        rec
    }

    /// An EventBridge event. The record id is the event `id`.
    pub fn eventbridge(e: &EventBridgeEvent) -> Self {
        Self::new(ids::eventbridge(e), Source::EventBridge)
    }

    /// A Step Functions task input. The record id is `"task"`; the task token
    /// is set on the metadata.
    pub fn step_function(input: &StepFunctionInput) -> Self {
        let mut rec = Self::new(ids::STEP_FUNCTION, Source::StepFunctions);
        if let Some(t) = &input.task_token {
            rec.meta = rec.meta.with_task_token(t.as_str());
        }
        rec
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

/// The identity of every input record, as the [`Record`] constructors read it.
pub(crate) mod ids {
    use super::*;

    pub(crate) const STEP_FUNCTION: &str = "task";

    pub(crate) fn sqs(msg: &SqsMessage) -> &str {
        msg.message_id.as_deref().unwrap_or("")
    }

    pub(crate) fn sqs_order_key(msg: &SqsMessage) -> Option<&str> {
        match msg.attributes.get("MessageGroupId") {
            Some(group) => Some(group.as_str()),
            // A FIFO queue's message without its group: keep the whole
            // queue in order rather than none of it.
            None => msg
                .event_source_arn
                .as_deref()
                .filter(|arn| arn.ends_with(".fifo")),
        }
    }

    pub(crate) fn sns(r: &SnsRecord) -> &str {
        r.sns.message_id.as_str()
    }

    pub(crate) fn s3(r: &S3EventRecord) -> String {
        let mut id = String::new();
        write_s3(r, &mut id);
        id
    }

    /// Appends the S3 record id to `out`.
    pub(crate) fn write_s3(r: &S3EventRecord, out: &mut String) {
        let o = &r.s3.object;
        for part in [
            r.s3.bucket.name.as_deref().unwrap_or(""),
            "/",
            o.key.as_deref().unwrap_or(""),
            "#",
            o.sequencer.as_deref().unwrap_or(""),
        ] {
            out.push_str(part);
        }
    }

    pub(crate) fn dynamodb(r: &DynamoDbRecord) -> &str {
        r.change
            .sequence_number
            .as_deref()
            .unwrap_or(r.event_id.as_str())
    }

    pub(crate) fn kinesis(r: &KinesisEventRecord) -> &str {
        r.kinesis.sequence_number.as_str()
    }

    pub(crate) fn stream_order_key(arn: &Option<String>) -> &str {
        arn.as_deref().unwrap_or("")
    }

    pub(crate) fn eventbridge(e: &EventBridgeEvent) -> &str {
        e.id.as_deref().unwrap_or("")
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
