//! Serves the built web app from `HUSH_WEB_DIR` at `/`: content-hashed files under
//! `/assets/` are cached for a year, everything else (`index.html`, also the fallback for
//! client-side routes) is revalidated on every load, and every page carries a strict
//! Content-Security-Policy that still lets the WASM app run.

use std::path::Path;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::services::{ServeDir, ServeFile};

use crate::state::AppState;

/// The app's Content-Security-Policy: only its own scripts, styles and connections;
/// `wasm-unsafe-eval` compiles the WASM module, nothing allows inline or foreign code.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'";

/// A router serving `dir`, falling back to `dir/index.html`.
pub fn router(dir: &Path) -> Router<AppState> {
    let index = ServeFile::new(dir.join("index.html"));
    let files = ServeDir::new(dir).append_index_html_on_directories(true).fallback(index);
    Router::new().fallback_service(files).layer(middleware::from_fn(headers))
}

async fn headers(request: Request, next: Next) -> Response {
    let immutable = request.uri().path().starts_with("/assets/");
    let mut response = next.run(request).await;
    let is_html = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if immutable && is_html {
        // The client-side-route fallback must not answer for a missing asset.
        response = crate::error::AppError::new(hush_shared::ErrorCode::NotFound, "no such asset").into_response();
    }
    let found = response.status().is_success();
    let h = response.headers_mut();
    // A missing asset must not be cached for a year under its name.
    let cache = if immutable && found { "public, max-age=31536000, immutable" } else { "no-cache" };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}
