//! The REST API v1 from the browser: JSON over `fetch`, same-origin, cookies included (the
//! refresh cookie is httpOnly, so only the server ever reads it). Errors come back as the
//! server's stable error body.

use hush_client::api::{decode, encode, unreachable as network};
use hush_shared::ErrorBody;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestCredentials, RequestInit, Response};

/// A failed call: the server's error body, or a network failure as `unavailable`.
pub type ApiError = ErrorBody;

/// Calls `method path` with an optional bearer token and JSON body.
pub async fn call<T: DeserializeOwned>(
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&impl Serialize>,
) -> Result<T, ApiError> {
    let body = body.map(encode).transpose()?;
    decode(path, &call_text(method, path, token, body).await?)
}

/// Calls `method path` with an optional bearer token and JSON body text: the answer's text.
/// One function for every answer type, so the browser's code for a call exists once.
pub async fn call_text(
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<String>,
) -> Result<String, ApiError> {
    let init = RequestInit::new();
    init.set_method(method);
    init.set_credentials(RequestCredentials::SameOrigin);
    if let Some(text) = &body {
        init.set_body(&wasm_bindgen::JsValue::from_str(text));
    }
    let request = Request::new_with_str_and_init(path, &init).map_err(|_| network("bad request"))?;
    let headers = request.headers();
    let _ = headers.set("accept", "application/json");
    if body.is_some() {
        let _ = headers.set("content-type", "application/json");
    }
    if let Some(token) = token {
        let _ = headers.set("authorization", &format!("Bearer {token}"));
    }
    let window = web_sys::window().ok_or_else(|| network("no window"))?;
    let response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|_| network("the server cannot be reached"))?;
    let response: Response = response.dyn_into().map_err(|_| network("bad response"))?;
    let status = response.status();
    let text = match response.text() {
        Ok(p) => JsFuture::from(p).await.ok().and_then(|v| v.as_string()).unwrap_or_default(),
        Err(_) => String::new(),
    };
    if (200..300).contains(&status) {
        Ok(text)
    } else {
        Err(serde_json::from_str(&text).unwrap_or_else(|_| network(format!("HTTP {status}"))))
    }
}

/// A body-less call whose answer is ignored.
pub async fn call_empty(method: &str, path: &str, token: Option<&str>) -> Result<(), ApiError> {
    call_text(method, path, token, None).await.map(|_| ())
}
