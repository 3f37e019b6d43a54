//! Extractors that turn every kind of bad input into a typed [`AppError`] instead of
//! axum's plain-text rejections: JSON bodies, path and query parameters, the bearer token
//! (checked against the session store on every request) and the client address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use hush_shared::{ErrorCode, UserId};
use sha2::Digest as _;

use crate::error::AppError;
use crate::state::AppState;
use crate::store::SessionId;
use crate::tokens::AccessError;

/// A JSON body whose rejections are typed errors.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct ApiJson<T>(pub T);

/// Path parameters whose rejections are typed errors.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AppError))]
pub struct ApiPath<T>(pub T);

/// Query parameters whose rejections are typed errors.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct ApiQuery<T>(pub T);

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => AppError::new(ErrorCode::PayloadTooLarge, "the request body is too large"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                AppError::new(ErrorCode::UnsupportedMediaType, "send the body as application/json")
            }
            _ => AppError::new(ErrorCode::InvalidJson, rejection.body_text()),
        }
    }
}

impl From<PathRejection> for AppError {
    fn from(rejection: PathRejection) -> Self {
        AppError::new(ErrorCode::InvalidParameter, rejection.body_text())
    }
}

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> Self {
        AppError::new(ErrorCode::InvalidParameter, rejection.body_text())
    }
}

/// The signed-in caller: a valid access token whose session is still active.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    /// The caller.
    pub user: UserId,
    /// The caller's session.
    pub session: SessionId,
    /// SHA-256 of the access token's text (what a device's session proof signs).
    pub token_digest: [u8; 32],
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| AppError::unauthorized("sign in first: send Authorization: Bearer <access token>"))?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AppError::unauthorized("the Authorization header must be `Bearer <access token>`"))?;
        let (user, session) = state.tokens.verify_access(token, state.now()).map_err(|e| match e {
            AccessError::Expired => AppError::new(ErrorCode::TokenExpired, "the access token has expired; refresh it"),
            AccessError::Invalid => AppError::unauthorized("the access token is not valid"),
        })?;
        match state.stores.sessions.active_user(session).await? {
            Some(owner) if owner == user => {
                let token_digest = sha2::Sha256::digest(token.as_bytes()).into();
                Ok(AuthUser { user, session, token_digest })
            }
            _ => Err(AppError::new(ErrorCode::SessionRevoked, "this session has ended; sign in again")),
        }
    }
}

/// The client's IP address, for per-IP rate limits.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if state.config.trust_forwarded_for {
            let forwarded = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse::<IpAddr>().ok());
            if let Some(ip) = forwarded {
                return Ok(ClientIp(ip));
            }
        }
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| ClientIp(addr.ip()))
            .ok_or_else(|| AppError::internal("client address unavailable (server not started with connect info)"))
    }
}
