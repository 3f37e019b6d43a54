//! `/api/v1/push*`: the server's VAPID key and this session's device's Web Push
//! subscription. The rules are in `service::push`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use hush_shared::ErrorBody;
use hush_shared::api::push::{PushKey, PushSubscription};

use super::extract::{ApiJson, AuthUser};
use crate::error::AppError;
use crate::service::push;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/push/key", get(push_key)).route("/push/subscription", put(subscribe).delete(unsubscribe))
}

/// The server's VAPID public key, for `pushManager.subscribe({ applicationServerKey })`.
#[utoipa::path(get, path = "/api/v1/push/key", tag = "push", security(("bearer" = [])),
    responses((status = 200, body = PushKey), (status = 401, body = ErrorBody)))]
pub async fn push_key(State(state): State<AppState>, _auth: AuthUser) -> axum::Json<PushKey> {
    axum::Json(PushKey { public_key: state.push.public_key().to_owned() })
}

/// Sets where this session's device gets pushes (replacing its earlier subscription).
#[utoipa::path(put, path = "/api/v1/push/subscription", tag = "push", security(("bearer" = [])), request_body = PushSubscription,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn subscribe(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(req): ApiJson<PushSubscription>,
) -> Result<StatusCode, AppError> {
    push::subscribe(&state, auth.user, auth.session, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stops pushes to this session's device.
#[utoipa::path(delete, path = "/api/v1/push/subscription", tag = "push", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn unsubscribe(State(state): State<AppState>, auth: AuthUser) -> Result<StatusCode, AppError> {
    push::unsubscribe(&state, auth.user, auth.session).await?;
    Ok(StatusCode::NO_CONTENT)
}
