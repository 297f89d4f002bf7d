//! Amazon S3 event notifications: a record is one object change.
//!
//! - Record id: `bucket/key#sequencer` (the key as S3 sent it, still
//!   encoded), unique per object change.
//! - Order key: none.
//! - Response: none per record; a failure fails the invocation.
//!
//! The object itself, with its decoded key, is [`crate::s3::S3Object`].

pub use aws_lambda_events::event::s3::{S3Event, S3EventRecord};

use super::{Identity, Spec};
use crate::envelope::Source;
use crate::json::str_at;

pub(super) const SPEC: Spec = Spec {
    source: Source::S3,
    event_source: "aws:s3",
    shape: &["s3"],
};

fn write_id(bucket: &str, key: &str, sequencer: &str, out: &mut String) {
    for part in [bucket, "/", key, "#", sequencer] {
        out.push_str(part);
    }
}

fn id(bucket: &str, key: &str, sequencer: &str) -> String {
    let mut out = String::with_capacity(bucket.len() + key.len() + sequencer.len() + 2);
    write_id(bucket, key, sequencer, &mut out);
    out
}

/// Appends the record id of a typed S3 record to `out` (see the
/// [module docs](self)).
pub fn write_record_id(r: &S3EventRecord, out: &mut String) {
    let o = &r.s3.object;
    write_id(
        r.s3.bucket.name.as_deref().unwrap_or(""),
        o.key.as_deref().unwrap_or(""),
        o.sequencer.as_deref().unwrap_or(""),
        out,
    );
}

/// The identity of a typed S3 record. See the [module docs](self).
pub fn identity(r: &S3EventRecord) -> Identity {
    let mut id = String::new();
    write_record_id(r, &mut id);
    Identity::new(id, Source::S3)
}

pub(super) fn identify_raw(raw: &str) -> Identity {
    let part = |p: &[&str]| str_at(raw, p).unwrap_or_default();
    Identity::new(
        id(
            &part(&["s3", "bucket", "name"]),
            &part(&["s3", "object", "key"]),
            &part(&["s3", "object", "sequencer"]),
        ),
        Source::S3,
    )
}
