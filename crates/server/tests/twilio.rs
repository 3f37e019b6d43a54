//! The Twilio provider against a local stand-in of Twilio's REST API that checks the
//! documented request (path, HTTP basic auth, form-encoded `To`/`From`/`Body`) and answers
//! with Twilio's documented success (201 + message resource) and error bodies
//! (`{"code", "message", "more_info", "status"}`).

mod common;

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use base64::Engine as _;
use common::*;
use serde_json::json;

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-auth-token-for-tests";
const FROM: &str = "+15005550006";

/// One received request's form fields, in order.
type Form = Vec<(String, String)>;

#[derive(Clone, Default)]
struct StandIn {
    received: Arc<Mutex<Vec<Form>>>,
}

fn twilio_error(status: StatusCode, code: u32, message: &str) -> axum::response::Response {
    let body = json!({ "code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status.as_u16() });
    (status, axum::Json(body)).into_response()
}

async fn create_message(
    State(stand_in): State<StandIn>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    let expected_auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}")));
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected_auth.as_str()) || account != SID {
        return twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/x-www-form-urlencoded") {
        return twilio_error(StatusCode::BAD_REQUEST, 20001, "Invalid content type");
    }
    let form: Form = serde_urlencoded::from_str(&body).unwrap();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let (Some(to), Some(text)) = (field("To"), field("Body")) else {
        return twilio_error(StatusCode::BAD_REQUEST, 21604, "A 'To' phone number is required.");
    };
    if field("From").is_none() && field("MessagingServiceSid").is_none() {
        return twilio_error(StatusCode::BAD_REQUEST, 21603, "A 'From' phone number is required.");
    }
    if to.ends_with("9999") {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21211,
            &format!("The 'To' number {to} is not a valid phone number."),
        );
    }
    stand_in.received.lock().unwrap().push(form.clone());
    let resource = json!({
        "account_sid": SID, "api_version": "2010-04-01", "body": text, "direction": "outbound-api",
        "from": field("From"), "messaging_service_sid": field("MessagingServiceSid"), "num_segments": "1",
        "sid": "SM0123456789abcdef0123456789abcdef", "status": "queued", "to": to,
        "uri": format!("/2010-04-01/Accounts/{SID}/Messages/SM0123456789abcdef0123456789abcdef.json"),
    });
    (StatusCode::CREATED, axum::Json(resource)).into_response()
}

async fn start_stand_in() -> (String, StandIn) {
    let stand_in = StandIn::default();
    let app = axum::Router::new()
        .route("/2010-04-01/Accounts/{account}/Messages.json", axum::routing::post(create_message))
        .with_state(stand_in.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, stand_in)
}

async fn hush_with_twilio(api_base: &str, token: &str, from: &str) -> TestApp {
    TestApp::spawn_from_config(&[
        "--sms-provider",
        "twilio",
        "--twilio-account-sid",
        SID,
        "--twilio-auth-token",
        token,
        "--twilio-from",
        from,
        "--twilio-api-base",
        api_base,
    ])
    .await
}

#[tokio::test]
async fn codes_go_out_through_twilio_and_sign_in_works() {
    let (base, stand_in) = start_stand_in().await;
    let app = hush_with_twilio(&base, TOKEN, FROM).await;
    let r = app.post("/api/v1/auth/code", None, json!({ "phone": "+1 650 253 0001" })).await;
    assert_eq!(r.status, reqwest::StatusCode::ACCEPTED, "{:?}", r.body);
    let form = stand_in.received.lock().unwrap().pop().expect("Twilio got the request");
    let get = |k: &str| form.iter().find(|(name, _)| name == k).map(|(_, v)| v.clone()).unwrap();
    assert_eq!((get("To").as_str(), get("From").as_str()), ("+16502530001", FROM));
    let text = get("Body");
    let code = &text[text.find("code is ").unwrap() + 8..][..6];
    let body = json!({ "phone": "+16502530001", "challenge": r.body["challenge"], "code": code });
    assert_eq!(app.post("/api/v1/auth/verify", None, body).await.status, reqwest::StatusCode::OK);
}

#[tokio::test]
async fn a_messaging_service_sid_is_sent_as_such() {
    let (base, stand_in) = start_stand_in().await;
    let app = hush_with_twilio(&base, TOKEN, "MG0123456789abcdef0123456789abcdef").await;
    assert_eq!(
        app.post("/api/v1/auth/code", None, json!({ "phone": phone(2) })).await.status,
        reqwest::StatusCode::ACCEPTED
    );
    let form = stand_in.received.lock().unwrap().pop().unwrap();
    assert!(form.iter().any(|(k, v)| k == "MessagingServiceSid" && v.starts_with("MG")));
    assert!(!form.iter().any(|(k, _)| k == "From"));
}

#[tokio::test]
async fn twilio_errors_become_sms_failed() {
    let (base, _) = start_stand_in().await;
    let app = hush_with_twilio(&base, TOKEN, FROM).await;
    let r = app.post("/api/v1/auth/code", None, json!({ "phone": "+1 650 253 9999" })).await;
    assert_eq!((r.status, r.code()), (reqwest::StatusCode::BAD_GATEWAY, "sms_failed"));

    let wrong_auth = hush_with_twilio(&base, "not-the-token", FROM).await;
    let r = wrong_auth.post("/api/v1/auth/code", None, json!({ "phone": phone(3) })).await;
    assert_eq!(r.code(), "sms_failed");

    // Twilio unreachable (nothing listens on the port).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let unreachable = hush_with_twilio(&dead, TOKEN, FROM).await;
    let r = unreachable.post("/api/v1/auth/code", None, json!({ "phone": phone(4) })).await;
    assert_eq!(r.code(), "sms_failed");
}

#[tokio::test]
async fn twilio_without_credentials_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = <hush_server::config::Config as clap::Parser>::try_parse_from([
        "hush-server",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--sms-provider",
        "twilio",
    ])
    .unwrap();
    let err = hush_server::AppState::from_config(config).await.err().expect("must fail");
    assert!(err.to_string().contains("HUSH_TWILIO_ACCOUNT_SID"), "{err}");
}
