//! Kafka routes: by topic and/or a top-level field of the JSON value.

use serde::de::DeserializeOwned;

use super::{envelope, info, Router};
use crate::envelope::{AnyEnvelope, Metadata, Source};
use crate::error::RecordError;
use crate::factory::{Envelopes, Record, Transformed};
use crate::json::{probe, raw_str};
use crate::source::kafka::{KafkaBatch, KafkaMessage, KafkaRecord};

type KafkaBuild = Box<
    dyn Fn(&KafkaRecord, Option<&[u8]>, &Metadata) -> Result<AnyEnvelope, RecordError>
        + Send
        + Sync,
>;

pub(super) struct KafkaRoute {
    topic: Option<String>,
    field: Option<(String, String)>,
    pub(super) info: crate::routes::RouteInfo,
    build: KafkaBuild,
}

impl KafkaRoute {
    /// Whether records this route matches are always taken by `earlier`.
    pub(super) fn shadowed_by(&self, earlier: &KafkaRoute) -> bool {
        (earlier.topic.is_none() || earlier.topic == self.topic)
            && (earlier.field.is_none() || earlier.field == self.field)
    }
}

fn field_is(value: Option<&str>, field: &str, expected: &str) -> bool {
    let Some(text) = value else { return false };
    match probe(text, &[field]) {
        Ok(Some(fields)) => fields[0].and_then(raw_str).as_deref() == Some(expected),
        _ => false,
    }
}

impl Router {
    /// Starts a Kafka route (Amazon MSK or self-managed Apache Kafka); narrow
    /// it with [`KafkaRouteBuilder::topic`] and/or [`KafkaRouteBuilder::field`],
    /// finish it with [`KafkaRouteBuilder::to`].
    ///
    /// ```
    /// use eventrail::source::kafka::KafkaMessage;
    /// use eventrail::Router;
    ///
    /// #[derive(Debug, serde::Deserialize)]
    /// struct OrderPlaced { id: u32 }
    ///
    /// let router = Router::new()
    ///     .kafka().topic("orders").field("type", "ORDER_PLACED").to::<OrderPlaced>();
    /// // Handlers take `Envelope<KafkaMessage<OrderPlaced>>`.
    /// # let _ = std::marker::PhantomData::<KafkaMessage<OrderPlaced>>;
    /// assert_eq!(router.check(), Ok(()));
    /// ```
    pub fn kafka(self) -> KafkaRouteBuilder {
        KafkaRouteBuilder {
            router: self,
            topic: None,
            field: None,
        }
    }

    /// Routes one Kafka record: `None` when no route matches.
    fn route_kafka_record(
        &self,
        r: &KafkaRecord,
        meta: &Metadata,
    ) -> Option<Result<Envelopes, RecordError>> {
        if let Err(e) = r.key_bytes() {
            return Some(Err(RecordError::bad_input(e.to_string())));
        }
        let value = match r.value_bytes() {
            Ok(v) => v,
            Err(e) => return Some(Err(RecordError::bad_input(e.to_string()))),
        };
        let text = value.as_deref().and_then(|v| std::str::from_utf8(v).ok());
        let route = self.kafka.iter().find(|route| {
            route.topic.as_ref().is_none_or(|t| *t == r.topic)
                && route
                    .field
                    .as_ref()
                    .is_none_or(|(f, v)| field_is(text, f, v))
        })?;
        Some((route.build)(r, value.as_deref(), meta).map(Envelopes::One))
    }

    pub(super) fn route_kafka(&self, batch: KafkaBatch) -> Transformed {
        let KafkaBatch {
            event_source,
            event_source_arn,
            bootstrap_servers,
            records,
        } = batch;
        let mut out = Transformed::with_capacity(records.len());
        for r in records {
            let record = Record::kafka(&r);
            let result = self.route_kafka_record(&r, record.meta());
            out.push(self.with_fallback(
                record,
                result,
                || KafkaBatch {
                    event_source: event_source.clone(),
                    event_source_arn: event_source_arn.clone(),
                    bootstrap_servers: bootstrap_servers.clone(),
                    records: vec![r],
                },
                |f, b| f.transform_kafka(b),
            ));
        }
        out
    }
}

/// A Kafka route being built. See [`Router::kafka`].
#[must_use = "finish the route with `.to::<T>()`"]
#[derive(Debug)]
pub struct KafkaRouteBuilder {
    router: Router,
    topic: Option<String>,
    field: Option<(String, String)>,
}

impl KafkaRouteBuilder {
    /// Matches records of `topic` only.
    pub fn topic(mut self, topic: &str) -> Self {
        self.topic = Some(topic.into());
        self
    }

    /// Matches records whose value is a JSON object with the top-level
    /// `field` equal to the string `value`.
    pub fn field(mut self, field: &str, value: &str) -> Self {
        self.field = Some((field.into(), value.into()));
        self
    }

    /// Matching records become [`KafkaMessage<T>`] events, their value
    /// (base64-decoded JSON) deserialized into `T`; a value that is missing
    /// (a tombstone), not UTF-8 or not a `T` is bad input (a permanent
    /// failure of that record).
    pub fn to<T: DeserializeOwned + Send + Sync + 'static>(self) -> crate::Router {
        self.push::<KafkaMessage<T>>(Box::new(|r, value, meta| {
            let bytes = value.ok_or_else(|| {
                RecordError::bad_input("the Kafka record has no value (a tombstone)")
            })?;
            let body: T = serde_json::from_slice(bytes).map_err(|e| {
                RecordError::bad_input(format!(
                    "the Kafka value does not deserialize into {}",
                    std::any::type_name::<T>()
                ))
                .with_source(e)
            })?;
            let msg =
                KafkaMessage::new(r, body).map_err(|e| RecordError::bad_input(e.to_string()))?;
            Ok(envelope(msg, meta))
        }))
    }

    /// Matching records become `E`s built by `f` from the record and its
    /// decoded value (for values that are not JSON: Avro, Protobuf, text).
    pub fn map<E, F>(self, f: F) -> crate::Router
    where
        E: Send + Sync + 'static,
        F: Fn(&KafkaRecord, Option<&[u8]>) -> Result<E, RecordError> + Send + Sync + 'static,
    {
        self.push::<E>(Box::new(move |r, value, meta| {
            f(r, value).map(|e| envelope(e, meta))
        }))
    }

    fn push<E: 'static>(mut self, build: KafkaBuild) -> crate::Router {
        let matcher = match (&self.topic, &self.field) {
            (None, None) => "any record".to_owned(),
            (Some(t), None) => format!("topic = {t:?}"),
            (None, Some((f, v))) => format!("{f} = {v:?}"),
            (Some(t), Some((f, v))) => format!("topic = {t:?}, {f} = {v:?}"),
        };
        self.router.kafka.push(KafkaRoute {
            topic: self.topic,
            field: self.field,
            info: info::<E>(Source::Kafka, matcher),
            build,
        });
        self.router
    }
}
