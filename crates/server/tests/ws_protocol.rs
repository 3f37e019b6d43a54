//! The WebSocket protocol's edges over a raw socket: origin check, the auth frame and its
//! timeout, typed errors for bad frames, friends-only messaging, envelopes per device and
//! `devices_changed`, a browser that is not a device getting nothing, retries turning into
//! resend receipts, several tabs, logout closing sockets, the per-account connection cap, a
//! client that stops reading, the windows of messages and receipts in flight.

mod common;

use std::time::Duration;

use common::ws::*;
use common::*;
use futures_util::{SinkExt, StreamExt};
use hush_shared::ws::{DELIVERY_WINDOW, RECEIPT_WINDOW, ServerFrame};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Alice and Bob, friends, each with a registered device; Bob's device id.
async fn friends_with_devices(app: &TestApp) -> (Person, Person, String) {
    let alice = app.sign_in(&phone(1), None).await;
    let bob = app.sign_in(&phone(2), None).await;
    app.befriend(&alice, &bob).await;
    app.with_device(&alice).await;
    let bob_device = app.with_device(&bob).await.device_id();
    (alice, bob, bob_device)
}

#[tokio::test]
async fn foreign_origins_are_refused_and_the_own_origin_accepted() {
    let app = TestApp::spawn_with(&["--public-origin", "https://chat.example.org"]).await;
    let mut request = app.ws_url().into_client_request().unwrap();
    request.headers_mut().insert("origin", "https://evil.example".parse().unwrap());
    let err = tokio_tungstenite::connect_async(request).await.unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");
    let mut request = app.ws_url().into_client_request().unwrap();
    request.headers_mut().insert("origin", "https://chat.example.org".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
}

#[tokio::test]
async fn authentication_is_the_first_frame() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), None).await;

    let mut ws = open(&app).await;
    send(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(next(&mut ws).await.unwrap()["code"], "auth_required");
    assert_eq!(close_code(&mut ws).await, Some(4001));

    let mut ws = open(&app).await;
    send(&mut ws, json!({ "type": "auth", "token": "forged" })).await;
    assert_eq!(next(&mut ws).await.unwrap()["code"], "unauthorized");

    // Silence: closed after the 5-second auth deadline.
    let mut ws = open(&app).await;
    let started = std::time::Instant::now();
    assert_eq!(next(&mut ws).await.unwrap()["code"], "auth_required");
    assert!(started.elapsed() >= Duration::from_secs(4));

    let mut ws = authed(&app, &alice).await;
    send(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(until(&mut ws, "pong").await["type"], "pong");
}

#[tokio::test]
async fn bad_frames_get_typed_errors_and_the_connection_survives() {
    let app = TestApp::spawn().await;
    let (alice, bob, bob_device) = friends_with_devices(&app).await;
    let stranger = app.sign_in(&phone(3), None).await;
    let mut ws = authed(&app, &alice).await;
    until(&mut ws, "caught_up").await;

    ws.send(Message::text("{not json")).await.unwrap();
    assert_eq!(until(&mut ws, "error").await["code"], "invalid_frame");
    ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(until(&mut ws, "error").await["code"], "invalid_frame");
    send(&mut ws, json!({ "type": "auth", "token": alice.token })).await;
    assert_eq!(until(&mut ws, "error").await["code"], "invalid_frame");

    let id = uuid::Uuid::now_v7();
    send(&mut ws, send_frame(id, &bob, &bob_device, "not base64!")).await;
    let e = until(&mut ws, "error").await;
    assert_eq!((e["code"].as_str(), e["id"].as_str()), (Some("invalid_envelope"), Some(id.to_string().as_str())));
    send(&mut ws, send_frame(id, &bob, &bob_device, "AgAAAA")).await;
    assert_eq!(until(&mut ws, "error").await["code"], "invalid_envelope");
    let v1 = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([1u8; 200])
    };
    send(&mut ws, send_frame(id, &bob, &bob_device, &v1)).await;
    assert_eq!(until(&mut ws, "error").await["code"], "invalid_envelope", "crypto v1 is no longer accepted");
    let huge = "A".repeat(50_000);
    send(&mut ws, send_frame(id, &bob, &bob_device, &huge)).await;
    assert_eq!(until(&mut ws, "error").await["code"], "frame_too_large");
    let valid_shape = v2_envelope();
    send(&mut ws, send_frame(id, &stranger, &bob_device, &valid_shape)).await;
    assert_eq!(until(&mut ws, "error").await["code"], "not_friends");
    // Envelopes for devices Bob does not have (or none for the one he has).
    let stale = uuid::Uuid::new_v4().to_string();
    send(&mut ws, send_frame(id, &bob, &stale, &valid_shape)).await;
    let e = until(&mut ws, "error").await;
    assert_eq!((e["code"].as_str(), e["id"].as_str()), (Some("devices_changed"), Some(id.to_string().as_str())));
    assert_eq!(e["devices"]["missing"], json!([bob_device]));
    assert_eq!(e["devices"]["extra"], json!([stale]));
    send(&mut ws, json!({ "type": "typing", "to": stranger.user_id, "active": true })).await;
    assert_eq!(until(&mut ws, "error").await["code"], "not_friends");
    let too_many: Vec<uuid::Uuid> = (0..513).map(|_| uuid::Uuid::now_v7()).collect();
    send(&mut ws, json!({ "type": "ack", "ids": too_many })).await;
    assert_eq!(until(&mut ws, "error").await["code"], "invalid_frame");

    // Still alive, and a well-formed send to a friend's device is stored.
    send(&mut ws, send_frame(id, &bob, &bob_device, &valid_shape)).await;
    assert_eq!(until(&mut ws, "stored").await["id"], id.to_string());

    // A field the frame's type does not have is refused, as in HTTP bodies (also inside an
    // envelope); `ping`, which has none, ignores any.
    let mut misspelt = send_frame(uuid::Uuid::now_v7(), &bob, &bob_device, &valid_shape);
    misspelt["priority"] = json!(1);
    send(&mut ws, misspelt).await;
    assert_eq!(next(&mut ws).await.unwrap()["code"], "invalid_frame");
    let mut misspelt = send_frame(uuid::Uuid::now_v7(), &bob, &bob_device, &valid_shape);
    misspelt["envelopes"][0]["hint"] = json!(1);
    send(&mut ws, misspelt).await;
    assert_eq!(next(&mut ws).await.unwrap()["code"], "invalid_frame");
    send(&mut ws, json!({ "type": "ping", "nonce": "x" })).await;
    assert_eq!(next(&mut ws).await.unwrap()["type"], "pong");
}

