//! `/api/v1/users/lookup`: find a person by their exact phone number (rate-limited, so the
//! directory cannot be enumerated quickly).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use hush_shared::api::users::{LookupQuery, PublicUser};
use hush_shared::limits::LOOKUPS_PER_ACCOUNT_PER_HOUR;
use hush_shared::validate::normalize_phone;
use hush_shared::{ErrorBody, ErrorCode};

use super::extract::{ApiQuery, AuthUser};
use crate::error::AppError;
use crate::service::signin::enforce;
use crate::state::AppState;
use crate::store::RateRule;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/users/lookup", get(lookup))
}

/// Finds a person by exact phone number.
#[utoipa::path(get, path = "/api/v1/users/lookup", tag = "users", security(("bearer" = [])), params(LookupQuery),
    responses((status = 200, body = PublicUser), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn lookup(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiQuery(query): ApiQuery<LookupQuery>,
) -> Result<axum::Json<PublicUser>, AppError> {
    let phone = normalize_phone(&query.phone)?;
    enforce(
        &state,
        &[RateRule { key: format!("lookup:{}", auth.user), limit: LOOKUPS_PER_ACCOUNT_PER_HOUR, window_secs: 3600 }],
    )
    .await?;
    let user = state.stores.accounts.find_by_phone(&phone).await?;
    let user = user.ok_or_else(|| AppError::new(ErrorCode::UserNotFound, "nobody uses Hush with this number"))?;
    Ok(axum::Json(PublicUser { user_id: user.id, display_name: user.display_name }))
}
