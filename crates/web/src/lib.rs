//! # hush-web — the Hush web app
//!
//! A Leptos client-side app on the `hush-client` engine. Map:
//! - [`api`]: REST calls; [`session`]: sign-in state and the app-wide [`session::Ctx`];
//! - [`idb`]: the engine's storage on IndexedDB, sealed at rest by [`vault`]; [`live`]: the
//!   actor owning the engine (and so the store) and the WebSocket, in one tab at a time
//!   ([`tab_lock`]); [`web_http`]: the engine's REST client over `fetch`;
//! - [`ui`]: one module per screen; [`time`]: human-readable times;
//! - [`interop`]: crypto v1 exported to JavaScript for the WebCrypto interop tests;
//!   [`bench`]: crypto timings inside the app's WASM module for the browser benchmark.

pub mod api;
pub mod bench;
pub mod idb;
pub mod interop;
pub mod linking;
pub mod live;
pub mod route;
pub mod session;
pub mod tab_lock;
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
    leptos::task::spawn_local(async move {
        match api::call::<hush_shared::api::auth::TokenResponse>("POST", "/api/v1/auth/refresh", None, None::<&()>)
            .await
        {
            Ok(tokens) => session::start(ctx, tokens).await,
            Err(_) => ctx.screen.set(Screen::SignIn),
        }
    });
    Effect::new(move |_| {
        ctx.live.social_version.get();
        if ctx.live().is_some() {
            leptos::task::spawn_local(session::sync_friends(ctx));
        }
    });
    view! {
        <main class="app">
            {move || match ctx.screen.get() {
                Screen::Loading => view! { <p class="loading" role="status">"Opening Hush…"</p> }.into_any(),
                Screen::SignIn => view! { <ui::signin::SignIn/> }.into_any(),
                Screen::Setup => view! { <ui::settings::Setup/> }.into_any(),
                Screen::Chats => view! { <ui::shell::Shell><ui::chats::Chats/></ui::shell::Shell> }.into_any(),
                Screen::Chat(peer) => view! { <ui::shell::Shell><ui::chat::Chat peer=peer/></ui::shell::Shell> }.into_any(),
                Screen::Safety(peer) => view! { <ui::shell::Shell><ui::safety::Safety peer=peer/></ui::shell::Shell> }.into_any(),
                Screen::Friends => view! { <ui::shell::Shell><ui::friends::Friends/></ui::shell::Shell> }.into_any(),
                Screen::Settings => view! { <ui::shell::Shell><ui::settings::Settings/></ui::shell::Shell> }.into_any(),
            }}
        </main>
    }
}