/// The bug crypto v2 fixes: a second browser that signs in is not a device of the account,
/// so it receives nothing and cannot ack (delete) anything meant for the device; the
/// device still gets the message. A message the device hands back (`retry`) becomes a
/// `resend` receipt for its sender, and the resend under the same id is stored again.
#[tokio::test]
async fn a_browser_that_is_not_a_device_gets_nothing_and_retries_become_resend_receipts() {
    let app = TestApp::spawn().await;
    let (alice, bob, bob_device) = friends_with_devices(&app).await;
    let mut sender = authed(&app, &alice).await;
    let hello_of = |frame: serde_json::Value| frame["device_id"].clone();
    let id = uuid::Uuid::now_v7();
    send(&mut sender, send_frame(id, &bob, &bob_device, &v2_envelope())).await;
    until(&mut sender, "stored").await;

    app.clock.advance(31);
    let second_browser = app.sign_in(&phone(2), None).await;
    let mut stray = open(&app).await;
    send(&mut stray, json!({ "type": "auth", "token": second_browser.token })).await;
    let hello = next(&mut stray).await.unwrap();
    assert_eq!((hello["type"].as_str(), hello_of(hello.clone())), (Some("hello"), serde_json::Value::Null));
    assert_eq!(until(&mut stray, "caught_up").await["type"], "caught_up", "nothing to catch up on");
    send(&mut stray, json!({ "type": "ack", "ids": [id] })).await;
    assert_eq!(until(&mut stray, "error").await["code"], "no_device");
    send(&mut stray, send_frame(uuid::Uuid::now_v7(), &alice, &bob_device, &v2_envelope())).await;
    assert_eq!(until(&mut stray, "error").await["code"], "no_device");

    let mut device = open(&app).await;
    send(&mut device, json!({ "type": "auth", "token": bob.token })).await;
    let hello = next(&mut device).await.unwrap();
    assert_eq!(hello["device_id"], bob_device.as_str());
    let message = until(&mut device, "message").await;
    assert_eq!(
        (message["id"].as_str(), message["from"].as_str()),
        (Some(id.to_string().as_str()), Some(alice.user_id.as_str()))
    );

    send(&mut device, json!({ "type": "retry", "ids": [id] })).await;
    let receipt = until(&mut sender, "receipt").await;
    assert_eq!(
        (receipt["kind"].as_str(), receipt["message_id"].as_str()),
        (Some("resend"), Some(id.to_string().as_str()))
    );
    send(&mut sender, send_frame(id, &bob, &bob_device, &v2_envelope())).await;
    assert_eq!(until(&mut sender, "stored").await["id"], id.to_string());
    assert_eq!(until(&mut device, "message").await["id"], id.to_string(), "the resend arrives");
}

