//! `/api/v1/auth/*`: request a code, verify it, refresh, log out. The refresh token lives
//! only in the `hush_refresh` cookie: httpOnly, `SameSite=Strict`, scoped to
//! `/api/v1/auth`, `Secure` when the public origin is https.

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hush_shared::api::auth::{SendCodeRequest, SendCodeResponse, TokenResponse, VerifyCodeRequest};
use hush_shared::limits::REFRESH_TOKEN_TTL_SECS;
use hush_shared::{ErrorBody, ErrorCode};

use super::extract::{ApiJson, AuthUser, ClientIp};
use crate::error::AppError;
use crate::service::account;
use crate::service::signin::{self, SignedIn};
use crate::state::AppState;

/// Name of the refresh cookie.
pub const REFRESH_COOKIE: &str = "hush_refresh";
const COOKIE_PATH: &str = "/api/v1/auth";

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/code", post(send_code))
        .route("/auth/verify", post(verify))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
}

fn cookie(state: &AppState, value: &str, max_age: u64) -> HeaderValue {
    let secure = if state.config.is_https() { "; Secure" } else { "" };
    let text =
        format!("{REFRESH_COOKIE}={value}; Path={COOKIE_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("hush_refresh=; Max-Age=0"))
}

/// A `Set-Cookie` value that deletes the refresh cookie.
pub fn clear_cookie(state: &AppState) -> HeaderValue {
    cookie(state, "", 0)
}

fn signed_in(state: &AppState, signed: SignedIn) -> Response {
    let mut response = axum::Json(signed.body).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie(state, &signed.refresh_token, REFRESH_TOKEN_TTL_SECS));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn refresh_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == REFRESH_COOKIE)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}

/// Sends a sign-in code by SMS.
#[utoipa::path(post, path = "/api/v1/auth/code", tag = "auth", request_body = SendCodeRequest,
    responses((status = 202, body = SendCodeResponse), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn send_code(
    state: axum::extract::State<AppState>,
    ip: ClientIp,
    ApiJson(req): ApiJson<SendCodeRequest>,
) -> Result<impl IntoResponse, AppError> {
    let body = signin::send_code(&state, &req.phone, ip.0).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(body)))
}

/// Exchanges a code for an access token and the refresh cookie; creates the account if new.
#[utoipa::path(post, path = "/api/v1/auth/verify", tag = "auth", request_body = VerifyCodeRequest,
    responses((status = 200, body = TokenResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn verify(
    state: axum::extract::State<AppState>,
    ip: ClientIp,
    ApiJson(req): ApiJson<VerifyCodeRequest>,
) -> Result<Response, AppError> {
    let signed = signin::verify(&state, &req.phone, &req.challenge, &req.code, ip.0).await?;
    Ok(signed_in(&state, signed))
}

/// Rotates the refresh cookie and returns a new access token. Reusing a rotated refresh
/// token ends the whole session (and closes its live connections). Rate-limited per IP
/// address; a rate-limited refresh keeps the cookie.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth",
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn refresh(state: axum::extract::State<AppState>, ip: ClientIp, headers: HeaderMap) -> Response {
    match signin::refresh(&state, refresh_cookie(&headers), ip.0).await {
        Ok(signed) => signed_in(&state, signed),
        Err(e) if e.code == ErrorCode::RateLimited => e.into_response(),
        Err(e) => {
            let mut response = e.into_response();
            response.headers_mut().insert(header::SET_COOKIE, clear_cookie(&state));
            response
        }
    }
}

/// Ends this session: its access tokens stop working at once and the cookie is cleared.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(state: axum::extract::State<AppState>, auth: AuthUser) -> Result<Response, AppError> {
    account::log_out(&state, auth.user, auth.session).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, clear_cookie(&state));
    Ok(response)
}
