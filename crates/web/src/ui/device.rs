//! This browser as a device of the account: while its keys are being made, a short note;
//! while another tab runs Hush, that it continues here when that tab closes;
//! when the account is in use on another browser, what that means and the choice to start
//! again here (a new identity — the other browser stops, friends are told the safety
//! number changed); when this browser was removed from the account, that its data is
//! erased; when setting up failed, why.

use leptos::prelude::*;

use crate::live::{Cmd, DeviceState};
use crate::session::Ctx;

/// What to show instead of the screens while this browser is not a ready device; `None`
/// once it is.
pub fn gate(ctx: Ctx) -> Option<AnyView> {
    match ctx.live.device.get() {
        DeviceState::Ready => None,
        DeviceState::SettingUp => {
            Some(view! { <p class="loading" role="status">"Setting up this browser's keys…"</p> }.into_any())
        }
        DeviceState::Failed(reason) => Some(
            view! {
                <div class="card">
                    <h1>"This browser could not be set up"</h1>
                    <p role="alert">{reason}</p>
                    <p>"Reload the page to try again."</p>
                </div>
            }
            .into_any(),
        ),
        DeviceState::InUseElsewhere => Some(view! { <InUseElsewhere/> }.into_any()),
        DeviceState::Removed => Some(
            view! {
                <div class="card">
                    <h1>"This browser was removed from your account"</h1>
                    <p role="alert">"Another of your devices removed it, or Hush was started again on another browser. The messages and keys this browser held have been erased."</p>
                    <button on:click=move |_| {
                        let _ = web_sys::window().map(|w| w.location().reload());
                    }>"Continue"</button>
                </div>
            }
            .into_any(),
        ),
        DeviceState::OtherTab => Some(
            view! {
                <div class="card">
                    <h1>"Hush is open in another tab"</h1>
                    <p role="status">"One tab at a time keeps your keys in step. Close the other tab and Hush continues here."</p>
                </div>
            }
            .into_any(),
        ),
    }
}

/// The account is in use on another browser.
#[component]
fn InUseElsewhere() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let confirming = RwSignal::new(false);
    let start_again = move |_| {
        if let Some(live) = ctx.live() {
            live.send(Cmd::StartAgain);
        }
    };
    view! {
        <div class="card">
            <h1>"Hush is set up on another browser"</h1>
            <p>"Your account's keys live on the browser where you first used Hush. Messages go there, so this browser receives nothing and cannot read your past messages."</p>
            <p>"Keep using the other browser, or start again here."</p>
            <Show when=move || confirming.get()
                fallback=move || view! { <button class="danger" on:click=move |_| confirming.set(true)>"Start again on this browser"</button> }>
                <p role="alert">"Starting again makes a new identity on this browser. The other browser is signed out and stops working, messages waiting for it are not readable here, and your friends see that your safety number changed."</p>
                <button class="danger" on:click=start_again>"Start again here"</button>
                <button on:click=move |_| confirming.set(false)>"Cancel"</button>
            </Show>
        </div>
    }
}