#[tokio::test]
async fn oversized_messages_close_with_1009() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), None).await;
    let mut ws = authed(&app, &alice).await;
    let _ = ws.send(Message::text("x".repeat(70 * 1024))).await;
    // The server refuses the frame from its header and closes with 1009. A client still
    // writing the rest of the frame may instead see the TCP reset that closing a socket
    // with unread data causes; either way the connection is over and the server fine.
    let outcome = loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("closed within 10 s") {
            Some(Ok(Message::Close(frame))) => break Ok(frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => continue,
            Some(Err(e)) => break Err(e.to_string()),
            None => break Err("ended".into()),
        }
    };
    assert!(matches!(outcome, Ok(Some(1009)) | Err(_)), "{outcome:?}");
    let mut again = authed(&app, &alice).await;
    send(&mut again, json!({ "type": "ping" })).await;
    assert_eq!(until(&mut again, "pong").await["type"], "pong");
}

/// A friend flooding `typing` frames reaches the other side at the per-friend rate only
/// (the rest are dropped), and the connection carries on.
#[tokio::test]
async fn typing_floods_are_cut_to_the_per_friend_rate() {
    let app = TestApp::spawn().await;
    let (alice, bob, bob_device) = friends_with_devices(&app).await;
    let mut receiver = authed(&app, &bob).await;
    until(&mut receiver, "caught_up").await;
    let mut sender = authed(&app, &alice).await;
    until(&mut sender, "caught_up").await;
    for n in 0..300 {
        send(&mut sender, json!({ "type": "typing", "to": bob.user_id, "active": n % 2 == 0 })).await;
    }
    let id = uuid::Uuid::now_v7();
    send(&mut sender, send_frame(id, &bob, &bob_device, &v2_envelope())).await;
    assert_eq!(until(&mut sender, "stored").await["id"], id.to_string(), "the sender's connection carries on");
    let mut typing = 0;
    loop {
        let frame = next(&mut receiver).await.expect("the receiver stays connected");
        match frame["type"].as_str() {
            Some("typing") => typing += 1,
            Some("message") => break,
            _ => {}
        }
    }
    assert!((1..=5).contains(&typing), "{typing} of 300 typing frames forwarded");
}

