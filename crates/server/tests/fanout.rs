//! Several devices per person over real sockets, on SQLite and on a real Redis: Alice and
//! Bob with two devices each. Every message reaches both of Bob's devices and Alice's other
//! device exactly once, in send order; receipts roll up per person; reading on one device
//! clears the unread mark on the other; a device added in the middle of a burst makes the
//! sends stale and the resend neither loses nor duplicates anything; a removed device gets
//! nothing more; a browser that only signed in with SMS receives nothing and can ack
//! nothing.

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::browsers::{browser, sign_in_again};
use common::devices::TestDevice;
use common::linking;
use common::redis::RedisServer;
use common::ws::{Ws, authed, barrier, close_code, send, until};
use common::*;
use hush_crypto::IdentityKeyPair;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// An envelope the server accepts (a v2 message: version byte, kind, room for the rest),
/// marked with `n` and the device it is for so each copy can be told apart.
fn envelope(n: u8, device: &str) -> String {
    let mut bytes = vec![2u8, 2];
    bytes.extend_from_slice(device.as_bytes());
    bytes.resize(160, n);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn for_devices(n: u8, devices: &[&str]) -> Value {
    Value::Array(devices.iter().map(|d| json!({ "device": d, "envelope": envelope(n, d) })).collect())
}

/// A `send` of message `n` from Alice to Bob, naming Bob's devices and Alice's others.
fn send_frame(id: &str, to: &str, n: u8, theirs: &[&str], own: &[&str]) -> Value {
    json!({ "type": "send", "id": id, "to": to, "envelopes": for_devices(n, theirs), "own": for_devices(n, own) })
}

/// The next `count` frames of `kind` (other kinds are skipped).
async fn take(ws: &mut Ws, kind: &str, count: usize) -> Vec<Value> {
    let mut frames = Vec::new();
    while frames.len() < count {
        frames.push(until(ws, kind).await);
    }
    frames
}

/// Whatever arrives within `wait` (nothing should, when asserting quiet).
async fn quiet(ws: &mut Ws, wait: Duration) -> Vec<Value> {
    let mut frames = Vec::new();
    while let Ok(Some(Ok(message))) = tokio::time::timeout(wait, futures_util::StreamExt::next(ws)).await {
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
            frames.push(serde_json::from_str(&text).unwrap());
        }
    }
    frames
}

fn ids_of(frames: &[Value]) -> Vec<String> {
    frames.iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect()
}

