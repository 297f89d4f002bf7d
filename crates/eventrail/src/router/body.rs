//! Routes on a top-level field of a JSON body: SQS messages, SNS messages,
//! Kinesis and Firehose data. SQS bodies that carry an SNS notification and
//! SQS or SNS bodies that carry S3 notifications are unwrapped here.

use std::collections::HashMap;

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use super::{deserialize_json, envelope, info, single, BuildFrom, Router};
use crate::envelope::{AnyEnvelope, Metadata, Source};
use crate::error::RecordError;
use crate::factory::{Envelopes, Record, Routed, Transformed};
use crate::json::{probe_into, raw_str};
use crate::routes::RouteInfo;
use crate::source::{sqs, MalformedRecord};

pub(super) struct JsonRoute {
    /// `(index into JsonRoutes::fields, value)`; `None` matches every body.
    on: Option<(usize, String)>,
    pub(super) info: RouteInfo,
    build: BuildFrom<str>,
}

impl JsonRoute {
    /// Whether bodies this route matches are always taken by `earlier`.
    pub(super) fn shadowed_by(&self, earlier: &JsonRoute) -> bool {
        match (&earlier.on, &self.on) {
            (None, _) => true,
            (Some(a), Some(b)) => a == b,
            (Some(_), None) => false,
        }
    }
}

/// Routes on a field of a JSON body, for one source.
pub(super) struct JsonRoutes {
    /// The distinct field names routes look at, then, for sources whose
    /// bodies may wrap a notification, the [`WRAPPER_FIELDS`].
    fields: Vec<Box<str>>,
    /// How many of `fields` are route fields.
    route_fields: usize,
    pub(super) routes: Vec<JsonRoute>,
}

/// How many probed fields of a body fit in the router's buffer on the stack.
const PROBE_ON_STACK: usize = 16;

/// The fields that tell an SNS notification (SNS → SQS) or an S3
/// notification (S3 → SQS, S3 → SNS) apart from an application message, in
/// the order [`Wrapper::from_slots`] reads them.
const WRAPPER_FIELDS: [&str; 6] = [
    "Type",
    "TopicArn",
    "Message",
    "Records",
    "Event",
    "MessageAttributes",
];

/// The [`WRAPPER_FIELDS`] found in a body, by name.
#[derive(Default)]
struct Wrapper<'a> {
    /// `"Notification"` in an SNS notification.
    kind: Option<&'a RawValue>,
    /// The topic of an SNS notification.
    topic_arn: Option<&'a RawValue>,
    /// The message an SNS notification carries.
    message: Option<&'a RawValue>,
    /// The records of an S3 notification.
    records: Option<&'a RawValue>,
    /// `"s3:TestEvent"` in the test event S3 sends when a notification is set up.
    event: Option<&'a RawValue>,
    /// The message attributes of an SNS notification.
    message_attributes: Option<&'a RawValue>,
}

impl<'a> Wrapper<'a> {
    /// Reads the probe's slots for [`WRAPPER_FIELDS`] (none when the source's
    /// bodies wrap nothing).
    fn from_slots(slots: &[Option<&'a RawValue>]) -> Self {
        match *slots {
            [kind, topic_arn, message, records, event, message_attributes] => Self {
                kind,
                topic_arn,
                message,
                records,
                event,
                message_attributes,
            },
            _ => Self::default(),
        }
    }

    fn is_sns_notification(&self) -> bool {
        self.kind.and_then(raw_str).as_deref() == Some("Notification") && self.topic_arn.is_some()
    }

    fn is_s3_test_event(&self) -> bool {
        self.event.and_then(raw_str).as_deref() == Some("s3:TestEvent")
    }
}

impl JsonRoutes {
    /// Routes for a source whose bodies may wrap SNS or S3 notifications
    /// (`wrapping`), or not.
    pub(super) fn new(wrapping: bool) -> Self {
        let fields = if wrapping {
            WRAPPER_FIELDS
                .iter()
                .map(|f| Box::<str>::from(*f))
                .collect()
        } else {
            Vec::new()
        };
        Self {
            fields,
            route_fields: 0,
            routes: Vec::new(),
        }
    }

    /// The index of route field `name`, added if new.
    fn field_index(&mut self, name: &str) -> usize {
        match self.fields[..self.route_fields]
            .iter()
            .position(|f| **f == *name)
        {
            Some(i) => i,
            None => {
                // Route fields go before the wrapper fields.
                self.fields.insert(self.route_fields, name.into());
                self.route_fields += 1;
                self.route_fields - 1
            }
        }
    }
}

impl Router {
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

