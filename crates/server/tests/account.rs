//! My account: display name rules, and deletion of everything tied to an account.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn display_name_is_validated() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), None).await;
    let patch = |name: serde_json::Value| {
        app.call(Method::PATCH, "/api/v1/me", Some(&alice.token), Some(json!({ "display_name": name })))
    };
    let r = patch(json!("  Alice Liddell ")).await;
    assert_eq!((r.status, r.body["display_name"].as_str().unwrap()), (StatusCode::OK, "Alice Liddell"));
    for bad in [json!(""), json!("   "), json!("x".repeat(65)), json!("bell\u{7}"), json!("rtl\u{202E}gpj.exe")] {
        let r = patch(bad.clone()).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_display_name"), "{bad}");
    }
    let r = app
        .call(Method::PATCH, "/api/v1/me", Some(&alice.token), Some(json!({ "display_name": "A", "admin": true })))
        .await;
    assert_eq!(r.code(), "invalid_json", "unknown fields are refused");
    assert_eq!(app.get("/api/v1/me", &alice.token).await.body["display_name"], "Alice Liddell");
}

#[tokio::test]
async fn deleting_an_account_removes_everything_tied_to_it() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), Some("Alice")).await;
    let bob = app.sign_in(&phone(2), Some("Bob")).await;
    let carol = app.sign_in(&phone(3), Some("Carol")).await;
    let dave = app.sign_in(&phone(4), Some("Dave")).await;
    app.befriend(&alice, &bob).await;
    let r = app.post("/api/v1/friends/requests", Some(&alice.token), json!({ "user_id": carol.user_id })).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = app.post("/api/v1/friends/requests", Some(&dave.token), json!({ "user_id": alice.user_id })).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(app.get("/api/v1/friends/requests", &dave.token).await.body["outgoing"].as_array().unwrap().len(), 1);
    app.call(Method::POST, &format!("/api/v1/blocks/{}", alice.user_id), Some(&carol.token), None).await;

    let r = app.call(Method::DELETE, "/api/v1/me", Some(&alice.token), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(refresh_cookie(&r.headers).as_deref(), Some(""));

    assert_eq!(app.get("/api/v1/me", &alice.token).await.code(), "session_revoked");
    assert_eq!(app.get("/api/v1/friends", &bob.token).await.body["friends"], json!([]));
    assert_eq!(app.get("/api/v1/friends/requests", &carol.token).await.body["incoming"], json!([]));
    assert_eq!(app.get("/api/v1/friends/requests", &dave.token).await.body["outgoing"], json!([]));
    let r = app.get(&format!("/api/v1/users/lookup?phone=%2B{}", &alice.phone[1..]), &bob.token).await;
    assert_eq!(r.code(), "user_not_found");
    let r = app
        .call_with(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            None,
            &[("cookie", &format!("hush_refresh={}", alice.refresh_cookie))],
        )
        .await;
    assert_eq!(r.code(), "invalid_refresh_token");

    // The number can sign up again, as a brand-new account.
    app.clock.advance(31);
    let code = app.request_code(&alice.phone).await;
    let r = app.verify(&alice.phone, &code).await;
    assert_eq!(r.body["new_account"], true);
    assert_ne!(r.body["user"]["user_id"], alice.user_id.as_str());
}
