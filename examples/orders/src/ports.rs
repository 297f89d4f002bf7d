//! What the handlers talk to: eventrail's ports, the app's own two ports (a
//! cache and the external system items are synced to), and the configuration.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use example_orders::ports::{ExternalSync, ItemKey, MemoryExternalSync};
//!
//! let erp = MemoryExternalSync::default();
//! let key = ItemKey::new("PRODUCT#42", "META");
//! erp.upsert("PRODUCT", &key, serde_json::json!({"name": "Mug"})).await.unwrap();
//! assert_eq!(erp.item("PRODUCT", &key), Some(serde_json::json!({"name": "Mug"})));
//! erp.delete("PRODUCT", &key).await.unwrap();
//! assert_eq!(erp.item("PRODUCT", &key), None);
//! # }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use eventrail::async_trait;
use eventrail::ports::{
    Clock, IdempotencyStore, Mailer, Notifier, ObjectStore, PortError, SystemClock, TaskCallbacks,
};

/// The sender of the demo's e-mail.
pub const FROM: &str = "orders@example.com";
/// The topic the demo announces new orders on.
pub const ORDERS_TOPIC: &str = "arn:aws:sns:eu-west-1:111122223333:orders";
/// The topic the demo's alarms go to.
pub const ALARMS_TOPIC: &str = "arn:aws:sns:eu-west-1:111122223333:orders-alarms";
/// The demo's bucket: dead letters and inventory reservations.
pub const BUCKET: &str = "orders-data";

/// Where things go: topics, bucket, sender, environment.
///
/// Under Lambda it comes from the environment ([`Config::from_env`]); the
/// demo and the tests use [`Config::demo`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `ORDERS_ALARMS_TOPIC_ARN`: the SNS topic alarms are published to.
    pub alarms_topic: String,
    /// `ORDERS_TOPIC_ARN`: the SNS topic a new order's follow-up is started on.
    pub orders_topic: String,
    /// `ORDERS_IDEMPOTENCY_TABLE`: the DynamoDB table of idempotency records.
    pub idempotency_table: String,
    /// `ORDERS_BUCKET`: the S3 bucket dead letters and inventory reservations are written to.
    pub bucket: String,
    /// `ORDERS_MAIL_FROM`: the verified SES identity mail is sent from.
    pub mail_from: String,
    /// `ORDERS_ENVIRONMENT`: the environment alarms name (default `prod`).
    pub environment: String,
}

/// The environment variables [`Config::from_env`] reads, required ones first.
pub const ENV_VARS: [&str; 6] = [
    "ORDERS_ALARMS_TOPIC_ARN",
    "ORDERS_TOPIC_ARN",
    "ORDERS_IDEMPOTENCY_TABLE",
    "ORDERS_BUCKET",
    "ORDERS_MAIL_FROM",
    "ORDERS_ENVIRONMENT",
];

impl Config {
    /// The demo's configuration (environment `demo`).
    pub fn demo() -> Self {
        Self {
            alarms_topic: ALARMS_TOPIC.into(),
            orders_topic: ORDERS_TOPIC.into(),
            idempotency_table: "orders-idempotency".into(),
            bucket: BUCKET.into(),
            mail_from: FROM.into(),
            environment: "demo".into(),
        }
    }

    /// Reads the configuration through `var` (e.g. `|n| std::env::var(n).ok()`).
    /// Every variable but `ORDERS_ENVIRONMENT` is required; the error names
    /// all that are missing.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut missing = Vec::new();
        let mut get = |name: &'static str| match var(name).filter(|v| !v.is_empty()) {
            Some(v) => v,
            None => {
                missing.push(name);
                String::new()
            }
        };
        let config = Self {
            alarms_topic: get(ENV_VARS[0]),
            orders_topic: get(ENV_VARS[1]),
            idempotency_table: get(ENV_VARS[2]),
            bucket: get(ENV_VARS[3]),
            mail_from: get(ENV_VARS[4]),
            environment: var(ENV_VARS[5])
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "prod".into()),
        };
        if missing.is_empty() {
            Ok(config)
        } else {
            Err(format!(
                "missing environment variable(s): {} (see examples/orders/README.md)",
                missing.join(", ")
            ))
        }
    }

    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, String> {
        Self::from_vars(|n| std::env::var(n).ok())
    }
}

/// The primary key of a table item.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemKey {
    /// The partition key.
    pub pk: String,
    /// The sort key.
    pub sk: String,
}

impl ItemKey {
    /// `pk` / `sk`.
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    /// `pk/sk`, as [`Display`](fmt::Display) writes it, built without the
    /// formatting machinery (once per synced record).
    pub fn path(&self) -> String {
        let mut path = String::with_capacity(self.pk.len() + 1 + self.sk.len());
        path.push_str(&self.pk);
        path.push('/');
        path.push_str(&self.sk);
        path
    }
}

