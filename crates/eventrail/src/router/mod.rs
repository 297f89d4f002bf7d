//! The declarative router: an [`EventFactory`] built from routes.
//!
//! | source | matched on | event built |
//! |---|---|---|
//! | S3 | key prefix and/or suffix (decoded key) | `E: From<S3Object>` |
//! | SQS, SNS, Kinesis, Firehose | a top-level field of the JSON body (data), or every record (`sqs_all`, `kinesis_all`, ...) | body deserialized into `E` |
//! | DynamoDB Streams | prefix of the partition key, or every record ([`dynamodb_all`](Router::dynamodb_all)) | [`DataChange<T>`](crate::dynamodb::DataChange) |
//! | Step Functions | the input's `type` field | `payload` (or the input) into `E` |
//! | EventBridge | `source` and `detail-type` | `detail` into `E` |
//! | Kafka (MSK, self-managed) | topic and/or a top-level field of the JSON value | [`KafkaMessage<T>`](crate::source::kafka::KafkaMessage) |
//! | S3 Batch Operations | key prefix and/or suffix (decoded key) | `E: From<S3BatchTask>` ([`S3BatchTask`](crate::source::s3_batch::S3BatchTask)) |
//!
//! Routes of one source are tried in the order they were added; the first that
//! matches wins; a catch-all (`sqs_all`, `dynamodb_all`, `kinesis_all`, ...)
//! takes what the routes before it leave. SQS messages that carry an SNS notification (SNS → SQS) are
//! unwrapped and their `Message` is routed; bodies that carry S3 notifications
//! (S3 → SQS, S3 → SNS → SQS) are routed with the S3 routes. A record no route
//! matches goes to the [fallback factory](Router::fallback) if there is one,
//! and is otherwise reported unmatched.
//!
//! ```
//! use eventrail::s3::S3Object;
//! use eventrail::Router;
//!
//! #[derive(Debug)]
//! struct CsvImport(S3Object);
//! impl From<S3Object> for CsvImport {
//!     fn from(o: S3Object) -> Self { Self(o) }
//! }
//!
//! #[derive(Debug, serde::Deserialize)]
//! struct Notification { recipient: String }
//!
//! #[derive(Debug, serde::Deserialize)]
//! struct Order { pk: String }
//!
//! let router = Router::new()
//!     .s3().prefix("imports/csv/").to::<CsvImport>()
//!     .sqs("type", "NOTIFICATION").to::<Notification>()
//!     .dynamodb("ORDER#").to::<Order>();
//! assert_eq!(router.check(), Ok(()));
//! ```
//!
//! Two routes that can never be told apart (the same matcher twice, or a route
//! an earlier one always wins over) are reported by [`Router::check`], which
//! [`App::builder`](crate::App::builder)'s `build` runs.

use std::any::TypeId;
use std::fmt;
use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::envelope::{AnyEnvelope, Envelope, Metadata, Source};
use crate::error::RecordError;
use crate::factory::{
    transform_typed, Envelopes, EventFactory, Record, Routed, RoutedIter, StepFunctionInput,
    Transformed,
};
pub use crate::routes::RouteConflict;
use crate::routes::RouteInfo;
use crate::source::firehose::FirehoseEvent;
use crate::source::kafka::KafkaBatch;
use crate::source::s3_batch::S3BatchEvent;
use crate::source::RawEvent;

mod body;
mod dynamodb;
mod eventbridge;
mod firehose;
mod kafka;
mod key;
mod s3;
mod s3_batch;
mod step_functions;

pub use self::body::JsonRouteBuilder;
pub use self::dynamodb::DynamoRouteBuilder;
pub use self::eventbridge::EventBridgeRouteBuilder;
pub use self::kafka::KafkaRouteBuilder;
pub use self::s3::S3RouteBuilder;
pub use self::s3_batch::S3BatchRouteBuilder;
pub use self::step_functions::SfnRouteBuilder;

type BuildFrom<I> = Box<dyn Fn(&I, &Metadata) -> Result<AnyEnvelope, RecordError> + Send + Sync>;

