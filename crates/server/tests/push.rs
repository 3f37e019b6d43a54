//! Web Push per device, over real sockets, on SQLite and on a real Redis, against a local
//! push-service stand-in (it records which endpoint each push went to; the payload and the
//! VAPID token are checked by the independent client, `tests/protocol`): a device with a
//! subscription and no live connection gets one push when a message waits for it — also
//! while another device of the same person is connected — one per sender until it
//! connects again (to this node, or to another one, which only the shared store tells),
//! and a connected device gets none.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode as Status;
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::browsers::{Browser, browser};
use common::redis::RedisServer;
use common::ws::{authed, next, send, until, v2_envelope};
use common::*;
use hush_crypto::IdentityKeyPair;
use hush_server::store::Mailbox;
use hush_shared::{DeviceId, UserId};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// The stand-in push service: `POST /push/{name}` is recorded and answered `201`.
struct PushService {
    origin: String,
    pushed: Arc<Mutex<Vec<String>>>,
}

impl PushService {
    async fn start() -> Self {
        let pushed = Arc::new(Mutex::new(Vec::new()));
        async fn record(State(pushed): State<Arc<Mutex<Vec<String>>>>, Path(name): Path<String>) -> Status {
            pushed.lock().unwrap().push(name);
            Status::CREATED
        }
        let app = Router::new().route("/push/{name}", post(record)).with_state(pushed.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { origin, pushed }
    }

    /// The endpoints pushed to so far, in order.
    fn pushed(&self) -> Vec<String> {
        self.pushed.lock().unwrap().clone()
    }

    /// Waits until `count` pushes arrived (at most 5 s), then returns them all.
    async fn wait_for(&self, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.pushed().len() < count && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.pushed()
    }

    /// The pushes after a pause long enough for any push under way to arrive.
    async fn settled(&self) -> Vec<String> {
        tokio::time::sleep(Duration::from_millis(700)).await;
        self.pushed()
    }
}

/// Subscribes `browser`'s device with an endpoint named after it.
async fn subscribe(app: &TestApp, service: &PushService, browser: &Browser) {
    let body = json!({
        "endpoint": format!("{}/push/{}", service.origin, browser.device),
        "keys": { "p256dh": new_public_key(), "auth": URL_SAFE_NO_PAD.encode([9u8; 16]) },
    });
    let r = app.call(Method::PUT, "/api/v1/push/subscription", Some(&browser.person.token), Some(body)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
}

/// Closes `browser`'s socket and waits until the server no longer counts its device online.
async fn away(app: &TestApp, browser: &mut Browser) {
    browser.ws.close(None).await.unwrap();
    let (user, device): (UserId, DeviceId) = (browser.person.user_id.parse().unwrap(), browser.device.parse().unwrap());
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.state.hub.online_devices(user).await.contains(&device) {
        assert!(Instant::now() < deadline, "the device still counts as online");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Opens `browser`'s socket again and acknowledges what waited for it.
async fn back(app: &TestApp, browser: &mut Browser) {
    browser.ws = authed(app, &browser.person).await;
    let mut waiting = Vec::new();
    loop {
        let frame = next(&mut browser.ws).await.expect("open");
        match frame["type"].as_str() {
            Some("message") => waiting.push(frame["id"].clone()),
            Some("caught_up") => break,
            _ => {}
        }
    }
    send(&mut browser.ws, json!({ "type": "ack", "ids": waiting })).await;
}

/// A message from `from` to Bob's two devices, answered `stored`.
async fn message(from: &mut Browser, bob: &str, devices: [&str; 2]) {
    let id = uuid::Uuid::now_v7().to_string();
    let envelopes: Vec<_> = devices.iter().map(|d| json!({ "device": d, "envelope": v2_envelope() })).collect();
    send(&mut from.ws, json!({ "type": "send", "id": id, "to": bob, "envelopes": envelopes, "own": [] })).await;
    let stored = until(&mut from.ws, "stored").await;
    assert_eq!(stored["id"], id.as_str());
}

async fn one_push_per_away_device(app: &TestApp) {
    let service = PushService::start().await;
    let (alice_identity, bob_identity) = (IdentityKeyPair::generate(), IdentityKeyPair::generate());
    let mut a1 = browser(app, &phone(1), &alice_identity, None).await;
    let mut b1 = browser(app, &phone(2), &bob_identity, None).await;
    let mut b2 = browser(app, &phone(2), &bob_identity, Some(&b1.person)).await;
    app.befriend(&a1.person, &b1.person).await;
    subscribe(app, &service, &b1).await;
    subscribe(app, &service, &b2).await;
    let bob = b1.person.user_id.clone();
    let devices = [b1.device.clone(), b2.device.clone()];
    let devices = [devices[0].as_str(), devices[1].as_str()];

    // b2 is away, b1 connected: only b2 is pushed.
    away(app, &mut b2).await;
    message(&mut a1, &bob, devices).await;
    assert_eq!(service.wait_for(1).await, vec![b2.device.clone()]);
    assert_eq!(service.settled().await, vec![b2.device.clone()], "b1 is connected: no push for it");
    // Another message from Alice while b2 is still away: no second push.
    message(&mut a1, &bob, devices).await;
    assert_eq!(service.settled().await.len(), 1, "one push per sender until the device connects");

    // b2 comes back and goes again: Alice's next message pushes it again.
    back(app, &mut b2).await;
    away(app, &mut b2).await;
    message(&mut a1, &bob, devices).await;
    assert_eq!(service.wait_for(2).await, vec![b2.device.clone(), b2.device.clone()]);

    // Both away: b1 is pushed for the first time; b2 was pushed about Alice already.
    away(app, &mut b1).await;
    message(&mut a1, &bob, devices).await;
    assert_eq!(service.wait_for(3).await[2], b1.device);
    assert_eq!(service.settled().await.len(), 3, "b2 not pushed twice about Alice");

    // b2 connects to another node — which tells only the shared store — and leaves again:
    // this node pushes it again; b1 was not seen since its push, so it is not.
    let b2_mailbox = Mailbox { user: bob.parse().unwrap(), device: b2.device.parse().unwrap() };
    app.state.stores.mailbox.mark_seen(b2_mailbox, app.state.now() + 1).await.unwrap();
    message(&mut a1, &bob, devices).await;
    let pushed = service.wait_for(4).await;
    assert_eq!(pushed.len(), 4, "b2 was seen since its push (on another node): pushed again");
    assert_eq!(pushed[3], b2.device);
    assert_eq!(service.settled().await.len(), 4, "only the device seen since its push");
}

#[tokio::test]
async fn one_push_per_away_device_on_sqlite() {
    let app = TestApp::spawn_with(&["--push-allow-private"]).await;
    one_push_per_away_device(&app).await;
}

#[tokio::test]
async fn one_push_per_away_device_on_redis() {
    let redis = RedisServer::start();
    let app = TestApp::spawn_redis(&redis.url(), &["--push-allow-private"]).await;
    one_push_per_away_device(&app).await;
}
