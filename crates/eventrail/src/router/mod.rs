//! The declarative router: an [`EventFactory`] built from routes.
//!
//! | source | matched on | event built |
//! |---|---|---|
//! | S3 | key prefix and/or suffix (decoded key) | `E: From<S3Object>` |
//! | SQS, SNS, Kinesis, Firehose | a top-level field of the JSON body (data) | body deserialized into `E` |
//! | DynamoDB Streams | prefix of the partition key | [`DataChange<T>`] |
//! | Step Functions | the input's `type` field | `payload` (or the input) into `E` |
//! | EventBridge | `source` and `detail-type` | `detail` into `E` |
//! | Kafka (MSK, self-managed) | topic and/or a top-level field of the JSON value | [`KafkaMessage<T>`](crate::source::kafka::KafkaMessage) |
//! | S3 Batch Operations | key prefix and/or suffix (decoded key) | `E: From<S3BatchTask>` ([`S3BatchTask`](crate::source::s3_batch::S3BatchTask)) |
//!
//! Routes of one source are tried in the order they were added; the first that
//! matches wins. SQS messages that carry an SNS notification (SNS → SQS) are
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
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use aws_lambda_events::event::dynamodb::{Event as DynamoDbEvent, EventRecord as DynamoDbRecord};
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::dynamodb::{key_str, DataChange};
use crate::envelope::{AnyEnvelope, Envelope, Metadata, Source};
use crate::error::RecordError;
use crate::factory::{
    transform_typed, EventFactory, Record, Routed, StepFunctionInput, Transformed,
};
pub use crate::routes::RouteConflict;
use crate::routes::RouteInfo;
use crate::s3::S3Object;
use crate::source::{sqs, MalformedRecord, RawEvent};

use crate::json::{probe_into, raw_str};

mod firehose;
mod kafka;
mod s3_batch;

pub use self::kafka::KafkaRouteBuilder;
pub use self::s3_batch::S3BatchRouteBuilder;

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

// ---------------------------------------------------------------- route kinds

type S3Build = Box<dyn Fn(S3Object, &Metadata) -> AnyEnvelope + Send + Sync>;

struct S3Route {
    prefix: String,
    suffix: String,
    info: RouteInfo,
    build: S3Build,
}

impl S3Route {
    fn matches(&self, key: &str) -> bool {
        key.starts_with(&self.prefix) && key.ends_with(&self.suffix)
    }
}

struct JsonRoute {
    /// `(index into JsonRoutes::fields, value)`; `None` matches every body.
    on: Option<(usize, String)>,
    info: RouteInfo,
    build: BuildFrom<str>,
}

/// Routes on a field of a JSON body, for one source.
struct JsonRoutes {
    /// The distinct field names routes look at, then the envelope fields.
    fields: Vec<Box<str>>,
    routes: Vec<JsonRoute>,
}

/// Envelope fields looked for in SQS and SNS bodies, after the route fields:
/// what tells an SNS notification (SNS → SQS) or an S3 notification
/// (S3 → SQS) apart from an application message.
#[derive(Clone, Copy)]
enum EnvelopeField {
    /// `"Notification"` in an SNS notification.
    Type,
    /// The topic of an SNS notification.
    TopicArn,
    /// The message an SNS notification carries.
    Message,
    /// The records of an S3 notification.
    Records,
    /// `"s3:TestEvent"` in the test event S3 sends when a notification is set up.
    Event,
    /// The message attributes of an SNS notification.
    MessageAttributes,
}

/// How many probed fields of a body fit in the router's buffer on the stack.
const PROBE_ON_STACK: usize = 16;

/// The names of the [`EnvelopeField`]s, in their order.
const ENVELOPE_FIELDS: [&str; 6] = [
    "Type",
    "TopicArn",
    "Message",
    "Records",
    "Event",
    "MessageAttributes",
];

