//! The top level of a payload that is not a plain `Records` batch: what
//! [`RawEvent::parse`](super::RawEvent::parse) reads, in one serde_json pass
//! and without building a tree, to recognise its source (the keys it has,
//! a batch under another key) or to say what it is instead.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{kafka, Source};
use crate::json::{raw_str, Text};

/// What the top level of a payload is.
pub(super) enum Top<'a> {
    /// An object.
    Object(TopObject<'a>),
    /// Something else, described.
    Other(&'static str),
}

pub(super) struct TopObject<'a> {
    pub(super) records: Option<RecordsField<'a>>,
    pub(super) keys: TopKeys<'a>,
}

pub(super) enum RecordsField<'a> {
    Array(Vec<&'a RawValue>),
    Other(&'static str),
}

/// The keys of an object, as far as detection needs them.
#[derive(Default)]
pub(super) struct TopKeys<'a> {
    shown: Vec<Cow<'a, str>>,
    count: usize,
    detail_type: bool,
    source: bool,
    string_type: bool,
    task_token: bool,
    /// A top-level `eventSource` string (Kafka batches).
    event_source: Option<Cow<'a, str>>,
    /// A top-level `records` (Kafka, Firehose).
    lower_records: Option<&'a RawValue>,
    /// A top-level `tasks` (S3 Batch Operations).
    tasks: Option<&'a RawValue>,
    /// Whether there is an `invocationSchemaVersion` (S3 Batch Operations).
    invocation_schema_version: bool,
    /// Whether there is a `deliveryStreamArn` (Firehose).
    delivery_stream_arn: bool,
    /// Whether there is an `invocationId` (S3 Batch Operations, Firehose).
    invocation_id: bool,
}

impl<'a> TopKeys<'a> {
    pub(super) const SHOWN: usize = 8;

    /// The source and records of a batch whose records are not under
    /// `Records` (Kafka), if the keys are of one; `Err` says why the records
    /// could not be split.
    pub(super) fn batch_envelope(&self) -> Option<Result<(Source, Vec<&'a str>), String>> {
        if let (Some(es), Some(records)) = (&self.event_source, self.lower_records) {
            if kafka::is_event_source(es) {
                return Some(kafka::split_records(records).map(|r| (Source::Kafka, r)));
            }
        }
        let invoked = self.invocation_id;
        if let (true, Some(tasks)) = (invoked && self.invocation_schema_version, self.tasks) {
            return Some(array(tasks).map(|t| (Source::S3Batch, t)).map_err(|seen| {
                format!("an S3 Batch Operations invocation whose `tasks` is {seen}")
            }));
        }
        if let (true, Some(records)) = (invoked && self.delivery_stream_arn, self.lower_records) {
            return Some(
                array(records)
                    .map(|r| (Source::Firehose, r))
                    .map_err(|seen| format!("a Firehose transformation whose `records` is {seen}")),
            );
        }
        None
    }

    pub(super) fn eventbridge(&self) -> bool {
        self.detail_type && self.source
    }

    pub(super) fn step_function(&self) -> bool {
        self.string_type || self.task_token
    }

    pub(super) fn list(&self) -> String {
        let mut out: Vec<String> = self.shown.iter().map(|k| format!("`{k}`")).collect();
        if self.count > Self::SHOWN {
            out.push(format!("and {} more", self.count - Self::SHOWN));
        }
        out.join(", ")
    }

    pub(super) fn describe(&self) -> String {
        if self.count == 0 {
            "an empty JSON object".into()
        } else {
            format!("a JSON object with keys {}", self.list())
        }
    }
}

pub(super) struct TopSeed;

impl<'de> DeserializeSeed<'de> for TopSeed {
    type Value = Top<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopSeed {
    type Value = Top<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut keys = TopKeys::default();
        let mut records = None;
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            // Keys repeat in hostile input: the last value wins, as in a map.
            match key.as_ref() {
                "Records" => records = Some(map.next_value_seed(RecordsSeed)?),
                "type" => keys.string_type = map.next_value::<&RawValue>()?.get().starts_with('"'),
                "records" => keys.lower_records = Some(map.next_value::<&'de RawValue>()?),
                "tasks" => keys.tasks = Some(map.next_value::<&'de RawValue>()?),
                "eventSource" => {
                    let v = map.next_value::<&'de RawValue>()?;
                    keys.event_source = raw_str(v);
                }
                other => {
                    match other {
                        "detail-type" => keys.detail_type = true,
                        "source" => keys.source = true,
                        "taskToken" => keys.task_token = true,
                        "invocationSchemaVersion" => keys.invocation_schema_version = true,
                        "deliveryStreamArn" => keys.delivery_stream_arn = true,
                        "invocationId" => keys.invocation_id = true,
                        _ => {}
                    }
                    map.next_value::<IgnoredAny>()?;
                }
            }
            if keys.shown.len() < TopKeys::SHOWN && !keys.shown.contains(&key) {
                keys.shown.push(key);
            }
            keys.count += 1;
        }
        Ok(Top::Object(TopObject { records, keys }))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut empty = true;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            empty = false;
        }
        Ok(Top::Other(if empty {
            "an empty JSON array"
        } else {
            "a JSON array"
        }))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Top::Other("a JSON boolean"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Top::Other("a JSON number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Top::Other("a JSON number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Top::Other("a JSON number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Top::Other("a JSON string"))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Top::Other("`null`"))
    }
}

/// `Records`: an array of raw records, or what it was instead.
pub(super) struct RecordsSeed;

impl<'de> DeserializeSeed<'de> for RecordsSeed {
    type Value = RecordsField<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed {
    type Value = RecordsField<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(r) = seq.next_element::<&'de RawValue>()? {
            out.push(r);
        }
        Ok(RecordsField::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut empty = true;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
            empty = false;
        }
        Ok(RecordsField::Other(if empty {
            "an empty JSON object"
        } else {
            "a JSON object"
        }))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(RecordsField::Other("a JSON boolean"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(RecordsField::Other("a JSON number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(RecordsField::Other("a JSON number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(RecordsField::Other("a JSON number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(RecordsField::Other("a JSON string"))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(RecordsField::Other("`null`"))
    }
}

/// The elements of a JSON array, raw; `Err` says what the value was instead.
pub(super) fn array(raw: &RawValue) -> Result<Vec<&str>, &'static str> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    match RecordsSeed.deserialize(&mut de) {
        Ok(RecordsField::Array(v)) => Ok(v.into_iter().map(RawValue::get).collect()),
        Ok(RecordsField::Other(seen)) => Err(seen),
        Err(_) => Err("not JSON"),
    }
}
