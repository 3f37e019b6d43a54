//! A native runner for the engine over tokio-tungstenite (the socket) and reqwest (the REST
//! calls), for tests, benchmarks and tools. It owns the socket and the clock; the engine
//! owns the rules.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use hush_shared::UserId;
use hush_shared::ws::{ClientFrame, MessageId, ServerFrame};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use async_trait::async_trait;

use crate::api::{ApiError, Http, unreachable};
use crate::device::{DeviceError, Setup};
use crate::engine::{Engine, Event, coalesce};
use crate::held_acks::HeldReceiptAcks;
use crate::link::{HelloOutcome, Link};
use crate::model::ChatMessage;
use crate::store::{ClientStore, StoreError};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why the runner stopped.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    /// Could not open the socket.
    #[error("connect: {0}")]
    Connect(String),
    /// The server refused the connection (auth) or closed it.
    #[error("closed: {0}")]
    Closed(String),
    /// Not connected.
    #[error("not connected")]
    NotConnected,
    /// This device was removed from the account.
    #[error("this device was removed from the account")]
    Removed,
    /// Storage.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// This browser could not be set up as a device.
    #[error("device set-up: {0}")]
    Setup(#[from] DeviceError),
    /// The account is in use on another device under another identity.
    #[error("the account is in use on another device")]
    InUseElsewhere,
}

/// The REST API over reqwest, as one signed-in session.
pub struct NativeHttp {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl NativeHttp {
    /// Calls `base` (e.g. `http://127.0.0.1:8080`) with the access token `token`.
    pub fn new(base: &str, token: &str) -> Self {
        Self { client: reqwest::Client::new(), base: base.trim_end_matches('/').to_owned(), token: token.to_owned() }
    }

    /// Replaces the access token (after a refresh or a new sign-in).
    pub fn set_token(&mut self, token: &str) {
        token.clone_into(&mut self.token);
    }

    /// Points at the server whose WebSocket is `ws_url` (`ws://host:port/api/v1/ws`).
    pub fn follow(&mut self, ws_url: &str) {
        let http = ws_url.replacen("wss://", "https://", 1).replacen("ws://", "http://", 1);
        self.base = http.trim_end_matches("/api/v1/ws").to_owned();
    }
}

#[async_trait(?Send)]
impl Http for NativeHttp {
    fn access_token(&self) -> Option<String> {
        Some(self.token.clone())
    }

    async fn call(&self, method: &str, path: &str, body: Option<String>) -> Result<String, ApiError> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| unreachable(e.to_string()))?;
        let mut request = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
        }
        let response = request.send().await.map_err(|e| unreachable(e.to_string()))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| unreachable(e.to_string()))?;
        if status.is_success() {
            Ok(text)
        } else {
            Err(serde_json::from_str(&text).unwrap_or_else(|_| unreachable(format!("HTTP {status}"))))
        }
    }
}

/// Unix milliseconds from the system clock.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Milliseconds on a monotonic clock, for the receipt-ack hold (a wall clock may step back).
fn monotonic_ms() -> i64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as i64
}

/// A client: the engine plus a socket.
pub struct NativeClient<S: ClientStore> {
    /// The engine (and through it the store).
    pub engine: Engine<S, NativeHttp>,
    socket: Option<Socket>,
    /// Receipt acks waiting for the next write (`held_acks`).
    held_acks: HeldReceiptAcks,
    /// Every event so far, for callers that inspect history.
    pub events: Vec<Event>,
}

impl<S: ClientStore> NativeClient<S> {
    /// A disconnected client for `me` over `store`, reaching the server at `base` (e.g.
    /// `http://127.0.0.1:8080`) as the session of access token `token`.
    pub fn new(me: UserId, store: S, base: &str, token: &str) -> Self {
        Self {
            engine: Engine::new(me, store, NativeHttp::new(base, token)),
            socket: None,
            held_acks: HeldReceiptAcks::default(),
            events: Vec::new(),
        }
    }

