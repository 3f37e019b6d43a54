//! One task per WebSocket connection.
//!
//! The socket is split; this task owns both halves. It reads client frames (handling every
//! frame already waiting together, so a burst of sends is one store transaction and a burst
//! of acks one delete) and reacts to hub wake-ups — which also say when to ping and when the
//! server shuts down, so the loop polls no timer of its own — in one `select!`, and writes
//! its answers itself through a [`Writer`]. Mailbox delivery is
//! pull-based: on a wake-up the task reads the mailbox after its cursor, keeping at most
//! `DELIVERY_WINDOW` messages and `RECEIPT_WINDOW` receipts unacknowledged, so a drain after
//! a long absence is flow-controlled and a missed wake-up can only delay, never lose, a
//! message.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket};
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use hush_shared::limits::{TYPING_FRAMES_PER_FRIEND_PER_SEC, WS_CONNECTS_PER_ACCOUNT_PER_MINUTE};
use hush_shared::ws::{
    AUTH_TIMEOUT_SECS, ClientFrame, MAX_IDS_PER_FRAME, MessageId, PROTOCOL_VERSION, ReceiptId, ServerFrame, close,
};
use hush_shared::{DeviceId, ErrorCode, UserId};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::cursor::QueueCursor;
use super::message_frame::{handed_message_text, message_text};
use super::rate::{PerPeer, RateLimit};
use super::read_gate::ReadGate;
use super::writer::{WriteFailure, Writer, close_frame, text};
use crate::hub::{ConnectionEntry, FRAME_QUEUE, Handed, Live, Wake, next_connection_id};
use crate::metrics::Via;
use crate::service::delivery;
use crate::state::AppState;
use crate::store::{Mailbox, MessageRef, RateRule, ReceiptRef, SessionId, StoredReceipt};
use crate::tokens::AccessError;

/// Frames already waiting on the socket handled together (see `on_ready_messages`).
const READ_BATCH: usize = 256;
/// Rate-limit violations tolerated before the connection is closed with 1008.
const MAX_RATE_VIOLATIONS: u32 = 20;
/// How long a closing connection waits for the client's close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Why a browser that is not a device of the account may not touch the mailbox.
const NO_DEVICE: &str = "this browser is not a device of the account: register it first";

/// Serves one upgraded socket until either side ends it.
pub async fn run(state: AppState, socket: WebSocket) {
    let _open = state.sockets.enter();
    let (sink, stream) = socket.split();
    serve(state, sink, stream).await;
}

fn storage_error(_: crate::store::StoreError) -> Ending {
    Ending(1011, "storage error")
}

