//! Sign-in end to end: codes, expiry, attempts, resend limits, replay, refresh rotation
//! with reuse detection, logout, and attacks on the access token.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::ws::{authed, close_code};
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn sign_in_creates_the_account_once_and_me_works() {
    let app = TestApp::spawn().await;
    let code = app.request_code("+1 (650) 253-0001").await;
    assert_eq!(code.len(), 6);
    let r = app.verify("+16502530001", &code).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    assert_eq!(r.body["new_account"], true);
    assert_eq!(r.body["user"]["phone"], "+16502530001");
    let set_cookie = r.headers.get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(
        set_cookie.contains("HttpOnly")
            && set_cookie.contains("SameSite=Strict")
            && set_cookie.contains("Path=/api/v1/auth")
    );
    assert!(!set_cookie.contains("Secure"), "plain-http origin must not set Secure");
    let token = r.body["access_token"].as_str().unwrap();
    let me = app.get("/api/v1/me", token).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["user_id"], r.body["user"]["user_id"]);
    assert_eq!(me.body["display_name"], serde_json::Value::Null);

    // Same number again (after the resend interval): same account, not new.
    app.clock.advance(31);
    let again = app.sign_in("+16502530001", None).await;
    assert_eq!(again.user_id, r.body["user"]["user_id"].as_str().unwrap());
}

#[tokio::test]
async fn https_origin_marks_the_cookie_secure() {
    let app = TestApp::spawn_with(&["--public-origin", "https://chat.example.org"]).await;
    let code = app.request_code(&phone(2)).await;
    let r = app.verify(&phone(2), &code).await;
    assert!(r.headers.get("set-cookie").unwrap().to_str().unwrap().contains("; Secure"));
}

#[tokio::test]
async fn invalid_phone_numbers_get_invalid_phone() {
    let app = TestApp::spawn().await;
    for bad in ["", "12345", "+1 000", "not a number", "+99912345678"] {
        let r = app.post("/api/v1/auth/code", None, json!({ "phone": bad })).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_phone"), "{bad:?}");
    }
    assert!(app.sms_lines.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_code_expires_after_ten_minutes() {
    let app = TestApp::spawn().await;
    let code = app.request_code(&phone(3)).await;
    app.clock.advance(600);
    let r = app.verify(&phone(3), &code).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "code_expired"));
}

#[tokio::test]
async fn a_code_is_single_use() {
    let app = TestApp::spawn().await;
    let code = app.request_code(&phone(4)).await;
    assert_eq!(app.verify(&phone(4), &code).await.status, StatusCode::OK);
    let replay = app.verify(&phone(4), &code).await;
    assert_eq!((replay.status, replay.code()), (StatusCode::UNAUTHORIZED, "code_expired"));
}

#[tokio::test]
async fn five_wrong_codes_burn_the_code() {
    let app = TestApp::spawn().await;
    let code = app.request_code(&phone(5)).await;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for remaining in (1..=4).rev() {
        let r = app.verify(&phone(5), wrong).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "invalid_code"));
        let left = if remaining == 1 { "1 try left.".to_owned() } else { format!("{remaining} tries left.") };
        assert_eq!(r.body["message"].as_str().unwrap(), format!("Wrong code. {left}"), "a sentence the app can show");
    }
    let r = app.verify(&phone(5), wrong).await;
    assert_eq!((r.status, r.code()), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
    // The right code no longer works either.
    let r = app.verify(&phone(5), &code).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "code_expired"));
    // Malformed codes are refused without a lookup.
    for bad in ["12345", "1234567", "12a456", ""] {
        assert_eq!(app.verify(&phone(5), bad).await.code(), "invalid_code");
    }
}

