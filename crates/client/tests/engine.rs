//! The engine's promises, frame by frame: an undecryptable message is kept as a
//! placeholder and acked without touching keys; a redelivery is acked but not shown twice;
//! receipts never move a status backwards; transient refusals are retried with backoff;
//! a key change is applied and un-verifies the friend.

use hush_client::engine::Engine;
use hush_client::store::ClientStore;
use hush_client::{Body, Event, MemoryStore, Status};
use hush_shared::ErrorCode;
use hush_shared::UserId;
use hush_shared::ws::{ClientFrame, FriendEvent, ReceiptKind, ServerFrame};

async fn pair() -> (Engine<MemoryStore>, Engine<MemoryStore>) {
    let (a, b) = (UserId::new(), UserId::new());
    let mut alice = Engine::new(a, MemoryStore::default());
    let mut bob = Engine::new(b, MemoryStore::default());
    let ka = alice.new_key_for(b).await.unwrap();
    let kb = bob.new_key_for(a).await.unwrap();
    alice.add_friend(b, Some("Bob".into()), kb).await.unwrap();
    bob.add_friend(a, Some("Alice".into()), ka).await.unwrap();
    alice.on_connected().await.unwrap();
    bob.on_connected().await.unwrap();
    (alice, bob)
}

fn sent(frames: &[ClientFrame]) -> (uuid::Uuid, String) {
    match &frames[0] {
        ClientFrame::Send { id, envelope, .. } => (*id, envelope.clone()),
        other => panic!("expected send, got {other:?}"),
    }
}

#[tokio::test]
async fn a_message_round_trips_and_a_redelivery_is_not_shown_twice() {
    let (mut alice, mut bob) = pair().await;
    let (_, frames) = alice.compose(bob.me(), "hello", 1_000).await.unwrap();
    let (id, envelope) = sent(&frames);
    let incoming = ServerFrame::Message { id, from: alice.me(), envelope, sent_at: 1 };
    let (out, events) = bob.handle(incoming.clone(), 0).await.unwrap();
    assert_eq!(out, vec![ClientFrame::Ack { ids: vec![id] }]);
    assert!(matches!(&events[..], [Event::MessageReceived(m)] if m.body == Body::Text { text: "hello".into() }));
    let (out, events) = bob.handle(incoming, 0).await.unwrap();
    assert_eq!(out, vec![ClientFrame::Ack { ids: vec![id] }], "acked again");
    assert!(events.is_empty(), "not shown twice");
}

#[tokio::test]
async fn an_undecryptable_message_is_a_placeholder_and_acked_without_new_keys() {
    let (alice, mut bob) = pair().await;
    let key_before = bob.store().key(alice.me()).await.unwrap();
    let id = uuid::Uuid::now_v7();
    let mut garbage = vec![1u8];
    garbage.resize(200, 9);
    use base64::Engine as _;
    let envelope = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(garbage);
    let (out, events) =
        bob.handle(ServerFrame::Message { id, from: alice.me(), envelope, sent_at: 1 }, 0).await.unwrap();
    assert_eq!(out, vec![ClientFrame::Ack { ids: vec![id] }]);
    match &events[..] {
        [Event::MessageReceived(m)] => assert!(matches!(m.body, Body::Undecryptable { .. })),
        other => panic!("{other:?}"),
    }
    assert_eq!(bob.store().key(alice.me()).await.unwrap(), key_before, "no key regeneration");
    // From a stranger (no keys at all): same treatment.
    let (out, _) = bob
        .handle(
            ServerFrame::Message { id: uuid::Uuid::now_v7(), from: UserId::new(), envelope: "AQ".into(), sent_at: 1 },
            0,
        )
        .await
        .unwrap();
    assert!(matches!(&out[..], [ClientFrame::Ack { .. }]));
}

#[tokio::test]
async fn receipts_never_move_a_status_backwards() {
    let (mut alice, bob) = pair().await;
    let (_, frames) = alice.compose(bob.me(), "x", 0).await.unwrap();
    let (id, _) = sent(&frames);
    let receipt = |kind| ServerFrame::Receipt { id: uuid::Uuid::now_v7(), kind, message_id: id, peer: bob.me(), at: 5 };
    alice.handle(receipt(ReceiptKind::Read), 0).await.unwrap();
    let (out, events) = alice.handle(receipt(ReceiptKind::Delivered), 0).await.unwrap();
    assert!(matches!(&out[..], [ClientFrame::ReceiptAck { .. }]), "still acked");
    assert!(events.is_empty());
    alice.handle(ServerFrame::Stored { id, at: 1 }, 0).await.unwrap();
    alice.handle(receipt(ReceiptKind::Expired), 0).await.unwrap();
    assert_eq!(alice.store().message(id).await.unwrap().unwrap().status, Status::Read);
}

