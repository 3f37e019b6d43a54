//! The engine's promises, frame by frame (over the model key directory of
//! `model_keys`): a message round-trips between two devices and a redelivery is not shown
//! twice; a message this device cannot open is never acked as delivered — its sender is
//! asked to resend, and the resend under the same id opens; a storage failure while
//! opening acks nothing; receipts never move a status backwards; transient refusals are
//! retried with backoff; an identity change un-verifies, and for a verified friend holds
//! sending until confirmed; unknown content kinds are kept as unsupported; a registered
//! device starts without a connection (the app opens offline), a new one does not.

use std::cell::Cell;
use std::rc::Rc;

use async_trait::async_trait;
use hush_client::api::{ApiError, Http};
use hush_client::device::Setup;
use hush_client::engine::Engine;
use hush_client::model_keys::{KeyDirectory, ModelHttp};
use hush_client::store::{
    IdentityStore, MessageStore, OneTimePrekeySecret, OwnDevice, PeerRecord, PrekeyStore, SessionRecord, SessionStore,
    SignedPrekeySecret,
};
use hush_client::{Body, ChatMessage, Event, MemoryStore, Status, StoreError};
use hush_shared::ws::{ClientFrame, DeviceEnvelope, FriendEvent, MessageId, ReceiptKind, ServerFrame};
use hush_shared::{DeviceId, ErrorCode, UserId};

type TestEngine = Engine<MemoryStore, ModelHttp>;

async fn engine(keys: &Rc<KeyDirectory>) -> TestEngine {
    let me = UserId::new();
    let mut engine = Engine::new(me, MemoryStore::default(), ModelHttp { user: me, keys: keys.clone() });
    engine.set_up(None, false, 0).await.unwrap();
    engine
}

async fn pair() -> (TestEngine, TestEngine) {
    let keys = Rc::new(KeyDirectory::default());
    let (mut alice, mut bob) = (engine(&keys).await, engine(&keys).await);
    alice.add_friend(bob.me(), Some("Bob".into()), None).await.unwrap();
    bob.add_friend(alice.me(), Some("Alice".into()), None).await.unwrap();
    alice.on_connected(0).await.unwrap();
    bob.on_connected(0).await.unwrap();
    (alice, bob)
}

fn sent(frames: &[ClientFrame]) -> (MessageId, Vec<DeviceEnvelope>) {
    match &frames[0] {
        ClientFrame::Send { id, envelopes, .. } => (*id, envelopes.clone()),
        other => panic!("expected send, got {other:?}"),
    }
}

fn delivered<H: Http>(
    from: &Engine<impl hush_client::ClientStore, H>,
    to: UserId,
    id: MessageId,
    envelopes: &[DeviceEnvelope],
) -> ServerFrame {
    ServerFrame::Message {
        id,
        from: from.me(),
        from_device: from.device_id().unwrap(),
        to,
        envelope: envelopes[0].envelope.clone(),
        sent_at: 1,
    }
}

#[tokio::test]
async fn a_message_round_trips_and_a_redelivery_is_not_shown_twice() {
    let (mut alice, mut bob) = pair().await;
    let (_, frames) = alice.compose(bob.me(), "hello", 1_000).await.unwrap();
    let (id, envelopes) = sent(&frames);
    assert_eq!(envelopes[0].device, bob.device_id().unwrap(), "sealed for Bob's device");
    let incoming = delivered(&alice, bob.me(), id, &envelopes);
    let (out, events) = bob.handle(incoming.clone(), 0).await.unwrap();
    assert_eq!(out, vec![ClientFrame::Ack { ids: vec![id] }]);
    assert!(matches!(&events[..], [Event::MessageReceived(m)] if m.body == Body::Text { text: "hello".into() }));
    let (out, events) = bob.handle(incoming, 0).await.unwrap();
    assert_eq!(out, vec![ClientFrame::Ack { ids: vec![id] }], "acked again");
    assert!(events.is_empty(), "not shown twice");
    // The reply goes back on the same session (no new bundle needed), and opens.
    let (_, frames) = bob.compose(alice.me(), "hi back", 2_000).await.unwrap();
    let (id, envelopes) = sent(&frames);
    let (out, events) = alice.handle(delivered(&bob, alice.me(), id, &envelopes), 0).await.unwrap();
    assert_eq!(out, vec![ClientFrame::Ack { ids: vec![id] }]);
    assert!(matches!(&events[..], [Event::MessageReceived(m)] if m.body == Body::Text { text: "hi back".into() }));
    // Safety numbers agree on both sides.
    let (a, b) = (alice.safety_number(bob.me()).await.unwrap(), bob.safety_number(alice.me()).await.unwrap());
    assert_eq!(a.unwrap().digits(), b.unwrap().digits());
}

