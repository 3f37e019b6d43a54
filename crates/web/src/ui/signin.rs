//! Sign-in: phone number (with country) → code from the SMS → signed in.

use hush_shared::api::auth::{SendCodeRequest, SendCodeResponse, TokenResponse, VerifyCodeRequest};
use hush_shared::validate::phone_shape;
use leptos::prelude::*;

use crate::live::sleep;
use crate::session::{self, Ctx};

const COUNTRIES: &[(&str, &str)] = &[
    ("+1", "United States / Canada (+1)"),
    ("+44", "United Kingdom (+44)"),
    ("+49", "Germany (+49)"),
    ("+33", "France (+33)"),
    ("+39", "Italy (+39)"),
    ("+34", "Spain (+34)"),
    ("+31", "Netherlands (+31)"),
    ("+41", "Switzerland (+41)"),
    ("+91", "India (+91)"),
    ("+55", "Brazil (+55)"),
    ("+81", "Japan (+81)"),
    ("+61", "Australia (+61)"),
];

/// The sign-in screen.
#[component]
pub fn SignIn() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let country = RwSignal::new("+1".to_owned());
    let phone = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let sent_to = RwSignal::new(None::<String>);
    // Names this sign-in attempt: the server accepts the texted code only with it.
    let challenge = RwSignal::new(String::new());
    let countdown = RwSignal::new(0u64);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);

    let number = move || {
        let typed = phone.get_untracked();
        if typed.trim_start().starts_with('+') { typed } else { format!("{} {}", country.get_untracked(), typed) }
    };
    let start_countdown = move |secs: u64| {
        countdown.set(secs);
        leptos::task::spawn_local(async move {
            // The screen may be gone (signed in) before the countdown ends: stop quietly.
            while countdown.try_get_untracked().unwrap_or(0) > 0 {
                sleep(1000).await;
                if countdown.try_update(|c| *c = c.saturating_sub(1)).is_none() {
                    break;
                }
            }
        });
    };
    let send_code = move || {
        error.set(None);
        let number = number();
        if let Err(e) = phone_shape(&number) {
            error.set(Some(e.message));
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            let body = SendCodeRequest { phone: number };
            match crate::api::call::<SendCodeResponse>("POST", "/api/v1/auth/code", None, Some(&body)).await {
                Ok(r) => {
                    challenge.set(r.challenge);
                    sent_to.set(Some(r.phone));
                    start_countdown(r.resend_after);
                }
                Err(e) => {
                    if let Some(wait) = e.retry_after {
                        start_countdown(wait);
                    }
                    error.try_set(Some(e.message));
                }
            }
            busy.try_set(false);
        });
    };
    let verify = move || {
        let Some(phone) = sent_to.get_untracked() else { return };
        error.set(None);
        busy.set(true);
        leptos::task::spawn_local(async move {
            let body = VerifyCodeRequest {
                phone,
                challenge: challenge.get_untracked(),
                code: code.get_untracked().trim().to_owned(),
            };
            match crate::api::call::<TokenResponse>("POST", "/api/v1/auth/verify", None, Some(&body)).await {
                Ok(tokens) => session::start(ctx, tokens).await,
                Err(e) => {
                    error.try_set(Some(e.message));
                    busy.try_set(false);
                }
            }
        });
    };

    view! {
        <div class="card signin">
            <h1>"Hush"</h1>
            <p class="lead">"Private conversations, end-to-end encrypted."</p>
            <Show when=move || sent_to.get().is_none()
                fallback=move || view! {
                    <form on:submit=move |ev| { ev.prevent_default(); verify() }>
                        <p>"We sent a 6-digit code to " <strong>{move || sent_to.get().unwrap_or_default()}</strong></p>
                        <label for="code">"Code"</label>
                        <input id="code" aria-label="Code" inputmode="numeric" autocomplete="one-time-code" maxlength="6"
                            prop:value=move || code.get() on:input=move |ev| code.set(event_target_value(&ev))/>
                        <button type="submit" disabled=move || busy.get() || code.get().trim().len() != 6>"Sign in"</button>
                        <button type="button" class="link" disabled=move || { busy.get() || countdown.get() > 0 } on:click=move |_| send_code()>
                            {move || if countdown.get() > 0 { format!("Resend code in {} s", countdown.get()) } else { "Resend code".to_owned() }}
                        </button>
                        <button type="button" class="link" on:click=move |_| { sent_to.set(None); code.set(String::new()) }>"Use another number"</button>
                    </form>
                }>
                <form on:submit=move |ev| { ev.prevent_default(); send_code() }>
                    <label for="country">"Country"</label>
                    <select id="country" aria-label="Country" on:change=move |ev| country.set(event_target_value(&ev))>
                        {COUNTRIES.iter().map(|(dial, name)| view! { <option value=*dial selected=*dial == "+1">{*name}</option> }).collect_view()}
                    </select>
                    <label for="phone">"Phone number"</label>
                    <input id="phone" aria-label="Phone number" type="tel" autocomplete="tel" placeholder="650 253 0000"
                        prop:value=move || phone.get() on:input=move |ev| phone.set(event_target_value(&ev))/>
                    <button type="submit" disabled=move || { busy.get() || phone.get().trim().is_empty() || countdown.get() > 0 }>
                        {move || if countdown.get() > 0 { format!("Send code ({} s)", countdown.get()) } else { "Send code".to_owned() }}
                    </button>
                </form>
            </Show>
            {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        </div>
    }
}
