//! Splitting a batch payload into its records in one quick pass.
//!
//! A batch (`{"Records": [...]}`) is most of what a function receives, and
//! every record is decoded once later anyway. So the split does not decode:
//! it walks the bytes, skips strings with `memchr` and matches brackets, and
//! hands out each record as the text it is in the payload. That is several
//! times cheaper than a full JSON pass (which would check every record, and
//! then the record's decoder would check it again).
//!
//! What it guarantees, when it answers:
//! - the top level is one object, its keys plain strings, every value but
//!   `Records`' elements valid JSON (checked with serde_json), nothing after it;
//! - `Records` is an array, and each element's extent is exact: strings are
//!   skipped as JSON defines them and brackets match by kind. What lies
//!   inside a record is left to its decoder, so a record that is not valid
//!   JSON fails alone, like any record of the wrong shape.
//!
//! Anything else (no `Records`, escaped keys, unbalanced brackets, a syntax
//! error at the top level) gets `None`, and the caller reads the payload
//! with serde_json, which gives the exact answer or error.

use serde::de::IgnoredAny;

/// The elements of the top-level `Records` array of `text`, as raw text,
/// or `None` when the payload is not a plain batch object (see the
/// [module docs](self)). A repeated `Records` key: the last one counts.
#[cfg(test)]
pub(crate) fn records(text: &str) -> Option<Vec<&str>> {
    records_with(text, &mut |_| None::<((), usize)>).map(|(records, _)| records)
}

/// What [`records_with`] returns: each record's text and, index for index,
/// what the decoder read from it (`None` where it declined; the second list
/// is shorter, or empty, when the last records were declined).
pub(crate) type Split<'a, T> = (Vec<&'a str>, Vec<Option<T>>);

/// Like `records`, with each record first offered to `decode`, so that the
/// records can be split and decoded in one pass.
///
/// `decode` gets the payload from the start of the record on, and returns
/// what it read and the record's length in bytes; where it declines
/// (`None`), the record is split on its brackets as usual. What it accepts
/// must be one whole JSON value (e.g. what a `serde_json::StreamDeserializer`
/// read), so that its extent is the one the bracket matching would find.
pub(crate) fn records_with<'a, T>(
    text: &'a str,
    decode: &mut dyn FnMut(&'a str) -> Option<(T, usize)>,
) -> Option<Split<'a, T>> {
    let mut records = None;
    let mut c = Cursor { text, pos: 0 };
    let members = c.object(|c, key| {
        if key == "Records" {
            records = Some(c.array(decode)?);
        } else {
            serde_json::from_str::<IgnoredAny>(c.value()?).ok()?;
        }
        Some(())
    })?;
    // An empty object is no batch: the full parser says what it is.
    (members > 0).then_some(())?;
    records
}

/// The text of the JSON value `text` starts with, by its brackets and
/// strings alone (see the [module docs](self)).
pub(crate) fn first_value(text: &str) -> Option<&str> {
    Cursor { text, pos: 0 }.value()
}

/// The text of the top-level fields of the JSON object `text` that are
/// named in `wanted`, into `out` (as long as `wanted`, all `None`; a
/// repeated key: the last one counts), found by strings and brackets alone.
///
/// `None` when `text` is not plainly an object: an escaped key, a
/// delimiter out of place, anything after it. This is no validation: a
/// value is only skipped, so `{"a": tru}` is answered. The caller relies
/// on what it reads next (a full decode of the same text) to find out,
/// and takes the validating path when that fails.
pub(crate) fn object_fields<'a, S: AsRef<str>>(
    text: &'a str,
    wanted: &[S],
    out: &mut [Option<&'a str>],
) -> Option<()> {
    debug_assert_eq!(wanted.len(), out.len());
    let mut c = Cursor { text, pos: 0 };
    c.object(|c, key| {
        let value = c.value()?;
        if let Some(i) = wanted
            .iter()
            .position(|w| super::same_bytes(w.as_ref().as_bytes(), key.as_bytes()))
        {
            out[i] = Some(value);
        }
        Some(())
    })
    .map(|_| ())
}

/// The first `a` or `b` in `bytes`: a plain loop over the first bytes
/// (keys and most values are short, where `memchr`'s setup costs more
/// than the search), `memchr` past them.
pub(crate) fn find2(a: u8, b: u8, bytes: &[u8]) -> Option<usize> {
    const SHORT: usize = 24;
    let head = &bytes[..bytes.len().min(SHORT)];
    if let Some(at) = head.iter().position(|&c| c == a || c == b) {
        return Some(at);
    }
    if bytes.len() <= SHORT {
        return None;
    }
    memchr::memchr2(a, b, &bytes[SHORT..]).map(|at| at + SHORT)
}

struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn expect(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.pos += 1;
        }
    }

    /// The whole of `text` as one object, `member` called with the cursor
    /// on each value and its key (which has no escapes): how many members
    /// there are, or `None` when `text` is not plainly an object or
    /// `member` says `None`.
    fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, &'a str) -> Option<()>,
    ) -> Option<usize> {
        self.ws();
        self.expect(b'{')?;
        self.ws();
        let mut members = 0;
        if self.peek()? == b'}' {
            self.pos += 1;
        } else {
            loop {
                let key = self.key()?;
                self.ws();
                self.expect(b':')?;
                self.ws();
                member(self, key)?;
                members += 1;
                self.ws();
                match self.next()? {
                    b',' => self.ws(),
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        self.ws();
        (self.pos == self.text.len()).then_some(members)
    }

    /// A key without escapes, the cursor on its opening quote.
    fn key(&mut self) -> Option<&'a str> {
        let start = self.pos + 1;
        self.string()?;
        let key = self.text.get(start..self.pos - 1)?;
        (!key.contains('\\')).then_some(key)
    }

    /// Skips a string, the cursor on its opening quote.
    fn string(&mut self) -> Option<()> {
        self.expect(b'"')?;
        loop {
            let rest = self.bytes().get(self.pos..)?;
            let at = find2(b'"', b'\\', rest)?;
            self.pos += at + 1;
            if rest[at] == b'"' {
                return Some(());
            }
            // An escape: whatever follows the backslash is part of it.
            self.pos += 1;
        }
    }

    /// Skips one value and returns its text. Containers are matched by
    /// bracket kind; scalars run to the next delimiter.
    fn value(&mut self) -> Option<&'a str> {
        let start = self.pos;
        match self.peek()? {
            b'{' | b'[' => self.container()?,
            b'"' => self.string()?,
            b'}' | b']' | b',' | b':' => return None,
            _ => {
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
                ) {
                    self.pos += 1;
                }
            }
        }
        self.text.get(start..self.pos)
    }

    fn container(&mut self) -> Option<()> {
        let mut open = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.string()?;
                    continue;
                }
                b @ (b'{' | b'[') => open.push(b),
                b'}' => (open.pop()? == b'{').then_some(())?,
                b']' => (open.pop()? == b'[').then_some(())?,
                _ => {}
            }
            self.pos += 1;
            if open.is_empty() {
                return Some(());
            }
        }
    }

    /// The elements of an array, the cursor on its `[`, each offered to
    /// `decode` first. Scalar elements are checked here (they are no record
    /// of any source, but must be JSON).
    fn array<T>(
        &mut self,
        decode: &mut dyn FnMut(&'a str) -> Option<(T, usize)>,
    ) -> Option<Split<'a, T>> {
        self.expect(b'[')?;
        self.ws();
        let (mut out, mut decoded) = (Vec::new(), Vec::new());
        if self.peek()? == b']' {
            self.pos += 1;
            return Some((out, decoded));
        }
        loop {
            let rest = self.text.get(self.pos..)?;
            let (value, read) = match decode(rest) {
                Some((t, len)) => {
                    self.pos += len;
                    (rest.get(..len)?, Some(t))
                }
                None => {
                    let value = self.value()?;
                    if !value.starts_with(['{', '[']) {
                        serde_json::from_str::<IgnoredAny>(value).ok()?;
                    }
                    (value, None)
                }
            };
            if out.is_empty() {
                // Both lists take their size once, from the first record's
                // (records of a batch are much alike): grown by doubling,
                // a large batch would touch about twice its memory.
                let n = estimated_len(self.text.len() - self.pos, value.len());
                out.reserve(n);
                if read.is_some() {
                    decoded.reserve(n);
                }
            }
            // Nothing is kept for the records before the first decoded one,
            // nor for any when `decode` declines them all.
            if read.is_some() || !decoded.is_empty() {
                decoded.resize_with(out.len(), || None);
                decoded.push(read);
            }
            out.push(value);
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                b']' => return Some((out, decoded)),
                _ => return None,
            }
        }
    }
}

