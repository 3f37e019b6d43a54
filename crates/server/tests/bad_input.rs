//! Bad input anywhere gets a 4xx with a stable JSON error code — never a 500, never a
//! plain-text body.

mod common;

use common::*;
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn malformed_requests_get_typed_errors() {
    let app = TestApp::spawn().await;
    let alice = app.sign_in(&phone(1), None).await;
    let raw = |method: Method, path: &str, body: &'static str, content_type: &'static str| {
        let req = app
            .http
            .request(method, format!("{}{}", app.base, path))
            .bearer_auth(&alice.token)
            .header("content-type", content_type)
            .body(body);
        async move {
            let res = req.send().await.unwrap();
            let status = res.status();
            let body: serde_json::Value = res.json().await.expect("a JSON error body");
            (status, body["code"].as_str().unwrap().to_owned())
        }
    };
    assert_eq!(
        raw(Method::POST, "/api/v1/auth/code", "{", "application/json").await,
        (StatusCode::BAD_REQUEST, "invalid_json".into())
    );
    assert_eq!(
        raw(Method::POST, "/api/v1/auth/code", "[]", "application/json").await,
        (StatusCode::BAD_REQUEST, "invalid_json".into())
    );
    assert_eq!(raw(Method::POST, "/api/v1/auth/code", "{}", "application/json").await.1, "invalid_json");
    assert_eq!(
        raw(Method::POST, "/api/v1/auth/code", "phone=1", "application/x-www-form-urlencoded").await,
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type".into())
    );
    assert_eq!(
        raw(Method::PATCH, "/api/v1/me", "{\"display_name\": \"\\ud800\"}", "application/json").await.1,
        "invalid_json"
    );
    let huge: &'static str = Box::leak(format!("{{\"phone\": \"{}\"}}", "1".repeat(20_000)).into_boxed_str());
    assert_eq!(
        raw(Method::POST, "/api/v1/auth/code", huge, "application/json").await,
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large".into())
    );
    assert_eq!(
        raw(Method::GET, "/api/v1/nothing-here", "", "text/plain").await,
        (StatusCode::NOT_FOUND, "not_found".into())
    );
    assert_eq!(raw(Method::GET, "/nothing-here", "", "text/plain").await, (StatusCode::NOT_FOUND, "not_found".into()));
    assert_eq!(
        raw(Method::DELETE, "/api/v1/auth/code", "", "text/plain").await,
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed".into())
    );
    assert_eq!(
        raw(Method::DELETE, "/api/v1/friends/%FF%FE", "", "text/plain").await,
        (StatusCode::BAD_REQUEST, "invalid_parameter".into())
    );
    assert_eq!(
        raw(Method::GET, "/api/v1/users/lookup?phone=%FF", "", "text/plain").await,
        (StatusCode::BAD_REQUEST, "invalid_phone".into())
    );
    assert_eq!(
        raw(Method::GET, "/api/v1/users/lookup?phone=1&phone=2", "", "text/plain").await,
        (StatusCode::BAD_REQUEST, "invalid_parameter".into())
    );
}

#[tokio::test]
async fn health_readiness_request_ids_and_openapi() {
    let app = TestApp::spawn().await;
    let r = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers.contains_key("x-request-id"));
    let r = app.call_with(Method::GET, "/readyz", None, None, &[("x-request-id", "trace-me-123")]).await;
    assert_eq!((r.status, r.headers.get("x-request-id").unwrap().to_str().unwrap()), (StatusCode::OK, "trace-me-123"));

    let doc = app.call(Method::GET, "/api/v1/openapi.json", None, None).await.body;
    assert_eq!(doc["openapi"].as_str().unwrap().chars().next(), Some('3'));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/auth/code",
        "/api/v1/auth/verify",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/me",
        "/api/v1/users/lookup",
        "/api/v1/friends",
        "/api/v1/friends/requests",
        "/api/v1/friends/requests/{id}",
        "/api/v1/friends/requests/{id}/accept",
        "/api/v1/friends/requests/{id}/decline",
        "/api/v1/friends/{user_id}",
        "/api/v1/devices",
        "/api/v1/devices/{device_id}",
        "/api/v1/devices/{device_id}/prekeys",
        "/api/v1/devices/{device_id}/one-time-prekeys",
        "/api/v1/devices/{device_id}/signed-prekey",
        "/api/v1/users/{user_id}/bundles",
        "/api/v1/blocks/{user_id}",
        "/healthz",
        "/readyz",
    ] {
        assert!(paths.contains_key(path), "openapi lacks {path}");
    }
    let codes = &doc["components"]["schemas"]["ErrorCode"]["enum"];
    assert!(codes.as_array().unwrap().iter().any(|c| c == "too_many_attempts"), "{codes}");
}

#[test]
fn protocol_doc_lists_every_error_code() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/PROTOCOL.md")).unwrap();
    let schema = serde_json::to_value(<hush_server::api::openapi::ApiDoc as utoipa::OpenApi>::openapi()).unwrap();
    let codes = schema["components"]["schemas"]["ErrorCode"]["enum"].as_array().unwrap().clone();
    assert!(codes.len() >= 30);
    for code in codes {
        let code = code.as_str().unwrap();
        let status = serde_json::from_value::<hush_shared::ErrorCode>(serde_json::json!(code)).unwrap().http_status();
        assert!(doc.contains(&format!("| `{code}` | {status} |")), "docs/PROTOCOL.md lacks `{code}` ({status})");
    }
}