impl Default for JsonRoutes {
    fn default() -> Self {
        Self {
            fields: ENVELOPE_FIELDS
                .iter()
                .map(|f| Box::<str>::from(*f))
                .collect(),
            routes: Vec::new(),
        }
    }
}

struct DynamoRoute {
    key_attribute: String,
    prefix: String,
    info: RouteInfo,
    build: BuildFrom<DynamoDbRecord>,
}

struct SfnRoute {
    value: String,
    info: RouteInfo,
    build: BuildFrom<Value>,
}

struct EventBridgeRoute {
    source: String,
    detail_type: Option<String>,
    info: RouteInfo,
    build: BuildFrom<Value>,
}

/// Declarative routes: an [`EventFactory`]. See the [module docs](self).
#[derive(Default)]
pub struct Router {
    s3: Vec<S3Route>,
    sqs: JsonRoutes,
    sns: JsonRoutes,
    kinesis: JsonRoutes,
    firehose: JsonRoutes,
    dynamodb: Vec<DynamoRoute>,
    sfn: Vec<SfnRoute>,
    eventbridge: Vec<EventBridgeRoute>,
    kafka: Vec<kafka::KafkaRoute>,
    s3_batch: Vec<s3_batch::S3BatchRoute>,
    fallback: Option<Arc<dyn EventFactory>>,
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

    /// Starts an S3 route; finish it with [`S3RouteBuilder::to`].
    pub fn s3(self) -> S3RouteBuilder {
        S3RouteBuilder {
            router: self,
            prefix: String::new(),
            suffix: String::new(),
        }
    }

    /// Starts an SQS route for bodies whose top-level `field` is the string `value`.
    pub fn sqs(self, field: &str, value: &str) -> JsonRouteBuilder {
        JsonRouteBuilder::new(self, Source::Sqs, Some((field, value)))
    }

    /// Starts an SQS route that takes every body (put it last).
    pub fn sqs_all(self) -> JsonRouteBuilder {
        JsonRouteBuilder::new(self, Source::Sqs, None)
    }

    /// Starts an SNS route for messages whose top-level `field` is `value`.
    pub fn sns(self, field: &str, value: &str) -> JsonRouteBuilder {
        JsonRouteBuilder::new(self, Source::Sns, Some((field, value)))
    }

    /// Starts an SNS route that takes every message (put it last).
    pub fn sns_all(self) -> JsonRouteBuilder {
        JsonRouteBuilder::new(self, Source::Sns, None)
    }

    /// Starts a Kinesis route for records whose data is JSON with the
    /// top-level `field` equal to `value`.
    pub fn kinesis(self, field: &str, value: &str) -> JsonRouteBuilder {
        JsonRouteBuilder::new(self, Source::Kinesis, Some((field, value)))
    }

    /// Starts a DynamoDB Streams route for items whose partition key (`pk` by
    /// default, see [`DynamoRouteBuilder::key_attribute`]) starts with `prefix`.
    pub fn dynamodb(self, prefix: &str) -> DynamoRouteBuilder {
        DynamoRouteBuilder {
            router: self,
            key_attribute: "pk".into(),
            prefix: prefix.into(),
        }
    }

    /// Starts a Step Functions route for inputs whose `type` field is `value`.
    pub fn step_function(self, value: &str) -> SfnRouteBuilder {
        SfnRouteBuilder {
            router: self,
            value: value.into(),
        }
    }

    /// Starts an EventBridge route for events from `source` with `detail_type`.
    pub fn eventbridge(self, source: &str, detail_type: &str) -> EventBridgeRouteBuilder {
        EventBridgeRouteBuilder {
            router: self,
            source: source.into(),
            detail_type: Some(detail_type.into()),
        }
    }

