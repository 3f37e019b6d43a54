//! VAPID (RFC 8292): `hush-server` identifies itself to push services with a short-lived
//! ES256-signed JWT and its public key, so a subscription made for Hush's key takes pushes
//! from this server only. The key pair is derived from the server's secret (HKDF-SHA-256,
//! label `hush-vapid-v1`): kept wherever the secret is kept, the same on every node, and
//! replaced only if the secret is (devices then subscribe again with the new key).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use sha2::Sha256;

/// How long a token is valid (RFC 8292 allows at most 24 hours).
pub const TOKEN_LIFETIME_SECS: i64 = 12 * 3600;

/// The server's VAPID identity.
#[derive(Clone)]
pub struct Vapid {
    key: SigningKey,
    public: String,
    subject: String,
}

impl Vapid {
    /// The key pair derived from the server's `secret`; `subject` is the contact push
    /// services see (`mailto:` or `https:`; Hush uses its public origin unless configured).
    pub fn from_secret(secret: &[u8], subject: impl Into<String>) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(b"hush-vapid-v1"), secret);
        // A 32-byte string is a valid P-256 scalar unless it is zero or at least the group
        // order (odds about 2^-32): then the next counter.
        let key = (0u8..=255)
            .find_map(|counter| {
                let mut bytes = [0u8; 32];
                hkdf.expand(&[counter], &mut bytes).expect("32 bytes is a valid HKDF length");
                SigningKey::from_slice(&bytes).ok()
            })
            .expect("one of 256 candidates is a valid scalar");
        let public = URL_SAFE_NO_PAD.encode(key.verifying_key().to_encoded_point(false).as_bytes());
        Self { key, public, subject: subject.into() }
    }

    /// The public key as browsers take it (`applicationServerKey`): the uncompressed point,
    /// base64url without padding.
    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// The `Authorization` header for a push to `audience` (the push service's origin,
    /// `https://host[:port]`) at `now` (seconds).
    pub fn authorization(&self, audience: &str, now: i64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({ "aud": audience, "exp": now + TOKEN_LIFETIME_SECS, "sub": self.subject });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        let signature: Signature = self.key.sign(signing_input.as_bytes());
        let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        format!("vapid t={token}, k={}", self.public)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier;

    #[test]
    fn the_key_follows_the_secret_and_the_token_verifies_with_it() {
        let vapid = Vapid::from_secret(b"a server secret of at least 32 characters", "https://chat.example");
        let again = Vapid::from_secret(b"a server secret of at least 32 characters", "https://chat.example");
        let other = Vapid::from_secret(b"another server secret, 32 characters or more", "https://chat.example");
        assert_eq!(vapid.public_key(), again.public_key(), "the same secret, the same key (every node)");
        assert_ne!(vapid.public_key(), other.public_key());

        let header = vapid.authorization("https://push.example:8443", 1_000);
        let (token, key) = header.strip_prefix("vapid t=").unwrap().split_once(", k=").unwrap();
        assert_eq!(key, vapid.public_key());
        let (signing_input, signature) = token.rsplit_once('.').unwrap();
        let public = VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(key).unwrap()).unwrap();
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
        public.verify(signing_input.as_bytes(), &signature).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(signing_input.split_once('.').unwrap().1).unwrap()).unwrap();
        assert_eq!(
            claims,
            serde_json::json!({ "aud": "https://push.example:8443", "exp": 1_000 + TOKEN_LIFETIME_SECS, "sub": "https://chat.example" })
        );
    }
}
