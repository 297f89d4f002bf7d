//! The notifications queue: e-mail through SES, SMS and push acknowledged as
//! skipped, and sync requests.

use eventrail::bus::State;
use eventrail::ports::Email;
use eventrail::{Envelope, HandlerError};
use serde::{Deserialize, Serialize};

use super::{Deps, Handled};
use crate::events::{Channel, Notification, SyncRequest};
use crate::ports::ItemKey;

/// A sent e-mail.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    /// The SES message id.
    pub message_id: String,
    /// The template used, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

/// `send-notification`: e-mail (templated when a template is named); SMS and
/// push are acknowledged as skipped, since no provider is wired for them.
pub async fn send_notification(
    env: Envelope<Notification>,
    deps: State<Deps>,
) -> Result<Handled<Sent>, HandlerError> {
    let n = env.event();
    match n.channel {
        Channel::Email => {}
        Channel::Sms => return Ok(deps.skip(format!("SMS to {} is not wired", n.recipient))),
        Channel::Push => return Ok(deps.skip(format!("push to {} is not wired", n.recipient))),
    }
    let from = deps.ports.config.mail_from.as_str();
    let mail = match &n.template_id {
        Some(template) => Email::template(
            from,
            &n.recipient,
            template,
            n.template_data
                .clone()
                .unwrap_or_else(|| serde_json::json!({})),
        ),
        None => Email::text(from, &n.recipient, &n.subject, &n.body),
    };
    let message_id = deps.ports.mailer.send(mail).await?;
    match &n.template_id {
        Some(t) => deps.note(format_args!("mailed {} with template {t}", n.recipient)),
        None => deps.note(format_args!("mailed {} ({:?})", n.recipient, n.subject)),
    }
    Ok(Handled::Processed(Sent {
        message_id,
        template: n.template_id.clone(),
    }))
}

/// What `sync-request` did.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct SyncRequested {
    /// The entity kind.
    pub entity: String,
    /// `pk/sk`.
    pub key: String,
}

/// `sync-request`: drops the cached item and asks the external system to
/// pull it again.
pub async fn sync_request(
    env: Envelope<SyncRequest>,
    deps: State<Deps>,
) -> Result<SyncRequested, HandlerError> {
    let r = env.event();
    let key = ItemKey::new(&r.pk, &r.sk);
    deps.ports.cache.invalidate(&key).await?;
    deps.ports.external.request_sync(&r.entity, &key).await?;
    deps.note(format_args!("requested a sync of {} {key}", r.entity));
    Ok(SyncRequested {
        entity: r.entity.clone(),
        key: key.path(),
    })
}
