//! Access tokens (JWT, HS256 only), refresh tokens (opaque, stored hashed) and the keyed
//! hash of sign-in codes.
//!
//! The algorithm is pinned: a token whose header says anything but `HS256` (including
//! `none`) is rejected before its signature is looked at. Expiry is checked against the
//! server's [`Clock`](crate::clock::Clock) with no leeway.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use hush_shared::UserId;
use hush_shared::limits::ACCESS_TOKEN_TTL_SECS;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::SessionId;

/// Claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// Session id: checked against the session store on every request.
    pub sid: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// Unique token id.
    pub jti: String,
}

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessError {
    /// Well-formed and correctly signed, but past `exp`.
    Expired,
    /// Malformed, wrong algorithm, wrong signature or wrong claims.
    Invalid,
}

/// Issues and checks tokens.
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    code_key: [u8; 32],
}

impl TokenService {
    /// Builds the service from the server secret.
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        // Expiry is checked against the injected clock in `verify_access`.
        validation.validate_exp = false;
        validation.required_spec_claims = ["exp", "sub"].iter().map(|s| s.to_string()).collect();
        validation.leeway = 0;
        // A separate key for code hashes, so the JWT key never hashes guessable input.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(b"hush/v1/sign-in-code-key");
        let code_key = mac.finalize().into_bytes().into();
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            code_key,
        }
    }

    /// A fresh access token for a session; returns it with its lifetime in seconds.
    pub fn issue_access(
        &self,
        user: UserId,
        session: SessionId,
        now: i64,
    ) -> Result<(String, u64), jsonwebtoken::errors::Error> {
        let claims = Claims {
            sub: user.to_string(),
            sid: session.to_string(),
            iat: now,
            exp: now + ACCESS_TOKEN_TTL_SECS as i64,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, ACCESS_TOKEN_TTL_SECS))
    }

    /// Checks signature, algorithm and expiry; returns `(user, session)`.
    pub fn verify_access(&self, token: &str, now: i64) -> Result<(UserId, SessionId), AccessError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AccessError::Invalid)?;
        if header.alg != Algorithm::HS256 {
            return Err(AccessError::Invalid);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| AccessError::Invalid)?;
        let claims = data.claims;
        let user = claims.sub.parse::<UserId>().map_err(|_| AccessError::Invalid)?;
        let session = claims.sid.parse::<SessionId>().map_err(|_| AccessError::Invalid)?;
        if claims.exp <= now {
            return Err(AccessError::Expired);
        }
        Ok((user, session))
    }

    /// A new opaque refresh token and the SHA-256 hash the server stores.
    pub fn new_refresh(&self) -> (String, [u8; 32]) {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let hash = Self::hash_refresh(&token);
        (token, hash)
    }

    /// The stored form of a refresh token.
    pub fn hash_refresh(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The stored form of a sign-in code: HMAC-SHA256 keyed by a server secret over the
    /// number and the code, so a leaked database does not reveal live codes by brute force.
    pub fn hash_code(&self, phone: &str, code: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.code_key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(phone.as_bytes());
        mac.update(b":");
        mac.update(code.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// Random bytes in a sign-in attempt's challenge.
const CHALLENGE_BYTES: usize = 16;

/// A new sign-in attempt's challenge: `CHALLENGE_BYTES` random bytes, base64url.
pub fn new_challenge() -> String {
    let mut bytes = [0u8; CHALLENGE_BYTES];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `challenge` has the shape [`new_challenge`] gives (anything else names no code).
pub fn is_challenge(challenge: &str) -> bool {
    URL_SAFE_NO_PAD.decode(challenge).is_ok_and(|bytes| bytes.len() == CHALLENGE_BYTES)
}

/// A uniformly random 6-digit code from the OS CSPRNG.
pub fn new_sign_in_code() -> String {
    random_digits(6)
}

/// `digits` (at most 9) uniformly random decimal digits from the OS CSPRNG (rejection
/// sampling, no modulo bias).
pub fn random_digits(digits: u32) -> String {
    let modulus = 10u32.pow(digits.min(9));
    let limit = u32::MAX - (u32::MAX % modulus);
    loop {
        let n = OsRng.next_u32();
        if n < limit {
            return format!("{:0width$}", n % modulus, width = digits.min(9) as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: std::collections::HashSet<String> = (0..200).map(|_| new_sign_in_code()).collect();
        assert!(codes.len() > 190);
        assert!(codes.iter().all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit())));
    }

    #[test]
    fn access_round_trip_and_expiry() {
        let svc = TokenService::new(&[7u8; 32]);
        let (user, session) = (UserId::new(), uuid::Uuid::new_v4());
        let (token, ttl) = svc.issue_access(user, session, 1000).unwrap();
        assert_eq!(svc.verify_access(&token, 1000), Ok((user, session)));
        assert_eq!(svc.verify_access(&token, 1000 + ttl as i64), Err(AccessError::Expired));
        let other = TokenService::new(&[8u8; 32]);
        assert_eq!(other.verify_access(&token, 1000), Err(AccessError::Invalid));
    }
}
