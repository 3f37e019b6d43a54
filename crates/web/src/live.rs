//! The live connection: one actor task owns the client engine and the browser WebSocket,
//! so engine calls never interleave. UI actions and socket events are commands on its
//! queue; after each, the actor refreshes the signals the views read.
//!
//! Before connecting, the actor sets this browser up as a device of the account (keys made
//! and registered by the engine); if the account is in use on another browser it stops and
//! says so, until the person chooses to start again here. The socket authenticates with a
//! freshly refreshed access token, reconnects with backoff (1 s doubling to 15 s) and
//! reports its state for the banner.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use futures::StreamExt;
use futures::channel::{mpsc, oneshot};
use hush_client::api::{ApiError, Http};
use hush_client::device::Setup;
use hush_client::engine::{Engine, Event};
use hush_client::model::ChatMessage;
use hush_shared::ws::{ClientFrame, MessageId, ServerFrame};
use hush_shared::{ErrorCode, UserId};
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use crate::idb::IdbStore;
use crate::tab_lock::TabLock;

/// What the connection banner shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// No connection; retrying.
    Offline,
    /// Opening the socket.
    Connecting,
    /// Connected, receiving what arrived while away.
    CatchingUp,
    /// Up to date.
    Online,
}

/// Where setting this browser up as a device stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceState {
    /// Making or checking keys.
    SettingUp,
    /// This browser is a device of the account.
    Ready,
    /// The account is in use on another browser; this one can only start again.
    InUseElsewhere,
    /// Another tab of this browser runs Hush; this one takes over when it closes.
    OtherTab,
    /// Setting up failed (shown; retried on the next start).
    Failed(String),
}

/// Signals the actor keeps current.
#[derive(Clone, Copy)]
pub struct LiveSignals {
    /// Every message, sorted by id.
    pub messages: RwSignal<Vec<ChatMessage>>,
    /// Connection state.
    pub conn: RwSignal<ConnState>,
    /// Friends' presence: online, last seen.
    pub presence: RwSignal<HashMap<UserId, (bool, Option<i64>)>>,
    /// Friends typing to me right now.
    pub typing: RwSignal<HashSet<UserId>>,
    /// Bumped when friends or requests changed on the server.
    pub social_version: RwSignal<u64>,
    /// Bumped when a friend's identity or verification changed.
    pub keys_version: RwSignal<u64>,
    /// This browser as a device of the account.
    pub device: RwSignal<DeviceState>,
}

/// Commands for the actor.
pub enum Cmd {
    /// Write a message.
    Compose {
        peer: UserId,
        text: String,
    },
    /// Retry a failed message.
    Retry(MessageId),
    /// I read this conversation.
    MarkRead(UserId),
    /// I am typing to a friend.
    Typing(UserId, bool),
    /// A friend and their identity, from the server's list.
    AddFriend {
        user: UserId,
        name: Option<String>,
        identity_key: Option<String>,
        done: Option<oneshot::Sender<()>>,
    },
    /// Mark a friend verified (or not).
    Verify(UserId, bool),
    /// The person saw a friend's new identity and goes on: held messages are sent.
    ConfirmIdentity(UserId),
    /// Start again on this browser: a new identity replaces the account's.
    StartAgain,
    /// Socket events.
    Opened,
    Frame(ServerFrame),
    Closed,
    /// Timers: retries and reconnects.
    Tick,
    /// Sign-out: close the socket and stop.
    Stop,
}

/// Handle to the actor.
#[derive(Clone)]
pub struct Live {
    tx: mpsc::UnboundedSender<Cmd>,
}

impl Live {
    /// Sends a command (ignored after stop).
    pub fn send(&self, cmd: Cmd) {
        let _ = self.tx.unbounded_send(cmd);
    }

    /// Records a friend and waits until it is stored.
    pub async fn add_friend(&self, user: UserId, name: Option<String>, identity_key: Option<String>) {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::AddFriend { user, name, identity_key, done: Some(tx) });
        let _ = rx.await;
    }
}

fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// Waits `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

fn ws_url() -> String {
    let location = web_sys::window().map(|w| w.location());
    let (protocol, host) =
        location.map(|l| (l.protocol().unwrap_or_default(), l.host().unwrap_or_default())).unwrap_or_default();
    let scheme = if protocol == "https:" { "wss" } else { "ws" };
    format!("{scheme}://{host}/api/v1/ws")
}

/// The REST API for the engine: `fetch` with the session's access token, refreshed once
/// when it has expired.
pub struct WebHttp {
    token: RwSignal<Option<String>>,
}

#[async_trait(?Send)]
impl Http for WebHttp {
    fn access_token(&self) -> Option<String> {
        self.token.get_untracked()
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, ApiError> {
        let first = crate::api::call(method, path, self.token.get_untracked().as_deref(), body.as_ref()).await;
        match first {
            Err(e) if e.code == ErrorCode::TokenExpired => {
                let token = crate::session::refresh_token().await?;
                self.token.set(Some(token.clone()));
                crate::api::call(method, path, Some(&token), body.as_ref()).await
            }
            other => other,
        }
    }
}

/// A name for this browser in the device list.
fn device_name() -> String {
    let agent = web_sys::window().and_then(|w| w.navigator().user_agent().ok()).unwrap_or_default();
    let browser = ["Edg/", "Firefox/", "Chrome/", "Safari/"].iter().find(|b| agent.contains(*b)).map_or(
        "Browser",
        |b| match *b {
            "Edg/" => "Edge",
            "Firefox/" => "Firefox",
            "Chrome/" => "Chrome",
            _ => "Safari",
        },
    );
    let system = ["Android", "iPhone", "iPad", "Windows", "Mac OS", "Linux"]
        .iter()
        .find(|s| agent.contains(*s))
        .map_or("", |s| if *s == "Mac OS" { "macOS" } else { s });
    if system.is_empty() { browser.to_owned() } else { format!("{browser} on {system}") }
}

struct Actor {
    engine: Engine<IdbStore, WebHttp>,
    ws: Option<WebSocket>,
    tx: mpsc::UnboundedSender<Cmd>,
    signals: LiveSignals,
    token: RwSignal<Option<String>>,
    backoff_ms: i32,
    reconnect_at: Option<i64>,
    typing_until: HashMap<UserId, i64>,
}

/// Starts the actor for a signed-in person.
pub fn start(me: UserId, store: IdbStore, signals: LiveSignals, token: RwSignal<Option<String>>) -> Live {
    let (tx, mut rx) = mpsc::unbounded::<Cmd>();
    let live = Live { tx: tx.clone() };
    let mut actor = Actor {
        engine: Engine::new(me, store, WebHttp { token }),
        ws: None,
        tx: tx.clone(),
        signals,
        token,
        backoff_ms: 1000,
        reconnect_at: None,
        typing_until: HashMap::new(),
    };
    leptos::task::spawn_local(async move {
        let acquired = std::rc::Rc::new(std::cell::Cell::new(false));
        let flag = acquired.clone();
        leptos::task::spawn_local(async move {
            sleep(300).await;
            if !flag.get() {
                signals.device.set(DeviceState::OtherTab);
            }
        });
        let lock = TabLock::acquire(&format!("hush-engine-{me}")).await;
        acquired.set(true);
        actor.reload().await;
        if actor.set_up(false).await {
            actor.connect().await;
        }
        while let Some(cmd) = rx.next().await {
            if matches!(cmd, Cmd::Stop) {
                actor.close();
                break;
            }
            actor.on(cmd).await;
        }
        lock.release();
    });
    let ticker = tx;
    leptos::task::spawn_local(async move {
        loop {
            sleep(1000).await;
            if ticker.unbounded_send(Cmd::Tick).is_err() {
                break;
            }
        }
    });
    live
}

impl Actor {
    async fn reload(&mut self) {
        if let Ok(all) = self.engine.store().all_messages().await {
            self.signals.messages.set(all);
        }
    }