fn info<E: 'static>(source: Source, matcher: String) -> RouteInfo {
    RouteInfo {
        source,
        matcher,
        event_type: std::any::type_name::<E>(),
        event_type_id: TypeId::of::<E>(),
    }
}

fn envelope<E: Send + Sync + 'static>(event: E, meta: &Metadata) -> AnyEnvelope {
    AnyEnvelope::new(Envelope::new(event, meta.clone()))
}

fn deserialize_json<E: DeserializeOwned>(body: &str) -> Result<E, RecordError> {
    serde_json::from_str(body).map_err(|e| {
        RecordError::bad_input(format!(
            "body does not deserialize into {}",
            std::any::type_name::<E>()
        ))
        .with_source(e)
    })
}

fn deserialize_value<E: DeserializeOwned>(v: &Value, what: &str) -> Result<E, RecordError> {
    E::deserialize(v).map_err(|e| {
        RecordError::bad_input(format!(
            "{what} does not deserialize into {}",
            std::any::type_name::<E>()
        ))
        .with_source(e)
    })
}

/// A one-record event of type `T` (what a fallback factory is handed).
fn single<T: Default, R>(records: Vec<R>, set: impl FnOnce(&mut T, Vec<R>)) -> T {
    let mut t = T::default();
    set(&mut t, records);
    t
}

/// Declarative routes: an [`EventFactory`]. See the [module docs](self).
pub struct Router {
    s3: Vec<s3::S3Route>,
    sqs: body::JsonRoutes,
    sns: body::JsonRoutes,
    kinesis: body::JsonRoutes,
    firehose: body::JsonRoutes,
    dynamodb: Vec<dynamodb::DynamoRoute>,
    sfn: Vec<step_functions::SfnRoute>,
    eventbridge: Vec<eventbridge::EventBridgeRoute>,
    kafka: Vec<kafka::KafkaRoute>,
    s3_batch: Vec<s3_batch::S3BatchRoute>,
    fallback: Option<Arc<dyn EventFactory>>,
}

impl Default for Router {
    fn default() -> Self {
        Self {
            s3: Vec::new(),
            // SQS and SNS bodies may carry SNS or S3 notifications.
            sqs: body::JsonRoutes::new(true),
            sns: body::JsonRoutes::new(true),
            kinesis: body::JsonRoutes::new(false),
            firehose: body::JsonRoutes::new(false),
            dynamodb: Vec::new(),
            sfn: Vec::new(),
            eventbridge: Vec::new(),
            kafka: Vec::new(),
            s3_batch: Vec::new(),
            fallback: None,
        }
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("routes", &self.routes())
            .field("fallback", &self.fallback)
            .finish()
    }
}

impl Router {
    /// A router with no routes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records no route matches are handed to `factory`, one at a time.
    pub fn fallback(mut self, factory: impl EventFactory) -> Self {
        self.fallback = Some(Arc::new(factory));
        self
    }

    /// Reports routes that can never match. See the [module docs](self).
    pub fn check(&self) -> Result<(), RouteConflict> {
        fn pairs<T>(
            routes: &[T],
            shadowed_by: impl Fn(&T, &T) -> bool,
            info: impl Fn(&T) -> &RouteInfo,
        ) -> Result<(), RouteConflict> {
            for (j, later) in routes.iter().enumerate() {
                if let Some(earlier) = routes[..j].iter().find(|e| shadowed_by(later, e)) {
                    return Err(RouteConflict {
                        source: info(later).source,
                        earlier: info(earlier).matcher.clone(),
                        later: info(later).matcher.clone(),
                    });
                }
            }
            Ok(())
        }
        pairs(&self.s3, s3::S3Route::shadowed_by, |r| &r.info)?;
        for json in [&self.sqs, &self.sns, &self.kinesis, &self.firehose] {
            pairs(&json.routes, body::JsonRoute::shadowed_by, |r| &r.info)?;
        }
        pairs(&self.dynamodb, dynamodb::DynamoRoute::shadowed_by, |r| {
            &r.info
        })?;
        pairs(&self.sfn, step_functions::SfnRoute::shadowed_by, |r| {
            &r.info
        })?;
        pairs(&self.kafka, kafka::KafkaRoute::shadowed_by, |r| &r.info)?;
        pairs(&self.s3_batch, s3_batch::S3BatchRoute::shadowed_by, |r| {
            &r.info
        })?;
        pairs(
            &self.eventbridge,
            eventbridge::EventBridgeRoute::shadowed_by,
            |r| &r.info,
        )?;
        Ok(())
    }

