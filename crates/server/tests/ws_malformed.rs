//! Malformed WebSocket traffic written byte by byte on a raw TCP socket (no WebSocket
//! library on the client side, so nothing tidies the frames up): reserved opcodes, bad
//! UTF-8, unmasked frames, reserved bits, oversize headers, broken fragmentation, bad close
//! frames. Each is answered with the close code RFC 6455 names, and the server keeps serving.

mod common;

use std::time::Duration;

use common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Mutex;

const TEXT: u8 = 0x1;
const CONTINUATION: u8 = 0x0;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;

/// A client frame: FIN bit, opcode, masked payload (as RFC 6455 requires of clients).
fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame_with(fin, 0, opcode, payload, true)
}

fn frame_with(fin: bool, rsv: u8, opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n if n <= 0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

struct Raw {
    read: OwnedReadHalf,
    /// Shared, so a task can keep writing while the test reads.
    write: Arc<Mutex<OwnedWriteHalf>>,
    buffer: Vec<u8>,
}

impl Raw {
    /// Opens the socket, upgrades by hand, authenticates as `person` and reads `hello`.
    async fn authed(app: &TestApp, person: &Person) -> Self {
        let address = app.base.trim_start_matches("http://").to_owned();
        let mut tcp = TcpStream::connect(&address).await.unwrap();
        let request = format!(
            "GET /api/v1/ws HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        tcp.write_all(request.as_bytes()).await.unwrap();
        let (read, write) = tcp.into_split();
        let mut raw = Self { read, write: Arc::new(Mutex::new(write)), buffer: Vec::new() };
        let head = raw.read_until_blank_line().await;
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        let auth = format!(r#"{{"type":"auth","token":"{}"}}"#, person.token);
        raw.send(&frame(true, TEXT, auth.as_bytes())).await;
        let (opcode, hello) = raw.next_frame().await.expect("hello");
        assert_eq!(opcode, TEXT);
        assert!(String::from_utf8_lossy(&hello).contains("\"hello\""));
        raw
    }

    async fn read_until_blank_line(&mut self) -> String {
        loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buffer[..end]).into_owned();
                self.buffer.drain(..end + 4);
                return head;
            }
            self.fill().await.expect("response head");
        }
    }

    async fn fill(&mut self) -> Option<()> {
        let mut chunk = [0u8; 4096];
        let r = tokio::time::timeout(Duration::from_secs(10), self.read.read(&mut chunk))
            .await
            .expect("the server answers within 10 s");
        let n = r.ok()?;
        if n == 0 {
            return None;
        }
        self.buffer.extend_from_slice(&chunk[..n]);
        Some(())
    }

    async fn send(&mut self, bytes: &[u8]) {
        // The server may close while we write; the close frame is what the test reads.
        let _ = self.write.lock().await.write_all(bytes).await;
    }

    /// The next server frame (servers do not mask); `None` when the socket ends.
    async fn next_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if self.buffer.len() >= 2 {
                let opcode = self.buffer[0] & 0x0f;
                let (len, header) = match self.buffer[1] & 0x7f {
                    126 if self.buffer.len() >= 4 => (u16::from_be_bytes([self.buffer[2], self.buffer[3]]) as usize, 4),
                    127 if self.buffer.len() >= 10 => {
                        (u64::from_be_bytes(self.buffer[2..10].try_into().unwrap()) as usize, 10)
                    }
                    n if n < 126 => (n as usize, 2),
                    _ => (usize::MAX, 0),
                };
                if len != usize::MAX && self.buffer.len() >= header + len {
                    let payload = self.buffer[header..header + len].to_vec();
                    self.buffer.drain(..header + len);
                    return Some((opcode, payload));
                }
            }
            self.fill().await?;
        }
    }

    /// Reads text frames until one contains `needle`.
    async fn text_containing(&mut self, needle: &str) -> String {
        loop {
            let (opcode, payload) = self.next_frame().await.unwrap_or_else(|| panic!("closed before {needle}"));
            let text = String::from_utf8_lossy(&payload).into_owned();
            if opcode == TEXT && text.contains(needle) {
                return text;
            }
        }
    }

    /// Reads frames until the server's close frame; its status code.
    async fn close_code(&mut self) -> Option<u16> {
        while let Some((opcode, payload)) = self.next_frame().await {
            if opcode == CLOSE {
                return (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
            }
        }
        None
    }

    /// Reads to the end of the TCP stream and waits a moment: true for a clean end (FIN),
    /// false for a reset — which a server closing with unread data sends, also after its
    /// FIN. Reads then still say "end"; the reset shows as a socket no longer connected.
    async fn ends_cleanly(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.read.read(&mut chunk)).await {
                Ok(Ok(0)) => break,
                Ok(Ok(_)) => {}
                Ok(Err(_)) => return false,
                Err(_) => panic!("the server did not end the socket within 10 s"),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let ended = matches!(self.read.read(&mut chunk).await, Ok(0));
        ended && self.read.as_ref().peer_addr().is_ok()
    }
}

/// Sends `bytes` after authenticating and returns the close code the server answers with.
async fn close_code_after(app: &TestApp, person: &Person, bytes: &[u8]) -> Option<u16> {
    let mut raw = Raw::authed(app, person).await;
    raw.send(bytes).await;
    raw.close_code().await
}

