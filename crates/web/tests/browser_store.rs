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
    assert_eq!(store.peer(peer).await.unwrap(), Some(friend.clone()));
    assert_eq!(store.peers().await.unwrap(), vec![friend]);

    let prekeys = [
        OneTimePrekeySecret { id: 1, secret: "a".into(), handed_out_at: Some(7) },
        OneTimePrekeySecret { id: 2, secret: "b".into(), handed_out_at: None },
    ];
    store.put_one_time_prekeys(&prekeys).await.unwrap();
    assert_eq!(store.one_time_prekey(2).await.unwrap(), Some(prekeys[1].clone()));
    let mut all = store.one_time_prekeys().await.unwrap();
    all.sort_by_key(|p| p.id);
    assert_eq!(all, prekeys.to_vec());
    store.remove_one_time_prekey(2).await.unwrap();
    assert_eq!(store.one_time_prekey(2).await.unwrap(), None);

    let device = DeviceId::new();
    let sessions = SessionRecord { peer, device, sessions: vec!["s".into()], retired: false };
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

/// Encryption at rest: what IndexedDB holds is ciphertext under a non-extractable key, and
/// a plain value planted in the database is refused rather than read.
#[wasm_bindgen_test]
async fn values_are_sealed_at_rest_under_a_non_extractable_key() {
    use rexie::{ObjectStore, Rexie, TransactionMode};
    use wasm_bindgen::{JsCast, JsValue};

    let (me, peer) = (UserId::new(), UserId::new());
    let store = IdbStore::open(me).await.unwrap();
    let mut secret = message(peer, Status::Received, Direction::Incoming);
    secret.body = Body::Text { text: "the launch code is 0000".into() };
    store.put_message(&secret).await.unwrap();
    store.close();

    let raw = Rexie::builder(&format!("hush-{me}"))
        .version(2)
        .add_object_store(ObjectStore::new("messages"))
        .add_object_store(ObjectStore::new("own"))
        .add_object_store(ObjectStore::new("peers"))
        .add_object_store(ObjectStore::new("signed_prekeys"))
        .add_object_store(ObjectStore::new("one_time_prekeys"))
        .add_object_store(ObjectStore::new("sessions"))
        .add_object_store(ObjectStore::new("friends"))
        .add_object_store(ObjectStore::new("vault"))
        .build()
        .await
        .unwrap();
    let tx = raw.transaction(&["messages", "vault"], TransactionMode::ReadWrite).unwrap();
    let stored = tx.store("messages").unwrap().get(JsValue::from_str(&secret.id.to_string())).await.unwrap().unwrap();
    let bytes = stored.dyn_into::<js_sys::Uint8Array>().expect("a sealed value").to_vec();
    assert!(!bytes.windows(11).any(|w| w == b"launch code"), "no plaintext at rest");
    let key = tx.store("vault").unwrap().get(JsValue::from_str("key")).await.unwrap().unwrap();
    let key = key.dyn_into::<web_sys::CryptoKey>().expect("a CryptoKey");
    assert!(!key.extractable(), "the key cannot be exported");
    // Plant a plain value under another id.
    let planted = message(peer, Status::Received, Direction::Incoming);
    let plain = serde_json::to_string(&planted).unwrap();
    tx.store("messages")
        .unwrap()
        .put(&JsValue::from_str(&plain), Some(&JsValue::from_str(&planted.id.to_string())))
        .await
        .unwrap();
    tx.done().await.unwrap();
    raw.close();

    let store = IdbStore::open(me).await.unwrap();
    assert_eq!(store.message(secret.id).await.unwrap(), Some(secret.clone()));
    assert!(store.message(planted.id).await.is_err(), "a planted plain value is refused");
    assert_eq!(store.all_messages().await.unwrap(), vec![secret], "and skipped by listings");
    store.destroy(me).await;
}

/// A database from crypto v1: its per-friendship keys go, its friends become peers flagged
/// as changed (the one-time upgrade notice), and its plain messages are sealed and kept.
#[wasm_bindgen_test]
async fn a_v1_database_is_upgraded() {
    use rexie::{ObjectStore, Rexie, TransactionMode};
    use wasm_bindgen::JsValue;

    let (me, peer) = (UserId::new(), UserId::new());
    let old = Rexie::builder(&format!("hush-{me}"))
        .version(1)
        .add_object_store(ObjectStore::new("messages"))
        .add_object_store(ObjectStore::new("keys"))
        .add_object_store(ObjectStore::new("friends"))
        .build()
        .await
        .unwrap();
    let kept = message(peer, Status::Seen, Direction::Incoming);
    let friend = serde_json::json!({ "user_id": peer, "display_name": "Bob", "their_key": "k", "verified": true, "key_changed": false });
    let tx = old.transaction(&["messages", "keys", "friends"], TransactionMode::ReadWrite).unwrap();
    let put = |store: &str, key: String, value: String| {
        let tx = &tx;
        let store = store.to_owned();
        async move {
            tx.store(&store).unwrap().put(&JsValue::from_str(&value), Some(&JsValue::from_str(&key))).await.unwrap()
        }
    };
    put("messages", kept.id.to_string(), serde_json::to_string(&kept).unwrap()).await;
    put("keys", peer.to_string(), r#"{"secret":"s"}"#.into()).await;
    put("friends", peer.to_string(), friend.to_string()).await;
    tx.done().await.unwrap();
    old.close();

    let store = IdbStore::open(me).await.unwrap();
    assert_eq!(store.message(kept.id).await.unwrap(), Some(kept), "history kept, now sealed");
    let upgraded = store.peer(peer).await.unwrap().unwrap();
    assert_eq!(upgraded.display_name.as_deref(), Some("Bob"));
    assert!(upgraded.identity_changed && !upgraded.verified && upgraded.identity_key.is_none());
    store.destroy(me).await;
}
