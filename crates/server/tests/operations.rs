//! Operations surface: `/metrics` (who may scrape it, and that the counters follow real
//! traffic), CORS limited to the public origin, HSTS only over https.

mod common;

use std::time::Duration;

use common::{TestApp, befriend_chatters, outgoing_all};
use hush_client::{Event, Status};
use reqwest::Method;

async fn scrape(app: &TestApp, headers: &[(&str, &str)]) -> (u16, String) {
    let mut request = app.http.get(format!("{}/metrics", app.base));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The value of an unlabelled metric line `name value`.
fn value(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn metrics_follow_messages_connections_and_errors() {
    let app = TestApp::spawn().await;
    let mut alice = app.chatter(1, "Alice").await;
    let mut bob = app.chatter(2, "Bob").await;
    befriend_chatters(&app.base, &mut alice, &mut bob).await;
    alice.connect(&app.ws_url()).await;

    for n in 0..3 {
        alice.client.send_text(bob.id, &format!("message {n}")).await.unwrap();
    }
    let wait = Duration::from_secs(20);
    assert!(alice.client.run_until(wait, |c| outgoing_all(c, 3, Status::Stored)).await.unwrap());
    let (status, text) = scrape(&app, &[]).await;
    assert_eq!(status, 200, "loopback may scrape: {text}");
    assert_eq!(value(&text, "hush_websocket_connections"), 1.0);
    assert_eq!(value(&text, "hush_messages_stored_total"), 3.0);
    assert_eq!(value(&text, "hush_mailbox_messages"), 3.0);
    assert_eq!(value(&text, "hush_message_store_duration_seconds_count"), 3.0);

    bob.connect(&app.ws_url()).await;
    assert!(bob.client.run_until(wait, |c| c.events.contains(&Event::CaughtUp)).await.unwrap());
    assert!(alice.client.run_until(wait, |c| outgoing_all(c, 3, Status::Delivered)).await.unwrap());
    let (_, text) = scrape(&app, &[]).await;
    assert_eq!(value(&text, "hush_websocket_connections"), 2.0);
    assert_eq!(value(&text, "hush_messages_relayed_total"), 3.0);
    assert_eq!(value(&text, "hush_messages_acked_total"), 3.0);
    assert_eq!(value(&text, "hush_mailbox_messages"), 0.0);

    let bad = app.call(Method::POST, "/api/v1/auth/code", None, Some(serde_json::json!({ "phone": "nope" }))).await;
    assert_eq!(bad.code(), "invalid_phone");
    let (_, text) = scrape(&app, &[]).await;
    assert_eq!(value(&text, "hush_errors_total{code=\"invalid_phone\",via=\"http\"}"), 1.0);
    assert!(value(&text, "hush_http_request_duration_seconds_count") >= 5.0, "{text}");
}

#[tokio::test]
async fn metrics_are_refused_to_remote_clients_without_the_token() {
    let open = TestApp::spawn_with(&["--trust-forwarded-for"]).await;
    let (status, body) = scrape(&open, &[("x-forwarded-for", "203.0.113.9")]).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("\"forbidden\""), "{body}");

    // A reverse proxy on the same host connects from loopback: what it forwards is refused
    // too, trusted headers or not, so the proxy cannot publish the metrics.
    let behind = TestApp::spawn().await;
    assert_eq!(scrape(&behind, &[]).await.0, 200, "loopback, directly");
    for header in ["x-forwarded-for", "forwarded", "x-real-ip"] {
        let value = if header == "forwarded" { "for=127.0.0.1" } else { "127.0.0.1" };
        assert_eq!(scrape(&behind, &[(header, value)]).await.0, 403, "{header} from a same-host proxy");
    }

    let token = "scrape-token-0123456789";
    let locked = TestApp::spawn_with(&["--metrics-token", token]).await;
    assert_eq!(scrape(&locked, &[]).await.0, 403, "with a token set, loopback needs it too");
    assert_eq!(scrape(&locked, &[("authorization", "Bearer wrong")]).await.0, 403);
    let (status, text) = scrape(&locked, &[("authorization", &format!("Bearer {token}"))]).await;
    assert_eq!(status, 200);
    assert!(text.contains("# TYPE hush_messages_stored_total counter"), "{text}");
}

#[tokio::test]
async fn cors_admits_only_the_public_origin() {
    let app = TestApp::spawn_with(&["--public-origin", "https://chat.example.org"]).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(Method::OPTIONS, format!("{}/api/v1/me", app.base))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let ours = preflight("https://chat.example.org").await.unwrap();
    assert_eq!(ours.headers()["access-control-allow-origin"], "https://chat.example.org");
    assert_eq!(ours.headers()["access-control-allow-credentials"], "true");
    let theirs = preflight("https://evil.example").await.unwrap();
    assert!(theirs.headers().get("access-control-allow-origin").is_none(), "{:?}", theirs.headers());
}

#[tokio::test]
async fn hsts_only_when_served_over_https() {
    let https = TestApp::spawn_with(&["--public-origin", "https://chat.example.org"]).await;
    let r = https.http.get(format!("{}/healthz", https.base)).send().await.unwrap();
    assert_eq!(r.headers()["strict-transport-security"], hush_server::http_policy::HSTS);
    let plain = TestApp::spawn().await;
    let r = plain.http.get(format!("{}/healthz", plain.base)).send().await.unwrap();
    assert!(r.headers().get("strict-transport-security").is_none());
}