/// Why the loop ended, and the close frame to send.
#[derive(Debug, PartialEq, Eq)]
struct Ending(u16, &'static str);

/// Writing ended: so does the connection.
impl From<WriteFailure> for Ending {
    fn from(WriteFailure(code, reason): WriteFailure) -> Self {
        Ending(code, reason)
    }
}

/// The close code RFC 6455 names for a frame the socket could not read. The WebSocket
/// library reports these only as errors, so they are told apart by their text.
fn ending_for_read_error(error: &impl std::fmt::Display) -> Ending {
    let text = error.to_string();
    let lower = text.to_ascii_lowercase();
    if lower.contains("too long") || lower.contains("space limit") {
        Ending(1009, "message too big")
    } else if lower.contains("utf-8") || lower.contains("utf8") {
        Ending(1007, "text is not valid UTF-8")
    } else {
        Ending(1002, "protocol error")
    }
}

/// The connection core, generic over the socket halves so it can be driven by channels.
pub async fn serve<S, R, E>(state: AppState, mut sink: S, mut stream: R)
where
    S: Sink<Message> + Unpin + Send,
    R: Stream<Item = Result<Message, E>> + Unpin,
    E: std::fmt::Display,
{
    let (user, session, device) = match authenticate(&state, &mut stream).await {
        Ok(who) => who,
        Err((code, message, close_code)) => {
            state.metrics.error(code, Via::WebSocket);
            let refusal = ServerFrame::Error { code, message: message.into(), id: None, devices: None };
            let _ = sink.send(text(&refusal)).await;
            let _ = sink.send(close_frame(close_code, "authentication failed")).await;
            return await_client_close(&mut stream).await;
        }
    };

    let out = Writer::new(sink);
    let (frames_tx, frames_rx) = mpsc::channel::<Box<ServerFrame>>(FRAME_QUEUE);
    let wake = Arc::new(Wake::default());
    let id = next_connection_id();
    let entry = ConnectionEntry { id, session, device, wake: wake.clone(), frames: frames_tx };
    if !state.hub.register(user, entry, state.config.max_connections_per_account) {
        out.close(close_frame(close::TOO_MANY_CONNECTIONS, "too many connections for this account")).await;
        return await_client_close(&mut stream).await;
    }
    state.metrics.connections.fetch_add(1, Ordering::Relaxed);
    let mut conn = Connection::new(state.clone(), Who { user, session, device }, id, out, wake);
    let ending = conn.run(&mut stream, frames_rx).await;
    state.metrics.connections.fetch_sub(1, Ordering::Relaxed);
    state.hub.unregister(user, id);
    if let Some(device) = device
        && let Err(e) = state.stores.mailbox.mark_seen(Mailbox { user, device }, state.now()).await
    {
        tracing::warn!(error = %e, "recording when a device was last seen failed");
    }
    if state.hub.disconnected(user, Live { id, device }, state.now()).await {
        delivery::announce_presence(&state, user, false, Some(state.now())).await;
    }
    conn.out.close(close_frame(ending.0, ending.1)).await;
    await_client_close(&mut stream).await;
}

/// After our close frame, reads (and drops) what the client still sends until its close
/// frame, for at most [`CLOSE_GRACE`] (RFC 6455 §7.1.1: the server closes TCP once both
/// close frames are out). Closing the socket with frames unread would send a TCP reset
/// instead, and a client that was still sending — a flood cut with 1008 — would see
/// 1006 and often not our close frame. Returns at once when the client closed first.
async fn await_client_close<R, E>(stream: &mut R)
where
    R: Stream<Item = Result<Message, E>> + Unpin,
{
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while let Some(Ok(message)) = stream.next().await {
            if let Message::Close(_) = message {
                break;
            }
        }
    })
    .await;
}

/// Checks the `auth` frame: the account, the session, and the session's device (if this
/// browser registered one).
async fn authenticate<R, E>(
    state: &AppState,
    stream: &mut R,
) -> Result<(UserId, SessionId, Option<DeviceId>), (ErrorCode, &'static str, u16)>
where
    R: Stream<Item = Result<Message, E>> + Unpin,
{
    let deadline = Duration::from_secs(AUTH_TIMEOUT_SECS);
    let unauthorized = |m| (ErrorCode::AuthRequired, m, close::UNAUTHORIZED);
    let token = loop {
        match tokio::time::timeout(deadline, stream.next()).await {
            Err(_) => return Err(unauthorized("send an auth frame within 5 seconds")),
            Ok(None) | Ok(Some(Err(_))) => return Err(unauthorized("connection closed before auth")),
            Ok(Some(Ok(Message::Text(t)))) => match serde_json::from_str::<ClientFrame>(&t) {
                Ok(ClientFrame::Auth { token }) => break token,
                _ => return Err(unauthorized("the first frame must be {\"type\":\"auth\",\"token\":…}")),
            },
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(_))) => return Err(unauthorized("the first frame must be a JSON text frame")),
        }
    };
    let (user, session) = state.tokens.verify_access(&token, state.now()).map_err(|e| match e {
        AccessError::Expired => {
            (ErrorCode::TokenExpired, "the access token has expired; refresh it", close::UNAUTHORIZED)
        }
        AccessError::Invalid => (ErrorCode::Unauthorized, "the access token is not valid", close::UNAUTHORIZED),
    })?;
    let unavailable = |_| (ErrorCode::Unavailable, "storage is unavailable", 1011);
    match state.stores.sessions.active_user(session).await.map_err(unavailable)? {
        Some(owner) if owner == user => {}
        _ => return Err((ErrorCode::SessionRevoked, "this session has ended", close::SESSION_REVOKED)),
    }
    let connects =
        RateRule { key: format!("ws-connect:{user}"), limit: WS_CONNECTS_PER_ACCOUNT_PER_MINUTE, window_secs: 60 };
    if state.stores.limits.hit(&[connects], state.now()).await.map_err(unavailable)?.is_err() {
        let message = "this account opened too many connections in the last minute; wait before reconnecting";
        return Err((ErrorCode::RateLimited, message, close::TOO_MANY_CONNECTIONS));
    }
    let devices = state.stores.devices.device_set(user).await.map_err(unavailable)?;
    let device = devices.of_session(session).map(|d| d.id);
    Ok((user, session, device))
}

