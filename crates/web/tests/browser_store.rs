//! Browser-side logic in headless Chromium (wasm-bindgen-test): the IndexedDB store, and
//! the outbox surviving a "reload" (the engine and the database handle dropped and
//! reopened).
#![cfg(target_arch = "wasm32")]

use hush_client::engine::Engine;
use hush_client::model::{Body, ChatMessage, Direction, Status};
use hush_client::store::{ClientStore, FriendRecord, KeyRecord};
use hush_shared::UserId;
use hush_shared::ws::ClientFrame;
use hush_web::idb::IdbStore;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn message(peer: UserId, status: Status, direction: Direction) -> ChatMessage {
    ChatMessage {
        id: uuid::Uuid::now_v7(),
        peer,
        direction,
        body: Body::Text { text: "hi".into() },
        status,
        created_at_ms: 1,
        server_at: None,
    }
}

#[wasm_bindgen_test]
async fn indexeddb_store_round_trips_everything() {
    let me = UserId::new();
    let peer = UserId::new();
    let store = IdbStore::open(me).await.unwrap();
    let waiting = message(peer, Status::Sending, Direction::Outgoing);
    let stored = message(peer, Status::Stored, Direction::Outgoing);
    let incoming = message(peer, Status::Received, Direction::Incoming);
    for m in [&waiting, &stored, &incoming] {
        store.put_message(m).await.unwrap();
    }
    assert_eq!(store.message(waiting.id).await.unwrap().as_ref(), Some(&waiting));
    assert_eq!(store.outbox().await.unwrap(), vec![waiting.clone()]);
    assert_eq!(store.conversation(peer).await.unwrap().len(), 3);
    assert!(store.conversation(UserId::new()).await.unwrap().is_empty());

    let key = KeyRecord { peer, secret: "s".into(), public: "p".into() };
    store.put_key(&key).await.unwrap();
    assert_eq!(store.key(peer).await.unwrap(), Some(key));
    let friend = FriendRecord {
        user_id: peer,
        display_name: Some("Bob".into()),
        their_key: "k".into(),
        verified: true,
        key_changed: false,
    };
    store.put_friend(&friend).await.unwrap();
    assert_eq!(store.friend(peer).await.unwrap(), Some(friend));
    store.remove_friend(peer).await.unwrap();
    assert_eq!(store.friend(peer).await.unwrap(), None);
    store.destroy(me).await;
}

#[wasm_bindgen_test]
async fn the_outbox_survives_a_reload_and_goes_out_on_connect() {
    let (me, peer) = (UserId::new(), UserId::new());
    let store = IdbStore::open(me).await.unwrap();
    let mut engine = Engine::new(me, store);
    engine.new_key_for(peer).await.unwrap();
    let theirs = hush_crypto::KeyPair::generate().public().to_wire();
    engine.add_friend(peer, None, theirs).await.unwrap();
    let (written, frames) = engine.compose(peer, "written offline", 1).await.unwrap();
    assert!(frames.is_empty(), "not connected: nothing is sent");
    assert_eq!(written.status, Status::Sending);
    drop(engine);

    let mut reopened = Engine::new(me, IdbStore::open(me).await.unwrap());
    let frames = reopened.on_connected().await.unwrap();
    assert!(matches!(&frames[..], [ClientFrame::Send { id, .. }] if *id == written.id), "{frames:?}");
}
