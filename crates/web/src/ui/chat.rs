//! One conversation: bubbles with ticks, day separators, presence and typing, the
//! identity-change warning (with "send anyway" when messages wait for it), and the composer
//! (Enter sends). Opening it shows the first unread message (under an "Unread messages"
//! line) or else the newest; the list follows new messages while it is at the bottom, and
//! when scrolled up a "New messages" button takes it down instead of moving the text away
//! from the reader.

use hush_client::model::{Body, Direction, Status};
use hush_shared::UserId;
use leptos::html::Div;
use leptos::prelude::*;

use super::avatar::avatar;
use super::chats::tick;
use super::icons::{Icon, icon};
use crate::live::Cmd;
use crate::session::{Ctx, Screen};
use crate::time;

/// The conversation with `peer`.
#[component]
pub fn Chat(peer: UserId) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let draft = RwSignal::new(String::new());
    let last_typing = StoredValue::new(0f64);
    let list: NodeRef<Div> = NodeRef::new();
    let friend = move || ctx.friends.get().into_iter().find(|f| f.user_id == peer);
    let name = move || friend().map(|f| f.name).unwrap_or_else(|| "Former friend".into());
    let messages = move || ctx.live.messages.get().into_iter().filter(|m| m.peer == peer).collect::<Vec<_>>();

    // Opening the chat reads it: send read receipts for what is unread.
    Effect::new(move |_| {
        let unread = ctx.live.messages.get().iter().any(|m| m.peer == peer && m.is_unread());
        if unread
            && ctx.screen.get_untracked() == Screen::Chat(peer)
            && let Some(live) = ctx.live()
        {
            live.send(Cmd::MarkRead(peer));
        }
    });
    // Fixed when the chat opens: where the unread part starts.
    let first_unread =
        ctx.live.messages.with_untracked(|all| all.iter().find(|m| m.peer == peer && m.is_unread()).map(|m| m.id));
    let at_bottom = RwSignal::new(true);
    let unseen_below = RwSignal::new(false);
    let to_bottom = move || {
        if let Some(el) = list.get_untracked() {
            el.set_scroll_top(el.scroll_height());
        }
        unseen_below.set(false);
    };
    Effect::new(move |shown_before: Option<usize>| {
        let shown = messages();
        let Some(el) = list.get() else { return 0 };
        match shown_before {
            None => match el.query_selector(".unread-mark").ok().flatten() {
                Some(mark) => mark.scroll_into_view(),
                None => to_bottom(),
            },
            Some(before) if shown.len() > before => {
                let newest_mine = shown.last().is_some_and(|m| m.direction == Direction::Outgoing);
                if at_bottom.get_untracked() || newest_mine {
                    to_bottom();
                } else {
                    unseen_below.set(true);
                }
            }
            Some(_) if at_bottom.get_untracked() => to_bottom(),
            Some(_) => {}
        }
        shown.len()
    });
    let on_scroll = move |_| {
        if let Some(el) = list.get_untracked() {
            let bottom = el.scroll_top() + el.client_height() >= el.scroll_height() - 24;
            at_bottom.set(bottom);
            if bottom {
                unseen_below.set(false);
            }
        }
    };

    let status_line = move || {
        if ctx.live.typing.get().contains(&peer) {
            return "typing…".to_owned();
        }
        match ctx.live.presence.get().get(&peer) {
            Some((true, _)) => "online".into(),
            Some((false, Some(seen))) => {
                format!("last seen {} {}", time::day_label(seen * 1000).to_ascii_lowercase(), time::clock(seen * 1000))
            }
            _ => String::new(),
        }
    };
    let send = move || {
        let text = draft.get_untracked();
        if text.trim().is_empty() {
            return;
        }
        if let Some(live) = ctx.live() {
            live.send(Cmd::Compose { peer, text: text.trim().to_owned() });
            live.send(Cmd::Typing(peer, false));
        }
        draft.set(String::new());
    };
    let on_input = move |ev: leptos::ev::Event| {
        draft.set(event_target_value(&ev));
        let now = js_sys::Date::now();
        if now - last_typing.get_value() > 3000.0 {
            last_typing.set_value(now);
            if let Some(live) = ctx.live() {
                live.send(Cmd::Typing(peer, true));
            }
        }
    };

    view! {
        <div class="chat">
            <div class="chat-head">
                <button class="link back" aria-label="Back to chats" on:click=move |_| ctx.screen.set(Screen::Chats)>"←"</button>
                {move || avatar(peer, &name())}
                <div>
                    <h1>{name}</h1>
                    <span class="presence" aria-live="polite">{status_line}</span>
                </div>
                <button class="link" on:click=move |_| ctx.screen.set(Screen::Safety(peer))>
                    {move || if friend().is_some_and(|f| f.verified) { "✔ Verified" } else { "Safety number" }}
                </button>
            </div>
            <Show when=move || friend().is_some_and(|f| f.identity_changed)>
                <div class="warning" role="alert" data-held=move || friend().is_some_and(|f| f.held).to_string()>
                    {move || if friend().is_some_and(|f| f.held) {
                        format!("{}'s safety number changed. Your messages wait until you compare it again or choose to send anyway.", name())
                    } else {
                        format!("{}'s safety number changed (a new phone or browser, or Hush was upgraded). Compare it again before sharing anything sensitive.", name())
                    }}
                    <button class="link" on:click=move |_| ctx.screen.set(Screen::Safety(peer))>"Review"</button>
                    <button class="link" on:click=move |_| { if let Some(live) = ctx.live() { live.send(Cmd::ConfirmIdentity(peer)) } }>
                        {move || if friend().is_some_and(|f| f.held) { "Send anyway" } else { "Dismiss" }}
                    </button>
                </div>
            </Show>
            <div class="messages" node_ref=list role="log" aria-label="Messages" on:scroll=on_scroll>
                {move || {
                    let mut last_day = None;
                    messages().into_iter().map(|m| {
                        let day = time::day_key(m.created_at_ms);
                        let separator = (last_day != Some(day)).then(|| view! { <div class="day">{time::day_label(m.created_at_ms)}</div> });
                        let unread_mark = (Some(m.id) == first_unread).then(|| view! { <div class="day unread-mark">"Unread messages"</div> });
                        last_day = Some(day);
                        let mine = m.direction == Direction::Outgoing;
                        let tick = if mine { tick(m.status) } else { None };
                        let failed = matches!(m.status, Status::Failed | Status::Expired);
                        let id = m.id;
                        let body = match &m.body {
                            Body::Text { text } => view! { <span class="text">{text.clone()}</span> }.into_any(),
                            Body::Unsupported { .. } => view! { <span class="text undecryptable">"Unsupported message: this version of Hush cannot show it."</span> }.into_any(),
                            Body::Waiting { .. } => view! { <span class="text undecryptable">{icon(Icon::Clock)}" Waiting for this message: it could not be opened here, and the sender was asked to send it again."</span> }.into_any(),
                            Body::Undecryptable { .. } => view! { <span class="text undecryptable">{icon(Icon::Lock)}" This message could not be decrypted."</span> }.into_any(),
                        };
                        view! {
                            {separator}
                            {unread_mark}
                            <div class="bubble" class:mine=mine class:theirs=!mine data-status=format!("{:?}", m.status).to_ascii_lowercase()>
                                {body}
                                <span class="meta">
                                    {time::clock(m.created_at_ms)}
                                    {tick.map(|tick| view! { " " {tick} })}
                                </span>
                                {(mine && failed).then(|| view! {
                                    <button class="link retry" on:click=move |_| { if let Some(live) = ctx.live() { live.send(Cmd::Retry(id)) } }>"Retry"</button>
                                })}
                            </div>
                        }
                    }).collect_view()
                }}
            </div>
            <Show when=move || unseen_below.get()>
                <button class="jump" on:click=move |_| to_bottom()>"New messages ↓"</button>
            </Show>
            <form class="composer" on:submit=move |ev| { ev.prevent_default(); send() }>
                <textarea aria-label="Message" placeholder="Message" rows="1" prop:value=move || draft.get() on:input=on_input
                    on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Enter" && !ev.shift_key() { ev.prevent_default(); send() }>
                </textarea>
                <button type="submit" disabled=move || friend().is_none()>"Send"</button>
            </form>
        </div>
    }
}
