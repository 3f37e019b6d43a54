//! The sans-I/O client engine: user actions and server frames in, client frames and UI
//! events out. The caller owns the socket and the clock.
//!
//! Guarantees: a composed message is in the store (status `Sending`) before anything is
//! sent, and is re-sent with the same id on every (re)connection until the server answers
//! `stored`; transient refusals are retried with exponential backoff; an incoming message
//! is stored before it is acked, and a duplicate is acked again but never stored twice;
//! statuses never move backwards; an undecryptable message is kept as a placeholder and
//! acked.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hush_crypto::ConversationKeys;
use hush_shared::ws::{ClientFrame, FriendEvent, MessageId, ReceiptKind, ServerFrame};
use hush_shared::{ErrorCode, UserId};

use crate::keys::{self, KeyError};
use crate::model::{Body, ChatMessage, Content, Direction, Status};
use crate::reads::ReadReceipts;
use crate::store::{ClientStore, FriendRecord, StoreError};

/// First retry delay after a transient refusal; doubles up to [`MAX_BACKOFF_MS`].
pub const FIRST_BACKOFF_MS: i64 = 1_000;
/// Longest retry delay.
pub const MAX_BACKOFF_MS: i64 = 60_000;

/// Something the UI should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new message arrived (already stored).
    MessageReceived(ChatMessage),
    /// One of my messages changed status.
    StatusChanged {
        /// The message.
        id: MessageId,
        /// The conversation.
        peer: UserId,
        /// Its new status.
        status: Status,
    },
    /// A friendship began.
    FriendAdded(UserId),
    /// A friendship ended.
    FriendRemoved(UserId),
    /// A friend's key changed: the safety number changed and the verified mark is gone.
    KeyChanged(UserId),
    /// A friend request arrived, was declined or cancelled (refresh the lists).
    RequestsChanged,
    /// A friend's presence.
    Presence {
        /// The friend.
        user: UserId,
        /// Online now.
        online: bool,
        /// Last seen, if offline.
        last_seen: Option<i64>,
    },
    /// A friend is typing (or stopped).
    Typing {
        /// The friend.
        user: UserId,
        /// Whether typing.
        active: bool,
    },
    /// The mailbox drain after connecting finished.
    CaughtUp,
    /// The server refused something not tied to a message.
    ServerError {
        /// Code.
        code: ErrorCode,
        /// Message.
        message: String,
    },
}

/// Engine errors: storage only (everything else becomes an event or a status).
pub type EngineResult<T> = Result<T, StoreError>;

struct Retry {
    attempt: u32,
    due_ms: i64,
}

/// The client engine for one signed-in person.
pub struct Engine<S: ClientStore> {
    me: UserId,
    store: S,
    connected: bool,
    conversations: HashMap<UserId, (String, ConversationKeys)>,
    retries: HashMap<MessageId, Retry>,
    reads: ReadReceipts,
}

fn store_err(e: KeyError) -> Result<(), StoreError> {
    match e {
        KeyError::Store(s) => Err(s),
        _ => Ok(()),
    }
}

impl<S: ClientStore> Engine<S> {
    /// An engine for `me` over `store`.
    pub fn new(me: UserId, store: S) -> Self {
        Self {
            me,
            store,
            connected: false,
            conversations: HashMap::new(),
            retries: HashMap::new(),
            reads: ReadReceipts::default(),
        }
    }

