//! The signed-in session: the access token lives in memory only (a signal); the httpOnly
//! refresh cookie keeps a person signed in across reloads, so on start-up the app asks
//! `/auth/refresh` for a fresh token. When the server cannot be reached, the app opens
//! from this browser's own data for the account it remembers ([`remembered`]), and the
//! live connection signs in once it can. [`Ctx`] is the app-wide state given to every view.

use hush_client::link::LinkState;
use hush_client::store::PeerRecord;
use hush_shared::ErrorBody;
use hush_shared::UserId;
use hush_shared::api::account::User;
use hush_shared::api::auth::TokenResponse;
use hush_shared::api::friends::FriendRequestList;
use leptos::prelude::*;

use crate::api;
use crate::live::{self, Cmd, DeviceState, Live, LiveSignals};

/// Which screen is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Checking the refresh cookie.
    Loading,
    /// Phone number and code.
    SignIn,
    /// Choosing a display name on first run.
    Setup,
    /// The list of conversations.
    Chats,
    /// One conversation.
    Chat(UserId),
    /// The safety number of a friendship.
    Safety(UserId),
    /// Friends and requests.
    Friends,
    /// Account settings.
    Settings,
}

/// A friend as the views show them: the server's list joined with what this device knows
/// (the engine's friend sync).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FriendRow {
    /// The friend.
    pub user_id: UserId,
    /// Display name (or their number's absence: "Someone").
    pub name: String,
    /// Safety numbers compared for their current identity.
    pub verified: bool,
    /// Their identity changed since I last confirmed it.
    pub identity_changed: bool,
    /// Messages to them wait until I confirm their new identity (they had been verified).
    pub held: bool,
}

/// App-wide state.
#[derive(Clone, Copy)]
pub struct Ctx {
    /// Current screen.
    pub screen: RwSignal<Screen>,
    /// Access token (memory only).
    pub token: RwSignal<Option<String>>,
    /// Me.
    pub me: RwSignal<Option<User>>,
    /// Friends.
    pub friends: RwSignal<Vec<FriendRow>>,
    /// Pending requests.
    pub requests: RwSignal<FriendRequestList>,
    /// The live connection's signals.
    pub live: LiveSignals,
    /// The live connection.
    pub actor: StoredValue<Option<Live>, LocalStorage>,
    /// A message for the person (errors), cleared on the next action; the live actor
    /// reports into it too.
    pub notice: RwSignal<Option<String>>,
    /// The window is wide enough for the chat list and a chat side by side.
    pub wide: RwSignal<bool>,
}

impl From<&PeerRecord> for FriendRow {
    fn from(peer: &PeerRecord) -> Self {
        Self {
            user_id: peer.user_id,
            name: peer.display_name.clone().unwrap_or_else(|| "Someone".into()),
            verified: peer.verified,
            identity_changed: peer.identity_changed,
            held: peer.held,
        }
    }
}

impl Ctx {
    /// Fresh, signed-out state.
    pub fn new() -> Self {
        let notice = RwSignal::new(None);
        Self {
            screen: RwSignal::new(Screen::Loading),
            token: RwSignal::new(None),
            me: RwSignal::new(None),
            friends: RwSignal::new(vec![]),
            requests: RwSignal::new(FriendRequestList { incoming: vec![], outgoing: vec![] }),
            live: LiveSignals {
                messages: RwSignal::new(vec![]),
                conn: RwSignal::new(LinkState::Offline),
                presence: RwSignal::new(Default::default()),
                typing: RwSignal::new(Default::default()),
                social_version: RwSignal::new(0),
                keys_version: RwSignal::new(0),
                device: RwSignal::new(DeviceState::SettingUp),
                notice,
                linking: RwSignal::new(Default::default()),
            },
            actor: StoredValue::new_local(None),
            notice,
            wide: RwSignal::new(false),
        }
    }

    /// The live actor, once signed in.
    pub fn live(&self) -> Option<Live> {
        self.actor.get_value()
    }

    /// The current token (for API calls).
    pub fn token(&self) -> Option<String> {
        self.token.get_untracked()
    }

    /// Shows an error to the person.
    pub fn fail(&self, e: &ErrorBody) {
        self.notice.set(Some(e.message.clone()));
    }

