//! `xmpp-trickle`: the `trickle` workload against an XMPP server over WebSocket (RFC 7395),
//! for the side-by-side comparison with ejabberd (`scripts/peer/`). Users `u0…` with
//! password `pw` must exist; pair i is `u(2i)` → `u(2i+1)`. Each sender has one chat
//! message in flight (or `in_flight`, as `trickle --in-flight` does): the next goes once
//! its partner received the last. The server's CPU (its process id, from /proc) is counted
//! over the same measured stretch as Hush's. The XMPP server only relays (no storage, no
//! receipts): what Hush does on top — store before answering, a `delivered` receipt back —
//! is the price of never losing a message.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{Measured, Spent, hundredths, measure_cpu, micros_each, per_second};
use crate::cpu;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const DOMAIN: &str = "localhost";
/// Body bytes per chat message (Hush's envelope in `trickle` is 301 bytes).
const BODY_BYTES: usize = 300;

/// Runs the scenario against the server at `url` whose process is `pid`.
pub async fn run(url: &str, pid: u32, (pairs, in_flight): (usize, usize), seconds: u64) -> serde_json::Value {
    let relayed = Arc::new(AtomicU64::new(0));
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    for pair in 0..pairs {
        let mut sender = login(url, &format!("u{}", 2 * pair)).await.expect("sender signs in");
        let mut receiver = login(url, &format!("u{}", 2 * pair + 1)).await.expect("receiver signs in");
        let window = Arc::new(Semaphore::new(in_flight));
        let (received, relayed, counting) = (window.clone(), relayed.clone(), counting.clone());
        tokio::spawn(async move {
            while let Some(Ok(frame)) = receiver.next().await {
                if frame.to_text().is_ok_and(|t| t.starts_with("<message")) {
                    if counting.load(Ordering::Relaxed) {
                        relayed.fetch_add(1, Ordering::Relaxed);
                    }
                    received.add_permits(1);
                }
            }
        });
        let (stop, to) = (stop.clone(), format!("u{}@{DOMAIN}", 2 * pair + 1));
        let body = "x".repeat(BODY_BYTES);
        tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let Ok(permit) = window.acquire().await else { return };
                permit.forget();
                n += 1;
                let stanza = format!("<message to='{to}' type='chat' id='m{n}'><body>{body}</body></message>");
                if sender.send(Message::text(stanza)).await.is_err() {
                    return;
                }
            }
        });
    }
    let server_cpu = || Spent { cpu: cpu::process_seconds(&pid.to_string()), store_cpu: None, store_commands: None };
    let Measured { cpu, wall, .. } = measure_cpu(server_cpu, &counting, &stop, seconds).await;
    let n = relayed.load(Ordering::Relaxed);
    json!({
        "scenario": "xmpp-trickle", "pairs": pairs, "in_flight": in_flight, "seconds": seconds, "relayed": n,
        "relayed_per_wall_second": per_second(n, wall), "server_cpu_seconds": hundredths(cpu),
        "relayed_per_server_cpu_second": per_second(n, cpu), "server_cpu_us_per_message": micros_each(cpu, n),
    })
}

/// Opens an XMPP session for `user`: stream, SASL PLAIN, resource binding, presence.
async fn login(url: &str, user: &str) -> Result<Socket, String> {
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    request.headers_mut().insert("Sec-WebSocket-Protocol", "xmpp".parse().map_err(|_| "header")?);
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.map_err(|e| e.to_string())?;
    let open = format!("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='{DOMAIN}' version='1.0'/>");
    let plain = STANDARD.encode(format!("\0{user}\0pw"));
    let steps = [
        (open.clone(), "features"),
        (format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>"), "<success"),
        (open, "features"),
        ("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>".into(), "bind1"),
        ("<iq type='set' id='sess1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>".into(), "sess1"),
    ];
    for (stanza, answer) in steps {
        ws.send(Message::text(stanza)).await.map_err(|e| e.to_string())?;
        expect(&mut ws, answer, user).await?;
    }
    ws.send(Message::text("<presence/>")).await.map_err(|e| e.to_string())?;
    Ok(ws)
}

/// Reads until a frame containing `answer`; an error or failure frame ends the login.
async fn expect(ws: &mut Socket, answer: &str, user: &str) -> Result<(), String> {
    while let Some(frame) = ws.next().await {
        let frame = frame.map_err(|e| e.to_string())?;
        let text = frame.to_text().unwrap_or_default();
        if text.contains(answer) {
            return Ok(());
        }
        if text.contains("<failure") || text.contains("type='error'") || text.contains("type=\"error\"") {
            return Err(format!("{user}: {}", text.chars().take(200).collect::<String>()));
        }
    }
    Err(format!("{user}: closed while waiting for {answer}"))
}
