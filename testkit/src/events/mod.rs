//! One-line builders for the events AWS delivers to Lambda.
//!
//! `aws_lambda_events` types are `#[non_exhaustive]`, so tests cannot write
//! them as struct literals. These builders produce the JSON AWS sends, with
//! every field a real event has (realistic, deterministic values for what the
//! test does not set); [`TestEvent::to_json`] gives that JSON and each builder
//! also has a `typed()` that deserializes it into the `aws_lambda_events`
//! type. The crate's round-trip tests check each builder against an event of
//! the real shape.
//!
//! | module | builders |
//! |---|---|
//! | [`sqs`] | [`message`](sqs::message), [`fifo`](sqs::fifo), [`batch`](sqs::batch) |
//! | [`sns`] | [`notification`](sns::notification), [`batch`](sns::batch) |
//! | [`s3`] | [`put`](s3::put), [`delete`](s3::delete), [`batch`](s3::batch) |
//! | [`dynamodb`] | [`insert`](dynamodb::insert), [`modify`](dynamodb::modify), [`remove`](dynamodb::remove), [`batch`](dynamodb::batch) |
//! | [`step_functions`] | [`task`](step_functions::task), [`input`](step_functions::input) |
//! | [`eventbridge`] | [`event`](eventbridge::event) |
//! | [`firehose`] | [`record`](firehose::record), [`invocation`](firehose::invocation) (Direct PUT, Kinesis or MSK) |
//! | [`kafka`] | [`record`](kafka::record), [`batch`](kafka::batch) (MSK or self-managed) |
//! | [`s3_batch`] | [`task`](s3_batch::task), [`invocation`](s3_batch::invocation) (schema 1.0 or 2.0) |
//! | [`lambda`] | [`context`](lambda::context): request id and deadline |
//!
//! Records built without an explicit id get one from their position; a
//! [`Redeliver`] batch (SQS, DynamoDB Streams) gives back exactly the
//! records an invocation failed, or any subset, with the ids, timestamps
//! and sequence numbers of their first delivery and, for SQS,
//! `ApproximateReceiveCount` one higher (see
//! [`TestApp::redeliver_failed`](crate::TestApp::redeliver_failed)):
//!
//! ```
//! use eventrail_testkit::events::{sqs, Redeliver, TestEvent};
//!
//! let batch = sqs::batch([sqs::message("a"), sqs::message("b"), sqs::message("c")]);
//! let ids = batch.message_ids();
//! let again = batch.redeliver([&ids[2]]).to_json();
//! assert_eq!(again["Records"][0]["messageId"], ids[2].as_str());
//! assert_eq!(again["Records"][0]["attributes"]["ApproximateReceiveCount"], "2");
//! ```
//!
//! ```
//! use eventrail_testkit::events::{sqs, TestEvent};
//!
//! let batch = sqs::batch([
//!     sqs::message(r#"{"type":"NOTIFICATION"}"#),
//!     sqs::message("{not json").id("poison"),
//! ]);
//! let json = batch.to_json();
//! assert_eq!(json["Records"][1]["messageId"], "poison");
//! assert_eq!(batch.typed().records.len(), 2);
//! ```

pub mod dynamodb;
pub mod eventbridge;
pub mod firehose;
pub mod kafka;
pub mod lambda;
pub mod s3;
pub mod s3_batch;
pub mod sns;
pub mod sqs;
pub mod step_functions;

use serde_json::Value;

/// The region events come from unless a builder is told otherwise.
pub const REGION: &str = "us-east-1";
/// The account id events carry unless a builder is told otherwise.
pub const ACCOUNT: &str = "123456789012";
/// The time every event carries unless a builder is told otherwise:
/// 2026-01-01T00:00:00Z, in milliseconds since the Unix epoch.
pub const EPOCH_MS: u64 = 1_767_225_600_000;
/// [`EPOCH_MS`] as an ISO 8601 timestamp.
pub const EPOCH_ISO: &str = "2026-01-01T00:00:00.000Z";

