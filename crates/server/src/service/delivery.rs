//! Message delivery rules: store before answering, wake the recipient, delete only on ack,
//! receipts back to the sender, expiry. The WebSocket connection calls these; they return
//! the frames to answer with.

use std::sync::atomic::Ordering;
use std::time::Instant;

use hush_crypto::{MAX_ENVELOPE_V2_LEN, MIN_MESSAGE_LEN, VERSION_2};
use hush_shared::ws::{DeviceEnvelope, DeviceMismatch, FriendEvent, MAX_IDS_PER_FRAME, MessageId, ServerFrame};
use hush_shared::{DeviceId, ErrorCode, UserId};

use super::handoff::{self, ByPerson, Kept};
use crate::hub::HubEvent;
use crate::state::AppState;
use crate::store::{Enqueued, EnvelopeCopy, Mailbox, MailboxPolicy, MessageRef, Outgoing, ReceiptRef, StoreError};

/// Base64url length (unpadded, as envelopes travel) of the largest envelope: a longer text
/// decodes to more than [`MAX_ENVELOPE_V2_LEN`] bytes.
pub const MAX_ENVELOPE_B64: usize = (MAX_ENVELOPE_V2_LEN * 4).div_ceil(3);

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

/// Checks the envelope's shape (the server cannot open it): base64url, size, version. The
/// bounds are the crypto crate's (`MIN_MESSAGE_LEN`, `MAX_ENVELOPE_V2_LEN`, as CRYPTO.md
/// states them), applied to the decoded bytes: too long is `frame_too_large`, too short or
/// not v2 is `invalid_envelope`. Decoded with SIMD where the processor has it (the
/// `base64` crate's decoder was 4 % of the server's instructions one message at a time;
/// BENCHMARKS.md, "Sockets polled when they may hold a frame, records written many at a
/// time"), refusing what `base64`'s `URL_SAFE_NO_PAD` refuses: padding, the standard
/// alphabet's `+` and `/`, and set trailing bits (an envelope has one spelling, so the text
/// relayed as written is the one encoding its bytes gives).
pub fn decode_envelope(text: &str) -> Result<Vec<u8>, (ErrorCode, &'static str)> {
    let too_large = (ErrorCode::FrameTooLarge, "the envelope is larger than crypto v2 allows");
    if text.len() > MAX_ENVELOPE_B64 {
        return Err(too_large);
    }
    let bytes = base64_simd::URL_SAFE_NO_PAD
        .decode_to_vec(text)
        .map_err(|_| (ErrorCode::InvalidEnvelope, "the envelope is not base64url"))?;
    if bytes.len() > MAX_ENVELOPE_V2_LEN {
        return Err(too_large);
    }
    if bytes.len() < MIN_MESSAGE_LEN || bytes[0] != VERSION_2 {
        return Err((ErrorCode::InvalidEnvelope, "not a crypto v2 envelope"));
    }
    Ok(bytes)
}

/// The base64url text of `send`'s envelopes, the message's place in its batch and each
/// envelope's mailbox with it (`me` is the sender).
fn envelope_texts(index: usize, send: Send, me: UserId) -> impl Iterator<Item = (usize, Mailbox, String)> {
    let theirs =
        send.envelopes.into_iter().map(move |e| (index, Mailbox { user: send.to, device: e.device }, e.envelope));
    theirs.chain(send.own.into_iter().map(move |e| (index, Mailbox { user: me, device: e.device }, e.envelope)))
}

/// One `send` frame's content.
pub struct Send {
    /// The client's message id.
    pub id: MessageId,
    /// The recipient.
    pub to: UserId,
    /// One envelope per device of the recipient.
    pub envelopes: Vec<DeviceEnvelope>,
    /// One envelope per other device of the sender.
    pub own: Vec<DeviceEnvelope>,
}

/// What one batch learned about a recipient: friends or not, and their devices.
struct Recipient {
    user: UserId,
    friendly: bool,
    devices: Vec<DeviceId>,
}

/// Why `named` is not exactly `current` (the devices of `user`), if it is not.
fn mismatch(user: UserId, named: &[DeviceEnvelope], current: &[DeviceId]) -> Option<DeviceMismatch> {
    let named: Vec<DeviceId> = named.iter().map(|e| e.device).collect();
    let missing: Vec<DeviceId> = current.iter().filter(|d| !named.contains(d)).copied().collect();
    let mut extra: Vec<DeviceId> = named.iter().filter(|d| !current.contains(d)).copied().collect();
    extra.sort();
    extra.dedup();
    let exact = missing.is_empty() && extra.is_empty() && named.len() == current.len();
    (!exact).then_some(DeviceMismatch { user_id: user, missing, extra })
}

