//! Every friendship path, including the error ones: lookup, request (with key), accept
//! (with key), decline, cancel, list, key rotation, unfriend, block and unblock.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn request_accept_and_both_keys_are_visible_to_both() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), Some("Alice")).await;
    let bob = app.sign_in(&phone(2), Some("Bob")).await;

    let found = app.get(&format!("/api/v1/users/lookup?phone={}", urlencode(&bob.phone)), &alice.token).await;
    assert_eq!(found.status, StatusCode::OK);
    assert_eq!(found.body, json!({ "user_id": bob.user_id, "display_name": "Bob" }));

    let alice_key = new_public_key();
    let r = app
        .post(
            "/api/v1/friends/requests",
            Some(&alice.token),
            json!({ "user_id": bob.user_id, "public_key": alice_key }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["user_id"], bob.user_id.as_str());
    assert_eq!(r.body["display_name"], "Bob");
    let id = r.body["id"].as_str().unwrap().to_owned();

    let bobs = app.get("/api/v1/friends/requests", &bob.token).await;
    assert_eq!(bobs.body["outgoing"], json!([]));
    let incoming = &bobs.body["incoming"][0];
    assert_eq!(
        (incoming["id"].as_str().unwrap(), incoming["user_id"].as_str().unwrap()),
        (id.as_str(), alice.user_id.as_str())
    );
    assert_eq!(incoming["display_name"], "Alice");
    assert_eq!(incoming["requester_public_key"], alice_key.as_str());
    let alices = app.get("/api/v1/friends/requests", &alice.token).await;
    assert_eq!(alices.body["outgoing"][0]["id"], id.as_str());

    let bob_key = new_public_key();
    let r = app
        .post(&format!("/api/v1/friends/requests/{id}/accept"), Some(&bob.token), json!({ "public_key": bob_key }))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["user_id"], alice.user_id.as_str());
    assert_eq!(
        (r.body["their_public_key"].as_str().unwrap(), r.body["my_public_key"].as_str().unwrap()),
        (alice_key.as_str(), bob_key.as_str())
    );

    let a_list = app.get("/api/v1/friends", &alice.token).await;
    let f = &a_list.body["friends"][0];
    assert_eq!(a_list.body["friends"].as_array().unwrap().len(), 1);
    assert_eq!((f["user_id"].as_str().unwrap(), f["display_name"].as_str().unwrap()), (bob.user_id.as_str(), "Bob"));
    assert_eq!(
        (f["my_public_key"].as_str().unwrap(), f["their_public_key"].as_str().unwrap()),
        (alice_key.as_str(), bob_key.as_str())
    );
    let b_list = app.get("/api/v1/friends", &bob.token).await;
    assert_eq!(b_list.body["friends"][0]["their_public_key"], alice_key.as_str());
    // The request is gone from both lists.
    assert_eq!(app.get("/api/v1/friends/requests", &bob.token).await.body, json!({ "incoming": [], "outgoing": [] }));
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(' ', "%20")
}

