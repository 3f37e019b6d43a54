//! The HTTP API: one module per endpoint family, each with `pub fn router()`; [`extract`]
//! holds the extractors that make bad input a typed error.

pub mod auth;
pub mod devices;
pub mod extract;
pub mod friends;
pub mod health;
pub mod links;
pub mod me;
pub mod metrics;
pub mod openapi;
pub mod push;
pub mod users;

use axum::Router;
use axum::routing::get;
use hush_shared::ErrorCode;

use crate::error::AppError;
use crate::state::AppState;

/// Everything under `/api/v1`.
pub fn v1() -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(me::router())
        .merge(users::router())
        .merge(friends::router())
        .merge(devices::router())
        .merge(links::router())
        .merge(push::router())
        .route("/openapi.json", get(openapi::openapi_json))
        .fallback(not_found)
}

/// JSON 404 for unknown routes.
pub async fn not_found() -> AppError {
    AppError::new(ErrorCode::NotFound, "no such endpoint")
}

/// JSON 405 for known routes with the wrong method.
pub async fn method_not_allowed() -> AppError {
    AppError::new(ErrorCode::MethodNotAllowed, "this endpoint does not accept that method")
}
