//! Orders: the three handlers a new order fans out to (reserve inventory in
//! S3, confirm by e-mail through SES, start the follow-up on SNS), and the
//! Step Functions `ORDER_PROCESS` task.
//!
//! The fan-out handlers act on `INSERT` only; other changes to an order are
//! skipped by them with a reason (its sync handler still runs). The order
//! is done when all of its handlers are.

use bytes::Bytes;
use eventrail::bus::State;
use eventrail::dynamodb::{ChangeKind, DataChange};
use eventrail::ports::{Email, SnsMessage};
use eventrail::{Envelope, HandlerError};
use serde::{Deserialize, Serialize};

use super::{Deps, Handled};
use crate::events::{Order, ProcessOrder};

/// The object key of an order's inventory reservation.
pub fn reservation_key(order_id: &str) -> String {
    format!("inventory/reservations/{order_id}.json")
}

/// The new order in a change, or the reason the change is not one.
fn new_order<'a, H>(deps: &Deps, change: &'a DataChange<Order>) -> Result<&'a Order, Handled<H>> {
    match (change.kind, &change.new) {
        (ChangeKind::Insert, Some(order)) => Ok(order),
        (ChangeKind::Insert, None) => Err(deps.skip("INSERT without a new image")),
        (kind, _) => Err(deps.skip(format!("{kind} is not a new order"))),
    }
}

async fn reserve(deps: &Deps, order_id: &str, items: u32) -> Result<String, HandlerError> {
    let key = reservation_key(order_id);
    let body = serde_json::json!({"orderId": order_id, "items": items}).to_string();
    deps.ports
        .objects
        .put(
            &deps.ports.config.bucket,
            &key,
            Bytes::from(body),
            Some("application/json"),
        )
        .await?;
    Ok(key)
}

/// What `reserve-inventory` wrote.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Reserved {
    /// `s3://bucket/key` of the reservation.
    pub reservation: String,
}

/// `reserve-inventory`: writes the order's reservation to the bucket.
pub async fn reserve_inventory(
    env: Envelope<DataChange<Order>>,
    deps: State<Deps>,
) -> Result<Handled<Reserved>, HandlerError> {
    let order = match new_order(&deps, env.event()) {
        Ok(o) => o,
        Err(skipped) => return Ok(skipped),
    };
    let key = reserve(&deps, order.id(), order.items).await?;
    let reservation = format!("s3://{}/{key}", deps.ports.config.bucket);
    deps.note(format_args!(
        "reserved {} item(s) for order {}",
        order.items,
        order.id()
    ));
    Ok(Handled::Processed(Reserved { reservation }))
}

/// What `send-confirmation` sent.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Confirmed {
    /// The SES message id.
    pub message_id: String,
}

/// `send-confirmation`: e-mails the customer.
pub async fn send_confirmation(
    env: Envelope<DataChange<Order>>,
    deps: State<Deps>,
) -> Result<Handled<Confirmed>, HandlerError> {
    let order = match new_order(&deps, env.event()) {
        Ok(o) => o,
        Err(skipped) => return Ok(skipped),
    };
    let message_id = deps
        .ports
        .mailer
        .send(Email::text(
            &deps.ports.config.mail_from,
            &order.email,
            format!("Order {} confirmed", order.id()),
            format!("Total: {}.{:02}", order.total / 100, order.total % 100),
        ))
        .await?;
    deps.note(format_args!(
        "confirmed order {} to {}",
        order.id(),
        order.email
    ));
    Ok(Handled::Processed(Confirmed { message_id }))
}

/// What `start-follow-up` published.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FollowUp {
    /// The SNS message id.
    pub message_id: String,
}

/// `start-follow-up`: announces the order on the orders topic.
pub async fn start_follow_up(
    env: Envelope<DataChange<Order>>,
    deps: State<Deps>,
) -> Result<Handled<FollowUp>, HandlerError> {
    let order = match new_order(&deps, env.event()) {
        Ok(o) => o,
        Err(skipped) => return Ok(skipped),
    };
    let body = serde_json::json!({
        "type": "ORDER_CREATED",
        "orderId": order.id(),
        "total": order.total,
        "items": order.items,
    });
    let receipt = deps
        .ports
        .notifier
        .publish(
            SnsMessage::new(&deps.ports.config.orders_topic, body.to_string())
                .with_subject(format!("Order {} created", order.id())),
        )
        .await?;
    deps.note(format_args!(
        "started the follow-up of order {}",
        order.id()
    ));
    Ok(Handled::Processed(FollowUp {
        message_id: receipt.message_id,
    }))
}

/// What `process-order` returns to the state machine.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProcessResult {
    /// The order id.
    pub order_id: String,
    /// Items reserved.
    pub items: u32,
    /// `s3://bucket/key` of the reservation.
    pub reservation: String,
}

/// `process-order` (Step Functions `ORDER_PROCESS`): reserves the order's
/// items. An order without items fails permanently: the task fails, with
/// an alarm.
pub async fn process_order(
    env: Envelope<ProcessOrder>,
    deps: State<Deps>,
) -> Result<ProcessResult, HandlerError> {
    let p = env.event();
    if p.items == 0 {
        return Err(HandlerError::permanent(format!(
            "order {} has no items",
            p.order_id
        )));
    }
    let key = reserve(&deps, &p.order_id, p.items).await?;
    deps.note(format_args!(
        "processed order {} ({} items)",
        p.order_id, p.items
    ));
    Ok(ProcessResult {
        order_id: p.order_id.clone(),
        items: p.items,
        reservation: format!("s3://{}/{key}", deps.ports.config.bucket),
    })
}
