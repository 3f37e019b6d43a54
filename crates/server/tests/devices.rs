//! Devices and prekeys over the real server (crypto v2): registration with every key and
//! signature checked (typed errors when bad), the identity and device-count rules, starting
//! again, one-time prekeys handed out once each, top-ups and their limits, signed-prekey
//! rotation, bundles only for friends and rate-limited, and the identity event to friends.

mod common;

use common::devices::TestDevice;
use common::ws::{authed, next};
use common::*;
use hush_crypto::KeyPair;
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn register(app: &TestApp, person: &Person, device: &mut TestDevice, prekeys: u32) -> Reply {
    let body = device.registration(prekeys);
    app.post("/api/v1/devices", Some(&person.token), body).await
}

#[tokio::test]
async fn registration_checks_every_key_and_signature() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), Some("Alice")).await;
    let mut device = TestDevice::new(&alice.user_id);
    let good = device.registration(5);
    let cases = [
        ("identity_key", json!("not-a-key"), "invalid_public_key"),
        ("device_key", json!(KeyPair::generate().public().to_wire()), "invalid_signature"),
        ("certificate", json!("AAAA"), "invalid_signature"),
        ("certificate", json!(device.local.identity.sign(b"something else").to_wire()), "invalid_signature"),
        (
            "signed_prekey",
            json!({ "id": 1, "public_key": KeyPair::generate().public().to_wire(), "signature": good["signed_prekey"]["signature"] }),
            "invalid_signature",
        ),
        (
            "signed_prekey",
            json!({ "id": 0, "public_key": good["signed_prekey"]["public_key"], "signature": good["signed_prekey"]["signature"] }),
            "invalid_prekey_id",
        ),
        (
            "one_time_prekeys",
            json!([{ "id": 3, "public_key": new_public_key() }, { "id": 3, "public_key": new_public_key() }]),
            "invalid_prekey_id",
        ),
        ("one_time_prekeys", json!([{ "id": 0, "public_key": new_public_key() }]), "invalid_prekey_id"),
        ("one_time_prekeys", json!([{ "id": 9, "public_key": "A".repeat(87) }]), "invalid_public_key"),
        ("name", json!("\u{202E}evil"), "invalid_device_name"),
    ];
    for (field, value, code) in cases {
        let mut body = good.clone();
        body[field] = value;
        let r = app.post("/api/v1/devices", Some(&alice.token), body).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, code), "{field}: {:?}", r.body);
    }
    let too_many: Vec<_> = (1..=101).map(|id| json!({ "id": id, "public_key": new_public_key() })).collect();
    let mut body = good.clone();
    body["one_time_prekeys"] = json!(too_many);
    let r = app.post("/api/v1/devices", Some(&alice.token), body).await;
    assert_eq!(r.code(), "too_many_prekeys");
    // A certificate made for another account does not verify for this one.
    let bob = app.sign_in(&phone(2), Some("Bob")).await;
    let r = app.post("/api/v1/devices", Some(&bob.token), good.clone()).await;
    assert_eq!(r.code(), "invalid_signature");
    // Nothing was stored by the refusals.
    let r = app.get("/api/v1/devices", &alice.token).await;
    assert_eq!(r.body, json!({ "identity_key": null, "devices": [] }));

    let r = app.post("/api/v1/devices", Some(&alice.token), good).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["device_id"], device.device_id());
    assert_eq!(r.body["current"], true);
    let r = app.get("/api/v1/devices", &alice.token).await;
    assert_eq!(r.body["identity_key"], device.identity_key());
    assert_eq!(r.body["devices"][0]["name"], "Test browser");
    let r = app.get(&format!("/api/v1/devices/{}/prekeys", device.device_id()), &alice.token).await;
    assert_eq!((r.body["one_time_prekeys"].as_u64(), r.body["signed_prekey_id"].as_u64()), (Some(5), Some(1)));
}

