//! The live connection: one actor task owns the client engine — and through it the
//! IndexedDB store — and the browser WebSocket, so engine calls never interleave and no
//! view opens storage. UI actions, the views' questions (the friend list, a safety number)
//! and socket events are commands on its queue; after each, the actor refreshes the signals
//! the views read. Every engine error is shown as a notice, not dropped.
//!
//! Before connecting, the actor sets this browser up as a device of the account (keys made
//! and registered by the engine); if the account is in use on another browser it stops and
//! says so, until the person chooses to start again here. The connection's rules — `auth`
//! with a freshly refreshed token, a `hello` that must name this device, catching up,
//! reconnecting with backoff — are the client crate's [`Link`]; this module does the I/O.

use std::collections::{HashMap, HashSet};
use std::fmt::Display;

use futures::StreamExt;
use futures::channel::{mpsc, oneshot};
use hush_client::device::Setup;
use hush_client::engine::{Engine, Event};
use hush_client::friends::{FriendList, SyncError};
use hush_client::held_acks::HeldReceiptAcks;
use hush_client::link::{HelloOutcome, Link, LinkState};
use hush_client::model::ChatMessage;
use hush_client::store::PeerRecord;
use hush_crypto::SafetyNumber;
use hush_shared::ws::{ClientFrame, MessageId, ServerFrame, close};
use hush_shared::{ErrorCode, UserId};
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use crate::idb::IdbStore;
use crate::linking::{self, LinkSide, LinkView};
use crate::tab_lock::TabLock;
use crate::web_http::{WebHttp, device_name, ws_url};

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
    /// This browser was removed from the account (by another device, or by a browser
    /// that started again); what it held is erased.
    Removed,
    /// The session ended while the app was open or away (signed out elsewhere, or the
    /// refresh cookie expired): sign in again; this browser's data stays.
    SignedOut,
}

/// Signals the actor keeps current.
#[derive(Clone, Copy)]
pub struct LiveSignals {
    /// Every message, sorted by id.
    pub messages: RwSignal<Vec<ChatMessage>>,
    /// Connection state (the banner).
    pub conn: RwSignal<LinkState>,
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
    /// A message for the person (the app-wide notice): engine and server errors.
    pub notice: RwSignal<Option<String>>,
    /// The link being made (this browser asking, or this device approving).
    pub linking: RwSignal<LinkView>,
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
    /// The friend list from the server, joined with what this device knows of each.
    SyncFriends(oneshot::Sender<Result<Vec<PeerRecord>, String>>),
    /// The safety number with a friend, once both identities are known.
    SafetyNumber(UserId, oneshot::Sender<Option<SafetyNumber>>),
    /// Mark a friend verified (or not).
    Verify(UserId, bool),
    /// The person saw a friend's new identity and goes on: held messages are sent.
    ConfirmIdentity(UserId),
    /// Start again on this browser: a new identity replaces the account's.
    StartAgain,
    /// Ask a device of the account to link this browser: open a link and show its code.
    LinkRequest,
    /// Approve a new browser: join the link it shows with this code.
    LinkJoin(String),
    /// The person saw the same comparison code on both screens: send the identity (and the
    /// recent history, when asked).
    LinkConfirm {
        with_history: bool,
    },
    /// Give the link up.
    LinkCancel,
    /// Socket events.
    Opened,
    Frame(ServerFrame),
    Closed(u16),
    /// Timers: retries and reconnects.
    Tick,
    /// Held receipt acks may be due (`hush_client::held_acks`).
    FlushAcks,
    /// Log out or account deleted: remove this device from the account (when asked),
    /// close the socket, erase this browser's database, and stop.
    Wipe {
        remove_device: bool,
        done: oneshot::Sender<()>,
    },
    /// Signed out: close the socket and stop.
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

    /// Sends a command that answers, and waits for the answer (`None` once stopped).
    pub async fn ask<T>(&self, cmd: impl FnOnce(oneshot::Sender<T>) -> Cmd) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.send(cmd(tx));
        rx.await.ok()
    }
}

fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// Milliseconds on the page's monotonic clock, for the receipt-ack hold (the wall clock may
/// step back).
fn monotonic_ms() -> i64 {
    web_sys::window().and_then(|w| w.performance()).map_or_else(now_ms, |p| p.now() as i64)
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

struct Actor {
    engine: Engine<IdbStore, WebHttp>,
    link: Link,
    ws: Option<WebSocket>,
    tx: mpsc::UnboundedSender<Cmd>,
    signals: LiveSignals,
    token: RwSignal<Option<String>>,
    typing_until: HashMap<UserId, i64>,
    linking: Option<LinkSide>,
    /// Receipt acks waiting to go with the next frame written.
    held_acks: HeldReceiptAcks,
    /// Whether a timer will send [`Cmd::FlushAcks`].
    ack_flush_armed: bool,
}

/// Starts the actor for a signed-in person. It waits for this browser's one-tab lock, then
/// opens the person's database and sets the device up.
pub fn start(me: UserId, signals: LiveSignals, token: RwSignal<Option<String>>) -> Live {
    let (tx, mut rx) = mpsc::unbounded::<Cmd>();
    let live = Live { tx: tx.clone() };
    let actor_tx = tx.clone();
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
        let store = match IdbStore::open(me).await {
            Ok(store) => store,
            Err(e) => {
                signals.device.set(DeviceState::Failed(format!("this browser's storage is unavailable: {e}")));
                lock.release();
                return;
            }
        };
        let mut actor = Actor {
            engine: Engine::new(me, store, WebHttp { token }),
            link: Link::default(),
            ws: None,
            tx: actor_tx,
            signals,
            token,
            typing_until: HashMap::new(),
            linking: None,
            held_acks: HeldReceiptAcks::default(),
            ack_flush_armed: false,
        };
        actor.reload().await;
        if actor.set_up(false).await {
            actor.connect().await;
        }
        actor.show_link();
        let mut wipe = None;
        // Removed while away (found at set-up) or while connected (close 4004).
        let mut removed = signals.device.get_untracked() == DeviceState::Removed;
        while !removed && let Some(cmd) = rx.next().await {
            match cmd {
                Cmd::Stop => {
                    actor.close();
                    break;
                }
                Cmd::Closed(close::DEVICE_REMOVED) => removed = true,
                Cmd::Wipe { remove_device, done } => {
                    wipe = Some((remove_device, done));
                    break;
                }
                cmd => actor.on(cmd).await,
            }
            actor.show_link();
        }
        if let Some((remove_device, done)) = wipe {
            actor.wipe(me, remove_device).await;
            let _ = done.send(());
        } else if removed {
            actor.wipe(me, false).await;
            signals.messages.set(Vec::new());
            signals.device.set(DeviceState::Removed);
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
    /// Shows an error to the person.
    fn report(&self, what: &str, error: impl Display) {
        self.signals.notice.set(Some(format!("{what}: {error}")));
    }

    fn show_link(&self) {
        if self.signals.conn.get_untracked() != self.link.state() {
            self.signals.conn.set(self.link.state());
        }
    }

    /// Without a connection, the friends this device knows from its conversations (the
    /// server's list replaces them once it answers).
    async fn known_friends(&self) -> Result<FriendList, SyncError> {
        let messages = self.signals.messages.get_untracked();
        let mut friends = self.engine.store().peers().await?;
        friends.retain(|peer| messages.iter().any(|m| m.peer == peer.user_id));
        Ok(FriendList { friends, identity_changed: false })
    }

    async fn reload(&mut self) {
        match self.engine.store().all_messages().await {
            Ok(all) => self.signals.messages.set(all),
            Err(e) => self.report("Could not read the messages stored in this browser", e),
        }
    }

    /// Polls the open link; once this browser holds the identity, registers it as a device.
    async fn poll_link(&mut self) {
        let Some(side) = self.linking.as_mut() else { return };
        let me = self.engine.me();
        let (view, done) = linking::poll(side, self.engine.http(), self.engine.store(), me).await;
        let finished = matches!(view, LinkView::Failed(_) | LinkView::Sent);
        self.signals.linking.set(view);
        if finished {
            self.linking = None;
        }
        if done {
            self.linking = None;
            if self.set_up(false).await {
                self.signals.linking.set(LinkView::Idle);
                self.connect().await;
            } else {
                self.signals.linking.set(LinkView::Failed("This browser could not register as a device.".into()));
            }
        }
    }

    /// Cancels the open link, if any.
    async fn stop_linking(&mut self) {
        if let Some(side) = self.linking.take() {
            linking::cancel(&side, self.engine.http()).await;
        }
        self.signals.linking.set(LinkView::Idle);
    }

    /// Sets this browser up as a device; `true` when it is one.
    async fn set_up(&mut self, new_identity: bool) -> bool {
        self.signals.device.set(DeviceState::SettingUp);
        let now = now_ms() / 1000;
        let state = match self.engine.set_up(Some(&device_name()), new_identity, now).await {
            Ok(Setup::Ready(_)) => DeviceState::Ready,
            Ok(Setup::InUseElsewhere) => DeviceState::InUseElsewhere,
            Ok(Setup::Removed) => DeviceState::Removed,
            Err(e) => DeviceState::Failed(e.to_string()),
        };
        let ready = state == DeviceState::Ready;
        if !ready {
            self.link.stop();
        }
        self.signals.device.set(state);
        self.signals.keys_version.update(|v| *v += 1);
        ready
    }

    fn write(&mut self, frames: Vec<ClientFrame>) {
        let now = monotonic_ms();
        let frames = self.held_acks.outgoing(frames, now);
        self.arm_ack_flush(now);
        let Some(ws) = &self.ws else { return };
        for frame in hush_client::engine::coalesce(frames) {
            if let Ok(text) = serde_json::to_string(&frame) {
                let _ = ws.send_with_str(&text);
            }
        }
    }

    /// Wakes the actor when the held receipt acks fall due (one timer at a time).
    fn arm_ack_flush(&mut self, now: i64) {
        let Some(due) = self.held_acks.due_at() else { return };
        if self.ack_flush_armed {
            return;
        }
        self.ack_flush_armed = true;
        let tx = self.tx.clone();
        leptos::task::spawn_local(async move {
            sleep((due - now).clamp(0, i32::MAX as i64) as i32).await;
            let _ = tx.unbounded_send(Cmd::FlushAcks);
        });
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

    /// Logs out or the account is gone: the device leaves the account (when asked), the
    /// socket closes and the database is erased.
    async fn wipe(mut self, me: UserId, remove_device: bool) {
        if remove_device && let Err(e) = self.engine.remove_this_device().await {
            // The person is leaving; the server drops the device with the account or on
            // the next sign-in's set-up. Say so in the console only.
            web_sys::console::warn_1(&format!("removing this device failed: {e}").into());
        }
        self.close();
        self.engine.into_store().destroy(me).await;
    }

    async fn connect(&mut self) {
        self.close();
        self.link.connecting();
        self.show_link();
        // A fresh access token for every connection: the old one may have expired.
        match crate::session::refresh_token().await {
            Ok(fresh) => self.token.set(Some(fresh)),
            Err(e) if crate::session::ended(&e) => {
                self.link.stop();
                self.signals.device.set(DeviceState::SignedOut);
                return;
            }
            Err(_) => {}
        }
        let Ok(ws) = WebSocket::new(&ws_url()) else {
            self.link.closed(now_ms());
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
        let onclose = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
            let _ = tx.unbounded_send(Cmd::Closed(e.code()));
        });
        ws.set_onopen(Some(onopen.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        ws.set_onclose(Some(onclose.as_ref().unchecked_ref()));
        onopen.forget();
        onmessage.forget();
        onclose.forget();
        self.ws = Some(ws);
    }

    async fn apply(&mut self, events: Vec<Event>) {
        let mut reload = false;
        for event in events {
            match event {
                Event::MessageReceived(_) | Event::StatusChanged { .. } => reload = true,
                Event::CaughtUp => self.link.caught_up(),
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
                Event::DeviceTrouble(reason) => {
                    self.report("Could not keep this device's keys on the server (tried again on reconnect)", reason)
                }
                Event::ServerError { code, message } => {
                    self.report("The server refused", format!("{message} ({code})"))
                }
            }
        }
        if reload {
            self.reload().await;
        }
    }

    /// The value, or `None` after showing the error.
    fn shown<T>(&self, what: &str, result: Result<T, impl Display>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.report(what, e);
                None
            }
        }
    }

    async fn on(&mut self, cmd: Cmd) {
        let now = now_ms();
        match cmd {
            Cmd::Compose { peer, text } => {
                let composed = self.engine.compose(peer, &text, now).await;
                if let Some((_, frames)) = self.shown("Could not store the message", composed) {
                    self.write(frames);
                }
                self.reload().await;
            }
            Cmd::Retry(id) => {
                let retried = self.engine.retry(id, now).await;
                if let Some(frames) = self.shown("Could not retry the message", retried) {
                    self.write(frames);
                }
                self.reload().await;
            }
            Cmd::MarkRead(peer) => {
                let marked = self.engine.mark_read(peer).await;
                if let Some(frames) = self.shown("Could not mark the conversation read", marked)
                    && !frames.is_empty()
                {
                    self.write(frames);
                    self.reload().await;
                }
            }
            Cmd::Typing(to, active) => self.write(vec![ClientFrame::Typing { to, active }]),
            Cmd::SyncFriends(done) => {
                let synced = match self.engine.sync_friends().await {
                    Err(SyncError::Api(e)) if e.code == ErrorCode::Unavailable => self.known_friends().await,
                    synced => synced,
                };
                if synced.as_ref().is_ok_and(|list| list.identity_changed) {
                    self.signals.keys_version.update(|v| *v += 1);
                    self.reload().await;
                }
                let _ = done.send(synced.map(|list| list.friends).map_err(|e| e.to_string()));
            }
            Cmd::SafetyNumber(peer, done) => {
                let number = self.engine.safety_number(peer).await;
                let _ = done.send(self.shown("Could not compute the safety number", number).flatten());
            }
            Cmd::Verify(user, verified) => {
                let set = self.engine.set_verified(user, verified).await;
                self.shown("Could not save the verification", set);
                self.signals.keys_version.update(|v| *v += 1);
            }
            Cmd::ConfirmIdentity(user) => {
                let confirmed = self.engine.confirm_identity(user, now).await;
                if let Some(frames) = self.shown("Could not send the held messages", confirmed) {
                    self.write(frames);
                }
                self.signals.keys_version.update(|v| *v += 1);
                self.reload().await;
            }
            Cmd::StartAgain => {
                self.stop_linking().await;
                if self.set_up(true).await {
                    self.connect().await;
                }
            }
            Cmd::LinkRequest => {
                self.signals.linking.set(LinkView::Busy);
                let (side, view) = linking::request(self.engine.http()).await;
                self.linking = side;
                self.signals.linking.set(view);
            }
            Cmd::LinkJoin(code) => {
                self.signals.linking.set(LinkView::Busy);
                let (side, view) = linking::join(self.engine.http(), &code).await;
                self.linking = side;
                self.signals.linking.set(view);
            }
            Cmd::LinkConfirm { with_history } => {
                if let (Some(side), Some(device)) = (self.linking.as_mut(), self.engine.device()) {
                    let ends = (self.engine.http(), self.engine.store());
                    let view = linking::confirm(side, ends, &device.identity, with_history, self.signals.linking).await;
                    self.linking = None;
                    self.signals.linking.set(view);
                }
            }
            Cmd::LinkCancel => self.stop_linking().await,
            Cmd::Opened => {
                let frame = self.link.opened(self.token.get_untracked().unwrap_or_default());
                self.write_raw(&frame);
            }
            Cmd::Frame(ServerFrame::Hello { device_id, .. }) => {
                match self.link.hello(device_id, self.engine.device_id()) {
                    HelloOutcome::NotThisDevice => {
                        // The server does not take this browser for the device: set up again.
                        self.close();
                        if self.set_up(false).await {
                            self.connect().await;
                        }
                    }
                    HelloOutcome::Ready => {
                        // Acks held from frames of an earlier socket count only there (with
                        // no socket, `write` drops what it takes: this is the one reset).
                        self.held_acks.clear();
                        self.show_link();
                        // Friends and requests may have changed while away.
                        self.signals.social_version.update(|v| *v += 1);
                        let connected = self.engine.on_connected(now).await;
                        if let Some((frames, events)) = self.shown("Could not send what waited", connected) {
                            self.write(frames);
                            self.apply(events).await;
                        }
                        self.reload().await;
                    }
                }
            }
            Cmd::Frame(frame) => {
                let handled = self.engine.handle(frame, now).await;
                if let Some((frames, events)) = self.shown("Could not store what arrived", handled) {
                    self.write(frames);
                    self.apply(events).await;
                }
            }
            Cmd::FlushAcks => {
                self.ack_flush_armed = false;
                self.write(Vec::new());
            }
            Cmd::Closed(_) => {
                self.ws = None;
                self.engine.on_disconnected();
                self.link.closed(now);
            }
            Cmd::Tick => {
                self.poll_link().await;
                if self.signals.device.get_untracked() == DeviceState::Ready && self.link.reconnect_due(now) {
                    self.connect().await;
                }
                let due = self.engine.due(now).await;
                if let Some(frames) = self.shown("Could not resend waiting messages", due) {
                    self.write(frames);
                }
                let before = self.typing_until.len();
                self.typing_until.retain(|_, until| *until > now);
                if self.typing_until.len() != before {
                    self.signals.typing.set(self.typing_until.keys().copied().collect());
                }
            }
            Cmd::Wipe { .. } | Cmd::Stop => {}
        }
    }

    fn write_raw(&mut self, frame: &ClientFrame) {
        if let (Some(ws), Ok(text)) = (&self.ws, serde_json::to_string(frame)) {
            let _ = ws.send_with_str(&text);
        }
    }
}
