//! The hub across server nodes: [`LocalHub`] for this node's connections, Redis pub/sub to
//! reach the others, and presence in Redis so every node agrees who is online.
//!
//! Events are published on one channel, `{prefix}:events`, as JSON `{node, user, event}`;
//! each node delivers those for users it serves and ignores its own. If the subscription
//! drops, the node resubscribes and wakes all its connections to re-read their mailboxes,
//! so a wake-up lost in between delays nothing for long and loses nothing.
//!
//! A node that finds itself alone stops publishing (`PublishGate`): nodes say hello on
//! `{prefix}:nodes` (JSON `{node, signal}`) when they subscribe and every
//! [`HELLO_EVERY`]; a node whose gate was closed opens it on hearing another node and asks
//! every node to wake all its connections (`wake_all`), which re-read their mailboxes and
//! find whatever the skipped events were about.
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

use super::publish_gate::PublishGate;
use super::{ConnectionEntry, Hub, HubEvent, Live, LocalHub};
use crate::store::redis::RedisStore;

/// Seconds a presence entry lives without a heartbeat.
pub const PRESENCE_TTL_SECS: i64 = 90;

/// How often a node says hello to the others, besides when it subscribes: a node whose
/// first hello was lost is heard within this time.
pub const HELLO_EVERY: Duration = Duration::from_secs(10);

#[derive(Serialize, Deserialize)]
struct Envelope {
    node: Uuid,
    user: UserId,
    event: HubEvent,
}

/// What one node tells the others on `{prefix}:nodes`.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Signal {
    /// This node listens.
    Hello,
    /// This node may have skipped events while it thought itself alone: wake every
    /// connection, to re-read its mailbox.
    WakeAll,
}

#[derive(Serialize, Deserialize)]
struct NodeSignal {
    node: Uuid,
    signal: Signal,
}

/// A hub shared by every node on one Redis.
pub struct RedisHub {
    local: Arc<LocalHub>,
    link: NodeLink,
    prefix: String,
}

/// This node as the other nodes see it: its id, its gate, and how to signal them.
#[derive(Clone)]
struct NodeLink {
    node: Uuid,
    conn: ConnectionManager,
    gate: Arc<PublishGate>,
    events: String,
    nodes: String,
}

impl NodeLink {
    /// Publishes `payload` (`what` names it in the log if that fails); returns how many
    /// subscribers it reached.
    async fn publish(&self, channel: &str, payload: String, what: &str) -> Option<i64> {
        let mut conn = self.conn.clone();
        let sent: Result<i64, _> = redis::cmd("PUBLISH").arg(channel).arg(payload).query_async(&mut conn).await;
        sent.map_err(|e| tracing::warn!(error = %e, "publishing {what} failed")).ok()
    }

    /// Publishes `signal`; returns how many subscribers it reached (0 when it failed).
    async fn signal(&self, signal: Signal) -> i64 {
        let Ok(payload) = serde_json::to_string(&NodeSignal { node: self.node, signal }) else { return 0 };
        self.publish(&self.nodes, payload, "a node signal").await.unwrap_or(0)
    }

    /// The gate just opened (another node was heard from, or this node's subscription was
    /// lost): if it was closed, every node wakes all its connections.
    async fn opened(&self, was_closed: bool) {
        if was_closed {
            self.signal(Signal::WakeAll).await;
        }
    }

    /// Says hello; a hello that reached another subscriber besides this node opens the
    /// gate, even if this node's own subscription silently stopped hearing them.
    async fn say_hello(&self) {
        if self.signal(Signal::Hello).await > 1 {
            self.opened(self.gate.open()).await;
        }
    }

