//! Firehose routes: on a top-level field of the JSON data, like Kinesis.

use super::{JsonRouteBuilder, Router};
use crate::envelope::Source;
use crate::error::RecordError;
use crate::factory::{Record, Transformed};
use crate::source::firehose::FirehoseEvent;

impl Router {
    /// Starts a Firehose transformation route for records whose data is
    /// JSON with the top-level `field` equal to `value`. The handler's output
    /// is the transformed record (see [`crate::source::firehose`]).
    ///
    /// ```
    /// use eventrail::Router;
    ///
    /// #[derive(Debug, serde::Deserialize)]
    /// struct LogLine { level: String, msg: String }
    ///
    /// let router = Router::new().firehose("kind", "log").to::<LogLine>();
    /// assert_eq!(router.check(), Ok(()));
    /// ```
    pub fn firehose(self, field: &str, value: &str) -> JsonRouteBuilder {
        JsonRouteBuilder::new(self, Source::Firehose, Some((field, value)))
    }

    /// Starts a Firehose transformation route that takes every record whose
    /// data is JSON (put it last).
    pub fn firehose_all(self) -> JsonRouteBuilder {
        JsonRouteBuilder::new(self, Source::Firehose, None)
    }

    pub(super) fn route_firehose(&self, event: FirehoseEvent) -> Transformed {
        let mut out = Transformed::with_capacity(event.records.len());
        for r in &event.records {
            let record = Record::firehose(r);
            let result = match r.data_bytes() {
                Err(e) => Some(Err(RecordError::bad_input(e.to_string()))),
                Ok(bytes) => match std::str::from_utf8(&bytes) {
                    Ok(body) => self.route_body(&self.firehose, body, record.meta(), false, false),
                    Err(e) => Some(Err(
                        RecordError::bad_input("Firehose data is not UTF-8").with_source(e)
                    )),
                },
            };
            out.push(self.with_fallback(
                record,
                result,
                || {
                    let mut one = event.clone();
                    one.records = vec![r.clone()];
                    one
                },
                |f, e| f.transform_firehose(e),
            ));
        }
        out
    }
}