    /// Sets this browser up as a device; `true` when it is one.
    async fn set_up(&mut self, new_identity: bool) -> bool {
        self.signals.device.set(DeviceState::SettingUp);
        let now = now_ms() / 1000;
        let state = match self.engine.set_up(Some(&device_name()), new_identity, now).await {
            Ok(Setup::Ready(_)) => DeviceState::Ready,
            Ok(Setup::InUseElsewhere) => DeviceState::InUseElsewhere,
            Err(e) => DeviceState::Failed(e.to_string()),
        };
        let ready = state == DeviceState::Ready;
        if !ready {
            self.signals.conn.set(ConnState::Offline);
        }
        self.signals.device.set(state);
        self.signals.keys_version.update(|v| *v += 1);
        ready
    }

    fn write(&mut self, frames: Vec<ClientFrame>) {
        let Some(ws) = &self.ws else { return };
        for frame in hush_client::engine::coalesce(frames) {
            if let Ok(text) = serde_json::to_string(&frame) {
                let _ = ws.send_with_str(&text);
            }
        }
    }

    fn close(&mut self) {
        if let Some(ws) = self.ws.take() {
            ws.set_onmessage(None);
            ws.set_onclose(None);
            ws.set_onopen(None);
            let _ = ws.close();
        }
        self.engine.on_disconnected();
    }

