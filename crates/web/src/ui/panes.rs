//! The chats area. On a wide window (at least [`WIDE`]) the chat list and the open
//! conversation (or a safety number) sit side by side, and the list stays in place while
//! chats change; on a phone one shows at a time. Either way each screen has one `h1`: the
//! conversation's name when one is open beside the list, else "Chats".

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;

use super::chat::Chat;
use super::chats::Chats;
use super::safety::Safety;
use crate::session::{Ctx, Screen};

/// The media query for the two-pane layout (the stylesheet uses the same width).
pub const WIDE: &str = "(min-width: 900px)";

/// Keeps [`Ctx::wide`] in step with the window's width (for the app's lifetime).
pub fn follow_width(ctx: Ctx) {
    let Some(query) = window().match_media(WIDE).ok().flatten() else { return };
    ctx.wide.set(query.matches());
    let watched = query.clone();
    let on_change = Closure::<dyn FnMut()>::new(move || ctx.wide.set(watched.matches()));
    query.set_onchange(Some(on_change.as_ref().unchecked_ref()));
    on_change.forget();
}

/// What the conversation pane shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    Nothing,
    Chat(hush_shared::UserId),
    Safety(hush_shared::UserId),
}

/// The chat list and, beside it or instead of it, the open conversation.
#[component]
pub fn Panes() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let open = Memo::new(move |_| match ctx.screen.get() {
        Screen::Chat(peer) => Open::Chat(peer),
        Screen::Safety(peer) => Open::Safety(peer),
        _ => Open::Nothing,
    });
    let list_shown = move || ctx.wide.get() || open.get() == Open::Nothing;
    let list_is_main = Signal::derive(move || open.get() == Open::Nothing);
    view! {
        <div class="panes" class:wide=move || ctx.wide.get()>
            <Show when=list_shown>
                <div class="list-pane"><Chats main=list_is_main/></div>
            </Show>
            {move || match open.get() {
                Open::Chat(peer) => Some(view! { <section class="chat-pane"><Chat peer=peer/></section> }.into_any()),
                Open::Safety(peer) => Some(view! { <section class="chat-pane"><Safety peer=peer/></section> }.into_any()),
                Open::Nothing if ctx.wide.get() => Some(view! {
                    <section class="chat-pane empty-pane"><p class="empty">"Choose a chat to read and write messages."</p></section>
                }.into_any()),
                Open::Nothing => None,
            }}
        </div>
    }
}
