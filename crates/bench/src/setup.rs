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

/// Signs in person number `n` (+1 650 253 nnnn) with a device under a new identity.
pub async fn person(server: &Server, n: usize) -> Person {
    device_of(server, n, &IdentityKeyPair::generate(), None).await
}

/// Signs person number `n` in (again: one more browser) and registers a device under
/// `identity`: their first device, or another one, linked from the device `linked_from`
/// (`docs/CRYPTO.md` §13, the client crate's two sides through the real server).
pub async fn device_of(server: &Server, n: usize, identity: &IdentityKeyPair, linked_from: Option<&Person>) -> Person {
    let ip = source_ip(n);
    let http = reqwest::Client::builder().local_address(ip).build().expect("http client");
    let phone = format!("+1650253{n:04}");
    let seen = server.codes_sent_to(&phone);
    let r = http
        .post(format!("{}/api/v1/auth/code", server.url))
        .json(&json!({ "phone": phone }))
        .send()
        .await
        .expect("code");
    assert_eq!(r.status().as_u16(), 202, "{}", r.text().await.unwrap_or_default());
    let sent: Value = r.json().await.expect("code answer");
    let code = server.code_for(&phone, seen).await;
    let body: Value = http
        .post(format!("{}/api/v1/auth/verify", server.url))
        .json(&json!({ "phone": phone, "challenge": sent["challenge"], "code": code }))
        .send()
        .await
        .expect("verify")
        .json()
        .await
        .expect("json");
    let id: UserId = body["user"]["user_id"].as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{body}"));
    let token = body["access_token"].as_str().expect("token").to_owned();
    let link = match linked_from {
        Some(approver) => Some(link(server, (&approver.token, identity), (&token, id)).await),
        None => None,
    };
    let device = register_device(server, &http, (id, &token), identity, link).await;
    Person { id, device, token, ip }
}

/// Registers a device with fresh keys for `user` under `identity`.
async fn register_device(
    server: &Server,
    http: &reqwest::Client,
    (user, token): (UserId, &str),
    identity: &IdentityKeyPair,
    link: Option<uuid::Uuid>,
) -> DeviceId {
    let device = DeviceId::new();
    let local = LocalDevice::new(*user.as_bytes(), *device.as_bytes(), identity.clone(), KeyPair::generate());
    let spk = KeyPair::generate();
    let body = json!({
        "device_id": device,
        "identity_key": local.identity.public().to_wire(),
        "device_key": local.device_key.public().to_wire(),
        "certificate": local.certificate.to_wire(),
        "signed_prekey": { "id": 1, "public_key": spk.public().to_wire(), "signature": local.sign_prekey(1, spk.public()).to_wire() },
        "one_time_prekeys": [],
        "link_id": link,
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

/// Runs the link exchange between a device (its token, holding `identity`) and a new
/// browser of the same person; returns the completed link's id.
async fn link(
    server: &Server,
    (approver, identity): (&str, &IdentityKeyPair),
    (token, user): (&str, UserId),
) -> uuid::Uuid {
    use hush_client::linking::{Approver, Progress, Requester};
    use hush_client::native::NativeHttp;
    let (device, browser) = (NativeHttp::new(&server.url, approver), NativeHttp::new(&server.url, token));
    let store = hush_client::MemoryStore::default();
    let mut asking = Requester::open(&browser).await.expect("open a link");
    let mut approving = Approver::join(&device, asking.code()).await.expect("join");
    asking.poll(&browser, &store, user).await.expect("requester key");
    let code = approving.poll(&device).await.expect("approver key");
    let shown = asking.poll(&browser, &store, user).await.expect("comparison code");
    assert!(matches!(&code, Progress::Compare(_)) && code == shown, "both sides show the same code");
    approving.confirm(&device, identity, &[], |_, _| {}).await.expect("sealed identity");
    assert_eq!(asking.poll(&browser, &store, user).await.expect("identity"), Progress::Done);
    asking.id()
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
