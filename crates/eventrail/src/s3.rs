//! S3 object notifications as typed events, and S3's key encoding.
//!
//! S3 sends object keys in event notifications URL-encoded the way HTML forms
//! are: a space becomes `+`, other reserved bytes `%XX`. [`decode_key`] undoes
//! exactly that and rejects keys that are not valid encodings (a stray `%`, an
//! escape that is not UTF-8) instead of guessing; [`encode_key`] produces what
//! S3 would send.
//!
//! ```
//! use eventrail::s3::{decode_key, encode_key};
//!
//! assert_eq!(decode_key("imports/csv/my+file%281%29.csv").unwrap(), "imports/csv/my file(1).csv");
//! assert_eq!(encode_key("a b+c.csv"), "a+b%2Bc.csv");
//! assert!(decode_key("bad%zzkey").is_err());
//! ```

use std::fmt;

use aws_lambda_events::event::s3::S3EventRecord;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};

use crate::error::RecordError;

/// Bytes S3 leaves as they are in notification keys.
const KEY_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'*')
    .remove(b'/');

/// Why a key could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyDecodeError {
    key: String,
    reason: &'static str,
}

impl fmt::Display for KeyDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S3 key {:?} does not decode: {}", self.key, self.reason)
    }
}

impl std::error::Error for KeyDecodeError {}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes a key as S3 encodes it in event notifications (`+` is a space,
/// `%XX` an escaped byte). A malformed escape or a result that is not UTF-8 is
/// an error.
pub fn decode_key(encoded: &str) -> Result<String, KeyDecodeError> {
    let err = |reason| KeyDecodeError {
        key: encoded.to_owned(),
        reason,
    };
    let bytes = encoded.as_bytes();
    if !bytes.iter().any(|b| *b == b'+' || *b == b'%') {
        return Ok(encoded.to_owned());
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let (Some(h), Some(l)) = (
                    bytes.get(i + 1).copied().and_then(hex),
                    bytes.get(i + 2).copied().and_then(hex),
                ) else {
                    return Err(err("`%` is not followed by two hex digits"));
                };
                out.push(h << 4 | l);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| err("the decoded bytes are not UTF-8"))
}

/// Encodes a key as S3 does in event notifications.
pub fn encode_key(key: &str) -> String {
    utf8_percent_encode(key, KEY_SET)
        .to_string()
        .replace("%20", "+")
}

/// An S3 object change, with the key decoded: the payload of events the
/// router builds from S3 notifications (`E: From<S3Object>`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct S3Object {
    /// The bucket name.
    pub bucket: String,
    /// The object key, decoded.
    pub key: String,
    /// The object size in bytes (absent for deletions).
    pub size: Option<i64>,
    /// The notification's event name, such as `ObjectCreated:Put`.
    pub event_name: String,
    /// The object's ETag.
    pub e_tag: Option<String>,
    /// The version id, for versioned buckets.
    pub version_id: Option<String>,
    /// The sequencer, which orders changes to one key.
    pub sequencer: Option<String>,
    /// The region.
    pub region: Option<String>,
}

impl S3Object {
    /// Reads a notification record, decoding the key. A missing key, a key
    /// that does not decode or a negative size is bad input.
    pub fn from_record(r: &S3EventRecord) -> Result<Self, RecordError> {
        let o = &r.s3.object;
        let raw = o
            .key
            .as_deref()
            .ok_or_else(|| RecordError::bad_input("S3 record has no object key"))?;
        let key = decode_key(raw)
            .map_err(|e| RecordError::bad_input("S3 object key does not decode").with_source(e))?;
        if let Some(size) = o.size.filter(|s| *s < 0) {
            return Err(RecordError::bad_input(format!(
                "S3 object size {size} is negative"
            )));
        }
        Ok(Self {
            bucket: r.s3.bucket.name.clone().unwrap_or_default(),
            key,
            size: o.size,
            event_name: r.event_name.clone().unwrap_or_default(),
            e_tag: o.e_tag.clone(),
            version_id: o.version_id.clone(),
            sequencer: o.sequencer.clone(),
            region: r.aws_region.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_escapes() {
        assert_eq!(decode_key("a+b%2Bc").unwrap(), "a b+c");
        assert_eq!(decode_key("caf%C3%A9").unwrap(), "café");
        assert_eq!(decode_key("plain/key.txt").unwrap(), "plain/key.txt");
    }

    #[test]
    fn rejects_bad_escapes() {
        assert!(decode_key("x%").is_err());
        assert!(decode_key("x%4").is_err());
        assert!(decode_key("x%g1").is_err());
        assert!(decode_key("x%FF").is_err(), "0xFF alone is not UTF-8");
    }

    #[test]
    fn a_negative_size_is_bad_input() {
        let record = |size: Option<i64>| {
            let mut r = S3EventRecord::default();
            r.s3.object.key = Some("a.csv".into());
            r.s3.object.size = size;
            r
        };
        let err = S3Object::from_record(&record(Some(-1))).unwrap_err();
        assert!(err.is_bad_input());
        assert_eq!(err.to_string(), "S3 object size -1 is negative");
        assert_eq!(S3Object::from_record(&record(None)).unwrap().size, None);
        assert_eq!(
            S3Object::from_record(&record(Some(0))).unwrap().size,
            Some(0)
        );
    }

    #[test]
    fn round_trips() {
        for k in [
            "a b/c+d%e.csv",
            "日本語/ファイル 1.pdf",
            "~*_-.",
            "100% sure?",
        ] {
            assert_eq!(decode_key(&encode_key(k)).unwrap(), k);
        }
    }
}
