//! `/api/v1/me`: my account — read, rename, delete.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hush_shared::api::account::{UpdateMeRequest, User};
use hush_shared::validate::display_name;
use hush_shared::ws::FriendEvent;
use hush_shared::{ErrorBody, ErrorCode};

use super::auth::clear_cookie;
use super::extract::{ApiJson, AuthUser};
use crate::error::AppError;
use crate::hub::HubEvent;
use crate::service::signin::user_view;
use crate::service::{delivery, devices};
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/me", get(get_me).patch(update_me).delete(delete_me))
}

fn gone() -> AppError {
    AppError::new(ErrorCode::SessionRevoked, "this account no longer exists")
}

/// My account.
#[utoipa::path(get, path = "/api/v1/me", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
pub async fn get_me(State(state): State<AppState>, auth: AuthUser) -> Result<axum::Json<User>, AppError> {
    let user = state.stores.accounts.get(auth.user).await?.ok_or_else(gone)?;
    Ok(axum::Json(user_view(&user)))
}

/// Sets my display name.
#[utoipa::path(patch, path = "/api/v1/me", tag = "account", security(("bearer" = [])), request_body = UpdateMeRequest,
    responses((status = 200, body = User), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn update_me(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(req): ApiJson<UpdateMeRequest>,
) -> Result<axum::Json<User>, AppError> {
    let name = display_name(&req.display_name)?;
    let user = state.stores.accounts.set_display_name(auth.user, &name).await?.ok_or_else(gone)?;
    Ok(axum::Json(user_view(&user)))
}

/// Deletes my account and everything tied to it: sessions, requests, friendships, keys,
/// blocks, identity, devices and their prekeys.
#[utoipa::path(delete, path = "/api/v1/me", tag = "account", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn delete_me(State(state): State<AppState>, auth: AuthUser) -> Result<Response, AppError> {
    let friends = state.stores.social.friend_ids(auth.user).await?;
    devices::forget_account(&state, auth.user).await?;
    state.stores.accounts.delete(auth.user).await?;
    for friend in friends {
        delivery::friend_event(&state, friend, FriendEvent::Removed { user_id: auth.user }).await;
    }
    state.hub.send(auth.user, HubEvent::SessionRevoked(auth.session)).await;
    tracing::info!(user = %auth.user, "account deleted");
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, clear_cookie(&state));
    Ok(response)
}