#[tokio::test]
async fn request_errors() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), None).await;
    let bob = app.sign_in(&phone(2), None).await;
    let key = new_public_key();
    let send = |token: String, to: String, key: String| {
        let app = &app;
        async move { app.post("/api/v1/friends/requests", Some(&token), json!({ "user_id": to, "public_key": key })).await }
    };

    let r = send(alice.token.clone(), alice.user_id.clone(), key.clone()).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "cannot_befriend_self"));
    let r = send(alice.token.clone(), uuid::Uuid::now_v7().to_string(), key.clone()).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "user_not_found"));
    let r = send(alice.token.clone(), "not-a-uuid".into(), key.clone()).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_json"));

    // Keys: wrong shape, valid base64 but not on the curve, compressed point.
    let mut off_curve = hush_crypto::KeyPair::generate().public().to_sec1();
    off_curve[64] ^= 1;
    use base64::Engine as _;
    let off_curve = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(off_curve);
    for bad in ["", "abc", off_curve.as_str(), &"A".repeat(87)] {
        let r = send(alice.token.clone(), bob.user_id.clone(), bad.into()).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_public_key"), "{bad:?}");
    }

    assert_eq!(send(alice.token.clone(), bob.user_id.clone(), key.clone()).await.status, StatusCode::CREATED);
    let r = send(alice.token.clone(), bob.user_id.clone(), key.clone()).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "request_already_sent"));
    let r = send(bob.token.clone(), alice.user_id.clone(), key.clone()).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "incoming_request_exists"));

    let id =
        app.get("/api/v1/friends/requests", &bob.token).await.body["incoming"][0]["id"].as_str().unwrap().to_owned();
    // Only the recipient can accept or decline; only the requester can cancel.
    let r = app
        .post(&format!("/api/v1/friends/requests/{id}/accept"), Some(&alice.token), json!({ "public_key": key }))
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "request_not_found"));
    let r = app.call(Method::POST, &format!("/api/v1/friends/requests/{id}/decline"), Some(&alice.token), None).await;
    assert_eq!(r.code(), "request_not_found");
    let r = app.call(Method::DELETE, &format!("/api/v1/friends/requests/{id}"), Some(&bob.token), None).await;
    assert_eq!(r.code(), "request_not_found");
    let r = app
        .post(&format!("/api/v1/friends/requests/{id}/accept"), Some(&bob.token), json!({ "public_key": "bad" }))
        .await;
    assert_eq!(r.code(), "invalid_public_key");
    let r =
        app.post("/api/v1/friends/requests/not-a-uuid/accept", Some(&bob.token), json!({ "public_key": key })).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_parameter"));

    assert_eq!(
        app.post(
            &format!("/api/v1/friends/requests/{id}/accept"),
            Some(&bob.token),
            json!({ "public_key": new_public_key() })
        )
        .await
        .status,
        StatusCode::OK
    );
    let r = send(alice.token.clone(), bob.user_id.clone(), key.clone()).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "already_friends"));
    let r = send(bob.token.clone(), alice.user_id.clone(), key.clone()).await;
    assert_eq!(r.code(), "already_friends");
    // Accepting twice: the request no longer exists.
    let r = app
        .post(&format!("/api/v1/friends/requests/{id}/accept"), Some(&bob.token), json!({ "public_key": key }))
        .await;
    assert_eq!(r.code(), "request_not_found");
}

#[tokio::test]
async fn decline_and_cancel() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), None).await;
    let bob = app.sign_in(&phone(2), None).await;
    let make = || {
        app.post(
            "/api/v1/friends/requests",
            Some(&alice.token),
            json!({ "user_id": bob.user_id, "public_key": new_public_key() }),
        )
    };

    let id = make().await.body["id"].as_str().unwrap().to_owned();
    let r = app.call(Method::POST, &format!("/api/v1/friends/requests/{id}/decline"), Some(&bob.token), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/v1/friends/requests", &alice.token).await.body["outgoing"], json!([]));
    assert_eq!(app.get("/api/v1/friends", &alice.token).await.body["friends"], json!([]));

    // After a decline Alice may ask again, and cancel it herself.
    let id = make().await.body["id"].as_str().unwrap().to_owned();
    let r = app.call(Method::DELETE, &format!("/api/v1/friends/requests/{id}"), Some(&alice.token), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/v1/friends/requests", &bob.token).await.body["incoming"], json!([]));
    let r = app.call(Method::DELETE, &format!("/api/v1/friends/requests/{id}"), Some(&alice.token), None).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "request_not_found"));
}

