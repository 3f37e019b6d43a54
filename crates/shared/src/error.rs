//! Stable error codes and the error body.
//!
//! Clients match on [`ErrorCode`], never on the human-readable message, so a code, once
//! published, keeps its spelling and meaning. New codes may be added; none are renamed.

use serde::{Deserialize, Serialize};

/// Every error the API can answer with. Serialised as `snake_case`; read back by its
/// spelling in [`ErrorCode::as_str`] (by hand: serde's derived reader compared each
/// spelling twice, as text and as bytes, 8 KB of the web app).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not valid JSON or misses a field.
    InvalidJson,
    /// A path or query parameter is malformed.
    InvalidParameter,
    /// The phone number cannot be parsed or is not a possible number.
    InvalidPhone,
    /// The display name is empty, too long or contains control characters.
    InvalidDisplayName,
    /// The public key is not a valid P-256 SEC1 uncompressed point in base64url.
    InvalidPublicKey,
    /// The sign-in code is wrong.
    InvalidCode,
    /// No live code exists for this number (never sent, expired, used or burned).
    CodeExpired,
    /// Five wrong codes: the code is burned; request a new one.
    TooManyAttempts,
    /// A rate limit was hit; `retry_after` says when to try again.
    RateLimited,
    /// No or malformed credentials.
    Unauthorized,
    /// The access token has expired; refresh it.
    TokenExpired,
    /// The session was logged out or revoked.
    SessionRevoked,
    /// The refresh token is missing, unknown or expired.
    InvalidRefreshToken,
    /// The caller may not do this.
    Forbidden,
    /// One of the two people has blocked the other.
    Blocked,
    /// The route does not exist.
    NotFound,
    /// No such user.
    UserNotFound,
    /// No such friend request (or not one the caller may act on).
    RequestNotFound,
    /// The two people are not friends.
    NotFriends,
    /// A friend request to oneself.
    CannotBefriendSelf,
    /// The two people are already friends.
    AlreadyFriends,
    /// The caller has already sent a request to this person.
    RequestAlreadySent,
    /// This person has already sent the caller a request: accept it instead.
    IncomingRequestExists,
    /// The HTTP method is not allowed on this route.
    MethodNotAllowed,
    /// The body is larger than allowed.
    PayloadTooLarge,
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// The SMS provider refused or failed to send the code.
    SmsFailed,
    /// The server is not ready (storage unavailable).
    Unavailable,
    /// The request took too long.
    Timeout,
    /// Something failed inside the server; details are in its log, never in the response.
    Internal,
    /// A WebSocket frame is not valid JSON or not a known frame.
    InvalidFrame,
    /// The first WebSocket frame must be `auth`.
    AuthRequired,
    /// The recipient's mailbox is full; retry later.
    MailboxFull,
    /// A WebSocket frame (or the envelope in it) is larger than allowed.
    FrameTooLarge,
    /// The envelope is not base64url or not a crypto v2 envelope.
    InvalidEnvelope,
    /// The browser origin is not this deployment's `HUSH_PUBLIC_ORIGIN`.
    OriginNotAllowed,
    /// A device certificate or prekey signature does not verify, or is not 64 bytes.
    InvalidSignature,
    /// A prekey id is 0, repeated in one upload, or already used by this device.
    InvalidPrekeyId,
    /// Too many one-time prekeys (in one upload, or stored for the device).
    TooManyPrekeys,
    /// The identity key is not the account's: start again with `new_identity` to replace it.
    IdentityMismatch,
    /// The account has as many devices as allowed.
    DeviceLimit,
    /// Another device of the account already uses this device id.
    DeviceExists,
    /// No such device of mine (or not the device of this session).
    DeviceNotFound,
    /// The device name is too long or contains control characters.
    InvalidDeviceName,
    /// (WebSocket) A `send` named devices other than the recipient's current ones.
    DevicesChanged,
    /// (WebSocket) This session has no registered device: it cannot send or receive
    /// messages until it registers one.
    NoDevice,
    /// No open link with this code (or id) for this account: wrong, expired, or taken.
    LinkNotFound,
    /// A link step came out of order, twice, or from the wrong side.
    LinkOutOfOrder,
    /// The approver's key does not match the commitment it sent.
    InvalidCommitment,
    /// The account has devices: another one is added only by linking from one of them.
    LinkRequired,
    /// A push subscription's endpoint is not an `https` URL on a public address, is too
    /// long, or its keys are not a P-256 public key and a 16-byte secret.
    InvalidPushSubscription,
}

impl ErrorCode {
    /// Every code, in declaration order (`code as usize` is its index).
    pub const ALL: [ErrorCode; 51] = {
        use ErrorCode::*;
        [
            InvalidJson,
            InvalidParameter,
            InvalidPhone,
            InvalidDisplayName,
            InvalidPublicKey,
            InvalidCode,
            CodeExpired,
            TooManyAttempts,
            RateLimited,
            Unauthorized,
            TokenExpired,
            SessionRevoked,
            InvalidRefreshToken,
            Forbidden,
            Blocked,
            NotFound,
            UserNotFound,
            RequestNotFound,
            NotFriends,
            CannotBefriendSelf,
            AlreadyFriends,
            RequestAlreadySent,
            IncomingRequestExists,
            MethodNotAllowed,
            PayloadTooLarge,
            UnsupportedMediaType,
            SmsFailed,
            Unavailable,
            Timeout,
            Internal,
            InvalidFrame,
            AuthRequired,
            MailboxFull,
            FrameTooLarge,
            InvalidEnvelope,
            OriginNotAllowed,
            InvalidSignature,
            InvalidPrekeyId,
            TooManyPrekeys,
            IdentityMismatch,
            DeviceLimit,
            DeviceExists,
            DeviceNotFound,
            InvalidDeviceName,
            DevicesChanged,
            NoDevice,
            LinkNotFound,
            LinkOutOfOrder,
            InvalidCommitment,
            LinkRequired,
            InvalidPushSubscription,
        ]
    };

