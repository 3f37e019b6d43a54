//! `TestApp`: the real server, in-process, on a real socket at `127.0.0.1:0`, with its own
//! temporary data directory, a console SMS provider whose lines the test reads, and a clock
//! the test can advance.
#![allow(dead_code)]

pub mod browsers;
pub mod devices;
pub mod fault_proxy;
pub mod linking;
pub mod process;
pub mod redis;
pub mod ws;

use std::sync::{Arc, Mutex};

use clap::Parser;
use hush_server::AppState;
use hush_server::clock::ManualClock;
use hush_server::config::Config;
use hush_server::sms::console::ConsoleSms;
use hush_server::store::sqlite::SqliteStore;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub sms_lines: Arc<Mutex<Vec<String>>>,
    pub clock: Arc<ManualClock>,
    pub state: AppState,
    /// The challenge of the newest code requested for each number (as typed and in
    /// E.164), which [`Self::verify`] sends back, as a browser would.
    challenges: Mutex<std::collections::HashMap<String, String>>,
    _dir: tempfile::TempDir,
}

/// A signed-in person.
#[derive(Clone, Debug)]
pub struct Person {
    pub phone: String,
    pub user_id: String,
    pub token: String,
    pub refresh_cookie: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Builds the state exactly as `hush-server` does, from flags only (the SMS provider
    /// is whatever the flags say; `sms_lines` stays empty).
    pub async fn spawn_from_config(extra_args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["hush-server", "--data-dir", dir.path().to_str().unwrap(), "--jwt-secret", JWT_SECRET];
        args.extend_from_slice(extra_args);
        let config = Config::try_parse_from(args).unwrap();
        let state = AppState::from_config(config).await.unwrap();
        Self::serve(state, dir, Arc::new(ManualClock::default()), Arc::default()).await
    }

    async fn serve(
        state: AppState,
        dir: tempfile::TempDir,
        clock: Arc<ManualClock>,
        sms_lines: Arc<Mutex<Vec<String>>>,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(hush_server::serve(listener, state.clone(), std::future::pending()));
        Self { base, http: reqwest::Client::new(), sms_lines, clock, state, challenges: Mutex::default(), _dir: dir }
    }

    /// Like [`Self::spawn_with`], with the mailbox, rate limits and hub on a real Redis.
    pub async fn spawn_redis(redis_url: &str, extra_args: &[&str]) -> Self {
        Self::spawn_inner(extra_args, Some(redis_url)).await
    }

    pub async fn spawn_with(extra_args: &[&str]) -> Self {
        Self::spawn_inner(extra_args, None).await
    }

    async fn spawn_inner(extra_args: &[&str], redis_url: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["hush-server", "--data-dir", dir.path().to_str().unwrap(), "--jwt-secret", JWT_SECRET];
        args.extend_from_slice(extra_args);
        let config = Config::try_parse_from(args).unwrap();
        let store = SqliteStore::open(&dir.path().join("hush.db")).unwrap();
        let sms_lines = Arc::new(Mutex::new(Vec::new()));
        let sink = sms_lines.clone();
        let sms = ConsoleSms::with_sink(Arc::new(move |line: &str| sink.lock().unwrap().push(line.to_owned())));
        let clock = Arc::new(ManualClock::default());
        let mut stores = store.stores();
        let hub = match redis_url {
            Some(url) => Some(
                hush_server::state::attach_redis(&mut stores, url, &format!("test-{}", uuid::Uuid::new_v4()))
                    .await
                    .unwrap(),
            ),
            None => None,
        };
        let mut state = AppState::assemble(config, stores, Arc::new(sms), clock.clone()).unwrap();
        if let Some(hub) = hub {
            state = state.with_hub(hub);
        }
        Self::serve(state, dir, clock, sms_lines).await
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        self.call_with(method, path, token, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Reply { status, headers, body }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// The code in the newest console SMS line to `phone`.
    pub fn last_code(&self, phone: &str) -> Option<String> {
        let lines = self.sms_lines.lock().unwrap();
        lines.iter().rev().find(|l| l.starts_with(&format!("SMS to {phone}: "))).map(|l| {
            let at = l.find("code is ").unwrap() + "code is ".len();
            l[at..at + 6].to_owned()
        })
    }

    pub async fn request_code(&self, phone: &str) -> String {
        let r = self.post("/api/v1/auth/code", None, json!({ "phone": phone })).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
        let (e164, challenge) = (r.body["phone"].as_str().unwrap(), r.body["challenge"].as_str().unwrap());
        let mut challenges = self.challenges.lock().unwrap();
        challenges.insert(phone.to_owned(), challenge.to_owned());
        challenges.insert(e164.to_owned(), challenge.to_owned());
        self.last_code(e164).expect("a console SMS line")
    }

    /// Verifies `code` for the newest code requested for `phone` (its challenge).
    pub async fn verify(&self, phone: &str, code: &str) -> Reply {
        let challenge = self.challenges.lock().unwrap().get(phone).cloned().unwrap_or_default();
        self.post("/api/v1/auth/verify", None, json!({ "phone": phone, "challenge": challenge, "code": code })).await
    }

    /// Signs in (creating the account if new) and sets the display name if given.
    pub async fn sign_in(&self, phone: &str, name: Option<&str>) -> Person {
        let code = self.request_code(phone).await;
        let r = self.verify(phone, &code).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let person = Person {
            phone: phone.to_owned(),
            user_id: r.body["user"]["user_id"].as_str().unwrap().to_owned(),
            token: r.body["access_token"].as_str().unwrap().to_owned(),
            refresh_cookie: refresh_cookie(&r.headers).expect("refresh cookie"),
        };
        if let Some(name) = name {
            let r = self
                .call(Method::PATCH, "/api/v1/me", Some(&person.token), Some(json!({ "display_name": name })))
                .await;
            assert_eq!(r.status, StatusCode::OK);
        }
        person
    }

    /// Makes two people friends through the API.
    pub async fn befriend(&self, a: &Person, b: &Person) {
        let r = self.post("/api/v1/friends/requests", Some(&a.token), json!({ "user_id": b.user_id })).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let id = r.body["id"].as_str().unwrap().to_owned();
        let r = self.call(Method::POST, &format!("/api/v1/friends/requests/{id}/accept"), Some(&b.token), None).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
}

/// The `hush_refresh` value from a response's `Set-Cookie`, if any.
pub fn refresh_cookie(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let first = v.split(';').next()?;
        let (name, value) = first.split_once('=')?;
        (name == "hush_refresh").then(|| value.to_owned())
    })
}

/// A fresh valid public key in wire form.
pub fn new_public_key() -> String {
    hush_crypto::KeyPair::generate().public().to_wire()
}

/// Distinct valid US numbers (+1 650 253 00nn).
pub fn phone(n: u32) -> String {
    format!("+1650253{:04}", n)
}

/// A signed-in person with a native client engine over an in-memory store; it sets itself
/// up as a device of the account when it first connects.
pub struct Chatter {
    pub person: Person,
    pub id: hush_shared::UserId,
    pub base: String,
    pub store: hush_client::MemoryStore,
    pub client: hush_client::native::NativeClient<hush_client::MemoryStore>,
}

impl Chatter {
    /// A chatter talking to the server at `base` (`http://…`).
    pub fn new(person: Person, base: &str) -> Self {
        let id: hush_shared::UserId = person.user_id.parse().unwrap();
        let store = hush_client::MemoryStore::default();
        let client = hush_client::native::NativeClient::new(id, store.clone(), base, &person.token);
        Self { person, id, base: base.to_owned(), store, client }
    }

    /// Drops the client and builds a new one on the same store (a page reload).
    pub fn reload(&mut self) {
        self.client =
            hush_client::native::NativeClient::new(self.id, self.store.clone(), &self.base, &self.person.token);
    }

    pub async fn connect(&mut self, ws_url: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            match self.client.connect(ws_url, &self.person.token).await {
                Ok(()) => return,
                Err(e) if std::time::Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => panic!("could not connect: {e}"),
            }
        }
    }

    /// A chatter for another browser of `first`'s person (signed in as `person`), linked
    /// from `first`'s device through the server; `set_up` registers it as a device.
    pub async fn another_device_of(first: &Chatter, person: Person, base: &str) -> Self {
        let second = Chatter::new(person, base);
        let identity = &first.client.engine.device().expect("the first browser is a device").identity;
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        let history = hush_client::linking::recent_history(&first.store, first.client.engine.http(), now_ms)
            .await
            .expect("the first device's history");
        let ends = ((first.person.token.as_str(), identity, &history[..]), (second.person.token.as_str(), second.id));
        linking::link(base, ends.0, ends.1, &second.store).await;
        second
    }

    pub fn received(&self) -> Vec<hush_client::ChatMessage> {
        self.store.all_messages().into_iter().filter(|m| m.direction == hush_client::Direction::Incoming).collect()
    }

    pub fn sent_with_status(&self, status: hush_client::Status) -> usize {
        self.store
            .all_messages()
            .iter()
            .filter(|m| m.direction == hush_client::Direction::Outgoing && m.status == status)
            .count()
    }
}

/// `from` sends `to` a message; it arrives within `within` and its `delivered` receipt
/// comes back within `within` too.
pub async fn relay(from: &mut Chatter, to: &mut Chatter, within: std::time::Duration) {
    type Client = hush_client::native::NativeClient<hush_client::MemoryStore>;
    let m = from.client.send_text(to.id, "hello").await.unwrap();
    let arrived = |c: &Client| c.engine.store().all_messages().iter().any(|x| x.id == m.id);
    assert!(to.client.run_until(within, arrived).await.unwrap(), "the message arrives within {within:?}");
    let delivered = |c: &Client| {
        c.engine.store().all_messages().iter().any(|x| x.id == m.id && x.status == hush_client::Status::Delivered)
    };
    assert!(from.client.run_until(within, delivered).await.unwrap(), "its receipt comes back within {within:?}");
}

/// Whether `client` holds exactly `count` outgoing messages, all with `status`.
pub fn outgoing_all(
    client: &hush_client::native::NativeClient<hush_client::MemoryStore>,
    count: usize,
    status: hush_client::Status,
) -> bool {
    let outgoing: Vec<_> = client
        .engine
        .store()
        .all_messages()
        .into_iter()
        .filter(|m| m.direction == hush_client::Direction::Outgoing)
        .collect();
    outgoing.len() == count && outgoing.iter().all(|m| m.status == status)
}

/// Befriends two chatters through the HTTP API and sets both up as devices (so each can
/// fetch the other's bundles at once).
pub async fn befriend_chatters(base: &str, a: &mut Chatter, b: &mut Chatter) {
    let http = reqwest::Client::new();
    let r: Value = http
        .post(format!("{base}/api/v1/friends/requests"))
        .bearer_auth(&a.person.token)
        .json(&json!({ "user_id": b.person.user_id }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = r["id"].as_str().unwrap().to_owned();
    let r = http
        .post(format!("{base}/api/v1/friends/requests/{id}/accept"))
        .bearer_auth(&b.person.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    for chatter in [&mut *a, &mut *b] {
        if chatter.client.engine.device().is_none() {
            chatter.client.set_up(false).await.unwrap();
        }
    }
    a.client.engine.add_friend(b.id, None, None).await.unwrap();
    b.client.engine.add_friend(a.id, None, None).await.unwrap();
}

impl TestApp {
    /// Registers a device with a fresh identity for `person` (from their session).
    pub async fn with_device(&self, person: &Person) -> devices::TestDevice {
        let mut device = devices::TestDevice::new(&person.user_id);
        let r = self.post("/api/v1/devices", Some(&person.token), device.registration(5)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        device
    }

    pub fn ws_url(&self) -> String {
        format!("{}/api/v1/ws", self.base.replacen("http://", "ws://", 1))
    }

    pub async fn chatter(&self, n: u32, name: &str) -> Chatter {
        Chatter::new(self.sign_in(&phone(n), Some(name)).await, &self.base)
    }
}
