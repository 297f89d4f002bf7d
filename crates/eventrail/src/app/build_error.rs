//! Why an app could not be built, with a hint where the fix is guessable.

use std::fmt;

use crate::bus::Bus;
use crate::envelope::Source;
use crate::routes::{short_type_name, RouteConflict, RouteInfo};

/// Why an app could not be built.
///
/// ```
/// use eventrail::app::BuildError;
/// use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
///
/// #[derive(Debug, serde::Deserialize)]
/// struct Invoice { pk: String }
///
/// // DynamoDB routes deliver `DataChange<Invoice>`, not `Invoice`.
/// let bus = Bus::builder()
///     .on(handler_fn(|_: Envelope<Invoice>| async { Ok::<_, HandlerError>(()) }))
///     .build();
/// let err = App::builder(Router::new().dynamodb("INVOICE#").to::<Invoice>(), bus)
///     .build()
///     .unwrap_err();
/// assert!(matches!(&err, BuildError::NoHandler { handled: Some(_), .. }));
/// assert!(err.to_string().contains("Envelope<DataChange<Invoice>>"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// Two routes can never be told apart.
    Conflict(RouteConflict),
    /// A route produces an event type that has no handler.
    #[non_exhaustive]
    NoHandler {
        /// The route's source.
        source: Source,
        /// The route's matcher.
        matcher: String,
        /// The event type.
        event_type: &'static str,
        /// A type the bus has handlers for that the event type wraps
        /// (`Invoice` for a route producing `DataChange<Invoice>`) or that
        /// wraps it: the handler was most likely meant for this route.
        handled: Option<&'static str>,
    },
}

impl BuildError {
    /// `route` produces a type `bus` has no handler for.
    pub(super) fn no_handler(route: RouteInfo, bus: &Bus) -> Self {
        let handled = bus
            .event_types()
            .into_iter()
            .map(|(_, name)| name)
            .find(|name| wraps(route.event_type, name) || wraps(name, route.event_type));
        BuildError::NoHandler {
            source: route.source,
            matcher: route.matcher,
            event_type: route.event_type,
            handled,
        }
    }
}

/// Whether type name `outer` is a generic type over `inner` (`a::W<b::T>`
/// over `b::T`).
fn wraps(outer: &str, inner: &str) -> bool {
    outer
        .strip_suffix('>')
        .and_then(|o| o.strip_suffix(inner))
        .is_some_and(|o| o.ends_with('<'))
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Conflict(c) => c.fmt(f),
            BuildError::NoHandler {
                source,
                matcher,
                event_type,
                handled,
            } => {
                write!(
                    f,
                    "{source} route `{matcher}` produces `{event_type}`, which has no handler on the bus"
                )?;
                let Some(handled) = handled else {
                    return Ok(());
                };
                let route_wraps = wraps(event_type, handled);
                let (produced, handled) = (short_type_name(event_type), short_type_name(handled));
                if route_wraps {
                    write!(
                        f,
                        "; there is a handler for `{handled}`, but this route wraps it in \
                         `{produced}`: make that handler take `Envelope<{produced}>`"
                    )
                } else {
                    write!(
                        f,
                        "; there is a handler for `{handled}`, but this route delivers the bare \
                         `{produced}`: make that handler take `Envelope<{produced}>`"
                    )
                }
            }
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Conflict(c) => Some(c),
            BuildError::NoHandler { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_is_a_generic_over_the_whole_type() {
        assert!(wraps(
            "eventrail::dynamodb::DataChange<app::Invoice>",
            "app::Invoice"
        ));
        assert!(!wraps(
            "eventrail::dynamodb::DataChange<app::Invoice>",
            "Invoice"
        ));
        assert!(!wraps("app::Invoice", "app::Invoice"));
        assert!(!wraps("Vec<app::BigInvoice>", "app::Invoice"));
    }
}