/// Who is on the other end: the account, the session, and the session's device — `None`
/// for a browser that is not a device of the account, which then gets no messages or
/// receipts and may not send, so it can never take messages meant for the device.
struct Who {
    user: UserId,
    session: SessionId,
    device: Option<DeviceId>,
}

/// Frames of one read batch waiting to be acted on together (see `Connection::dispatch`).
#[derive(Default)]
struct Pending {
    sends: Vec<delivery::Send>,
    acks: Vec<MessageId>,
    receipt_acks: Vec<ReceiptId>,
}

/// The messages an `ack` or `retry` names, as this connection handed them out (with their
/// senders); ids it did not hand out are left alone — the message comes again on this
/// connection and the client acks it then.
fn handed_out(mail: &mut QueueCursor, ids: &[MessageId]) -> Result<Vec<MessageRef>, ServerFrame> {
    delivery::check_ids(ids)?;
    let acked = mail.acked(ids).into_iter();
    Ok(acked.map(|m| MessageRef { sender: UserId(m.owner), id: m.id, seq: m.seq }).collect())
}

/// The receipts a `receipt_ack` names, as this connection handed them out; like messages,
/// others are left alone (they come again and are acked then).
fn receipts_handed_out(receipts: &mut QueueCursor, ids: &[ReceiptId]) -> Result<Vec<ReceiptRef>, ServerFrame> {
    delivery::check_ids(ids)?;
    Ok(receipts.acked(ids).into_iter().map(|r| ReceiptRef { id: r.id, seq: r.seq }).collect())
}

struct Connection<S> {
    state: AppState,
    user: UserId,
    session: SessionId,
    device: Option<DeviceId>,
    id: u64,
    out: Writer<S>,
    wake: Arc<Wake>,
    mail: QueueCursor,
    receipts: QueueCursor,
    caught_up_sent: bool,
    last_heard: Instant,
    rate: RateLimit,
    typing: PerPeer,
}

impl<S: Sink<Message> + Unpin> Connection<S> {
    fn new(state: AppState, who: Who, id: u64, out: Writer<S>, wake: Arc<Wake>) -> Self {
        let per_sec = f64::from(state.config.ws_frames_per_sec.max(1));
        Self {
            state,
            user: who.user,
            session: who.session,
            device: who.device,
            id,
            out,
            wake,
            mail: QueueCursor::messages(),
            receipts: QueueCursor::receipts(),
            caught_up_sent: false,
            last_heard: Instant::now(),
            rate: RateLimit::new(per_sec),
            typing: PerPeer::new(f64::from(TYPING_FRAMES_PER_FRIEND_PER_SEC)),
        }
    }

    /// Queues `frame` for the client (it goes out with the event's flush: [`Writer`]).
    async fn send(&mut self, frame: &ServerFrame) -> Result<(), Ending> {
        if let ServerFrame::Error { code, .. } = frame {
            self.state.metrics.error(*code, Via::WebSocket);
        }
        self.out.queue(text(frame)).await.map_err(Ending::from)
    }

