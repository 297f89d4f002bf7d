//! Route listing: what goes where, at a glance.
//!
//! [`App::routes`](crate::App::routes) describes the application as a table:
//! source → matcher → event type → handlers. Print it at start-up or in a test.
//!
//! ```
//! use eventrail::{handler_fn, App, Bus, Envelope, HandlerError, Router};
//!
//! #[derive(Debug, serde::Deserialize)]
//! struct Notification { recipient: String }
//!
//! let bus = Bus::builder()
//!     .on_named("send-mail", handler_fn(|_n: Envelope<Notification>| async {
//!         Ok::<_, HandlerError>(())
//!     }))
//!     .build();
//! let router = Router::new().sqs("type", "NOTIFICATION").to::<Notification>();
//! let app = App::builder(router, bus).build().unwrap();
//!
//! let table = app.routes().to_string();
//! assert!(table.contains("sqs"));
//! assert!(table.contains(r#"type = "NOTIFICATION""#));
//! assert!(table.contains("Notification"));
//! assert!(table.contains("send-mail"));
//! ```

use std::fmt;

use crate::envelope::Source;

/// One route a factory knows: records of `source` matching `matcher` become
/// events of type `event_type`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    /// The source.
    pub source: Source,
    /// The matcher, human readable (`prefix "imports/csv/"`, `type = "NOTIFICATION"`).
    pub matcher: String,
    /// The Rust type name of the event produced.
    pub event_type: &'static str,
    /// The `TypeId` of the event produced.
    pub event_type_id: std::any::TypeId,
}

/// A row of a [`RouteTable`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteRow {
    /// The source, or `None` for event types only a hand-written factory produces.
    pub source: Option<Source>,
    /// The matcher.
    pub matcher: String,
    /// The event type (short name).
    pub event_type: String,
    /// The handlers, in the order they were registered.
    pub handlers: Vec<String>,
}

/// The application's routes, printable as a table. See the [module docs](self).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteTable {
    rows: Vec<RouteRow>,
}

impl RouteTable {
    pub(crate) fn new(rows: Vec<RouteRow>) -> Self {
        Self { rows }
    }

    /// The rows.
    pub fn rows(&self) -> &[RouteRow] {
        &self.rows
    }
}

/// Shortens `a::b::C<d::E>` to `C<E>`.
pub(crate) fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut seg_start = 0;
    for (i, c) in full.char_indices() {
        if matches!(c, '<' | '>' | ',' | ' ' | '(' | ')' | '[' | ']' | '&') {
            out.push_str(last_segment(&full[seg_start..i]));
            out.push(c);
            seg_start = i + c.len_utf8();
        }
    }
    out.push_str(last_segment(&full[seg_start..]));
    out
}

fn last_segment(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path)
}

impl fmt::Display for RouteTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = ["SOURCE", "MATCHER", "EVENT", "HANDLERS"];
        let cells: Vec<[String; 4]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    r.source.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                    r.matcher.clone(),
                    r.event_type.clone(),
                    if r.handlers.is_empty() {
                        "(none)".to_owned()
                    } else {
                        r.handlers.join(", ")
                    },
                ]
            })
            .collect();
        let mut width = header.map(str::len);
        for row in &cells {
            for (w, c) in width.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, row: [&str; 4]| -> fmt::Result {
            for (i, (c, w)) in row.iter().zip(width).enumerate() {
                if i == 3 {
                    writeln!(f, "{c}")?;
                } else {
                    write!(f, "{c:<w$}  ")?;
                }
            }
            Ok(())
        };
        line(f, header)?;
        for row in &cells {
            line(f, [&row[0], &row[1], &row[2], &row[3]])?;
        }
        Ok(())
    }
}

/// Two routes that can never be told apart: records the `later` route should
/// match are always taken by the `earlier` one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteConflict {
    /// The source both routes are for.
    pub source: Source,
    /// The route that wins.
    pub earlier: String,
    /// The route that can never match.
    pub later: String,
}

impl fmt::Display for RouteConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} route `{}` can never match: every record it matches is taken by the earlier route `{}`",
            self.source, self.later, self.earlier
        )
    }
}

impl std::error::Error for RouteConflict {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        assert_eq!(short_type_name("a::b::C"), "C");
        assert_eq!(
            short_type_name("eventrail::dynamodb::DataChange<app::Order>"),
            "DataChange<Order>"
        );
        assert_eq!(short_type_name("u32"), "u32");
    }
}
