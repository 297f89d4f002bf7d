//! Borrowed JSON reading: a single-pass scan of a JSON object that picks out
//! a few top-level fields without building a tree (wanted values are borrowed
//! as raw JSON, everything else is skipped), and string lookups along a path.
//! And one writer: [`with_json`], serde_json into a buffer kept per thread.

pub(crate) mod split;

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Serialize;
use serde_json::value::RawValue;

/// The raw values of the wanted fields, by position in the wanted list.
pub(crate) type Fields<'de> = Vec<Option<&'de RawValue>>;

/// Scans `json` for the top-level fields named in `wanted`.
///
/// Returns `Ok(None)` when `json` is valid JSON but not an object, and an
/// error when it is not valid JSON.
pub(crate) fn probe<'de, S: AsRef<str>>(
    json: &'de str,
    wanted: &[S],
) -> Result<Option<Fields<'de>>, serde_json::Error> {
    let mut out: Fields<'de> = vec![None; wanted.len()];
    Ok(probe_into(json, wanted, &mut out)?.map(|()| out))
}

/// Like [`probe`], into `out` (as long as `wanted`, all `None`): what a
/// caller with a buffer on the stack calls, so a probe allocates nothing.
pub(crate) fn probe_into<'de, S: AsRef<str>>(
    json: &'de str,
    wanted: &[S],
    out: &mut [Option<&'de RawValue>],
) -> Result<Option<()>, serde_json::Error> {
    debug_assert_eq!(wanted.len(), out.len());
    let mut de = serde_json::Deserializer::from_str(json);
    let found = ProbeSeed { wanted, out }.deserialize(&mut de)?;
    de.end()?;
    Ok(found)
}

/// A raw value as a string, if it is a JSON string.
pub(crate) fn raw_str(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    if !text.starts_with('"') {
        return None;
    }
    match serde_json::from_str::<&str>(text) {
        Ok(s) => Some(Cow::Borrowed(s)),
        // Escapes inside: the string has to be unescaped into a new one.
        Err(_) => serde_json::from_str::<String>(text).ok().map(Cow::Owned),
    }
}

/// The string at `path` inside the raw JSON `json` (e.g. `["s3", "bucket",
/// "name"]`), if every step is an object and the last value a string. Reads
/// only what the path needs.
pub(crate) fn str_at(json: &str, path: &[&str]) -> Option<String> {
    let (first, rest) = path.split_first()?;
    let fields = probe(json, &[*first]).ok()??;
    let value = fields[0]?;
    if rest.is_empty() {
        raw_str(value).map(Cow::into_owned)
    } else {
        str_at(value.get(), rest)
    }
}

/// The value of a JSON string literal (`raw`, quotes included, already
/// checked by serde_json's scan: well-formed escapes, no control
/// characters), borrowed when it has no escapes, else unescaped into one
/// string of the right size.
///
/// serde_json would unescape into its scratch buffer, growing it step by
/// step, and then copy it out: for a message body (a JSON document inside
/// a string, every quote escaped) that is most of the cost of reading it.
/// `None` where serde_json would refuse the string too (a lone surrogate).
pub(crate) fn unescape(raw: &str) -> Option<Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    let bytes = inner.as_bytes();
    let Some(first) = memchr::memchr(b'\\', bytes) else {
        return Some(Cow::Borrowed(inner));
    };
    // The runs between escapes are a few bytes each (every quote of a JSON
    // body is escaped): too short for a copy call per run to pay. Eight
    // bytes are copied at a time, whatever they hold, and the output moves
    // on only up to the first backslash among them; the eight spare bytes
    // at the end of `out` take the overshoot.
    let n = bytes.len();
    // Not `vec![0; n + 8]`: that asks for zeroed memory (`calloc`), which
    // glibc serves past its per-thread cache. Measured on the order app,
    // 10 000 records: 11.6 M more instructions and 100 more page faults
    // than `malloc` and a `memset`.
    #[allow(
        clippy::slow_vector_initialization,
        reason = "calloc measured slower here, see above"
    )]
    let mut out = Vec::with_capacity(n + 8);
    out.resize(n + 8, 0u8);
    out[..first].copy_from_slice(&bytes[..first]);
    let (mut i, mut j) = (first, first);
    while i < n {
        if bytes[i] != b'\\' {
            if let Some(chunk) = bytes.get(i..i + 8) {
                out[j..j + 8].copy_from_slice(chunk);
                let run = first_backslash(chunk);
                i += run;
                j += run;
            } else {
                out[j] = bytes[i];
                i += 1;
                j += 1;
            }
            continue;
        }
        let esc = *bytes.get(i + 1)?;
        i += 2;
        let simple = match esc {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let (c, used) = unicode_escape(inner.get(i..)?)?;
                let len = c.encode_utf8(&mut out[j..j + 4]).len();
                j += len;
                i += used;
                continue;
            }
            _ => return None,
        };
        out[j] = simple;
        j += 1;
    }
    out.truncate(j);
    // Runs were copied whole between escapes, and escapes give whole
    // characters: this is UTF-8, checked again (ASCII goes fast).
    String::from_utf8(out).ok().map(Cow::Owned)
}

