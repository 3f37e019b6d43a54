//! Accounts and friendships for a run, made through the real HTTP API. Each person signs in
//! from their own loopback address so the per-IP sign-in limits hold.

use hush_shared::UserId;
use serde_json::{Value, json};

use crate::server::Server;
use crate::wire::source_ip;

/// A signed-in person.
#[derive(Clone, Debug)]
pub struct Person {
    /// Their id.
    pub id: UserId,
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
    Person {
        id: body["user"]["user_id"].as_str().and_then(|s| s.parse().ok()).expect("user id"),
        token: body["access_token"].as_str().expect("token").to_owned(),
        ip,
    }
}

/// Makes `a` and `b` friends.
pub async fn befriend(server: &Server, a: &Person, b: &Person) {
    let http = reqwest::Client::new();
    let key = || hush_crypto::KeyPair::generate().public().to_wire();
    let r: Value = http
        .post(format!("{}/api/v1/friends/requests", server.url))
        .bearer_auth(&a.token)
        .json(&json!({ "user_id": b.id, "public_key": key() }))
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
        .json(&json!({ "public_key": key() }))
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
