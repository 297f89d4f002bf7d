//! [`IdempotencyStore`] over DynamoDB.
//!
//! # The lock
//!
//! [`try_lock`](IdempotencyStore::try_lock) is one conditional `PutItem`:
//!
//! ```text
//! attribute_not_exists(#pk)
//!   OR #exp <= :now
//!   OR (#status = :inprogress AND #ipexp <= :now)
//! ```
//!
//! with `ReturnValuesOnConditionCheckFailure = ALL_OLD`, so when a live
//! record blocks the lock DynamoDB hands it back in the same response and
//! [`LockOutcome::Exists`] carries it: no second read, and no window between
//! a read and a write for another invocation to slip into. The condition is
//! [`IdempotencyRecord::is_live_at`] written for DynamoDB.
//! [`complete`](IdempotencyStore::complete) is an unconditional `UpdateItem`
//! (a handler whose lock was taken over still records its result),
//! [`delete`](IdempotencyStore::delete) a `DeleteItem` and
//! [`get`](IdempotencyStore::get) a strongly consistent `GetItem`.
//!
//! # The table
//!
//! One item per idempotency key. [`TableLayout`] names the table and every
//! attribute; the defaults are:
//!
//! | attribute | type | holds |
//! |---|---|---|
//! | `id` | S | the idempotency key (the table's partition key) |
//! | `status` | S | `INPROGRESS` or `COMPLETED` |
//! | `expires_at` | N | when the record expires, epoch milliseconds |
//! | `in_progress_expires_at` | N | when an in-progress record may be taken over, epoch milliseconds |
//! | `ttl` | N | `expires_at` in epoch seconds, rounded up, for DynamoDB TTL |
//! | `payload_hash` | S | the payload's hash, when the caller gave one |
//! | `result` | S | the handler's result (JSON text) once completed |
//!
//! Expiry times are stored rounded up to the millisecond and `now` rounded
//! down, so a record never stops blocking before its time. DynamoDB TTL
//! deletes expired items eventually (often hours later); the lock does not
//! wait for it, the condition compares times itself. Turn TTL on for the
//! table's TTL attribute, e.g.
//! `aws dynamodb update-time-to-live --table-name idempotency --time-to-live-specification Enabled=true,AttributeName=ttl`.
//!
//! A table shared with other data can keep records under one partition
//! value with the key as the sort key: [`TableLayout::with_sort_key`].
//!
//! ```no_run
//! use std::time::{Duration, SystemTime};
//! use eventrail::ports::{IdempotencyRecord, IdempotencyStore, LockOutcome};
//! use eventrail_aws::{config, DynamoDbIdempotencyStore, TableLayout};
//!
//! # async fn run() -> Result<(), eventrail::ports::PortError> {
//! let store = DynamoDbIdempotencyStore::from_conf(
//!     &config::load().await,
//!     TableLayout::new("idempotency").with_key_attribute("pk"),
//! );
//! let now = SystemTime::now();
//! let record = IdempotencyRecord::in_progress(
//!     "order-42",
//!     now + Duration::from_secs(3600),
//!     Some(now + Duration::from_secs(30)),
//!     None,
//! );
//! match store.try_lock(record, now).await? {
//!     LockOutcome::Acquired => {
//!         // ... handle the event, then:
//!         store
//!             .complete("order-42", r#"{"ok":true}"#.into(), now + Duration::from_secs(3600))
//!             .await?;
//!     }
//!     LockOutcome::Exists(existing) => println!("already seen: {:?}", existing.status),
//! }
//! # Ok(()) }
//! ```
//!
//! # Errors
//!
//! Every error names the idempotency key it was about. Throttling
//! (`ProvisionedThroughputExceededException`, `ThrottlingException`,
//! `RequestLimitExceeded`), transaction conflicts and 5xx are retryable; a
//! missing table (`ResourceNotFoundException`) or a stored item that is not
//! a record in this layout is permanent.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use eventrail::ports::{
    IdempotencyRecord, IdempotencyStatus, IdempotencyStore, LockOutcome, PortError,
};

use crate::error::from_sdk;

const IN_PROGRESS: &str = "INPROGRESS";
const COMPLETED: &str = "COMPLETED";

/// The lock's condition; the placeholders are bound in
/// [`DynamoDbIdempotencyStore::try_lock`].
const LOCK_CONDITION: &str =
    "attribute_not_exists(#pk) OR #exp <= :now OR (#status = :inprogress AND #ipexp <= :now)";

