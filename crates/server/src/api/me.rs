//! `/api/v1/me`: my account — read, rename, delete.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hush_shared::ErrorBody;
use hush_shared::api::account::{UpdateMeRequest, User};

use super::auth::clear_cookie;
use super::extract::{ApiJson, AuthUser};
use crate::error::AppError;
use crate::service::account;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/me", get(get_me).patch(update_me).delete(delete_me))
}

/// My account.
#[utoipa::path(get, path = "/api/v1/me", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
pub async fn get_me(State(state): State<AppState>, auth: AuthUser) -> Result<axum::Json<User>, AppError> {
    Ok(axum::Json(account::get(&state, auth.user).await?))
}

/// Sets my display name.
#[utoipa::path(patch, path = "/api/v1/me", tag = "account", security(("bearer" = [])), request_body = UpdateMeRequest,
    responses((status = 200, body = User), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn update_me(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(req): ApiJson<UpdateMeRequest>,
) -> Result<axum::Json<User>, AppError> {
    Ok(axum::Json(account::rename(&state, auth.user, &req.display_name).await?))
}

/// Deletes my account and everything tied to it: sessions, requests, friendships, keys,
/// blocks, identity, devices with their prekeys and mailboxes, and what I had queued for
/// my friends.
#[utoipa::path(delete, path = "/api/v1/me", tag = "account", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn delete_me(State(state): State<AppState>, auth: AuthUser) -> Result<Response, AppError> {
    account::delete(&state, auth.user, auth.session).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, clear_cookie(&state));
    Ok(response)
}
