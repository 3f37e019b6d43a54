//! `/api/v1/links*`: linking a new browser to the account (`docs/PROTOCOL.md` *Linking*).
//! The rules are in `service::links`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use hush_shared::ErrorBody;
use hush_shared::api::links::{HistoryChunk, JoinLink, Link, LinkStep};
use uuid::Uuid;

use super::extract::{ApiJson, ApiPath, AuthUser};
use crate::error::AppError;
use crate::service::devices::Caller;
use crate::service::links;
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/links", post(open_link))
        .route("/links/join", post(join_link))
        .route("/links/{link_id}", get(get_link).put(step_link).delete(cancel_link))
        .route("/links/{link_id}/history/{index}", get(get_history).put(put_history))
}

fn caller(auth: &AuthUser) -> Caller {
    Caller { user: auth.user, session: auth.session, token_digest: auth.token_digest }
}

/// Opens a link for this browser (not yet a device): the answer carries the code to show.
#[utoipa::path(post, path = "/api/v1/links", tag = "links", security(("bearer" = [])),
    responses((status = 201, body = Link), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn open_link(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<(StatusCode, axum::Json<Link>), AppError> {
    Ok((StatusCode::CREATED, axum::Json(links::open(&state, &caller(&auth)).await?)))
}

/// A device of the account joins the link shown with this code, committing to its key.
#[utoipa::path(post, path = "/api/v1/links/join", tag = "links", security(("bearer" = [])), request_body = JoinLink,
    responses((status = 200, body = Link), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn join_link(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(req): ApiJson<JoinLink>,
) -> Result<axum::Json<Link>, AppError> {
    Ok(axum::Json(links::join(&state, &caller(&auth), req).await?))
}

/// The link as this side sees it (both sides poll it).
#[utoipa::path(get, path = "/api/v1/links/{link_id}", tag = "links", security(("bearer" = [])),
    params(("link_id" = String, Path, format = Uuid, description = "a link of this browser")),
    responses((status = 200, body = Link), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn get_link(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<axum::Json<Link>, AppError> {
    Ok(axum::Json(links::get(&state, &caller(&auth), id).await?))
}

/// The next step of the link: exactly one of its fields.
#[utoipa::path(put, path = "/api/v1/links/{link_id}", tag = "links", security(("bearer" = [])), request_body = LinkStep,
    params(("link_id" = String, Path, format = Uuid, description = "a link of this browser")),
    responses((status = 200, body = Link), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn step_link(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(step): ApiJson<LinkStep>,
) -> Result<axum::Json<Link>, AppError> {
    Ok(axum::Json(links::step(&state, &caller(&auth), id, step).await?))
}

/// Stores one sealed chunk of recent history (the approver, in order, before the sealed
/// identity).
#[utoipa::path(put, path = "/api/v1/links/{link_id}/history/{index}", tag = "links", security(("bearer" = [])),
    request_body = HistoryChunk,
    params(("link_id" = String, Path, format = Uuid, description = "a link of this browser"),
        ("index" = u32, Path, description = "the chunk's index, from 0")),
    responses((status = 200, body = Link), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn put_history(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath((id, index)): ApiPath<(Uuid, u32)>,
    ApiJson(chunk): ApiJson<HistoryChunk>,
) -> Result<axum::Json<Link>, AppError> {
    Ok(axum::Json(links::put_history(&state, &caller(&auth), id, index, chunk).await?))
}

/// One stored chunk of recent history.
#[utoipa::path(get, path = "/api/v1/links/{link_id}/history/{index}", tag = "links", security(("bearer" = [])),
    params(("link_id" = String, Path, format = Uuid, description = "a link of this browser"),
        ("index" = u32, Path, description = "the chunk's index, from 0")),
    responses((status = 200, body = HistoryChunk), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn get_history(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath((id, index)): ApiPath<(Uuid, u32)>,
) -> Result<axum::Json<HistoryChunk>, AppError> {
    Ok(axum::Json(links::get_history(&state, &caller(&auth), id, index).await?))
}

/// Gives the link up (either side).
#[utoipa::path(delete, path = "/api/v1/links/{link_id}", tag = "links", security(("bearer" = [])),
    params(("link_id" = String, Path, format = Uuid, description = "a link of this browser")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn cancel_link(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, AppError> {
    links::cancel(&state, &caller(&auth), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