#[tokio::test]
async fn an_unopenable_message_is_handed_back_and_its_resend_opens() {
    let (mut alice, mut bob) = pair().await;
    let (_, frames) = alice.compose(bob.me(), "first", 0).await.unwrap();
    let (first, envelopes) = sent(&frames);
    bob.handle(delivered(&alice, bob.me(), first, &envelopes), 0).await.unwrap();

    // Bob loses his sessions (a restored backup, a bug): Alice's next message cannot open.
    let (_, frames) = alice.compose(bob.me(), "second", 0).await.unwrap();
    let (id, envelopes) = sent(&frames);
    hush_client::cipher::forget_sessions(bob.store(), alice.me()).await.unwrap();
    let (out, events) = bob.handle(delivered(&alice, bob.me(), id, &envelopes), 0).await.unwrap();
    assert_eq!(out, vec![ClientFrame::Retry { ids: vec![id] }], "handed back, not acked");
    assert!(matches!(&events[..], [Event::MessageReceived(m)] if m.body == Body::Waiting { requests: 1 }));

    // The server turns the retry into a resend receipt: Alice starts afresh, same id.
    let receipt = ServerFrame::Receipt {
        id: uuid::Uuid::now_v7(),
        kind: ReceiptKind::Resend,
        message_id: id,
        peer: bob.me(),
        peer_device: bob.device_id(),
        at: 2,
    };
    alice.handle(ServerFrame::Stored { id, at: 1 }, 0).await.unwrap();
    let (out, _) = alice.handle(receipt, 0).await.unwrap();
    let (resent, envelopes) = sent(&out);
    assert_eq!(resent, id, "the same message id");
    assert!(matches!(out.last(), Some(ClientFrame::ReceiptAck { .. })));
    let (out, events) = bob.handle(delivered(&alice, bob.me(), id, &envelopes), 0).await.unwrap();
    assert_eq!(out, vec![ClientFrame::Ack { ids: vec![id] }]);
    assert!(matches!(&events[..], [Event::MessageReceived(m)] if m.body == Body::Text { text: "second".into() }));

    // Garbage from a stranger: handed back (a lost `retry` frame means it comes back, so
    // a few times); after MAX_RESEND_REQUESTS it is shown as such and acked.
    let stranger = ServerFrame::Message {
        id: MessageId::now_v7(),
        from: UserId::new(),
        from_device: DeviceId::new(),
        to: bob.me(),
        envelope: "Ag".into(),
        sent_at: 1,
    };
    for _ in 0..hush_client::engine::MAX_RESEND_REQUESTS {
        let (out, _) = bob.handle(stranger.clone(), 0).await.unwrap();
        assert!(matches!(&out[..], [ClientFrame::Retry { .. }]));
    }
    let (out, events) = bob.handle(stranger.clone(), 0).await.unwrap();
    assert!(matches!(&out[..], [ClientFrame::Ack { .. }]));
    assert!(matches!(&events[..], [Event::MessageReceived(m)] if matches!(m.body, Body::Undecryptable { .. })));
    // The same id from someone else never overwrites it.
    let ServerFrame::Message { id, .. } = stranger else { unreachable!() };
    let imposter = ServerFrame::Message {
        id,
        from: alice.me(),
        from_device: DeviceId::new(),
        to: bob.me(),
        envelope: "Ag".into(),
        sent_at: 1,
    };
    let (out, events) = bob.handle(imposter, 0).await.unwrap();
    assert!(matches!(&out[..], [ClientFrame::Ack { .. }]) && events.is_empty());
}

