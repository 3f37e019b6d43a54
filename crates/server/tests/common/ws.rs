//! A raw WebSocket client for protocol tests: open, authenticate, send JSON frames, read
//! the next frame or the close code.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::{Person, TestApp};

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn open(app: &TestApp) -> Ws {
    tokio_tungstenite::connect_async(app.ws_url()).await.unwrap().0
}

pub async fn send(ws: &mut Ws, frame: Value) {
    ws.send(Message::text(frame.to_string())).await.unwrap();
}

/// The next server frame (JSON), skipping pings; `None` on close.
pub async fn next(ws: &mut Ws) -> Option<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a frame within 10 s")? {
            Ok(Message::Text(t)) => return Some(serde_json::from_str(&t).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

pub async fn close_code(ws: &mut Ws) -> Option<u16> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("close within 10 s") {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            _ => return None,
        }
    }
}

pub async fn authed(app: &TestApp, person: &Person) -> Ws {
    authed_at(&app.ws_url(), &person.token).await
}

/// A socket to `ws_url` authenticated with `token`, past its `hello`.
pub async fn authed_at(ws_url: &str, token: &str) -> Ws {
    let mut ws = tokio_tungstenite::connect_async(ws_url).await.unwrap().0;
    authenticate(&mut ws, token).await;
    ws
}

/// Sends the `auth` frame with `token` on an open socket and reads its `hello`.
pub async fn authenticate(ws: &mut Ws, token: &str) {
    send(ws, json!({ "type": "auth", "token": token })).await;
    let hello = next(ws).await.unwrap();
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["protocol"], 2);
}

/// Frames until a `pong`, after sending a `ping`: everything sent before is handled.
pub async fn barrier(ws: &mut Ws) -> Vec<Value> {
    send(ws, json!({ "type": "ping" })).await;
    let mut frames = Vec::new();
    loop {
        let frame = next(ws).await.expect("open");
        if frame["type"] == "pong" {
            return frames;
        }
        frames.push(frame);
    }
}

/// Reads frames until one of `kind` arrives.
pub async fn until(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let frame = next(ws).await.unwrap_or_else(|| panic!("closed while waiting for {kind}"));
        if frame["type"] == kind {
            return frame;
        }
    }
}

/// A `send` frame of `envelope` to `to`'s device `device`.
pub fn send_frame(id: uuid::Uuid, to: &Person, device: &str, envelope: &str) -> Value {
    json!({ "type": "send", "id": id, "to": to.user_id, "envelopes": [{ "device": device, "envelope": envelope }] })
}

/// A syntactically valid crypto v2 envelope (the server cannot tell more).
pub fn v2_envelope() -> String {
    v2_envelope_of(hush_crypto::MIN_MESSAGE_LEN)
}

/// A syntactically valid crypto v2 envelope of `len` bytes.
pub fn v2_envelope_of(len: usize) -> String {
    use base64::Engine as _;
    let mut bytes = vec![2u8, 2u8];
    bytes.resize(len, 7);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
