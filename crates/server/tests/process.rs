//! The real `hush-server` binary as a process: it prints its URL, the console provider
//! prints the code in the log, a person signs in and befriends another with plain HTTP,
//! SIGTERM stops it cleanly, and a restart on the same data directory keeps everything.

mod common;

use common::process::ServerProcess as Server;

use serde_json::{Value, json};

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_binary_serves_signs_in_befriends_stops_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "127.0.0.1:0", &[]);
    let http = reqwest::Client::new();
    let (status, _) = call(&http, reqwest::Method::GET, format!("{}/readyz", server.url), None, None).await;
    assert_eq!(status, 200);

    let alice = server.sign_in("+16502530001").await.token;
    let bob_person = server.sign_in("+16502530002").await;
    let (bob, bob_id) = (bob_person.token, bob_person.user_id);
    let (_, found) = call(
        &http,
        reqwest::Method::GET,
        format!("{}/api/v1/users/lookup?phone=%2B16502530002", server.url),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(found["user_id"], bob_id.as_str());
    let (status, req) = call(
        &http,
        reqwest::Method::POST,
        format!("{}/api/v1/friends/requests", server.url),
        Some(&alice),
        Some(json!({ "user_id": bob_id })),
    )
    .await;
    assert_eq!(status, 201);
    let id = req["id"].as_str().unwrap();
    let (status, _) = call(
        &http,
        reqwest::Method::POST,
        format!("{}/api/v1/friends/requests/{id}/accept", server.url),
        Some(&bob),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let mut bob_device = common::devices::TestDevice::new(&bob_id);
    let (status, _) = call(
        &http,
        reqwest::Method::POST,
        format!("{}/api/v1/devices", server.url),
        Some(&bob),
        Some(bob_device.registration(3)),
    )
    .await;
    assert_eq!(status, 201);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("jwt_secret")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the generated secret is readable by the owner only");
    }
    assert!(server.log.lock().unwrap().iter().any(|l| l.contains("request_id")), "requests are logged with their id");
    let status = server.terminate();
    assert!(status.success(), "graceful shutdown exits 0, got {status:?}");

    // Same data directory: the secret, the accounts and the friendship survive.
    let server = Server::start(dir.path(), "127.0.0.1:0", &[]);
    let (status, friends) =
        call(&http, reqwest::Method::GET, format!("{}/api/v1/friends", server.url), Some(&alice), None).await;
    assert_eq!(status, 200, "the access token is still valid after a restart");
    assert_eq!(friends["friends"][0]["user_id"], bob_id.as_str());
    assert_eq!(friends["friends"][0]["identity_key"], bob_device.identity_key(), "Bob's device survived too");
    assert!(server.terminate().success());
}

/// `HUSH_LOG_FORMAT=json`: every log line is one JSON object, and each answered request
/// has one with its method, route template, request id, status and latency (never the
/// query, never an id from the path).
#[tokio::test]
async fn json_logs_carry_one_structured_line_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "127.0.0.1:0", &[("HUSH_LOG_FORMAT", "json")]);
    let http = reqwest::Client::new();
    let (status, _) = call(&http, reqwest::Method::GET, format!("{}/healthz", server.url), None, None).await;
    assert_eq!(status, 200);
    let lookup = format!("{}/api/v1/users/lookup?phone=%2B16502530099", server.url);
    assert_eq!(call(&http, reqwest::Method::GET, lookup, None, None).await.0, 401);
    let someone = uuid::Uuid::new_v4();
    let bundles = format!("{}/api/v1/users/{someone}/bundles", server.url);
    assert_eq!(call(&http, reqwest::Method::GET, bundles, None, None).await.0, 401);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let request_lines = loop {
        let lines: Vec<Value> = server
            .log
            .lock()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON log line: {l}")))
            .collect();
        let requests: Vec<Value> = lines.into_iter().filter(|l| l["fields"]["status"].is_number()).collect();
        if requests.len() >= 3 || std::time::Instant::now() > deadline {
            break requests;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let health = request_lines.iter().find(|l| l["span"]["route"] == "/healthz").expect("a line for /healthz");
    assert_eq!(health["span"]["method"], "GET");
    assert_eq!(health["fields"]["status"], 200);
    assert!(health["fields"]["latency"].is_string() && health["span"]["request_id"].is_string(), "{health}");
    let lookup = request_lines.iter().find(|l| l["span"]["route"] == "/api/v1/users/lookup").expect("lookup line");
    assert_eq!(lookup["fields"]["status"], 401);
    let template = "/api/v1/users/{user_id}/bundles";
    assert!(request_lines.iter().any(|l| l["span"]["route"] == template), "the route's template is logged");
    let all = server.log.lock().unwrap().join("\n");
    assert!(!all.contains("6502530099"), "the query string (a phone number) is not logged");
    assert!(!all.contains(&someone.to_string()), "nor an id from the path");
}

/// On SIGTERM every open WebSocket gets the close frame 1001 before the process exits (it
/// used to exit while some sockets were still writing theirs). Three servers, ten sockets
/// each, since which sockets lost the race varied.
#[tokio::test]
async fn sigterm_closes_every_websocket_with_1001() {
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(dir.path(), "127.0.0.1:0", &[]);
        let person = server.sign_in(&format!("+1650253{:04}", 300 + round)).await;
        let mut codes = Vec::new();
        for _ in 0..10 {
            let mut ws = common::ws::authed_at(&server.ws_url(), &person.token).await;
            codes.push(tokio::spawn(async move { common::ws::close_code(&mut ws).await }));
        }
        let status = tokio::task::spawn_blocking(move || server.terminate()).await.unwrap();
        assert!(status.success(), "{status:?}");
        for code in codes {
            assert_eq!(code.await.unwrap(), Some(1001), "round {round}: a socket ended without the close frame");
        }
    }
}
