//! Message delivery rules: store before answering, wake the recipient, delete only on ack,
//! receipts back to the sender, expiry. The WebSocket connection calls these; they return
//! the frames to answer with.

use std::sync::atomic::Ordering;
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hush_crypto::{MAX_ENVELOPE_V2_LEN, MIN_MESSAGE_LEN, VERSION_2};
use hush_shared::ws::{
    DeviceEnvelope, DeviceMismatch, FriendEvent, MAX_IDS_PER_FRAME, MessageId, ReceiptId, ReceiptKind, ServerFrame,
};
use hush_shared::{DeviceId, ErrorCode, UserId};

use crate::state::AppState;
use crate::store::{Enqueued, MailboxPolicy, Outgoing, StoreError};
use crate::ws::hub::HubEvent;

/// Base64url length of the largest envelope.
pub const MAX_ENVELOPE_B64: usize = MAX_ENVELOPE_V2_LEN.div_ceil(3) * 4;

fn error(code: ErrorCode, message: impl Into<String>, id: Option<MessageId>) -> ServerFrame {
    ServerFrame::Error { code, message: message.into(), id, devices: None }
}

fn internal(e: StoreError, id: Option<MessageId>) -> ServerFrame {
    tracing::error!(error = %e, "mailbox operation failed");
    error(ErrorCode::Internal, "the server could not store this; retry", id)
}

/// The mailbox policy from configuration.
pub fn policy(state: &AppState) -> MailboxPolicy {
    MailboxPolicy {
        max_messages: state.config.mailbox_max_messages,
        ttl_secs: state.config.mailbox_ttl_days as i64 * 86_400,
    }
}

/// Checks the envelope's shape (the server cannot open it): base64url, size, version.
pub fn decode_envelope(text: &str) -> Result<Vec<u8>, (ErrorCode, &'static str)> {
    if text.len() > MAX_ENVELOPE_B64 {
        return Err((ErrorCode::FrameTooLarge, "the envelope is larger than crypto v2 allows"));
    }
    let bytes =
        URL_SAFE_NO_PAD.decode(text).map_err(|_| (ErrorCode::InvalidEnvelope, "the envelope is not base64url"))?;
    if bytes.len() < MIN_MESSAGE_LEN || bytes.len() > MAX_ENVELOPE_V2_LEN || bytes[0] != VERSION_2 {
        return Err((ErrorCode::InvalidEnvelope, "not a crypto v2 envelope"));
    }
    Ok(bytes)
}

/// One `send` frame's content.
pub struct Send {
    /// The client's message id.
    pub id: MessageId,
    /// The recipient.
    pub to: UserId,
    /// One envelope per device of the recipient.
    pub envelopes: Vec<DeviceEnvelope>,
}

/// What one batch learned about a recipient: friends or not, and their devices.
struct Recipient {
    user: UserId,
    friendly: bool,
    devices: Vec<DeviceId>,
}

/// The envelope for the recipient's device, or why the send names the wrong devices.
///
/// An account has one device for now (linking a second comes later), so a message is one
/// envelope in the recipient's mailbox; the check already compares whole device lists.
fn envelope_for(send: &Send, devices: &[DeviceId]) -> Result<String, ServerFrame> {
    let named: Vec<DeviceId> = send.envelopes.iter().map(|e| e.device).collect();
    let missing: Vec<DeviceId> = devices.iter().filter(|d| !named.contains(d)).copied().collect();
    let mut extra: Vec<DeviceId> = named.iter().filter(|d| !devices.contains(d)).copied().collect();
    extra.dedup();
    if !missing.is_empty() || !extra.is_empty() || named.len() != devices.len() || devices.is_empty() {
        let message = if devices.is_empty() {
            "this person has no device yet: the message waits until they set Hush up"
        } else {
            "the devices named are not the recipient's current devices; fetch their bundles again"
        };
        return Err(ServerFrame::Error {
            code: ErrorCode::DevicesChanged,
            message: message.into(),
            id: Some(send.id),
            devices: Some(DeviceMismatch { user_id: send.to, missing, extra }),
        });
    }
    Ok(send.envelopes[0].envelope.clone())
}