/// An event as the Lambda runtime delivers it: JSON.
///
/// Implemented by every builder, by `serde_json::Value` (for hand-written
/// events) and by references to both.
pub trait TestEvent {
    /// The event's JSON.
    fn to_json(&self) -> Value;

    /// The event's JSON as bytes, as the runtime hands them to the function.
    fn to_bytes(&self) -> Vec<u8> {
        // A `Value` always serializes.
        serde_json::to_vec(&self.to_json()).unwrap_or_default()
    }
}

impl TestEvent for Value {
    fn to_json(&self) -> Value {
        self.clone()
    }
}

impl<T: TestEvent + ?Sized> TestEvent for &T {
    fn to_json(&self) -> Value {
        (**self).to_json()
    }
}

/// A batch whose records can be delivered again, as the source redelivers
/// them: the same record ids, whatever their position in the new batch, and
/// the source's receive count (SQS `ApproximateReceiveCount`) one higher.
/// See the [module docs](self) for an example.
pub trait Redeliver: TestEvent + Sized {
    /// The records named by `ids` (record ids, as
    /// [`Outcome::failed`](crate::Outcome::failed) gives them), in batch
    /// order, delivered once more.
    ///
    /// # Panics
    ///
    /// If an id names no record of the batch (a mistake in the test),
    /// listing the ids it does not know.
    #[track_caller]
    fn redeliver<S: AsRef<str>>(&self, ids: impl IntoIterator<Item = S>) -> Self;

    /// The records `outcome` failed, delivered once more: what the source
    /// does after a batch response that names them.
    #[track_caller]
    fn redeliver_failed(&self, outcome: &crate::Outcome) -> Self {
        self.redeliver(outcome.failed())
    }
}

/// The items whose id (by `id`) is among `ids`, in their order; panics
/// naming the ids no item has.
#[track_caller]
pub(crate) fn pick<T, S: AsRef<str>>(
    items: impl Iterator<Item = T>,
    id: impl Fn(&T) -> String,
    ids: impl IntoIterator<Item = S>,
    what: &str,
) -> Vec<T> {
    let mut wanted: Vec<String> = ids.into_iter().map(|s| s.as_ref().to_owned()).collect();
    let picked: Vec<T> = items
        .filter(|item| {
            let item_id = id(item);
            match wanted.iter().position(|w| *w == item_id) {
                Some(at) => {
                    wanted.swap_remove(at);
                    true
                }
                None => false,
            }
        })
        .collect();
    if !wanted.is_empty() {
        panic!("cannot redeliver {wanted:?}: no record of the {what} has that id");
    }
    picked
}

/// Deserializes builder output into its `aws_lambda_events` type.
///
/// Panics with the serde error if it does not, which would be a bug in the
/// builder: that is what the round-trip tests rule out.
pub(crate) fn typed<T: serde::de::DeserializeOwned>(json: Value, what: &str) -> T {
    match serde_json::from_value(json) {
        Ok(t) => t,
        Err(e) => panic!("the testkit built a {what} that does not deserialize: {e}"),
    }
}

/// Lower-case hex MD5 of `data`.
pub(crate) fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A deterministic, UUID-shaped id.
pub(crate) fn uuid(tag: u16, n: u64) -> String {
    crate::fakes::fake_id(tag, n)
}

/// An ISO 8601 timestamp `offset_ms` after [`EPOCH_MS`], as AWS writes them.
pub(crate) fn iso_time(offset_ms: u64) -> String {
    // Civil-from-days (proleptic Gregorian), for the test epoch onward.
    let ms = EPOCH_MS + offset_ms;
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_matches_the_reference_vectors() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            md5_hex(b"The quick brown fox jumps over the lazy dog"),
            "9e107d9d372bb6826bd81d3542a419d6"
        );
    }

    #[test]
    fn iso_times() {
        assert_eq!(iso_time(0), EPOCH_ISO);
        assert_eq!(
            iso_time(59 * 86_400_000 + 1_234),
            "2026-03-01T00:00:01.234Z"
        );
    }
}
