//! A handler's output: its JSON text, as the handler serialized it.

use std::fmt;
use std::io;
use std::ops::Deref;
use std::sync::OnceLock;

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::json::with_json;

/// The output of a handler, as JSON (`()` becomes `null`): what a record's
/// [`Status::Done`](crate::app::Status::Done) carries and what a Step
/// Functions task or an S3 Batch Operations task answers.
///
/// It keeps the JSON text the handler's response serialized to, so the
/// fields stay in the handler's order wherever it is written out (a Lambda
/// response, the local `invoke` command), as `SendTaskSuccess` sends them.
/// It dereferences to a [`serde_json::Value`] (parsed once, on first use)
/// for reading; a `Value` has its keys sorted.
///
/// ```
/// use eventrail::bus::Output;
///
/// #[derive(serde::Serialize)]
/// struct Imported { rows: u32, errors: u32, file: &'static str }
///
/// let out = Output::serialize(&Imported { rows: 120, errors: 0, file: "a.csv" }).unwrap();
/// assert_eq!(out.json(), r#"{"rows":120,"errors":0,"file":"a.csv"}"#);
/// assert_eq!(out["rows"], 120);
/// assert_eq!(serde_json::to_string(&out).unwrap(), out.json());
/// assert!(Output::null().is_null());
/// ```
#[derive(Clone, Default)]
pub struct Output {
    /// The JSON text; `None` is `null` (what most handlers return), kept
    /// without an allocation.
    raw: Option<Box<str>>,
    /// Boxed: a batch's report keeps an output per record, and few are
    /// ever read as a `Value`.
    value: OnceLock<Box<Value>>,
}

/// Where a value of no size is serialized: a few bytes on the stack.
#[derive(Default)]
struct Small {
    buf: [u8; 32],
    len: usize,
}

impl Small {
    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl io::Write for Small {
    #[inline]
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.write_all(bytes).map(|()| bytes.len())
    }

    #[inline]
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        let end = self.len + bytes.len();
        let dst = self
            .buf
            .get_mut(self.len..end)
            .ok_or(io::ErrorKind::WriteZero)?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Output {
    /// `null`.
    pub fn null() -> Self {
        Self::default()
    }

    /// `value` serialized to JSON, its fields in their order.
    pub fn serialize<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        // A value of no size (`()`, what most handlers return) writes a few
        // bytes at most: on the stack, where the compiler sees `null`
        // through and keeps nothing.
        if std::mem::size_of_val(value) == 0 {
            let mut small = Small::default();
            if serde_json::to_writer(&mut small, value).is_ok() {
                return Self::from_bytes(small.bytes());
            }
            // Longer than `Small`, or an error: the general path says which.
        }
        with_json(value, Self::from_text)
    }

    /// The JSON text serde_json wrote.
    fn from_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        if bytes == b"null" {
            return Ok(Self::null());
        }
        // serde_json writes UTF-8; checked rather than assumed (no `unsafe`
        // in this crate).
        let text = std::str::from_utf8(bytes).map_err(serde::ser::Error::custom)?;
        Ok(Self::from_text(text))
    }

    /// JSON text a serializer wrote.
    fn from_text(text: &str) -> Self {
        Self {
            raw: (text != "null").then(|| Box::from(text)),
            value: OnceLock::new(),
        }
    }

    /// An output from JSON text (copied).
    pub fn from_raw(raw: &RawValue) -> Self {
        Self::from_text(raw.get())
    }

    /// The JSON array of `items`, in order (the outputs of a fan-out or of a
    /// record that became several events).
    pub fn array(items: Vec<Output>) -> Self {
        let mut text =
            String::with_capacity(2 + items.iter().map(|i| i.json().len() + 1).sum::<usize>());
        text.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(item.json());
        }
        text.push(']');
        // Every item is JSON, so the array is too.
        Self::from_text(&text)
    }

    /// An output from a `Value` (its keys are in the `Value`'s order).
    pub fn from_value(value: Value) -> Self {
        let out = Self::from_text(&value.to_string());
        let _ = out.value.set(Box::new(value));
        out
    }

    /// The JSON text, in the handler's field order.
    pub fn json(&self) -> &str {
        self.raw.as_deref().unwrap_or("null")
    }

    /// Whether the output is `null` (a handler that returned `()`).
    pub fn is_null(&self) -> bool {
        self.raw.is_none()
    }

    /// The output as a [`Value`], parsed on first use.
    pub fn value(&self) -> &Value {
        self.value.get_or_init(|| {
            Box::new(match &self.raw {
                None => Value::Null,
                // The text is JSON a serializer wrote, so it parses.
                Some(raw) => serde_json::from_str(raw).unwrap_or(Value::Null),
            })
        })
    }

    /// The output as a [`Value`], owned.
    pub fn into_value(self) -> Value {
        let Self { raw, value } = self;
        match value.into_inner() {
            Some(v) => *v,
            None => raw
                .and_then(|r| serde_json::from_str(&r).ok())
                .unwrap_or(Value::Null),
        }
    }

    /// The JSON text, owned.
    pub fn into_raw(self) -> Box<RawValue> {
        self.raw
            .and_then(|r| RawValue::from_string(r.into_string()).ok())
            .unwrap_or_else(|| RawValue::NULL.to_owned())
    }
}

impl Deref for Output {
    type Target = Value;

    fn deref(&self) -> &Value {
        self.value()
    }
}

impl PartialEq for Output {
    /// Equal as JSON values (key order does not matter).
    fn eq(&self, other: &Output) -> bool {
        self.json() == other.json() || self.value() == other.value()
    }
}

impl PartialEq<Value> for Output {
    fn eq(&self, other: &Value) -> bool {
        self.value() == other
    }
}

