//! Raw protocol clients for load: a WebSocket from a chosen 127.0.0.x source address (so
//! many connections fit past one address's ephemeral ports), frames in and out, and a
//! v2-shaped envelope of about 300 bytes (the server checks shape only; it cannot decrypt).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::{SinkExt, StreamExt};
use hush_shared::ws::{ClientFrame, DeviceEnvelope, MessageId, ServerFrame};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// A client socket.
pub type Ws = WebSocketStream<TcpStream>;

/// The n-th loopback source address, 127.0.1.1 onwards (253 per /24).
pub fn source_ip(n: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 1 + (n / 253) as u8, 1 + (n % 253) as u8))
}

/// Connects from `source`, authenticates with `token` and waits for `hello`.
pub async fn connect(ws_url: &str, token: &str, source: IpAddr) -> Result<Ws, String> {
    let port: u16 =
        ws_url.rsplit(':').next().and_then(|p| p.split('/').next()).and_then(|p| p.parse().ok()).ok_or("bad url")?;
    let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket.bind(SocketAddr::new(source, 0)).map_err(|e| e.to_string())?;
    let stream = socket.connect(SocketAddr::from(([127, 0, 0, 1], port))).await.map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let (mut ws, _) = tokio_tungstenite::client_async(ws_url, stream).await.map_err(|e| e.to_string())?;
    send(&mut ws, &ClientFrame::Auth { token: token.to_owned() }).await?;
    loop {
        match next(&mut ws).await {
            Some(ServerFrame::Hello { .. }) => return Ok(ws),
            Some(ServerFrame::Error { code, message, .. }) => return Err(format!("{code}: {message}")),
            Some(_) => continue,
            None => return Err("closed before hello".into()),
        }
    }
}

/// Sends one frame.
pub async fn send<S>(sink: &mut S, frame: &ClientFrame) -> Result<(), String>
where
    S: futures_util::Sink<Message> + Unpin,
    S::Error: std::fmt::Display,
{
    let text = serde_json::to_string(frame).map_err(|e| e.to_string())?;
    sink.send(Message::text(text)).await.map_err(|e| e.to_string())
}

/// The next server frame, skipping control frames; `None` when closed.
pub async fn next<S>(stream: &mut S) -> Option<ServerFrame>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match stream.next().await? {
            Ok(Message::Text(text)) => return serde_json::from_str(&text).ok(),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// A crypto-v2-shaped message envelope of 301 bytes — the size the benchmarks have always
/// used, so figures compare across crypto versions (a real one for a 300-byte message is
/// 411 bytes).
pub fn envelope_bytes() -> Vec<u8> {
    let mut bytes = vec![hush_crypto::VERSION_2, hush_crypto::KIND_MESSAGE];
    bytes.extend((0..299).map(|i| (i * 7) as u8));
    bytes
}

/// A `send` of `envelope` to `to`'s one device.
pub fn send_frame(id: MessageId, to: &crate::setup::Person, envelope: &str) -> ClientFrame {
    ClientFrame::Send {
        id,
        to: to.id,
        envelopes: vec![DeviceEnvelope { device: to.device, envelope: envelope.to_owned() }],
        own: vec![],
    }
}

/// [`envelope_bytes`] as base64url, as a `send` frame carries it.
pub fn envelope() -> String {
    URL_SAFE_NO_PAD.encode(envelope_bytes())
}
