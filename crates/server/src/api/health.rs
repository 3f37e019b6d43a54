//! `/healthz` (the process is up) and `/readyz` (the store answers).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use hush_shared::{ErrorBody, ErrorCode};

use crate::error::AppError;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the storage backend answers a trivial query.
#[utoipa::path(get, path = "/readyz", tag = "health", responses((status = 200, body = String), (status = 503, body = ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<&'static str, AppError> {
    state.stores.health.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness check failed");
        AppError::new(ErrorCode::Unavailable, "storage is unavailable")
    })?;
    Ok("ready")
}