impl fmt::Display for ItemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.pk, self.sk)
    }
}

/// A read cache of table items, invalidated when an item changes.
#[async_trait]
pub trait Cache: Send + Sync + fmt::Debug {
    /// Drops the cached copy of `key`, if any.
    async fn invalidate(&self, key: &ItemKey) -> Result<(), PortError>;
}

/// The external systems items are synced to (an ERP for orders, a catalogue
/// for products, an identity provider for users).
#[async_trait]
pub trait ExternalSync: Send + Sync + fmt::Debug {
    /// Creates or replaces the item `key` of `entity` (`ORDER`, `PRODUCT`, `USER`).
    async fn upsert(
        &self,
        entity: &str,
        key: &ItemKey,
        item: serde_json::Value,
    ) -> Result<(), PortError>;
    /// Deletes the item `key` of `entity`.
    async fn delete(&self, entity: &str, key: &ItemKey) -> Result<(), PortError>;
    /// Asks the external system to pull the item `key` of `entity` again.
    async fn request_sync(&self, entity: &str, key: &ItemKey) -> Result<(), PortError>;
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A [`Cache`] in this process's memory (on Lambda: one per warm instance).
///
/// It remembers every invalidation ([`invalidated`](Self::invalidated)),
/// for tests, unless built [`without_history`](Self::without_history).
#[derive(Clone, Debug, Default)]
pub struct MemoryCache {
    inner: Arc<Mutex<MemoryCacheState>>,
}

#[derive(Debug, Default)]
struct MemoryCacheState {
    entries: BTreeMap<ItemKey, serde_json::Value>,
    invalidated: Vec<ItemKey>,
    no_history: bool,
}

impl MemoryCache {
    /// A cache that does not remember its invalidations (for a process
    /// nobody inspects: a local `invoke`).
    pub fn without_history() -> Self {
        let cache = Self::default();
        lock(&cache.inner).no_history = true;
        cache
    }

    /// Caches `value` under `key`.
    pub fn put(&self, key: ItemKey, value: serde_json::Value) {
        lock(&self.inner).entries.insert(key, value);
    }

    /// The cached value of `key`.
    pub fn get(&self, key: &ItemKey) -> Option<serde_json::Value> {
        lock(&self.inner).entries.get(key).cloned()
    }

    /// Every invalidation so far, in order.
    pub fn invalidated(&self) -> Vec<ItemKey> {
        lock(&self.inner).invalidated.clone()
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn invalidate(&self, key: &ItemKey) -> Result<(), PortError> {
        let mut s = lock(&self.inner);
        s.entries.remove(key);
        if !s.no_history {
            s.invalidated.push(key.clone());
        }
        Ok(())
    }
}

/// An [`ExternalSync`] that keeps the synced items in memory: what a real
/// client would have sent, readable by tests. Built
/// [`without_history`](Self::without_history) it keeps the items only, not
/// the operations and sync requests.
#[derive(Clone, Debug, Default)]
pub struct MemoryExternalSync {
    inner: Arc<Mutex<SyncState>>,
}

#[derive(Debug, Default)]
struct SyncState {
    items: BTreeMap<(String, ItemKey), serde_json::Value>,
    requested: BTreeSet<(String, ItemKey)>,
    operations: Vec<String>,
    no_history: bool,
}

impl SyncState {
    fn note(&mut self, op: &str, entity: &str, key: &ItemKey) {
        if !self.no_history {
            self.operations.push(format!("{op} {entity} {key}"));
        }
    }
}

impl MemoryExternalSync {
    /// An external system that keeps its items (upserts, deletes) but not
    /// its history: [`operations`](Self::operations) stays empty and
    /// [`was_requested`](Self::was_requested) false (for a process nobody
    /// inspects: a local `invoke`).
    pub fn without_history() -> Self {
        let erp = Self::default();
        lock(&erp.inner).no_history = true;
        erp
    }

    /// The synced copy of `key` of `entity`.
    pub fn item(&self, entity: &str, key: &ItemKey) -> Option<serde_json::Value> {
        lock(&self.inner)
            .items
            .get(&(entity.to_owned(), key.clone()))
            .cloned()
    }

    /// Whether a sync of `key` of `entity` was requested.
    pub fn was_requested(&self, entity: &str, key: &ItemKey) -> bool {
        lock(&self.inner)
            .requested
            .contains(&(entity.to_owned(), key.clone()))
    }

