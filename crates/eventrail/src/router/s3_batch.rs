//! S3 Batch Operations routes: by prefix and/or suffix of the decoded key.

use super::key::KeyMatch;
use super::{envelope, info, Router};
use crate::envelope::{AnyEnvelope, Metadata, Source};
use crate::error::RecordError;
use crate::factory::{Envelopes, Record, Transformed};
use crate::source::s3_batch::{S3BatchEvent, S3BatchTask};

type S3BatchBuild = Box<dyn Fn(S3BatchTask, &Metadata) -> AnyEnvelope + Send + Sync>;

pub(super) struct S3BatchRoute {
    key: KeyMatch,
    pub(super) info: crate::routes::RouteInfo,
    build: S3BatchBuild,
}

impl S3BatchRoute {
    /// Whether keys this route matches are always taken by `earlier`.
    pub(super) fn shadowed_by(&self, earlier: &S3BatchRoute) -> bool {
        self.key.shadowed_by(&earlier.key)
    }
}

impl Router {
    /// Starts an S3 Batch Operations route (a job's `LambdaInvoke` tasks);
    /// narrow it with [`S3BatchRouteBuilder::prefix`] and/or
    /// [`S3BatchRouteBuilder::suffix`], finish it with [`S3BatchRouteBuilder::to`].
    ///
    /// ```
    /// use eventrail::source::s3_batch::S3BatchTask;
    /// use eventrail::Router;
    ///
    /// #[derive(Debug)]
    /// struct Reencode(S3BatchTask);
    /// impl From<S3BatchTask> for Reencode {
    ///     fn from(t: S3BatchTask) -> Self { Self(t) }
    /// }
    ///
    /// let router = Router::new().s3_batch().prefix("videos/").suffix(".mov").to::<Reencode>();
    /// assert_eq!(router.check(), Ok(()));
    /// ```
    pub fn s3_batch(self) -> S3BatchRouteBuilder {
        S3BatchRouteBuilder {
            router: self,
            key: KeyMatch::default(),
        }
    }

    pub(super) fn route_s3_batch(&self, event: S3BatchEvent) -> Transformed {
        let mut out = Transformed::with_capacity(event.tasks.len());
        for t in &event.tasks {
            let record = Record::s3_batch(t);
            let result: Option<Result<Envelopes, RecordError>> = match event.task(t) {
                Err(e) => Some(Err(e)),
                Ok(task) => self
                    .s3_batch
                    .iter()
                    .find(|r| r.key.matches(&task.key))
                    .map(|r| Ok(Envelopes::One((r.build)(task, record.meta())))),
            };
            out.push(self.with_fallback(
                record,
                result,
                || {
                    let mut one = event.clone();
                    one.tasks = vec![t.clone()];
                    one
                },
                |f, e| f.transform_s3_batch(e),
            ));
        }
        out
    }
}

/// An S3 Batch Operations route being built. See [`Router::s3_batch`].
#[must_use = "finish the route with `.to::<E>()`"]
#[derive(Debug)]
pub struct S3BatchRouteBuilder {
    router: Router,
    key: KeyMatch,
}

impl S3BatchRouteBuilder {
    /// Matches keys (decoded) starting with `prefix`.
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.key.set_prefix(prefix);
        self
    }

    /// Matches keys (decoded) ending with `suffix`.
    pub fn suffix(mut self, suffix: &str) -> Self {
        self.key.set_suffix(suffix);
        self
    }

    /// Matching tasks become `E`s (`S3BatchTask` itself, or any
    /// `E: From<S3BatchTask>`). The handler's output is the task's
    /// `resultString`; its error, classified, the `resultCode`.
    pub fn to<E: From<S3BatchTask> + Send + Sync + 'static>(mut self) -> crate::Router {
        let matcher = self.key.describe();
        self.router.s3_batch.push(S3BatchRoute {
            key: self.key,
            info: info::<E>(Source::S3Batch, matcher),
            build: Box::new(|t, meta| envelope(E::from(t), meta)),
        });
        self.router
    }
}
