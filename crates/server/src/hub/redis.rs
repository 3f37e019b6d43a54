//! The hub across server nodes: [`LocalHub`] for this node's connections, Redis pub/sub to
//! reach the others, and presence in Redis so every node agrees who is online.
//!
//! Events are published on one channel, `{prefix}:events`, as JSON `{node, user, event}`;
//! each node delivers those for users it serves and ignores its own. If the subscription
//! drops, the node resubscribes and wakes all its connections to re-read their mailboxes,
//! so a wake-up lost in between delays nothing for long and loses nothing.
//!
//! Presence: `{prefix}:conns:{user}` is a sorted set of `node:connection:device` (the
//! device empty for a browser that is not a device of the account) with an expiry time as
//! score, refreshed on every ping; a node that dies stops refreshing and its
//! entries lapse within [`PRESENCE_TTL_SECS`]. `{prefix}:lastseen:{user}` keeps the time of
//! the last disconnect.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use futures_util::StreamExt;
use hush_shared::{DeviceId, UserId};
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ConnectionEntry, Hub, HubEvent, Live, LocalHub};
use crate::store::redis::RedisStore;

/// Seconds a presence entry lives without a heartbeat.
pub const PRESENCE_TTL_SECS: i64 = 90;

#[derive(Serialize, Deserialize)]
struct Envelope {
    node: Uuid,
    user: UserId,
    event: HubEvent,
}

/// A hub shared by every node on one Redis.
pub struct RedisHub {
    local: Arc<LocalHub>,
    conn: ConnectionManager,
    prefix: String,
    node: Uuid,
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl RedisHub {
    /// Starts the subscriber task and returns the hub.
    pub async fn start(store: &RedisStore) -> Arc<Self> {
        let hub = Arc::new(Self {
            local: Arc::new(LocalHub::default()),
            conn: store.conn.clone(),
            prefix: store.prefix.clone(),
            node: Uuid::new_v4(),
        });
        tokio::spawn(subscribe_forever(
            store.client().clone(),
            format!("{}:events", store.prefix),
            hub.node,
            hub.local.clone(),
        ));
        hub
    }

    fn member(&self, connection: Live) -> String {
        let device = connection.device.map(|d| d.to_string()).unwrap_or_default();
        format!("{}:{}:{device}", self.node, connection.id)
    }

    fn conns_key(&self, user: UserId) -> String {
        format!("{}:conns:{user}", self.prefix)
    }

    /// In one atomic step: drops the expired entries of the connection set `key`, runs
    /// `change` on it, and counts the live entries left. `None` when Redis could not be asked.
    async fn live_after(&self, key: &str, change: redis::Cmd) -> Option<i64> {
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("ZREMRANGEBYSCORE").arg(key).arg("-inf").arg(unix_now()).ignore();
        pipe.add_command(change).cmd("ZCARD").arg(key);
        let mut conn = self.conn.clone();
        let counted: Result<(i64, i64), _> = pipe.query_async(&mut conn).await;
        counted.ok().map(|(_, live)| live)
    }
}

async fn subscribe_forever(client: redis::Client, channel: String, node: Uuid, local: Arc<LocalHub>) {
    let mut first = true;
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if pubsub.subscribe(&channel).await.is_ok() {
                    if !first {
                        tracing::info!("redis subscription restored; waking every connection");
                        local.wake_everyone();
                    }
                    first = false;
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let Ok(payload) = message.get_payload::<String>() else { continue };
                        match serde_json::from_str::<Envelope>(&payload) {
                            Ok(envelope) if envelope.node != node => {
                                local.deliver_local(envelope.user, &envelope.event)
                            }
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "unreadable hub event"),
                        }
                    }
                }
                tracing::warn!("redis subscription lost; reconnecting");
            }
            Err(e) => tracing::warn!(error = %e, "redis pub/sub unavailable; retrying"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[async_trait]
impl Hub for RedisHub {
    fn devices_here(&self, user: UserId) -> Vec<DeviceId> {
        self.local.local_devices(user)
    }

    async fn online_devices(&self, user: UserId) -> Vec<DeviceId> {
        let mut conn = self.conn.clone();
        let members: Result<Vec<String>, _> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.conns_key(user))
            .arg(format!("({}", unix_now()))
            .arg("+inf")
            .query_async(&mut conn)
            .await;
        let Ok(members) = members else { return self.local.local_devices(user) };
        let mut devices: Vec<DeviceId> = members.iter().filter_map(|m| m.rsplit(':').next()?.parse().ok()).collect();
        devices.sort();
        devices.dedup();
        devices
    }

    fn register(&self, user: UserId, entry: ConnectionEntry, max_per_user: usize) -> bool {
        self.local.register(user, entry, max_per_user)
    }

    fn unregister(&self, user: UserId, id: u64) {
        self.local.unregister(user, id)
    }

    async fn send(&self, user: UserId, event: HubEvent) {
        self.local.deliver_local(user, &event);
        let event = event.for_other_nodes();
        let Ok(payload) = serde_json::to_string(&Envelope { node: self.node, user, event }) else { return };
        let mut conn = self.conn.clone();
        let published: Result<i64, _> =
            redis::cmd("PUBLISH").arg(format!("{}:events", self.prefix)).arg(payload).query_async(&mut conn).await;
        if let Err(e) = published {
            tracing::warn!(error = %e, "publishing a hub event failed");
        }
    }

    async fn connected(&self, user: UserId, connection: Live) -> bool {
        let key = self.conns_key(user);
        let mut add = redis::cmd("ZADD");
        add.arg(&key).arg(unix_now() + PRESENCE_TTL_SECS).arg(self.member(connection));
        self.live_after(&key, add).await == Some(1)
    }

    async fn disconnected(&self, user: UserId, connection: Live, now: i64) -> bool {
        let key = self.conns_key(user);
        let mut remove = redis::cmd("ZREM");
        remove.arg(&key).arg(self.member(connection));
        if self.live_after(&key, remove).await != Some(0) {
            return false;
        }
        let mut conn = self.conn.clone();
        let _: Result<(), _> =
            redis::cmd("SET").arg(format!("{}:lastseen:{user}", self.prefix)).arg(now).query_async(&mut conn).await;
        true
    }

    async fn heartbeat(&self, user: UserId, connection: Live) {
        let mut conn = self.conn.clone();
        let _: Result<(), _> = redis::cmd("ZADD")
            .arg(self.conns_key(user))
            .arg(unix_now() + PRESENCE_TTL_SECS)
            .arg(self.member(connection))
            .query_async(&mut conn)
            .await;
    }

    async fn presence(&self, user: UserId) -> (bool, Option<i64>) {
        let mut conn = self.conn.clone();
        let result: Result<(i64, Option<i64>), _> = redis::pipe()
            .cmd("ZCOUNT")
            .arg(self.conns_key(user))
            .arg(format!("({}", unix_now()))
            .arg("+inf")
            .cmd("GET")
            .arg(format!("{}:lastseen:{user}", self.prefix))
            .query_async(&mut conn)
            .await;
        match result {
            Ok((n, _)) if n > 0 => (true, None),
            Ok((_, seen)) => (false, seen),
            Err(_) => self.local.presence(user).await,
        }
    }
}