    async fn run<R, E>(&mut self, stream: &mut R, mut frames: mpsc::Receiver<Box<ServerFrame>>) -> Ending
    where
        R: Stream<Item = Result<Message, E>> + Unpin,
        E: std::fmt::Display,
    {
        if let Err(ending) = self.start().await {
            return ending;
        }
        if let Err(ending) = self.after_event().await {
            return ending;
        }
        if let Err(failure) = self.out.flush().await {
            return failure.into();
        }
        let wake = self.wake.clone();
        let mut stream = ReadGate::new(stream);
        loop {
            let step = tokio::select! {
                incoming = stream.next() => match incoming {
                    None => Err(Ending(1000, "closed")),
                    Some(Err(e)) => Err(ending_for_read_error(&e)),
                    // Boxed: inline, handling frames was the largest state of the task's
                    // future, and every idle connection paid for it (4,312 → 3,584 bytes;
                    // BENCHMARKS.md, "Sends committed together").
                    Some(Ok(message)) => Box::pin(self.on_ready_messages(message, &mut stream)).await,
                },
                Some(frame) = frames.recv() => self.send_hub_frames(frame, &mut frames).await,
                _ = wake.raised() => Ok(()),
            };
            if let Err(ending) = step {
                return ending;
            }
            if let Err(ending) = self.after_event().await {
                return ending;
            }
            if let Err(failure) = self.out.flush().await {
                return failure.into();
            }
        }
    }