/// A store whose message writes can be made to fail.
#[derive(Clone, Default)]
struct FlakyStore {
    inner: MemoryStore,
    fail_messages: Rc<Cell<bool>>,
}

#[async_trait(?Send)]
impl MessageStore for FlakyStore {
    async fn put_message(&self, message: &ChatMessage) -> Result<(), StoreError> {
        if self.fail_messages.get() {
            return Err(StoreError("disk full".into()));
        }
        self.inner.put_message(message).await
    }
    async fn message(&self, id: MessageId) -> Result<Option<ChatMessage>, StoreError> {
        self.inner.message(id).await
    }
    async fn conversation(&self, peer: UserId) -> Result<Vec<ChatMessage>, StoreError> {
        self.inner.conversation(peer).await
    }
    async fn outbox(&self) -> Result<Vec<ChatMessage>, StoreError> {
        self.inner.outbox().await
    }
}

#[async_trait(?Send)]
impl IdentityStore for FlakyStore {
    async fn own_device(&self) -> Result<Option<OwnDevice>, StoreError> {
        self.inner.own_device().await
    }
    async fn put_own_device(&self, device: &OwnDevice) -> Result<(), StoreError> {
        self.inner.put_own_device(device).await
    }
    async fn peer(&self, user: UserId) -> Result<Option<PeerRecord>, StoreError> {
        self.inner.peer(user).await
    }
    async fn put_peer(&self, peer: &PeerRecord) -> Result<(), StoreError> {
        self.inner.put_peer(peer).await
    }
}

#[async_trait(?Send)]
impl PrekeyStore for FlakyStore {
    async fn signed_prekey(&self, id: u32) -> Result<Option<SignedPrekeySecret>, StoreError> {
        self.inner.signed_prekey(id).await
    }
    async fn signed_prekeys(&self) -> Result<Vec<SignedPrekeySecret>, StoreError> {
        self.inner.signed_prekeys().await
    }
    async fn put_signed_prekey(&self, prekey: &SignedPrekeySecret) -> Result<(), StoreError> {
        self.inner.put_signed_prekey(prekey).await
    }
    async fn remove_signed_prekey(&self, id: u32) -> Result<(), StoreError> {
        self.inner.remove_signed_prekey(id).await
    }
    async fn one_time_prekey(&self, id: u32) -> Result<Option<OneTimePrekeySecret>, StoreError> {
        self.inner.one_time_prekey(id).await
    }
    async fn one_time_prekeys(&self) -> Result<Vec<OneTimePrekeySecret>, StoreError> {
        self.inner.one_time_prekeys().await
    }
    async fn put_one_time_prekeys(&self, prekeys: &[OneTimePrekeySecret]) -> Result<(), StoreError> {
        self.inner.put_one_time_prekeys(prekeys).await
    }
    async fn remove_one_time_prekey(&self, id: u32) -> Result<(), StoreError> {
        self.inner.remove_one_time_prekey(id).await
    }
}

#[async_trait(?Send)]
impl SessionStore for FlakyStore {
    async fn sessions(&self, peer: UserId, device: DeviceId) -> Result<Option<SessionRecord>, StoreError> {
        self.inner.sessions(peer, device).await
    }
    async fn peer_sessions(&self, peer: UserId) -> Result<Vec<SessionRecord>, StoreError> {
        self.inner.peer_sessions(peer).await
    }
    async fn put_sessions(&self, record: &SessionRecord) -> Result<(), StoreError> {
        self.inner.put_sessions(record).await
    }
    async fn remove_sessions(&self, peer: UserId, device: DeviceId) -> Result<(), StoreError> {
        self.inner.remove_sessions(peer, device).await
    }
    async fn clear_sessions(&self) -> Result<(), StoreError> {
        self.inner.clear_sessions().await
    }
}

/// Bob's secret of one-time prekey `id`, if kept: when he found it handed out.
async fn kept(bob: &TestEngine, id: u32) -> Option<Option<i64>> {
    bob.store().one_time_prekey(id).await.unwrap().map(|s| s.handed_out_at)
}

