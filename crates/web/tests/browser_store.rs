//! Browser-side logic in headless Chromium (wasm-bindgen-test): the IndexedDB stores, and
//! the outbox surviving a "reload" (the engine and the database handle dropped and
//! reopened) — over the model key directory, as no server runs here.
#![cfg(target_arch = "wasm32")]

use std::rc::Rc;

use hush_client::MemoryStore;
use hush_client::engine::Engine;
use hush_client::model::{Body, ChatMessage, Direction, Status};
use hush_client::model_keys::{KeyDirectory, ModelHttp};
use hush_client::store::{
    IdentityStore, MessageStore, OneTimePrekeySecret, PeerRecord, PrekeyStore, SessionRecord, SessionStore,
};
use hush_shared::ws::ClientFrame;
use hush_shared::{DeviceId, UserId};
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

    let friend = PeerRecord {
        user_id: peer,
        display_name: Some("Bob".into()),
        identity_key: Some("k".into()),
        verified: true,
        identity_changed: false,
        held: false,
    };
    store.put_peer(&friend).await.unwrap();
    assert_eq!(store.peer(peer).await.unwrap(), Some(friend));
    store.remove_peer(peer).await.unwrap();
    assert_eq!(store.peer(peer).await.unwrap(), None);

    let prekeys =
        [OneTimePrekeySecret { id: 1, secret: "a".into() }, OneTimePrekeySecret { id: 2, secret: "b".into() }];
    store.put_one_time_prekeys(&prekeys).await.unwrap();
    assert_eq!(store.one_time_prekey(2).await.unwrap(), Some(prekeys[1].clone()));
    store.remove_one_time_prekey(2).await.unwrap();
    assert_eq!(store.one_time_prekey(2).await.unwrap(), None);

    let device = DeviceId::new();
    let sessions = SessionRecord { peer, device, sessions: vec!["s".into()] };
    store.put_sessions(&sessions).await.unwrap();
    assert_eq!(store.peer_sessions(peer).await.unwrap(), vec![sessions.clone()]);
    store.clear_sessions().await.unwrap();
    assert_eq!(store.sessions(peer, device).await.unwrap(), None);
    store.destroy(me).await;
}

#[wasm_bindgen_test]
async fn the_outbox_survives_a_reload_and_goes_out_on_connect() {
    let (me, peer) = (UserId::new(), UserId::new());
    let keys = Rc::new(KeyDirectory::default());
    let mut friend = Engine::new(peer, MemoryStore::default(), ModelHttp { user: peer, keys: keys.clone() });
    friend.set_up(None, false, 0).await.unwrap();
    let http = || ModelHttp { user: me, keys: keys.clone() };
    let mut engine = Engine::new(me, IdbStore::open(me).await.unwrap(), http());
    engine.set_up(None, false, 0).await.unwrap();
    engine.add_friend(peer, None, None).await.unwrap();
    let (written, frames) = engine.compose(peer, "written offline", 1).await.unwrap();
    assert!(frames.is_empty(), "not connected: nothing is sent");
    assert_eq!(written.status, Status::Sending);
    drop(engine);

    let mut reopened = Engine::new(me, IdbStore::open(me).await.unwrap(), http());
    reopened.set_up(None, false, 0).await.unwrap();
    let (frames, _) = reopened.on_connected(2).await.unwrap();
    let sealed_for = |frame: &ClientFrame| match frame {
        ClientFrame::Send { id, envelopes, .. } if *id == written.id => Some(envelopes[0].device),
        _ => None,
    };
    assert_eq!(frames.iter().find_map(sealed_for), friend.device_id(), "sealed for the friend's device: {frames:?}");
}
