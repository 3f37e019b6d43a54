//! The safety number with a friend, over both account identities: 60 digits and a QR code to
//! compare in person. Marking the friend verified is remembered until their identity
//! changes — on every device and through re-friending.

use hush_shared::UserId;
use leptos::prelude::*;
use qrcode::QrCode;
use qrcode::render::svg;

use crate::live::Cmd;
use crate::session::{Ctx, Screen};

/// The safety-number screen.
#[component]
pub fn Safety(peer: UserId) -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let number = LocalResource::new(move || {
        ctx.live.keys_version.get();
        async move { ctx.live()?.ask(|done| Cmd::SafetyNumber(peer, done)).await.flatten() }
    });
    let friend = move || ctx.friends.get().into_iter().find(|f| f.user_id == peer);
    let set_verified = move |verified: bool| {
        if let Some(live) = ctx.live() {
            live.send(Cmd::Verify(peer, verified));
        }
        leptos::task::spawn_local(crate::session::sync_friends(ctx));
    };
    view! {
        <div class="safety">
            <button class="link" aria-label="Back to chat" on:click=move |_| ctx.screen.set(Screen::Chat(peer))>"← Back"</button>
            <h1>{move || format!("Safety number with {}", friend().map(|f| f.name).unwrap_or_default())}</h1>
            <p>"Compare these digits with the ones on your friend's screen, side by side or read aloud on a call you trust. If they match, nobody is in between."</p>
            <Suspense fallback=|| view! { <p>"Computing…"</p> }>
                {move || number.get().map(|n| match n {
                    Some(n) => {
                        let svg = QrCode::new(n.qr_payload()).map(|c| c.render::<svg::Color<'_>>().min_dimensions(200, 200).build()).unwrap_or_default();
                        let groups: Vec<String> = n.grouped().split(' ').map(str::to_owned).collect();
                        view! {
                            <div class="digits" aria-label="Safety number" data-digits=n.digits().to_owned()>
                                {groups.into_iter().map(|g| view! { <span>{g}</span> }).collect_view()}
                            </div>
                            <div class="qr" role="img" aria-label="Safety number QR code" inner_html=svg></div>
                        }.into_any()
                    }
                    None => view! { <p class="error">"No safety number yet: it appears once both of you have set Hush up on a device."</p> }.into_any(),
                })}
            </Suspense>
            <Show when=move || friend().is_some_and(|f| f.verified)
                fallback=move || view! { <button on:click=move |_| set_verified(true)>"Mark as verified"</button> }>
                <p class="ok">"✔ Verified"</p>
                <button on:click=move |_| set_verified(false)>"Clear verification"</button>
            </Show>
        </div>
    }
}
