//! [`Mailer`] over SES v2 `SendEmail`.
//!
//! A [`EmailContent::Simple`] e-mail goes out with its subject and text
//! and/or HTML body (UTF-8); a [`EmailContent::Template`] one names a
//! template stored in SES and passes its variables as JSON. Cc, bcc and
//! reply-to addresses go out as given.
//!
//! ```no_run
//! use eventrail::ports::{Email, Mailer};
//! use eventrail_aws::{config, SesMailer};
//!
//! # async fn run() -> Result<(), eventrail::ports::PortError> {
//! let mailer = SesMailer::from_conf(&config::load().await);
//! let id = mailer
//!     .send(
//!         Email::text("shop@example.com", "ann@example.com", "Your order", "It ships today.")
//!             .with_html("<p>It ships <b>today</b>.</p>")
//!             .add_bcc("audit@example.com")
//!             .add_reply_to("support@example.com"),
//!     )
//!     .await?;
//! let id = mailer
//!     .send(Email::template(
//!         "shop@example.com",
//!         "ann@example.com",
//!         "order-shipped",
//!         serde_json::json!({ "order": 42 }),
//!     ))
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! # Errors
//!
//! An unverified sender is a permanent error with code `MessageRejected`;
//! `MailFromDomainNotVerifiedException`, `SendingPausedException`,
//! `AccountSuspendedException`, `NotFoundException` (no such template) and
//! `BadRequestException` are permanent too; `TooManyRequestsException` and
//! 5xx are retryable. A simple e-mail with neither a text nor an HTML body
//! is refused before any call.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sesv2::types::Template;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent as SdkContent, Message};
use aws_sdk_sesv2::Client;
use eventrail::ports::{Email, EmailContent, Mailer, PortError};

use crate::error::from_sdk;

/// Sends e-mail with SES v2. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct SesMailer {
    client: Client,
    configuration_set: Option<String>,
}

impl SesMailer {
    /// A mailer over a client you configured.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            configuration_set: None,
        }
    }

    /// A mailer configured by `config` (region, credentials, endpoint).
    pub fn from_conf(config: &SdkConfig) -> Self {
        Self::new(Client::new(config))
    }

    /// Sends every e-mail with this SES configuration set (for event
    /// publishing, dedicated IPs, ...).
    pub fn with_configuration_set(mut self, name: impl Into<String>) -> Self {
        self.configuration_set = Some(name.into());
        self
    }

    /// The SDK client, for calls this type does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: Email) -> Result<String, PortError> {
        let content = to_sdk_content(&mail.content)?;
        let destination = Destination::builder()
            .set_to_addresses(non_empty(mail.to))
            .set_cc_addresses(non_empty(mail.cc))
            .set_bcc_addresses(non_empty(mail.bcc))
            .build();
        let out = self
            .client
            .send_email()
            .from_email_address(mail.from)
            .destination(destination)
            .set_reply_to_addresses(non_empty(mail.reply_to))
            .content(content)
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|e| from_sdk("SES SendEmail", e))?;
        Ok(out.message_id.unwrap_or_default())
    }
}

fn non_empty(v: Vec<String>) -> Option<Vec<String>> {
    (!v.is_empty()).then_some(v)
}

/// A UTF-8 text part.
fn utf8(data: &str) -> Result<Content, PortError> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| PortError::permanent(format!("SES SendEmail: {e}")).with_source(e))
}

/// Our content as SES v2's.
fn to_sdk_content(content: &EmailContent) -> Result<SdkContent, PortError> {
    match content {
        EmailContent::Simple {
            subject,
            text,
            html,
        } => {
            if text.is_none() && html.is_none() {
                return Err(PortError::permanent(
                    "SES SendEmail: the e-mail has neither a text nor an HTML body",
                ));
            }
            let body = Body::builder()
                .set_text(text.as_deref().map(utf8).transpose()?)
                .set_html(html.as_deref().map(utf8).transpose()?)
                .build();
            let message = Message::builder()
                .subject(utf8(subject)?)
                .body(body)
                .build();
            Ok(SdkContent::builder().simple(message).build())
        }
        EmailContent::Template { name, data } => {
            let template = Template::builder()
                .template_name(name)
                .template_data(data.to_string())
                .build();
            Ok(SdkContent::builder().template(template).build())
        }
        other => Err(PortError::permanent(format!(
            "SES SendEmail: unsupported e-mail content: {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_content_has_subject_text_and_html_in_utf8() {
        let content = to_sdk_content(&EmailContent::Simple {
            subject: "Grüße".into(),
            text: Some("plain".into()),
            html: Some("<p>html</p>".into()),
        })
        .unwrap();
        let msg = content.simple().expect("a simple message");
        assert_eq!(msg.subject().unwrap().data(), "Grüße");
        assert_eq!(msg.subject().unwrap().charset(), Some("UTF-8"));
        let body = msg.body().unwrap();
        assert_eq!(body.text().unwrap().data(), "plain");
        assert_eq!(body.html().unwrap().data(), "<p>html</p>");
        assert!(content.template().is_none());
    }

    // moto's SES v2 cannot send templated e-mail, so the integration tests
    // cannot show the request; this shows what we ask SES for.
    #[test]
    fn template_content_names_the_template_and_passes_json_data() {
        let content = to_sdk_content(&EmailContent::Template {
            name: "order-shipped".into(),
            data: serde_json::json!({ "order": 42, "name": "Ann" }),
        })
        .unwrap();
        let template = content.template().expect("a template");
        assert_eq!(template.template_name(), Some("order-shipped"));
        let data: serde_json::Value =
            serde_json::from_str(template.template_data().unwrap()).unwrap();
        assert_eq!(data, serde_json::json!({ "order": 42, "name": "Ann" }));
        assert!(content.simple().is_none());
    }

    #[test]
    fn a_simple_email_without_a_body_is_refused() {
        let err = to_sdk_content(&EmailContent::Simple {
            subject: "s".into(),
            text: None,
            html: None,
        })
        .unwrap_err();
        assert!(!err.is_retryable());
    }
}
