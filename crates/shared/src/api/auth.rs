//! Sign-in with an SMS code: `POST /auth/code`, `/auth/verify`, `/auth/refresh`,
//! `/auth/logout`.

use super::account::User;
use super::wire;

wire! {
/// `POST /api/v1/auth/code`: send a sign-in code to this number.
pub struct SendCodeRequest {
    /// The phone number with its country code, in any common notation.
    pub phone: String,
}
}

wire! {
/// `202 Accepted` answer to [`SendCodeRequest`].
pub struct SendCodeResponse {
    /// The number the code went to, in E.164.
    pub phone: String,
    /// Names this sign-in attempt: send it back with the code. Only the code texted for
    /// this attempt is accepted with it, so a stranger asking for codes for the same number
    /// can neither replace nor burn this one.
    pub challenge: String,
    /// Seconds the code stays valid.
    pub expires_in: u64,
    /// Seconds before another code may be requested for this number from this address.
    pub resend_after: u64,
}
}

wire! {
/// `POST /api/v1/auth/verify`: exchange the code for a session.
pub struct VerifyCodeRequest {
    /// The same phone number the code was sent to.
    pub phone: String,
    /// The `challenge` the code request answered with.
    pub challenge: String,
    /// The 6-digit code.
    pub code: String,
}
}

wire! {
/// A fresh access token (from verify or refresh). The refresh token travels only in the
/// httpOnly `hush_refresh` cookie, never in a body.
pub struct TokenResponse {
    /// JWT (HS256) to send as `Authorization: Bearer …`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The signed-in person.
    pub user: User,
    /// True when this verify created the account (the app then asks for a display name).
    pub new_account: bool,
}
}
