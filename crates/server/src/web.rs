//! Serves the built web app from `HUSH_WEB_DIR` at `/`: content-hashed files under
//! `/assets/` are cached for a year, everything else (`index.html`, also the fallback for
//! client-side routes) is revalidated on every load, and every page carries a strict
//! Content-Security-Policy that still lets the WASM app run.

use std::path::Path;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
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
    let h = response.headers_mut();
    let cache = if immutable && response_ok(h) { "public, max-age=31536000, immutable" } else { "no-cache" };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn response_ok(h: &axum::http::HeaderMap) -> bool {
    h.contains_key(header::CONTENT_TYPE)
}
