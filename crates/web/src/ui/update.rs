//! The offer to move to a newer build of Hush, shown above every screen once one is
//! installed (see [`crate::app_worker`]); announced politely to screen readers.

use leptos::prelude::*;

use crate::app_worker::{self, Updates};

/// "A new version of Hush is ready" with a Reload button, while one waits.
#[component]
pub fn UpdateOffer(updates: Updates) -> impl IntoView {
    view! {
        <div role="status" class="update-slot">
            {move || updates.ready.get().then(|| view! {
                <div class="banner update">
                    <span>"A new version of Hush is ready."</span>
                    <button on:click=move |_| app_worker::accept(updates)>"Reload"</button>
                </div>
            })}
        </div>
    }
}
