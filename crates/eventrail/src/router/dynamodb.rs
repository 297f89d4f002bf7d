//! DynamoDB Streams routes: by prefix of a key attribute, or every record.

use aws_lambda_events::event::dynamodb::{Event as DynamoDbEvent, EventRecord as DynamoDbRecord};
use serde::de::DeserializeOwned;

use super::{envelope, info, single, BuildFrom, Router};
use crate::dynamodb::{key_str, DataChange};
use crate::envelope::Source;
use crate::factory::{Envelopes, Record, Transformed};
use crate::routes::RouteInfo;

/// Which records a DynamoDB route takes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum KeyPrefix {
    /// Records whose key attribute is a string starting with the prefix.
    On { attribute: String, prefix: String },
    /// Every record (a catch-all).
    Any,
}

pub(super) struct DynamoRoute {
    on: KeyPrefix,
    pub(super) info: RouteInfo,
    build: BuildFrom<DynamoDbRecord>,
}

impl DynamoRoute {
    fn matches(&self, r: &DynamoDbRecord) -> bool {
        match &self.on {
            KeyPrefix::Any => true,
            KeyPrefix::On { attribute, prefix } => {
                key_str(&r.change.keys, attribute).is_some_and(|k| k.starts_with(prefix.as_str()))
            }
        }
    }

    /// Whether records this route matches are always taken by `earlier`.
    pub(super) fn shadowed_by(&self, earlier: &DynamoRoute) -> bool {
        match (&earlier.on, &self.on) {
            (KeyPrefix::Any, _) => true,
            (KeyPrefix::On { .. }, KeyPrefix::Any) => false,
            (
                KeyPrefix::On {
                    attribute: a,
                    prefix: p,
                },
                KeyPrefix::On {
                    attribute: b,
                    prefix: q,
                },
            ) => a == b && q.starts_with(p.as_str()),
        }
    }
}

impl Router {
    /// Starts a DynamoDB Streams route for items whose partition key (`pk` by
    /// default, see [`DynamoRouteBuilder::key_attribute`]) starts with `prefix`.
    pub fn dynamodb(self, prefix: &str) -> DynamoRouteBuilder {
        DynamoRouteBuilder {
            router: self,
            on: KeyPrefix::On {
                attribute: "pk".into(),
                prefix: prefix.into(),
            },
        }
    }

    /// Starts a DynamoDB Streams route that takes every record, whatever its
    /// keys (put it last: routes are tried in order, and a route after it is
    /// reported by [`Router::check`]).
    ///
    /// On a single-table design the stream carries every item type; this is
    /// where the items the other routes do not name go, for instance as
    /// [`DataChange<serde_json::Value>`](DataChange). To acknowledge them
    /// without a handler instead, see
    /// [`AppBuilder::acknowledge_unmatched_from`](crate::app::AppBuilder::acknowledge_unmatched_from).
    ///
    /// ```
    /// use eventrail::dynamodb::DataChange;
    /// use eventrail::Router;
    ///
    /// #[derive(Debug, serde::Deserialize)]
    /// struct Order { pk: String, total: u32 }
    ///
    /// let router = Router::new()
    ///     .dynamodb("ORDER#").to::<Order>()
    ///     .dynamodb_all().to::<serde_json::Value>();
    /// assert_eq!(router.check(), Ok(()));
    /// // Handlers take `Envelope<DataChange<Order>>` and
    /// // `Envelope<DataChange<serde_json::Value>>`.
    /// # let _ = std::marker::PhantomData::<DataChange<Order>>;
    /// ```
    pub fn dynamodb_all(self) -> DynamoRouteBuilder {
        DynamoRouteBuilder {
            router: self,
            on: KeyPrefix::Any,
        }
    }

    pub(super) fn route_dynamodb(&self, event: DynamoDbEvent) -> Transformed {
        let mut out = Transformed::with_capacity(event.records.len());
        for r in event.records {
            let record = Record::dynamodb(&r);
            let result = self
                .dynamodb
                .iter()
                .find(|route| route.matches(&r))
                .map(|route| (route.build)(&r, record.meta()).map(Envelopes::One));
            out.push(self.with_fallback(
                record,
                result,
                || single(vec![r], |e: &mut DynamoDbEvent, v| e.records = v),
                |f, e| f.transform_dynamodb_stream(e),
            ));
        }
        out
    }
}

/// A DynamoDB Streams route being built. See [`Router::dynamodb`] and
/// [`Router::dynamodb_all`].
#[must_use = "finish the route with `.to::<T>()`"]
#[derive(Debug)]
pub struct DynamoRouteBuilder {
    router: Router,
    on: KeyPrefix,
}

impl DynamoRouteBuilder {
    /// The key attribute to match on (default `pk`). No effect on a
    /// catch-all route.
    pub fn key_attribute(mut self, name: &str) -> Self {
        if let KeyPrefix::On { attribute, .. } = &mut self.on {
            *attribute = name.into();
        }
        self
    }

    /// Matching records become [`DataChange<T>`] events, their images
    /// unmarshalled into `T`.
    pub fn to<T: DeserializeOwned + Send + Sync + 'static>(mut self) -> Router {
        let matcher = match &self.on {
            KeyPrefix::On { attribute, prefix } => format!("{attribute} prefix {prefix:?}"),
            KeyPrefix::Any => "any record".to_owned(),
        };
        self.router.dynamodb.push(DynamoRoute {
            on: self.on,
            info: info::<DataChange<T>>(Source::DynamoDb, matcher),
            build: Box::new(|r, meta| DataChange::<T>::from_record(r).map(|c| envelope(c, meta))),
        });
        self.router
    }
}