/// `send` frames that arrived together from one connection (often just one): each is
/// checked as alone, the valid ones are stored in one store call (one commit on SQLite),
/// then every recipient is woken once. Answers `stored` or `error` per send, in order.
///
/// A storage failure answers nothing and is returned: the connection then closes (1011)
/// without reading further frames, and the client sends its whole outbox again, in order,
/// on the next connection. Refusing one message while accepting the next would let a
/// retried message land after a later one.
pub async fn send_many(
    state: &AppState,
    from: UserId,
    from_device: DeviceId,
    sends: Vec<Send>,
) -> Result<Vec<ServerFrame>, StoreError> {
    let started = Instant::now();
    let mut answers: Vec<Option<ServerFrame>> = Vec::with_capacity(sends.len());
    let mut accepted: Vec<Outgoing> = Vec::with_capacity(sends.len());
    let mut recipients: Vec<Recipient> = Vec::new();
    for send in sends {
        let index = match recipients.iter().position(|r| r.user == send.to) {
            Some(index) => index,
            None => {
                let friendly = state.stores.social.are_friends(from, send.to).await?;
                let devices = if friendly { state.stores.devices.device_ids(send.to).await? } else { vec![] };
                recipients.push(Recipient { user: send.to, friendly, devices });
                recipients.len() - 1
            }
        };
        if !recipients[index].friendly {
            answers.push(Some(error(ErrorCode::NotFriends, "you can only message friends", Some(send.id))));
            continue;
        }
        let checked = envelope_for(&send, &recipients[index].devices)
            .and_then(|text| decode_envelope(&text).map_err(|(code, message)| error(code, message, Some(send.id))));
        match checked {
            Ok(bytes) => {
                answers.push(None);
                accepted.push(Outgoing { to: send.to, id: send.id, envelope: bytes });
            }
            Err(refusal) => answers.push(Some(refusal)),
        }
    }
    if accepted.is_empty() {
        return Ok(answers.into_iter().flatten().collect());
    }
    // The envelopes move into the store; keep who each message was for.
    let routes: Vec<(MessageId, UserId)> = accepted.iter().map(|m| (m.id, m.to)).collect();
    let stored = state.stores.mailbox.enqueue_many(from, from_device, accepted, state.now(), policy(state)).await?;
    let mut woken: Vec<UserId> = Vec::new();
    let mut results = routes.into_iter().zip(stored);
    for slot in answers.iter_mut().filter(|a| a.is_none()) {
        let Some(((id, to), result)) = results.next() else { break };
        *slot = Some(match result {
            Enqueued::Stored { at } => {
                state.metrics.store_latency.observe(started.elapsed());
                state.metrics.messages_stored.fetch_add(1, Ordering::Relaxed);
                if !woken.contains(&to) {
                    woken.push(to);
                }
                ServerFrame::Stored { id, at }
            }
            Enqueued::Duplicate { at } => {
                state.metrics.store_latency.observe(started.elapsed());
                ServerFrame::Stored { id, at }
            }
            Enqueued::MailboxFull => {
                error(ErrorCode::MailboxFull, "the recipient's mailbox is full; retry later", Some(id))
            }
        });
    }
    for to in woken {
        state.hub.send(to, HubEvent::Mail).await;
    }
    Ok(answers.into_iter().flatten().collect())
}

fn check_ids<T>(ids: &[T]) -> Result<(), ServerFrame> {
    if ids.len() > MAX_IDS_PER_FRAME {
        return Err(error(ErrorCode::InvalidFrame, format!("at most {MAX_IDS_PER_FRAME} ids per frame"), None));
    }
    Ok(())
}

