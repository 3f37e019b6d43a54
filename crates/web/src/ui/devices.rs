//! The devices screen in Settings: each browser of the account — its name, when it was
//! added and last connected, which one is this browser — and removing another one, after
//! confirming: its connections close at once, it erases what it holds, and friends' apps
//! stop encrypting for it.

use hush_shared::DeviceId;
use hush_shared::api::devices::{Device, DeviceList};
use leptos::prelude::*;

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
            match ctx.call::<serde_json::Value>("DELETE", &path, None::<&()>).await {
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
    view! {
        <section aria-labelledby="devices-heading">
            <h3 id="devices-heading">"Devices"</h3>
            {move || match devices.get() {
                None => view! { <p role="status">"Loading your devices…"</p> }.into_any(),
                Some(list) => view! { <ul class="devices">{list.into_iter().map(row).collect_view()}</ul> }.into_any(),
            }}
        </section>
    }
}
