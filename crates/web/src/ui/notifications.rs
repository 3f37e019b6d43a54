//! Settings → Notifications: whether this device gets a notification when a message
//! arrives while Hush is closed, and the switch. Permission is asked only when the person
//! turns them on.

use leptos::prelude::*;

use crate::notifications::{self, PushState};
use crate::session::Ctx;

/// The notifications section of the settings.
#[component]
pub fn Notifications() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let version = RwSignal::new(0u32);
    let failure = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let state = LocalResource::new(move || {
        version.get();
        notifications::state()
    });
    let switch = move |on: bool| {
        busy.set(true);
        failure.set(None);
        leptos::task::spawn_local(async move {
            let done = if on { notifications::turn_on(ctx).await } else { notifications::turn_off(ctx).await };
            if let Err(e) = done {
                let what = if on { "turn on" } else { "turn off" };
                failure.set(Some(format!("Could not {what} notifications: {e}.")));
            }
            busy.set(false);
            version.update(|v| *v += 1);
        });
    };
    view! {
        <section class="notifications" aria-labelledby="notifications-title">
            <h2 id="notifications-title">"Notifications"</h2>
            <Suspense fallback=|| ()>
                {move || state.get().map(|state| match state {
                    PushState::Unsupported => view! { <p>"This browser cannot show notifications from Hush."</p> }.into_any(),
                    PushState::Blocked => view! { <p>"Notifications are blocked for Hush in this browser's site settings."</p> }.into_any(),
                    PushState::Off => view! {
                        <p>"Get a notification when a message arrives while Hush is closed. It says who wrote, never what."</p>
                        <button disabled=move || busy.get() on:click=move |_| switch(true)>"Turn on notifications"</button>
                    }.into_any(),
                    PushState::On => view! {
                        <p>"On: a notification tells you when a message arrives while Hush is closed."</p>
                        <button class="secondary" disabled=move || busy.get() on:click=move |_| switch(false)>"Turn off notifications"</button>
                    }.into_any(),
                })}
            </Suspense>
            {move || failure.get().map(|f| view! { <p class="error" role="alert">{f}</p> })}
        </section>
    }
}
