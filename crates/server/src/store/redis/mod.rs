//! The Redis backend for everything that is hot and shared between server nodes: the
//! offline mailbox with receipts, the devices' one-time prekeys (consumed like messages),
//! rate-limit buckets, presence and (in `hub::redis`) cross-node fan-out. Accounts,
//! friendships and devices stay in SQLite or MongoDB.
//!
//! Every multi-key change is one Lua script, so it is atomic. Durability is Redis's: run it
//! with `appendonly yes` (AOF); `appendfsync everysec` can lose up to a second of writes on
//! a *machine* crash, `always` loses nothing at a throughput cost. A process crash of Redis
//! loses nothing with either, once the write reached the AOF. The scripts build some keys
//! from arguments, so they target a single Redis (or a primary with replicas), not Redis
//! Cluster.

mod commands;
mod copy_value;
pub mod layout;
mod limits;
mod line_fields;
mod links;
mod mailbox;
mod mailbox_lua;
mod prekeys;
mod receipt_value;

use async_trait::async_trait;
use redis::aio::ConnectionManager;

use super::{HealthCheck, StoreError, StoreResult};

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        StoreError(format!("redis: {e}"))
    }
}

/// A Redis connection (auto-reconnecting) and the key prefix of this deployment.
#[derive(Clone)]
pub struct RedisStore {
    pub(crate) conn: ConnectionManager,
    pub(crate) prefix: String,
    pub(crate) client: redis::Client,
}

impl RedisStore {
    /// Connects to `url` (e.g. `redis://127.0.0.1:6379/0`); keys start with `prefix:`.
    /// Mailbox data in an earlier layout is moved into the current one first.
    pub async fn connect(url: &str, prefix: &str) -> StoreResult<Self> {
        let client = redis::Client::open(url)?;
        let conn = ConnectionManager::new(client.clone()).await?;
        let store = Self { conn, prefix: prefix.to_owned(), client };
        store.migrate_layout().await?;
        Ok(store)
    }

    /// `prefix:part`.
    pub(crate) fn key(&self, part: impl std::fmt::Display) -> String {
        format!("{}:{part}", self.prefix)
    }

    /// The underlying client, for pub/sub.
    pub fn client(&self) -> &redis::Client {
        &self.client
    }
}

#[async_trait]
impl HealthCheck for RedisStore {
    async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }
}