/// The copies of one message — one per device of the recipient and per other device of
/// the sender — or why the send names the wrong devices.
fn copies_for(
    send: &Send,
    from: Mailbox,
    recipient: &[DeviceId],
    own: &[DeviceId],
) -> Result<Vec<EnvelopeCopy>, ServerFrame> {
    let refuse = |message: &str, devices: DeviceMismatch| ServerFrame::Error {
        code: ErrorCode::DevicesChanged,
        message: message.into(),
        id: Some(send.id),
        devices: Some(devices),
    };
    if recipient.is_empty() {
        let devices = DeviceMismatch { user_id: send.to, missing: vec![], extra: vec![] };
        return Err(refuse("this person has no device yet: the message waits until they set Hush up", devices));
    }
    if let Some(devices) = mismatch(send.to, &send.envelopes, recipient) {
        return Err(refuse(
            "the devices named are not the recipient's current devices; fetch their bundles again",
            devices,
        ));
    }
    if let Some(devices) = mismatch(from.user, &send.own, own) {
        return Err(refuse("the devices named are not your other current devices; fetch your bundles again", devices));
    }
    let theirs = send.envelopes.iter().map(|e| (send.to, e));
    let mine = send.own.iter().map(|e| (from.user, e));
    theirs
        .chain(mine)
        .map(|(user, e)| {
            let envelope =
                decode_envelope(&e.envelope).map_err(|(code, message)| error(code, message, Some(send.id)))?;
            Ok(EnvelopeCopy { mailbox: Mailbox { user, device: e.device }, envelope })
        })
        .collect()
}