    async fn start(&mut self) -> Result<(), Ending> {
        let hello = ServerFrame::Hello {
            protocol: PROTOCOL_VERSION,
            user_id: self.user,
            device_id: self.device,
            server_time: self.state.now(),
        };
        self.send(&hello).await?;
        // Out at once: what follows waits on the store and, on Redis, the hub.
        self.out.flush().await?;
        self.state.push.connected(self.user, self.device);
        if self.state.hub.connected(self.user, self.live()).await {
            delivery::announce_presence(&self.state, self.user, true, None).await;
        }
        let friends =
            self.state.stores.social.friend_ids(self.user).await.map_err(|_| Ending(1011, "storage error"))?;
        for friend in friends {
            self.send(&delivery::presence_of(&self.state, friend).await).await?;
        }
        if let Some(mailbox) = self.mailbox() {
            // Registration opened it already; this heals a registration cut short.
            self.state.stores.mailbox.open_mailbox(mailbox).await.map_err(storage_error)?;
            self.state.stores.mailbox.mark_seen(mailbox, self.state.now()).await.map_err(storage_error)?;
            self.wake.mail.store(true, Ordering::Release);
            self.wake.receipts.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Sends `first` and the hub's frames queued behind it (presence, typing, friend
    /// events), so a burst goes out in one write.
    async fn send_hub_frames(
        &mut self,
        first: Box<ServerFrame>,
        frames: &mut mpsc::Receiver<Box<ServerFrame>>,
    ) -> Result<(), Ending> {
        self.send(&first).await?;
        for _ in 1..FRAME_QUEUE {
            match frames.try_recv() {
                Ok(frame) => self.send(&frame).await?,
                Err(_) => break,
            }
        }
        Ok(())
    }

    /// A ping is due ([`Hub::ping_slot`](crate::hub::Hub::ping_slot)): closes a connection
    /// silent for 2.5 ping intervals, one whose session ended, else pings.
    async fn on_ping_due(&mut self) -> Result<(), Ending> {
        let idle_limit = Duration::from_secs(self.state.config.ws_ping_secs.max(1)) * 5 / 2;
        if self.last_heard.elapsed() > idle_limit {
            return Err(Ending(1001, "idle timeout"));
        }
        match self.state.stores.sessions.active_user(self.session).await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(Ending(close::SESSION_REVOKED, "session revoked")),
            Err(_) => {}
        }
        self.state.hub.heartbeat(self.user, self.live()).await;
        self.out.queue(Message::Ping(Default::default())).await.map_err(Ending::from)
    }

    async fn after_event(&mut self) -> Result<(), Ending> {
        if self.wake.removed.load(Ordering::Acquire) {
            return Err(Ending(close::DEVICE_REMOVED, "this device was removed from the account"));
        }
        if self.wake.revoked.load(Ordering::Acquire) {
            return Err(Ending(close::SESSION_REVOKED, "session revoked"));
        }
        if self.wake.lagging.load(Ordering::Acquire) {
            return Err(Ending(close::LAGGING, "too far behind; reconnect"));
        }
        if self.wake.closing.load(Ordering::Acquire) {
            return Err(Ending(1001, "server shutting down"));
        }
        if self.wake.ping_due.swap(false, Ordering::AcqRel) {
            self.on_ping_due().await?;
        }
        let Some(mailbox) = self.mailbox() else {
            // Not a device of the account: no mailbox, nothing to catch up on.
            if !self.caught_up_sent {
                self.caught_up_sent = true;
                self.send(&ServerFrame::CaughtUp).await?;
            }
            return Ok(());
        };
        // Copies and receipts handed over go out as they are when this connection has read
        // up to the one stored before each; otherwise the mailbox is read.
        for handoff in self.wake.take_handoffs() {
            match handoff.item {
                Handed::Message(c) if self.mail.can_take(handoff.prev) => {
                    self.send_copy((c.seq, c.id, c.from), handed_message_text(&c)).await?
                }
                Handed::Message(_) => self.mail.woken(),
                Handed::Receipt(r) if self.receipts.can_take(handoff.prev) => self.send_receipt(r).await?,
                Handed::Receipt(_) => self.receipts.woken(),
            }
        }
        if self.wake.mail.swap(false, Ordering::AcqRel) {
            self.mail.woken();
        }
        if self.wake.receipts.swap(false, Ordering::AcqRel) {
            self.receipts.woken();
        }
        self.pump_mail(mailbox).await?;
        self.pump_receipts(mailbox).await?;
        if !self.caught_up_sent && self.mail.is_exhausted() && self.receipts.is_exhausted() {
            self.caught_up_sent = true;
            self.send(&ServerFrame::CaughtUp).await?;
        }
        Ok(())
    }

    async fn pump_mail(&mut self, mailbox: Mailbox) -> Result<(), Ending> {
        while let Some(room) = self.mail.room() {
            let store = &self.state.stores.mailbox;
            let batch = store.fetch_messages(mailbox, self.mail.after, room).await.map_err(storage_error)?;
            self.mail.read(batch.len(), room);
            for m in batch {
                self.send_copy((m.seq, m.id, m.from), message_text(&m)).await?;
            }
        }
        Ok(())
    }

    /// Sends a copy from this device's mailbox — its `seq`, id and sender, and its frame —
    /// and remembers it was handed out.
    async fn send_copy(&mut self, (seq, id, from): (i64, MessageId, UserId), frame: Message) -> Result<(), Ending> {
        self.mail.sent(seq, id, from.0);
        self.state.metrics.messages_relayed.fetch_add(1, Ordering::Relaxed);
        self.out.queue(frame).await.map_err(Ending::from)
    }

    async fn pump_receipts(&mut self, mailbox: Mailbox) -> Result<(), Ending> {
        while let Some(room) = self.receipts.room() {
            let store = &self.state.stores.mailbox;
            let batch = store.fetch_receipts(mailbox, self.receipts.after, room).await.map_err(storage_error)?;
            self.receipts.read(batch.len(), room);
            for r in batch {
                self.send_receipt(r).await?;
            }
        }
        Ok(())
    }

    /// Sends a receipt from this device's mailbox and remembers it was handed out.
    async fn send_receipt(&mut self, r: StoredReceipt) -> Result<(), Ending> {
        self.receipts.sent(r.seq, r.id, Uuid::nil());
        let (id, kind, message_id, peer, peer_device, at) = (r.id, r.kind, r.message_id, r.peer, r.peer_device, r.at);
        self.send(&ServerFrame::Receipt { id, kind, message_id, peer, peer_device, at }).await
    }

    /// This connection as presence counts it.
    fn live(&self) -> Live {
        Live { id: self.id, device: self.device }
    }

    /// This device's mailbox; `None` for a browser that is not a device of the account.
    fn mailbox(&self) -> Option<Mailbox> {
        self.device.map(|device| Mailbox { user: self.user, device })
    }

    /// Handles `first` and every further frame the socket already holds (up to
    /// [`READ_BATCH`]), so a burst of sends is stored in one store call and a burst of acks
    /// deleted in one, instead of one commit per frame.
    async fn on_ready_messages<R, E>(&mut self, first: Message, stream: &mut R) -> Result<(), Ending>
    where
        R: Stream<Item = Result<Message, E>> + Unpin,
        E: std::fmt::Display,
    {
        let mut frames = Vec::new();
        let mut next = Some(first);
        let mut ending = None;
        while let Some(message) = next.take() {
            match self.parse(message).await {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => {}
                Err(end) => {
                    ending = Some(end);
                    break;
                }
            }
            if frames.len() >= READ_BATCH {
                break;
            }
            next = match stream.next().now_or_never() {
                Some(Some(Ok(message))) => Some(message),
                Some(Some(Err(e))) => {
                    ending = Some(ending_for_read_error(&e));
                    None
                }
                Some(None) => {
                    ending = Some(Ending(1000, "closed"));
                    None
                }
                None => None,
            };
        }
        self.dispatch(frames).await?;
        ending.map_or(Ok(()), Err)
    }

    /// A client message as a frame to act on; `None` when it needs nothing more (a
    /// ping, or a frame already refused with an error).
    async fn parse(&mut self, message: Message) -> Result<Option<ClientFrame>, Ending> {
        self.last_heard = Instant::now();
        let text = match message {
            Message::Text(t) => t,
            Message::Close(_) => return Err(Ending(1000, "closed by client")),
            Message::Ping(_) | Message::Pong(_) => return Ok(None),
            Message::Binary(_) => {
                return self.refuse(ErrorCode::InvalidFrame, "frames are JSON text".into(), None).await.map(|()| None);
            }
        };
        if !self.rate.allow() {
            if self.rate.violations > MAX_RATE_VIOLATIONS {
                return Err(Ending(1008, "rate limit exceeded"));
            }
            let id = match serde_json::from_str::<ClientFrame>(&text) {
                Ok(ClientFrame::Send { id, .. }) => Some(id),
                _ => None,
            };
            return self.refuse(ErrorCode::RateLimited, "too many frames; slow down".into(), id).await.map(|()| None);
        }
        match serde_json::from_str::<ClientFrame>(&text) {
            Ok(frame) => Ok(Some(frame)),
            Err(e) => {
                self.refuse(ErrorCode::InvalidFrame, format!("not a valid frame: {e}"), None).await.map(|()| None)
            }
        }
    }

    /// Acts on frames in order, merging the `send`s, `ack`s and `receipt_ack`s between two
    /// other frames into one batch each. The three touch disjoint data (this user's
    /// outgoing messages, its incoming messages, its receipts), so only the order within
    /// each kind matters; any other frame (a `read`, a `ping` whose `pong` confirms what came
    /// before) waits for everything before it.
    async fn dispatch(&mut self, frames: Vec<ClientFrame>) -> Result<(), Ending> {
        let mut pending = Pending::default();
        for frame in frames {
            match frame {
                ClientFrame::Send { id, to, envelopes, own } => {
                    pending.sends.push(delivery::Send { id, to, envelopes, own })
                }
                ClientFrame::Ack { ids } if ids.len() <= MAX_IDS_PER_FRAME => {
                    if pending.acks.len() + ids.len() > MAX_IDS_PER_FRAME {
                        self.flush_acks(&mut pending.acks).await?;
                    }
                    pending.acks.extend(ids);
                }
                ClientFrame::ReceiptAck { ids } if ids.len() <= MAX_IDS_PER_FRAME => {
                    if pending.receipt_acks.len() + ids.len() > MAX_IDS_PER_FRAME {
                        self.flush_receipt_acks(&mut pending.receipt_acks).await?;
                    }
                    pending.receipt_acks.extend(ids);
                }
                other => {
                    self.flush(&mut pending).await?;
                    self.on_frame(other).await?;
                }
            }
        }
        self.flush(&mut pending).await
    }

    async fn flush(&mut self, pending: &mut Pending) -> Result<(), Ending> {
        self.flush_sends(&mut pending.sends).await?;
        self.flush_acks(&mut pending.acks).await?;
        self.flush_receipt_acks(&mut pending.receipt_acks).await
    }

    async fn flush_sends(&mut self, sends: &mut Vec<delivery::Send>) -> Result<(), Ending> {
        if sends.is_empty() {
            return Ok(());
        }
        let Some(mailbox) = self.mailbox() else {
            for send in std::mem::take(sends) {
                self.refuse(ErrorCode::NoDevice, NO_DEVICE.into(), Some(send.id)).await?;
            }
            return Ok(());
        };
        let answers = delivery::send_many(&self.state, mailbox, std::mem::take(sends)).await.map_err(|e| {
            tracing::error!(error = %e, "storing messages failed; closing the connection so the client resends in order");
            Ending(1011, "storage error")
        })?;
        for answer in answers {
            self.send(&answer).await?;
        }
        Ok(())
    }

    async fn flush_acks(&mut self, acks: &mut Vec<MessageId>) -> Result<(), Ending> {
        if acks.is_empty() {
            return Ok(());
        }
        self.on_frame(ClientFrame::Ack { ids: std::mem::take(acks) }).await
    }

    async fn flush_receipt_acks(&mut self, ids: &mut Vec<ReceiptId>) -> Result<(), Ending> {
        if ids.is_empty() {
            return Ok(());
        }
        self.on_frame(ClientFrame::ReceiptAck { ids: std::mem::take(ids) }).await
    }

    async fn on_frame(&mut self, frame: ClientFrame) -> Result<(), Ending> {
        let typing_allowed = match &frame {
            ClientFrame::Typing { to, .. } => self.typing.allow(*to),
            _ => true,
        };
        let state = &self.state;
        let no_device =
            || ServerFrame::Error { code: ErrorCode::NoDevice, message: NO_DEVICE.into(), id: None, devices: None };
        let mailbox = self.mailbox();
        let answer = match frame {
            ClientFrame::Auth { .. } => Err(ServerFrame::Error {
                code: ErrorCode::InvalidFrame,
                message: "already authenticated".into(),
                id: None,
                devices: None,
            }),
            ClientFrame::Send { id, to, envelopes, own } => {
                return self.flush_sends(&mut vec![delivery::Send { id, to, envelopes, own }]).await;
            }
            ClientFrame::Retry { ids } => match mailbox {
                Some(mailbox) => match handed_out(&mut self.mail, &ids) {
                    Ok(messages) => delivery::retry(state, mailbox, &messages).await,
                    Err(refusal) => Err(refusal),
                },
                None => Err(no_device()),
            },
            ClientFrame::Ack { ids } => match mailbox {
                Some(mailbox) => match handed_out(&mut self.mail, &ids) {
                    Ok(messages) => delivery::ack(state, mailbox, &messages).await,
                    Err(refusal) => Err(refusal),
                },
                None => Err(no_device()),
            },
            ClientFrame::Read { to, ids } => match mailbox {
                Some(mailbox) => delivery::read(state, mailbox, to, &ids).await,
                None => Err(no_device()),
            },
            ClientFrame::ReceiptAck { ids } => match mailbox {
                Some(mailbox) => match receipts_handed_out(&mut self.receipts, &ids) {
                    Ok(receipts) => delivery::receipt_ack(state, mailbox, &receipts).await,
                    Err(refusal) => Err(refusal),
                },
                None => Err(no_device()),
            },
            // Past the per-friend rate, typing is dropped: it is a hint, not a message.
            ClientFrame::Typing { .. } if !typing_allowed => Ok(()),
            ClientFrame::Typing { to, active } => delivery::typing(state, self.user, to, active).await,
            ClientFrame::Ping => Err(ServerFrame::Pong),
        };
        match answer {
            Ok(()) => Ok(()),
            Err(frame) => self.send(&frame).await,
        }
    }

    async fn refuse(&mut self, code: ErrorCode, message: String, id: Option<MessageId>) -> Result<(), Ending> {
        self.send(&ServerFrame::Error { code, message, id, devices: None }).await
    }
}
