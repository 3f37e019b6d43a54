//! Web Push on this device: whether notifications are on, and turning them on — asking the
//! browser's permission only when the person clicks — or off. Turning on subscribes with
//! the browser's push service for the server's VAPID key (`GET /api/v1/push/key`) and tells
//! the server where to push (`PUT /api/v1/push/subscription`); the service worker shows
//! what arrives (`static/sw.js`). The server learns the subscription, never a message.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hush_shared::api::push::{PushKey, PushKeys, PushSubscription as WireSubscription};
use js_sys::Uint8Array;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Notification, NotificationPermission, PushManager, PushSubscription, PushSubscriptionOptionsInit,
    ServiceWorkerRegistration,
};

use crate::session::Ctx;

/// Where notifications stand on this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushState {
    /// This browser has no service worker, notifications or push.
    Unsupported,
    /// Blocked in the browser's site settings.
    Blocked,
    /// Not subscribed.
    Off,
    /// Subscribed.
    On,
}

fn err(e: JsValue) -> String {
    e.as_string()
        .or_else(|| e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())))
        .unwrap_or_else(|| format!("{e:?}"))
}

fn supported() -> bool {
    let Some(window) = web_sys::window() else { return false };
    ["Notification", "PushManager"].iter().all(|name| js_sys::Reflect::has(&window, &(*name).into()).unwrap_or(false))
        && js_sys::Reflect::has(&window.navigator(), &"serviceWorker".into()).unwrap_or(false)
}

async fn push_manager() -> Result<PushManager, String> {
    let window = web_sys::window().ok_or("no window")?;
    let ready = window.navigator().service_worker().ready().map_err(err)?;
    let registration: ServiceWorkerRegistration = JsFuture::from(ready).await.map_err(err)?.unchecked_into();
    registration.push_manager().map_err(err)
}

async fn browser_subscription() -> Result<Option<PushSubscription>, String> {
    let found = JsFuture::from(push_manager().await?.get_subscription().map_err(err)?).await.map_err(err)?;
    Ok(found.dyn_into::<PushSubscription>().ok())
}

/// The state now.
pub async fn state() -> PushState {
    if !supported() {
        return PushState::Unsupported;
    }
    match Notification::permission() {
        NotificationPermission::Denied => PushState::Blocked,
        NotificationPermission::Granted if matches!(browser_subscription().await, Ok(Some(_))) => PushState::On,
        _ => PushState::Off,
    }
}

/// What the browser's subscription says, in the shape the server takes.
fn wire(subscription: &PushSubscription) -> Result<WireSubscription, String> {
    #[derive(serde::Deserialize)]
    struct Json {
        endpoint: String,
        keys: PushKeys,
    }
    let text: String = js_sys::JSON::stringify(subscription).map_err(err)?.into();
    let json: Json = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    Ok(WireSubscription { endpoint: json.endpoint, keys: json.keys })
}

/// Asks permission, subscribes, and tells the server.
pub async fn turn_on(ctx: Ctx) -> Result<(), String> {
    if !supported() {
        return Err("this browser cannot show notifications".into());
    }
    let asked = JsFuture::from(Notification::request_permission().map_err(err)?).await.map_err(err)?;
    if asked.as_string().as_deref() != Some("granted") {
        return Err("notifications were not allowed".into());
    }
    let key = ctx.call::<PushKey>("GET", "/api/v1/push/key", None::<&()>).await.map_err(|e| e.message)?;
    let key = URL_SAFE_NO_PAD.decode(key.public_key).map_err(|e| e.to_string())?;
    let options = PushSubscriptionOptionsInit::new();
    options.set_user_visible_only(true);
    options.set_application_server_key(&Uint8Array::from(key.as_slice()));
    let manager = push_manager().await?;
    let subscribed = JsFuture::from(manager.subscribe_with_options(&options).map_err(err)?).await.map_err(err)?;
    let subscription: PushSubscription = subscribed.unchecked_into();
    tell_server(ctx, &subscription).await
}

async fn tell_server(ctx: Ctx, subscription: &PushSubscription) -> Result<(), String> {
    let body = wire(subscription)?;
    ctx.call::<serde::de::IgnoredAny>("PUT", "/api/v1/push/subscription", Some(&body))
        .await
        .map(|_| ())
        .map_err(|e| e.message)
}

/// Unsubscribes here and tells the server.
pub async fn turn_off(ctx: Ctx) -> Result<(), String> {
    forget_here().await;
    ctx.call::<serde::de::IgnoredAny>("DELETE", "/api/v1/push/subscription", None::<&()>)
        .await
        .map(|_| ())
        .map_err(|e| e.message)
}

/// Drops this browser's subscription (signing out: the server drops its copy with the
/// device).
pub async fn forget_here() {
    if supported()
        && let Ok(Some(subscription)) = browser_subscription().await
        && let Ok(done) = subscription.unsubscribe()
    {
        let _ = JsFuture::from(done).await;
    }
}

/// On start: if this browser is subscribed, the server hears of it again (it may have
/// dropped it, for a push service's "gone" or a new key).
pub async fn renew(ctx: Ctx) {
    if supported()
        && Notification::permission() == NotificationPermission::Granted
        && let Ok(Some(subscription)) = browser_subscription().await
        && let Err(e) = tell_server(ctx, &subscription).await
    {
        web_sys::console::warn_1(&format!("renewing the push subscription failed: {e}").into());
    }
}
