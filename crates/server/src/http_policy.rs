//! Browser-facing policy for every response: CORS limited to `HUSH_PUBLIC_ORIGIN` (the
//! app itself is same-origin and needs none; this only decides which other origin, if any,
//! a browser lets read the API) and HSTS when Hush is served over https.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::Config;
use crate::state::AppState;

/// One year, the value HSTS preload lists expect.
pub const HSTS: &str = "max-age=31536000";

/// CORS that admits exactly the configured public origin, with credentials (the refresh
/// cookie). Any other origin gets no CORS headers, so browsers refuse it the response.
pub fn cors(config: &Config) -> CorsLayer {
    let ours = config.public_origin();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| origin.as_bytes() == ours.as_bytes()))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(Duration::from_secs(600))
}

/// Middleware: `Strict-Transport-Security` on every response when the public origin is https.
pub async fn hsts(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if state.config.is_https() {
        response.headers_mut().insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    response
}