/// One-time prekeys the server handed out but no handshake used (a stranger fetched Bob's
/// bundle and never wrote) are kept for a first message still on its way, then forgotten;
/// the ones still on the server stay.
#[tokio::test]
async fn handed_out_prekeys_no_handshake_used_are_forgotten_after_their_lifetime() {
    use hush_client::device::HANDED_OUT_PREKEY_LIFETIME_SECS;
    let keys = Rc::new(KeyDirectory::default());
    let (alice, mut bob) = (engine(&keys).await, engine(&keys).await);
    let path = format!("/api/v1/users/{}/bundles", bob.me());
    for _ in 0..3 {
        alice.http().call("GET", &path, None).await.unwrap();
    }
    bob.on_connected(5_000).await.unwrap();
    assert_eq!(kept(&bob, 1).await, Some(Some(5)), "handed out: marked, kept");
    assert_eq!(kept(&bob, 3).await, Some(Some(5)));
    assert_eq!(kept(&bob, 4).await, Some(None), "still on the server");
    bob.on_connected((5 + HANDED_OUT_PREKEY_LIFETIME_SECS) * 1000).await.unwrap();
    assert_eq!(kept(&bob, 1).await, Some(Some(5)), "not longer than the lifetime yet");
    bob.on_connected((6 + HANDED_OUT_PREKEY_LIFETIME_SECS) * 1000).await.unwrap();
    assert_eq!((kept(&bob, 1).await, kept(&bob, 2).await, kept(&bob, 3).await), (None, None, None), "forgotten");
    assert_eq!(kept(&bob, 4).await, Some(None));
    assert_eq!(bob.store().one_time_prekey_count(), 97);
}

#[tokio::test]
async fn a_storage_failure_while_opening_acks_nothing_and_loses_nothing() {
    let keys = Rc::new(KeyDirectory::default());
    let mut alice = engine(&keys).await;
    let store = FlakyStore::default();
    let bob_id = UserId::new();
    let mut bob = Engine::new(bob_id, store.clone(), ModelHttp { user: bob_id, keys: keys.clone() });
    bob.set_up(None, false, 0).await.unwrap();
    alice.add_friend(bob_id, None, None).await.unwrap();
    alice.on_connected(0).await.unwrap();
    bob.on_connected(0).await.unwrap();

    let (_, frames) = alice.compose(bob_id, "keep me", 0).await.unwrap();
    let (id, envelopes) = sent(&frames);
    store.fail_messages.set(true);
    assert_eq!(
        bob.handle(delivered(&alice, bob.me(), id, &envelopes), 0).await.unwrap_err(),
        StoreError("disk full".into())
    );
    store.fail_messages.set(false);
    // The server redelivers (nothing was acked). The ratchet already used that key, so the
    // message is handed back to its sender rather than acked as lost.
    let (out, _) = bob.handle(delivered(&alice, bob.me(), id, &envelopes), 0).await.unwrap();
    assert_eq!(out, vec![ClientFrame::Retry { ids: vec![id] }]);
    let receipt = ServerFrame::Receipt {
        id: uuid::Uuid::now_v7(),
        kind: ReceiptKind::Resend,
        message_id: id,
        peer: bob_id,
        peer_device: None,
        at: 2,
    };
    let (out, _) = alice.handle(receipt, 0).await.unwrap();
    let (_, envelopes) = sent(&out);
    let (out, events) = bob.handle(delivered(&alice, bob.me(), id, &envelopes), 0).await.unwrap();
    assert_eq!(out, vec![ClientFrame::Ack { ids: vec![id] }]);
    assert!(matches!(&events[..], [Event::MessageReceived(m)] if m.body == Body::Text { text: "keep me".into() }));
}

