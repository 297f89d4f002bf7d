//! S3 notification routes: by prefix and/or suffix of the decoded key.

use aws_lambda_events::event::s3::{S3Event, S3EventRecord};

use super::key::KeyMatch;
use super::{envelope, info, single, Router};
use crate::envelope::{AnyEnvelope, Metadata, Source};
use crate::error::RecordError;
use crate::factory::{Envelopes, Record, Transformed};
use crate::routes::RouteInfo;
use crate::s3::S3Object;

type S3Build = Box<dyn Fn(S3Object, &Metadata) -> AnyEnvelope + Send + Sync>;

pub(super) struct S3Route {
    key: KeyMatch,
    pub(super) info: RouteInfo,
    build: S3Build,
}

impl S3Route {
    /// Whether keys this route matches are always taken by `earlier`.
    pub(super) fn shadowed_by(&self, earlier: &S3Route) -> bool {
        self.key.shadowed_by(&earlier.key)
    }
}

impl Router {
    /// Starts an S3 route; finish it with [`S3RouteBuilder::to`].
    pub fn s3(self) -> S3RouteBuilder {
        S3RouteBuilder {
            router: self,
            key: KeyMatch::default(),
        }
    }

    /// Routes one S3 notification record (also those found in SQS and SNS
    /// bodies): `None` when no route matches.
    pub(super) fn route_s3_record(
        &self,
        r: &S3EventRecord,
        meta: &Metadata,
    ) -> Option<Result<AnyEnvelope, RecordError>> {
        let obj = match S3Object::from_record(r) {
            Ok(o) => o,
            Err(e) => return Some(Err(e)),
        };
        let route = self.s3.iter().find(|route| route.key.matches(&obj.key))?;
        Some(Ok((route.build)(obj, meta)))
    }

    pub(super) fn route_s3(&self, event: S3Event) -> Transformed {
        let mut out = Transformed::with_capacity(event.records.len());
        for r in event.records {
            let record = Record::s3(&r);
            let result = self
                .route_s3_record(&r, record.meta())
                .map(|res| res.map(Envelopes::One));
            out.push(self.with_fallback(
                record,
                result,
                || single(vec![r], |e: &mut S3Event, v| e.records = v),
                |f, e| f.transform_s3(e),
            ));
        }
        out
    }
}

/// An S3 route being built. See [`Router::s3`].
#[must_use = "finish the route with `.to::<E>()`"]
#[derive(Debug)]
pub struct S3RouteBuilder {
    router: Router,
    key: KeyMatch,
}

impl S3RouteBuilder {
    /// Matches keys (decoded) starting with `prefix`.
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.key.set_prefix(prefix);
        self
    }

    /// Matches keys (decoded) ending with `suffix`, such as `.pdf`.
    pub fn suffix(mut self, suffix: &str) -> Self {
        self.key.set_suffix(suffix);
        self
    }

    /// Matching records become `E`s.
    pub fn to<E: From<S3Object> + Send + Sync + 'static>(self) -> Router {
        self.map(E::from)
    }

    /// Matching records become `E`s built by `f`.
    pub fn map<E, F>(mut self, f: F) -> Router
    where
        E: Send + Sync + 'static,
        F: Fn(S3Object) -> E + Send + Sync + 'static,
    {
        let matcher = self.key.describe();
        self.router.s3.push(S3Route {
            key: self.key,
            info: info::<E>(Source::S3, matcher),
            build: Box::new(move |o, meta| envelope(f(o), meta)),
        });
        self.router
    }
}
