//! The local SES.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::Value;

use super::faults::{fault_methods, local_id, lock, CallLog, FaultPlan};
use crate::ports::{Email, EmailContent, Mailer, PortError};

/// An e-mail template registered on a [`LocalMailer`]: a subject, a text
/// and/or an HTML part, with `{{var}}` placeholders (`{{a.b}}` reaches into
/// objects).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    subject: String,
    text: Option<String>,
    html: Option<String>,
}

impl Template {
    /// A template with `subject` and no body yet.
    pub fn new(subject: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            text: None,
            html: None,
        }
    }

    /// Sets the text part.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Sets the HTML part.
    pub fn html(mut self, html: impl Into<String>) -> Self {
        self.html = Some(html.into());
        self
    }
}

/// A mail in a [`LocalMailer`]'s outbox, with templated content rendered.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SentMail {
    /// The message id the mailer assigned.
    pub message_id: String,
    /// The mail as the handler sent it.
    pub email: Email,
    /// The template's name, for templated mail.
    pub template: Option<String>,
    /// The subject (rendered).
    pub subject: String,
    /// The text part (rendered).
    pub text: Option<String>,
    /// The HTML part (rendered).
    pub html: Option<String>,
}

impl SentMail {
    /// Whether `addr` is among the recipients (to, cc or bcc).
    pub fn is_for(&self, addr: &str) -> bool {
        let e = &self.email;
        e.to.iter().chain(&e.cc).chain(&e.bcc).any(|a| a == addr)
    }
}

/// A [`Mailer`] with an outbox: every mail sent, rendered, and logged.
///
/// Templated mail is rendered with the templates registered with
/// [`add_template`](Self::add_template); an unknown template fails with
/// `NotFoundException` and a variable the data lacks with
/// `MissingRenderingAttributeException`, both permanent, as SES reports them.
/// Once an identity is [verified](Self::verify), mail from any other sender
/// is rejected (`MessageRejected`), as in the SES sandbox. Every mail sent is
/// logged at `DEBUG` with its recipients and rendered subject. A mailer
/// [`without_history`](Self::without_history) still renders, checks, logs
/// and answers every mail, but keeps no outbox and no call log.
///
/// ```
/// use eventrail::local::{LocalMailer, Template};
/// use eventrail::ports::{Email, Mailer};
/// use serde_json::json;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let ses = LocalMailer::new();
/// ses.add_template("order-confirmed", Template::new("Order {{order.id}}").text("Thanks, {{name}}!"));
///
/// ses.send(Email::template("shop@example.com", "ann@example.com", "order-confirmed",
///     json!({"name": "Ann", "order": {"id": 42}}))).await.unwrap();
/// let err = ses.send(Email::template("shop@example.com", "bob@example.com", "order-confirmed",
///     json!({"order": {"id": 43}}))).await.unwrap_err();
/// assert_eq!(err.code(), Some("MissingRenderingAttributeException"));
///
/// let mail = &ses.outbox()[0];
/// assert_eq!(mail.subject, "Order 42");
/// assert_eq!(mail.text.as_deref(), Some("Thanks, Ann!"));
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct LocalMailer {
    inner: Arc<Mutex<State>>,
    faults: FaultPlan<Email>,
    calls: CallLog<Email>,
}

#[derive(Debug, Default)]
struct State {
    templates: HashMap<String, Template>,
    verified: BTreeSet<String>,
    outbox: Vec<SentMail>,
    /// Keep no outbox (see [`LocalMailer::without_history`]).
    no_outbox: bool,
    next_id: u64,
}

impl LocalMailer {
    /// A mailer with no templates, accepting any sender.
    pub fn new() -> Self {
        Self::default()
    }

    /// A mailer that keeps no history: no outbox, and a
    /// [discarding](CallLog::discarding) call log. Mail is rendered,
    /// checked, logged and answered as by [`new`](Self::new); templates,
    /// verified identities and faults work the same.
    ///
    /// ```
    /// use eventrail::local::LocalMailer;
    /// use eventrail::ports::{Email, Mailer};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let ses = LocalMailer::without_history();
    /// let id = ses.send(Email::text("shop@example.com", "ann@example.com", "Hi", "Thanks")).await.unwrap();
    /// assert!(!id.is_empty());
    /// assert!(ses.outbox().is_empty() && ses.calls().is_empty());
    /// assert_eq!(ses.call_count(), 1);
    /// # }
    /// ```
    pub fn without_history() -> Self {
        let mailer = Self {
            calls: CallLog::discarding(),
            ..Self::default()
        };
        lock(&mailer.inner).no_outbox = true;
        mailer
    }

    /// Whether this mailer keeps an outbox and its calls (see
    /// [`without_history`](Self::without_history)).
    pub fn keeps_history(&self) -> bool {
        self.calls.keeps_calls()
    }

    fault_methods!(Email, "mail");

    /// Registers (or replaces) the template `name`.
    pub fn add_template(&self, name: impl Into<String>, template: Template) -> &Self {
        lock(&self.inner).templates.insert(name.into(), template);
        self
    }

    /// Verifies a sender identity: an address, or a domain (`example.com`).
    /// From then on, mail from unverified senders is rejected.
    pub fn verify(&self, identity: impl Into<String>) -> &Self {
        lock(&self.inner).verified.insert(identity.into());
        self
    }

