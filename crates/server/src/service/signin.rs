//! Sign-in with an SMS code, refresh-token rotation and logout.
//!
//! Rules: 6-digit codes from the OS CSPRNG, stored as keyed hashes, valid 10 minutes,
//! single use, burned after 5 wrong tries. Each code belongs to the sign-in attempt that
//! asked for it (a challenge only the requester is given), so a stranger cannot replace or
//! burn someone else's code. Sends: one per 30 s and 5 a day per number and address, 10 a
//! day per number in all, and a per-IP limit on sends and on guesses. A stranger on one
//! address therefore cannot keep a person on another from signing in at all; one on two or
//! more can hold the number's daily codes (SECURITY.md).

use std::net::IpAddr;

use hush_shared::ErrorCode;
use hush_shared::api::account::User;
use hush_shared::api::auth::{SendCodeResponse, TokenResponse};
use hush_shared::limits::*;
use hush_shared::validate::normalize_phone;

use crate::error::AppError;
use crate::hub::HubEvent;
use crate::sms::sign_in_text;
use crate::state::AppState;
use crate::store::{CodeCheck, CodeSlot, RateRule, RotateOutcome, SessionId, UserRecord};
use crate::tokens::{TokenService, is_challenge, new_challenge, new_sign_in_code};

/// Converts a stored account into its wire form.
pub fn user_view(user: &UserRecord) -> User {
    User { user_id: user.id, phone: user.phone.clone(), display_name: user.display_name.clone() }
}

/// Applies rate-limit rules, turning a refusal into `rate_limited`.
pub async fn enforce(state: &AppState, rules: &[RateRule]) -> Result<(), AppError> {
    state.stores.limits.hit(rules, state.now()).await?.map_err(AppError::rate_limited)
}

fn rule(key: String, limit: u32, window_secs: u64) -> RateRule {
    RateRule { key, limit, window_secs: window_secs as i64 }
}

/// The rate-limit bucket of an address: an IPv4 address alone, an IPv6 address by its /64
/// (one subscriber line or host usually holds a whole /64, so per-address buckets would be
/// unlimited), an IPv4-mapped IPv6 address as the IPv4 address.
pub fn ip_bucket(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// `POST /auth/code`.
pub async fn send_code(state: &AppState, phone_input: &str, ip: IpAddr) -> Result<SendCodeResponse, AppError> {
    let phone = normalize_phone(phone_input)?;
    let bucket = ip_bucket(ip);
    enforce(
        state,
        &[
            rule(format!("code-ip:{bucket}"), CODE_SENDS_PER_IP_PER_HOUR, 3600),
            rule(format!("code-num-30s:{phone}:{bucket}"), 1, CODE_SEND_MIN_INTERVAL_SECS),
            rule(format!("code-num-1d:{phone}:{bucket}"), CODE_SENDS_PER_NUMBER_PER_ADDRESS_PER_DAY, 86_400),
            rule(format!("code-num-1d:{phone}"), CODE_SENDS_PER_NUMBER_PER_DAY, 86_400),
        ],
    )
    .await?;
    let code = new_sign_in_code();
    let slot = CodeSlot { phone: phone.clone(), challenge: new_challenge() };
    let now = state.now();
    let expires_at = now + SIGN_IN_CODE_TTL_SECS as i64;
    state.stores.codes.put(&slot, state.tokens.hash_code(&phone, &code), now, expires_at).await?;
    if let Err(e) = state.sms.send(&phone, &sign_in_text(&code)).await {
        tracing::warn!(error = %e, "sending the sign-in SMS failed");
        return Err(AppError::new(ErrorCode::SmsFailed, "the text message could not be sent; try again later"));
    }
    Ok(SendCodeResponse {
        phone,
        challenge: slot.challenge,
        expires_in: SIGN_IN_CODE_TTL_SECS,
        resend_after: CODE_SEND_MIN_INTERVAL_SECS,
    })
}

/// A signed-in session: the body for the client and the refresh token for the cookie.
pub struct SignedIn {
    /// Response body.
    pub body: TokenResponse,
    /// Refresh token to set as the httpOnly cookie.
    pub refresh_token: String,
}

/// `POST /auth/verify`: the code texted for the attempt `challenge` names.
pub async fn verify(
    state: &AppState,
    phone_input: &str,
    challenge: &str,
    code: &str,
    ip: IpAddr,
) -> Result<SignedIn, AppError> {
    let phone = normalize_phone(phone_input)?;
    enforce(state, &[rule(format!("verify-ip:{}", ip_bucket(ip)), VERIFY_ATTEMPTS_PER_IP_PER_HOUR, 3600)]).await?;
    let code = code.trim();
    if code.len() != SIGN_IN_CODE_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::new(ErrorCode::InvalidCode, "the code is the 6 digits from the text message"));
    }
    let now = state.now();
    let slot = CodeSlot { phone: phone.clone(), challenge: challenge.to_owned() };
    let check = if is_challenge(challenge) {
        state.stores.codes.check(&slot, state.tokens.hash_code(&phone, code), now, SIGN_IN_CODE_MAX_ATTEMPTS).await?
    } else {
        CodeCheck::Missing
    };
    match check {
        CodeCheck::Accepted => {}
        CodeCheck::Wrong { remaining } => {
            let tries = if remaining == 1 { "1 try".to_owned() } else { format!("{remaining} tries") };
            return Err(AppError::new(ErrorCode::InvalidCode, format!("Wrong code. {tries} left.")));
        }
        CodeCheck::Burned => {
            return Err(AppError::new(ErrorCode::TooManyAttempts, "too many wrong codes; request a new one"));
        }
        CodeCheck::Missing => {
            return Err(AppError::new(
                ErrorCode::CodeExpired,
                "no valid code for this number and sign-in attempt; request a new one",
            ));
        }
    }
    let (user, created) = state.stores.accounts.find_or_create(&phone, now).await?;
    if created {
        tracing::info!(user = %user.id, "account created");
    }
    let session = SessionId::new_v4();
    let (refresh_token, refresh_hash) = state.tokens.new_refresh();
    state.stores.sessions.create(session, user.id, refresh_hash, now, now + REFRESH_TOKEN_TTL_SECS as i64).await?;
    let body = token_response(state, &user, session, now, created)?;
    Ok(SignedIn { body, refresh_token })
}