#[tokio::test]
async fn protocol_violations_close_with_1002() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), None).await;
    let ping = br#"{"type":"ping"}"#;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("reserved data opcode 0x3", frame(true, 0x3, b"x")),
        ("reserved control opcode 0xB", frame(true, 0xB, b"")),
        ("unmasked client frame", frame_with(true, 0, TEXT, ping, false)),
        ("reserved bit RSV1 without an extension", frame_with(true, 0b100, TEXT, ping, true)),
        ("continuation without a start", frame(true, CONTINUATION, ping)),
        ("new message inside a fragmented one", [frame(false, TEXT, b"{\"ty"), frame(true, TEXT, ping)].concat()),
        ("fragmented control frame", frame(false, PING, b"")),
        ("control frame over 125 bytes", frame(true, PING, &[b'p'; 126])),
        ("close frame with a one-byte body", frame(true, CLOSE, &[3])),
        ("close frame with a reserved code", frame(true, CLOSE, &999u16.to_be_bytes())),
    ];
    for (what, bytes) in cases {
        assert_eq!(close_code_after(&app, &alice, &bytes).await, Some(1002), "{what}");
    }
}

#[tokio::test]
async fn invalid_utf8_closes_with_1007() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), None).await;
    let whole = frame(true, TEXT, b"{\"type\":\"ping\xff\xfe\"}");
    assert_eq!(close_code_after(&app, &alice, &whole).await, Some(1007), "in one frame");
    // A multi-byte character split across fragments is fine; a broken one is not.
    let split =
        [frame(false, TEXT, b"{\"type\":\"ping\",\"x\":\"\xe2\x82"), frame(true, CONTINUATION, b"\xac\"}")].concat();
    let mut raw = Raw::authed(&app, &alice).await;
    raw.send(&split).await;
    raw.text_containing("\"pong\"").await;
    let broken =
        [frame(false, TEXT, b"{\"type\":\"ping\",\"x\":\"\xe2\x82"), frame(true, CONTINUATION, b"\x41\"}")].concat();
    assert_eq!(close_code_after(&app, &alice, &broken).await, Some(1007), "across fragments");
}

#[tokio::test]
async fn oversize_frames_and_messages_close_with_1009() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), None).await;
    // A header announcing a terabyte: refused before any payload is read.
    let mut header = vec![0x80 | TEXT, 0x80 | 127];
    header.extend_from_slice(&(1u64 << 40).to_be_bytes());
    header.extend_from_slice(&[1, 2, 3, 4]);
    assert_eq!(close_code_after(&app, &alice, &header).await, Some(1009), "terabyte header");
    // Fragments each under the cap whose sum exceeds it.
    let piece = vec![b' '; 40 * 1024];
    let fragments = [frame(false, TEXT, &piece), frame(true, CONTINUATION, &piece)].concat();
    assert_eq!(close_code_after(&app, &alice, &fragments).await, Some(1009), "fragments over 64 KiB");
}

#[tokio::test]
async fn the_server_keeps_serving_after_malformed_traffic() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), None).await;
    for opcode in [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        let _ = close_code_after(&app, &alice, &frame(true, opcode, b"junk")).await;
    }
    let mut raw = Raw::authed(&app, &alice).await;
    raw.send(&frame(true, TEXT, br#"{"type":"ping"}"#)).await;
    raw.text_containing("\"pong\"").await;
    // A clean close is answered with a clean close.
    raw.send(&frame(true, CLOSE, &1000u16.to_be_bytes())).await;
    assert_eq!(raw.close_code().await, Some(1000));
    let health = app.http.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

/// A client that floods gets the documented close 1008 and then a clean end of the TCP
/// stream — not a reset, which most clients report as 1006, often without the close frame.
/// The client floods until it has read the close frame, as a real one would. Repeated,
/// because whether frames are left unread when the server's socket closes is a race.
#[tokio::test]
async fn floods_end_with_1008_and_a_clean_close_every_time() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), None).await;
    let burst: Vec<u8> = (0..500).flat_map(|_| frame(true, TEXT, br#"{"type":"ping"}"#)).collect();
    for attempt in 0..20 {
        let mut raw = Raw::authed(&app, &alice).await;
        let closed = Arc::new(AtomicBool::new(false));
        let flood = tokio::spawn({
            let (write, closed, burst) = (raw.write.clone(), closed.clone(), burst.clone());
            async move {
                while !closed.load(Ordering::Relaxed) {
                    if write.lock().await.write_all(&burst).await.is_err() {
                        return false;
                    }
                    tokio::task::yield_now().await;
                }
                true
            }
        });
        let code = raw.close_code().await;
        closed.store(true, Ordering::Relaxed);
        let wrote_until_the_close = flood.await.unwrap();
        assert_eq!(code, Some(1008), "attempt {attempt}");
        assert!(wrote_until_the_close, "attempt {attempt}: the server reset the socket while the client still wrote");
        raw.send(&frame(true, CLOSE, &1008u16.to_be_bytes())).await;
        assert!(raw.ends_cleanly().await, "attempt {attempt}: the socket was reset after the close frame");
    }
}

/// A client's close frame is always answered with the server's, also right after pings
/// (JSON and WebSocket ones) the server is still answering. Repeated: it was a race.
#[tokio::test]
async fn a_close_after_pings_is_echoed_every_time() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), None).await;
    let ping = br#"{"type":"ping"}"#;
    let burst = [
        frame(true, TEXT, ping),
        frame(true, PING, b"p"),
        frame(true, TEXT, ping),
        frame(true, PING, b"q"),
        frame(true, CLOSE, &1000u16.to_be_bytes()),
    ]
    .concat();
    for attempt in 0..40 {
        let mut raw = Raw::authed(&app, &alice).await;
        raw.send(&burst).await;
        assert_eq!(raw.close_code().await, Some(1000), "attempt {attempt}: no close frame came back");
        assert!(raw.ends_cleanly().await, "attempt {attempt}: the socket was reset");
    }
}
