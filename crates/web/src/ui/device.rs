//! This browser as a device of the account: while its keys are being made, a short note;
//! while another tab runs Hush, that it continues here when that tab closes;
//! when the account has devices elsewhere, linking this browser from one of them (the code
//! to type there, then the comparison code) or starting again here (a new identity — the
//! other devices stop, friends are told the safety number changed); when this browser was removed from the account, that its data is
//! erased; when setting up failed, why; when the session ended, signing in again.

use leptos::prelude::*;

use qrcode::QrCode;
use qrcode::render::svg;

use crate::linking::{LinkView, grouped};
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
        DeviceState::SignedOut => Some(
            view! {
                <div class="card">
                    <h1>"You were signed out"</h1>
                    <p role="alert">"Your session on this browser ended (you signed out elsewhere, or it was unused for too long). Your messages stay on this browser."</p>
                    <button on:click=move |_| crate::session::reset(ctx)>"Sign in again"</button>
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

/// The account has devices elsewhere: link this browser from one of them (the code to
/// type there, then the comparison code), or start again here.
#[component]
fn InUseElsewhere() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let confirming = RwSignal::new(false);
    let send = move |cmd: Cmd| {
        if let Some(live) = ctx.live() {
            live.send(cmd);
        }
    };
    if ctx.live.linking.get_untracked() == LinkView::Idle {
        send(Cmd::LinkRequest);
    }
    let stage = move || match ctx.live.linking.get() {
        LinkView::Idle | LinkView::Busy | LinkView::Sent => {
            view! { <p role="status">"Preparing a code…"</p> }.into_any()
        }
        LinkView::Showing(code) => {
            let svg = QrCode::new(code.as_bytes())
                .map(|c| c.render::<svg::Color<'_>>().min_dimensions(160, 160).build())
                .unwrap_or_default();
            view! {
                <p>"On a device where Hush is set up, open Settings, choose “Link a new browser” and type this code:"</p>
                <p class="link-code" aria-label="Link code">{grouped(&code)}</p>
                <div class="qr" role="img" aria-label="Link code as a QR code" inner_html=svg></div>
                <p class="muted" role="status">"Waiting for your device… The code works for 10 minutes."</p>
            }
            .into_any()
        }
        LinkView::Compare(code) => view! {
            <p>"Check that your device shows the same number, then confirm there:"</p>
            <p class="link-code" aria-label="Comparison code">{grouped(&code)}</p>
        }
        .into_any(),
        LinkView::Receiving(done, total) | LinkView::Sending(done, total) => view! {
            <p role="status">"Receiving your recent messages…"</p>
            <progress aria-label="Recent messages received" max=total value=done></progress>
        }
        .into_any(),
        LinkView::Failed(why) => view! {
            <p role="alert">{why}</p>
            <button on:click=move |_| send(Cmd::LinkRequest)>"Get a new code"</button>
        }
        .into_any(),
    };
    view! {
        <div class="card">
            <h1>"Link this browser"</h1>
            <p>"Your account is set up on another device. Link this browser from it to use Hush here too: your messages will reach both."</p>
            {stage}
            <h2>"No other device?"</h2>
            <Show when=move || confirming.get()
                fallback=move || view! { <button class="danger" on:click=move |_| confirming.set(true)>"Start again on this browser"</button> }>
                <p role="alert">"Starting again makes a new identity on this browser. Your other devices are signed out and stop working, messages waiting for them are not readable here, and your friends see that your safety number changed."</p>
                <button class="danger" on:click=move |_| send(Cmd::StartAgain)>"Start again here"</button>
                <button on:click=move |_| confirming.set(false)>"Cancel"</button>
            </Show>
        </div>
    }
}