#[tokio::test]
async fn a_second_browser_must_start_again_and_then_replaces_the_first() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), Some("Alice")).await;
    let bob = app.sign_in(&phone(2), Some("Bob")).await;
    app.befriend(&alice, &bob).await;
    let mut bob_ws = authed(&app, &bob).await;

    let mut first = TestDevice::new(&alice.user_id);
    assert_eq!(register(&app, &alice, &mut first, 3).await.status, StatusCode::CREATED);
    let event = loop {
        let frame = next(&mut bob_ws).await.expect("bob's socket stays open");
        if frame["type"] == "friend" {
            break frame;
        }
    };
    assert_eq!(event["event"], "identity_changed");
    assert_eq!(event["identity_key"], first.identity_key());

    // Registering again from the same session replaces that session's device.
    let mut again = TestDevice::with_identity(&alice.user_id, first.local.identity.clone());
    assert_eq!(register(&app, &alice, &mut again, 2).await.status, StatusCode::CREATED);
    let r = app.get("/api/v1/devices", &alice.token).await;
    assert_eq!(r.body["devices"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["devices"][0]["device_id"], again.device_id());

    // A second browser (another sign-in) cannot add a device under an identity of its own,
    // nor under the account's without a link from a device; linked, it can.
    app.clock.advance(31);
    let laptop = app.sign_in(&phone(1), None).await;
    let mut other = TestDevice::new(&alice.user_id);
    let r = register(&app, &laptop, &mut other, 2).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "identity_mismatch"));
    let mut same_identity = TestDevice::with_identity(&alice.user_id, first.local.identity.clone());
    let r = register(&app, &laptop, &mut same_identity, 2).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "link_required"));
    let store = hush_client::MemoryStore::default();
    let requester = (laptop.token.as_str(), alice.user_id.parse().unwrap());
    let link = common::linking::link(&app.base, (&alice.token, &first.local.identity, &[]), requester, &store).await;
    let mut body = same_identity.registration(2);
    body["link_id"] = json!(link);
    let r = app.post("/api/v1/devices", Some(&laptop.token), body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = app.get("/api/v1/devices", &laptop.token).await;
    assert_eq!(r.body["devices"].as_array().unwrap().len(), 2);
    // A device id names one device key: the same id with new keys is refused.
    let mut reused = TestDevice::with_identity(&alice.user_id, first.local.identity.clone());
    reused.local.device_id = same_identity.local.device_id;
    let (user, device) = (reused.local.user_id, reused.local.device_id);
    reused.local.certificate = first.local.identity.certify_device(&user, &device, reused.local.device_key.public());
    let r = register(&app, &laptop, &mut reused, 2).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "device_exists"));
    let r = app.get(&format!("/api/v1/devices/{}/prekeys", again.device_id()), &laptop.token).await;
    assert_eq!(r.code(), "device_not_found", "another session cannot manage this device");

    // Starting again: the new identity replaces the account's, the first browser's session
    // ends, its prekeys go, and friends hear of the new identity.
    let mut body = other.registration(4);
    body["new_identity"] = json!(true);
    let r = app.post("/api/v1/devices", Some(&laptop.token), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = app.get("/api/v1/devices", &alice.token).await;
    assert_eq!(r.code(), "session_revoked", "the replaced browser is signed out");
    let r = app.get("/api/v1/devices", &laptop.token).await;
    assert_eq!(r.body["identity_key"], other.identity_key());
    assert_eq!(r.body["devices"].as_array().unwrap().len(), 1);
    let event = loop {
        let frame = next(&mut bob_ws).await.expect("bob's socket stays open");
        if frame["type"] == "friend" {
            break frame;
        }
    };
    assert_eq!(
        (event["event"].as_str(), event["identity_key"].as_str()),
        (Some("identity_changed"), Some(other.identity_key().as_str()))
    );
    let r = app.get(&format!("/api/v1/users/{}/bundles", alice.user_id), &bob.token).await;
    assert_eq!(r.body["devices"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["devices"][0]["device_id"], other.device_id());
}

#[tokio::test]
async fn bundles_hand_out_each_one_time_prekey_once_then_none() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), Some("Alice")).await;
    let bob = app.sign_in(&phone(2), Some("Bob")).await;
    let carol = app.sign_in(&phone(3), Some("Carol")).await;
    app.befriend(&alice, &bob).await;
    let mut device = TestDevice::new(&alice.user_id);
    assert_eq!(register(&app, &alice, &mut device, 3).await.status, StatusCode::CREATED);

    let path = format!("/api/v1/users/{}/bundles", alice.user_id);
    let r = app.get(&path, &carol.token).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_friends"));
    let mut handed_out = vec![];
    for _ in 0..4 {
        let r = app.get(&path, &bob.token).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["identity_key"], device.identity_key());
        let bundle = &r.body["devices"][0];
        assert_eq!(bundle["device_id"], device.device_id());
        assert_eq!(bundle["certificate"], device.local.certificate.to_wire());
        assert_eq!(bundle["signed_prekey"]["id"], 1);
        handed_out.push(bundle["one_time_prekey"]["id"].as_u64());
    }
    assert_eq!(handed_out, vec![Some(1), Some(2), Some(3), None], "each once, lowest first, then none");
    let status = app.get(&format!("/api/v1/devices/{}/prekeys", device.device_id()), &alice.token).await;
    assert_eq!(status.body["one_time_prekeys"], 0);

    // Topping up: ids already handed out may not come back, new ones are stored.
    let upload = format!("/api/v1/devices/{}/one-time-prekeys", device.device_id());
    let r = app.post(&upload, Some(&alice.token), json!({ "one_time_prekeys": device.one_time_prekeys(100) })).await;
    assert_eq!(r.body["one_time_prekeys"], 100, "{:?}", r.body);
    let r = app
        .post(
            &upload,
            Some(&alice.token),
            json!({ "one_time_prekeys": [{ "id": 50, "public_key": new_public_key() }] }),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_prekey_id"));
    let r = app.post(&upload, Some(&alice.token), json!({ "one_time_prekeys": device.one_time_prekeys(100) })).await;
    assert_eq!(r.body["one_time_prekeys"], 200);
    let r = app.post(&upload, Some(&alice.token), json!({ "one_time_prekeys": device.one_time_prekeys(1) })).await;
    assert_eq!(r.code(), "too_many_prekeys", "the server keeps at most 200 per device");

    // Rotating the signed prekey: checked under the identity, then handed out.
    let rotate = format!("/api/v1/devices/{}/signed-prekey", device.device_id());
    let next_key = KeyPair::generate();
    let forged = json!({ "id": 2, "public_key": next_key.public().to_wire(), "signature": device.signed_prekey_body(3, &next_key)["signature"] });
    let r = app.call(Method::PUT, &rotate, Some(&alice.token), Some(forged)).await;
    assert_eq!(r.code(), "invalid_signature");
    let r = app.call(Method::PUT, &rotate, Some(&alice.token), Some(device.signed_prekey_body(2, &next_key))).await;
    assert_eq!(r.body["signed_prekey_id"], 2, "{:?}", r.body);
    let r = app.get(&path, &bob.token).await;
    assert_eq!(r.body["devices"][0]["signed_prekey"]["public_key"], next_key.public().to_wire());
}