    /// Sets this client up as a device of the account (done by [`Self::connect`] when
    /// needed); `new_identity` starts again under a new identity.
    pub async fn set_up(&mut self, new_identity: bool) -> Result<(), NativeError> {
        match self.engine.set_up(Some("native client"), new_identity, now_ms() / 1000).await? {
            Setup::Ready(_) => Ok(()),
            Setup::InUseElsewhere => Err(NativeError::InUseElsewhere),
            Setup::Removed => Err(NativeError::Removed),
        }
    }

    /// Whether the socket is up.
    pub fn is_connected(&self) -> bool {
        self.socket.is_some()
    }

    /// Connects to `ws_url` (e.g. `ws://127.0.0.1:8080/api/v1/ws`): sets the device up if
    /// it is not yet, authenticates, waits for `hello` and sends the outbox.
    pub async fn connect(&mut self, ws_url: &str, token: &str) -> Result<(), NativeError> {
        self.engine.http_mut().set_token(token);
        self.engine.http_mut().follow(ws_url);
        self.set_up(false).await?;
        let (mut socket, _) =
            tokio_tungstenite::connect_async(ws_url).await.map_err(|e| NativeError::Connect(e.to_string()))?;
        let mut link = Link::default();
        link.connecting();
        let auth = serde_json::to_string(&link.opened(token.to_owned())).unwrap_or_default();
        socket.send(Message::text(auth)).await.map_err(|e| NativeError::Connect(e.to_string()))?;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => match serde_json::from_str::<ServerFrame>(&text) {
                    Ok(ServerFrame::Hello { device_id, .. }) => match link.hello(device_id, self.engine.device_id()) {
                        HelloOutcome::Ready => break,
                        HelloOutcome::NotThisDevice => {
                            return Err(NativeError::Closed("the server does not know this device".into()));
                        }
                    },
                    Ok(ServerFrame::Error { code, message, .. }) => {
                        return Err(NativeError::Closed(format!("{code}: {message}")));
                    }
                    _ => return Err(NativeError::Closed(format!("unexpected first frame: {text}"))),
                },
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(e))) => return Err(NativeError::Connect(e.to_string())),
                Ok(None) => return Err(NativeError::Closed("closed before hello".into())),
                Err(_) => return Err(NativeError::Connect("no hello within 10 s".into())),
            }
        }
        self.socket = Some(socket);
        // Acks held for the last socket count only there.
        self.held_acks.clear();
        let (frames, events) = self.engine.on_connected(now_ms()).await?;
        self.events.extend(events);
        self.write(frames).await
    }

    /// Drops the socket (as a lost connection would).
    pub fn disconnect(&mut self) {
        self.socket = None;
        self.engine.on_disconnected();
    }

    /// Writes `frames`, receipt acks held for the next write or until due (`held_acks`).
    async fn write(&mut self, frames: Vec<ClientFrame>) -> Result<(), NativeError> {
        let frames = self.held_acks.outgoing(frames, monotonic_ms());
        self.write_now(frames).await
    }

    /// Writes the receipt acks held: before [`Self::run_until`] hands the client back, as
    /// its caller may drop the socket next.
    async fn flush_held_acks(&mut self) -> Result<(), NativeError> {
        let frames = self.held_acks.take();
        self.write_now(frames).await
    }

    async fn write_now(&mut self, frames: Vec<ClientFrame>) -> Result<(), NativeError> {
        let Some(socket) = self.socket.as_mut() else {
            return Ok(());
        };
        if let Err(e) = write_frames(socket, frames).await {
            self.disconnect();
            return Err(NativeError::Closed(e.to_string()));
        }
        Ok(())
    }

    /// Writes a message (stored locally first, sent if connected).
    pub async fn send_text(&mut self, to: UserId, text: &str) -> Result<ChatMessage, NativeError> {
        let (message, frames) = self.engine.compose(to, text, now_ms()).await?;
        self.write(frames).await?;
        Ok(message)
    }

    /// Reports that I read the conversation with `peer`.
    pub async fn mark_read(&mut self, peer: UserId) -> Result<(), NativeError> {
        let frames = self.engine.mark_read(peer).await?;
        self.write(frames).await
    }

    /// Sends a raw frame (typing, ping).
    pub async fn send_frame(&mut self, frame: ClientFrame) -> Result<(), NativeError> {
        self.write(vec![frame]).await
    }

    /// Processes frames until `done` holds or `limit` passes. Returns whether `done` held.
    /// A lost connection ends with [`NativeError::Closed`]; the store keeps everything. The
    /// receipt acks held meanwhile are written before it returns.
    pub async fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&Self) -> bool,
    ) -> Result<bool, NativeError> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if done(self) {
                self.flush_held_acks().await?;
                return Ok(true);
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                self.flush_held_acks().await?;
                return Ok(false);
            }
            let mut wait = deadline - now;
            if let Some(due) = self.engine.next_retry_ms() {
                wait = wait.min(Duration::from_millis((due - now_ms()).max(0) as u64));
            }
            if let Some(due) = self.held_acks.due_at() {
                wait = wait.min(Duration::from_millis((due - monotonic_ms()).max(0) as u64));
            }
            let Some(socket) = self.socket.as_mut() else {
                return Err(NativeError::NotConnected);
            };
            let mut frames = Vec::new();
            match tokio::time::timeout(wait, socket.next()).await {
                Err(_) => {}
                Ok(None) => {
                    self.disconnect();
                    return Err(NativeError::Closed("connection closed".into()));
                }
                Ok(Some(Err(e))) => {
                    self.disconnect();
                    return Err(NativeError::Closed(e.to_string()));
                }
                Ok(Some(Ok(Message::Text(text)))) => frames.push(text.to_string()),
                Ok(Some(Ok(Message::Close(reason)))) => {
                    self.disconnect();
                    return Err(NativeError::Closed(format!("{reason:?}")));
                }
                Ok(Some(Ok(_))) => {}
            }
            // Drain whatever else is already buffered, to answer with one coalesced write.
            if let Some(socket) = self.socket.as_mut() {
                while frames.len() < 512 {
                    match futures_util::FutureExt::now_or_never(socket.next()) {
                        Some(Some(Ok(Message::Text(text)))) => frames.push(text.to_string()),
                        Some(Some(Ok(_))) => {}
                        _ => break,
                    }
                }
            }
            let mut out = Vec::new();
            for text in frames {
                match serde_json::from_str::<ServerFrame>(&text) {
                    Ok(frame) => {
                        let (frames, events) = self.engine.handle(frame, now_ms()).await?;
                        out.extend(frames);
                        self.events.extend(events);
                    }
                    Err(e) => self.events.push(Event::ServerError {
                        code: hush_shared::ErrorCode::InvalidFrame,
                        message: e.to_string(),
                    }),
                }
            }
            out.extend(self.engine.due(now_ms()).await?);
            self.write(out).await?;
        }
    }

    /// The status of one of my messages.
    pub async fn message(&self, id: MessageId) -> Result<Option<ChatMessage>, NativeError> {
        Ok(self.engine.store().message(id).await?)
    }
}

/// Writes `frames` to `sink` as JSON text messages — acks merged ([`coalesce`]) — and
/// flushes once, so they leave together: the native runner's socket and `hush-bench`'s.
pub async fn write_frames<S>(sink: &mut S, frames: Vec<ClientFrame>) -> Result<(), S::Error>
where
    S: futures_util::Sink<Message> + Unpin,
{
    if frames.is_empty() {
        return Ok(());
    }
    for frame in coalesce(frames) {
        sink.feed(Message::text(serde_json::to_string(&frame).unwrap_or_default())).await?;
    }
    sink.flush().await
}
