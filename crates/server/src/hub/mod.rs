//! The hub: which users have live connections on this node, and how to reach them.
//!
//! Delivery never depends on a hub message arriving: messages and receipts live in the
//! mailbox, and the hub only *wakes* a connection to re-read it (a flag plus a signal,
//! which cannot overflow) — or, for a copy just stored for a device connected here, hands
//! the copy over with what came before it in the mailbox, so a connection that has read
//! up to there sends it without reading ([`Handoff`]); anything else reads. Ephemeral
//! frames (presence, typing, friend events) go through a bounded per-connection queue; a
//! connection whose queue is full is marked lagging and closed, so its client reconnects
//! and resyncs instead of silently missing an event.
//!
//! The services send events through it; the WebSocket connections (the `ws` module) register
//! with it. [`LocalHub`] serves one node; [`redis::RedisHub`] wraps it and fans events out
//! to every node through Redis pub/sub.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use async_trait::async_trait;
use futures_util::future::poll_fn;
use futures_util::task::AtomicWaker;
use hush_shared::ws::{MessageId, ServerFrame};
use hush_shared::{DeviceId, UserId};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::maps::HashMap;
use crate::store::{Preceding, SessionId, StoredReceipt};

mod publish_gate;
pub mod redis;

/// Frames queued per connection before it counts as lagging.
pub const FRAME_QUEUE: usize = 256;

/// Hand-offs one connection holds before it reads its mailbox instead.
const MAX_HANDOFFS: usize = 64;

/// A copy (or receipt) just stored in the mailbox of `device`, handed to that device's
/// connections on this node; `prev` is where the one stored in that mailbox (among its
/// copies, or its receipts) just before it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handoff {
    /// The device whose mailbox holds it.
    pub device: DeviceId,
    /// The one stored in that mailbox just before.
    pub prev: Preceding,
    /// The copy or receipt.
    pub item: Handed,
}

/// What a [`Handoff`] carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handed {
    /// A copy of a message.
    Message(HandedCopy),
    /// A receipt.
    Receipt(StoredReceipt),
}

/// A copy handed over: the message as its mailbox holds it, but its envelope as the
/// sender's base64url text. Storing the send decoded that text, which also proved it valid
/// and canonical (the encoding of the bytes it decodes to), so the `message` frame takes it
/// as it is instead of encoding the bytes again (BENCHMARKS.md, "Envelopes relayed as
/// written").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandedCopy {
    /// Position in the mailbox.
    pub seq: i64,
    /// Client-chosen id.
    pub id: MessageId,
    /// Sender.
    pub from: UserId,
    /// The sender's device.
    pub from_device: DeviceId,
    /// The person it is addressed to.
    pub to: UserId,
    /// The envelope, base64url without padding, as the sender wrote it.
    pub envelope_b64: String,
    /// Unix seconds when stored.
    pub stored_at: i64,
}

impl Handed {
    /// The wake-up flag of a connection that reads this kind instead of taking it.
    fn flag<'a>(&self, wake: &'a Wake) -> &'a AtomicBool {
        match self {
            Handed::Message(_) => &wake.mail,
            Handed::Receipt(_) => &wake.receipts,
        }
    }
}

/// Something to tell a user's connections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HubEvent {
    /// New messages in the mailbox.
    Mail,
    /// New messages or receipts in the mailbox, some handed over: a connection of a device
    /// with a hand-off takes it, the others read. Other nodes are told [`HubEvent::Mail`]
    /// or [`HubEvent::Receipts`].
    #[serde(skip)]
    Stored(Vec<Handoff>),
    /// New receipts.
    Receipts,
    /// An ephemeral frame to forward as is.
    Frame(ServerFrame),
    /// This session ended: its connections must close.
    SessionRevoked(SessionId),
    /// This session's device was removed: its connections close saying so.
    DeviceRemoved(SessionId),
}