    /// Every operation, in order, as `upsert ORDER ORDER#1/META`.
    pub fn operations(&self) -> Vec<String> {
        lock(&self.inner).operations.clone()
    }
}

#[async_trait]
impl ExternalSync for MemoryExternalSync {
    async fn upsert(
        &self,
        entity: &str,
        key: &ItemKey,
        item: serde_json::Value,
    ) -> Result<(), PortError> {
        let mut s = lock(&self.inner);
        s.note("upsert", entity, key);
        s.items.insert((entity.to_owned(), key.clone()), item);
        Ok(())
    }

    async fn delete(&self, entity: &str, key: &ItemKey) -> Result<(), PortError> {
        let mut s = lock(&self.inner);
        s.note("delete", entity, key);
        s.items.remove(&(entity.to_owned(), key.clone()));
        Ok(())
    }

    async fn request_sync(&self, entity: &str, key: &ItemKey) -> Result<(), PortError> {
        let mut s = lock(&self.inner);
        s.note("request", entity, key);
        if !s.no_history {
            s.requested.insert((entity.to_owned(), key.clone()));
        }
        Ok(())
    }
}

/// Every service the handlers and layers use, and the configuration.
#[derive(Clone, Debug)]
pub struct Ports {
    /// E-mail (SES).
    pub mailer: Arc<dyn Mailer>,
    /// Notifications and alarms (SNS).
    pub notifier: Arc<dyn Notifier>,
    /// Objects (S3).
    pub objects: Arc<dyn ObjectStore>,
    /// Step Functions callbacks.
    pub task_callbacks: Arc<dyn TaskCallbacks>,
    /// Idempotency records (DynamoDB).
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// The item cache.
    pub cache: Arc<dyn Cache>,
    /// The external systems.
    pub external: Arc<dyn ExternalSync>,
    /// Wall time, for idempotency expiry and alarm timestamps.
    pub clock: Arc<dyn Clock>,
    /// Topics, bucket, sender, environment.
    pub config: Config,
}

impl Ports {
    /// Ports on the given services, with an in-memory cache and external
    /// system and the system clock.
    pub fn new(
        mailer: Arc<dyn Mailer>,
        notifier: Arc<dyn Notifier>,
        objects: Arc<dyn ObjectStore>,
        task_callbacks: Arc<dyn TaskCallbacks>,
        idempotency: Arc<dyn IdempotencyStore>,
        config: Config,
    ) -> Self {
        Self {
            mailer,
            notifier,
            objects,
            task_callbacks,
            idempotency,
            cache: Arc::new(MemoryCache::default()),
            external: Arc::new(MemoryExternalSync::default()),
            clock: Arc::new(SystemClock),
            config,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_history_the_memory_ports_keep_their_items_only() {
        let key = ItemKey::new("ORDER#1", "META");
        for (erp, cache, history) in [
            (MemoryExternalSync::default(), MemoryCache::default(), true),
            (
                MemoryExternalSync::without_history(),
                MemoryCache::without_history(),
                false,
            ),
        ] {
            cache.put(key.clone(), serde_json::json!(1));
            cache.invalidate(&key).await.unwrap();
            assert_eq!(cache.get(&key), None, "invalidated either way");
            erp.upsert("ORDER", &key, serde_json::json!({"n": 1}))
                .await
                .unwrap();
            erp.request_sync("ORDER", &key).await.unwrap();
            assert_eq!(erp.item("ORDER", &key), Some(serde_json::json!({"n": 1})));
            assert_eq!(erp.was_requested("ORDER", &key), history);
            assert_eq!(erp.operations().len(), if history { 2 } else { 0 });
            assert_eq!(cache.invalidated().len(), usize::from(history));
            erp.delete("ORDER", &key).await.unwrap();
            assert_eq!(erp.item("ORDER", &key), None);
        }
    }

    #[test]
    fn every_required_variable_missing_is_named() {
        let err = Config::from_vars(|_| None).unwrap_err();
        for v in &ENV_VARS[..5] {
            assert!(err.contains(v), "{err}");
        }
        assert!(!err.contains("ORDERS_ENVIRONMENT"));
    }

    #[test]
    fn the_environment_defaults_to_prod() {
        let c = Config::from_vars(|n| Some(format!("v-{n}")).filter(|_| n != "ORDERS_ENVIRONMENT"))
            .unwrap();
        assert_eq!(c.environment, "prod");
        assert_eq!(c.bucket, "v-ORDERS_BUCKET");
        assert_eq!(c.mail_from, "v-ORDERS_MAIL_FROM");
    }

    #[test]
    fn an_item_key_path_is_its_display() {
        for key in [ItemKey::new("ORDER#1", "META"), ItemKey::new("USER#ü", "")] {
            assert_eq!(key.path(), key.to_string());
        }
    }
}
