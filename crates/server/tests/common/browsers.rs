//! A person's browsers in tests: each signs in again, registers a device under the
//! person's identity (the first directly, further ones linked from a registered device
//! through the real server) and holds a socket that has caught up.

use hush_crypto::IdentityKeyPair;
use reqwest::StatusCode;
use serde_json::json;

use super::devices::TestDevice;
use super::linking;
use super::ws::{Ws, authed, until};
use super::{Person, TestApp};

/// One browser of a person: its sign-in, its device id (once registered) and its socket.
pub struct Browser {
    pub person: Person,
    pub device: String,
    pub ws: Ws,
}

/// Signs `phone` in again (a new browser) and registers a device under `identity`: the
/// first one directly, further ones linked from the device signed in as `linked_from`.
pub async fn browser(app: &TestApp, phone: &str, identity: &IdentityKeyPair, linked_from: Option<&Person>) -> Browser {
    let person = sign_in_again(app, phone).await;
    let mut device = TestDevice::with_identity(&person.user_id, identity.clone());
    let mut body = device.registration(3);
    if let Some(approver) = linked_from {
        let requester = (person.token.as_str(), person.user_id.parse().unwrap());
        let store = hush_client::MemoryStore::default();
        body["link_id"] = json!(linking::link(&app.base, (&approver.token, identity, &[]), requester, &store).await);
    }
    let r = app.post("/api/v1/devices", Some(&person.token), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let mut ws = authed(app, &person).await;
    until(&mut ws, "caught_up").await;
    Browser { person, device: device.device_id(), ws }
}

/// Another sign-in of `phone`, past the 30 s between two codes for one number.
pub async fn sign_in_again(app: &TestApp, phone: &str) -> Person {
    app.clock.advance(31);
    app.sign_in(phone, None).await
}
