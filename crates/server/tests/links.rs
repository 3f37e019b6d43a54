//! Linking a browser over the real server (`docs/PROTOCOL.md` *Linking*): only a browser
//! that is no device opens a link, only a device of the same account joins it, steps come
//! in turn from the right side, the approver's key must match its commitment, nobody else
//! sees the link, it expires, and registering uses a completed link once.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::devices::TestDevice;
use common::*;
use hush_crypto::{KeyPair, link_commitment};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn the_relay_keeps_its_rules() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), Some("Alice")).await;
    let first = app.with_device(&alice).await;
    app.clock.advance(31);
    let laptop = app.sign_in(&phone(1), None).await;
    let mallory = app.sign_in(&phone(9), None).await;
    app.with_device(&mallory).await;

    // A device has nothing to link; a browser that is none opens a link with a code.
    let r = app.post("/api/v1/links", Some(&alice.token), json!({})).await;
    assert_eq!(r.code(), "forbidden");
    let r = app.call(Method::POST, "/api/v1/links", Some(&laptop.token), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let (id, code) = (r.body["link_id"].as_str().unwrap().to_owned(), r.body["code"].as_str().unwrap().to_owned());
    assert_eq!(code.len(), 8);
    let path = format!("/api/v1/links/{id}");

    // Only a device of the same account joins, by the right code; nobody else sees it.
    let join = |code: &str| json!({ "code": code });
    assert_eq!(app.post("/api/v1/links/join", Some(&laptop.token), join(&code)).await.code(), "forbidden");
    assert_eq!(app.post("/api/v1/links/join", Some(&mallory.token), join(&code)).await.code(), "link_not_found");
    assert_eq!(app.post("/api/v1/links/join", Some(&alice.token), join("00000000")).await.code(), "link_not_found");
    assert_eq!(app.get(&path, &mallory.token).await.code(), "link_not_found");
    let spaced = format!("{} {}", &code[..4], &code[4..]);
    let r = app.post("/api/v1/links/join", Some(&alice.token), join(&spaced)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body["code"].is_null(), "the code is the requester's to show");
    assert_eq!(app.post("/api/v1/links/join", Some(&alice.token), join(&code)).await.code(), "link_not_found", "taken");

    // Steps in turn, from the right side; the approver's key must be the committed one.
    let put = |token: String, body: serde_json::Value| {
        let (app, path) = (&app, path.clone());
        async move { app.call(Method::PUT, &path, Some(&token), Some(body)).await }
    };
    let (ea, eb) = (KeyPair::generate(), KeyPair::generate());
    let link_id: uuid::Uuid = id.parse().unwrap();
    let commitment = URL_SAFE_NO_PAD.encode(link_commitment(link_id.as_bytes(), ea.public()));
    let requester_key = json!({ "requester_key": eb.public().to_wire() });
    assert_eq!(put(laptop.token.clone(), requester_key.clone()).await.code(), "link_out_of_order");
    assert_eq!(put(laptop.token.clone(), json!({ "commitment": commitment })).await.code(), "link_out_of_order");
    assert_eq!(put(alice.token.clone(), json!({ "commitment": "short" })).await.code(), "invalid_commitment");
    assert_eq!(put(alice.token.clone(), json!({ "commitment": commitment })).await.status, StatusCode::OK);
    let both = json!({ "requester_key": eb.public().to_wire(), "sealed": "AAAA" });
    assert_eq!(put(laptop.token.clone(), both).await.code(), "invalid_json");
    assert_eq!(put(laptop.token.clone(), json!({ "requester_key": "nope" })).await.code(), "invalid_public_key");
    assert_eq!(put(laptop.token.clone(), requester_key.clone()).await.status, StatusCode::OK);
    assert_eq!(put(laptop.token.clone(), requester_key).await.code(), "link_out_of_order", "once");
    let other = KeyPair::generate().public().to_wire();
    assert_eq!(put(alice.token.clone(), json!({ "approver_key": other })).await.code(), "invalid_commitment");
    assert_eq!(put(alice.token.clone(), json!({ "approver_key": ea.public().to_wire() })).await.status, StatusCode::OK);
    let seen = app.get(&path, &laptop.token).await;
    assert_eq!(seen.body["approver_key"], ea.public().to_wire().as_str());
    assert_eq!(seen.body["approver_name"], "Test browser");

    // Registering needs the link completed: before the sealed step it is refused.
    let mut device = TestDevice::with_identity(&laptop.user_id, first.local.identity.clone());
    let mut body = device.registration(2);
    body["link_id"] = json!(id);
    assert_eq!(app.post("/api/v1/devices", Some(&laptop.token), body.clone()).await.code(), "link_required");
    assert_eq!(put(alice.token.clone(), json!({ "sealed": "c2VhbGVk" })).await.status, StatusCode::OK);
    let r = app.post("/api/v1/devices", Some(&laptop.token), body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(app.get(&path, &laptop.token).await.code(), "link_not_found", "used up");

    // Links expire; either side may cancel.
    app.clock.advance(31);
    let phone_browser = app.sign_in(&phone(1), None).await;
    let r = app.call(Method::POST, "/api/v1/links", Some(&phone_browser.token), None).await;
    let path = format!("/api/v1/links/{}", r.body["link_id"].as_str().unwrap());
    app.clock.advance(601);
    assert_eq!(app.get(&path, &phone_browser.token).await.code(), "link_not_found", "expired");
    let r = app.call(Method::POST, "/api/v1/links", Some(&phone_browser.token), None).await;
    let path = format!("/api/v1/links/{}", r.body["link_id"].as_str().unwrap());
    let r = app.call(Method::DELETE, &path, Some(&phone_browser.token), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&path, &phone_browser.token).await.code(), "link_not_found", "cancelled");
}