#[tokio::test]
async fn bundle_fetches_are_rate_limited_per_target() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), Some("Alice")).await;
    let bob = app.sign_in(&phone(2), Some("Bob")).await;
    app.befriend(&alice, &bob).await;
    let mut device = TestDevice::new(&alice.user_id);
    assert_eq!(register(&app, &alice, &mut device, 50).await.status, StatusCode::CREATED);
    let path = format!("/api/v1/users/{}/bundles", alice.user_id);
    for _ in 0..hush_shared::limits::BUNDLE_FETCHES_PER_TARGET_PER_HOUR {
        assert_eq!(app.get(&path, &bob.token).await.status, StatusCode::OK);
    }
    let r = app.get(&path, &bob.token).await;
    assert_eq!((r.status, r.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    let left = app.get(&format!("/api/v1/devices/{}/prekeys", device.device_id()), &alice.token).await;
    assert_eq!(left.body["one_time_prekeys"], 30, "a friend drains at most 20 per hour");
}

#[tokio::test]
async fn removing_a_device_ends_its_session_and_deleting_the_account_forgets_everything() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), Some("Alice")).await;
    let mut device = TestDevice::new(&alice.user_id);
    assert_eq!(register(&app, &alice, &mut device, 10).await.status, StatusCode::CREATED);
    app.clock.advance(31);
    let other = app.sign_in(&phone(1), None).await;
    let path = format!("/api/v1/devices/{}", device.device_id());
    let r = app.call(Method::DELETE, &path, Some(&other.token), None).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"), "a mere sign-in cannot remove the device");
    let r = app.call(Method::DELETE, &path, Some(&alice.token), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(app.get("/api/v1/devices", &alice.token).await.code(), "session_revoked");
    let r = app.get("/api/v1/devices", &other.token).await;
    assert_eq!(r.body["devices"], json!([]));
    let r =
        app.call(Method::DELETE, &format!("/api/v1/devices/{}", device.device_id()), Some(&other.token), None).await;
    assert_eq!(r.code(), "device_not_found");

    // With no device left, a new identity may start without `new_identity`.
    let mut fresh = TestDevice::new(&alice.user_id);
    assert_eq!(register(&app, &other, &mut fresh, 10).await.status, StatusCode::CREATED);
    let user: hush_shared::UserId = alice.user_id.parse().unwrap();
    let r = app.call(Method::DELETE, "/api/v1/me", Some(&other.token), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let set = app.state.stores.devices.device_set(user).await.unwrap();
    assert_eq!(set, Default::default(), "the identity and devices are gone");
    let device_id: hush_shared::DeviceId = fresh.device_id().parse().unwrap();
    assert_eq!(app.state.stores.prekeys.count_prekeys(user, device_id).await.unwrap(), 0);
}
