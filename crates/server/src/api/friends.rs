//! `/api/v1/friends*` and `/api/v1/blocks/*`: requests, accept, decline, cancel, list (with
//! each friend's identity key), unfriend, block.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use hush_shared::api::friends::{CreateFriendRequest, Friend, FriendList, FriendRequest, FriendRequestList};
use hush_shared::ws::FriendEvent;
use hush_shared::{ErrorBody, ErrorCode, FriendRequestId, UserId};

use super::extract::{ApiJson, ApiPath, AuthUser};
use crate::error::AppError;
use crate::service::delivery;
use crate::service::friends::{self, friend_view, request_view};
use crate::state::AppState;
use crate::store::RequestSide;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/friends", get(list_friends))
        .route("/friends/requests", get(list_requests).post(create_request))
        .route("/friends/requests/{id}", delete(cancel_request))
        .route("/friends/requests/{id}/accept", post(accept_request))
        .route("/friends/requests/{id}/decline", post(decline_request))
        .route("/friends/{user_id}", delete(unfriend))
        .route("/blocks/{user_id}", post(block).delete(unblock))
}

/// My pending requests, both directions.
#[utoipa::path(get, path = "/api/v1/friends/requests", tag = "friends", security(("bearer" = [])),
    responses((status = 200, body = FriendRequestList), (status = 401, body = ErrorBody)))]
pub async fn list_requests(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<axum::Json<FriendRequestList>, AppError> {
    let (incoming, outgoing) = state.stores.social.list_requests(auth.user).await?;
    Ok(axum::Json(FriendRequestList {
        incoming: incoming.into_iter().map(|v| request_view(v, true)).collect(),
        outgoing: outgoing.into_iter().map(|v| request_view(v, false)).collect(),
    }))
}

/// Sends a friend request.
#[utoipa::path(post, path = "/api/v1/friends/requests", tag = "friends", security(("bearer" = [])), request_body = CreateFriendRequest,
    responses((status = 201, body = FriendRequest), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn create_request(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(req): ApiJson<CreateFriendRequest>,
) -> Result<(StatusCode, axum::Json<FriendRequest>), AppError> {
    let created = friends::send_request(&state, auth.user, req.user_id).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// Accepts a request addressed to me.
#[utoipa::path(post, path = "/api/v1/friends/requests/{id}/accept", tag = "friends", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "friend request id")),
    responses((status = 200, body = Friend), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn accept_request(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<FriendRequestId>,
) -> Result<axum::Json<Friend>, AppError> {
    Ok(axum::Json(friends::accept(&state, auth.user, id).await?))
}

fn request_not_found() -> AppError {
    AppError::new(ErrorCode::RequestNotFound, "no such friend request")
}

/// Declines a request addressed to me.
#[utoipa::path(post, path = "/api/v1/friends/requests/{id}/decline", tag = "friends", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "friend request id")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn decline_request(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<FriendRequestId>,
) -> Result<StatusCode, AppError> {
    let request = state
        .stores
        .social
        .delete_request(id, auth.user, RequestSide::Recipient)
        .await?
        .ok_or_else(request_not_found)?;
    delivery::friend_event(&state, request.from, FriendEvent::RequestDeclined { request_id: id }).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Cancels a request I sent.
#[utoipa::path(delete, path = "/api/v1/friends/requests/{id}", tag = "friends", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "friend request id")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn cancel_request(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(id): ApiPath<FriendRequestId>,
) -> Result<StatusCode, AppError> {
    let request = state
        .stores
        .social
        .delete_request(id, auth.user, RequestSide::Requester)
        .await?
        .ok_or_else(request_not_found)?;
    delivery::friend_event(&state, request.to, FriendEvent::RequestCancelled { request_id: id }).await;
    Ok(StatusCode::NO_CONTENT)
}

/// My friends, each with their account identity key.
#[utoipa::path(get, path = "/api/v1/friends", tag = "friends", security(("bearer" = [])),
    responses((status = 200, body = FriendList), (status = 401, body = ErrorBody)))]
pub async fn list_friends(State(state): State<AppState>, auth: AuthUser) -> Result<axum::Json<FriendList>, AppError> {
    let mut friends = vec![];
    for record in state.stores.social.list_friends(auth.user).await? {
        friends.push(friend_view(&state, record).await?);
    }
    Ok(axum::Json(FriendList { friends }))
}

/// Ends a friendship.
#[utoipa::path(delete, path = "/api/v1/friends/{user_id}", tag = "friends", security(("bearer" = [])),
    params(("user_id" = String, Path, format = Uuid, description = "the friend")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn unfriend(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(friend): ApiPath<UserId>,
) -> Result<StatusCode, AppError> {
    friends::unfriend(&state, auth.user, friend).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Blocks a person: ends the friendship and pending requests, refuses new ones.
#[utoipa::path(post, path = "/api/v1/blocks/{user_id}", tag = "friends", security(("bearer" = [])),
    params(("user_id" = String, Path, format = Uuid, description = "the person to block")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn block(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(other): ApiPath<UserId>,
) -> Result<StatusCode, AppError> {
    friends::block(&state, auth.user, other).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lifts a block (idempotent).
#[utoipa::path(delete, path = "/api/v1/blocks/{user_id}", tag = "friends", security(("bearer" = [])),
    params(("user_id" = String, Path, format = Uuid, description = "the blocked person")),
    responses((status = 204), (status = 400, body = ErrorBody)))]
pub async fn unblock(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(other): ApiPath<UserId>,
) -> Result<StatusCode, AppError> {
    state.stores.social.unblock(auth.user, other).await?;
    Ok(StatusCode::NO_CONTENT)
}