    /// The record's outcome: what a route made of it, or, when no route
    /// matched (`None`), what the fallback factory makes of it alone
    /// (`single` builds its one-record event), or unmatched.
    fn with_fallback<T>(
        &self,
        record: Record,
        result: Option<Result<Envelopes, RecordError>>,
        single: impl FnOnce() -> T,
        call: impl FnOnce(&dyn EventFactory, T) -> Transformed,
    ) -> Routed {
        match result {
            Some(result) => record.routed(result),
            None => match &self.fallback {
                Some(f) => call(&**f, single())
                    .into_vec()
                    .pop()
                    .unwrap_or_else(|| record.unmatched()),
                None => record.unmatched(),
            },
        }
    }
}

impl EventFactory for Router {
    fn transform_raw(&self, event: &RawEvent<'_>) -> Transformed {
        self.transform_raw_iter(event).collect()
    }

    fn transform_raw_iter<'e>(&'e self, event: &'e RawEvent<'_>) -> RoutedIter<'e> {
        match event.source() {
            Source::Sqs => {
                let mut read = event.take_sqs_messages().into_iter();
                Box::new(
                    event
                        .records()
                        .iter()
                        .enumerate()
                        .map(move |(i, raw)| self.route_sqs_raw(i, raw, read.next().flatten())),
                )
            }
            _ => Box::new(transform_typed(self, event).into_vec().into_iter()),
        }
    }

    fn transform_s3(&self, event: S3Event) -> Transformed {
        self.route_s3(event)
    }

    fn transform_sqs(&self, event: SqsEvent) -> Transformed {
        self.route_sqs(event)
    }

    fn transform_sns(&self, event: SnsEvent) -> Transformed {
        self.route_sns(event)
    }

    fn transform_step_function(&self, input: StepFunctionInput) -> Transformed {
        self.route_step_function(input)
    }

    fn transform_dynamodb_stream(&self, event: DynamoDbEvent) -> Transformed {
        self.route_dynamodb(event)
    }

    fn transform_eventbridge(&self, event: EventBridgeEvent) -> Transformed {
        self.route_eventbridge(event)
    }

    fn transform_kinesis(&self, event: KinesisEvent) -> Transformed {
        self.route_kinesis(event)
    }

    fn transform_kafka(&self, batch: KafkaBatch) -> Transformed {
        self.route_kafka(batch)
    }

    fn transform_s3_batch(&self, event: S3BatchEvent) -> Transformed {
        self.route_s3_batch(event)
    }

    fn transform_firehose(&self, event: FirehoseEvent) -> Transformed {
        self.route_firehose(event)
    }

    fn routes(&self) -> Vec<RouteInfo> {
        let mut v: Vec<RouteInfo> = Vec::new();
        v.extend(self.s3.iter().map(|r| r.info.clone()));
        for j in [&self.sqs, &self.sns, &self.kinesis, &self.firehose] {
            v.extend(j.routes.iter().map(|r| r.info.clone()));
        }
        v.extend(self.dynamodb.iter().map(|r| r.info.clone()));
        v.extend(self.sfn.iter().map(|r| r.info.clone()));
        v.extend(self.eventbridge.iter().map(|r| r.info.clone()));
        v.extend(self.kafka.iter().map(|r| r.info.clone()));
        v.extend(self.s3_batch.iter().map(|r| r.info.clone()));
        if let Some(f) = &self.fallback {
            v.extend(f.routes());
        }
        v
    }

    fn check_routes(&self) -> Result<(), RouteConflict> {
        self.check()?;
        match &self.fallback {
            Some(f) => f.check_routes(),
            None => Ok(()),
        }
    }
}