#[tokio::test]
async fn receipts_never_move_a_status_backwards() {
    let (mut alice, bob) = pair().await;
    let (_, frames) = alice.compose(bob.me(), "x", 0).await.unwrap();
    let (id, _) = sent(&frames);
    let receipt = |kind| ServerFrame::Receipt {
        id: uuid::Uuid::now_v7(),
        kind,
        message_id: id,
        peer: bob.me(),
        peer_device: None,
        at: 5,
    };
    alice.handle(receipt(ReceiptKind::Read), 0).await.unwrap();
    let (out, events) = alice.handle(receipt(ReceiptKind::Delivered), 0).await.unwrap();
    assert!(matches!(&out[..], [ClientFrame::ReceiptAck { .. }]), "still acked");
    assert!(events.is_empty());
    alice.handle(ServerFrame::Stored { id, at: 1 }, 0).await.unwrap();
    alice.handle(receipt(ReceiptKind::Expired), 0).await.unwrap();
    let (out, _) = alice.handle(receipt(ReceiptKind::Resend), 0).await.unwrap();
    assert!(matches!(&out[..], [ClientFrame::ReceiptAck { .. }]), "a read message is not sent again");
    assert_eq!(alice.store().message(id).await.unwrap().unwrap().status, Status::Read);
}

#[tokio::test]
async fn transient_refusals_back_off_and_permanent_ones_fail() {
    let (mut alice, bob) = pair().await;
    let (_, frames) = alice.compose(bob.me(), "x", 0).await.unwrap();
    let (id, _) = sent(&frames);
    let refuse = |code| ServerFrame::Error { code, message: String::new(), id: Some(id), devices: None };
    alice.handle(refuse(ErrorCode::MailboxFull), 10_000).await.unwrap();
    assert_eq!(alice.next_retry_ms(), Some(11_000));
    assert!(alice.due(10_500).await.unwrap().is_empty());
    assert!(matches!(&alice.due(11_000).await.unwrap()[..], [ClientFrame::Send { .. }]));
    alice.handle(refuse(ErrorCode::MailboxFull), 12_000).await.unwrap();
    assert_eq!(alice.next_retry_ms(), Some(14_000), "the delay doubles");
    alice.handle(refuse(ErrorCode::NotFriends), 15_000).await.unwrap();
    assert_eq!(alice.store().message(id).await.unwrap().unwrap().status, Status::Failed);
    assert!(
        matches!(&alice.retry(id, 16_000).await.unwrap()[..], [ClientFrame::Send { .. }]),
        "a failed message can be retried by hand"
    );
}

#[tokio::test]
async fn a_changed_identity_unverifies_and_holds_sending_to_a_verified_friend() {
    let (mut alice, bob) = pair().await;
    let (_, frames) = alice.compose(bob.me(), "before", 0).await.unwrap();
    let (before_id, _) = sent(&frames);
    alice.handle(ServerFrame::Stored { id: before_id, at: 1 }, 0).await.unwrap();
    alice.set_verified(bob.me(), true).await.unwrap();
    let before = alice.safety_number(bob.me()).await.unwrap().unwrap();

    // Bob starts again elsewhere: a new identity.
    let keys = Rc::new(KeyDirectory::default());
    let mut new_bob = Engine::new(bob.me(), MemoryStore::default(), ModelHttp { user: bob.me(), keys: keys.clone() });
    new_bob.set_up(None, true, 0).await.unwrap();
    let new_identity = new_bob.device().unwrap().identity.public().to_wire();
    let event =
        ServerFrame::Friend(FriendEvent::IdentityChanged { user_id: bob.me(), identity_key: new_identity.clone() });
    let (_, events) = alice.handle(event, 0).await.unwrap();
    assert_eq!(events, vec![Event::IdentityChanged(bob.me())]);
    let peer = alice.store().peer(bob.me()).await.unwrap().unwrap();
    assert_eq!(
        (peer.identity_key.as_deref(), peer.verified, peer.identity_changed, peer.held),
        (Some(new_identity.as_str()), false, true, true)
    );
    assert_ne!(alice.safety_number(bob.me()).await.unwrap().unwrap(), before, "the safety number changed");

    // Sending waits for confirmation; confirming lets it go (to the new identity's device).
    let (message, frames) = alice.compose(bob.me(), "after", 0).await.unwrap();
    assert!(frames.is_empty(), "held: {frames:?}");
    assert_eq!(message.status, Status::Sending);
    // (The bundles now come from the new Bob's directory.)
    let mut alice_new = Engine::new(alice.me(), alice.store().clone(), ModelHttp { user: alice.me(), keys });
    alice_new.set_up(None, false, 0).await.unwrap();
    alice_new.on_connected(0).await.unwrap();
    let out = alice_new.confirm_identity(bob.me(), 0).await.unwrap();
    let (id, envelopes) = sent(&out);
    assert_eq!(id, message.id);
    assert_eq!(envelopes[0].device, new_bob.device_id().unwrap());
    let peer = alice_new.store().peer(bob.me()).await.unwrap().unwrap();
    assert!(!peer.identity_changed && !peer.held && !peer.verified);
}

