//! The engine's REST client in the browser: `fetch` with the session's access token,
//! refreshed once when it has expired, plus what the browser says about itself (the name
//! this device gets in the account's device list, the WebSocket address).

use async_trait::async_trait;
use hush_client::api::{ApiError, Http};
use leptos::prelude::*;

/// The REST API for the engine, authenticated as the signed-in session.
pub struct WebHttp {
    /// The access token (memory only), shared with the views.
    pub token: RwSignal<Option<String>>,
}

#[async_trait(?Send)]
impl Http for WebHttp {
    fn access_token(&self) -> Option<String> {
        self.token.get_untracked()
    }

    async fn call(&self, method: &str, path: &str, body: Option<String>) -> Result<String, ApiError> {
        crate::session::call_signed_in(self.token, method, path, body).await
    }
}

/// The WebSocket address on the page's own origin.
pub fn ws_url() -> String {
    let location = web_sys::window().map(|w| w.location());
    let (protocol, host) =
        location.map(|l| (l.protocol().unwrap_or_default(), l.host().unwrap_or_default())).unwrap_or_default();
    let scheme = if protocol == "https:" { "wss" } else { "ws" };
    format!("{scheme}://{host}/api/v1/ws")
}

/// A name for this browser in the device list ("Chrome on Linux").
pub fn device_name() -> String {
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
