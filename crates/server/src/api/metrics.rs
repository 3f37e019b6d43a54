//! `GET /metrics` (Prometheus text format, rendered by `crate::metrics`) and the middleware
//! that times every HTTP request and counts error codes.
//!
//! Who may scrape: with `HUSH_METRICS_TOKEN` set, whoever sends it as a bearer token;
//! without it, only clients on loopback that came **directly**, not through a proxy: a
//! reverse proxy on the same host connects from loopback too, so a request carrying
//! `X-Forwarded-For`, `Forwarded` or `X-Real-IP` is refused whether or not those headers
//! are trusted — otherwise a same-host proxy would publish the metrics.

use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hush_shared::ErrorCode;
use subtle::ConstantTimeEq;

use super::extract::ClientIp;
use crate::error::AppError;
use crate::metrics::Via;
use crate::state::AppState;

/// `GET /metrics`.
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

async fn scrape(State(state): State<AppState>, ip: ClientIp, headers: HeaderMap) -> Response {
    if !may_scrape(&state, ip, &headers) {
        return AppError::new(
            ErrorCode::Forbidden,
            "metrics are served to loopback clients that come directly (not through a proxy), or to holders of HUSH_METRICS_TOKEN",
        )
        .into_response();
    }
    let depth = match state.stores.mailbox.total_depth().await {
        Ok(depth) => Some(depth),
        Err(e) => {
            tracing::warn!(error = %e, "mailbox depth unavailable for metrics");
            None
        }
    };
    let mut text = state.metrics.render(depth);
    text.push_str(&state.push.counts.render());
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

fn may_scrape(state: &AppState, ClientIp(ip): ClientIp, headers: &HeaderMap) -> bool {
    match state.config.metrics_token.as_deref().filter(|t| !t.is_empty()) {
        Some(token) => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| bool::from(given.as_bytes().ct_eq(token.as_bytes()))),
        None => ip.is_loopback() && !forwarded(headers),
    }
}

/// Whether a proxy passed the request on (it names the client it came from).
fn forwarded(headers: &HeaderMap) -> bool {
    ["x-forwarded-for", "forwarded", "x-real-ip"].iter().any(|name| headers.contains_key(*name))
}

/// Middleware: times every HTTP request and counts the error codes of error responses.
pub async fn observe_http(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.http_latency.observe(started.elapsed());
    if let Some(code) = response.extensions().get::<ErrorCode>() {
        state.metrics.error(*code, Via::Http);
    }
    response
}