fn token_response(
    state: &AppState,
    user: &UserRecord,
    session: SessionId,
    now: i64,
    new_account: bool,
) -> Result<TokenResponse, AppError> {
    let (access_token, expires_in) = state.tokens.issue_access(user.id, session, now).map_err(AppError::internal)?;
    Ok(TokenResponse { access_token, token_type: "Bearer".into(), expires_in, user: user_view(user), new_account })
}

/// `POST /auth/refresh`.
pub async fn refresh(state: &AppState, refresh_token: Option<&str>, ip: IpAddr) -> Result<SignedIn, AppError> {
    let invalid = || AppError::new(ErrorCode::InvalidRefreshToken, "sign in again");
    let old = refresh_token.ok_or_else(invalid)?;
    enforce(state, &[rule(format!("refresh-ip:{}", ip_bucket(ip)), REFRESHES_PER_IP_PER_HOUR, 3600)]).await?;
    let now = state.now();
    let (new_token, new_hash) = state.tokens.new_refresh();
    let outcome = state
        .stores
        .sessions
        .rotate(TokenService::hash_refresh(old), new_hash, now, now + REFRESH_TOKEN_TTL_SECS as i64)
        .await?;
    match outcome {
        RotateOutcome::Rotated { session, user } => {
            let Some(user) = state.stores.accounts.get(user).await? else {
                return Err(invalid());
            };
            let body = token_response(state, &user, session, now, false)?;
            Ok(SignedIn { body, refresh_token: new_token })
        }
        RotateOutcome::ReuseDetected { session, user } => {
            tracing::warn!(%session, "refresh token reused: session revoked");
            // Its live connections close now, as on logout, not at their next ping.
            state.hub.send(user, HubEvent::SessionRevoked(session)).await;
            Err(AppError::new(
                ErrorCode::SessionRevoked,
                "this session was ended because an old sign-in token was reused; sign in again",
            ))
        }
        RotateOutcome::Invalid => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_address_counts_by_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ip_bucket(a), ip_bucket(b));
        assert_ne!(ip_bucket(a), ip_bucket(other));
        assert_eq!(ip_bucket(a), "2001:db8:1:2::/64");
    }

    #[test]
    fn ipv4_counts_by_the_address_however_written() {
        let plain: IpAddr = "203.0.113.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert_eq!(ip_bucket(plain), "203.0.113.7");
        assert_eq!(ip_bucket(mapped), ip_bucket(plain));
        assert_ne!(ip_bucket("203.0.113.8".parse().unwrap()), ip_bucket(plain));
    }
}
