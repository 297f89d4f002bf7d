//! What a transform returns: one [`Routed`] per input [`Record`], collected
//! in a [`Transformed`].

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::EventRecord as DynamoDbRecord;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::kinesis::KinesisEventRecord;
use aws_lambda_events::event::s3::S3EventRecord;
use aws_lambda_events::event::sns::SnsRecord;
use aws_lambda_events::event::sqs::SqsMessage;

use super::StepFunctionInput;
use crate::envelope::{AnyEnvelope, Envelope, Metadata, Source};
use crate::error::RecordError;
use crate::source::firehose::FirehoseRecord;
use crate::source::kafka::KafkaRecord;
use crate::source::s3_batch::S3BatchTaskRecord;
use crate::source::{self, Identity, MalformedRecord};

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
        self.finish(Ok(Envelopes::One(env)))
    }

    /// The record became these envelopes (possibly none: the record is done).
    pub fn events(self, envelopes: Vec<AnyEnvelope>) -> Routed {
        self.finish(Ok(Envelopes::Many(envelopes)))
    }

    /// The record became `envelopes`, or failed.
    pub(crate) fn routed(self, result: Result<Envelopes, RecordError>) -> Routed {
        self.finish(result)
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

    fn finish(self, result: Result<Envelopes, RecordError>) -> Routed {
        Routed {
            meta: self.meta,
            order_key: self.order_key,
            result,
        }
    }
}

/// The envelopes a record became: most records become one event, kept
/// here without a `Vec` (an allocation per record saved).
#[derive(Debug)]
pub(crate) enum Envelopes {
    One(AnyEnvelope),
    Many(Vec<AnyEnvelope>),
}

impl Envelopes {
    pub(crate) fn as_slice(&self) -> &[AnyEnvelope] {
        match self {
            Envelopes::One(env) => std::slice::from_ref(env),
            Envelopes::Many(envs) => envs,
        }
    }

    pub(crate) fn into_vec(self) -> Vec<AnyEnvelope> {
        match self {
            Envelopes::One(env) => vec![env],
            Envelopes::Many(envs) => envs,
        }
    }
}

/// What became of one input record. See [`Record`].
#[derive(Debug)]
pub struct Routed {
    meta: Metadata,
    order_key: Option<Arc<str>>,
    result: Result<Envelopes, RecordError>,
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
    pub fn result(&self) -> Result<&[AnyEnvelope], &RecordError> {
        self.result.as_ref().map(Envelopes::as_slice)
    }

    /// Takes the parts.
    pub fn into_parts(
        self,
    ) -> (
        Metadata,
        Option<Arc<str>>,
        Result<Vec<AnyEnvelope>, RecordError>,
    ) {
        (
            self.meta,
            self.order_key,
            self.result.map(Envelopes::into_vec),
        )
    }

    /// Takes the metadata and the envelopes as they are kept.
    pub(crate) fn into_envelopes(self) -> (Metadata, Result<Envelopes, RecordError>) {
        (self.meta, self.result)
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