    /// Starts a Kinesis route that takes every record (put it last: routes
    /// are tried in order, and a route after it is reported by
    /// [`Router::check`]). It takes data that is not JSON too, so with
    /// [`map`](JsonRouteBuilder::map) it reads any UTF-8 text;
    /// [`to`](JsonRouteBuilder::to) fails a record whose data does not
    /// deserialize (bad input). To acknowledge records no route names
    /// without a handler instead, see
    /// [`AppBuilder::acknowledge_unmatched_from`](crate::app::AppBuilder::acknowledge_unmatched_from).
    ///
    /// ```
    /// use eventrail::error::RecordError;
    /// use eventrail::Router;
    ///
    /// #[derive(Debug, serde::Deserialize)]
    /// struct Click { page: String }
    ///
    /// #[derive(Debug)]
    /// struct RawLine(String);
    ///
    /// let router = Router::new()
    ///     .kinesis("kind", "click").to::<Click>()
    ///     .kinesis_all().map(|data| Ok::<_, RecordError>(RawLine(data.to_owned())));
    /// assert_eq!(router.check(), Ok(()));
    /// ```
    pub fn kinesis_all(self) -> JsonRouteBuilder {
        JsonRouteBuilder::new(self, Source::Kinesis, None)
    }

    /// Routes a JSON body. `unwrap_sns`/`unwrap_s3` say which notification
    /// wrappers may be inside.
    pub(super) fn route_body(
        &self,
        routes: &JsonRoutes,
        body: &str,
        meta: &Metadata,
        unwrap_sns: bool,
        unwrap_s3: bool,
    ) -> Option<Result<Envelopes, RecordError>> {
        if let Some(envelope) = self.route_plain_body(routes, body, meta) {
            return Some(Ok(Envelopes::One(envelope)));
        }
        self.route_checked_body(routes, body, meta, unwrap_sns, unwrap_s3)
    }

    /// The quick path of [`route_body`](Self::route_body), for what most
    /// bodies are: an object with no notification wrapper inside, whose
    /// routing fields are plain strings, that a route decodes. Its fields
    /// are found by brackets alone, so only a successful decode of the
    /// whole body (which checks it is JSON) makes the answer sure; `None`
    /// (anything else, a failed decode included) means: take the checked
    /// path, which answers exactly as if this one had not run.
    fn route_plain_body(
        &self,
        routes: &JsonRoutes,
        body: &str,
        meta: &Metadata,
    ) -> Option<AnyEnvelope> {
        let mut found = [None; PROBE_ON_STACK];
        let found = found.get_mut(..routes.fields.len())?;
        crate::json::split::object_fields(body, &routes.fields, found)?;
        let (route_slots, wrapper_slots) = found.split_at(routes.route_fields);
        if wrapper_slots.iter().any(Option::is_some) {
            return None;
        }
        // A string with escapes is left to the checked path, which
        // unescapes it before comparing.
        fn plain(text: &str) -> Option<&str> {
            let inner = text.strip_prefix('"')?.strip_suffix('"')?;
            (!inner.contains('\\')).then_some(inner)
        }
        for slot in route_slots.iter().flatten() {
            if slot.starts_with('"') {
                plain(slot)?;
            }
        }
        let route = routes.routes.iter().find(|r| match &r.on {
            None => true,
            Some((i, value)) => route_slots[*i]
                .and_then(plain)
                .is_some_and(|v| crate::json::same_bytes(v.as_bytes(), value.as_bytes())),
        })?;
        (route.build)(body, meta).ok()
    }