/// Wake-up flags of one connection.
#[derive(Debug, Default)]
pub struct Wake {
    /// New mail may be waiting.
    pub mail: AtomicBool,
    /// New receipts may be waiting.
    pub receipts: AtomicBool,
    /// The frame queue overflowed.
    pub lagging: AtomicBool,
    /// Set by [`HubEvent::SessionRevoked`] for this connection's session.
    pub revoked: AtomicBool,
    /// Set by [`HubEvent::DeviceRemoved`] for this connection's session.
    pub removed: AtomicBool,
    /// Set by [`Hub::close_all`]: the server is shutting down.
    pub closing: AtomicBool,
    /// Set by [`Hub::ping_slot`]: time to ping the client and check the connection.
    pub ping_due: AtomicBool,
    /// Copies handed over, in the order they came.
    handoffs: Mutex<Vec<Handoff>>,
    /// Set by [`Self::raise`] until the connection's task sees it ([`Self::raised`]).
    raised: AtomicBool,
    /// The connection's task, registered each time it waits.
    task: AtomicWaker,
}

impl Wake {
    /// Keeps `handoffs` for the connection; `false` (keeping none) when it holds too many
    /// already — it reads its mailbox instead.
    fn hand_off(&self, handoffs: impl Iterator<Item = Handoff>) -> bool {
        let Ok(mut held) = self.handoffs.lock() else { return false };
        let before = held.len();
        held.extend(handoffs);
        if held.len() > MAX_HANDOFFS {
            held.truncate(before);
            return false;
        }
        held.len() > before
    }

    /// Wakes the connection's task, after a flag changed or copies were handed over.
    pub fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        self.task.wake();
    }

    /// Resolves once [`Self::raise`] was called since it last resolved (at once if it was
    /// meanwhile). A flag and an atomic waker rather than a `Notify`: a connection's loop
    /// waits on it in every turn, and a `Notify` links each waiter into a list under a lock
    /// and out again (BENCHMARKS.md, "New ids not looked up, connections wait without
    /// locks").
    pub fn raised(&self) -> impl Future<Output = ()> + '_ {
        poll_fn(|cx| {
            if self.raised.swap(false, Ordering::AcqRel) {
                return Poll::Ready(());
            }
            self.task.register(cx.waker());
            if self.raised.swap(false, Ordering::AcqRel) { Poll::Ready(()) } else { Poll::Pending }
        })
    }

    /// The copies and receipts handed over since the last call, in order.
    pub fn take_handoffs(&self) -> Vec<Handoff> {
        self.handoffs.lock().map(|mut held| std::mem::take(&mut *held)).unwrap_or_default()
    }
}

impl HubEvent {
    /// This event as another node is told it: hand-offs are for this node's connections.
    pub fn for_other_nodes(self) -> Self {
        match self {
            HubEvent::Stored(handoffs) if handoffs.iter().any(|h| matches!(h.item, Handed::Receipt(_))) => {
                HubEvent::Receipts
            }
            HubEvent::Stored(_) => HubEvent::Mail,
            event => event,
        }
    }
}

/// A live connection as the hub sees it.
#[derive(Clone)]
pub struct ConnectionEntry {
    /// Unique per process.
    pub id: u64,
    /// The connection's session.
    pub session: SessionId,
    /// The session's device (`None`: a browser that is not a device of the account).
    pub device: Option<DeviceId>,
    /// Its wake flags.
    pub wake: Arc<Wake>,
    /// Its queue of ephemeral frames. Boxed: a channel allocates its first block of 32
    /// slots up front, and 32 inline frames cost an idle connection ~4 KB.
    pub frames: mpsc::Sender<Box<ServerFrame>>,
}

