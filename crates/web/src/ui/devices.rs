//! The devices screen in Settings: each browser of the account — its name, when it was
//! added and last connected, which one is this browser — removing another one, after
//! confirming (its connections close at once, it erases what it holds, and friends' apps
//! stop encrypting for it), and linking a new browser by the code it shows, after
//! comparing the number both screens show.

use hush_shared::DeviceId;
use hush_shared::api::devices::{Device, DeviceList};
use leptos::prelude::*;

use crate::linking::{LinkView, grouped};
use crate::live::Cmd;
use crate::session::Ctx;
use crate::time::{day_label, list_time};

fn label(device: &Device) -> String {
    device.name.clone().unwrap_or_else(|| "Unnamed browser".into())
}

/// The list, with a confirmed remove for each other device.
#[component]
pub fn Devices() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let devices = RwSignal::new(None::<Vec<Device>>);
    let confirming = RwSignal::new(None::<DeviceId>);
    let load = move || {
        leptos::task::spawn_local(async move {
            match ctx.call::<DeviceList>("GET", "/api/v1/devices", None::<&()>).await {
                Ok(list) => devices.set(Some(list.devices)),
                Err(e) => ctx.fail(&e),
            }
        })
    };
    load();
    let remove = move |device: DeviceId| {
        leptos::task::spawn_local(async move {
            let path = format!("/api/v1/devices/{device}");
            match ctx.call::<serde::de::IgnoredAny>("DELETE", &path, None::<&()>).await {
                Ok(_) => {
                    confirming.set(None);
                    load();
                }
                Err(e) => ctx.fail(&e),
            }
        })
    };
    let row = move |device: Device| {
        let id = device.device_id;
        let name = label(&device);
        let added = format!("Added {}", day_label(device.created_at * 1000));
        let seen = match device.last_seen {
            Some(at) => format!("last active {}", list_time(at * 1000)),
            None => "never connected".into(),
        };
        let current = device.current;
        let warning = StoredValue::new(format!(
            "Remove {name}? It is signed out at once and erases the keys and messages it holds; your friends' apps stop encrypting for it."
        ));
        view! {
            <li class="device">
                <strong>{name.clone()}</strong>
                {current.then(|| view! { " " <span class="badge-muted">"This browser"</span> })}
                <p class="muted">{added} " · " {seen}</p>
                <Show when=move || !current>
                    <Show when=move || confirming.get() == Some(id)
                        fallback=move || view! { <button class="danger" on:click=move |_| confirming.set(Some(id))>"Remove"</button> }>
                        <p role="alert">{move || warning.get_value()}</p>
                        <button class="danger" on:click=move |_| remove(id)>"Remove this device"</button>
                        <button on:click=move |_| confirming.set(None)>"Keep it"</button>
                    </Show>
                </Show>
            </li>
        }
    };
    // A linked browser registers a moment after the identity is sent: list it then.
    Effect::new(move |_| {
        if ctx.live.linking.get() == LinkView::Sent {
            leptos::task::spawn_local(async move {
                crate::live::sleep(3000).await;
                load();
            });
        }
    });
    view! {
        <section aria-labelledby="devices-heading">
            <h2 id="devices-heading">"Devices"</h2>
            {move || match devices.get() {
                None => view! { <p role="status">"Loading your devices…"</p> }.into_any(),
                Some(list) => view! { <ul class="devices">{list.into_iter().map(row).collect_view()}</ul> }.into_any(),
            }}
            <LinkNewBrowser/>
        </section>
    }
}

/// Approving a new browser: type the code it shows, compare the numbers, confirm.
#[component]
fn LinkNewBrowser() -> impl IntoView {
    let ctx = expect_context::<Ctx>();
    let entering = RwSignal::new(false);
    let code = RwSignal::new(String::new());
    let with_history = RwSignal::new(true);
    let send = move |cmd: Cmd| {
        if let Some(live) = ctx.live() {
            live.send(cmd);
        }
    };
    let join = move || {
        entering.set(false);
        send(Cmd::LinkJoin(code.get_untracked()));
        code.set(String::new());
    };
    let form = move || {
        view! {
            <form on:submit=move |ev| { ev.prevent_default(); join() }>
                <label for="link-code">"Code shown on the new browser"</label>
                <input id="link-code" inputmode="numeric" autocomplete="off" maxlength="12" prop:value=move || code.get()
                    on:input=move |ev| code.set(event_target_value(&ev))/>
                <button type="submit" disabled=move || code.get().trim().is_empty()>"Link"</button>
                <button type="button" on:click=move |_| entering.set(false)>"Cancel"</button>
            </form>
        }
    };
    let start = move || {
        view! {
            <Show when=move || entering.get()
                fallback=move || view! { <button on:click=move |_| entering.set(true)>"Link a new browser"</button> }>
                {form}
            </Show>
        }
    };
    move || {
        match ctx.live.linking.get() {
        LinkView::Idle | LinkView::Showing(_) => start().into_any(),
        LinkView::Busy => view! {
            <p role="status">"Waiting for the new browser…"</p>
            <button on:click=move |_| send(Cmd::LinkCancel)>"Cancel"</button>
        }
        .into_any(),
        LinkView::Compare(number) => view! {
            <p>"Does the new browser show this number?"</p>
            <p class="link-code" aria-label="Comparison code">{grouped(&number)}</p>
            <p class="muted">"Only link it if the numbers match: it will read and send your messages."</p>
            <label>
                <input type="checkbox" prop:checked=move || with_history.get()
                    on:change=move |ev| with_history.set(event_target_checked(&ev))/>
                " Also send my messages of the last 30 days"
            </label>
            <button on:click=move |_| send(Cmd::LinkConfirm { with_history: with_history.get_untracked() })>"They match: link it"</button>
            <button class="danger" on:click=move |_| send(Cmd::LinkCancel)>"They differ: cancel"</button>
        }
        .into_any(),
        LinkView::Sending(done, total) | LinkView::Receiving(done, total) => view! {
            <p role="status">"Sending your recent messages…"</p>
            <progress aria-label="Recent messages sent" max=total value=done></progress>
        }
        .into_any(),
        LinkView::Sent => view! {
            <p role="status">"Linked. The new browser is finishing its set-up and appears in this list."</p>
            {start()}
        }
        .into_any(),
        LinkView::Failed(why) => view! {
            <p role="alert">{why}</p>
            {start()}
        }
        .into_any(),
    }
    }
}