    /// The checked path of [`route_body`](Self::route_body): the body is
    /// probed with serde_json, so JSON that is not an object or not JSON at
    /// all gets its own error (or goes to a catch-all route).
    fn route_checked_body(
        &self,
        routes: &JsonRoutes,
        body: &str,
        meta: &Metadata,
        unwrap_sns: bool,
        unwrap_s3: bool,
    ) -> Option<Result<Envelopes, RecordError>> {
        // The probe's fields on the stack where they fit (they do unless the
        // routes look at more than PROBE_ON_STACK fields of the body).
        let (mut stack, mut heap);
        let slots: &mut [Option<&RawValue>] = match routes.fields.len() {
            n if n <= PROBE_ON_STACK => {
                stack = [None; PROBE_ON_STACK];
                &mut stack[..n]
            }
            n => {
                heap = vec![None; n];
                &mut heap
            }
        };
        let slots: &[Option<&RawValue>] = match probe_into(body, &routes.fields, slots) {
            Ok(Some(())) => slots,
            // Only a catch-all takes a body that is not a JSON object.
            Ok(None) => {
                return self.catch_all(routes, body, meta, || {
                    RecordError::bad_input("body is JSON but not an object")
                })
            }
            Err(e) => {
                return self.catch_all(routes, body, meta, || {
                    RecordError::bad_input("body is not valid JSON").with_source(e)
                })
            }
        };
        let (route_slots, wrapper_slots) = slots.split_at(routes.route_fields);
        let wrapper = Wrapper::from_slots(wrapper_slots);
        if unwrap_sns && wrapper.is_sns_notification() {
            if let Some(message) = wrapper.message.and_then(raw_str) {
                // The SNS message attributes say who and what the message is
                // about, as the SQS ones would have.
                let inner;
                let meta = match wrapper.message_attributes {
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
            if wrapper.is_s3_test_event() {
                tracing::debug!(record_id = meta.record_id(), "S3 test event acknowledged");
                return Some(Ok(Envelopes::Many(Vec::new())));
            }
            if wrapper.records.is_some() {
                if let Some(routed) = self.route_s3_notification(body, meta) {
                    return routed;
                }
            }
        }
        let route = routes.routes.iter().find(|r| match &r.on {
            None => true,
            Some((i, value)) => {
                route_slots[*i].and_then(raw_str).as_deref() == Some(value.as_str())
            }
        })?;
        Some((route.build)(body, meta).map(Envelopes::One))
    }

    /// The first catch-all route's result for `body`, or `not_json` when
    /// there is none.
    fn catch_all(
        &self,
        routes: &JsonRoutes,
        body: &str,
        meta: &Metadata,
        not_json: impl FnOnce() -> RecordError,
    ) -> Option<Result<Envelopes, RecordError>> {
        match routes.routes.iter().find(|r| r.on.is_none()) {
            Some(route) => Some((route.build)(body, meta).map(Envelopes::One)),
            None => Some(Err(not_json())),
        }
    }

    /// Routes the S3 notification a body carries (S3 → SQS, S3 → SNS → SQS):
    /// `None` when the body is not one, `Some(None)` when no S3 route takes
    /// one of its records (the whole body is then unmatched).
    fn route_s3_notification(
        &self,
        body: &str,
        meta: &Metadata,
    ) -> Option<Option<Result<Envelopes, RecordError>>> {
        let s3 = serde_json::from_str::<S3Event>(body).ok()?;
        if s3.records.is_empty() || s3.records.iter().any(|r| r.s3.bucket.name.is_none()) {
            return None;
        }
        let mut out = Vec::with_capacity(s3.records.len());
        for r in &s3.records {
            match self.route_s3_record(r, meta) {
                None => return Some(None),
                Some(Ok(e)) => out.push(e),
                Some(Err(e)) => return Some(Some(Err(e))),
            }
        }
        Some(Some(Ok(Envelopes::Many(out))))
    }

    /// An SQS record read straight from the payload: no typed message is
    /// built unless the record goes to the fallback factory. `read` is the
    /// message as the batch split read it, if it did.
    pub(super) fn route_sqs_raw(
        &self,
        index: usize,
        raw: &str,
        read: Option<sqs::Message<'_>>,
    ) -> Routed {
        // A message read by hand whose body does not unescape is read again
        // by serde_json, for the error it gives.
        let parts = match read.and_then(sqs::Message::into_parts) {
            Some(parts) => Ok(parts),
            None => serde_json::from_str::<sqs::View<'_>>(raw)
                .map_err(|e| e.to_string())
                .and_then(|v| {
                    v.into_message()
                        .into_parts()
                        .ok_or_else(|| "the body has an invalid escape".to_owned())
                }),
        };
        let (identity, body) = match parts {
            Ok(parts) => parts,
            Err(e) => return Record::malformed(MalformedRecord::new(Source::Sqs, index, raw, e)),
        };
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

    pub(super) fn route_sqs(&self, event: SqsEvent) -> Transformed {
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

    pub(super) fn route_sns(&self, event: SnsEvent) -> Transformed {
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

    pub(super) fn route_kinesis(&self, event: KinesisEvent) -> Transformed {
        let mut out = Transformed::with_capacity(event.records.len());
        for r in event.records {
            let record = Record::kinesis(&r);
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

/// A route on a JSON body being built. See [`Router::sqs`].
#[must_use = "finish the route with `.to::<E>()`"]
#[derive(Debug)]
pub struct JsonRouteBuilder {
    router: Router,
    source: Source,
    on: Option<(String, String)>,
}

impl JsonRouteBuilder {
    pub(super) fn new(router: Router, source: Source, on: Option<(&str, &str)>) -> Self {
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
        let (on, matcher) = match self.on {
            None => (None, "any body".to_owned()),
            Some((field, value)) => {
                let matcher = format!("{field} = {value:?}");
                (Some((routes.field_index(&field), value)), matcher)
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