impl PartialEq<Output> for Value {
    fn eq(&self, other: &Output) -> bool {
        self == other.value()
    }
}

/// `output == 3`, `output == "done"`, as with a [`Value`].
macro_rules! eq_as_value {
    ($($t:ty),*) => {$(
        impl PartialEq<$t> for Output {
            fn eq(&self, other: &$t) -> bool {
                *self.value() == *other
            }
        }
        impl PartialEq<$t> for &Output {
            fn eq(&self, other: &$t) -> bool {
                *self.value() == *other
            }
        }
    )*};
}

eq_as_value!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64, bool, String);

impl PartialEq<&str> for Output {
    fn eq(&self, other: &&str) -> bool {
        *self.value() == **other
    }
}

impl PartialEq<str> for Output {
    fn eq(&self, other: &str) -> bool {
        *self.value() == *other
    }
}

impl From<Value> for Output {
    fn from(value: Value) -> Self {
        Self::from_value(value)
    }
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Output").field(&self.json()).finish()
    }
}

impl fmt::Display for Output {
    /// The JSON text, in the handler's field order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.json())
    }
}

impl Serialize for Output {
    /// Written as is by `serde_json` (in the handler's field order). Other
    /// formats see `serde_json`'s raw-value form: serialize
    /// [`value()`](Output::value) for them.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.raw.as_deref() {
            None => serializer.serialize_unit(),
            Some(text) => match serde_json::from_str::<&RawValue>(text) {
                Ok(raw) => raw.serialize(serializer),
                // Text a serializer wrote is JSON; should it ever not be,
                // the value is written instead.
                Err(_) => self.value().serialize(serializer),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Result3 {
        zeta: u8,
        alpha: u8,
        mid: &'static str,
    }

    #[test]
    fn an_output_is_two_pointers() {
        // A report keeps one per record (56 bytes with the `Value` inline).
        assert_eq!(std::mem::size_of::<Output>(), 32);
        assert!(std::mem::size_of::<crate::app::RecordOutcome>() <= 96);
    }

    #[test]
    fn keeps_the_field_order_and_reads_as_a_value() {
        let out = Output::serialize(&Result3 {
            zeta: 1,
            alpha: 2,
            mid: "m",
        })
        .unwrap();
        assert_eq!(out.json(), r#"{"zeta":1,"alpha":2,"mid":"m"}"#);
        assert_eq!(out.to_string(), out.json());
        assert_eq!(serde_json::to_string(&out).unwrap(), out.json());
        // A Value sorts its keys: the order lives in the text only.
        assert_eq!(out.value().to_string(), r#"{"alpha":2,"mid":"m","zeta":1}"#);
        assert_eq!(out["alpha"], 2);
        assert_eq!(out, serde_json::json!({"alpha": 2, "mid": "m", "zeta": 1}));
    }

    /// Serializes an output of its own while being serialized.
    struct Nested(u32);

    impl Serialize for Nested {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let inner =
                Output::serialize(&[self.0, self.0 + 1]).map_err(serde::ser::Error::custom)?;
            (inner.json(), self.0).serialize(s)
        }
    }

    #[test]
    fn an_output_serialized_while_serializing_another_keeps_both_whole() {
        let out = Output::serialize(&vec![Nested(1), Nested(5)]).unwrap();
        assert_eq!(out.json(), r#"[["[1,2]",1],["[5,6]",5]]"#);
        // The buffer is reused afterwards without a trace of either.
        assert_eq!(Output::serialize("x").unwrap().json(), r#""x""#);
    }

    /// A value of no size that writes more than the stack buffer holds.
    struct Wordy;

    impl Serialize for Wordy {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str("a unit value that writes more than thirty-two bytes")
        }
    }

    #[derive(Serialize)]
    struct Empty {}

    #[test]
    fn values_of_no_size_serialize_whole() {
        assert!(Output::serialize(&()).unwrap().is_null());
        assert_eq!(Output::serialize(&Empty {}).unwrap().json(), "{}");
        assert_eq!(
            Output::serialize(&Wordy).unwrap().json(),
            r#""a unit value that writes more than thirty-two bytes""#
        );
        assert_eq!(Output::serialize("").unwrap().json(), r#""""#);
    }

    #[test]
    fn null_arrays_and_values() {
        let unit = Output::serialize(&()).unwrap();
        assert!(unit.is_null() && unit.raw.is_none());
        assert_eq!(unit.json(), "null");
        assert_eq!(serde_json::to_string(&unit).unwrap(), "null");
        let arr = Output::array(vec![
            Output::serialize(&Result3 {
                zeta: 1,
                alpha: 2,
                mid: "m",
            })
            .unwrap(),
            Output::null(),
            Output::serialize("two").unwrap(),
        ]);
        assert_eq!(arr.json(), r#"[{"zeta":1,"alpha":2,"mid":"m"},null,"two"]"#);
        assert_eq!(arr.value()[2], "two");
        assert_eq!(Output::array(Vec::new()).json(), "[]");
        // Longer than the scratch buffer that is kept: written whole, and
        // the next output is not polluted by it.
        let long: Vec<String> = (0..3000).map(|i| format!("item-{i}")).collect();
        let out = Output::serialize(&long).unwrap();
        assert_eq!(out.json(), serde_json::to_string(&long).unwrap());
        assert!(out.json().len() > crate::json::SCRATCH_KEEP);
        assert_eq!(Output::serialize(&7).unwrap().json(), "7");
        let v = serde_json::json!({"b": 1, "a": [true]});
        assert_eq!(Output::from(v.clone()).into_value(), v);
        assert_eq!(
            Output::from(v.clone()).into_raw().get(),
            r#"{"a":[true],"b":1}"#
        );
    }
}
