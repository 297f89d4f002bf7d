//! Amazon SES: e-mail, plain or from a template.

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::PortError;

/// The content of an e-mail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EmailContent {
    /// A plain and/or HTML body.
    Simple {
        /// The subject.
        subject: String,
        /// The text body.
        text: Option<String>,
        /// The HTML body.
        html: Option<String>,
    },
    /// A stored template rendered with `data`.
    Template {
        /// The template's name.
        name: String,
        /// The template's variables.
        data: serde_json::Value,
    },
}

/// An e-mail to send.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Email {
    /// The sender; must be a verified identity.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// Carbon-copy recipients.
    pub cc: Vec<String>,
    /// Blind carbon-copy recipients.
    pub bcc: Vec<String>,
    /// Reply-to addresses.
    pub reply_to: Vec<String>,
    /// The content.
    pub content: EmailContent,
}

impl Email {
    /// A plain-text e-mail.
    pub fn text(
        from: impl Into<String>,
        to: impl Into<String>,
        subject: impl Into<String>,
        body: impl Into<String>,
    ) -> Self {
        Self::with_content(
            from,
            to,
            EmailContent::Simple {
                subject: subject.into(),
                text: Some(body.into()),
                html: None,
            },
        )
    }

    /// A templated e-mail.
    pub fn template(
        from: impl Into<String>,
        to: impl Into<String>,
        template: impl Into<String>,
        data: serde_json::Value,
    ) -> Self {
        Self::with_content(
            from,
            to,
            EmailContent::Template {
                name: template.into(),
                data,
            },
        )
    }

    /// An e-mail with the given content.
    pub fn with_content(
        from: impl Into<String>,
        to: impl Into<String>,
        content: EmailContent,
    ) -> Self {
        Self {
            from: from.into(),
            to: vec![to.into()],
            cc: Vec::new(),
            bcc: Vec::new(),
            reply_to: Vec::new(),
            content,
        }
    }

    /// Adds an HTML body to a simple e-mail (no effect on templated ones).
    pub fn with_html(mut self, html: impl Into<String>) -> Self {
        if let EmailContent::Simple { html: h, .. } = &mut self.content {
            *h = Some(html.into());
        }
        self
    }

    /// Adds a recipient.
    pub fn add_to(mut self, addr: impl Into<String>) -> Self {
        self.to.push(addr.into());
        self
    }

    /// Adds a carbon-copy recipient.
    pub fn add_cc(mut self, addr: impl Into<String>) -> Self {
        self.cc.push(addr.into());
        self
    }

    /// Adds a blind carbon-copy recipient.
    pub fn add_bcc(mut self, addr: impl Into<String>) -> Self {
        self.bcc.push(addr.into());
        self
    }

    /// Adds a reply-to address.
    pub fn add_reply_to(mut self, addr: impl Into<String>) -> Self {
        self.reply_to.push(addr.into());
        self
    }
}

/// Sends e-mail.
#[async_trait]
pub trait Mailer: Send + Sync + fmt::Debug {
    /// Sends `mail` and returns the message id.
    async fn send(&self, mail: Email) -> Result<String, PortError>;
}
