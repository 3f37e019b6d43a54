//! Every friendship path, including the error ones: lookup, request, accept, decline,
//! cancel, list (with each friend's identity key), unfriend, block and unblock.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn request_accept_and_identities_in_the_friend_list() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), Some("Alice")).await;
    let bob = app.sign_in(&phone(2), Some("Bob")).await;

    let found = app.get(&format!("/api/v1/users/lookup?phone={}", urlencode(&bob.phone)), &alice.token).await;
    assert_eq!(found.status, StatusCode::OK);
    assert_eq!(found.body, json!({ "user_id": bob.user_id, "display_name": "Bob" }));

    let r = app.post("/api/v1/friends/requests", Some(&alice.token), json!({ "user_id": bob.user_id })).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["user_id"], bob.user_id.as_str());
    assert_eq!(r.body["display_name"], "Bob");
    assert_eq!(r.body["phone"], bob.phone.as_str());
    let id = r.body["id"].as_str().unwrap().to_owned();

    let bobs = app.get("/api/v1/friends/requests", &bob.token).await;
    assert_eq!(bobs.body["outgoing"], json!([]));
    let incoming = &bobs.body["incoming"][0];
    assert_eq!(
        (incoming["id"].as_str().unwrap(), incoming["user_id"].as_str().unwrap()),
        (id.as_str(), alice.user_id.as_str())
    );
    assert_eq!(incoming["display_name"], "Alice");
    assert_eq!(incoming["phone"], alice.phone.as_str(), "a request shows who really asks, whatever their name");
    let alices = app.get("/api/v1/friends/requests", &alice.token).await;
    assert_eq!(alices.body["outgoing"][0]["id"], id.as_str());

    // Bob has a device; Alice not yet.
    let bob_device = app.with_device(&bob).await;
    let r = app.call(Method::POST, &format!("/api/v1/friends/requests/{id}/accept"), Some(&bob.token), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((r.body["user_id"].as_str(), &r.body["identity_key"]), (Some(alice.user_id.as_str()), &json!(null)));

    let a_list = app.get("/api/v1/friends", &alice.token).await;
    let f = &a_list.body["friends"][0];
    assert_eq!(a_list.body["friends"].as_array().unwrap().len(), 1);
    assert_eq!((f["user_id"].as_str().unwrap(), f["display_name"].as_str().unwrap()), (bob.user_id.as_str(), "Bob"));
    assert_eq!(f["identity_key"], bob_device.identity_key(), "the friend list carries Bob's identity");
    let alice_device = app.with_device(&alice).await;
    let b_list = app.get("/api/v1/friends", &bob.token).await;
    assert_eq!(b_list.body["friends"][0]["identity_key"], alice_device.identity_key());
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
    let send = |token: String, to: String| {
        let app = &app;
        async move { app.post("/api/v1/friends/requests", Some(&token), json!({ "user_id": to })).await }
    };

    let r = send(alice.token.clone(), alice.user_id.clone()).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "cannot_befriend_self"));
    let r = send(alice.token.clone(), uuid::Uuid::now_v7().to_string()).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "user_not_found"));
    let r = send(alice.token.clone(), "not-a-uuid".into()).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_json"));
    // A crypto v1 client still sending a key is told so (unknown field).
    let r = app
        .post(
            "/api/v1/friends/requests",
            Some(&alice.token),
            json!({ "user_id": bob.user_id, "public_key": new_public_key() }),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_json"));

    assert_eq!(send(alice.token.clone(), bob.user_id.clone()).await.status, StatusCode::CREATED);
    let r = send(alice.token.clone(), bob.user_id.clone()).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "request_already_sent"));
    let r = send(bob.token.clone(), alice.user_id.clone()).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "incoming_request_exists"));

    let id =
        app.get("/api/v1/friends/requests", &bob.token).await.body["incoming"][0]["id"].as_str().unwrap().to_owned();
    let accept = |token: String, id: String| {
        let app = &app;
        async move { app.call(Method::POST, &format!("/api/v1/friends/requests/{id}/accept"), Some(&token), None).await }
    };
    // Only the recipient can accept or decline; only the requester can cancel.
    let r = accept(alice.token.clone(), id.clone()).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "request_not_found"));
    let r = app.call(Method::POST, &format!("/api/v1/friends/requests/{id}/decline"), Some(&alice.token), None).await;
    assert_eq!(r.code(), "request_not_found");
    let r = app.call(Method::DELETE, &format!("/api/v1/friends/requests/{id}"), Some(&bob.token), None).await;
    assert_eq!(r.code(), "request_not_found");
    let r = accept(bob.token.clone(), "not-a-uuid".into()).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_parameter"));

    assert_eq!(accept(bob.token.clone(), id.clone()).await.status, StatusCode::OK);
    let r = send(alice.token.clone(), bob.user_id.clone()).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "already_friends"));
    let r = send(bob.token.clone(), alice.user_id.clone()).await;
    assert_eq!(r.code(), "already_friends");
    // Accepting twice: the request no longer exists.
    assert_eq!(accept(bob.token.clone(), id.clone()).await.code(), "request_not_found");
}

#[tokio::test]
async fn decline_and_cancel() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), None).await;
    let bob = app.sign_in(&phone(2), None).await;
    let make = || app.post("/api/v1/friends/requests", Some(&alice.token), json!({ "user_id": bob.user_id }));

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
async fn unfriend() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), None).await;
    let bob = app.sign_in(&phone(2), None).await;
    app.befriend(&alice, &bob).await;

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
    app.post("/api/v1/friends/requests", Some(&carol.token), json!({ "user_id": alice.user_id })).await;

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

    // Alice, who blocked Bob, is told to unblock him first; Bob is not told he is blocked:
    // his request looks pending to him, and Alice never sees it.
    let r = app.post("/api/v1/friends/requests", Some(&alice.token), json!({ "user_id": bob.user_id })).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "blocked"));
    let r = app.post("/api/v1/friends/requests", Some(&bob.token), json!({ "user_id": alice.user_id })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(app.get("/api/v1/friends/requests", &bob.token).await.body["outgoing"][0]["id"], r.body["id"]);
    assert_eq!(app.get("/api/v1/friends/requests", &alice.token).await.body["incoming"], json!([]));
    let accept = format!("/api/v1/friends/requests/{}/accept", r.body["id"].as_str().unwrap());
    assert_eq!(app.post(&accept, Some(&alice.token), json!({})).await.code(), "request_not_found");
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
