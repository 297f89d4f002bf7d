//! The dead-letter queue: store the failed message, then raise a `CRITICAL`
//! alarm for a person to look at it.

use bytes::Bytes;
use eventrail::bus::State;
use eventrail::layers::{Alarm, Severity};
use eventrail::{Envelope, HandlerError};
use serde::{Deserialize, Serialize};

use super::Deps;
use crate::events::DeadLetter;

/// The object key a dead letter is stored under.
pub fn dead_letter_key(d: &DeadLetter) -> String {
    format!("dead-letters/{}/{}.json", d.source_queue(), d.message_id)
}

/// What `store-dead-letter` did.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Stored {
    /// `s3://bucket/key` of the stored message.
    pub stored: String,
    /// Whether the `CRITICAL` alarm was published.
    pub alarmed: bool,
}

/// `store-dead-letter`: writes the message (body and attributes) to the
/// bucket, then publishes a `CRITICAL` alarm. The record is done once
/// stored: an alarm that cannot be published is logged and counted by the
/// alarm service, and reported in the output, but does not make SQS deliver
/// the message again.
pub async fn store_dead_letter(
    env: Envelope<DeadLetter>,
    deps: State<Deps>,
) -> Result<Stored, HandlerError> {
    let dead = env.event();
    let key = dead_letter_key(dead);
    let body = serde_json::to_vec_pretty(dead).map_err(HandlerError::permanent)?;
    deps.ports
        .objects
        .put(
            &deps.ports.config.bucket,
            &key,
            Bytes::from(body),
            Some("application/json"),
        )
        .await?;
    let stored = format!("s3://{}/{key}", deps.ports.config.bucket);
    let message = format!(
        "message {} failed on {} after {} receive(s); stored at {stored}",
        dead.message_id,
        dead.source_queue(),
        dead.receive_count.map_or("?".into(), |c| c.to_string()),
    );
    // `Alarm` built here rather than `AlarmService::critical`, whose future
    // is not `Send` (it holds a `&dyn Error` across the publish).
    let alarm = Alarm::new(Severity::Critical, deps.name, message)
        .with_meta(env.meta())
        .with_event_type("DeadLetter");
    let alarmed = deps.alarms.send(alarm).await.is_ok();
    deps.note(format_args!(
        "stored dead letter {} at {stored}",
        dead.message_id
    ));
    Ok(Stored { stored, alarmed })
}
