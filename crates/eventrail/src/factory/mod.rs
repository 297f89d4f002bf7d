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

use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::SqsEvent;

use crate::routes::{RouteConflict, RouteInfo};
use crate::source::firehose::FirehoseEvent;
use crate::source::kafka::KafkaBatch;
use crate::source::s3_batch::S3BatchEvent;
use crate::source::RawEvent;

mod contract;
mod record;
mod typed;

pub(crate) use self::contract::{one_per_record, InputRecords};
pub(crate) use self::record::Envelopes;
pub use self::record::{Record, Routed, Transformed};

/// The records of a raw payload, routed one at a time (see
/// [`EventFactory::transform_raw_iter`]).
pub type RoutedIter<'e> = Box<dyn Iterator<Item = Routed> + Send + 'e>;
pub use self::typed::transform_typed;
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

    /// The records of a raw payload as [`transform_raw`](Self::transform_raw)
    /// gives them, one at a time: what
    /// [`App::process_raw`](crate::App::process_raw) runs, so that each
    /// record is decoded as it starts and dropped once it ran, instead of a
    /// whole batch of envelopes being built before the first one runs.
    ///
    /// The same contract: exactly one [`Routed`] per input record, in input
    /// order. The default calls `transform_raw` and hands out its records.
    /// A factory that overrides it defines `transform_raw` as
    /// `self.transform_raw_iter(event).collect()`, so the two always give
    /// the same records ([`Router`](crate::Router) does: it routes SQS
    /// records lazily).
    ///
    /// ```
    /// use eventrail::factory::EventFactory;
    /// use eventrail::source::RawEvent;
    /// use eventrail::Router;
    ///
    /// let router = Router::new().sqs("type", "PING").to::<serde_json::Value>();
    /// let event = RawEvent::parse(br#"{"Records": [
    ///     {"eventSource": "aws:sqs", "messageId": "m-1", "body": "{\"type\": \"PING\"}"},
    ///     {"eventSource": "aws:sqs", "messageId": "m-2", "body": "{\"type\": \"PONG\"}"}
    /// ]}"#).unwrap();
    /// let ids: Vec<_> = router
    ///     .transform_raw_iter(&event)
    ///     .map(|r| (r.record_id().to_owned(), r.result().is_ok()))
    ///     .collect();
    /// assert_eq!(ids, [("m-1".to_owned(), true), ("m-2".to_owned(), false)]);
    /// ```
    fn transform_raw_iter<'e>(&'e self, event: &'e RawEvent<'_>) -> RoutedIter<'e> {
        Box::new(self.transform_raw(event).into_vec().into_iter())
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
    fn transform_raw_iter<'e>(&'e self, event: &'e RawEvent<'_>) -> RoutedIter<'e> {
        (**self).transform_raw_iter(event)
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

#[cfg(test)]
mod tests {
    use aws_lambda_events::event::sqs::SqsMessage;

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
            .all(|r| r.result().is_err_and(|e| e.is_no_route())));
    }
}