/// `ack`: deletes the messages and queues `delivered` receipts for their senders.
pub async fn ack(state: &AppState, user: UserId, ids: &[MessageId]) -> Result<(), ServerFrame> {
    check_ids(ids)?;
    let mut senders = state.stores.mailbox.ack_messages(user, ids, state.now()).await.map_err(|e| internal(e, None))?;
    state.metrics.messages_acked.fetch_add(senders.len() as u64, Ordering::Relaxed);
    senders.dedup();
    for sender in senders {
        state.hub.send(sender, HubEvent::Receipts).await;
    }
    Ok(())
}

/// `retry`: deletes messages this device could not open, without a delivered receipt, and
/// asks their senders to send them again (a `resend` receipt).
pub async fn retry(state: &AppState, user: UserId, ids: &[MessageId]) -> Result<(), ServerFrame> {
    check_ids(ids)?;
    let mut senders =
        state.stores.mailbox.retry_messages(user, ids, state.now()).await.map_err(|e| internal(e, None))?;
    senders.dedup();
    for sender in senders {
        state.hub.send(sender, HubEvent::Receipts).await;
    }
    Ok(())
}

/// `read`: queues `read` receipts for the original sender, if still a friend.
pub async fn read(state: &AppState, user: UserId, to: UserId, ids: &[MessageId]) -> Result<(), ServerFrame> {
    check_ids(ids)?;
    if !state.stores.social.are_friends(user, to).await.map_err(|e| internal(e, None))? {
        return Err(error(ErrorCode::NotFriends, "read receipts go to friends only", None));
    }
    state
        .stores
        .mailbox
        .add_receipts(to, user, ReceiptKind::Read, ids, state.now())
        .await
        .map_err(|e| internal(e, None))?;
    state.hub.send(to, HubEvent::Receipts).await;
    Ok(())
}

/// `receipt_ack`: deletes receipts the sender has applied.
pub async fn receipt_ack(state: &AppState, user: UserId, ids: &[ReceiptId]) -> Result<(), ServerFrame> {
    check_ids(ids)?;
    state.stores.mailbox.ack_receipts(user, ids).await.map_err(|e| internal(e, None))
}

/// `typing`: forwarded to a friend, never stored.
pub async fn typing(state: &AppState, from: UserId, to: UserId, active: bool) -> Result<(), ServerFrame> {
    if !state.stores.social.are_friends(from, to).await.map_err(|e| internal(e, None))? {
        return Err(error(ErrorCode::NotFriends, "typing goes to friends only", None));
    }
    state.hub.send(to, HubEvent::Frame(ServerFrame::Typing { from, active })).await;
    Ok(())
}

/// Pushes a friendship change to a user's live connections.
pub async fn friend_event(state: &AppState, user: UserId, event: FriendEvent) {
    state.hub.send(user, HubEvent::Frame(ServerFrame::Friend(event))).await;
}

/// Tells a user's friends that their presence changed.
pub async fn announce_presence(state: &AppState, user: UserId, online: bool, last_seen: Option<i64>) {
    match state.stores.social.friend_ids(user).await {
        Ok(friends) => {
            for friend in friends {
                state
                    .hub
                    .send(friend, HubEvent::Frame(ServerFrame::Presence { user_id: user, online, last_seen }))
                    .await;
            }
        }
        Err(e) => tracing::warn!(error = %e, "presence fan-out failed"),
    }
}

/// Expires undelivered messages past their time and wakes their senders for the
/// `expired` receipts. Returns how many senders were told.
pub async fn sweep_expired(state: &AppState) -> Result<usize, StoreError> {
    let ttl = policy(state).ttl_secs;
    let mut told = 0;
    loop {
        let senders = state.stores.mailbox.expire(state.now(), ttl, 500).await?;
        if senders.is_empty() {
            return Ok(told);
        }
        told += senders.len();
        for sender in senders {
            state.hub.send(sender, HubEvent::Receipts).await;
        }
    }
}
