//! The service worker (`/sw.js`, written by `scripts/build-web.sh` with the build's file
//! list): registered when the app starts, so the next start works without a connection.
//! It serves the build it holds until the person accepts a newer one — the update flow:
//! a deploy installs a new worker that waits, [`Updates::ready`] turns on, the app offers
//! "Reload", and accepting posts `activate-update` to the waiting worker; when it takes
//! over, the page reloads into the new build.

use std::cell::Cell;
use std::rc::Rc;

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen_futures::JsFuture;
use web_sys::{ServiceWorkerContainer, ServiceWorkerRegistration, ServiceWorkerState};

/// How often a long-open tab asks whether a new build was deployed (browsers also look
/// on every navigation).
const CHECK_EVERY_MS: i32 = 60 * 60 * 1000;

/// The update flow's state, for the offer in the UI.
#[derive(Clone, Copy)]
pub struct Updates {
    /// A newer build is installed and waits for the person's go-ahead.
    pub ready: RwSignal<bool>,
    registration: StoredValue<Option<ServiceWorkerRegistration>, LocalStorage>,
    accepted: StoredValue<Rc<Cell<bool>>, LocalStorage>,
}

fn container() -> Option<ServiceWorkerContainer> {
    let navigator = web_sys::window()?.navigator();
    // Absent outside secure contexts (plain http to a non-local host).
    let present = js_sys::Reflect::has(&navigator, &"serviceWorker".into()).unwrap_or(false);
    present.then(|| navigator.service_worker())
}

/// Registers the service worker and follows its updates.
pub fn register() -> Updates {
    let updates = Updates {
        ready: RwSignal::new(false),
        registration: StoredValue::new_local(None),
        accepted: StoredValue::new_local(Rc::new(Cell::new(false))),
    };
    let Some(container) = container() else { return updates };
    // The new worker took over: reload into its build, but only when the person asked
    // (the first worker also takes over, on the first visit, with nothing to reload).
    let accepted = updates.accepted.get_value();
    let on_takeover = Closure::<dyn FnMut()>::new(move || {
        if accepted.get() {
            let _ = web_sys::window().map(|w| w.location().reload());
        }
    });
    container.set_oncontrollerchange(Some(on_takeover.as_ref().unchecked_ref()));
    on_takeover.forget();
    leptos::task::spawn_local(async move {
        let Ok(registration) = JsFuture::from(container.register("/sw.js")).await else {
            web_sys::console::warn_1(&"Hush could not register its service worker: no offline start".into());
            return;
        };
        let registration: ServiceWorkerRegistration = registration.unchecked_into();
        follow(&registration, updates);
        updates.registration.set_value(Some(registration.clone()));
        loop {
            crate::live::sleep(CHECK_EVERY_MS).await;
            let _ = registration.update();
        }
    });
    updates
}

/// Whether this page is served by a worker already (a waiting one is then an update).
fn controlled() -> bool {
    container().is_some_and(|c| c.controller().is_some())
}

fn follow(registration: &ServiceWorkerRegistration, updates: Updates) {
    if registration.waiting().is_some() && controlled() {
        updates.ready.set(true);
    }
    let watched = registration.clone();
    let on_update_found = Closure::<dyn FnMut()>::new(move || {
        let Some(installing) = watched.installing() else { return };
        let worker = installing.clone();
        let on_state = Closure::<dyn FnMut()>::new(move || {
            if worker.state() == ServiceWorkerState::Installed && controlled() {
                updates.ready.set(true);
            }
        });
        installing.set_onstatechange(Some(on_state.as_ref().unchecked_ref()));
        on_state.forget();
    });
    registration.set_onupdatefound(Some(on_update_found.as_ref().unchecked_ref()));
    on_update_found.forget();
}

/// The person accepted the update: the waiting worker takes over, then the page reloads.
pub fn accept(updates: Updates) {
    updates.accepted.get_value().set(true);
    let waiting = updates.registration.get_value().and_then(|r| r.waiting());
    match waiting {
        Some(worker) => {
            let _ = worker.post_message(&"activate-update".into());
        }
        None => {
            let _ = web_sys::window().map(|w| w.location().reload());
        }
    }
}