    async fn connect(&mut self) {
        self.close();
        self.signals.conn.set(ConnState::Connecting);
        // A fresh access token for every connection: the old one may have expired.
        if let Ok(fresh) = crate::session::refresh_token().await {
            self.token.set(Some(fresh));
        }
        let Ok(ws) = WebSocket::new(&ws_url()) else {
            self.schedule_reconnect();
            return;
        };
        let tx = self.tx.clone();
        let onopen = Closure::<dyn FnMut()>::new(move || {
            let _ = tx.unbounded_send(Cmd::Opened);
        });
        let tx = self.tx.clone();
        let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if let Some(text) = e.data().as_string()
                && let Ok(frame) = serde_json::from_str::<ServerFrame>(&text)
            {
                let _ = tx.unbounded_send(Cmd::Frame(frame));
            }
        });
        let tx = self.tx.clone();
        let onclose = Closure::<dyn FnMut(CloseEvent)>::new(move |_e: CloseEvent| {
            let _ = tx.unbounded_send(Cmd::Closed);
        });
        ws.set_onopen(Some(onopen.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        ws.set_onclose(Some(onclose.as_ref().unchecked_ref()));
        onopen.forget();
        onmessage.forget();
        onclose.forget();
        self.ws = Some(ws);
    }

    fn schedule_reconnect(&mut self) {
        self.signals.conn.set(ConnState::Offline);
        self.reconnect_at = Some(now_ms() + i64::from(self.backoff_ms));
        self.backoff_ms = (self.backoff_ms * 2).min(15_000);
    }

    async fn apply(&mut self, events: Vec<Event>) {
        let mut reload = false;
        for event in events {
            match event {
                Event::MessageReceived(_) | Event::StatusChanged { .. } => reload = true,
                Event::CaughtUp => self.signals.conn.set(ConnState::Online),
                Event::Presence { user, online, last_seen } => self.signals.presence.update(|p| {
                    p.insert(user, (online, last_seen));
                }),
                Event::Typing { user, active } => {
                    if active {
                        self.typing_until.insert(user, now_ms() + 5000);
                    } else {
                        self.typing_until.remove(&user);
                    }
                    self.signals.typing.set(self.typing_until.keys().copied().collect());
                }
                Event::FriendAdded(_) | Event::FriendRemoved(_) | Event::RequestsChanged => {
                    self.signals.social_version.update(|v| *v += 1)
                }
                Event::IdentityChanged(_) => {
                    self.signals.keys_version.update(|v| *v += 1);
                    self.signals.social_version.update(|v| *v += 1);
                    reload = true;
                }
                Event::DeviceTrouble(reason) => web_sys::console::warn_1(&reason.into()),
                Event::ServerError { .. } => {}
            }
        }
        if reload {
            self.reload().await;
        }
    }

    async fn on(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Compose { peer, text } => {
                if let Ok((_, frames)) = self.engine.compose(peer, &text, now_ms()).await {
                    self.write(frames);
                }
                self.reload().await;
            }
            Cmd::Retry(id) => {
                if let Ok(frames) = self.engine.retry(id, now_ms()).await {
                    self.write(frames);
                }
                self.reload().await;
            }
            Cmd::MarkRead(peer) => {
                if let Ok(frames) = self.engine.mark_read(peer).await
                    && !frames.is_empty()
                {
                    self.write(frames);
                    self.reload().await;
                }
            }
            Cmd::Typing(to, active) => self.write(vec![ClientFrame::Typing { to, active }]),
            Cmd::AddFriend { user, name, identity_key, done } => {
                if let Ok(true) = self.engine.add_friend(user, name, identity_key).await {
                    self.signals.keys_version.update(|v| *v += 1);
                }
                if let Some(done) = done {
                    let _ = done.send(());
                }
            }
            Cmd::Verify(user, verified) => {
                let _ = self.engine.set_verified(user, verified).await;
                self.signals.keys_version.update(|v| *v += 1);
            }
            Cmd::ConfirmIdentity(user) => {
                if let Ok(frames) = self.engine.confirm_identity(user, now_ms()).await {
                    self.write(frames);
                }
                self.signals.keys_version.update(|v| *v += 1);
                self.reload().await;
            }
            Cmd::StartAgain => {
                if self.set_up(true).await {
                    self.connect().await;
                }
            }
            Cmd::Opened => {
                let token = self.token.get_untracked().unwrap_or_default();
                self.write_raw(&ClientFrame::Auth { token });
            }
            Cmd::Frame(frame) => {
                if let ServerFrame::Hello { device_id, .. } = frame {
                    if device_id.is_none() || device_id != self.engine.device_id() {
                        // The server does not take this browser for the device: set up again.
                        self.close();
                        if self.set_up(false).await {
                            self.connect().await;
                        }
                        return;
                    }
                    self.backoff_ms = 1000;
                    self.signals.conn.set(ConnState::CatchingUp);
                    if let Ok((frames, events)) = self.engine.on_connected(now_ms()).await {
                        self.write(frames);
                        self.apply(events).await;
                    }
                    self.reload().await;
                    return;
                }
                if let Ok((frames, events)) = self.engine.handle(frame, now_ms()).await {
                    self.write(frames);
                    self.apply(events).await;
                }
            }
            Cmd::Closed => {
                self.ws = None;
                self.engine.on_disconnected();
                self.schedule_reconnect();
            }
            Cmd::Tick => {
                let now = now_ms();
                if self.reconnect_at.is_some_and(|at| at <= now)
                    && self.signals.device.get_untracked() == DeviceState::Ready
                {
                    self.reconnect_at = None;
                    self.connect().await;
                }
                if let Ok(frames) = self.engine.due(now).await {
                    self.write(frames);
                }
                let before = self.typing_until.len();
                self.typing_until.retain(|_, until| *until > now);
                if self.typing_until.len() != before {
                    self.signals.typing.set(self.typing_until.keys().copied().collect());
                }
            }
            Cmd::Stop => {}
        }
    }

    fn write_raw(&mut self, frame: &ClientFrame) {
        if let (Some(ws), Ok(text)) = (&self.ws, serde_json::to_string(frame)) {
            let _ = ws.send_with_str(&text);
        }
    }
}
