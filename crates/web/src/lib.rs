//! # hush-web — the Hush web app
//!
//! A Leptos client-side app on the `hush-client` engine. Map:
//! - [`api`]: REST calls; [`session`]: sign-in state and the app-wide [`session::Ctx`];
//! - [`idb`]: the engine's storage on IndexedDB, sealed at rest by [`vault`]; [`live`]: the
//!   actor owning the engine (and so the store) and the WebSocket, in one tab at a time
//!   ([`tab_lock`]); [`web_http`]: the engine's REST client over `fetch`;
//! - [`ui`]: one module per screen; [`time`]: human-readable times;
//! - [`app_worker`]: the service worker (offline start) and the update flow;
//!   [`notifications`]: Web Push on this device;
//! - with the `test-exports` feature only (a copy of the app for the browser suite, never
//!   the one served to people): `interop`, crypto v1 exported to JavaScript for the
//!   WebCrypto interop tests; [`bench`], crypto timings inside the app's WASM module for the
//!   browser benchmark.

pub mod api;
pub mod app_worker;
#[cfg(feature = "test-exports")]
pub mod bench;
pub mod idb;
#[cfg(feature = "test-exports")]
pub mod interop;
pub mod linking;
pub mod live;
pub mod notifications;
pub mod route;
pub mod session;
pub mod tab_lock;
pub mod text_case;
pub mod time;
pub mod title;
pub mod ui;
pub mod vault;
pub mod web_http;

use leptos::prelude::*;

use crate::session::{Ctx, Screen};

/// The whole app.
#[component]
pub fn App() -> impl IntoView {
    let ctx = Ctx::new();
    provide_context(ctx);
    route::follow(ctx);
    title::follow(ctx);
    ui::panes::follow_width(ctx);
    leptos::task::spawn_local(async move {
        // Nobody signed in on this browser: nothing to refresh.
        let Some(remembered) = session::remembered() else {
            ctx.screen.set(Screen::SignIn);
            return;
        };
        match api::call::<hush_shared::api::auth::TokenResponse>("POST", "/api/v1/auth/refresh", None, None::<&()>)
            .await
        {
            Ok(tokens) => session::start(ctx, tokens).await,
            Err(e) if session::ended(&e) => session::reset(ctx),
            // Unreachable, rate-limited or failing: open from this browser's data; the live
            // connection refreshes again when it connects.
            Err(_) => session::open_account(ctx, remembered).await,
        }
    });
    let updates = app_worker::register();
    Effect::new(move |_| {
        ctx.live.social_version.get();
        if ctx.live().is_some() {
            leptos::task::spawn_local(session::sync_friends(ctx));
        }
    });
    // A chat, its safety number and the list are one area (two panes on a wide window), so
    // moving between them keeps the list in place.
    let area = Memo::new(move |_| match ctx.screen.get() {
        Screen::Chat(_) | Screen::Safety(_) => Screen::Chats,
        screen => screen,
    });
    view! {
        <main class="app" class:wide=move || ctx.wide.get()>
            <ui::update::UpdateOffer updates=updates/>
            {move || match area.get() {
                Screen::Loading => view! { <p class="loading" role="status">"Opening Hush…"</p> }.into_any(),
                Screen::SignIn => view! { <ui::signin::SignIn/> }.into_any(),
                Screen::Setup => view! { <ui::settings::Setup/> }.into_any(),
                Screen::Chats | Screen::Chat(_) | Screen::Safety(_) => view! { <ui::shell::Shell><ui::panes::Panes/></ui::shell::Shell> }.into_any(),
                Screen::Friends => view! { <ui::shell::Shell><ui::friends::Friends/></ui::shell::Shell> }.into_any(),
                Screen::Settings => view! { <ui::shell::Shell><ui::settings::Settings/></ui::shell::Shell> }.into_any(),
            }}
        </main>
    }
}