/// How many of the eight bytes of `chunk` come before its first `\\` (8
/// if none).
fn first_backslash(chunk: &[u8]) -> usize {
    let mut word = [0; 8];
    word.copy_from_slice(chunk);
    let hits = bytes_below(u64::from_le_bytes(word) ^ splat(b'\\'), 1);
    (hits.trailing_zeros() / 8) as usize
}

/// Whether `a` and `b` hold the same bytes, compared in place: a word (or
/// two overlapping ones) at a time for the short keys and route values the
/// scanners compare, where a call to `memcmp` through the dynamic linker's
/// table costs more than the comparison (18 per SQS record on the order
/// app's workload).
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    fn bytes<const N: usize>(s: &[u8], at: usize) -> Option<[u8; N]> {
        s.get(at..at + N)?.try_into().ok()
    }
    let word = |s: &[u8], at| bytes::<8>(s, at).map(u64::from_le_bytes);
    let half = |s: &[u8], at| bytes::<4>(s, at).map(u32::from_le_bytes);
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0..4 => a.iter().zip(b).all(|(x, y)| x == y),
        4..8 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        _ => {
            let mut at = 0;
            while at + 8 < n {
                if word(a, at) != word(b, at) {
                    return false;
                }
                at += 8;
            }
            word(a, n - 8) == word(b, n - 8)
        }
    }
}

/// `byte` in each of a word's eight bytes.
pub(crate) const fn splat(byte: u8) -> u64 {
    0x0101_0101_0101_0101 * byte as u64
}

/// The high bit of each byte of `w` that is below `n` (at most `0x80`)
/// set. Only the lowest byte flagged is sure to be exact (a borrow runs
/// upwards), which is all a search for the first match needs.
pub(crate) const fn bytes_below(w: u64, n: u8) -> u64 {
    w.wrapping_sub(splat(n)) & !w & splat(0x80)
}

/// The character of a `\u` escape whose hex digits `text` starts with, and
/// how many bytes of `text` it took (4, or 10 for a surrogate pair).
fn unicode_escape(text: &str) -> Option<(char, usize)> {
    let hex = |s: &str| -> Option<u32> {
        let digits = s.get(..4)?;
        digits
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
            .then(|| u32::from_str_radix(digits, 16).ok())
            .flatten()
    };
    let high = hex(text)?;
    match high {
        0xD800..=0xDBFF => {
            let low = text.get(4..)?.strip_prefix("\\u").and_then(hex)?;
            if !(0xDC00..=0xDFFF).contains(&low) {
                return None;
            }
            let c = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
            Some((char::from_u32(c)?, 10))
        }
        0xDC00..=0xDFFF => None,
        c => Some((char::from_u32(c)?, 4)),
    }
}

/// A JSON string, borrowed from the input when it has no escapes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> de::Deserialize<'de> for Text<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// A string field read as [`Text`] through [`unescape`]: borrowed from the
/// input as a raw literal, unescaped (if it has escapes) into one string
/// of the right size. `null` is `None`; any other value than a string is
/// an error, as for `Option<String>`.
pub(crate) fn optional_text<'de: 'a, 'a, D: de::Deserializer<'de>>(
    d: D,
) -> Result<Option<Text<'a>>, D::Error> {
    let raw = <&'de RawValue as de::Deserialize<'de>>::deserialize(d)?;
    let text = raw.get();
    if text == "null" {
        return Ok(None);
    }
    if !text.starts_with('"') {
        return Err(de::Error::invalid_type(
            de::Unexpected::Other("a JSON value that is not a string"),
            &"a string",
        ));
    }
    unescape(text)
        .map(|t| Some(Text(t)))
        .ok_or_else(|| de::Error::custom("invalid escape in a string"))
}

struct ProbeSeed<'w, 'o, 'de, S> {
    wanted: &'w [S],
    out: &'o mut [Option<&'de RawValue>],
}

