//! One tab at a time runs the engine for an account. Every tab of a browser profile shares
//! the account's IndexedDB, and two engines on the same sessions would each advance the
//! same ratchet — sealing two messages with one message key — and allocate the same prekey
//! ids. So the actor first takes a Web Lock named after the account
//! (`navigator.locks.request`); a second tab waits (and says so) until the first closes.
//! The lock is held by a promise that resolves only on sign-out, or when the tab goes.

use std::cell::RefCell;
use std::rc::Rc;

use futures::channel::oneshot;
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// The lock, while this tab holds it.
pub struct TabLock {
    release: Option<Function>,
}

impl TabLock {
    /// Waits until this tab holds the lock `name`. Browsers without Web Locks get no lock
    /// (and a console warning): the app then runs as before, one engine per tab.
    pub async fn acquire(name: &str) -> Self {
        match Self::request(name).await {
            Ok(release) => Self { release: Some(release) },
            Err(e) => {
                web_sys::console::warn_2(&"Web Locks unavailable; running without the one-tab lock".into(), &e);
                Self { release: None }
            }
        }
    }

    async fn request(name: &str) -> Result<Function, JsValue> {
        let navigator = web_sys::window().ok_or("no window")?.navigator();
        let locks = Reflect::get(&navigator, &"locks".into())?;
        let request: Function = Reflect::get(&locks, &"request".into())?.dyn_into()?;
        let (tx, rx) = oneshot::channel::<Function>();
        let tx = Rc::new(RefCell::new(Some(tx)));
        let granted = Closure::once_into_js(move |_lock: JsValue| -> JsValue {
            // The lock lasts until this promise settles: resolved on sign-out.
            Promise::new(&mut |resolve, _reject| {
                if let Some(tx) = tx.borrow_mut().take() {
                    let _ = tx.send(resolve);
                }
            })
            .into()
        });
        request.call2(&locks, &JsValue::from_str(name), &granted)?;
        rx.await.map_err(|_| JsValue::from_str("the lock request was dropped"))
    }

    /// Lets the next tab take over.
    pub fn release(mut self) {
        if let Some(release) = self.release.take() {
            let _ = release.call0(&JsValue::NULL);
        }
    }
}