#[tokio::test]
async fn key_rotation_and_unfriend() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), None).await;
    let bob = app.sign_in(&phone(2), None).await;
    let carol = app.sign_in(&phone(3), None).await;
    let (_, bob_key) = app.befriend(&alice, &bob).await;

    let new_key = new_public_key();
    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/friends/{}/key", bob.user_id),
            Some(&alice.token),
            Some(json!({ "public_key": new_key })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (r.body["my_public_key"].as_str().unwrap(), r.body["their_public_key"].as_str().unwrap()),
        (new_key.as_str(), bob_key.as_str())
    );
    assert_eq!(app.get("/api/v1/friends", &bob.token).await.body["friends"][0]["their_public_key"], new_key.as_str());

    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/friends/{}/key", carol.user_id),
            Some(&alice.token),
            Some(json!({ "public_key": new_key })),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_friends"));
    let r = app
        .call(
            Method::PUT,
            &format!("/api/v1/friends/{}/key", bob.user_id),
            Some(&alice.token),
            Some(json!({ "public_key": "x" })),
        )
        .await;
    assert_eq!(r.code(), "invalid_public_key");

    let r = app.call(Method::DELETE, &format!("/api/v1/friends/{}", alice.user_id), Some(&bob.token), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/v1/friends", &alice.token).await.body["friends"], json!([]));
    let r = app.call(Method::DELETE, &format!("/api/v1/friends/{}", bob.user_id), Some(&alice.token), None).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_friends"));
    // They can become friends again.
    app.befriend(&bob, &alice).await;
}

#[tokio::test]
async fn blocking_ends_everything_and_refuses_requests_both_ways() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), None).await;
    let bob = app.sign_in(&phone(2), None).await;
    let carol = app.sign_in(&phone(3), None).await;
    app.befriend(&alice, &bob).await;
    // A pending request from Carol to Alice, which Alice's block of Carol must remove.
    app.post(
        "/api/v1/friends/requests",
        Some(&carol.token),
        json!({ "user_id": alice.user_id, "public_key": new_public_key() }),
    )
    .await;

    assert_eq!(
        app.call(Method::POST, &format!("/api/v1/blocks/{}", bob.user_id), Some(&alice.token), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.call(Method::POST, &format!("/api/v1/blocks/{}", carol.user_id), Some(&alice.token), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get("/api/v1/friends", &alice.token).await.body["friends"], json!([]));
    assert_eq!(app.get("/api/v1/friends", &bob.token).await.body["friends"], json!([]));
    assert_eq!(app.get("/api/v1/friends/requests", &alice.token).await.body["incoming"], json!([]));

    for (from, to) in [(&bob, &alice), (&alice, &bob)] {
        let r = app
            .post(
                "/api/v1/friends/requests",
                Some(&from.token),
                json!({ "user_id": to.user_id, "public_key": new_public_key() }),
            )
            .await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "blocked"));
    }
    let r = app.call(Method::POST, &format!("/api/v1/blocks/{}", alice.user_id), Some(&alice.token), None).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_parameter"));
    let r = app.call(Method::POST, &format!("/api/v1/blocks/{}", uuid::Uuid::now_v7()), Some(&alice.token), None).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "user_not_found"));

    assert_eq!(
        app.call(Method::DELETE, &format!("/api/v1/blocks/{}", bob.user_id), Some(&alice.token), None).await.status,
        StatusCode::NO_CONTENT
    );
    app.befriend(&bob, &alice).await;
}

#[tokio::test]
async fn lookup_errors_and_rate_limit() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), None).await;
    let r = app.get("/api/v1/users/lookup?phone=%2B16502539999", &alice.token).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "user_not_found"));
    let r = app.get("/api/v1/users/lookup?phone=12", &alice.token).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_phone"));
    let r = app.get("/api/v1/users/lookup", &alice.token).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_parameter"));
    let r = app.call(Method::GET, "/api/v1/users/lookup?phone=%2B16502530001", None, None).await;
    assert_eq!(r.code(), "unauthorized");
    // 60 lookups an hour; the unknown number above counted, malformed ones did not.
    for _ in 0..59 {
        assert_eq!(app.get("/api/v1/users/lookup?phone=%2B16502530001", &alice.token).await.status, StatusCode::OK);
    }
    let r = app.get("/api/v1/users/lookup?phone=%2B16502530001", &alice.token).await;
    assert_eq!((r.status, r.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
}