/// A `removed` event (a real unfriend, or one a server made up) must not make the client
/// forget who the friend is: a later identity swap still shows and holds.
#[tokio::test]
async fn unfriending_keeps_the_identity_so_a_swap_is_still_caught() {
    let (mut alice, bob) = pair().await;
    let (_, frames) = alice.compose(bob.me(), "hi", 0).await.unwrap();
    assert!(!frames.is_empty());
    alice.set_verified(bob.me(), true).await.unwrap();
    let (_, events) = alice.handle(ServerFrame::Friend(FriendEvent::Removed { user_id: bob.me() }), 0).await.unwrap();
    assert_eq!(events, vec![Event::FriendRemoved(bob.me())]);
    let kept = alice.store().peer(bob.me()).await.unwrap().unwrap();
    assert!(kept.verified && kept.identity_key.is_some(), "identity and verification survive unfriending");
    let forged = hush_crypto::IdentityKeyPair::generate().public().to_wire();
    let changed = alice.add_friend(bob.me(), Some("Bob".into()), Some(forged)).await.unwrap();
    assert!(changed, "the new identity is a change, not a first contact");
    let peer = alice.store().peer(bob.me()).await.unwrap().unwrap();
    assert!(peer.held && peer.identity_changed && !peer.verified);
}

#[tokio::test]
async fn a_message_too_large_for_an_envelope_fails_instead_of_retrying() {
    let (mut alice, bob) = pair().await;
    let (message, frames) = alice.compose(bob.me(), &"x".repeat(40_000), 0).await.unwrap();
    assert!(frames.is_empty());
    assert_eq!(message.status, Status::Failed);
    assert_eq!(alice.next_retry_ms(), None, "no retry loop");
}