/// Reaching users' live connections, on this node and (with Redis) on others.
#[async_trait]
pub trait Hub: Send + Sync {
    /// Adds a connection. Returns `false` (and adds nothing) if the user already has
    /// `max_per_user` connections on this node.
    fn register(&self, user: UserId, entry: ConnectionEntry, max_per_user: usize) -> bool;
    /// Removes a connection.
    fn unregister(&self, user: UserId, id: u64);
    /// Tells every connection on this node, and any registered later, to close: the server
    /// is shutting down (axum's graceful shutdown does not reach upgraded sockets).
    fn close_all(&self);
    /// Tells the connections in `slot` of `slots` (by id) that a ping is due. One task turns
    /// this wheel for the node (`lib::ping_forever`), so a connection needs no timer of its
    /// own — one its loop polled on every turn, and every idle connection kept.
    fn ping_slot(&self, slot: u64, slots: u64);
    /// Tells every connection of `user`, wherever it is.
    async fn send(&self, user: UserId, event: HubEvent);
    /// Records that a connection of `user` opened; `true` if the user just came online.
    async fn connected(&self, user: UserId, connection: Live) -> bool;
    /// Records that a connection closed; `true` if the user just went offline.
    async fn disconnected(&self, user: UserId, connection: Live, now: i64) -> bool;
    /// Whether the user is online, and when they were last seen if not.
    async fn presence(&self, user: UserId) -> (bool, Option<i64>);
    /// The user's devices with a live connection, on any node.
    async fn online_devices(&self, user: UserId) -> Vec<DeviceId>;
    /// The user's devices with a live connection on this node (no store or network call).
    fn devices_here(&self, user: UserId) -> Vec<DeviceId>;
    /// Keeps a connection's presence alive (called on every ping).
    async fn heartbeat(&self, _user: UserId, _connection: Live) {}
}

/// A live connection as presence counts it: its process-unique id and its device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Live {
    /// The connection's id ([`next_connection_id`]).
    pub id: u64,
    /// The session's device, if it has one.
    pub device: Option<DeviceId>,
}

/// Process-unique connection ids.
pub fn next_connection_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The hub of a single node.
#[derive(Default)]
pub struct LocalHub {
    connections: Mutex<HashMap<UserId, Vec<ConnectionEntry>>>,
    last_seen: Mutex<HashMap<UserId, i64>>,
    /// Set by [`Hub::close_all`]; a connection registered later is told at once.
    closing: AtomicBool,
}

impl LocalHub {
    /// Delivers an event to this node's connections of `user`.
    pub fn deliver_local(&self, user: UserId, event: &HubEvent) {
        let entries = match self.connections.lock() {
            Ok(map) => map.get(&user).cloned().unwrap_or_default(),
            Err(_) => return,
        };
        for entry in entries {
            let wake = &entry.wake;
            match event {
                HubEvent::Mail => wake.mail.store(true, Ordering::Release),
                HubEvent::Stored(handoffs) => {
                    let mine = handoffs.iter().filter(|h| Some(h.device) == entry.device).cloned();
                    if !wake.hand_off(mine) {
                        for handoff in handoffs {
                            handoff.item.flag(wake).store(true, Ordering::Release);
                        }
                    }
                }
                HubEvent::Receipts => wake.receipts.store(true, Ordering::Release),
                HubEvent::Frame(frame) => {
                    if entry.frames.try_send(Box::new(frame.clone())).is_err() {
                        wake.lagging.store(true, Ordering::Release);
                    }
                }
                HubEvent::SessionRevoked(session) if *session == entry.session => {
                    wake.revoked.store(true, Ordering::Release)
                }
                HubEvent::DeviceRemoved(session) if *session == entry.session => {
                    wake.removed.store(true, Ordering::Release)
                }
                HubEvent::SessionRevoked(_) | HubEvent::DeviceRemoved(_) => continue,
            }
            wake.raise();
        }
    }

    /// Wakes every connection on this node to re-read its mailbox (after a gap in
    /// cross-node notifications).
    pub fn wake_everyone(&self) {
        self.raise_each(
            |_| true,
            |wake| {
                wake.mail.store(true, Ordering::Release);
                wake.receipts.store(true, Ordering::Release);
            },
        );
    }

    /// Wakes every connection here that `chosen` picks, after `set` raised its flags; the
    /// registry's lock is held only while they are picked.
    fn raise_each(&self, chosen: impl Fn(&ConnectionEntry) -> bool, set: impl Fn(&Wake)) {
        let picked: Vec<Arc<Wake>> = match self.connections.lock() {
            Ok(map) => map.values().flatten().filter(|e| chosen(e)).map(|e| e.wake.clone()).collect(),
            Err(_) => return,
        };
        for wake in picked {
            set(&wake);
            wake.raise();
        }
    }

