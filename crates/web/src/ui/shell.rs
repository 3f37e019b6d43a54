//! The frame of the signed-in screens: navigation, the connection banner, notices, and —
//! until this browser is a ready device — the device gate instead of the screen.

use leptos::prelude::*;

use hush_client::link::LinkState;

use crate::live::DeviceState;
use crate::session::{Ctx, Screen};

/// Navigation plus the current screen.
#[component]
pub fn Shell(children: Children) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let ready = move || ctx.live.device.get() == DeviceState::Ready;
    let banner = move || match ctx.live.conn.get() {
        _ if !ready() => None,
        LinkState::Online => None,
        LinkState::CatchingUp => Some(("catching-up", "Catching up…")),
        LinkState::Connecting => Some(("connecting", "Connecting…")),
        LinkState::Offline => {
            Some(("offline", "Offline — messages wait on this device and are sent when the connection returns"))
        }
    };
    let unread_requests = move || ctx.requests.get().incoming.len();
    // Esc leaves a chat for the list, and a safety number for its chat.
    let escape = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() != "Escape" {
            return;
        }
        let back = match ctx.screen.try_get_untracked() {
            Some(Screen::Chat(_)) => Screen::Chats,
            Some(Screen::Safety(peer)) => Screen::Chat(peer),
            _ => return,
        };
        ev.prevent_default();
        ctx.screen.set(back);
    });
    on_cleanup(move || escape.remove());
    let nav = move |target: Screen, label: &'static str| {
        let current = move || {
            let s = ctx.screen.get();
            s == target || (target == Screen::Chats && matches!(s, Screen::Chat(_) | Screen::Safety(_)))
        };
        view! {
            <button class="nav" class:current=current aria-current=move || if current() { "page" } else { "false" }
                on:click=move |_| { ctx.notice.set(None); ctx.screen.set(target) }>{label}</button>
        }
    };
    view! {
        <header class="top">
            <span class="brand">"Hush"</span>
            <nav aria-label="Main">
                {nav(Screen::Chats, "Chats")}
                {nav(Screen::Friends, "Friends")}
                <Show when=move || { unread_requests() > 0 }>
                    <span class="badge" aria-label="pending friend requests">{unread_requests}</span>
                </Show>
                {nav(Screen::Settings, "Settings")}
            </nav>
        </header>
        {move || banner().map(|(class, text)| view! { <div class=format!("banner {class}") role="status">{text}</div> })}
        {move || ctx.notice.get().map(|n| view! {
            <div class="notice" role="alert">{n}<button aria-label="Dismiss" on:click=move |_| ctx.notice.set(None)>"×"</button></div>
        })}
        {move || super::device::gate(ctx)}
        <section class="content" style:display=move || if ready() { "" } else { "none" }>{children()}</section>
    }
}
