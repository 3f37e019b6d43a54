//! `/api/v1/devices*` and `/api/v1/users/{id}/bundles`: registering this browser as a
//! device, its prekeys, my device list, and friends' bundles (crypto v2). The rules are in
//! `service::devices`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use hush_shared::api::devices::{
    BundleList, Device, DeviceList, PrekeyStatus, RegisterDevice, SignedPrekey, UploadPrekeys,
};
use hush_shared::{DeviceId, ErrorBody, UserId};

use super::extract::{ApiJson, ApiPath, AuthUser};
use crate::error::AppError;
use crate::service::devices::{self, Caller};
use crate::state::AppState;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/devices", get(list_devices).post(register_device))
        .route("/devices/{device_id}", delete(remove_device))
        .route("/devices/{device_id}/prekeys", get(prekey_status))
        .route("/devices/{device_id}/one-time-prekeys", post(upload_prekeys))
        .route("/devices/{device_id}/signed-prekey", put(rotate_signed_prekey))
        .route("/users/{user_id}/bundles", get(bundles))
}

fn caller(auth: &AuthUser) -> Caller {
    Caller { user: auth.user, session: auth.session, token_digest: auth.token_digest }
}

/// Registers this browser as a device of my account (the session becomes the device's).
#[utoipa::path(post, path = "/api/v1/devices", tag = "devices", security(("bearer" = [])), request_body = RegisterDevice,
    responses((status = 201, body = Device), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn register_device(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(req): ApiJson<RegisterDevice>,
) -> Result<(StatusCode, axum::Json<Device>), AppError> {
    Ok((StatusCode::CREATED, axum::Json(devices::register(&state, &caller(&auth), req).await?)))
}

/// My account identity and devices.
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices", security(("bearer" = [])),
    responses((status = 200, body = DeviceList), (status = 401, body = ErrorBody)))]
pub async fn list_devices(State(state): State<AppState>, auth: AuthUser) -> Result<axum::Json<DeviceList>, AppError> {
    Ok(axum::Json(devices::list(&state, &caller(&auth)).await?))
}

/// Removes one of my devices: its prekeys go, its session ends.
#[utoipa::path(delete, path = "/api/v1/devices/{device_id}", tag = "devices", security(("bearer" = [])),
    params(("device_id" = String, Path, format = Uuid, description = "one of my devices")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_device(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(device): ApiPath<DeviceId>,
) -> Result<StatusCode, AppError> {
    devices::remove(&state, &caller(&auth), device).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How many one-time prekeys the server holds for this session's device, and its signed
/// prekey's age.
#[utoipa::path(get, path = "/api/v1/devices/{device_id}/prekeys", tag = "devices", security(("bearer" = [])),
    params(("device_id" = String, Path, format = Uuid, description = "this session's device")),
    responses((status = 200, body = PrekeyStatus), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn prekey_status(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(device): ApiPath<DeviceId>,
) -> Result<axum::Json<PrekeyStatus>, AppError> {
    Ok(axum::Json(devices::prekey_status(&state, &caller(&auth), device).await?))
}

/// Adds one-time prekeys to this session's device.
#[utoipa::path(post, path = "/api/v1/devices/{device_id}/one-time-prekeys", tag = "devices", security(("bearer" = [])),
    request_body = UploadPrekeys, params(("device_id" = String, Path, format = Uuid, description = "this session's device")),
    responses((status = 200, body = PrekeyStatus), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn upload_prekeys(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(device): ApiPath<DeviceId>,
    ApiJson(req): ApiJson<UploadPrekeys>,
) -> Result<axum::Json<PrekeyStatus>, AppError> {
    Ok(axum::Json(devices::upload_prekeys(&state, &caller(&auth), device, &req.one_time_prekeys).await?))
}

/// Replaces this session's device's signed prekey.
#[utoipa::path(put, path = "/api/v1/devices/{device_id}/signed-prekey", tag = "devices", security(("bearer" = [])),
    request_body = SignedPrekey, params(("device_id" = String, Path, format = Uuid, description = "this session's device")),
    responses((status = 200, body = PrekeyStatus), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn rotate_signed_prekey(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(device): ApiPath<DeviceId>,
    ApiJson(req): ApiJson<SignedPrekey>,
) -> Result<axum::Json<PrekeyStatus>, AppError> {
    Ok(axum::Json(devices::rotate_signed_prekey(&state, &caller(&auth), device, &req).await?))
}

/// A friend's (or my own) devices, each with one one-time prekey taken from its pool.
#[utoipa::path(get, path = "/api/v1/users/{user_id}/bundles", tag = "devices", security(("bearer" = [])),
    params(("user_id" = String, Path, format = Uuid, description = "a friend, or myself")),
    responses((status = 200, body = BundleList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn bundles(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(user): ApiPath<UserId>,
) -> Result<axum::Json<BundleList>, AppError> {
    Ok(axum::Json(devices::bundles(&state, &caller(&auth), user).await?))
}
