//! First-run display name, and settings: rename, the devices (`devices`), log out (which
//! wipes this browser's keys and messages, after saying so), delete the account.

use hush_shared::api::account::{UpdateMeRequest, User};
use hush_shared::validate::display_name;
use leptos::prelude::*;

use crate::live::Cmd;
use crate::session::{self, Ctx, Screen};

async fn save_name(ctx: Ctx, name: String) -> bool {
    if let Err(e) = display_name(&name) {
        ctx.notice.set(Some(e.message));
        return false;
    }
    match ctx.call::<User>("PATCH", "/api/v1/me", Some(&UpdateMeRequest { display_name: name })).await {
        Ok(user) => {
            session::remember(&user);
            ctx.me.set(Some(user));
            ctx.notice.set(None);
            true
        }
        Err(e) => {
            ctx.fail(&e);
            false
        }
    }
}

/// First run: choose a display name.
#[component]
pub fn Setup() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let name = RwSignal::new(String::new());
    let save = move || {
        leptos::task::spawn_local(async move {
            if save_name(ctx, name.get_untracked()).await {
                ctx.screen.set(Screen::Chats);
            }
        })
    };
    view! {
        <div class="card">
            <h1>"Welcome to Hush"</h1>
            <p>"Choose the name your friends will see."</p>
            <form on:submit=move |ev| { ev.prevent_default(); save() }>
                <label for="display-name">"Display name"</label>
                <input id="display-name" aria-label="Display name" maxlength="64" prop:value=move || name.get()
                    on:input=move |ev| name.set(event_target_value(&ev))/>
                <button type="submit" disabled=move || name.get().trim().is_empty()>"Continue"</button>
            </form>
            {move || ctx.notice.get().map(|n| view! { <p class="error" role="alert">{n}</p> })}
        </div>
    }
}

/// Erases this browser's database through the live actor (which owns it), removing this
/// device from the account first when `remove_device`.
async fn wipe(ctx: Ctx, remove_device: bool) {
    if let Some(live) = ctx.live() {
        live.ask(|done| Cmd::Wipe { remove_device, done }).await;
    }
}

/// Logs out: removes this browser's device (its prekeys go with it), erases the local
/// database, and ends the session.
async fn log_out(ctx: Ctx) {
    wipe(ctx, true).await;
    let _ = crate::api::call_empty("POST", "/api/v1/auth/logout", ctx.token().as_deref()).await;
    session::reset(ctx);
}

/// Settings.
#[component]
pub fn Settings() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let name = RwSignal::new(ctx.me.get_untracked().and_then(|u| u.display_name).unwrap_or_default());
    let confirm_delete = RwSignal::new(false);
    let confirm_logout = RwSignal::new(false);
    let logout = move |_| leptos::task::spawn_local(log_out(ctx));
    let delete = move |_| {
        leptos::task::spawn_local(async move {
            match crate::api::call_empty("DELETE", "/api/v1/me", ctx.token().as_deref()).await {
                Ok(()) => {
                    wipe(ctx, false).await;
                    session::reset(ctx);
                }
                Err(e) => ctx.fail(&e),
            }
        })
    };
    view! {
        <h1>"Settings"</h1>
        <p>"Signed in as " <strong>{move || ctx.me.get().map(|u| u.phone).unwrap_or_default()}</strong></p>
        <form on:submit=move |ev| { ev.prevent_default(); leptos::task::spawn_local(async move { save_name(ctx, name.get_untracked()).await; }) }>
            <label for="settings-name">"Display name"</label>
            <input id="settings-name" aria-label="Display name" maxlength="64" prop:value=move || name.get()
                on:input=move |ev| name.set(event_target_value(&ev))/>
            <button type="submit">"Save"</button>
        </form>
        <crate::ui::notifications::Notifications/>
        <crate::ui::devices::Devices/>
        // Apart from everything above, each asks again before it acts.
        <section class="leave" aria-labelledby="leave-heading">
            <h2 id="leave-heading">"Leave"</h2>
            <Show when=move || confirm_logout.get()
                fallback=move || view! { <button on:click=move |_| confirm_logout.set(true)>"Log out"</button> }>
                <p role="alert">"Logging out erases this browser's keys and every message on it, and removes it from your devices. Signing in here again starts a new identity: your friends will see that your safety number changed."</p>
                <button class="danger" on:click=logout>"Log out and erase this browser"</button>
                <button on:click=move |_| confirm_logout.set(false)>"Stay signed in"</button>
            </Show>
            <Show when=move || confirm_delete.get()
                fallback=move || view! { <button class="danger" on:click=move |_| confirm_delete.set(true)>"Delete account"</button> }>
                <p role="alert">"This deletes your account, friendships and keys. Messages on this device are erased."</p>
                <button class="danger" on:click=delete>"Delete my account for good"</button>
                <button on:click=move |_| confirm_delete.set(false)>"Keep my account"</button>
            </Show>
        </section>
    }
}