    /// A message on `{prefix}:events` or `{prefix}:nodes`: anything from another node
    /// opens the gate.
    async fn heard(&self, channel: &str, payload: &str, local: &LocalHub) {
        let another_node = if channel == self.nodes {
            match serde_json::from_str::<NodeSignal>(payload) {
                Ok(NodeSignal { node, signal }) if node != self.node => {
                    if signal == Signal::WakeAll {
                        local.wake_everyone();
                    }
                    true
                }
                Ok(_) => false,
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable node signal");
                    false
                }
            }
        } else {
            match serde_json::from_str::<Envelope>(payload) {
                Ok(envelope) if envelope.node != self.node => {
                    local.deliver_local(envelope.user, &envelope.event);
                    true
                }
                Ok(_) => false,
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable hub event");
                    false
                }
            }
        };
        if another_node {
            self.opened(self.gate.open()).await;
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl RedisHub {
    /// Starts the subscriber and hello tasks and returns the hub.
    pub async fn start(store: &RedisStore) -> Arc<Self> {
        let link = NodeLink {
            node: Uuid::new_v4(),
            conn: store.conn.clone(),
            gate: Arc::new(PublishGate::default()),
            events: format!("{}:events", store.prefix),
            nodes: format!("{}:nodes", store.prefix),
        };
        let hub = Arc::new(Self { local: Arc::new(LocalHub::default()), link, prefix: store.prefix.clone() });
        tokio::spawn(subscribe_forever(store.client().clone(), hub.link.clone(), hub.local.clone()));
        tokio::spawn(say_hello_forever(hub.link.clone()));
        hub
    }

    fn member(&self, connection: Live) -> String {
        let device = connection.device.map(|d| d.to_string()).unwrap_or_default();
        format!("{}:{}:{device}", self.link.node, connection.id)
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
        let mut conn = self.link.conn.clone();
        let counted: Result<(i64, i64), _> = pipe.query_async(&mut conn).await;
        counted.ok().map(|(_, live)| live)
    }
}

async fn subscribe_forever(client: redis::Client, link: NodeLink, local: Arc<LocalHub>) {
    let mut first = true;
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if pubsub.subscribe(&link.events).await.is_ok() && pubsub.subscribe(&link.nodes).await.is_ok() {
                    link.gate.subscribed();
                    if !first {
                        tracing::info!("redis subscription restored; waking every connection");
                        local.wake_everyone();
                    }
                    first = false;
                    link.say_hello().await;
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let Ok(payload) = message.get_payload::<String>() else { continue };
                        link.heard(message.get_channel_name(), &payload, &local).await;
                    }
                }
                link.opened(link.gate.unsubscribed()).await;
                tracing::warn!("redis subscription lost; reconnecting");
            }
            Err(e) => tracing::warn!(error = %e, "redis pub/sub unavailable; retrying"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Says hello every [`HELLO_EVERY`], so a node that thinks itself alone hears of this one
/// even if the hello sent on subscribing was lost (and learns of others by the answer).
async fn say_hello_forever(link: NodeLink) {
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + HELLO_EVERY, HELLO_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        link.say_hello().await;
    }
}

#[async_trait]
impl Hub for RedisHub {
    fn devices_here(&self, user: UserId) -> Vec<DeviceId> {
        self.local.local_devices(user)
    }

    async fn online_devices(&self, user: UserId) -> Vec<DeviceId> {
        let mut conn = self.link.conn.clone();
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

    fn close_all(&self) {
        self.local.close_all()
    }

    fn ping_slot(&self, slot: u64, slots: u64) {
        self.local.ping_slot(slot, slots)
    }

    async fn send(&self, user: UserId, event: HubEvent) {
        self.local.deliver_local(user, &event);
        let ticket = self.link.gate.ticket();
        if !ticket.is_open() {
            return;
        }
        let event = event.for_other_nodes();
        let Ok(payload) = serde_json::to_string(&Envelope { node: self.link.node, user, event }) else { return };
        if let Some(receivers) = self.link.publish(&self.link.events, payload, "a hub event").await {
            self.link.gate.published(ticket, receivers);
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
        let mut conn = self.link.conn.clone();
        let _: Result<(), _> =
            redis::cmd("SET").arg(format!("{}:lastseen:{user}", self.prefix)).arg(now).query_async(&mut conn).await;
        true
    }

    async fn heartbeat(&self, user: UserId, connection: Live) {
        let mut conn = self.link.conn.clone();
        let _: Result<(), _> = redis::cmd("ZADD")
            .arg(self.conns_key(user))
            .arg(unix_now() + PRESENCE_TTL_SECS)
            .arg(self.member(connection))
            .query_async(&mut conn)
            .await;
    }

    async fn presence(&self, user: UserId) -> (bool, Option<i64>) {
        let mut conn = self.link.conn.clone();
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
