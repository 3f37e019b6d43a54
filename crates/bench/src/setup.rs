//! Accounts, devices and friendships for a run, made through the real HTTP API. Each person
//! signs in from their own loopback address so the per-IP sign-in limits hold, and
//! registers a device (real keys, a few prekeys) so the server delivers to them.

use hush_crypto::{IdentityKeyPair, KeyPair, LocalDevice};
use hush_shared::{DeviceId, UserId};
use serde_json::{Value, json};

use crate::server::Server;
use crate::wire::source_ip;

/// A signed-in person.
#[derive(Clone, Debug)]
pub struct Person {
    /// Their id.
    pub id: UserId,
    /// Their device.
    pub device: DeviceId,
    /// Access token (15 minutes).
    pub token: String,
    /// Their loopback source address.
    pub ip: std::net::IpAddr,
}

/// Signs in person number `n` (+1 650 253 nnnn).
pub async fn person(server: &Server, n: usize) -> Person {
    let ip = source_ip(n);
    let http = reqwest::Client::builder().local_address(ip).build().expect("http client");
    let phone = format!("+1650253{n:04}");
    let r = http
        .post(format!("{}/api/v1/auth/code", server.url))
        .json(&json!({ "phone": phone }))
        .send()
        .await
        .expect("code");
    assert_eq!(r.status().as_u16(), 202, "{}", r.text().await.unwrap_or_default());
    let code = server.code_for(&phone).await;
    let body: Value = http
        .post(format!("{}/api/v1/auth/verify", server.url))
        .json(&json!({ "phone": phone, "code": code }))
        .send()
        .await
        .expect("verify")
        .json()
        .await
        .expect("json");
    let id: UserId = body["user"]["user_id"].as_str().and_then(|s| s.parse().ok()).expect("user id");
    let token = body["access_token"].as_str().expect("token").to_owned();
    let device = register_device(server, &http, id, &token).await;
    Person { id, device, token, ip }
}

/// Registers a device with fresh keys for `user`.
async fn register_device(server: &Server, http: &reqwest::Client, user: UserId, token: &str) -> DeviceId {
    let device = DeviceId::new();
    let local =
        LocalDevice::new(*user.as_bytes(), *device.as_bytes(), IdentityKeyPair::generate(), KeyPair::generate());
    let spk = KeyPair::generate();
    let body = json!({
        "device_id": device,
        "identity_key": local.identity.public().to_wire(),
        "device_key": local.device_key.public().to_wire(),
        "certificate": local.certificate.to_wire(),
        "signed_prekey": { "id": 1, "public_key": spk.public().to_wire(), "signature": local.sign_prekey(1, spk.public()).to_wire() },
        "one_time_prekeys": [],
    });
    let r = http
        .post(format!("{}/api/v1/devices", server.url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("register");
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap_or_default());
    device
}

/// Makes `a` and `b` friends.
pub async fn befriend(server: &Server, a: &Person, b: &Person) {
    let http = reqwest::Client::new();
    let r: Value = http
        .post(format!("{}/api/v1/friends/requests", server.url))
        .bearer_auth(&a.token)
        .json(&json!({ "user_id": b.id }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let id = r["id"].as_str().expect("request id");
    let r = http
        .post(format!("{}/api/v1/friends/requests/{id}/accept", server.url))
        .bearer_auth(&b.token)
        .send()
        .await
        .expect("accept");
    assert!(r.status().is_success());
}

/// `pairs` pairs of friends: people 2i and 2i+1.
pub async fn pairs(server: &Server, pairs: usize) -> Vec<(Person, Person)> {
    let mut out = Vec::with_capacity(pairs);
    for i in 0..pairs {
        let (a, b) = (person(server, 2 * i).await, person(server, 2 * i + 1).await);
        befriend(server, &a, &b).await;
        out.push((a, b));
    }
    out
}
