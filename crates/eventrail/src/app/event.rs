//! What an invocation hands the app: the raw event by source, and the
//! invocation's facts (request id, deadline, whether outputs are kept).

use super::*;

/// One raw event, by source.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum SourceEvent {
    /// An SQS batch.
    Sqs(SqsEvent),
    /// SNS notifications.
    Sns(SnsEvent),
    /// S3 event notifications.
    S3(S3Event),
    /// A DynamoDB Streams batch.
    DynamoDb(DynamoDbEvent),
    /// A Kinesis batch.
    Kinesis(KinesisEvent),
    /// An EventBridge event.
    EventBridge(EventBridgeEvent),
    /// A Kafka batch (Amazon MSK, self-managed Apache Kafka).
    Kafka(KafkaBatch),
    /// An S3 Batch Operations invocation.
    S3Batch(S3BatchEvent),
    /// A Firehose transformation.
    Firehose(FirehoseEvent),
    /// A Step Functions task input.
    StepFunction(StepFunctionInput),
}

impl SourceEvent {
    /// The source.
    pub fn source(&self) -> Source {
        match self {
            SourceEvent::Sqs(_) => Source::Sqs,
            SourceEvent::Sns(_) => Source::Sns,
            SourceEvent::S3(_) => Source::S3,
            SourceEvent::DynamoDb(_) => Source::DynamoDb,
            SourceEvent::Kinesis(_) => Source::Kinesis,
            SourceEvent::EventBridge(_) => Source::EventBridge,
            SourceEvent::Kafka(_) => Source::Kafka,
            SourceEvent::S3Batch(_) => Source::S3Batch,
            SourceEvent::Firehose(_) => Source::Firehose,
            SourceEvent::StepFunction(_) => Source::StepFunctions,
        }
    }

    /// The ids of the input records, in input order: the ids their outcomes
    /// and batch responses name (see the [`Record`](crate::factory::Record)
    /// constructors: the SQS `messageId`, the stream sequence number, ...).
    /// An EventBridge event and a Step Functions task are one record each.
    pub fn record_ids(&self) -> Vec<Arc<str>> {
        let inputs = self.inputs();
        (0..inputs.len()).map(|i| Arc::from(inputs.id(i))).collect()
    }

    /// The input records' ids and order keys.
    pub(super) fn inputs(&self) -> InputRecords {
        match self {
            SourceEvent::Sqs(e) => {
                let mut out = InputRecords::with_capacity(e.records.len());
                for m in &e.records {
                    out.push(sqs::record_id(m), sqs::order_key(m));
                }
                out
            }
            SourceEvent::Sns(e) => {
                let mut out = InputRecords::with_capacity(e.records.len());
                for r in &e.records {
                    out.push(sns::record_id(r), None);
                }
                out
            }
            SourceEvent::S3(e) => {
                let mut out = InputRecords::with_capacity(e.records.len());
                for r in &e.records {
                    out.push_with(|t| s3::write_record_id(r, t), None);
                }
                out
            }
            SourceEvent::DynamoDb(e) => {
                let mut out = InputRecords::with_capacity(e.records.len());
                for r in &e.records {
                    out.push(dynamodb::record_id(r), Some(dynamodb::order_key(r)));
                }
                out
            }
            SourceEvent::Kinesis(e) => {
                let mut out = InputRecords::with_capacity(e.records.len());
                for r in &e.records {
                    out.push(kinesis::record_id(r), Some(kinesis::order_key(r)));
                }
                out
            }
            SourceEvent::Kafka(b) => {
                let mut out = InputRecords::with_capacity(b.records.len());
                for r in &b.records {
                    out.push_with(|t| kafka::write_record_id(r, t), Some(&kafka::order_key(r)));
                }
                out
            }
            SourceEvent::S3Batch(e) => {
                let mut out = InputRecords::with_capacity(e.tasks.len());
                for t in &e.tasks {
                    out.push(s3_batch::record_id(t), None);
                }
                out
            }
            SourceEvent::Firehose(e) => {
                let mut out = InputRecords::with_capacity(e.records.len());
                for r in &e.records {
                    out.push(firehose::record_id(r), None);
                }
                out
            }
            SourceEvent::EventBridge(e) => {
                let mut out = InputRecords::with_capacity(1);
                out.push(eventbridge::record_id(e), None);
                out
            }
            SourceEvent::StepFunction(_) => {
                let mut out = InputRecords::with_capacity(1);
                out.push(step_functions::RECORD_ID, None);
                out
            }
        }
    }
}

/// Facts about the invocation processing a batch.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Invocation {
    /// The Lambda request id.
    pub request_id: Option<Arc<str>>,
    /// The invocation deadline; `None` for none. One already reached means
    /// no time is left.
    pub deadline: Option<Instant>,
    /// Whether each record's [`Status::Done`](crate::app::Status::Done)
    /// carries its handler's output ([`Outputs::Keep`], the default) or
    /// `null` ([`Outputs::Discard`]: nothing is serialized, for callers that
    /// read no output).
    pub outputs: Outputs,
    /// Whether the [`Report`](crate::app::Report) keeps every record's
    /// outcome ([`Outcomes::All`], the default) or only the failed ones
    /// ([`Outcomes::Failures`]: the others are counted as they end).
    pub outcomes: Outcomes,
}

impl Invocation {
    /// An invocation with a request id and no deadline.
    pub fn new(request_id: impl Into<Arc<str>>) -> Self {
        Self {
            request_id: Some(request_id.into()),
            ..Self::default()
        }
    }

    /// Sets the deadline. One already reached means no time is left: no
    /// record starts.
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Keeps or discards the handlers' outputs (see [`Outputs`]).
    ///
    /// ```
    /// use eventrail::app::Invocation;
    /// use eventrail::bus::Outputs;
    ///
    /// let inv = Invocation::new("r-1").with_outputs(Outputs::Discard);
    /// assert_eq!(inv.outputs, Outputs::Discard);
    /// assert_eq!(Invocation::default().outputs, Outputs::Keep);
    /// ```
    pub fn with_outputs(mut self, outputs: Outputs) -> Self {
        self.outputs = outputs;
        self
    }

    /// Keeps every record's outcome in the report, or only the failed ones
    /// (see [`Outcomes`]).
    ///
    /// ```
    /// use eventrail::app::{Invocation, Outcomes};
    ///
    /// let inv = Invocation::new("r-1").with_outcomes(Outcomes::Failures);
    /// assert_eq!(inv.outcomes, Outcomes::Failures);
    /// assert_eq!(Invocation::default().outcomes, Outcomes::All);
    /// ```
    pub fn with_outcomes(mut self, outcomes: Outcomes) -> Self {
        self.outcomes = outcomes;
        self
    }
}