impl<'de, S: AsRef<str>> DeserializeSeed<'de> for ProbeSeed<'_, '_, 'de, S> {
    type Value = Option<()>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, S: AsRef<str>> Visitor<'de> for ProbeSeed<'_, '_, 'de, S> {
    type Value = Option<()>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let out = self.out;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match self
                .wanted
                .iter()
                .position(|w| w.as_ref() == key.0.as_ref())
            {
                Some(i) => out[i] = Some(map.next_value::<&'de RawValue>()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(()))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A map key, borrowed when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

thread_local! {
    /// The buffer JSON is written into ([`with_json`]), kept between calls:
    /// an output or a stored result costs no allocation beyond its copy.
    /// serde_json's writes to a `Vec` are inlined; a hand-written
    /// `io::Write` cost a call and its bounds checks per fragment.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Scratch buffers larger than this are not kept (one huge output should
/// not pin its memory for the life of the thread).
pub(crate) const SCRATCH_KEEP: usize = 16 * 1024;

/// `value` serialized to JSON in this thread's scratch buffer, handed to
/// `f` (to copy or to store without an allocation of its own).
pub(crate) fn with_json<T: Serialize + ?Sized, R>(
    value: &T,
    f: impl FnOnce(&str) -> R,
) -> Result<R, serde_json::Error> {
    // Taken out of its cell, so a `Serialize` impl (or `f`) that serializes
    // something of its own gets a buffer of its own.
    let mut buf = SCRATCH.with(Cell::take);
    buf.clear();
    let out = serde_json::to_writer(&mut buf, value).and_then(|()| {
        // serde_json writes UTF-8; checked rather than assumed (no `unsafe`
        // in this crate).
        let text = std::str::from_utf8(&buf).map_err(serde::ser::Error::custom)?;
        Ok(f(text))
    });
    if buf.capacity() <= SCRATCH_KEEP {
        SCRATCH.with(|c| c.set(buf));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_agrees_with_slice_equality() {
        // Every length up to three words, equal and with one byte changed
        // at each place, and against every other length.
        let base: Vec<u8> = (b'a'..=b'z').cycle().take(24).collect();
        for n in 0..=24 {
            let a = &base[..n];
            assert!(same_bytes(a, a), "{n} bytes, equal");
            for at in 0..n {
                let mut b = a.to_vec();
                b[at] ^= 0x20;
                assert!(!same_bytes(a, &b), "{n} bytes, byte {at} differs");
            }
            for m in 0..=24 {
                assert_eq!(same_bytes(a, &base[..m]), n == m, "{n} against {m} bytes");
            }
        }
    }

    #[test]
    fn picks_wanted_fields_only() {
        let json = r#"{"a": 1, "type": "NOTIFICATION", "nested": {"type": "x"}, "b": [1,2]}"#;
        let f = probe(json, &["type", "missing"]).unwrap().unwrap();
        assert_eq!(raw_str(f[0].unwrap()).unwrap(), "NOTIFICATION");
        assert!(f[1].is_none());
    }

    #[test]
    fn escaped_values_and_keys() {
        let json = r#"{"ty\u0070e": "a\"b"}"#;
        let f = probe(json, &["type"]).unwrap().unwrap();
        assert_eq!(raw_str(f[0].unwrap()).unwrap(), "a\"b");
    }

    #[test]
    fn strings_along_a_path() {
        let json = r#"{"s3": {"bucket": {"name": "in\u0062ox"}, "size": 3}}"#;
        assert_eq!(
            str_at(json, &["s3", "bucket", "name"]).as_deref(),
            Some("inbox")
        );
        assert_eq!(str_at(json, &["s3", "size"]), None);
        assert_eq!(str_at(json, &["s3", "bucket", "name", "x"]), None);
        assert_eq!(str_at("[1]", &["s3"]), None);
        assert_eq!(str_at("{bad", &["s3"]), None);
    }

    #[test]
    fn unescaping_agrees_with_serde_json() {
        let cases = [
            r#""""#,
            r#""plain""#,
            r#""{\"type\": \"A\", \"n\": 1}""#,
            r#""a\\b\/c\b\f\n\r\t""#,
            r#""\u00e9\u20AC\ud83d\ude00 end""#,
            r#""tail\"""#,
            r#""\"head""#,
            r#""é ünï \u0041""#,
            r#""\ud83d""#,
            r#""\ude00""#,
            r#""\ud83d\u0041""#,
            r#""\ud83dx""#,
            r#""\u12""#,
        ];
        for raw in cases {
            let ours = unescape(raw).map(Cow::into_owned);
            let theirs = serde_json::from_str::<String>(raw).ok();
            assert_eq!(ours, theirs, "{raw}");
        }
        assert!(matches!(
            unescape(r#""plain""#),
            Some(Cow::Borrowed("plain"))
        ));
        assert_eq!(unescape("plain"), None, "not a literal");
    }

    /// Runs of every length around every kind of escape, so each one falls
    /// at every place of an eight-byte chunk, and multi-byte characters
    /// cross chunk edges.
    #[test]
    fn unescaping_agrees_with_serde_json_at_every_offset() {
        let pieces = [
            "a",
            "bc",
            "défg",
            "€",
            "😀",
            r#"\""#,
            r"\\",
            r"\/",
            r"\n",
            r"\t",
            r"\u00e9",
            r"\u20ac",
            r"\ud83d\ude00",
            r"\u0041",
        ];
        // A fixed linear congruential sequence: the same cases every run.
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: usize| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) as usize % n
        };
        for _ in 0..2_000 {
            let mut raw = String::from("\"");
            for _ in 0..next(24) {
                raw.push_str(pieces[next(pieces.len())]);
            }
            raw.push('"');
            let theirs: String = serde_json::from_str(&raw).expect("a valid literal");
            assert_eq!(unescape(&raw).as_deref(), Some(theirs.as_str()), "{raw}");
        }
    }

    #[test]
    fn non_objects_and_garbage() {
        assert!(probe("[1,2]", &["type"]).unwrap().is_none());
        assert!(probe("\"s\"", &["type"]).unwrap().is_none());
        assert!(probe(r#"{"type": "#, &["type"]).is_err());
        assert!(probe(r#"{"a":1} trailing"#, &["type"]).is_err());
        assert!(raw_str(RawValue::from_string("12".into()).unwrap().as_ref()).is_none());
    }
}