    /// Calls the API with the current token, refreshing it once if it has expired.
    pub async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&impl serde::Serialize>,
    ) -> Result<T, ErrorBody> {
        let body = body.map(hush_client::api::encode).transpose()?;
        hush_client::api::decode(path, &call_signed_in(self.token, method, path, body).await?)
    }
}

/// Calls the API with the access token in `token`, refreshing it once if it has expired:
/// the answer's JSON text.
pub async fn call_signed_in(
    token: RwSignal<Option<String>>,
    method: &str,
    path: &str,
    body: Option<String>,
) -> Result<String, ErrorBody> {
    let first = api::call_text(method, path, token.get_untracked().as_deref(), body.clone()).await;
    match first {
        Err(e) if e.code == hush_shared::ErrorCode::TokenExpired => {
            let fresh = refresh_token().await?;
            token.set(Some(fresh.clone()));
            api::call_text(method, path, Some(&fresh), body).await
        }
        other => other,
    }
}

impl Default for Ctx {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether a refresh's refusal means the session is over (sign in again), rather than
/// the server being unreachable or busy.
pub fn ended(refusal: &ErrorBody) -> bool {
    matches!(refusal.code, hush_shared::ErrorCode::InvalidRefreshToken | hush_shared::ErrorCode::SessionRevoked)
}

/// Exchanges the refresh cookie for a new access token.
pub async fn refresh_token() -> Result<String, ErrorBody> {
    api::call::<TokenResponse>("POST", "/api/v1/auth/refresh", None, None::<&()>).await.map(|t| t.access_token)
}

/// Where this browser remembers who is signed in (id, number, name: no secret), so Hush
/// opens without a connection. Signing out forgets it.
const REMEMBERED: &str = "hush.account";

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The account signed in on this browser, as last confirmed by the server.
pub fn remembered() -> Option<User> {
    serde_json::from_str(&local_storage()?.get_item(REMEMBERED).ok()??).ok()
}

/// Remembers `user` as the account signed in on this browser (at sign-in, and when the
/// name changes).
pub fn remember(user: &User) {
    if let (Some(storage), Ok(json)) = (local_storage(), serde_json::to_string(user)) {
        let _ = storage.set_item(REMEMBERED, &json);
    }
}

fn forget() {
    if let Some(storage) = local_storage() {
        let _ = storage.remove_item(REMEMBERED);
    }
}

/// After sign-in or a successful refresh: start the live actor (storage, device,
/// connection), load friends.
pub async fn start(ctx: Ctx, tokens: TokenResponse) {
    remember(&tokens.user);
    ctx.token.set(Some(tokens.access_token));
    open_account(ctx, tokens.user).await;
    crate::notifications::renew(ctx).await;
}

/// Opens `user`'s account from this browser's data — after a refresh, or when the server
/// cannot be reached with the remembered account (the live connection refreshes the token
/// when it connects).
pub async fn open_account(ctx: Ctx, user: User) {
    ctx.me.set(Some(user.clone()));
    ctx.actor.set_value(Some(live::start(user.user_id, ctx.live, ctx.token)));
    // A reload comes back to the screen its address names.
    ctx.screen.set(if user.display_name.is_none() {
        Screen::Setup
    } else {
        crate::route::current().unwrap_or(Screen::Chats)
    });
    sync_friends(ctx).await;
}

/// Reloads friends (through the engine, which records their identities) and requests.
pub async fn sync_friends(ctx: Ctx) {
    let Some(live) = ctx.live() else { return };
    match live.ask(Cmd::SyncFriends).await {
        Some(Ok(friends)) => ctx.friends.set(friends.iter().map(FriendRow::from).collect()),
        Some(Err(e)) => ctx.notice.set(Some(format!("Could not load your friends: {e}"))),
        None => {}
    }
    if let Ok(requests) = ctx.call::<FriendRequestList>("GET", "/api/v1/friends/requests", None::<&()>).await {
        ctx.requests.set(requests);
    }
}

/// Signs out locally (after logout or account deletion).
pub fn reset(ctx: Ctx) {
    forget();
    leptos::task::spawn_local(crate::notifications::forget_here());
    if let Some(live) = ctx.live() {
        live.send(Cmd::Stop);
    }
    ctx.actor.set_value(None);
    ctx.token.set(None);
    ctx.me.set(None);
    ctx.friends.set(vec![]);
    ctx.live.messages.set(vec![]);
    ctx.screen.set(Screen::SignIn);
}
