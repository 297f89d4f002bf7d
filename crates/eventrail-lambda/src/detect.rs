//! Source detection: which AWS service sent a raw payload.
//!
//! [`detect`] reads the payload once, without building a JSON tree: it
//! recognises the source and keeps every record as a borrowed slice of the
//! payload (see [`eventrail::source`], which lists how each source is
//! recognised). Records are decoded later, one by one, by the app's factory:
//! a record that does not have its source's shape fails alone, under the id
//! read from its raw bytes, and the rest of the batch is processed.
//!
//! Anything that is not a known source is [`InvokeError::UnknownSource`],
//! naming what was seen.
//!
//! ```
//! use eventrail::Source;
//! use eventrail_lambda::detect;
//!
//! let payload = br#"{"Records": [
//!     {"eventSource": "aws:sqs", "messageId": "m-1", "body": "{}"},
//!     {"eventSource": "aws:sqs", "messageId": 7}
//! ]}"#;
//! let detected = detect(payload).unwrap();
//! assert_eq!(detected.source(), Source::Sqs);
//! assert_eq!(detected.records(), 2);
//! // The second record's messageId is not a string: it fails alone.
//! assert_eq!(detected.malformed()[0].index(), 1);
//!
//! let err = detect(br#"{"hello": "world"}"#).unwrap_err();
//! assert_eq!(err.to_string(), "no event source detected: the payload is a JSON object with keys `hello`");
//! ```

use eventrail::app::SourceEvent;
use eventrail::source::{
    dynamodb, eventbridge, firehose, kafka, kinesis, s3, s3_batch, sns, sqs, step_functions,
    PayloadError, RawEvent,
};
use eventrail::Source;
use serde::de::DeserializeOwned;

pub use eventrail::source::MalformedRecord;

use crate::error::InvokeError;

/// A payload whose source was recognised, its records still raw. See the
/// [module docs](self).
#[derive(Clone, Debug)]
pub struct Detected<'a> {
    event: RawEvent<'a>,
}

impl<'a> Detected<'a> {
    /// The source.
    pub fn source(&self) -> Source {
        self.event.source()
    }

    /// The number of input records, malformed ones included.
    pub fn records(&self) -> usize {
        self.event.len()
    }

    /// The records, raw.
    pub fn raw(&self) -> &RawEvent<'a> {
        &self.event
    }

    /// The records that do not have their source's shape, in input order
    /// (decodes every record to find out: a diagnostic).
    pub fn malformed(&self) -> Vec<MalformedRecord> {
        self.event.malformed()
    }

    /// The well-formed records as the typed event (`None` when the only
    /// record of an EventBridge event or task input was malformed). Decodes
    /// every record: for tests and tools, not the processing path.
    pub fn to_event(&self) -> Option<SourceEvent> {
        fn all<T: DeserializeOwned>(e: &RawEvent<'_>) -> Vec<T> {
            e.records()
                .iter()
                .filter_map(|r| serde_json::from_str(r).ok())
                .collect()
        }
        let e = &self.event;
        Some(match e.source() {
            Source::Sqs => {
                let mut t = sqs::SqsEvent::default();
                t.records = all(e);
                SourceEvent::Sqs(t)
            }
            Source::Sns => {
                let mut t = sns::SnsEvent::default();
                t.records = all(e);
                SourceEvent::Sns(t)
            }
            Source::S3 => {
                let mut t = s3::S3Event::default();
                t.records = all(e);
                SourceEvent::S3(t)
            }
            Source::DynamoDb => {
                let mut t = dynamodb::DynamoDbEvent::default();
                t.records = all(e);
                SourceEvent::DynamoDb(t)
            }
            Source::Kinesis => {
                let mut t = kinesis::KinesisEvent::default();
                t.records = all(e);
                SourceEvent::Kinesis(t)
            }
            Source::Kafka => {
                let mut t = kafka::envelope(e.payload());
                t.records = all(e);
                SourceEvent::Kafka(t)
            }
            Source::Firehose => {
                let mut t = firehose::envelope(e.payload());
                t.records = all(e);
                SourceEvent::Firehose(t)
            }
            Source::S3Batch => {
                let mut t = s3_batch::envelope(e.payload());
                t.tasks = all(e);
                SourceEvent::S3Batch(t)
            }
            Source::EventBridge => SourceEvent::EventBridge(
                all::<eventbridge::EventBridgeEvent>(e).into_iter().next()?,
            ),
            Source::StepFunctions => SourceEvent::StepFunction(
                step_functions::StepFunctionInput::from_json(all(e).into_iter().next()?),
            ),
            _ => return None,
        })
    }
}

/// Detects the source of a raw payload. See the [module docs](self).
///
/// Fails when the payload is empty, not UTF-8, not JSON, or of no known source.
pub fn detect(payload: &[u8]) -> Result<Detected<'_>, InvokeError> {
    let event = RawEvent::parse(payload).map_err(InvokeError::from)?;
    Ok(Detected { event })
}

impl From<PayloadError> for InvokeError {
    fn from(e: PayloadError) -> Self {
        match e {
            PayloadError::Empty => InvokeError::Empty,
            PayloadError::NotUtf8 { valid_up_to } => InvokeError::NotUtf8 { valid_up_to },
            PayloadError::NotJson(e) => InvokeError::NotJson(e),
            PayloadError::UnknownSource { seen } => InvokeError::UnknownSource { seen },
            // `PayloadError` may grow; anything new is still a bad payload.
            other => InvokeError::UnknownSource {
                seen: other.to_string(),
            },
        }
    }
}
