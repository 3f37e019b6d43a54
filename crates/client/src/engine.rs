//! The sans-I/O client engine: user actions and server frames in, client frames and UI
//! events out. The caller owns the socket and the clock; the engine makes the REST calls it
//! needs for keys itself (through [`Http`]): registering the device, topping prekeys up,
//! fetching bundles.
//!
//! Guarantees: a composed message is in the store (status `Sending`) before anything is
//! sent, and is re-sent with the same id on every (re)connection until the server answers
//! `stored`; transient refusals are retried with exponential backoff; an incoming message
//! is stored before it is acked, and a duplicate is acked again but never stored twice;
//! statuses never move backwards (except a message the recipient asked to be sent again);
//! a message this device cannot open is never acked as delivered: it is kept as a
//! placeholder and its sender is asked to resend it (once), and a storage failure while
//! opening leaves it in the mailbox; messages to a verified friend whose identity changed
//! wait for the user's confirmation.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hush_crypto::{LocalDevice, SafetyNumber};
use hush_shared::ws::{ClientFrame, DeviceMismatch, FriendEvent, MessageId, ReceiptKind, ServerFrame};
use hush_shared::{DeviceId, ErrorCode, UserId};

use crate::api::Http;
use crate::cipher::{Cipher, OpenError, SealError, forget_sessions, retire_device, retire_sessions};
use crate::content::Content;
use crate::device::{self, DeviceError, Setup};
use crate::model::{Body, ChatMessage, Direction, Status};
use crate::reads::ReadReceipts;
use crate::store::{ClientStore, PeerRecord, StoreError};

/// First retry delay after a transient refusal; doubles up to [`MAX_BACKOFF_MS`].
pub const FIRST_BACKOFF_MS: i64 = 1_000;
/// Longest retry delay.
pub const MAX_BACKOFF_MS: i64 = 60_000;
/// How often a message this device cannot open is handed back before it is shown as
/// undecryptable (a lost `retry` frame, or the sender's outbox racing its resend, can each
/// cost one).
pub const MAX_RESEND_REQUESTS: u8 = 3;

/// Something the UI should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new message arrived (already stored), or a placeholder was filled in.
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
    /// A friend's account identity changed: the safety number changed, the verified mark
    /// is gone, and if they had been verified, messages to them wait for confirmation.
    IdentityChanged(UserId),
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
    /// Keeping this device's keys on the server failed (retried on the next connection).
    DeviceTrouble(String),
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

/// The client engine for one signed-in person on this device.
pub struct Engine<S: ClientStore, H: Http> {
    me: UserId,
    store: S,
    http: H,
    device: Option<LocalDevice>,
    connected: bool,
    retries: HashMap<MessageId, Retry>,
    reads: ReadReceipts,
    /// My other devices changed (the server said so): fetch their bundles on the next
    /// send. Until then the sessions held with them are taken as the current list — none
    /// means no other device, and the server refuses a send if that is wrong.
    own_devices_changed: bool,
}