    /// The HTTP status this code is answered with.
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            InvalidJson
            | InvalidParameter
            | InvalidPhone
            | InvalidDisplayName
            | InvalidPublicKey
            | CannotBefriendSelf
            | InvalidSignature
            | InvalidPrekeyId
            | TooManyPrekeys
            | InvalidDeviceName
            | InvalidCommitment
            | InvalidPushSubscription => 400,
            InvalidCode | CodeExpired | Unauthorized | TokenExpired | SessionRevoked | InvalidRefreshToken => 401,
            Forbidden | Blocked | NoDevice | LinkRequired => 403,
            NotFound | UserNotFound | RequestNotFound | NotFriends | DeviceNotFound | LinkNotFound => 404,
            MethodNotAllowed => 405,
            Timeout => 408,
            AlreadyFriends
            | RequestAlreadySent
            | IncomingRequestExists
            | IdentityMismatch
            | DeviceLimit
            | DeviceExists
            | DevicesChanged
            | LinkOutOfOrder => 409,
            PayloadTooLarge => 413,
            UnsupportedMediaType => 415,
            TooManyAttempts | RateLimited => 429,
            Internal => 500,
            InvalidFrame | InvalidEnvelope => 400,
            AuthRequired => 401,
            OriginNotAllowed => 403,
            FrameTooLarge => 413,
            MailboxFull => 507,
            SmsFailed => 502,
            Unavailable => 503,
        }
    }

    /// The `snake_case` spelling used on the wire.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidJson => "invalid_json",
            InvalidParameter => "invalid_parameter",
            InvalidPhone => "invalid_phone",
            InvalidDisplayName => "invalid_display_name",
            InvalidPublicKey => "invalid_public_key",
            InvalidCode => "invalid_code",
            CodeExpired => "code_expired",
            TooManyAttempts => "too_many_attempts",
            RateLimited => "rate_limited",
            Unauthorized => "unauthorized",
            TokenExpired => "token_expired",
            SessionRevoked => "session_revoked",
            InvalidRefreshToken => "invalid_refresh_token",
            Forbidden => "forbidden",
            Blocked => "blocked",
            NotFound => "not_found",
            UserNotFound => "user_not_found",
            RequestNotFound => "request_not_found",
            NotFriends => "not_friends",
            CannotBefriendSelf => "cannot_befriend_self",
            AlreadyFriends => "already_friends",
            RequestAlreadySent => "request_already_sent",
            IncomingRequestExists => "incoming_request_exists",
            MethodNotAllowed => "method_not_allowed",
            PayloadTooLarge => "payload_too_large",
            UnsupportedMediaType => "unsupported_media_type",
            SmsFailed => "sms_failed",
            Unavailable => "unavailable",
            Timeout => "timeout",
            Internal => "internal",
            InvalidFrame => "invalid_frame",
            AuthRequired => "auth_required",
            MailboxFull => "mailbox_full",
            FrameTooLarge => "frame_too_large",
            InvalidEnvelope => "invalid_envelope",
            OriginNotAllowed => "origin_not_allowed",
            InvalidSignature => "invalid_signature",
            InvalidPrekeyId => "invalid_prekey_id",
            TooManyPrekeys => "too_many_prekeys",
            IdentityMismatch => "identity_mismatch",
            DeviceLimit => "device_limit",
            DeviceExists => "device_exists",
            DeviceNotFound => "device_not_found",
            InvalidDeviceName => "invalid_device_name",
            DevicesChanged => "devices_changed",
            NoDevice => "no_device",
            LinkNotFound => "link_not_found",
            LinkOutOfOrder => "link_out_of_order",
            InvalidCommitment => "invalid_commitment",
            LinkRequired => "link_required",
            InvalidPushSubscription => "invalid_push_subscription",
        }
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Spelling;
        impl serde::de::Visitor<'_> for Spelling {
            type Value = ErrorCode;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an error code")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ErrorCode, E> {
                ErrorCode::ALL
                    .into_iter()
                    .find(|code| code.as_str() == text)
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(text), &self))
            }
        }
        deserializer.deserialize_str(Spelling)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every error response: `{"code": "snake_case", "message": "…"}`, plus
/// `retry_after` (seconds) when the code is `rate_limited` or `too_many_attempts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// Human-readable explanation; may change between versions.
    pub message: String,
    /// Seconds until the request may succeed, for rate limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_spelling_matches_as_str() {
        for (index, code) in ErrorCode::ALL.into_iter().enumerate() {
            assert_eq!(code as usize, index, "ALL is in declaration order");
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code, "read back");
            assert!((400..600).contains(&code.http_status()));
        }
        assert!(serde_json::from_str::<ErrorCode>("\"no_such_code\"").is_err());
        assert_eq!(
            ErrorCode::ALL.len(),
            ErrorCode::InvalidPushSubscription as usize + 1,
            "ALL ends with the last code"
        );
    }
}