    /// The devices of `user`'s live connections on this node, each once.
    pub fn local_devices(&self, user: UserId) -> Vec<DeviceId> {
        let Ok(map) = self.connections.lock() else { return vec![] };
        let mut devices: Vec<DeviceId> = map.get(&user).into_iter().flatten().filter_map(|e| e.device).collect();
        devices.sort();
        devices.dedup();
        devices
    }

    /// Live connections of `user` on this node.
    pub fn local_count(&self, user: UserId) -> usize {
        self.connections.lock().map(|m| m.get(&user).map_or(0, Vec::len)).unwrap_or(0)
    }
}

#[async_trait]
impl Hub for LocalHub {
    fn register(&self, user: UserId, entry: ConnectionEntry, max_per_user: usize) -> bool {
        let Ok(mut map) = self.connections.lock() else {
            return false;
        };
        let list = map.entry(user).or_default();
        if list.len() >= max_per_user {
            return false;
        }
        if self.closing.load(Ordering::SeqCst) {
            entry.wake.closing.store(true, Ordering::Release);
            entry.wake.raise();
        }
        list.push(entry);
        true
    }

    // The flag is set before the registry is walked, and `register` looks at it under the
    // registry's lock, so no connection is missed.
    fn close_all(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.raise_each(|_| true, |wake| wake.closing.store(true, Ordering::Release));
    }

    fn ping_slot(&self, slot: u64, slots: u64) {
        self.raise_each(|e| e.id % slots == slot, |wake| wake.ping_due.store(true, Ordering::Release));
    }

    fn unregister(&self, user: UserId, id: u64) {
        if let Ok(mut map) = self.connections.lock()
            && let Some(list) = map.get_mut(&user)
        {
            list.retain(|e| e.id != id);
            if list.is_empty() {
                map.remove(&user);
            }
        }
    }

    async fn send(&self, user: UserId, event: HubEvent) {
        self.deliver_local(user, &event);
    }

    async fn connected(&self, user: UserId, _connection: Live) -> bool {
        self.local_count(user) == 1
    }

    async fn disconnected(&self, user: UserId, _connection: Live, now: i64) -> bool {
        if self.local_count(user) == 0 {
            if let Ok(mut seen) = self.last_seen.lock() {
                seen.insert(user, now);
            }
            return true;
        }
        false
    }

    fn devices_here(&self, user: UserId) -> Vec<DeviceId> {
        self.local_devices(user)
    }

    async fn online_devices(&self, user: UserId) -> Vec<DeviceId> {
        self.local_devices(user)
    }

    async fn presence(&self, user: UserId) -> (bool, Option<i64>) {
        let online = self.local_count(user) > 0;
        let seen = self.last_seen.lock().ok().and_then(|m| m.get(&user).copied());
        (online, if online { None } else { seen })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64) -> (ConnectionEntry, Arc<Wake>) {
        let wake = Arc::new(Wake::default());
        let frames = mpsc::channel(1).0;
        (ConnectionEntry { id, session: uuid::Uuid::now_v7(), device: None, wake: wake.clone(), frames }, wake)
    }

    #[tokio::test]
    async fn close_all_tells_connections_open_and_registered_after() {
        let hub = LocalHub::default();
        let (before, before_wake) = entry(1);
        let (other, other_wake) = entry(2);
        assert!(hub.register(UserId(uuid::Uuid::now_v7()), before, 4));
        assert!(hub.register(UserId(uuid::Uuid::now_v7()), other, 4));
        assert!(!before_wake.closing.load(Ordering::Acquire));

        hub.close_all();
        for wake in [&before_wake, &other_wake] {
            assert!(wake.closing.load(Ordering::Acquire));
            wake.raised().await;
        }

        let (after, after_wake) = entry(3);
        assert!(hub.register(UserId(uuid::Uuid::now_v7()), after, 4));
        assert!(after_wake.closing.load(Ordering::Acquire), "a connection registered during shutdown closes too");
        after_wake.raised().await;
    }
}
