//! A URL per screen and per chat — `/` the chats, `/chat/<id>`, `/chat/<id>/safety`,
//! `/friends`, `/settings` — so a reload keeps the chat and back and forward work. The
//! address follows the screen (one history entry per change) and the screen follows the
//! address (on start, and on back and forward). Sign-in shows at `/`; while it or the first
//! run's name screen shows, the address is left alone.

use hush_shared::UserId;
use leptos::prelude::*;

use crate::session::{Ctx, Screen};

/// The address of a screen (`None`: it has none of its own).
pub fn path_of(screen: Screen) -> Option<String> {
    match screen {
        Screen::Loading | Screen::Setup => None,
        Screen::SignIn | Screen::Chats => Some("/".into()),
        Screen::Chat(peer) => Some(format!("/chat/{peer}")),
        Screen::Safety(peer) => Some(format!("/chat/{peer}/safety")),
        Screen::Friends => Some("/friends".into()),
        Screen::Settings => Some("/settings".into()),
    }
}

/// The signed-in screen at `path`, if it names one.
pub fn screen_at(path: &str) -> Option<Screen> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        [""] => Some(Screen::Chats),
        ["friends"] => Some(Screen::Friends),
        ["settings"] => Some(Screen::Settings),
        ["chat", peer] => peer.parse::<UserId>().ok().map(Screen::Chat),
        ["chat", peer, "safety"] => peer.parse::<UserId>().ok().map(Screen::Safety),
        _ => None,
    }
}

/// The signed-in screen the address names now.
pub fn current() -> Option<Screen> {
    window().location().pathname().ok().and_then(|path| screen_at(&path))
}

/// Keeps the address and the screen in step (for the app's lifetime).
pub fn follow(ctx: Ctx) {
    Effect::new(move |_| {
        let Some(path) = path_of(ctx.screen.get()) else { return };
        let window = window();
        if window.location().pathname().ok().as_deref() != Some(path.as_str())
            && let Ok(history) = window.history()
        {
            let _ = history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&path));
        }
    });
    // Back and forward move between signed-in screens only.
    let _ = window_event_listener(leptos::ev::popstate, move |_| {
        let signed_in = !matches!(ctx.screen.get_untracked(), Screen::Loading | Screen::SignIn | Screen::Setup);
        if let (true, Some(screen)) = (signed_in, current()) {
            ctx.screen.set(screen);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn every_signed_in_screen_round_trips_through_its_address() {
        let peer = UserId::new();
        for screen in [Screen::Chats, Screen::Chat(peer), Screen::Safety(peer), Screen::Friends, Screen::Settings] {
            assert_eq!(screen_at(&path_of(screen).unwrap()), Some(screen));
        }
        assert_eq!(screen_at("/chat/not-an-id"), None);
        assert_eq!(screen_at("/nowhere"), None);
        assert_eq!(path_of(Screen::Loading), None);
    }
}