    /// Who I am.
    pub fn me(&self) -> UserId {
        self.me
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Whether a connection is up.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Makes and stores a key pair for a friendship with `peer` (before sending a request or
    /// accepting one); returns the public key to send.
    pub async fn new_key_for(&mut self, peer: UserId) -> EngineResult<String> {
        self.conversations.remove(&peer);
        keys::new_key_for(&self.store, peer).await
    }

    /// Records a friend and their key (from the friend list, an accept event, or my accept).
    pub async fn add_friend(
        &mut self,
        user: UserId,
        display_name: Option<String>,
        their_key: String,
    ) -> EngineResult<()> {
        let previous = self.store.friend(user).await?;
        let changed = previous.as_ref().is_some_and(|p| p.their_key != their_key);
        let verified = previous.as_ref().is_some_and(|p| p.verified && !changed);
        let key_changed = changed || previous.as_ref().is_some_and(|p| p.key_changed);
        self.store.put_friend(&FriendRecord { user_id: user, display_name, their_key, verified, key_changed }).await?;
        self.conversations.remove(&user);
        Ok(())
    }

    /// Writes a message to `peer`: stored as `Sending` first, then (if connected) the
    /// frame to send.
    pub async fn compose(
        &mut self,
        peer: UserId,
        text: &str,
        now_ms: i64,
    ) -> EngineResult<(ChatMessage, Vec<ClientFrame>)> {
        let message = ChatMessage {
            id: uuid::Uuid::now_v7(),
            peer,
            direction: Direction::Outgoing,
            body: Body::Text { text: text.to_owned() },
            status: Status::Sending,
            created_at_ms: now_ms,
            server_at: None,
        };
        self.store.put_message(&message).await?;
        let mut out = Vec::new();
        let mut events = Vec::new();
        if self.connected {
            self.push_send(&message, &mut out, &mut events).await?;
        }
        let stored = self.store.message(message.id).await?.unwrap_or(message);
        Ok((stored, out))
    }

    /// Puts a failed message back into the outbox.
    pub async fn retry(&mut self, id: MessageId) -> EngineResult<Vec<ClientFrame>> {
        let Some(mut message) = self.store.message(id).await? else {
            return Ok(vec![]);
        };
        if !message.status.can_become(Status::Sending) {
            return Ok(vec![]);
        }
        message.status = Status::Sending;
        self.store.put_message(&message).await?;
        let mut out = Vec::new();
        if self.connected {
            self.push_send(&message, &mut out, &mut Vec::new()).await?;
        }
        Ok(out)
    }

    async fn keys_for(&mut self, peer: UserId) -> Result<&ConversationKeys, KeyError> {
        let current = self.store.friend(peer).await?.map(|f| f.their_key);
        let stale = match (self.conversations.get(&peer), &current) {
            (Some((cached_key, _)), Some(now)) => cached_key != now,
            _ => true,
        };
        if stale {
            let (keys, their_key) = keys::conversation(&self.store, self.me, peer).await?;
            self.conversations.insert(peer, (their_key, keys));
        }
        self.conversations.get(&peer).map(|(_, k)| k).ok_or(KeyError::NotAFriend)
    }

    async fn push_send(
        &mut self,
        message: &ChatMessage,
        out: &mut Vec<ClientFrame>,
        events: &mut Vec<Event>,
    ) -> EngineResult<()> {
        let Body::Text { text } = &message.body else {
            return Ok(());
        };
        let content = Content { text: text.clone(), sent_at_ms: message.created_at_ms };
        let plaintext = serde_json::to_vec(&content).map_err(|e| StoreError(e.to_string()))?;
        let sealed = match self.keys_for(message.peer).await {
            Ok(keys) => keys.seal(message.id.as_bytes(), &plaintext).map_err(|e| e.to_string()),
            Err(e) => {
                store_err(e.clone())?;
                Err(e.to_string())
            }
        };
        match sealed {
            Ok(envelope) => {
                out.push(ClientFrame::Send {
                    id: message.id,
                    to: message.peer,
                    envelope: URL_SAFE_NO_PAD.encode(envelope),
                });
            }
            Err(_) => self.set_status(message.id, Status::Failed, None, events).await?,
        }
        Ok(())
    }

    /// A connection is up (after `hello`): every message in the outbox goes out again, in
    /// order, with its original id.
    pub async fn on_connected(&mut self) -> EngineResult<Vec<ClientFrame>> {
        self.connected = true;
        self.retries.clear();
        let mut out = Vec::new();
        let mut events = Vec::new();
        for message in self.store.outbox().await? {
            self.push_send(&message, &mut out, &mut events).await?;
        }
        out.extend(self.reads.on_connected());
        Ok(out)
    }

    /// The connection is gone; nothing is lost, the outbox waits.
    pub fn on_disconnected(&mut self) {
        self.connected = false;
    }

    /// Messages whose retry time has come.
    pub async fn due(&mut self, now_ms: i64) -> EngineResult<Vec<ClientFrame>> {
        if !self.connected {
            return Ok(vec![]);
        }
        let due: Vec<MessageId> = self.retries.iter().filter(|(_, r)| r.due_ms <= now_ms).map(|(id, _)| *id).collect();
        let mut out = Vec::new();
        for id in due {
            if let Some(message) = self.store.message(id).await?
                && message.status == Status::Sending
            {
                self.push_send(&message, &mut out, &mut Vec::new()).await?;
            }
        }
        Ok(out)
    }

    /// When the next retry is due, if any.
    pub fn next_retry_ms(&self) -> Option<i64> {
        self.retries.values().map(|r| r.due_ms).min()
    }

    async fn set_status(
        &mut self,
        id: MessageId,
        status: Status,
        server_at: Option<i64>,
        events: &mut Vec<Event>,
    ) -> EngineResult<()> {
        let Some(mut message) = self.store.message(id).await? else {
            return Ok(());
        };
        if message.direction != Direction::Outgoing || !message.status.can_become(status) {
            return Ok(());
        }
        message.status = status;
        if server_at.is_some() && message.server_at.is_none() {
            message.server_at = server_at;
        }
        self.store.put_message(&message).await?;
        if status != Status::Sending {
            self.retries.remove(&id);
        }
        events.push(Event::StatusChanged { id, peer: message.peer, status });
        Ok(())
    }

    /// Marks everything received from `peer` as seen; returns the `read` frames to send (at
    /// most `MAX_IDS_PER_FRAME` ids each) and the `ping` that confirms them. Until its pong
    /// arrives they are sent again on every new connection.
    pub async fn mark_read(&mut self, peer: UserId) -> EngineResult<Vec<ClientFrame>> {
        let mut ids = Vec::new();
        for mut m in self.store.conversation(peer).await? {
            if m.direction == Direction::Incoming && m.status == Status::Received {
                m.status = Status::Seen;
                self.store.put_message(&m).await?;
                ids.push(m.id);
            }
        }
        let batches = ids.chunks(hush_shared::ws::MAX_IDS_PER_FRAME).map(|chunk| (peer, chunk.to_vec())).collect();
        Ok(if ids.is_empty() { vec![] } else { self.reads.send(batches) })
    }

    async fn receive(
        &mut self,
        id: MessageId,
        from: UserId,
        envelope: &str,
        sent_at: i64,
        events: &mut Vec<Event>,
    ) -> EngineResult<()> {
        if self.store.message(id).await?.is_some() {
            return Ok(()); // a redelivery: already stored, just ack again
        }
        let body = match self.open(id, from, envelope).await {
            Ok(content) => Body::Text { text: content.text },
            Err(reason) => {
                store_err(reason.clone()).or(Ok::<(), StoreError>(()))?;
                Body::Undecryptable { reason: reason.to_string() }
            }
        };
        let message = ChatMessage {
            id,
            peer: from,
            direction: Direction::Incoming,
            body,
            status: Status::Received,
            created_at_ms: sent_at * 1000,
            server_at: Some(sent_at),
        };
        self.store.put_message(&message).await?;
        events.push(Event::MessageReceived(message));
        Ok(())
    }

    async fn open(&mut self, id: MessageId, from: UserId, envelope: &str) -> Result<Content, KeyError> {
        let bytes = URL_SAFE_NO_PAD.decode(envelope).map_err(|_| KeyError::Invalid)?;
        let keys = self.keys_for(from).await?;
        let plaintext = keys.open(id.as_bytes(), &bytes).map_err(|_| KeyError::Invalid)?;
        serde_json::from_slice(&plaintext).map_err(|_| KeyError::Invalid)
    }

    /// Applies one server frame; returns frames to send and events for the UI.
    pub async fn handle(&mut self, frame: ServerFrame, now_ms: i64) -> EngineResult<(Vec<ClientFrame>, Vec<Event>)> {
        let mut out = Vec::new();
        let mut events = Vec::new();
        match frame {
            ServerFrame::Hello { .. } => {}
            ServerFrame::Pong => out.extend(self.reads.on_pong()),
            ServerFrame::Stored { id, at } => {
                self.set_status(id, Status::Stored, Some(at), &mut events).await?;
            }
            ServerFrame::Message { id, from, envelope, sent_at } => {
                self.receive(id, from, &envelope, sent_at, &mut events).await?;
                out.push(ClientFrame::Ack { ids: vec![id] });
            }
            ServerFrame::Receipt { id, kind, message_id, .. } => {
                let status = match kind {
                    ReceiptKind::Delivered => Status::Delivered,
                    ReceiptKind::Read => Status::Read,
                    ReceiptKind::Expired => Status::Expired,
                };
                self.set_status(message_id, status, None, &mut events).await?;
                out.push(ClientFrame::ReceiptAck { ids: vec![id] });
            }
            ServerFrame::CaughtUp => events.push(Event::CaughtUp),
            ServerFrame::Presence { user_id, online, last_seen } => {
                events.push(Event::Presence { user: user_id, online, last_seen })
            }
            ServerFrame::Typing { from, active } => events.push(Event::Typing { user: from, active }),
            ServerFrame::Friend(event) => self.on_friend_event(event, &mut events).await?,
            ServerFrame::Error { code, id: Some(id), .. } => self.on_refused(id, code, now_ms, &mut events).await?,
            ServerFrame::Error { code, message, id: None } => {
                if matches!(code, ErrorCode::Internal | ErrorCode::Unavailable | ErrorCode::RateLimited) {
                    self.reads.failed = true;
                }
                events.push(Event::ServerError { code, message })
            }
        }
        Ok((out, events))
    }

    async fn on_refused(
        &mut self,
        id: MessageId,
        code: ErrorCode,
        now_ms: i64,
        events: &mut Vec<Event>,
    ) -> EngineResult<()> {
        let transient = matches!(
            code,
            ErrorCode::MailboxFull | ErrorCode::RateLimited | ErrorCode::Internal | ErrorCode::Unavailable
        );
        if transient {
            let attempt = self.retries.get(&id).map_or(0, |r| r.attempt + 1);
            let delay = (FIRST_BACKOFF_MS << attempt.min(6)).min(MAX_BACKOFF_MS);
            self.retries.insert(id, Retry { attempt, due_ms: now_ms + delay });
            Ok(())
        } else {
            self.set_status(id, Status::Failed, None, events).await
        }
    }

    async fn on_friend_event(&mut self, event: FriendEvent, events: &mut Vec<Event>) -> EngineResult<()> {
        match event {
            FriendEvent::RequestAccepted { friend } => {
                self.add_friend(friend.user_id, friend.display_name, friend.their_public_key).await?;
                events.push(Event::FriendAdded(friend.user_id));
            }
            FriendEvent::KeyChanged { user_id, public_key } => {
                if let Some(previous) = self.store.friend(user_id).await? {
                    self.add_friend(user_id, previous.display_name, public_key).await?;
                    events.push(Event::KeyChanged(user_id));
                }
            }
            FriendEvent::Removed { user_id } => {
                self.store.remove_friend(user_id).await?;
                self.conversations.remove(&user_id);
                events.push(Event::FriendRemoved(user_id));
            }
            // Account identities belong to crypto v2; this engine's v1 keys do not use them.
            FriendEvent::IdentityChanged { .. } => {}
            FriendEvent::RequestReceived { .. }
            | FriendEvent::RequestDeclined { .. }
            | FriendEvent::RequestCancelled { .. } => events.push(Event::RequestsChanged),
        }
        Ok(())
    }
}

/// Merges consecutive acks into one frame each kind, keeping other frames in order.
pub fn coalesce(frames: Vec<ClientFrame>) -> Vec<ClientFrame> {
    let mut out: Vec<ClientFrame> = Vec::with_capacity(frames.len());
    for frame in frames {
        match (out.last_mut(), frame) {
            (Some(ClientFrame::Ack { ids }), ClientFrame::Ack { ids: more })
                if ids.len() + more.len() <= hush_shared::ws::MAX_IDS_PER_FRAME =>
            {
                ids.extend(more)
            }
            (Some(ClientFrame::ReceiptAck { ids }), ClientFrame::ReceiptAck { ids: more })
                if ids.len() + more.len() <= hush_shared::ws::MAX_IDS_PER_FRAME =>
            {
                ids.extend(more)
            }
            (_, frame) => out.push(frame),
        }
    }
    out
}