    /// Every mail sent, in order.
    pub fn outbox(&self) -> Vec<SentMail> {
        lock(&self.inner).outbox.clone()
    }

    /// The mail sent to `addr` (as to, cc or bcc), in order.
    pub fn sent_to(&self, addr: &str) -> Vec<SentMail> {
        lock(&self.inner)
            .outbox
            .iter()
            .filter(|m| m.is_for(addr))
            .cloned()
            .collect()
    }

    /// Empties the outbox and the call log (templates and faults stay).
    pub fn clear(&self) {
        lock(&self.inner).outbox.clear();
        self.calls.clear();
    }
}

fn permanent(code: &str, message: impl Into<String>) -> PortError {
    PortError::permanent(message).with_code(code)
}

fn lookup<'a>(data: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(data, |v, part| v.as_object()?.get(part))
}

/// Renders `{{var}}` placeholders from `data`. A placeholder whose variable
/// `data` lacks is an error naming it.
fn render(template: &str, data: &Value) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        let name = rest[start + 2..start + 2 + len].trim();
        match lookup(data, name) {
            Some(Value::String(s)) => out.push_str(s),
            Some(Value::Null) => {}
            Some(v) => out.push_str(&v.to_string()),
            None => return Err(name.to_owned()),
        }
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

impl State {
    fn deliver(&mut self, mail: &Email) -> Result<String, PortError> {
        if mail.to.is_empty() && mail.cc.is_empty() && mail.bcc.is_empty() {
            return Err(permanent("BadRequestException", "no recipients"));
        }
        if !self.verified.is_empty() {
            let domain = mail.from.rsplit('@').next().unwrap_or("");
            if !self.verified.contains(&mail.from) && !self.verified.contains(domain) {
                return Err(permanent(
                    "MessageRejected",
                    format!("Email address is not verified: {}", mail.from),
                ));
            }
        }
        let (template, subject, text, html) = match &mail.content {
            EmailContent::Simple {
                subject,
                text,
                html,
            } => (
                None,
                Cow::Borrowed(subject.as_str()),
                text.as_deref().map(Cow::Borrowed),
                html.as_deref().map(Cow::Borrowed),
            ),
            EmailContent::Template { name, data } => {
                let t = self.templates.get(name).ok_or_else(|| {
                    permanent(
                        "NotFoundException",
                        format!("Template {name} does not exist"),
                    )
                })?;
                let r = |s: &str| {
                    render(s, data).map_err(|var| {
                        permanent(
                            "MissingRenderingAttributeException",
                            format!("Attribute '{var}' is not present in the rendering data"),
                        )
                    })
                };
                let subject = Cow::Owned(r(&t.subject)?);
                let text = t.text.as_deref().map(r).transpose()?.map(Cow::Owned);
                let html = t.html.as_deref().map(r).transpose()?.map(Cow::Owned);
                (Some(name.as_str()), subject, text, html)
            }
        };
        self.next_id += 1;
        let message_id = local_id(0x5e5, self.next_id);
        tracing::debug!(
            target: "eventrail::local",
            from = %mail.from,
            to = %mail.to.join(", "),
            subject = %subject,
            template = template.unwrap_or(""),
            message_id = %message_id,
            "SES send"
        );
        if !self.no_outbox {
            self.outbox.push(SentMail {
                message_id: message_id.clone(),
                email: mail.clone(),
                template: template.map(str::to_owned),
                subject: subject.into_owned(),
                text: text.map(Cow::into_owned),
                html: html.map(Cow::into_owned),
            });
        }
        Ok(message_id)
    }
}

#[async_trait]
impl Mailer for LocalMailer {
    async fn send(&self, mail: Email) -> Result<String, PortError> {
        let mut state = lock(&self.inner);
        let result = self
            .faults
            .run(&self.calls, mail, |mail| state.deliver(mail));
        if let Err(e) = &result {
            tracing::debug!(target: "eventrail::local", error = %e, "SES send failed");
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::Fault;
    use serde_json::json;

    #[test]
    fn renders_nested_values_and_leaves_unclosed_braces() {
        let data = json!({"a": {"b": 1}, "s": "x", "n": null});
        assert_eq!(
            render("{{ a.b }}-{{s}}-{{n}}-{{", &data).unwrap(),
            "1-x--{{"
        );
        assert_eq!(render("{{missing}}", &data).unwrap_err(), "missing");
    }

    #[tokio::test]
    async fn the_outbox_has_what_was_sent() {
        let ses = LocalMailer::new();
        let e = ses
            .send(Email::template("a@x.com", "b@y.com", "nope", json!({})))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("NotFoundException"));
        ses.verify("x.com");
        let id = ses
            .send(Email::text("a@x.com", "b@y.com", "s", "t").add_cc("c@y.com"))
            .await
            .unwrap();
        let e = ses
            .send(Email::text("a@z.com", "b@y.com", "s", "t"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("MessageRejected"));
        ses.fail_next(1, Fault::throttled());
        assert!(ses
            .send(Email::text("a@x.com", "b@y.com", "s2", "t"))
            .await
            .unwrap_err()
            .is_retryable());
        let sent = ses.sent_to("c@y.com");
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].message_id, id);
        assert_eq!(
            (sent[0].subject.as_str(), sent[0].text.as_deref()),
            ("s", Some("t"))
        );
        assert_eq!(ses.calls().len(), 4);
        assert_eq!(ses.outbox().len(), 1);
    }
}