#[tokio::test]
async fn unknown_content_kinds_are_kept_as_unsupported() {
    let (mut alice, mut bob) = pair().await;
    let (_, frames) = alice.compose(bob.me(), "warm up", 0).await.unwrap();
    let (id, envelopes) = sent(&frames);
    bob.handle(delivered(&alice, bob.me(), id, &envelopes), 0).await.unwrap();
    // A newer client sends a reaction: sealed on the session that now exists.
    let http = ModelHttp { user: alice.me(), keys: Rc::new(KeyDirectory::default()) };
    let cipher = hush_client::cipher::Cipher { store: alice.store(), http: &http, device: alice.device().unwrap() };
    let id = MessageId::now_v7();
    let sealed = cipher.seal(bob.me(), id, br#"{"v":1,"kind":"reaction","emoji":"+1"}"#).await.unwrap();
    let (out, events) = bob.handle(delivered(&alice, bob.me(), id, &sealed.envelopes), 0).await.unwrap();
    assert_eq!(out, vec![ClientFrame::Ack { ids: vec![id] }], "kept and acked");
    assert!(matches!(
        &events[..],
        [Event::MessageReceived(m)] if m.body == Body::Unsupported { content_kind: "reaction".into() }
    ));
}

/// Read receipts are split into frames the server accepts, confirmed by a ping's pong, and
/// sent again on the next connection (or after a failure) until confirmed.
#[tokio::test]
async fn read_receipts_are_chunked_confirmed_and_resent_until_confirmed() {
    let (mut alice, mut bob) = pair().await;
    for n in 0..1200 {
        let (_, frames) = alice.compose(bob.me(), &format!("m{n}"), 0).await.unwrap();
        let (id, envelopes) = sent(&frames);
        bob.handle(delivered(&alice, bob.me(), id, &envelopes), 0).await.unwrap();
    }
    let reads = |frames: &[ClientFrame]| -> Vec<usize> {
        frames
            .iter()
            .filter_map(|f| match f {
                ClientFrame::Read { ids, .. } => Some(ids.len()),
                _ => None,
            })
            .collect()
    };
    let frames = bob.mark_read(alice.me()).await.unwrap();
    assert_eq!(reads(&frames), vec![512, 512, 176], "at most MAX_IDS_PER_FRAME ids per frame");
    assert_eq!(frames.last(), Some(&ClientFrame::Ping), "a ping confirms them");

    // The connection drops before the pong: the next one sends them again.
    bob.on_disconnected();
    let (again, _) = bob.on_connected(0).await.unwrap();
    assert_eq!(reads(&again), vec![512, 512, 176]);
    // A failure reported before the pong: sent again after it.
    let failure = ServerFrame::Error { code: ErrorCode::Internal, message: "x".into(), id: None, devices: None };
    bob.handle(failure, 0).await.unwrap();
    let (out, _) = bob.handle(ServerFrame::Pong, 0).await.unwrap();
    assert_eq!(reads(&out), vec![512, 512, 176]);
    // A clean pong confirms: nothing more to send, now or on the next connection.
    let (out, _) = bob.handle(ServerFrame::Pong, 0).await.unwrap();
    assert!(out.is_empty(), "{out:?}");
    bob.on_disconnected();
    assert!(reads(&bob.on_connected(0).await.unwrap().0).is_empty());
    assert!(bob.mark_read(alice.me()).await.unwrap().is_empty(), "nothing unread is left");
}

#[tokio::test]
async fn refused_messages_go_out_again_in_the_order_they_were_written() {
    let (mut alice, bob) = pair().await;
    let mut ids = Vec::new();
    for text in ["one", "two", "three", "four", "five"] {
        let (_, frames) = alice.compose(bob.me(), text, 0).await.unwrap();
        ids.push(sent(&frames).0);
    }
    // Refused in another order than written (answers to a batch can come in any order).
    for id in ids.iter().rev() {
        let refusal =
            ServerFrame::Error { code: ErrorCode::MailboxFull, message: String::new(), id: Some(*id), devices: None };
        alice.handle(refusal, 10_000).await.unwrap();
    }
    let again: Vec<MessageId> = alice
        .due(11_000)
        .await
        .unwrap()
        .iter()
        .map(|frame| match frame {
            ClientFrame::Send { id, .. } => *id,
            other => panic!("only sends: {other:?}"),
        })
        .collect();
    assert_eq!(again, ids, "sent again in the order written");
}

/// A server that cannot be reached.
struct NoConnection;

#[async_trait(?Send)]
impl Http for NoConnection {
    fn access_token(&self) -> Option<String> {
        None
    }

    async fn call(&self, _: &str, _: &str, _: Option<String>) -> Result<String, ApiError> {
        Err(hush_client::api::unreachable("no connection"))
    }
}

#[tokio::test]
async fn a_registered_device_starts_without_a_connection_and_a_new_one_does_not() {
    let keys = Rc::new(KeyDirectory::default());
    let me = UserId::new();
    let mut online = Engine::new(me, MemoryStore::default(), ModelHttp { user: me, keys });
    online.set_up(None, false, 1_000).await.unwrap();
    let device_id = online.store().own_device().await.unwrap().unwrap().device_id;

    let mut offline = Engine::new(me, online.into_store(), NoConnection);
    let started = offline.set_up(None, false, 2_000).await.unwrap();
    assert!(matches!(started, Setup::Ready(_)));
    assert_eq!(offline.device_id(), Some(device_id), "the same device, from its own keys");
    assert_eq!(offline.store().own_device().await.unwrap().unwrap().device_id, device_id, "nothing replaced");

    let mut never_registered = Engine::new(me, MemoryStore::default(), NoConnection);
    assert!(never_registered.set_up(None, false, 2_000).await.is_err(), "a new device needs the server");
}