    /// Starts an EventBridge route for every event from `source`.
    pub fn eventbridge_source(self, source: &str) -> EventBridgeRouteBuilder {
        EventBridgeRouteBuilder {
            router: self,
            source: source.into(),
            detail_type: None,
        }
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
            shadows: impl Fn(&T, &T) -> bool,
            name: impl Fn(&T) -> &RouteInfo,
        ) -> Result<(), RouteConflict> {
            for (j, later) in routes.iter().enumerate() {
                if let Some(earlier) = routes[..j].iter().find(|e| shadows(e, later)) {
                    return Err(RouteConflict {
                        source: name(later).source,
                        earlier: name(earlier).matcher.clone(),
                        later: name(later).matcher.clone(),
                    });
                }
            }
            Ok(())
        }
        pairs(
            &self.s3,
            |e, l| l.prefix.starts_with(&e.prefix) && l.suffix.ends_with(&e.suffix),
            |r| &r.info,
        )?;
        for json in [&self.sqs, &self.sns, &self.kinesis, &self.firehose] {
            pairs(
                &json.routes,
                |e, l| match (&e.on, &l.on) {
                    (None, _) => true,
                    (Some(a), Some(b)) => a == b,
                    (Some(_), None) => false,
                },
                |r| &r.info,
            )?;
        }
        pairs(
            &self.dynamodb,
            |e, l| e.key_attribute == l.key_attribute && l.prefix.starts_with(&e.prefix),
            |r| &r.info,
        )?;
        pairs(&self.sfn, |e, l| e.value == l.value, |r| &r.info)?;
        pairs(&self.kafka, |e, l| l.shadowed_by(e), |r| &r.info)?;
        pairs(&self.s3_batch, |e, l| l.shadowed_by(e), |r| &r.info)?;
        pairs(
            &self.eventbridge,
            |e, l| {
                e.source == l.source && (e.detail_type.is_none() || e.detail_type == l.detail_type)
            },
            |r| &r.info,
        )?;
        Ok(())
    }

    // ------------------------------------------------------------ routing

    fn route_s3_record(
        &self,
        r: &S3EventRecord,
        meta: &Metadata,
    ) -> Option<Result<AnyEnvelope, RecordError>> {
        let obj = match S3Object::from_record(r) {
            Ok(o) => o,
            Err(e) => return Some(Err(e)),
        };
        let route = self.s3.iter().find(|route| route.matches(&obj.key))?;
        Some(Ok((route.build)(obj, meta)))
    }

    /// Routes a JSON body. `unwrap_sns`/`unwrap_s3` say which notification
    /// envelopes may be inside.
    fn route_body(
        &self,
        routes: &JsonRoutes,
        body: &str,
        meta: &Metadata,
        unwrap_sns: bool,
        unwrap_s3: bool,
    ) -> Option<Result<Vec<AnyEnvelope>, RecordError>> {
        // The probe's fields on the stack where they fit (they do unless the
        // routes look at more than ten fields of the body).
        let (mut stack, mut heap);
        let fields: &mut [Option<&RawValue>] = match routes.fields.len() {
            n if n <= PROBE_ON_STACK => {
                stack = [None; PROBE_ON_STACK];
                &mut stack[..n]
            }
            n => {
                heap = vec![None; n];
                &mut heap
            }
        };
        let fields: &[Option<&RawValue>] = match probe_into(body, &routes.fields, fields) {
            Ok(Some(())) => fields,
            Ok(None) => {
                return Some(Err(RecordError::bad_input(
                    "body is JSON but not an object",
                )))
            }
            Err(e) => {
                return Some(Err(
                    RecordError::bad_input("body is not valid JSON").with_source(e)
                ))
            }
        };
        let env = routes.fields.len() - ENVELOPE_FIELDS.len();
        let field = |i: usize| fields[i].and_then(raw_str);
        let envelope = |f: EnvelopeField| fields[env + f as usize];
        let envelope_str = |f: EnvelopeField| envelope(f).and_then(raw_str);
        if unwrap_sns
            && envelope_str(EnvelopeField::Type).as_deref() == Some("Notification")
            && envelope(EnvelopeField::TopicArn).is_some()
        {
            if let Some(message) = envelope_str(EnvelopeField::Message) {
                // The SNS message attributes say who and what the message is
                // about, as the SQS ones would have.
                let inner;
                let meta = match envelope(EnvelopeField::MessageAttributes) {
                    Some(attrs) => {
                        inner = with_sns_attributes(meta, attrs);
                        &inner
                    }
                    None => meta,
                };
                return self.route_body(routes, &message, meta, false, unwrap_s3);
            }
        }
        if unwrap_s3 {
            if envelope_str(EnvelopeField::Event).as_deref() == Some("s3:TestEvent") {
                tracing::debug!(record_id = meta.record_id(), "S3 test event acknowledged");
                return Some(Ok(Vec::new()));
            }
            if envelope(EnvelopeField::Records).is_some() {
                if let Ok(s3) = serde_json::from_str::<S3Event>(body) {
                    if !s3.records.is_empty()
                        && s3.records.iter().all(|r| r.s3.bucket.name.is_some())
                    {
                        let mut out = Vec::with_capacity(s3.records.len());
                        for r in &s3.records {
                            match self.route_s3_record(r, meta)? {
                                Ok(e) => out.push(e),
                                Err(e) => return Some(Err(e)),
                            }
                        }
                        return Some(Ok(out));
                    }
                }
            }
        }
        let route = routes.routes.iter().find(|r| match &r.on {
            None => true,
            Some((i, value)) => field(*i).as_deref() == Some(value.as_str()),
        })?;
        Some((route.build)(body, meta).map(|e| vec![e]))
    }

    fn with_fallback<T>(
        &self,
        record: Record,
        result: Option<Result<Vec<AnyEnvelope>, RecordError>>,
        single: impl FnOnce() -> T,
        call: impl FnOnce(&dyn EventFactory, T) -> Transformed,
    ) -> Routed {
        match result {
            Some(Ok(envs)) => record.events(envs),
            Some(Err(e)) => record.fail(e),
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

/// `meta` with the tenant and correlation id found in the `MessageAttributes`
/// of an SNS notification delivered through SQS (what the SQS record itself
/// set wins).
fn with_sns_attributes(meta: &Metadata, attrs: &RawValue) -> Metadata {
    #[derive(serde::Deserialize)]
    struct Attr {
        #[serde(rename = "Value")]
        value: String,
    }
    let mut meta = meta.clone();
    if let Ok(attrs) = serde_json::from_str::<HashMap<&str, Attr>>(attrs.get()) {
        crate::source::apply_attributes(&mut meta, |n| attrs.get(n).map(|a| a.value.as_str()));
    }
    meta
}

fn single<T: Default, R>(records: Vec<R>, set: impl FnOnce(&mut T, Vec<R>)) -> T {
    let mut t = T::default();
    set(&mut t, records);
    t
}

impl Router {
    /// An SQS record read straight from the payload: no typed message is
    /// built unless the record goes to the fallback factory. `read` is the
    /// message as the batch split read it, if it did.
    fn route_sqs_raw(&self, index: usize, raw: &str, read: Option<sqs::View<'_>>) -> Routed {
        let view = match read.map_or_else(|| serde_json::from_str::<sqs::View<'_>>(raw), Ok) {
            Ok(v) => v,
            Err(e) => {
                return Record::malformed(MalformedRecord::new(
                    Source::Sqs,
                    index,
                    raw,
                    e.to_string(),
                ))
            }
        };
        let (identity, body) = view.into_parts();
        let record = Record::from_identity(identity);
        let result = match body.as_deref() {
            Some(body) => self.route_body(&self.sqs, body, record.meta(), true, true),
            None => Some(Err(RecordError::bad_input("SQS message has no body"))),
        };
        self.with_fallback(
            record,
            result,
            || {
                let mut e = SqsEvent::default();
                // The view accepted the record, so the typed message does too.
                e.records.extend(serde_json::from_str(raw).ok());
                e
            },
            |f, e| f.transform_sqs(e),
        )
    }
}

impl EventFactory for Router {
    fn transform_raw(&self, event: &RawEvent<'_>) -> Transformed {
        match event.source() {
            Source::Sqs => {
                let mut read = event.take_sqs_messages().into_iter();
                event
                    .records()
                    .iter()
                    .enumerate()
                    .map(|(i, raw)| self.route_sqs_raw(i, raw, read.next().flatten()))
                    .collect()
            }
            _ => transform_typed(self, event),
        }
    }

    fn transform_s3(&self, event: S3Event) -> Transformed {
        let mut out = Transformed::with_capacity(event.records.len());
        for r in event.records {
            let record = Record::s3(&r);
            let result = self
                .route_s3_record(&r, record.meta())
                .map(|res| res.map(|e| vec![e]));
            out.push(self.with_fallback(
                record,
                result,
                || single(vec![r], |e: &mut S3Event, v| e.records = v),
                |f, e| f.transform_s3(e),
            ));
        }
        out
    }

    fn transform_sqs(&self, event: SqsEvent) -> Transformed {
        let mut out = Transformed::with_capacity(event.records.len());
        for msg in event.records {
            let record = Record::sqs(&msg);
            let result = match msg.body.as_deref() {
                Some(body) => self.route_body(&self.sqs, body, record.meta(), true, true),
                None => Some(Err(RecordError::bad_input("SQS message has no body"))),
            };
            out.push(self.with_fallback(
                record,
                result,
                || single(vec![msg], |e: &mut SqsEvent, v| e.records = v),
                |f, e| f.transform_sqs(e),
            ));
        }
        out
    }

    fn transform_sns(&self, event: SnsEvent) -> Transformed {
        let mut out = Transformed::with_capacity(event.records.len());
        for r in event.records {
            let record = Record::sns(&r);
            let result = self.route_body(&self.sns, &r.sns.message, record.meta(), false, true);
            out.push(self.with_fallback(
                record,
                result,
                || single(vec![r], |e: &mut SnsEvent, v| e.records = v),
                |f, e| f.transform_sns(e),
            ));
        }
        out
    }

    fn transform_step_function(&self, input: StepFunctionInput) -> Transformed {
        let record = Record::step_function(&input);
        let kind = input.input.get("type").and_then(Value::as_str);
        let result = kind
            .and_then(|k| self.sfn.iter().find(|r| r.value == k))
            .map(|route| (route.build)(&input.input, record.meta()).map(|e| vec![e]));
        std::iter::once(self.with_fallback(
            record,
            result,
            || input,
            |f, i| f.transform_step_function(i),
        ))
        .collect()
    }

    fn transform_dynamodb_stream(&self, event: DynamoDbEvent) -> Transformed {
        let mut out = Transformed::with_capacity(event.records.len());
        for r in event.records {
            let record = Record::dynamodb(&r);
            let result = self
                .dynamodb
                .iter()
                .find(|route| {
                    key_str(&r.change.keys, &route.key_attribute)
                        .is_some_and(|k| k.starts_with(&route.prefix))
                })
                .map(|route| (route.build)(&r, record.meta()).map(|e| vec![e]));
            out.push(self.with_fallback(
                record,
                result,
                || single(vec![r], |e: &mut DynamoDbEvent, v| e.records = v),
                |f, e| f.transform_dynamodb_stream(e),
            ));
        }
        out
    }

    fn transform_eventbridge(&self, event: EventBridgeEvent) -> Transformed {
        let record = Record::eventbridge(&event);
        let result = self
            .eventbridge
            .iter()
            .find(|r| {
                r.source == event.source
                    && r.detail_type
                        .as_ref()
                        .is_none_or(|d| *d == event.detail_type)
            })
            .map(|route| (route.build)(&event.detail, record.meta()).map(|e| vec![e]));
        std::iter::once(self.with_fallback(
            record,
            result,
            || event,
            |f, e| f.transform_eventbridge(e),
        ))
        .collect()
    }

    fn transform_kinesis(&self, event: KinesisEvent) -> Transformed {
        let mut out = Transformed::with_capacity(event.records.len());
        for r in event.records {
            let record = crate::factory::Record::kinesis(&r);
            let result = match std::str::from_utf8(&r.kinesis.data) {
                Ok(body) => self.route_body(&self.kinesis, body, record.meta(), false, false),
                Err(e) => Some(Err(
                    RecordError::bad_input("Kinesis data is not UTF-8").with_source(e)
                )),
            };
            out.push(self.with_fallback(
                record,
                result,
                || single(vec![r], |e: &mut KinesisEvent, v| e.records = v),
                |f, e| f.transform_kinesis(e),
            ));
        }
        out
    }

    fn transform_kafka(&self, batch: crate::source::kafka::KafkaBatch) -> Transformed {
        self.route_kafka(batch)
    }

    fn transform_s3_batch(&self, event: crate::source::s3_batch::S3BatchEvent) -> Transformed {
        self.route_s3_batch(event)
    }

    fn transform_firehose(&self, event: crate::source::firehose::FirehoseEvent) -> Transformed {
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

// ---------------------------------------------------------------- builders

/// An S3 route being built. See [`Router::s3`].
#[must_use = "finish the route with `.to::<E>()`"]
#[derive(Debug)]
pub struct S3RouteBuilder {
    router: Router,
    prefix: String,
    suffix: String,
}

impl S3RouteBuilder {
    /// Matches keys (decoded) starting with `prefix`.
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Matches keys (decoded) ending with `suffix`, such as `.pdf`.
    pub fn suffix(mut self, suffix: &str) -> Self {
        self.suffix = suffix.into();
        self
    }

    /// Matching records become `E`s.
    pub fn to<E: From<S3Object> + Send + Sync + 'static>(self) -> Router {
        self.map(E::from)
    }

    /// Matching records become `E`s built by `f`.
    pub fn map<E, F>(mut self, f: F) -> Router
    where
        E: Send + Sync + 'static,
        F: Fn(S3Object) -> E + Send + Sync + 'static,
    {
        let matcher = match (self.prefix.is_empty(), self.suffix.is_empty()) {
            (true, true) => "any key".to_owned(),
            (false, true) => format!("prefix {:?}", self.prefix),
            (true, false) => format!("suffix {:?}", self.suffix),
            (false, false) => format!("prefix {:?} suffix {:?}", self.prefix, self.suffix),
        };
        self.router.s3.push(S3Route {
            prefix: self.prefix,
            suffix: self.suffix,
            info: info::<E>(Source::S3, matcher),
            build: Box::new(move |o, meta| envelope(f(o), meta)),
        });
        self.router
    }
}

/// A route on a JSON body being built. See [`Router::sqs`].
#[must_use = "finish the route with `.to::<E>()`"]
#[derive(Debug)]
pub struct JsonRouteBuilder {
    router: Router,
    source: Source,
    on: Option<(String, String)>,
}

impl JsonRouteBuilder {
    fn new(router: Router, source: Source, on: Option<(&str, &str)>) -> Self {
        Self {
            router,
            source,
            on: on.map(|(f, v)| (f.to_owned(), v.to_owned())),
        }
    }

    /// Matching bodies are deserialized into `E`; a body that does not
    /// deserialize is bad input (a permanent failure of that record).
    pub fn to<E: DeserializeOwned + Send + Sync + 'static>(self) -> Router {
        self.map(|body| deserialize_json::<E>(body))
    }

    /// Matching bodies become `E`s built by `f` from the raw JSON text.
    pub fn map<E, F>(mut self, f: F) -> Router
    where
        E: Send + Sync + 'static,
        F: Fn(&str) -> Result<E, RecordError> + Send + Sync + 'static,
    {
        let routes = match self.source {
            Source::Sqs => &mut self.router.sqs,
            Source::Sns => &mut self.router.sns,
            Source::Firehose => &mut self.router.firehose,
            _ => &mut self.router.kinesis,
        };
        // The envelope fields stay last: route fields go before them.
        let env_len = ENVELOPE_FIELDS.len();
        let (on, matcher) = match self.on {
            None => (None, "any body".to_owned()),
            Some((field, value)) => {
                let n_route_fields = routes.fields.len() - env_len;
                let idx = match routes.fields[..n_route_fields]
                    .iter()
                    .position(|f| **f == *field)
                {
                    Some(i) => i,
                    None => {
                        routes.fields.insert(n_route_fields, field.as_str().into());
                        n_route_fields
                    }
                };
                let matcher = format!("{field} = {value:?}");
                (Some((idx, value)), matcher)
            }
        };
        routes.routes.push(JsonRoute {
            on,
            info: info::<E>(self.source, matcher),
            build: Box::new(move |body, meta| f(body).map(|e| envelope(e, meta))),
        });
        self.router
    }
}

/// A DynamoDB Streams route being built. See [`Router::dynamodb`].
#[must_use = "finish the route with `.to::<T>()`"]
#[derive(Debug)]
pub struct DynamoRouteBuilder {
    router: Router,
    key_attribute: String,
    prefix: String,
}

impl DynamoRouteBuilder {
    /// The partition key attribute to match on (default `pk`).
    pub fn key_attribute(mut self, name: &str) -> Self {
        self.key_attribute = name.into();
        self
    }

    /// Matching records become [`DataChange<T>`] events, their images
    /// unmarshalled into `T`.
    pub fn to<T: DeserializeOwned + Send + Sync + 'static>(mut self) -> Router {
        let matcher = format!("{} prefix {:?}", self.key_attribute, self.prefix);
        self.router.dynamodb.push(DynamoRoute {
            key_attribute: self.key_attribute,
            prefix: self.prefix,
            info: info::<DataChange<T>>(Source::DynamoDb, matcher),
            build: Box::new(|r, meta| DataChange::<T>::from_record(r).map(|c| envelope(c, meta))),
        });
        self.router
    }
}

/// A Step Functions route being built. See [`Router::step_function`].
#[must_use = "finish the route with `.to::<E>()`"]
#[derive(Debug)]
pub struct SfnRouteBuilder {
    router: Router,
    value: String,
}

impl SfnRouteBuilder {
    /// Matching inputs become `E`s, deserialized from the input's `payload`
    /// field when it has one, else from the whole input. The task token stays
    /// on the envelope.
    pub fn to<E: DeserializeOwned + Send + Sync + 'static>(mut self) -> Router {
        let matcher = format!("type = {:?}", self.value);
        self.router.sfn.push(SfnRoute {
            value: self.value,
            info: info::<E>(Source::StepFunctions, matcher),
            build: Box::new(|input, meta| {
                let (v, what) = match input.get("payload") {
                    Some(p) => (p, "task input `payload`"),
                    None => (input, "task input"),
                };
                deserialize_value::<E>(v, what).map(|e| envelope(e, meta))
            }),
        });
        self.router
    }
}

/// An EventBridge route being built. See [`Router::eventbridge`].
#[must_use = "finish the route with `.to::<E>()`"]
#[derive(Debug)]
pub struct EventBridgeRouteBuilder {
    router: Router,
    source: String,
    detail_type: Option<String>,
}

impl EventBridgeRouteBuilder {
    /// Matching events become `E`s, deserialized from `detail`.
    pub fn to<E: DeserializeOwned + Send + Sync + 'static>(mut self) -> Router {
        let matcher = match &self.detail_type {
            Some(d) => format!("source = {:?}, detail-type = {d:?}", self.source),
            None => format!("source = {:?}", self.source),
        };
        self.router.eventbridge.push(EventBridgeRoute {
            source: self.source,
            detail_type: self.detail_type,
            info: info::<E>(Source::EventBridge, matcher),
            build: Box::new(|detail, meta| {
                deserialize_value::<E>(detail, "EventBridge detail").map(|e| envelope(e, meta))
            }),
        });
        self.router
    }
}