/// A friend who connects and disconnects in a loop shows as presence each time: connects
/// are limited per account (120 a minute), so the other's connection gets a bounded number
/// of presence frames and carries on; the account connects again a minute later.
#[tokio::test]
async fn connect_loops_are_cut_so_presence_cannot_flood_a_friend() {
    use hush_shared::limits::WS_CONNECTS_PER_ACCOUNT_PER_MINUTE;
    let app = TestApp::spawn().await;
    let (alice, bob, _) = friends_with_devices(&app).await;
    let mut watcher = authed(&app, &bob).await;
    until(&mut watcher, "caught_up").await;
    let mut opened = 0;
    let refusal = loop {
        let mut ws = open(&app).await;
        send(&mut ws, json!({ "type": "auth", "token": alice.token })).await;
        let first = next(&mut ws).await.unwrap();
        if first["type"] == "error" {
            break (first["code"].clone(), close_code(&mut ws).await);
        }
        opened += 1;
        assert!(opened <= WS_CONNECTS_PER_ACCOUNT_PER_MINUTE, "connect {opened} was not refused");
        ws.close(None).await.unwrap();
    };
    assert_eq!(opened, WS_CONNECTS_PER_ACCOUNT_PER_MINUTE);
    assert_eq!(refusal, (json!("rate_limited"), Some(4029)));
    send(&mut watcher, json!({ "type": "ping" })).await;
    let mut presence = 0;
    loop {
        let frame = next(&mut watcher).await.expect("the friend's connection stays open");
        match frame["type"].as_str() {
            Some("presence") => presence += 1,
            Some("pong") => break,
            _ => {}
        }
    }
    assert!(presence <= 2 * opened as usize, "{presence} presence frames");
    app.clock.advance(61);
    authed(&app, &alice).await;
}

#[tokio::test]
async fn every_tab_gets_the_message_and_logout_closes_the_sockets() {
    let app = TestApp::spawn().await;
    let (alice, bob, bob_device) = friends_with_devices(&app).await;
    let mut tab1 = authed(&app, &bob).await;
    let mut tab2 = authed(&app, &bob).await;
    let mut sender = authed(&app, &alice).await;
    let id = uuid::Uuid::now_v7();
    send(&mut sender, send_frame(id, &bob, &bob_device, &v2_envelope())).await;
    for tab in [&mut tab1, &mut tab2] {
        let m = until(tab, "message").await;
        let parsed: ServerFrame = serde_json::from_value(m).unwrap();
        assert!(matches!(parsed, ServerFrame::Message { id: got, .. } if got == id));
    }
    let r = app.call(reqwest::Method::POST, "/api/v1/auth/logout", Some(&bob.token), None).await;
    assert_eq!(r.status, reqwest::StatusCode::NO_CONTENT);
    assert_eq!(close_code(&mut tab1).await, Some(4003));
    assert_eq!(close_code(&mut tab2).await, Some(4003));
}

#[tokio::test]
async fn connections_per_account_are_capped() {
    let app = TestApp::spawn_with(&["--max-connections-per-account", "2"]).await;
    let alice = app.sign_in(&phone(1), None).await;
    let _a = authed(&app, &alice).await;
    let _b = authed(&app, &alice).await;
    let mut c = open(&app).await;
    send(&mut c, json!({ "type": "auth", "token": alice.token })).await;
    assert_eq!(close_code(&mut c).await, Some(4029));
}

#[tokio::test]
async fn friend_events_arrive_live() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), Some("Alice")).await;
    let bob = app.sign_in(&phone(2), Some("Bob")).await;
    let mut bob_ws = authed(&app, &bob).await;
    let mut alice_ws = authed(&app, &alice).await;
    let r = app.post("/api/v1/friends/requests", Some(&alice.token), json!({ "user_id": bob.user_id })).await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let event = until(&mut bob_ws, "friend").await;
    assert_eq!(
        (event["event"].as_str(), event["request"]["display_name"].as_str()),
        (Some("request_received"), Some("Alice"))
    );
    assert_eq!(event["request"]["phone"], alice.phone.as_str());
    let bob_device = app.with_device(&bob).await;
    app.call(reqwest::Method::POST, &format!("/api/v1/friends/requests/{id}/accept"), Some(&bob.token), None).await;
    let event = until(&mut alice_ws, "friend").await;
    assert_eq!(event["event"], "request_accepted");
    assert_eq!(event["friend"]["identity_key"], bob_device.identity_key(), "with Bob's identity");
    // Both are online: each sees the other's presence at once, no reconnect needed.
    let seen = until(&mut alice_ws, "presence").await;
    assert_eq!((seen["user_id"].as_str(), seen["online"].as_bool()), (Some(bob.user_id.as_str()), Some(true)));
    let seen = until(&mut bob_ws, "presence").await;
    assert_eq!((seen["user_id"].as_str(), seen["online"].as_bool()), (Some(alice.user_id.as_str()), Some(true)));
    let mut again = common::devices::TestDevice::new(&bob.user_id);
    let mut body = again.registration(1);
    body["new_identity"] = json!(true);
    app.post("/api/v1/devices", Some(&bob.token), body).await;
    let event = until(&mut alice_ws, "friend").await;
    assert_eq!(
        (event["event"].as_str(), event["identity_key"].as_str()),
        (Some("identity_changed"), Some(again.identity_key().as_str()))
    );
    app.call(reqwest::Method::DELETE, &format!("/api/v1/friends/{}", alice.user_id), Some(&bob.token), None).await;
    let event = until(&mut alice_ws, "friend").await;
    assert_eq!((event["event"].as_str(), event["user_id"].as_str()), (Some("removed"), Some(bob.user_id.as_str())));
}