/// `send` frames that arrived together from one device's connection (often just one): each
/// is checked as alone, the valid ones are stored in one store call (on SQLite in one
/// commit, shared with other connections' sends), then every mailbox owner is woken once.
/// Answers `stored` or `error` per send, in order.
///
/// A storage failure answers nothing and is returned: the connection then closes (1011)
/// without reading further frames, and the client sends its whole outbox again, in order,
/// on the next connection. Refusing one message while accepting the next would let a
/// retried message land after a later one.
pub async fn send_many(state: &AppState, from: Mailbox, sends: Vec<Send>) -> Result<Vec<ServerFrame>, StoreError> {
    let started = Instant::now();
    let mut answers: Vec<Option<ServerFrame>> = Vec::with_capacity(sends.len());
    let mut accepted: Vec<Outgoing> = Vec::with_capacity(sends.len());
    let mut recipients: Vec<Recipient> = Vec::new();
    // The sender's other devices, as read with the batch's first recipient.
    let mut own: Option<Vec<DeviceId>> = None;
    // The envelopes' text, for the copies `Kept` hands over.
    let mut texts: Vec<(usize, Mailbox, String)> = Vec::new();
    for send in sends {
        let index = match recipients.iter().position(|r| r.user == send.to) {
            Some(index) => index,
            None => {
                let route = state.stores.social.send_route(from.user, send.to).await?;
                let friendly = route.is_some();
                let devices = match route {
                    Some(route) => {
                        own.get_or_insert_with(|| route.sender.into_iter().filter(|d| *d != from.device).collect());
                        route.recipient
                    }
                    None => vec![],
                };
                recipients.push(Recipient { user: send.to, friendly, devices });
                recipients.len() - 1
            }
        };
        if !recipients[index].friendly {
            answers.push(Some(error(ErrorCode::NotFriends, "you can only message friends", Some(send.id))));
            continue;
        }
        let own_devices = own.as_deref().unwrap_or_default();
        match copies_for(&send, from, &recipients[index].devices, own_devices) {
            Ok(copies) => {
                answers.push(None);
                let (to, id) = (send.to, send.id);
                texts.extend(envelope_texts(accepted.len(), send, from.user));
                accepted.push(Outgoing { to, id, copies });
            }
            Err(refusal) => answers.push(Some(refusal)),
        }
    }
    if accepted.is_empty() {
        return Ok(answers.into_iter().flatten().collect());
    }
    // The envelopes move into the store; keep whose mailboxes each message went to, and
    // what is needed to hand the copies for devices connected here straight over.
    let routes: Vec<(MessageId, Vec<Mailbox>)> =
        accepted.iter().map(|m| (m.id, m.copies.iter().map(|c| c.mailbox).collect())).collect();
    let kept = Kept::of(state, &accepted, texts);
    let now = state.now();
    let mailboxes = &state.stores.mailbox;
    let (stored, placed) = if kept.hands_over() {
        mailboxes.enqueue_placed(from, accepted, now, policy(state)).await?
    } else {
        (mailboxes.enqueue_many(from, accepted, now, policy(state)).await?, vec![])
    };
    let mut woken: Vec<Mailbox> = Vec::new();
    let mut results = routes.into_iter().zip(stored);
    for slot in answers.iter_mut().filter(|a| a.is_none()) {
        let Some(((id, mailboxes), result)) = results.next() else { break };
        *slot = Some(match result {
            Enqueued::Stored { at } => {
                state.metrics.store_latency.observe(started.elapsed());
                state.metrics.messages_stored.fetch_add(1, Ordering::Relaxed);
                for mailbox in mailboxes {
                    if !woken.contains(&mailbox) {
                        woken.push(mailbox);
                    }
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
    // A device of the recipient not connected here may need a push (the pusher checks the
    // other nodes); the sender's own devices are not told of their own messages.
    let away: Vec<UserId> =
        woken.iter().filter(|m| m.user != from.user && !kept.is_here(**m)).map(|m| m.user).collect();
    let mut handoffs = kept.handoffs(from, &placed, now);
    for user in owners(&woken) {
        let event = handoffs.take(user).map_or(HubEvent::Mail, HubEvent::Stored);
        state.hub.send(user, event).await;
        if away.contains(&user) {
            state.push.message_stored(user, from.user);
        }
    }
    Ok(answers.into_iter().flatten().collect())
}

/// The people who own `mailboxes`, each once.
fn owners(mailboxes: &[Mailbox]) -> Vec<UserId> {
    let mut owners: Vec<UserId> = mailboxes.iter().map(|m| m.user).collect();
    owners.sort();
    owners.dedup();
    owners
}

/// Refuses a frame naming more than [`MAX_IDS_PER_FRAME`] ids. For `ack` and `retry` the
/// connection checks the frame's ids before it maps them to the messages it handed out.
pub fn check_ids<T>(ids: &[T]) -> Result<(), ServerFrame> {
    if ids.len() > MAX_IDS_PER_FRAME {
        return Err(error(ErrorCode::InvalidFrame, format!("at most {MAX_IDS_PER_FRAME} ids per frame"), None));
    }
    Ok(())
}

/// Wakes the receipt queues of the people told, handing over what `handoffs` holds for
/// each.
async fn wake_receipts(state: &AppState, told: Vec<UserId>, mut handoffs: ByPerson) {
    for user in told {
        let event = handoffs.take(user).map_or(HubEvent::Receipts, HubEvent::Stored);
        state.hub.send(user, event).await;
    }
}

/// `ack`: deletes the messages from this device's mailbox; the first device of the
/// recipient to ack a message queues its `delivered` receipt for every device of the sender.
/// When one message is acked (as people chat), its receipt is handed to the sender's
/// devices connected here, where the store says where it went ([`handoff::receipts_here`]).
pub async fn ack(state: &AppState, mailbox: Mailbox, messages: &[MessageRef]) -> Result<(), ServerFrame> {
    let store = &state.stores.mailbox;
    let now = state.now();
    let (told, placed) = match messages {
        [one] if one.sender != mailbox.user => store.ack_messages_placed(mailbox, messages, now).await,
        _ => store.ack_messages(mailbox, messages, now).await.map(|told| (told, vec![])),
    }
    .map_err(|e| internal(e, None))?;
    state.metrics.messages_acked.fetch_add(messages.len() as u64, Ordering::Relaxed);
    wake_receipts(state, told, handoff::receipts_here(state, placed)).await;
    Ok(())
}

/// `retry`: deletes messages this device could not open, without a delivered receipt, and
/// asks their sending devices to send them again (a `resend` receipt) for this device.
pub async fn retry(state: &AppState, mailbox: Mailbox, messages: &[MessageRef]) -> Result<(), ServerFrame> {
    let store = &state.stores.mailbox;
    let told = store.retry_messages(mailbox, messages, state.now()).await.map_err(|e| internal(e, None))?;
    wake_receipts(state, told, ByPerson::default()).await;
    Ok(())
}

/// `read`: the first read of a message `to` sent me queues `read` receipts for their
/// devices and `read_elsewhere` for my other devices, if they are still a friend.
pub async fn read(state: &AppState, reader: Mailbox, to: UserId, ids: &[MessageId]) -> Result<(), ServerFrame> {
    check_ids(ids)?;
    if !state.stores.social.are_friends(reader.user, to).await.map_err(|e| internal(e, None))? {
        return Err(error(ErrorCode::NotFriends, "read receipts go to friends only", None));
    }
    let mailbox = &state.stores.mailbox;
    let told = mailbox.read_messages(reader, to, ids, state.now()).await.map_err(|e| internal(e, None))?;
    wake_receipts(state, told, ByPerson::default()).await;
    Ok(())
}

/// `receipt_ack`: deletes receipts this device has applied.
pub async fn receipt_ack(state: &AppState, mailbox: Mailbox, receipts: &[ReceiptRef]) -> Result<(), ServerFrame> {
    state.stores.mailbox.ack_receipts(mailbox, receipts).await.map_err(|e| internal(e, None))
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

/// A friend's presence as the hub knows it now.
pub async fn presence_of(state: &AppState, friend: UserId) -> ServerFrame {
    let (online, last_seen) = state.hub.presence(friend).await;
    ServerFrame::Presence { user_id: friend, online, last_seen }
}

/// Tells two new friends each other's presence: their connections opened before the
/// friendship, so the presence sent at connect did not include the other.
pub async fn introduce(state: &AppState, a: UserId, b: UserId) {
    for (to, about) in [(a, b), (b, a)] {
        state.hub.send(to, HubEvent::Frame(presence_of(state, about).await)).await;
    }
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
        wake_receipts(state, senders, ByPerson::default()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use proptest::prelude::*;

    fn envelope_of(len: usize) -> String {
        let mut bytes = vec![0x5a; len];
        bytes[0] = VERSION_2;
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn envelope_bounds_are_the_crypto_crates_on_decoded_bytes() {
        assert!(decode_envelope(&envelope_of(MIN_MESSAGE_LEN)).is_ok());
        assert!(decode_envelope(&envelope_of(MAX_ENVELOPE_V2_LEN)).is_ok());
        assert_eq!(decode_envelope(&envelope_of(MIN_MESSAGE_LEN - 1)).unwrap_err().0, ErrorCode::InvalidEnvelope);
        for over in 1..=3 {
            let refused = decode_envelope(&envelope_of(MAX_ENVELOPE_V2_LEN + over)).unwrap_err();
            assert_eq!(refused.0, ErrorCode::FrameTooLarge, "{over} byte(s) over");
        }
        let mut v1 = vec![0x5a; 200];
        v1[0] = 1;
        assert_eq!(decode_envelope(&URL_SAFE_NO_PAD.encode(v1)).unwrap_err().0, ErrorCode::InvalidEnvelope);
    }

    /// The base64url alphabet, in the order of the values its characters stand for.
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    /// A text made of base64url characters with, now and then, one that is not (padding,
    /// the standard alphabet's, whitespace, a non-ASCII letter).
    fn near_base64url() -> impl Strategy<Value = String> {
        let character = prop_oneof![
            300 => proptest::sample::select(ALPHABET.map(char::from).to_vec()),
            1 => proptest::sample::select(vec!['=', '+', '/', ' ', '\n', '.', '\u{e9}']),
        ];
        proptest::collection::vec(character, 0..700).prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        /// The envelope's text is decoded as the `base64` crate's `URL_SAFE_NO_PAD` decodes
        /// it: the same bytes, the same texts refused (set trailing bits included).
        #[test]
        fn envelopes_decode_as_the_base64_crate_decodes_them(v2 in any::<bool>(), rest in near_base64url()) {
            // `Ag` spells a first byte of 2, the version: half the texts may decode as v2.
            let text = if v2 { format!("Ag{rest}") } else { rest };
            let reference = URL_SAFE_NO_PAD.decode(&text).ok();
            let ours = decode_envelope(&text);
            match &reference {
                Some(bytes) if bytes.len() >= MIN_MESSAGE_LEN && bytes[0] == VERSION_2 => {
                    prop_assert_eq!(ours.as_ref().ok(), Some(bytes));
                }
                Some(_) => prop_assert_eq!(ours.unwrap_err().0, ErrorCode::InvalidEnvelope, "not v2 or too short"),
                None => prop_assert_eq!(ours.unwrap_err(), (ErrorCode::InvalidEnvelope, "the envelope is not base64url")),
            }
        }

        /// Envelopes of every length that start with the version byte decode to their bytes,
        /// and one with a trailing bit set is refused.
        #[test]
        fn v2_envelopes_round_trip_and_set_trailing_bits_are_refused(
            mut bytes in proptest::collection::vec(any::<u8>(), MIN_MESSAGE_LEN..MAX_ENVELOPE_V2_LEN)
        ) {
            bytes[0] = VERSION_2;
            let text = URL_SAFE_NO_PAD.encode(&bytes);
            prop_assert_eq!(decode_envelope(&text).ok(), Some(bytes.clone()));
            if bytes.len() % 3 != 0 {
                // The last character carries 2 or 4 unused low bits: set the lowest.
                let mut spelled = text.into_bytes();
                let last = spelled.len() - 1;
                let value = ALPHABET.iter().position(|c| *c == spelled[last]).unwrap();
                spelled[last] = ALPHABET[value | 1];
                let refused = decode_envelope(std::str::from_utf8(&spelled).unwrap());
                prop_assert_eq!(refused.unwrap_err().0, ErrorCode::InvalidEnvelope);
            }
        }
    }
}
