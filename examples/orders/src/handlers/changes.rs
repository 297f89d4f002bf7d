//! DynamoDB Streams: every change to an order, product or user invalidates
//! its cached copy and is synced to the external system; `REMOVE` deletes.

use eventrail::bus::State;
use eventrail::dynamodb::{ChangeKind, DataChange};
use eventrail::{Envelope, HandlerError};
use serde::{Deserialize, Serialize};

use super::Deps;
use crate::ports::ItemKey;

/// What a sync handler did.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Synced {
    /// `ORDER`, `PRODUCT` or `USER`.
    pub entity: String,
    /// `pk/sk`.
    pub key: String,
    /// `upsert` or `delete`.
    pub action: String,
}

/// The primary key of a change, read from its key attributes.
pub fn item_key<T>(change: &DataChange<T>) -> Result<ItemKey, HandlerError> {
    let text = |name: &str| match change.keys.get(name) {
        Some(serde_dynamo::AttributeValue::S(s)) => Ok(s.clone()),
        Some(serde_dynamo::AttributeValue::N(n)) => Ok(n.clone()),
        None if name == "sk" => Ok(String::new()),
        _ => Err(HandlerError::permanent(format!(
            "the change's key has no string attribute `{name}`"
        ))),
    };
    Ok(ItemKey::new(text("pk")?, text("sk")?))
}

/// `sync-order`, `sync-product`, `sync-user`: invalidate the cache, then
/// upsert the new image (or delete, for `REMOVE`) in the external system.
pub async fn sync_change<T: Serialize>(
    env: Envelope<DataChange<T>>,
    entity: &'static str,
    deps: State<Deps>,
) -> Result<Synced, HandlerError> {
    let change = env.event();
    let key = item_key(change)?;
    deps.ports.cache.invalidate(&key).await?;
    let action = match (change.kind, &change.new) {
        (ChangeKind::Remove, _) => {
            deps.ports.external.delete(entity, &key).await?;
            "delete"
        }
        (_, Some(item)) => {
            let item = serde_json::to_value(item).map_err(HandlerError::permanent)?;
            deps.ports.external.upsert(entity, &key, item).await?;
            "upsert"
        }
        (kind, None) => {
            return Err(HandlerError::permanent(format!(
                "{kind} of {key} carries no new image (the stream must send NEW_IMAGE or NEW_AND_OLD_IMAGES)"
            )))
        }
    };
    deps.note(format_args!(
        "{} {entity} {key}: cache invalidated, external {action}",
        change.kind
    ));
    Ok(Synced {
        entity: entity.into(),
        key: key.path(),
        action: action.into(),
    })
}
