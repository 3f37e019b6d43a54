//! [`AppError`]: every failure a handler can return, rendered as the stable JSON error body
//! (`{"code", "message", "retry_after"?}`) with the status its [`ErrorCode`] implies.
//! Internal failures are logged with detail and answered with a generic message.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hush_shared::validate::Invalid;
use hush_shared::{ErrorBody, ErrorCode};

use crate::store::StoreError;

/// An API error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppError {
    /// Stable code.
    pub code: ErrorCode,
    /// Explanation for people.
    pub message: String,
    /// Seconds to wait, for rate limits.
    pub retry_after: Option<u64>,
}

impl AppError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retry_after: None }
    }

    /// `rate_limited` with the seconds to wait.
    pub fn rate_limited(retry_after: u64) -> Self {
        Self {
            code: ErrorCode::RateLimited,
            message: format!("too many requests; try again in {retry_after} s"),
            retry_after: Some(retry_after),
        }
    }

    /// A failure inside the server: logged in full, answered generically.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(ErrorCode::Internal, "something went wrong on the server")
    }

    /// Shorthand for `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AppError {}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        Self::internal(e)
    }
}

impl From<Invalid> for AppError {
    fn from(e: Invalid) -> Self {
        Self::new(e.code, e.message)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after;
        let body = ErrorBody { code: self.code, message: self.message, retry_after };
        let mut response = (status, axum::Json(body)).into_response();
        // For the metrics middleware, which counts errors by code.
        response.extensions_mut().insert(self.code);
        if let Some(secs) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