async fn two_people_two_devices_each(app: &TestApp) {
    let (alice_identity, bob_identity) = (IdentityKeyPair::generate(), IdentityKeyPair::generate());
    let (alice_phone, bob_phone) = (phone(1), phone(2));
    let mut a1 = browser(app, &alice_phone, &alice_identity, None).await;
    let mut a2 = browser(app, &alice_phone, &alice_identity, Some(&a1.person)).await;
    let mut b1 = browser(app, &bob_phone, &bob_identity, None).await;
    let mut b2 = browser(app, &bob_phone, &bob_identity, Some(&b1.person)).await;
    app.befriend(&a1.person, &b1.person).await;
    let bob = b1.person.user_id.clone();
    let r = app.get(&format!("/api/v1/users/{bob}/bundles"), &a1.person.token).await;
    assert_eq!(r.body["devices"].as_array().unwrap().len(), 2, "one bundle per device: {:?}", r.body);

    // Twenty messages from a1: stored once each, then on b1, b2 and a2 exactly once, in order.
    let ids: Vec<String> = (0..20).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    for (n, id) in ids.iter().enumerate() {
        send(&mut a1.ws, send_frame(id, &bob, n as u8, &[&b1.device, &b2.device], &[&a2.device])).await;
    }
    assert_eq!(ids_of(&take(&mut a1.ws, "stored", 20).await), ids);
    for browser in [&mut b1, &mut b2, &mut a2] {
        let got = take(&mut browser.ws, "message", 20).await;
        assert_eq!(ids_of(&got), ids, "every message once, in send order");
        for (n, frame) in got.iter().enumerate() {
            assert_eq!(
                (frame["from"].as_str(), frame["to"].as_str()),
                (Some(a1.person.user_id.as_str()), Some(bob.as_str()))
            );
            assert_eq!(frame["from_device"], a1.device.as_str());
            assert_eq!(frame["envelope"], envelope(n as u8, &browser.device), "this device's own envelope");
        }
        assert!(quiet(&mut browser.ws, Duration::from_millis(200)).await.iter().all(|f| f["type"] != "message"));
    }

    // a2's acks of its copies are no delivery; b1 acks first of Bob's devices: one
    // `delivered` per message on each of Alice's devices; b2's acks add nothing.
    for browser in [&mut a2, &mut b1, &mut b2] {
        send(&mut browser.ws, json!({ "type": "ack", "ids": ids })).await;
        assert!(barrier(&mut browser.ws).await.iter().all(|f| f["type"] != "receipt"));
    }
    // b1 reads the first message.
    send(&mut b1.ws, json!({ "type": "read", "to": a1.person.user_id, "ids": [ids[0]] })).await;
    barrier(&mut b1.ws).await;
    for browser in [&mut a1, &mut a2] {
        let receipts = take(&mut browser.ws, "receipt", 21).await;
        let kinds: Vec<(&str, &str)> =
            receipts.iter().map(|r| (r["kind"].as_str().unwrap(), r["message_id"].as_str().unwrap())).collect();
        let mut want: Vec<(&str, &str)> = ids.iter().map(|id| ("delivered", id.as_str())).collect();
        want.push(("read", ids[0].as_str()));
        assert_eq!(kinds, want, "delivered once per message, then read");
        let rids: Vec<&str> = receipts.iter().map(|r| r["id"].as_str().unwrap()).collect();
        send(&mut browser.ws, json!({ "type": "receipt_ack", "ids": rids })).await;
        barrier(&mut browser.ws).await;
    }
    let elsewhere = until(&mut b2.ws, "receipt").await;
    assert_eq!(
        (elsewhere["kind"].as_str(), elsewhere["message_id"].as_str()),
        (Some("read_elsewhere"), Some(ids[0].as_str()))
    );
    assert_eq!(elsewhere["peer"], a1.person.user_id.as_str());
    assert!(
        quiet(&mut b1.ws, Duration::from_millis(200)).await.iter().all(|f| f["type"] != "receipt"),
        "not the reader"
    );
    send(&mut b2.ws, json!({ "type": "receipt_ack", "ids": [elsewhere["id"]] })).await;

    // Stale lists are refused, naming what is missing or extra, and store nothing.
    let stale = uuid::Uuid::now_v7().to_string();
    send(&mut a1.ws, send_frame(&stale, &bob, 1, &[&b1.device], &[&a2.device])).await;
    let refused = until(&mut a1.ws, "error").await;
    assert_eq!((refused["code"].as_str(), refused["id"].as_str()), (Some("devices_changed"), Some(stale.as_str())));
    assert_eq!(refused["devices"], json!({ "user_id": bob, "missing": [b2.device], "extra": [] }));
    send(&mut a1.ws, send_frame(&stale, &bob, 1, &[&b1.device, &b2.device], &[])).await;
    let refused = until(&mut a1.ws, "error").await;
    assert_eq!(refused["devices"], json!({ "user_id": a1.person.user_id, "missing": [a2.device], "extra": [] }));
    send(&mut a1.ws, send_frame(&stale, &bob, 1, &[&b1.device, &b2.device], &[&a2.device, &a1.device])).await;
    let refused = until(&mut a1.ws, "error").await;
    assert_eq!(refused["devices"]["extra"], json!([a1.device]), "the sending device is no copy of its own");

    // A device added in the middle of a burst: the sends after it are refused, and sending
    // the whole burst again stores nothing twice.
    let burst: Vec<String> = (0..10).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    for (n, id) in burst.iter().take(5).enumerate() {
        send(&mut a1.ws, send_frame(id, &bob, 100 + n as u8, &[&b1.device, &b2.device], &[&a2.device])).await;
    }
    assert_eq!(ids_of(&take(&mut a1.ws, "stored", 5).await), burst[..5]);
    let mut b3 = browser(app, &bob_phone, &bob_identity, Some(&b1.person)).await;
    for (n, id) in burst.iter().enumerate().skip(5) {
        send(&mut a1.ws, send_frame(id, &bob, 100 + n as u8, &[&b1.device, &b2.device], &[&a2.device])).await;
    }
    let refusals = take(&mut a1.ws, "error", 5).await;
    assert!(refusals.iter().all(|r| r["devices"]["missing"] == json!([b3.device])), "{refusals:?}");
    let devices = [b1.device.clone(), b2.device.clone(), b3.device.clone()];
    let three = [devices[0].as_str(), devices[1].as_str(), devices[2].as_str()];
    for (n, id) in burst.iter().enumerate() {
        send(&mut a1.ws, send_frame(id, &bob, 100 + n as u8, &three, &[&a2.device])).await;
    }
    assert_eq!(ids_of(&take(&mut a1.ws, "stored", 10).await), burst, "stored (again) for each");
    for browser in [&mut b1, &mut b2, &mut a2] {
        assert_eq!(ids_of(&take(&mut browser.ws, "message", 10).await), burst, "the burst once each, in order");
        send(&mut browser.ws, json!({ "type": "ack", "ids": burst })).await;
        assert!(barrier(&mut browser.ws).await.iter().all(|f| f["type"] != "message"), "no duplicates");
    }
    assert_eq!(ids_of(&take(&mut b3.ws, "message", 5).await), burst[5..], "the new device from its first message");
    assert!(barrier(&mut b3.ws).await.iter().all(|f| f["type"] != "message"));

    // The devices screen: each device, when it was last connected, and which is this one.
    let r = app.get("/api/v1/devices", &b1.person.token).await;
    let listed = r.body["devices"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().all(|d| d["last_seen"].is_i64()), "{listed:?}");
    let current: Vec<&Value> = listed.iter().filter(|d| d["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["device_id"], b1.device.as_str());

    // b1 removes b2: b2's socket closes at once; sends naming it are refused; it gets no more.
    let r = app.call(Method::DELETE, &format!("/api/v1/devices/{}", b2.device), Some(&b1.person.token), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(close_code(&mut b2.ws).await, Some(4004), "closed at once, saying the device was removed");
    let after = uuid::Uuid::now_v7().to_string();
    send(&mut a1.ws, send_frame(&after, &bob, 7, &three, &[&a2.device])).await;
    let refused = until(&mut a1.ws, "error").await;
    assert_eq!(refused["devices"]["extra"], json!([b2.device]));
    send(&mut a1.ws, send_frame(&after, &bob, 7, &[&b1.device, &b3.device], &[&a2.device])).await;
    until(&mut a1.ws, "stored").await;
    assert_eq!(ids_of(&take(&mut b3.ws, "message", 1).await), vec![after.clone()]);
    let store = &app.state.stores.mailbox;
    let b2_box = hush_server::store::Mailbox { user: bob.parse().unwrap(), device: b2.device.parse().unwrap() };
    assert_eq!(store.depth(b2_box).await.unwrap(), 0, "a removed device's mailbox is gone and stays empty");

    // The removed browser still holds the identity, but signing in again by SMS does not
    // bring it back: another device has to link it.
    let again = sign_in_again(app, &bob_phone).await;
    let mut returning = TestDevice::with_identity(&again.user_id, bob_identity.clone());
    let r = app.post("/api/v1/devices", Some(&again.token), returning.registration(3)).await;
    assert_eq!(r.body["code"], "link_required", "{:?}", r.body);

    // A browser that only signed in with SMS is no device: it gets no messages and may not
    // ack (so nothing is deleted on its behalf).
    let unlinked = sign_in_again(app, &bob_phone).await;
    let mut ws = authed(app, &unlinked).await;
    let frames = quiet(&mut ws, Duration::from_millis(300)).await;
    assert!(frames.iter().all(|f| f["type"] != "message" && f["type"] != "receipt"), "{frames:?}");
    send(&mut ws, json!({ "type": "ack", "ids": [after] })).await;
    assert_eq!(until(&mut ws, "error").await["code"], "no_device");
    let b1_box = hush_server::store::Mailbox { user: bob.parse().unwrap(), device: b1.device.parse().unwrap() };
    assert_eq!(store.depth(b1_box).await.unwrap(), 1, "still waiting for b1");

    // Bob blocks Alice: what she had queued for his devices goes, on every device.
    let b3_box = hush_server::store::Mailbox { user: bob.parse().unwrap(), device: b3.device.parse().unwrap() };
    let r =
        app.call(Method::POST, &format!("/api/v1/blocks/{}", a1.person.user_id), Some(&b1.person.token), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!((store.depth(b1_box).await.unwrap(), store.depth(b3_box).await.unwrap()), (0, 0), "purged on block");
}

#[tokio::test]
async fn fan_out_on_sqlite() {
    let app = TestApp::spawn().await;
    two_people_two_devices_each(&app).await;
}

#[tokio::test]
async fn fan_out_on_redis() {
    let redis = RedisServer::start();
    let app = TestApp::spawn_redis(&redis.url(), &[]).await;
    two_people_two_devices_each(&app).await;
}

/// The number of devices is capped (`HUSH_MAX_DEVICES`); starting again is still possible.
#[tokio::test]
async fn the_device_cap_holds() {
    let app = TestApp::spawn_with(&["--max-devices", "2"]).await;
    let identity = IdentityKeyPair::generate();
    let first = browser(&app, &phone(1), &identity, None).await;
    browser(&app, &phone(1), &identity, Some(&first.person)).await;
    let third = sign_in_again(&app, &phone(1)).await;
    let mut device = TestDevice::with_identity(&third.user_id, identity.clone());
    let mut body = device.registration(3);
    let r = app.post("/api/v1/devices", Some(&third.token), body.clone()).await;
    assert_eq!((r.status, r.body["code"].as_str()), (StatusCode::FORBIDDEN, Some("link_required")), "identity alone");
    let requester = (third.token.as_str(), third.user_id.parse().unwrap());
    let store = hush_client::MemoryStore::default();
    body["link_id"] = json!(linking::link(&app.base, (&first.person.token, &identity, &[]), requester, &store).await);
    let r = app.post("/api/v1/devices", Some(&third.token), body).await;
    assert_eq!((r.status, r.body["code"].as_str()), (StatusCode::CONFLICT, Some("device_limit")));
}