/// How many elements an array is likely to hold, `rest` bytes of it left
/// after a first element of `first` bytes: a quarter more than as many
/// elements as large (capacity reserved but never written costs no memory),
/// and at most one per 128 bytes left, so that a tiny first element does not
/// reserve much (a smaller record is unusual; the lists grow if need be).
fn estimated_len(rest: usize, first: usize) -> usize {
    let like_first = rest / (first + 1);
    (like_first + like_first / 4 + 1).min(rest / 128 + 1)
}

#[cfg(test)]
mod tests {
    use super::{estimated_len, object_fields, records};

    #[test]
    fn a_batch_is_sized_from_its_first_record() {
        // 10 000 records of 660 bytes and their commas: 9 999 left.
        assert_eq!(estimated_len(9_999 * 661 + 2, 660), 12_499);
        // A tiny first record reserves one element per 128 bytes at most.
        assert_eq!(estimated_len(6_000_000, 2), 46_876);
        assert_eq!(estimated_len(0, 660), 1);
        // Whatever the estimate, every record is kept.
        let text = format!(r#"{{"Records": [1, "{}", {{}}, []]}}"#, "x".repeat(5000));
        assert_eq!(records(&text).unwrap().len(), 4);
    }

    #[test]
    fn splits_records_exactly() {
        let text = r#" { "x": [1, {"a": "]"}], "Records" : [ {"a":"b\"}]"} , [1,[2]] ,"s", 3 , null ] , "y": "z" } "#;
        assert_eq!(
            records(text).unwrap(),
            [r#"{"a":"b\"}]"}"#, "[1,[2]]", r#""s""#, "3", "null"]
        );
        assert_eq!(records(r#"{"Records":[]}"#).unwrap(), Vec::<&str>::new());
        assert_eq!(
            records(r#"{"Records":[{"a":"\\"}]}"#).unwrap(),
            [r#"{"a":"\\"}"#]
        );
    }

    #[test]
    fn the_last_records_key_counts() {
        assert_eq!(
            records(r#"{"Records":[1],"Records":[{}]}"#).unwrap(),
            ["{}"]
        );
    }

    #[test]
    fn a_record_that_is_not_json_inside_is_still_one_record() {
        assert_eq!(
            records(r#"{"Records":[{"a" 1},{"b":tru}]}"#).unwrap(),
            [r#"{"a" 1}"#, r#"{"b":tru}"#]
        );
    }

    #[test]
    fn anything_unsure_is_left_to_the_full_parser() {
        for text in [
            "",
            "[]",
            "{}",
            r#"{"type":"x"}"#,
            r#"{"Records":{}}"#,
            r#"{"Records":[{]}"#,
            r#"{"Records":[{"a":1}}"#,
            r#"{"Records":[{"a":1} {"b":2}]}"#,
            r#"{"Records":[tru]}"#,
            r#"{"Records":[1,]}"#,
            r#"{"Records":[]} x"#,
            r#"{"Records":[], "a": tru}"#,
            r#"{"Rec\u006frds":[]}"#,
            r#"{"Records":[{"a":"unterminated}]}"#,
            r#"{"Records":["#,
        ] {
            assert_eq!(records(text), None, "{text}");
        }
    }

    #[test]
    fn top_level_fields_are_found_by_their_brackets() {
        let body = r#" {"nested": {"type": "inner", "x": [1, "]"]}, "type" : "OUTER", "n": 12 } "#;
        let mut out = [None; 3];
        object_fields(body, &["type", "n", "missing"], &mut out).unwrap();
        assert_eq!(out, [Some(r#""OUTER""#), Some("12"), None]);
        let mut out = [None];
        object_fields(r#"{"type":"a","type":"b"}"#, &["type"], &mut out).unwrap();
        assert_eq!(out, [Some(r#""b""#)], "the last repeated key counts");
        object_fields("{}", &["type"], &mut out).unwrap();
        for not_plain in [
            r#"{"ty\u0070e": "a"}"#,
            r#"{"type" "a"}"#,
            r#"{"type": "a"} x"#,
            r#"["type"]"#,
            r#"{"type": "a""#,
            "",
        ] {
            assert_eq!(
                object_fields(not_plain, &["type"], &mut [None]),
                None,
                "{not_plain}"
            );
        }
    }

    #[test]
    fn deep_nesting_needs_no_stack() {
        let deep = format!(
            r#"{{"Records":[{}{}]}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(records(&deep).unwrap().len(), 1);
    }
}