/// Where and how records are stored: the table and its attribute names.
/// See the [module docs](self) for the defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableLayout {
    table: String,
    key: String,
    sort_key: Option<SortKey>,
    status: String,
    expires_at: String,
    in_progress_expires_at: String,
    ttl: String,
    payload_hash: String,
    result: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct SortKey {
    attribute: String,
    partition_value: String,
}

impl TableLayout {
    /// The default layout in `table`.
    pub fn new(table: impl Into<String>) -> Self {
        Self {
            table: table.into(),
            key: "id".into(),
            sort_key: None,
            status: "status".into(),
            expires_at: "expires_at".into(),
            in_progress_expires_at: "in_progress_expires_at".into(),
            ttl: "ttl".into(),
            payload_hash: "payload_hash".into(),
            result: "result".into(),
        }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Names the partition key attribute (default `id`).
    pub fn with_key_attribute(mut self, name: impl Into<String>) -> Self {
        self.key = name.into();
        self
    }

    /// Stores every record under the partition key value `partition_value`,
    /// with the idempotency key in the sort key attribute `attribute`: for
    /// a table with a composite primary key shared with other data.
    pub fn with_sort_key(
        mut self,
        attribute: impl Into<String>,
        partition_value: impl Into<String>,
    ) -> Self {
        self.sort_key = Some(SortKey {
            attribute: attribute.into(),
            partition_value: partition_value.into(),
        });
        self
    }

    /// Names the status attribute (default `status`).
    pub fn with_status_attribute(mut self, name: impl Into<String>) -> Self {
        self.status = name.into();
        self
    }

    /// Names the expiry attribute, epoch milliseconds (default `expires_at`).
    pub fn with_expires_at_attribute(mut self, name: impl Into<String>) -> Self {
        self.expires_at = name.into();
        self
    }

    /// Names the in-progress expiry attribute, epoch milliseconds (default
    /// `in_progress_expires_at`).
    pub fn with_in_progress_expires_at_attribute(mut self, name: impl Into<String>) -> Self {
        self.in_progress_expires_at = name.into();
        self
    }

    /// Names the DynamoDB TTL attribute, epoch seconds (default `ttl`).
    pub fn with_ttl_attribute(mut self, name: impl Into<String>) -> Self {
        self.ttl = name.into();
        self
    }

    /// Names the payload hash attribute (default `payload_hash`).
    pub fn with_payload_hash_attribute(mut self, name: impl Into<String>) -> Self {
        self.payload_hash = name.into();
        self
    }

    /// Names the result attribute (default `result`).
    pub fn with_result_attribute(mut self, name: impl Into<String>) -> Self {
        self.result = name.into();
        self
    }

    /// The primary key of `key`'s item.
    fn primary_key(&self, key: &str) -> HashMap<String, AttributeValue> {
        let mut item = HashMap::new();
        match &self.sort_key {
            None => {
                item.insert(self.key.clone(), AttributeValue::S(key.to_owned()));
            }
            Some(sk) => {
                item.insert(
                    self.key.clone(),
                    AttributeValue::S(sk.partition_value.clone()),
                );
                item.insert(sk.attribute.clone(), AttributeValue::S(key.to_owned()));
            }
        }
        item
    }

    /// The attribute that holds the idempotency key.
    fn key_holder(&self) -> &str {
        self.sort_key
            .as_ref()
            .map_or(self.key.as_str(), |sk| sk.attribute.as_str())
    }

    /// The whole item for `record`.
    fn item(&self, record: &IdempotencyRecord) -> HashMap<String, AttributeValue> {
        let mut item = self.primary_key(&record.key);
        let status = match record.status {
            IdempotencyStatus::InProgress => IN_PROGRESS,
            IdempotencyStatus::Completed => COMPLETED,
        };
        item.insert(self.status.clone(), AttributeValue::S(status.to_owned()));
        item.insert(
            self.expires_at.clone(),
            number(millis_ceil(record.expires_at)),
        );
        item.insert(self.ttl.clone(), number(secs_ceil(record.expires_at)));
        if let Some(t) = record.in_progress_expires_at {
            item.insert(self.in_progress_expires_at.clone(), number(millis_ceil(t)));
        }
        if let Some(hash) = &record.payload_hash {
            item.insert(self.payload_hash.clone(), AttributeValue::S(hash.clone()));
        }
        if let Some(result) = &record.result {
            item.insert(self.result.clone(), AttributeValue::S(result.clone()));
        }
        item
    }

    /// The record stored in `item`, which was read for `key`.
    fn record(
        &self,
        key: &str,
        item: &HashMap<String, AttributeValue>,
    ) -> Result<IdempotencyRecord, PortError> {
        let bad = |what: String| {
            PortError::permanent(format!(
                "DynamoDB table `{}`: the item for idempotency key `{key}` is not an idempotency record: {what}",
                self.table
            ))
        };
        let string = |name: &str| -> Result<Option<String>, PortError> {
            match item.get(name) {
                None | Some(AttributeValue::Null(_)) => Ok(None),
                Some(AttributeValue::S(s)) => Ok(Some(s.clone())),
                Some(other) => Err(bad(format!("`{name}` is not a string: {other:?}"))),
            }
        };
        let millis = |name: &str| -> Result<Option<SystemTime>, PortError> {
            match item.get(name) {
                None | Some(AttributeValue::Null(_)) => Ok(None),
                Some(AttributeValue::N(n)) => n
                    .parse::<u64>()
                    .map(|ms| Some(UNIX_EPOCH + Duration::from_millis(ms)))
                    .map_err(|_| bad(format!("`{name}` is not epoch milliseconds: {n}"))),
                Some(other) => Err(bad(format!("`{name}` is not a number: {other:?}"))),
            }
        };
        let stored_key = string(self.key_holder())?.unwrap_or_else(|| key.to_owned());
        let status = match string(&self.status)?.as_deref() {
            Some(IN_PROGRESS) => IdempotencyStatus::InProgress,
            Some(COMPLETED) => IdempotencyStatus::Completed,
            Some(other) => return Err(bad(format!("unknown status `{other}`"))),
            None => return Err(bad(format!("no `{}` attribute", self.status))),
        };
        let expires_at = millis(&self.expires_at)?
            .ok_or_else(|| bad(format!("no `{}` attribute", self.expires_at)))?;
        let mut record = IdempotencyRecord::in_progress(
            stored_key,
            expires_at,
            millis(&self.in_progress_expires_at)?,
            string(&self.payload_hash)?,
        );
        record.status = status;
        record.result = string(&self.result)?;
        Ok(record)
    }
}

/// Stores idempotency records in a DynamoDB table. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct DynamoDbIdempotencyStore {
    client: Client,
    layout: TableLayout,
}

