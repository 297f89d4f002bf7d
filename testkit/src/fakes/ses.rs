//! The SES fake: eventrail's local mailer.

/// An in-memory SES: [`LocalMailer`](eventrail::local::LocalMailer), an
/// outbox of sent mail with templates rendered, sender verification, a
/// fault plan and a call log. See its docs for an example.
pub type FakeSes = eventrail::local::LocalMailer;

pub use eventrail::local::{SentMail, Template};
