//! Friends: add by phone number, incoming requests to accept or decline, outgoing ones to
//! cancel, and friends to unfriend or block.

use hush_shared::UserId;
use hush_shared::api::friends::{CreateFriendRequest, Friend, FriendRequest};
use hush_shared::api::users::PublicUser;
use hush_shared::validate::phone_shape;
use leptos::prelude::*;

use crate::session::{self, Ctx, Screen};

fn encode(phone: &str) -> String {
    phone.replace('+', "%2B")
}

async fn add_friend(ctx: Ctx, typed: String) -> Result<String, String> {
    let phone = phone_shape(&typed).map_err(|e| e.message)?;
    let person = ctx
        .call::<PublicUser>("GET", &format!("/api/v1/users/lookup?phone={}", encode(&phone)), None::<&()>)
        .await
        .map_err(|e| e.message)?;
    let body = CreateFriendRequest { user_id: person.user_id };
    ctx.call::<FriendRequest>("POST", "/api/v1/friends/requests", Some(&body)).await.map_err(|e| e.message)?;
    Ok(format!("Request sent to {}", person.display_name.unwrap_or(phone)))
}

/// The other person of a request: their display name and, because anyone can choose any
/// name, their phone number — or the number alone.
fn person(r: &FriendRequest) -> impl IntoView + use<> {
    let number = r.display_name.is_some().then(|| view! { <span class="phone">{r.phone.clone()}</span> });
    view! {
        <span class="person">{r.display_name.clone().unwrap_or_else(|| r.phone.clone())}{number}</span>
    }
}

/// Accepts a request; the friend sync that follows records the new friend's identity.
async fn accept(ctx: Ctx, request: FriendRequest) {
    match ctx.call::<Friend>("POST", &format!("/api/v1/friends/requests/{}/accept", request.id), None::<&()>).await {
        Ok(_) => session::sync_friends(ctx).await,
        Err(e) => ctx.fail(&e),
    }
}

async fn act(ctx: Ctx, method: &str, path: String) {
    match ctx.call::<serde::de::IgnoredAny>(method, &path, None::<&()>).await {
        Ok(_) => session::sync_friends(ctx).await,
        Err(e) => ctx.fail(&e),
    }
}

/// The friends screen.
#[component]
pub fn Friends() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let phone = RwSignal::new(String::new());
    let result = RwSignal::new(None::<Result<String, String>>);
    let busy = RwSignal::new(false);
    let submit = move || {
        busy.set(true);
        leptos::task::spawn_local(async move {
            let outcome = add_friend(ctx, phone.get_untracked()).await;
            if outcome.is_ok() {
                phone.try_set(String::new());
                session::sync_friends(ctx).await;
            }
            // The person may have left this screen meanwhile.
            result.try_set(Some(outcome));
            busy.try_set(false);
        });
    };
    view! {
        <h1>"Friends"</h1>
        <form class="add-friend" on:submit=move |ev| { ev.prevent_default(); submit() }>
            <label for="friend-phone">"Friend's phone number"</label>
            <input id="friend-phone" aria-label="Friend's phone number" type="tel" placeholder="+1 650 253 0000"
                prop:value=move || phone.get() on:input=move |ev| phone.set(event_target_value(&ev))/>
            <button type="submit" disabled=move || busy.get() || phone.get().trim().is_empty()>"Add friend"</button>
        </form>
        {move || result.get().map(|r| match r {
            Ok(text) => view! { <p class="ok" role="status">{text}</p> }.into_any(),
            Err(text) => view! { <p class="error" role="alert">{text}</p> }.into_any(),
        })}
        <Show when=move || !ctx.requests.get().incoming.is_empty()>
            <h3>"Requests for you"</h3>
            <ul class="requests" aria-label="Incoming requests">
                {move || ctx.requests.get().incoming.into_iter().map(|r| {
                    let (for_accept, id) = (r.clone(), r.id);
                    view! {
                        <li>
                            {person(&r)}
                            <button aria-label="Accept" on:click=move |_| { let r = for_accept.clone(); leptos::task::spawn_local(accept(ctx, r)) }>"Accept"</button>
                            <button class="secondary" aria-label="Decline" on:click=move |_| leptos::task::spawn_local(act(ctx, "POST", format!("/api/v1/friends/requests/{id}/decline")))>"Decline"</button>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </Show>
        <Show when=move || !ctx.requests.get().outgoing.is_empty()>
            <h3>"Waiting for an answer"</h3>
            <ul class="requests" aria-label="Outgoing requests">
                {move || ctx.requests.get().outgoing.into_iter().map(|r| {
                    let id = r.id;
                    view! {
                        <li>
                            {person(&r)}
                            <button class="secondary" on:click=move |_| leptos::task::spawn_local(act(ctx, "DELETE", format!("/api/v1/friends/requests/{id}")))>"Cancel"</button>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </Show>
        <h3>"Your friends"</h3>
        <ul class="friends" aria-label="Friends">
            {move || ctx.friends.get().into_iter().map(|f| {
                let id: UserId = f.user_id;
                view! {
                    <li>
                        <button class="link" on:click=move |_| ctx.screen.set(Screen::Chat(id))>{f.name.clone()}</button>
                        {f.verified.then(|| view! { <span class="verified" aria-label="verified">"✔"</span> })}
                        <button on:click=move |_| leptos::task::spawn_local(act(ctx, "DELETE", format!("/api/v1/friends/{id}")))>"Unfriend"</button>
                        <button class="danger" on:click=move |_| leptos::task::spawn_local(act(ctx, "POST", format!("/api/v1/blocks/{id}")))>"Block"</button>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}