impl DynamoDbIdempotencyStore {
    /// A store over a client you configured.
    pub fn new(client: Client, layout: TableLayout) -> Self {
        Self { client, layout }
    }

    /// A store configured by `config` (region, credentials, endpoint).
    pub fn from_conf(config: &SdkConfig, layout: TableLayout) -> Self {
        Self::new(Client::new(config), layout)
    }

    /// The table layout.
    pub fn layout(&self) -> &TableLayout {
        &self.layout
    }

    /// The SDK client, for calls this type does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn what(&self, op: &str, key: &str) -> String {
        format!(
            "DynamoDB {op} on table `{}` for idempotency key `{key}`",
            self.layout.table
        )
    }
}

#[async_trait]
impl IdempotencyStore for DynamoDbIdempotencyStore {
    async fn try_lock(
        &self,
        record: IdempotencyRecord,
        now: SystemTime,
    ) -> Result<LockOutcome, PortError> {
        let l = &self.layout;
        let result = self
            .client
            .put_item()
            .table_name(&l.table)
            .set_item(Some(l.item(&record)))
            .condition_expression(LOCK_CONDITION)
            .expression_attribute_names("#pk", &l.key)
            .expression_attribute_names("#exp", &l.expires_at)
            .expression_attribute_names("#status", &l.status)
            .expression_attribute_names("#ipexp", &l.in_progress_expires_at)
            .expression_attribute_values(":now", number(millis_floor(now)))
            .expression_attribute_values(":inprogress", AttributeValue::S(IN_PROGRESS.into()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(LockOutcome::Acquired),
            Err(err) => err,
        };
        if let Some(PutItemError::ConditionalCheckFailedException(failed)) = err.as_service_error()
        {
            return match failed.item() {
                Some(item) => l.record(&record.key, item).map(LockOutcome::Exists),
                None => Err(PortError::permanent(format!(
                    "{}: a live record blocks the lock, but DynamoDB did not return it",
                    self.what("PutItem", &record.key)
                ))
                .with_code("ConditionalCheckFailedException")),
            };
        }
        Err(from_sdk(&self.what("PutItem", &record.key), err))
    }

    async fn complete(
        &self,
        key: &str,
        result: String,
        expires_at: SystemTime,
    ) -> Result<(), PortError> {
        let l = &self.layout;
        self.client
            .update_item()
            .table_name(&l.table)
            .set_key(Some(l.primary_key(key)))
            .update_expression(
                "SET #status = :completed, #result = :result, #exp = :exp, #ttl = :ttl REMOVE #ipexp",
            )
            .expression_attribute_names("#status", &l.status)
            .expression_attribute_names("#result", &l.result)
            .expression_attribute_names("#exp", &l.expires_at)
            .expression_attribute_names("#ttl", &l.ttl)
            .expression_attribute_names("#ipexp", &l.in_progress_expires_at)
            .expression_attribute_values(":completed", AttributeValue::S(COMPLETED.into()))
            .expression_attribute_values(":result", AttributeValue::S(result))
            .expression_attribute_values(":exp", number(millis_ceil(expires_at)))
            .expression_attribute_values(":ttl", number(secs_ceil(expires_at)))
            .send()
            .await
            .map(drop)
            .map_err(|e| from_sdk(&self.what("UpdateItem", key), e))
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.client
            .delete_item()
            .table_name(&self.layout.table)
            .set_key(Some(self.layout.primary_key(key)))
            .send()
            .await
            .map(drop)
            .map_err(|e| from_sdk(&self.what("DeleteItem", key), e))
    }

    async fn get(&self, key: &str) -> Result<Option<IdempotencyRecord>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.layout.table)
            .set_key(Some(self.layout.primary_key(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk(&self.what("GetItem", key), e))?;
        out.item
            .map(|item| self.layout.record(key, &item))
            .transpose()
    }
}

fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn since_epoch(t: SystemTime) -> Duration {
    t.duration_since(UNIX_EPOCH).unwrap_or_default()
}

fn millis_floor(t: SystemTime) -> u64 {
    u64::try_from(since_epoch(t).as_millis()).unwrap_or(u64::MAX)
}

fn millis_ceil(t: SystemTime) -> u64 {
    let d = since_epoch(t);
    let extra = u64::from(!d.subsec_nanos().is_multiple_of(1_000_000));
    millis_floor(t).saturating_add(extra)
}

fn secs_ceil(t: SystemTime) -> u64 {
    let d = since_epoch(t);
    d.as_secs() + u64::from(d.subsec_nanos() != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn times_round_so_a_record_never_expires_early() {
        let t = UNIX_EPOCH + Duration::from_nanos(1_500_000_001);
        assert_eq!(millis_ceil(t), 1501);
        assert_eq!(millis_floor(t), 1500);
        assert_eq!(secs_ceil(t), 2);
        assert_eq!(millis_ceil(at(1500)), 1500);
        assert_eq!(secs_ceil(at(2000)), 2);
        assert_eq!(millis_floor(UNIX_EPOCH - Duration::from_secs(1)), 0);
    }

    #[test]
    fn a_record_round_trips_through_an_item() {
        let layout = TableLayout::new("t")
            .with_key_attribute("pk")
            .with_ttl_attribute("expires");
        let mut record =
            IdempotencyRecord::in_progress("k-1", at(10_000), Some(at(5_000)), Some("h".into()));
        let item = layout.item(&record);
        assert_eq!(item["pk"], AttributeValue::S("k-1".into()));
        assert_eq!(item["status"], AttributeValue::S("INPROGRESS".into()));
        assert_eq!(item["expires_at"], AttributeValue::N("10000".into()));
        assert_eq!(item["expires"], AttributeValue::N("10".into()));
        assert_eq!(
            item["in_progress_expires_at"],
            AttributeValue::N("5000".into())
        );
        assert_eq!(layout.record("k-1", &item).unwrap(), record);

        record.status = IdempotencyStatus::Completed;
        record.in_progress_expires_at = None;
        record.result = Some("{}".into());
        let item = layout.item(&record);
        assert!(!item.contains_key("in_progress_expires_at"));
        assert_eq!(layout.record("k-1", &item).unwrap(), record);
    }

    #[test]
    fn a_sort_key_layout_keeps_the_key_in_the_sort_key() {
        let layout = TableLayout::new("shared").with_sort_key("sk", "idempotency");
        let key = layout.primary_key("k-2");
        assert_eq!(key["id"], AttributeValue::S("idempotency".into()));
        assert_eq!(key["sk"], AttributeValue::S("k-2".into()));
        let record = IdempotencyRecord::in_progress("k-2", at(1_000), None, None);
        assert_eq!(
            layout.record("k-2", &layout.item(&record)).unwrap().key,
            "k-2"
        );
    }

    #[test]
    fn a_foreign_item_is_a_permanent_error_naming_the_key() {
        let layout = TableLayout::new("t");
        let mut item = layout.primary_key("k-3");
        item.insert("status".into(), AttributeValue::S("DONE".into()));
        let err = layout.record("k-3", &item).unwrap_err();
        assert!(!err.is_retryable());
        assert!(err.message().contains("`k-3`"), "{err}");
        assert!(err.message().contains("DONE"), "{err}");
    }
}