/// A socket authenticated as `person` whose receive buffer is a few KiB, so a client that
/// stops reading it fills up after a few frames.
async fn authed_with_small_buffer(app: &TestApp, person: &Person) -> Ws {
    let address: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(address).await.unwrap();
    let plain = tokio_tungstenite::MaybeTlsStream::Plain(stream);
    let mut ws = tokio_tungstenite::client_async(app.ws_url(), plain).await.unwrap().0;
    authenticate(&mut ws, &person.token).await;
    ws
}

/// A client that stops reading stalls its own connection only: the server keeps answering
/// the sender (every `stored` and `pong` within 5 s), ends the stalled connection once a
/// write to it has waited 10 s (its friend sees it go offline), and loses nothing: the
/// messages come again on the next connection.
#[tokio::test]
async fn a_client_that_stops_reading_stalls_only_its_own_connection() {
    let app = TestApp::spawn().await;
    let (alice, bob, bob_device) = friends_with_devices(&app).await;
    let stalled = authed_with_small_buffer(&app, &bob).await;
    let mut alice_ws = authed(&app, &alice).await;
    let envelope = v2_envelope_of(hush_crypto::MAX_ENVELOPE_V2_LEN);
    // ~10 MB for Bob, far more than the sockets' buffers hold.
    const MESSAGES: usize = 300;
    let ids: Vec<uuid::Uuid> = (0..MESSAGES).map(|_| uuid::Uuid::now_v7()).collect();
    // No write to Bob can wait before the first send.
    let started = std::time::Instant::now();
    for id in &ids {
        let sent = std::time::Instant::now();
        send(&mut alice_ws, send_frame(*id, &bob, &bob_device, &envelope)).await;
        assert_eq!(until(&mut alice_ws, "stored").await["id"], id.to_string());
        assert!(sent.elapsed() < Duration::from_secs(5), "Alice waited {:?} for `stored`", sent.elapsed());
    }
    let went_offline = loop {
        assert!(started.elapsed() < Duration::from_secs(60), "the stalled connection was never ended");
        let pinged = std::time::Instant::now();
        send(&mut alice_ws, json!({ "type": "ping" })).await;
        let mut offline = false;
        loop {
            let frame = next(&mut alice_ws).await.expect("Alice's connection stays open");
            if frame["type"] == "presence" && frame["user_id"] == bob.user_id && frame["online"] == false {
                offline = true;
            }
            if frame["type"] == "pong" {
                break;
            }
        }
        assert!(pinged.elapsed() < Duration::from_secs(5), "Alice waited {:?} for a pong", pinged.elapsed());
        if offline {
            break started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(went_offline >= Duration::from_secs(10), "ended after {went_offline:?}, before the stall limit");
    drop(stalled);
    let mut bob_ws = authed(&app, &bob).await;
    let mut received = std::collections::HashSet::new();
    while received.len() < MESSAGES {
        let message = until(&mut bob_ws, "message").await;
        let id: uuid::Uuid = message["id"].as_str().unwrap().parse().unwrap();
        send(&mut bob_ws, json!({ "type": "ack", "ids": [id] })).await;
        received.insert(id);
    }
    assert_eq!(received, ids.into_iter().collect());
}

/// Flow control: a connection keeps at most `DELIVERY_WINDOW` messages unacknowledged, but
/// more receipts (`RECEIPT_WINDOW`): a sender still gets every `delivered` receipt of a burst
/// it has not acked yet, as its receipt acks queue behind its own sends.
#[tokio::test]
async fn a_connection_keeps_256_messages_unacked_and_more_receipts() {
    const BURST: usize = DELIVERY_WINDOW + 44;
    const { assert!(RECEIPT_WINDOW >= BURST) };
    let app = TestApp::spawn().await;
    let (alice, bob, bob_device) = friends_with_devices(&app).await;
    let mut sender = authed(&app, &alice).await;
    let ids: Vec<uuid::Uuid> = (0..BURST).map(|_| uuid::Uuid::now_v7()).collect();
    for id in &ids {
        send(&mut sender, send_frame(*id, &bob, &bob_device, &v2_envelope())).await;
    }
    let answers = barrier(&mut sender).await;
    assert_eq!(answers.iter().filter(|f| f["type"] == "stored").count(), BURST);

    let mut device = authed(&app, &bob).await;
    let messages = |frames: &[serde_json::Value]| frames.iter().filter(|f| f["type"] == "message").count();
    assert_eq!(messages(&barrier(&mut device).await), DELIVERY_WINDOW, "a full window, then none");
    assert_eq!(messages(&barrier(&mut device).await), 0, "nothing more until acked");
    send(&mut device, json!({ "type": "ack", "ids": &ids[..DELIVERY_WINDOW] })).await;
    for id in &ids[DELIVERY_WINDOW..] {
        assert_eq!(until(&mut device, "message").await["id"], id.to_string(), "the rest, once acks made room");
    }
    until(&mut device, "caught_up").await;
    send(&mut device, json!({ "type": "ack", "ids": &ids[DELIVERY_WINDOW..] })).await;
    barrier(&mut device).await;

    let mut receipts = Vec::new();
    while receipts.len() < BURST {
        let receipt = until(&mut sender, "receipt").await;
        assert_eq!(receipt["kind"], "delivered");
        receipts.push(receipt["message_id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap());
    }
    assert_eq!(receipts, ids, "every receipt of the burst, in order, none acked yet");
}

/// The server pings every `--ws-ping-secs` (its ping wheel visits each connection once per
/// interval) and closes with 1001 a connection silent for 2.5 intervals; a client that reads
/// answers the pings (tungstenite pongs as it reads) and stays; the server answers its pings.
#[tokio::test]
async fn pings_keep_a_reading_client_and_close_a_silent_one() {
    let app = TestApp::spawn_with(&["--ws-ping-secs", "1"]).await;
    let alice = app.sign_in(&phone(1), None).await;
    let mut reading = authed(&app, &alice).await;
    let mut silent = authed(&app, &alice).await;
    let mut pings = 0;
    let end = tokio::time::Instant::now() + Duration::from_secs(4);
    while let Ok(Some(message)) = tokio::time::timeout_at(end, reading.next()).await {
        match message.expect("the reading client's socket stays open") {
            Message::Ping(_) => pings += 1,
            Message::Close(frame) => panic!("the reading client was closed: {frame:?}"),
            _ => {}
        }
    }
    assert!(pings >= 3, "a ping a second, got {pings} in 4 s");
    assert_eq!(close_code(&mut silent).await, Some(1001), "the silent client is closed as idle");
    // A client's own ping is answered, though handling it writes nothing else.
    reading.send(Message::Ping(b"are you there".to_vec().into())).await.unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(2), reading.next()).await.expect("a pong within 2 s") {
            Some(Ok(Message::Pong(payload))) => break assert_eq!(&payload[..], b"are you there"),
            Some(Ok(Message::Ping(_))) => continue,
            other => panic!("expected a pong, got {other:?}"),
        }
    }
    barrier(&mut reading).await;
}