#[tokio::test]
async fn codes_are_limited_per_number_and_address_every_30_s_and_5_a_day() {
    let app = TestApp::spawn().await;
    let ask = || app.post("/api/v1/auth/code", None, json!({ "phone": phone(6) }));
    let first = ask().await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let first_code = app.last_code(&phone(6)).unwrap();
    let r = ask().await;
    assert_eq!((r.status, r.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    let retry = r.body["retry_after"].as_u64().unwrap();
    assert!((1..=30).contains(&retry));
    assert_eq!(r.headers.get("retry-after").unwrap().to_str().unwrap(), retry.to_string());
    for _ in 0..4 {
        app.clock.advance(30);
        app.request_code(&phone(6)).await;
    }
    app.clock.advance(30);
    let r = ask().await;
    assert_eq!(r.code(), "rate_limited");
    assert_eq!(r.body["retry_after"].as_u64().unwrap(), 86_400 - 150, "5 a day from one address");
    assert_eq!(app.sms_lines.lock().unwrap().len(), 5);
    // Each attempt keeps its own code: the first still works with the first challenge.
    let body = json!({ "phone": phone(6), "challenge": first.body["challenge"], "code": first_code });
    assert_eq!(app.post("/api/v1/auth/verify", None, body).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_number_gets_at_most_10_codes_a_day() {
    let app = TestApp::spawn_with(&["--trust-forwarded-for"]).await;
    let app = &app;
    let ask = |ip: &'static str| {
        let body = json!({ "phone": phone(9) });
        async move { app.call_with(Method::POST, "/api/v1/auth/code", None, Some(body), &[("x-forwarded-for", ip)]).await }
    };
    for ip in ["198.51.100.1", "198.51.100.2"] {
        for _ in 0..5 {
            assert_eq!(ask(ip).await.status, StatusCode::ACCEPTED);
            app.clock.advance(31);
        }
    }
    let r = ask("198.51.100.3").await;
    assert_eq!(r.code(), "rate_limited", "the eleventh code in a day, from any address");
    let wait = r.body["retry_after"].as_u64().unwrap();
    assert!(wait > 3600 && wait <= 86_400, "the day's cap: {wait}");
    app.clock.advance(wait as i64);
    assert_eq!(ask("198.51.100.3").await.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn codes_are_limited_per_ip() {
    let app = TestApp::spawn().await;
    for n in 0..20 {
        app.request_code(&phone(100 + n)).await;
    }
    let r = app.post("/api/v1/auth/code", None, json!({ "phone": phone(200) })).await;
    assert_eq!((r.status, r.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_session() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(7), None).await;
    let cookie = |value: &str| format!("hush_refresh={value}");

    let first = app
        .call_with(Method::POST, "/api/v1/auth/refresh", None, None, &[("cookie", &cookie(&alice.refresh_cookie))])
        .await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let rotated = refresh_cookie(&first.headers).unwrap();
    assert_ne!(rotated, alice.refresh_cookie);
    let new_token = first.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/api/v1/me", &new_token).await.status, StatusCode::OK);

    // The old refresh token comes back: theft assumed, the whole session dies.
    let replay = app
        .call_with(Method::POST, "/api/v1/auth/refresh", None, None, &[("cookie", &cookie(&alice.refresh_cookie))])
        .await;
    assert_eq!((replay.status, replay.code()), (StatusCode::UNAUTHORIZED, "session_revoked"));
    assert_eq!(refresh_cookie(&replay.headers).as_deref(), Some(""), "cookie is cleared");
    let after = app.call_with(Method::POST, "/api/v1/auth/refresh", None, None, &[("cookie", &cookie(&rotated))]).await;
    assert_eq!(after.code(), "invalid_refresh_token");
    assert_eq!(app.get("/api/v1/me", &new_token).await.code(), "session_revoked");
    assert_eq!(app.get("/api/v1/me", &alice.token).await.code(), "session_revoked");

    let none = app.call(Method::POST, "/api/v1/auth/refresh", None, None).await;
    assert_eq!(none.code(), "invalid_refresh_token");
    let junk = app
        .call_with(Method::POST, "/api/v1/auth/refresh", None, None, &[("cookie", "hush_refresh=junk; other=1")])
        .await;
    assert_eq!(junk.code(), "invalid_refresh_token");
}

#[tokio::test]
async fn a_reused_refresh_token_closes_the_sessions_live_sockets_at_once() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(10), None).await;
    let mut socket = authed(&app, &alice).await;
    let cookie = format!("hush_refresh={}", alice.refresh_cookie);
    let first = app.call_with(Method::POST, "/api/v1/auth/refresh", None, None, &[("cookie", &cookie)]).await;
    assert_eq!(first.status, StatusCode::OK);
    let replay = app.call_with(Method::POST, "/api/v1/auth/refresh", None, None, &[("cookie", &cookie)]).await;
    assert_eq!(replay.code(), "session_revoked");
    let closed = tokio::time::timeout(std::time::Duration::from_secs(2), close_code(&mut socket)).await;
    assert_eq!(closed.expect("closed at once, not at the next ping"), Some(4003));
}

#[tokio::test]
async fn a_refresh_chain_keeps_few_tokens_and_refresh_is_rate_limited() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(11), None).await;
    let refresh = |token: String| {
        let app = &app;
        async move {
            let cookie = format!("hush_refresh={token}");
            app.call_with(Method::POST, "/api/v1/auth/refresh", None, None, &[("cookie", &cookie)]).await
        }
    };
    let mut chain = vec![alice.refresh_cookie.clone()];
    for _ in 0..30 {
        let r = refresh(chain.last().unwrap().clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        chain.push(refresh_cookie(&r.headers).unwrap());
    }
    // Rotated tokens beyond the newest eight are gone: replaying one is simply refused...
    assert_eq!(refresh(chain[0].clone()).await.code(), "invalid_refresh_token");
    assert_eq!(refresh(chain[21].clone()).await.code(), "invalid_refresh_token");
    assert_eq!(app.get("/api/v1/me", &alice.token).await.status, StatusCode::OK, "the session lives on");
    // ...while a recent one is still recognised as reuse and ends the session.
    assert_eq!(refresh(chain[25].clone()).await.code(), "session_revoked");

    // 600 refreshes an hour from one address; the 33 above (refused ones too) count.
    let bob = app.sign_in(&phone(12), None).await;
    let mut token = bob.refresh_cookie;
    for _ in 33..600 {
        let r = refresh(token).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        token = refresh_cookie(&r.headers).unwrap();
    }
    let limited = refresh(token.clone()).await;
    assert_eq!((limited.status, limited.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    assert_eq!(refresh_cookie(&limited.headers), None, "a rate-limited refresh keeps the cookie");
    app.clock.advance(3600);
    assert_eq!(refresh(token).await.status, StatusCode::OK, "the same token works after the wait");
}

#[tokio::test]
async fn refresh_tokens_expire_after_30_days() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(8), None).await;
    app.clock.advance(30 * 24 * 3600);
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
}

#[tokio::test]
async fn logout_ends_the_session_at_once() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(9), None).await;
    let other_session = {
        app.clock.advance(31);
        app.sign_in(&phone(9), None).await
    };
    let r = app.call(Method::POST, "/api/v1/auth/logout", Some(&alice.token), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(refresh_cookie(&r.headers).as_deref(), Some(""));
    assert_eq!(app.get("/api/v1/me", &alice.token).await.code(), "session_revoked");
    let refresh = app
        .call_with(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            None,
            &[("cookie", &format!("hush_refresh={}", alice.refresh_cookie))],
        )
        .await;
    assert_eq!(refresh.code(), "invalid_refresh_token");
    // Only that session: the other device stays signed in.
    assert_eq!(app.get("/api/v1/me", &other_session.token).await.status, StatusCode::OK);
}

fn b64(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn sign_hs256(secret: &str, header: &serde_json::Value, claims: &serde_json::Value) -> String {
    use hmac::Mac;
    let signing_input = format!("{}.{}", b64(header), b64(claims));
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn forged_and_stale_access_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(10), None).await;
    let parts: Vec<&str> = alice.token.split('.').collect();
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let now = app.state.now();

    // alg: none, with and without a signature.
    let none_header = json!({ "alg": "none", "typ": "JWT" });
    for token in [format!("{}.{}.", b64(&none_header), parts[1]), format!("{}.{}", b64(&none_header), parts[1])] {
        assert_eq!(app.get("/api/v1/me", &token).await.code(), "unauthorized");
    }
    // HS512 with the right secret: algorithm is pinned to HS256.
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(app.get("/api/v1/me", &hs512).await.code(), "unauthorized");
    // Right algorithm, wrong key.
    let wrong_key =
        sign_hs256("another-secret-another-secret-another-secret", &json!({ "alg": "HS256", "typ": "JWT" }), &claims);
    assert_eq!(app.get("/api/v1/me", &wrong_key).await.code(), "unauthorized");
    // Tampered payload (someone else's id) with the original signature.
    let mut evil = claims.clone();
    evil["sub"] = json!(uuid::Uuid::now_v7().to_string());
    let tampered = format!("{}.{}.{}", parts[0], b64(&evil), parts[2]);
    assert_eq!(app.get("/api/v1/me", &tampered).await.code(), "unauthorized");
    // Correctly signed but expired.
    let mut old = claims.clone();
    old["iat"] = json!(now - 2000);
    old["exp"] = json!(now - 1);
    let expired = sign_hs256(JWT_SECRET, &json!({ "alg": "HS256", "typ": "JWT" }), &old);
    assert_eq!(app.get("/api/v1/me", &expired).await.code(), "token_expired");
    // Correctly signed for a session that does not exist.
    let mut ghost = claims.clone();
    ghost["sid"] = json!(uuid::Uuid::new_v4().to_string());
    let ghost = sign_hs256(JWT_SECRET, &json!({ "alg": "HS256", "typ": "JWT" }), &ghost);
    assert_eq!(app.get("/api/v1/me", &ghost).await.code(), "session_revoked");
    // Garbage and malformed headers.
    assert_eq!(app.get("/api/v1/me", "not.a.jwt").await.code(), "unauthorized");
    let r = app.call_with(Method::GET, "/api/v1/me", None, None, &[("authorization", "Basic abc")]).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "unauthorized"));
    // The genuine token still works, and stops working after 15 minutes.
    assert_eq!(app.get("/api/v1/me", &alice.token).await.status, StatusCode::OK);
    app.clock.advance(15 * 60);
    assert_eq!(app.get("/api/v1/me", &alice.token).await.code(), "token_expired");
}