#[tokio::test]
async fn transient_refusals_back_off_and_permanent_ones_fail() {
    let (mut alice, bob) = pair().await;
    let (_, frames) = alice.compose(bob.me(), "x", 0).await.unwrap();
    let (id, _) = sent(&frames);
    let refuse = |code| ServerFrame::Error { code, message: String::new(), id: Some(id) };
    alice.handle(refuse(ErrorCode::MailboxFull), 10_000).await.unwrap();
    assert_eq!(alice.next_retry_ms(), Some(11_000));
    assert!(alice.due(10_500).await.unwrap().is_empty());
    assert!(matches!(&alice.due(11_000).await.unwrap()[..], [ClientFrame::Send { .. }]));
    alice.handle(refuse(ErrorCode::MailboxFull), 12_000).await.unwrap();
    assert_eq!(alice.next_retry_ms(), Some(14_000), "the delay doubles");
    alice.handle(refuse(ErrorCode::NotFriends), 15_000).await.unwrap();
    assert_eq!(alice.store().message(id).await.unwrap().unwrap().status, Status::Failed);
    assert!(
        matches!(&alice.retry(id).await.unwrap()[..], [ClientFrame::Send { .. }]),
        "a failed message can be retried by hand"
    );
}

#[tokio::test]
async fn a_key_change_is_applied_and_unverifies() {
    let (mut alice, mut bob) = pair().await;
    let mut friend = alice.store().friend(bob.me()).await.unwrap().unwrap();
    friend.verified = true;
    alice.store().put_friend(&friend).await.unwrap();
    let new_key = bob.new_key_for(alice.me()).await.unwrap();
    let (_, events) = alice
        .handle(ServerFrame::Friend(FriendEvent::KeyChanged { user_id: bob.me(), public_key: new_key.clone() }), 0)
        .await
        .unwrap();
    assert_eq!(events, vec![Event::KeyChanged(bob.me())]);
    let friend = alice.store().friend(bob.me()).await.unwrap().unwrap();
    assert_eq!((friend.their_key.as_str(), friend.verified, friend.key_changed), (new_key.as_str(), false, true));
    // Messages sealed for the new key open on Bob's side.
    let (_, frames) = alice.compose(bob.me(), "after rotation", 0).await.unwrap();
    let (id, envelope) = sent(&frames);
    let (_, events) = bob.handle(ServerFrame::Message { id, from: alice.me(), envelope, sent_at: 1 }, 0).await.unwrap();
    assert!(
        matches!(&events[..], [Event::MessageReceived(m)] if m.body == Body::Text { text: "after rotation".into() })
    );
}

/// Read receipts are split into frames the server accepts, confirmed by a ping's pong, and
/// sent again on the next connection (or after a failure) until confirmed.
#[tokio::test]
async fn read_receipts_are_chunked_confirmed_and_resent_until_confirmed() {
    let (mut alice, mut bob) = pair().await;
    for n in 0..1200 {
        let (_, frames) = alice.compose(bob.me(), &format!("m{n}"), 0).await.unwrap();
        let (id, envelope) = sent(&frames);
        bob.handle(ServerFrame::Message { id, from: alice.me(), envelope, sent_at: 1 }, 0).await.unwrap();
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
    let again = bob.on_connected().await.unwrap();
    assert_eq!(reads(&again), vec![512, 512, 176]);
    // A failure reported before the pong: sent again after it.
    bob.handle(ServerFrame::Error { code: ErrorCode::Internal, message: "x".into(), id: None }, 0).await.unwrap();
    let (out, _) = bob.handle(ServerFrame::Pong, 0).await.unwrap();
    assert_eq!(reads(&out), vec![512, 512, 176]);
    // A clean pong confirms: nothing more to send, now or on the next connection.
    let (out, _) = bob.handle(ServerFrame::Pong, 0).await.unwrap();
    assert!(out.is_empty(), "{out:?}");
    bob.on_disconnected();
    assert!(reads(&bob.on_connected().await.unwrap()).is_empty());
    assert!(bob.mark_read(alice.me()).await.unwrap().is_empty(), "nothing unread is left");
}