impl<S: ClientStore, H: Http> Engine<S, H> {
    /// An engine for `me` over `store`, reaching the server's REST API through `http`.
    pub fn new(me: UserId, store: S, http: H) -> Self {
        Self {
            me,
            store,
            http,
            device: None,
            connected: false,
            retries: HashMap::new(),
            reads: ReadReceipts::default(),
            own_devices_changed: false,
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

    /// The REST client.
    pub fn http(&self) -> &H {
        &self.http
    }

    /// Gives the store back (to erase it after logging out).
    pub fn into_store(self) -> S {
        self.store
    }

    /// The REST client (to give it a refreshed token).
    pub fn http_mut(&mut self) -> &mut H {
        &mut self.http
    }

    /// This device, once set up.
    pub fn device(&self) -> Option<&LocalDevice> {
        self.device.as_ref()
    }

    /// This device's id, once set up.
    pub fn device_id(&self) -> Option<DeviceId> {
        self.device.as_ref().map(|d| DeviceId(uuid::Uuid::from_bytes(d.device_id)))
    }

    /// Whether a connection is up.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Makes this browser a device of the account (see [`device::set_up`]). Call before
    /// connecting; with `new_identity` it starts again under a new identity.
    pub async fn set_up(&mut self, name: Option<&str>, new_identity: bool, now: i64) -> Result<Setup, DeviceError> {
        let setup = device::set_up(&self.store, &self.http, self.me, name, new_identity, now).await?;
        if let Setup::Ready(device) = &setup {
            if new_identity {
                // Every session belonged to the old device key.
                self.store.clear_sessions().await?;
            }
            self.device = Some((**device).clone());
        }
        Ok(setup)
    }

    /// Records a friend and their identity (from the friend list or an accept).
    pub async fn add_friend(
        &mut self,
        user: UserId,
        display_name: Option<String>,
        identity_key: Option<String>,
    ) -> EngineResult<bool> {
        let previous = self.store.peer(user).await?;
        let mut record = previous.clone().unwrap_or(PeerRecord {
            user_id: user,
            display_name: None,
            identity_key: None,
            verified: false,
            identity_changed: false,
            held: false,
        });
        record.display_name = display_name;
        let changed = match (&record.identity_key, &identity_key) {
            (Some(known), Some(new)) => known != new,
            _ => false,
        };
        if changed {
            record.identity_changed = true;
            record.held = record.held || record.verified;
            record.verified = false;
            forget_sessions(&self.store, user).await?;
        }
        if identity_key.is_some() {
            record.identity_key = identity_key;
        }
        if previous.as_ref() != Some(&record) {
            self.store.put_peer(&record).await?;
        }
        Ok(changed)
    }

    /// Marks a friend verified (safety numbers compared) or not.
    pub async fn set_verified(&mut self, user: UserId, verified: bool) -> EngineResult<()> {
        if let Some(mut peer) = self.store.peer(user).await? {
            peer.verified = verified;
            if verified {
                peer.identity_changed = false;
                peer.held = false;
            }
            self.store.put_peer(&peer).await?;
        }
        Ok(())
    }

    /// The person saw the warning about a friend's new identity and goes on: the warning
    /// is cleared and messages that waited for it go out.
    pub async fn confirm_identity(&mut self, user: UserId, now_ms: i64) -> EngineResult<Vec<ClientFrame>> {
        if let Some(mut peer) = self.store.peer(user).await? {
            peer.identity_changed = false;
            peer.held = false;
            self.store.put_peer(&peer).await?;
        }
        let mut out = Vec::new();
        if self.connected {
            for message in self.store.outbox().await?.into_iter().filter(|m| m.peer == user) {
                self.push_send(&message, now_ms, &mut out, &mut Vec::new()).await?;
            }
        }
        Ok(out)
    }

    /// The safety number with a friend, once both identities are known.
    pub async fn safety_number(&self, peer: UserId) -> Result<Option<SafetyNumber>, DeviceError> {
        device::safety_number(&self.store, peer).await
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
        if self.connected {
            self.push_send(&message, now_ms, &mut out, &mut Vec::new()).await?;
        }
        let stored = self.store.message(message.id).await?.unwrap_or(message);
        Ok((stored, out))
    }

    /// Puts a failed or expired message back into the outbox.
    pub async fn retry(&mut self, id: MessageId, now_ms: i64) -> EngineResult<Vec<ClientFrame>> {
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
            self.push_send(&message, now_ms, &mut out, &mut Vec::new()).await?;
        }
        Ok(out)
    }

    fn schedule(&mut self, id: MessageId, now_ms: i64, first_ms: i64) {
        let attempt = self.retries.get(&id).map_or(0, |r| r.attempt + 1);
        let delay = if attempt == 0 { first_ms } else { (FIRST_BACKOFF_MS << attempt.min(6)).min(MAX_BACKOFF_MS) };
        self.retries.insert(id, Retry { attempt, due_ms: now_ms + delay });
    }

    async fn push_send(
        &mut self,
        message: &ChatMessage,
        now_ms: i64,
        out: &mut Vec<ClientFrame>,
        events: &mut Vec<Event>,
    ) -> EngineResult<()> {
        let (Body::Text { text }, Some(device)) = (&message.body, &self.device) else {
            return Ok(());
        };
        let content = Content::Text { text: text.clone(), sent_at_ms: message.created_at_ms };
        let cipher = Cipher { store: &self.store, http: &self.http, device };
        let sealed = match cipher.seal(message.peer, message.id, &content.encode()).await {
            Ok(sealed) => {
                let synced = content.encode_for(Some(message.peer));
                cipher.seal_own(message.id, &synced, !self.own_devices_changed).await.map(|own| (sealed, own))
            }
            Err(e) => Err(e),
        };
        match sealed {
            Ok((sealed, own)) => {
                self.own_devices_changed = false;
                if sealed.identity_changed {
                    events.push(Event::IdentityChanged(message.peer));
                }
                let (id, to, envelopes) = (message.id, message.peer, sealed.envelopes);
                out.push(ClientFrame::Send { id, to, envelopes, own: own.envelopes });
            }
            Err(SealError::Store(e)) => return Err(e),
            Err(SealError::Held) => events.push(Event::IdentityChanged(message.peer)),
            Err(SealError::NoDevices | SealError::Api(_)) => self.schedule(message.id, now_ms, MAX_BACKOFF_MS),
            Err(SealError::Corrupt) => {
                forget_sessions(&self.store, message.peer).await?;
                self.schedule(message.id, now_ms, FIRST_BACKOFF_MS);
            }
            Err(SealError::BadBundle(_) | SealError::TooLarge) => {
                self.set_status(message.id, Status::Failed, None, events).await?
            }
        }
        Ok(())
    }

    /// A connection is up (after `hello`): the device's prekeys are topped up, and every
    /// message in the outbox goes out again, in order, with its original id.
    pub async fn on_connected(&mut self, now_ms: i64) -> EngineResult<(Vec<ClientFrame>, Vec<Event>)> {
        self.connected = true;
        self.retries.clear();
        let mut out = Vec::new();
        let mut events = Vec::new();
        if let Some(device) = &self.device
            && let Err(e) = device::replenish(&self.store, &self.http, device, now_ms / 1000).await
        {
            match e {
                DeviceError::Store(e) => return Err(e),
                other => events.push(Event::DeviceTrouble(other.to_string())),
            }
        }
        for message in self.store.outbox().await? {
            self.push_send(&message, now_ms, &mut out, &mut events).await?;
        }
        out.extend(self.reads.on_connected());
        Ok((out, events))
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
        let mut due: Vec<MessageId> =
            self.retries.iter().filter(|(_, r)| r.due_ms <= now_ms).map(|(id, _)| *id).collect();
        // In the order they were written (ids are UUID v7): a refused run — say a whole
        // outbox sent before the device list changed — goes out again in the same order.
        crate::order::sort_by_key_u128(&mut due, |id| id.as_u128());
        let mut out = Vec::new();
        for id in due {
            if let Some(retry) = self.retries.get_mut(&id) {
                retry.due_ms = i64::MAX;
            }
            if let Some(message) = self.store.message(id).await?
                && message.status == Status::Sending
            {
                self.push_send(&message, now_ms, &mut out, &mut Vec::new()).await?;
            }
        }
        Ok(out)
    }

    /// When the next retry is due, if any.
    pub fn next_retry_ms(&self) -> Option<i64> {
        self.retries.values().map(|r| r.due_ms).filter(|d| *d < i64::MAX).min()
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

    /// I read an incoming message on another of my devices: it is seen here too.
    async fn seen_elsewhere(&mut self, id: MessageId, events: &mut Vec<Event>) -> EngineResult<()> {
        let Some(mut message) = self.store.message(id).await? else {
            return Ok(());
        };
        if message.direction != Direction::Incoming || message.status != Status::Received {
            return Ok(());
        }
        message.status = Status::Seen;
        self.store.put_message(&message).await?;
        events.push(Event::StatusChanged { id, peer: message.peer, status: Status::Seen });
        Ok(())
    }

    /// Marks everything received from `peer` as seen; returns the `read` frames to send (at
    /// most `MAX_IDS_PER_FRAME` ids each) and the `ping` that confirms them. Until its pong
    /// arrives they are sent again on every new connection.
    pub async fn mark_read(&mut self, peer: UserId) -> EngineResult<Vec<ClientFrame>> {
        let mut ids = Vec::new();
        for mut m in self.store.conversation(peer).await? {
            if m.direction == Direction::Incoming
                && m.status == Status::Received
                && !matches!(m.body, Body::Waiting { .. })
            {
                m.status = Status::Seen;
                self.store.put_message(&m).await?;
                ids.push(m.id);
            }
        }
        let batches = ids.chunks(hush_shared::ws::MAX_IDS_PER_FRAME).map(|chunk| (peer, chunk.to_vec())).collect();
        Ok(if ids.is_empty() { vec![] } else { self.reads.send(batches) })
    }

    /// An incoming message: stored (opened, or as a placeholder) before it is acked. One
    /// this device cannot open is not acked but handed back (`retry`) so its sender sends it
    /// again — up to [`MAX_RESEND_REQUESTS`] times, then it is shown as undecryptable and
    /// acked.
    async fn receive(
        &mut self,
        incoming: Incoming,
        now_ms: i64,
        out: &mut Vec<ClientFrame>,
        events: &mut Vec<Event>,
    ) -> EngineResult<()> {
        let Incoming { id, from, from_device, to, envelope, sent_at } = incoming;
        let existing = self.store.message(id).await?;
        let requests = match &existing {
            None => 0,
            // My own message, already here (sent from this device, or synced before).
            Some(m) if from == self.me && m.direction == Direction::Outgoing && m.peer == to => {
                out.push(ClientFrame::Ack { ids: vec![id] });
                return Ok(());
            }
            Some(m) if m.peer != from || m.direction != Direction::Incoming => {
                out.push(ClientFrame::Ack { ids: vec![id] }); // another sender's id: not this one's
                return Ok(());
            }
            Some(ChatMessage { body: Body::Waiting { requests }, .. }) => *requests,
            Some(_) => {
                out.push(ClientFrame::Ack { ids: vec![id] }); // a redelivery: already stored
                return Ok(());
            }
        };
        let opened = match (&self.device, URL_SAFE_NO_PAD.decode(&envelope)) {
            (Some(device), Ok(bytes)) => {
                let cipher = Cipher { store: &self.store, http: &self.http, device };
                cipher.open(from, from_device, id, &bytes, now_ms / 1000).await
            }
            (None, _) => Err(OpenError::Retry("this browser is not set up")),
            (_, Err(_)) => Err(OpenError::Retry("not base64url")),
        };
        let body = match opened {
            Ok(opened) if from == self.me => {
                out.push(ClientFrame::Ack { ids: vec![id] });
                return self.synced(id, to, &opened.plaintext, sent_at, events).await;
            }
            Ok(opened) => {
                if opened.identity_changed {
                    events.push(Event::IdentityChanged(from));
                }
                out.push(ClientFrame::Ack { ids: vec![id] });
                match Content::decode(&opened.plaintext) {
                    Ok(Content::Text { text, .. }) => Body::Text { text },
                    Ok(Content::Unsupported { kind }) => Body::Unsupported { content_kind: kind },
                    Err(_) => Body::Undecryptable { reason: "not a content record".into() },
                }
            }
            Err(OpenError::Store(e)) => return Err(e),
            // Cannot be opened here (or was opened before but not stored: only a resend
            // brings it back). Hand it back, a bounded number of times.
            Err(OpenError::Retry(_) | OpenError::Duplicate) if requests < MAX_RESEND_REQUESTS => {
                out.push(ClientFrame::Retry { ids: vec![id] });
                Body::Waiting { requests: requests + 1 }
            }
            Err(OpenError::Retry(reason)) => {
                out.push(ClientFrame::Ack { ids: vec![id] });
                Body::Undecryptable { reason: reason.into() }
            }
            Err(OpenError::Duplicate) => {
                out.push(ClientFrame::Ack { ids: vec![id] });
                Body::Undecryptable { reason: "already opened once".into() }
            }
        };
        let message = ChatMessage {
            id,
            peer: from,
            direction: Direction::Incoming,
            body,
            status: Status::Received,
            created_at_ms: sent_at.saturating_mul(1000),
            server_at: Some(sent_at),
        };
        self.store.put_message(&message).await?;
        // A placeholder for one of my own messages (kept under my id until it opens) is
        // no conversation to show.
        if from != self.me {
            events.push(Event::MessageReceived(message));
        }
        Ok(())
    }

    /// A message I sent from another of my devices, opened here: it joins the conversation
    /// with the friend its content names, as sent — or, naming no friend or another one
    /// than the server said, it is dropped (acked, since it can never be shown).
    async fn synced(
        &mut self,
        id: MessageId,
        to: UserId,
        plaintext: &[u8],
        sent_at: i64,
        events: &mut Vec<Event>,
    ) -> EngineResult<()> {
        if Content::addressee(plaintext) != Some(to) || to == self.me {
            return Ok(());
        }
        let (body, created_at_ms) = match Content::decode(plaintext) {
            Ok(Content::Text { text, sent_at_ms }) => (Body::Text { text }, sent_at_ms),
            Ok(Content::Unsupported { kind }) => {
                (Body::Unsupported { content_kind: kind }, sent_at.saturating_mul(1000))
            }
            Err(_) => return Ok(()),
        };
        let message = ChatMessage {
            id,
            peer: to,
            direction: Direction::Outgoing,
            body,
            status: Status::Stored,
            created_at_ms,
            server_at: Some(sent_at),
        };
        self.store.put_message(&message).await?;
        events.push(Event::MessageReceived(message));
        Ok(())
    }

    /// A device (`peer_device` of `peer`: the recipient, or one of mine) could not open one
    /// of my messages: start a new session with it and send the message again under the
    /// same id (the server stores it for that device only).
    async fn resend(
        &mut self,
        id: MessageId,
        (peer, peer_device): (UserId, Option<DeviceId>),
        now_ms: i64,
        out: &mut Vec<ClientFrame>,
    ) -> EngineResult<()> {
        let Some(mut message) = self.store.message(id).await? else { return Ok(()) };
        let mine = peer == self.me;
        // The friend's devices ask only before any of them got it; mine may ask later too.
        let pending = matches!(message.status, Status::Sending | Status::Stored);
        if message.direction != Direction::Outgoing || !(pending || mine) {
            return Ok(());
        }
        match peer_device {
            Some(device) => retire_device(&self.store, peer, device).await?,
            None => retire_sessions(&self.store, peer).await?,
        }
        if mine {
            // Only my device needs it: the status the friend's devices gave it stays.
            return self.push_send(&message, now_ms, out, &mut Vec::new()).await;
        }
        message.status = Status::Sending;
        self.store.put_message(&message).await?;
        self.push_send(&message, now_ms, out, &mut Vec::new()).await
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
            ServerFrame::Message { id, from, from_device, to, envelope, sent_at } => {
                let incoming = Incoming { id, from, from_device, to, envelope, sent_at };
                self.receive(incoming, now_ms, &mut out, &mut events).await?;
            }
            ServerFrame::Receipt { id, kind, message_id, peer, peer_device, .. } => {
                match kind {
                    ReceiptKind::Delivered => self.set_status(message_id, Status::Delivered, None, &mut events).await?,
                    ReceiptKind::Read => self.set_status(message_id, Status::Read, None, &mut events).await?,
                    ReceiptKind::Expired => self.set_status(message_id, Status::Expired, None, &mut events).await?,
                    ReceiptKind::Resend => self.resend(message_id, (peer, peer_device), now_ms, &mut out).await?,
                    ReceiptKind::ReadElsewhere => self.seen_elsewhere(message_id, &mut events).await?,
                }
                out.push(ClientFrame::ReceiptAck { ids: vec![id] });
            }
            ServerFrame::CaughtUp => events.push(Event::CaughtUp),
            ServerFrame::Presence { user_id, online, last_seen } => {
                events.push(Event::Presence { user: user_id, online, last_seen })
            }
            ServerFrame::Typing { from, active } => events.push(Event::Typing { user: from, active }),
            ServerFrame::Friend(event) => self.on_friend_event(event, &mut events).await?,
            ServerFrame::Error { code, id: Some(id), devices, .. } => {
                self.on_refused(id, code, devices, now_ms, &mut events).await?
            }
            ServerFrame::Error { code, message, id: None, .. } => {
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
        devices: Option<DeviceMismatch>,
        now_ms: i64,
        events: &mut Vec<Event>,
    ) -> EngineResult<()> {
        match code {
            ErrorCode::MailboxFull | ErrorCode::RateLimited | ErrorCode::Internal | ErrorCode::Unavailable => {
                self.schedule(id, now_ms, FIRST_BACKOFF_MS);
                Ok(())
            }
            ErrorCode::DevicesChanged => {
                // Their devices changed: start afresh from their bundles, right away once.
                if let Some(mismatch) = devices {
                    retire_sessions(&self.store, mismatch.user_id).await?;
                    self.own_devices_changed |= mismatch.user_id == self.me;
                }
                self.schedule(id, now_ms, 0);
                Ok(())
            }
            _ => self.set_status(id, Status::Failed, None, events).await,
        }
    }

    async fn on_friend_event(&mut self, event: FriendEvent, events: &mut Vec<Event>) -> EngineResult<()> {
        match event {
            FriendEvent::RequestAccepted { friend } => {
                self.add_friend(friend.user_id, friend.display_name, friend.identity_key).await?;
                events.push(Event::FriendAdded(friend.user_id));
            }
            FriendEvent::IdentityChanged { user_id, identity_key } => {
                if let Some(previous) = self.store.peer(user_id).await? {
                    let first = previous.identity_key.is_none();
                    if self.add_friend(user_id, previous.display_name, Some(identity_key)).await? || first {
                        events.push(Event::IdentityChanged(user_id));
                    }
                }
            }
            FriendEvent::Removed { user_id } => {
                // Their identity and verification stay on record (see `IdentityStore`).
                forget_sessions(&self.store, user_id).await?;
                events.push(Event::FriendRemoved(user_id));
            }
            FriendEvent::RequestReceived { .. }
            | FriendEvent::RequestDeclined { .. }
            | FriendEvent::RequestCancelled { .. } => events.push(Event::RequestsChanged),
        }
        Ok(())
    }
}

/// A `message` frame's fields.
struct Incoming {
    id: MessageId,
    from: UserId,
    from_device: DeviceId,
    to: UserId,
    envelope: String,
    sent_at: i64,
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
