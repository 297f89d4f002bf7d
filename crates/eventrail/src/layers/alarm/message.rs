use std::error::Error as StdError;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::envelope::Metadata;
use crate::layers::util::{error_chain, truncate_chars};

/// Each message of an alarm's error chain is cut to this many characters.
const MAX_CHAIN_ENTRY_CHARS: usize = 8 * 1024;
/// At most this many messages of an error chain are kept.
const MAX_CHAIN_LEN: usize = 16;

/// How bad an alarm is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    /// For the record.
    Info,
    /// Degraded: something failed but processing goes on.
    Warning,
    /// A failure someone should look at.
    Error,
    /// A failure someone must look at now.
    Critical,
}

impl Severity {
    /// `INFO`, `WARNING`, `ERROR` or `CRITICAL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error an alarm reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AlarmError {
    /// The outermost error's message.
    pub message: String,
    /// The messages of the error and its sources, outermost first.
    pub chain: Vec<String>,
    /// Whether a retry could help.
    pub retryable: bool,
}

/// An alarm, as published: the message body is this struct as JSON.
///
/// Build one with [`Alarm::new`] and send it with
/// [`AlarmService::send`](super::AlarmService::send), or let the
/// [`AlarmLayer`](super::AlarmLayer) build it. Fields are public so that a
/// [redaction hook](super::AlarmService::with_redaction) can change them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Alarm {
    /// The severity.
    pub severity: Severity,
    /// What raised it (a handler or service name).
    pub source: String,
    /// What happened, in one line.
    pub message: String,
    /// Free-form details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    /// The error, if the alarm is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<AlarmError>,
    /// The id of the record or event concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The Rust type of the event concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// The tenant concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The correlation id of the event concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// How many attempts were made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// When the alarm was raised, RFC 3339 UTC; the service fills it in.
    pub timestamp: String,
    /// The deployment environment (`prod`, `staging`, ...); the service fills it in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

impl Alarm {
    /// An alarm with `severity`, raised by `source`, saying `message`.
    pub fn new(severity: Severity, source: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity,
            source: source.into(),
            message: message.into(),
            details: None,
            error: None,
            event_id: None,
            event_type: None,
            tenant: None,
            correlation_id: None,
            attempts: None,
            timestamp: String::new(),
            environment: None,
        }
    }

    /// Attaches free-form details.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// Attaches an error and its chain of sources.
    pub fn with_error(mut self, err: &(dyn StdError + 'static)) -> Self {
        let mut chain: Vec<String> = error_chain(err)
            .iter()
            .take(MAX_CHAIN_LEN)
            .map(|m| truncate_chars(m, MAX_CHAIN_ENTRY_CHARS))
            .collect();
        if chain.is_empty() {
            chain.push(String::new());
        }
        self.error = Some(AlarmError {
            message: chain[0].clone(),
            chain,
            retryable: crate::error::is_retryable(err),
        });
        self
    }

    /// Takes the event id, tenant and correlation id from an envelope's metadata.
    pub fn with_meta(mut self, meta: &Metadata) -> Self {
        self.event_id = Some(meta.record_id().to_owned());
        self.tenant = meta.tenant().map(str::to_owned);
        self.correlation_id = Some(meta.correlation_id().to_owned());
        self
    }

    /// Sets the event type.
    pub fn with_event_type(mut self, event_type: impl Into<String>) -> Self {
        self.event_type = Some(event_type.into());
        self
    }

    /// Sets the number of attempts.
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = Some(attempts);
        self
    }

    /// The SNS subject for this alarm: `[SEVERITY] source: message`, made
    /// valid for SNS (see [`sanitize_subject`]).
    pub fn subject(&self) -> String {
        sanitize_subject(&format!(
            "[{}] {}: {}",
            self.severity, self.source, self.message
        ))
    }
}

/// The longest subject SNS accepts.
pub const MAX_SUBJECT_CHARS: usize = 100;

/// Makes `raw` a valid SNS subject: printable ASCII only (anything else
/// becomes `?`, any whitespace a space), runs of spaces collapsed, no leading
/// or trailing space, at most 100 characters (a cut subject ends in `...`),
/// never empty.
pub fn sanitize_subject(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len().min(MAX_SUBJECT_CHARS));
    let mut pending_space = false;
    for c in raw.chars() {
        let c = if c.is_whitespace() || c.is_control() {
            ' '
        } else if c.is_ascii_graphic() {
            c
        } else {
            '?'
        };
        if c == ' ' {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
        if out.len() > MAX_SUBJECT_CHARS {
            break;
        }
    }
    if out.len() > MAX_SUBJECT_CHARS {
        out.truncate(MAX_SUBJECT_CHARS - 3);
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        out.push_str("...");
    }
    if out.is_empty() {
        out.push_str("Alarm");
    }
    out
}

/// Replaces every e-mail address in `text` with `[email]`; a helper for
/// redaction hooks.
pub fn mask_emails(text: &str) -> String {
    fn local(c: char) -> bool {
        c.is_ascii_alphanumeric() || "._%+-".contains(c)
    }
    fn domain(c: char) -> bool {
        c.is_ascii_alphanumeric() || c == '.' || c == '-'
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '@' {
            let mut start = i;
            while start > 0 && local(chars[start - 1]) {
                start -= 1;
            }
            let mut end = i + 1;
            while end < chars.len() && domain(chars[end]) {
                end += 1;
            }
            while end > i + 1 && chars[end - 1] == '.' {
                end -= 1;
            }
            let dom: String = chars[i + 1..end].iter().collect();
            let local_len = i - start;
            if local_len > 0 && dom.contains('.') && !dom.starts_with('.') {
                // Drop the local part already copied.
                for _ in 0..local_len {
                    out.pop();
                }
                out.push_str("[email]");
                i = end;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_is_valid_for_sns() {
        let long = "line one\nline two\r\n\ttabbed — ünïcode ".repeat(500);
        let s = sanitize_subject(&long);
        assert!(s.len() <= MAX_SUBJECT_CHARS);
        assert!(s.chars().all(|c| c.is_ascii_graphic() || c == ' '));
        assert!(s.ends_with("..."));
        assert!(s.starts_with("line one line two tabbed ? ?n?code"));
        assert_eq!(sanitize_subject(" \n "), "Alarm");
        assert_eq!(sanitize_subject("  short  "), "short");
        let exact = "x".repeat(100);
        assert_eq!(sanitize_subject(&exact), exact);
    }

    #[test]
    fn emails_are_masked() {
        assert_eq!(
            mask_emails("mail to jane.doe+x@example.co.jp failed; a@b is not one."),
            "mail to [email] failed; a@b is not one."
        );
        assert_eq!(mask_emails("end: bob@example.com."), "end: [email].");
        assert_eq!(mask_emails("no address @ all"), "no address @ all");
    }

    #[test]
    fn json_shape() {
        let a = Alarm::new(Severity::Critical, "Importer", "import failed")
            .with_meta(&Metadata::new("m-1", crate::Source::Sqs).with_tenant("acme"));
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["severity"], "CRITICAL");
        assert_eq!(v["eventId"], "m-1");
        assert_eq!(v["tenant"], "acme");
        assert_eq!(v["correlationId"], "m-1");
        assert!(v.get("details").is_none());
    }
}
