//! The chat list: every friend with their avatar, the last message, unread count, my last
//! tick and the time, most recent first; a search box narrows it by name.

use hush_client::model::{Body, ChatMessage, Direction, Status};
use leptos::prelude::*;

use super::avatar::avatar;
use super::icons::{Icon, icon};
use crate::session::{Ctx, Screen};
use crate::time;

/// The tick for one of my messages: its icon, accessible name and class.
fn tick_parts(status: Status) -> Option<(Icon, &'static str, &'static str)> {
    Some(match status {
        Status::Sending => (Icon::Clock, "waiting on this device", "tick sending"),
        Status::Stored => (Icon::Check, "sent", "tick stored"),
        Status::Delivered => (Icon::DoubleCheck, "delivered", "tick delivered"),
        Status::Read => (Icon::DoubleCheck, "read", "tick read"),
        Status::Expired => (Icon::Warning, "expired, never delivered", "tick failed"),
        Status::Failed => (Icon::Warning, "not sent", "tick failed"),
        Status::Received | Status::Seen => return None,
    })
}

/// The tick of one of my messages, named for screen readers (none for received ones).
pub fn tick(status: Status) -> Option<impl IntoView + use<>> {
    tick_parts(status).map(|(which, label, class)| {
        view! { <span class=class role="img" aria-label=label title=label>{icon(which)}</span> }
    })
}

/// A short preview of a message body.
pub fn preview(m: &ChatMessage) -> String {
    match &m.body {
        Body::Text { text } => text.chars().take(60).collect(),
        Body::Unsupported { .. } => "Unsupported message".into(),
        Body::Waiting { .. } => "Waiting for this message…".into(),
        Body::Undecryptable { .. } => "Message could not be decrypted".into(),
    }
}

/// Whether `name` matches what was typed in the search box (any part, any case).
pub fn matches_search(name: &str, search: &str) -> bool {
    use crate::text_case::lowercase;
    lowercase(name).contains(lowercase(search.trim()).as_str())
}

/// The chat list; its title is the screen's `h1` when it is the `main` thing shown (not
/// beside an open chat).
#[component]
pub fn Chats(main: Signal<bool>) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let search = RwSignal::new(String::new());
    let rows = move || {
        let messages = ctx.live.messages.get();
        let search = search.get();
        let mut rows: Vec<_> = ctx
            .friends
            .get()
            .into_iter()
            .filter(|f| matches_search(&f.name, &search))
            .map(|f| {
                let last = messages.iter().filter(|m| m.peer == f.user_id).max_by_key(|m| m.id).cloned();
                let unread = messages.iter().filter(|m| m.peer == f.user_id && m.is_unread()).count();
                (f, last, unread)
            })
            .collect();
        // Newest conversation first (`!` turns the id around); friends without messages last.
        hush_client::order::sort_by_key_u128(&mut rows, |row| row.1.as_ref().map_or(u128::MAX, |m| !m.id.as_u128()));
        rows
    };
    let open = move || match ctx.screen.get() {
        Screen::Chat(peer) | Screen::Safety(peer) => Some(peer),
        _ => None,
    };
    view! {
        {move || if main.get() { view! { <h1>"Chats"</h1> }.into_any() } else { view! { <h2 class="pane-title">"Chats"</h2> }.into_any() }}
        <Show when=move || !ctx.friends.get().is_empty()
            fallback=move || view! { <p class="empty">"No friends yet. Add one under " <button class="link" on:click=move |_| ctx.screen.set(Screen::Friends)>"Friends"</button> "."</p> }>
            <input type="search" class="search" aria-label="Search chats" placeholder="Search by name"
                prop:value=move || search.get() on:input=move |ev| search.set(event_target_value(&ev))/>
            <Show when=move || rows().is_empty()>
                <p class="empty">{move || format!("No chat matches “{}”.", search.get().trim())}</p>
            </Show>
            <ul class="chat-list" aria-label="Chats" on:keydown=move_between_rows>
                {move || rows().into_iter().map(|(friend, last, unread)| {
                    let peer = friend.user_id;
                    let when = last.as_ref().map(|m| time::list_time(m.created_at_ms)).unwrap_or_default();
                    let text = last.as_ref().map(preview).unwrap_or_else(|| "Say hello".into());
                    let mine = last.as_ref().filter(|m| m.direction == Direction::Outgoing).and_then(|m| tick(m.status));
                    view! {
                        <li>
                            // Named by what it shows (name, time, last message, unread count),
                            // so a screen reader hears the row as it looks.
                            <button class="chat-row" aria-current=move || if open() == Some(peer) { "true" } else { "false" }
                                on:click=move |_| ctx.screen.set(Screen::Chat(peer))>
                                {avatar(peer, &friend.name)}
                                <span class="name">{friend.name.clone()}</span>
                                <span class="when">{when}</span>
                                <span class="preview">
                                    {mine.map(|tick| view! { {tick} " " })}
                                    {text}
                                </span>
                                <Show when=move || { unread > 0 }>
                                    <span class="unread" aria-label=format!("{unread} unread")>{unread}</span>
                                </Show>
                            </button>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </Show>
    }
}

/// Up and down arrows move the focus between the chat rows.
fn move_between_rows(ev: leptos::ev::KeyboardEvent) {
    use wasm_bindgen::JsCast as _;
    let down = match ev.key().as_str() {
        "ArrowDown" => true,
        "ArrowUp" => false,
        _ => return,
    };
    // Each row is a button alone in its list item.
    let Some(item) = document().active_element().and_then(|focused| focused.parent_element()) else { return };
    let next = if down { item.next_element_sibling() } else { item.previous_element_sibling() };
    let button =
        next.and_then(|item| item.first_element_child()).and_then(|b| b.dyn_into::<web_sys::HtmlElement>().ok());
    if let Some(button) = button {
        ev.prevent_default();
        let _ = button.focus();
    }
}
