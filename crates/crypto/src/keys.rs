//! P-256 key pairs, public keys on the wire, and key ids.
//!
//! Public keys are SEC1 *uncompressed* points (`0x04 || X || Y`, 65 bytes) — the format
//! WebCrypto's `exportKey("raw")` produces — carried as base64url without padding. Parsing
//! rejects every other length, compressed points, points off the curve and the identity.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use p256::{EncodedPoint, SecretKey};
use rand_core::OsRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::{ecdh_mul, scalar_mul};

/// Bytes of a SEC1 uncompressed P-256 point.
pub const PUBLIC_KEY_LEN: usize = 65;
/// Bytes of a P-256 secret scalar.
pub const SECRET_KEY_LEN: usize = 32;
/// Bytes of a key id.
pub const KEY_ID_LEN: usize = 8;

/// A validated P-256 public key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    point: p256::PublicKey,
    sec1: [u8; PUBLIC_KEY_LEN],
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.to_wire())
    }
}

impl PublicKey {
    /// Parses 65 bytes `0x04 || X || Y` and checks the point is on the curve.
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != PUBLIC_KEY_LEN || bytes[0] != 0x04 {
            return Err(CryptoError::InvalidPublicKey);
        }
        let encoded = EncodedPoint::from_bytes(bytes).map_err(|_| CryptoError::InvalidPublicKey)?;
        let point: Option<p256::PublicKey> = p256::PublicKey::from_encoded_point(&encoded).into();
        let point = point.ok_or(CryptoError::InvalidPublicKey)?;
        let mut sec1 = [0u8; PUBLIC_KEY_LEN];
        sec1.copy_from_slice(bytes);
        Ok(Self { point, sec1 })
    }

    /// Parses the wire form: base64url without padding of the SEC1 bytes.
    pub fn from_wire(text: &str) -> Result<Self, CryptoError> {
        if text.len() != 87 {
            return Err(CryptoError::InvalidPublicKey);
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| CryptoError::InvalidPublicKey)?;
        Self::from_sec1(&bytes)
    }

    /// The 65 SEC1 uncompressed bytes.
    pub fn to_sec1(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.sec1
    }

    /// The wire form (87 base64url characters).
    pub fn to_wire(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.sec1)
    }

    /// The key id: the first 8 bytes of SHA-256 over the SEC1 bytes.
    pub fn key_id(&self) -> KeyId {
        let digest = Sha256::digest(self.sec1);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        KeyId(id)
    }

    pub(crate) fn point(&self) -> &p256::PublicKey {
        &self.point
    }

    /// A key whose SEC1 encoding the caller just computed from a valid point.
    pub(crate) fn from_parts(point: p256::PublicKey, sec1: &[u8]) -> Self {
        let mut bytes = [0u8; PUBLIC_KEY_LEN];
        bytes.copy_from_slice(sec1);
        Self { point, sec1: bytes }
    }
}

/// Lower-case hex, for logs and `Debug`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Base64url without padding.
pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding; `None` for anything else.
pub(crate) fn unb64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Identifies a public key inside an envelope: `SHA-256(sec1)[0..8]`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct KeyId(pub [u8; KEY_ID_LEN]);

impl KeyId {
    /// Lower-case hex, for logs and UI.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

/// A secret scalar from its 32 big-endian bytes (`1 ≤ d < n`).
pub(crate) fn secret_from_bytes(bytes: &[u8]) -> Result<SecretKey, CryptoError> {
    if bytes.len() != SECRET_KEY_LEN {
        return Err(CryptoError::InvalidSecretKey);
    }
    SecretKey::from_slice(bytes).map_err(|_| CryptoError::InvalidSecretKey)
}

/// A P-256 key pair. The secret scalar is zeroised on drop.
#[derive(Clone)]
pub struct KeyPair {
    secret: SecretKey,
    public: PublicKey,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair").field("public", &self.public).finish_non_exhaustive()
    }
}

impl KeyPair {
    /// A fresh key pair from the operating system's CSPRNG (WebCrypto's on wasm32).
    pub fn generate() -> Self {
        Self::from_secret(SecretKey::random(&mut OsRng))
    }

    /// Restores a key pair from its 32-byte big-endian secret scalar (as stored on a device).
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        Ok(Self::from_secret(secret_from_bytes(bytes)?))
    }

    fn from_secret(secret: SecretKey) -> Self {
        // One scalar multiplication, on the fixed-base comb: the public point is computed
        // once. (The fallback cannot happen: a nonzero scalar never gives the identity.)
        let product = scalar_mul::mul_generator(&secret.to_nonzero_scalar()).to_affine();
        let point = p256::PublicKey::from_affine(product).unwrap_or_else(|_| secret.public_key());
        let encoded = point.to_encoded_point(false);
        let public = PublicKey::from_parts(point, encoded.as_bytes());
        Self { secret, public }
    }

    /// The 32-byte secret scalar, for storage on the device only.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; SECRET_KEY_LEN]> {
        let mut out = Zeroizing::new([0u8; SECRET_KEY_LEN]);
        out.copy_from_slice(&self.secret.to_bytes());
        out
    }

    /// The public half.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// Raw ECDH: the X coordinate of `secret · their_public` (32 bytes), the input keying
    /// material of the key schedule. Exposed for test vectors and interop checks.
    pub fn diffie_hellman(&self, their_public: &PublicKey) -> Zeroizing<[u8; 32]> {
        ecdh_mul::ecdh_x(&self.secret.to_nonzero_scalar(), their_public.point().as_affine())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_round_trip_and_rejections() {
        let pair = KeyPair::generate();
        let wire = pair.public().to_wire();
        assert_eq!(wire.len(), 87);
        assert_eq!(PublicKey::from_wire(&wire).unwrap(), *pair.public());

        // Compressed form of the same point is refused: we accept uncompressed only.
        let compressed = pair.secret.public_key().to_encoded_point(true);
        assert_eq!(PublicKey::from_sec1(compressed.as_bytes()), Err(CryptoError::InvalidPublicKey));
        // Identity (SEC1 0x00) and off-curve points.
        assert_eq!(PublicKey::from_sec1(&[0u8]), Err(CryptoError::InvalidPublicKey));
        let mut off_curve = pair.public().to_sec1();
        off_curve[64] ^= 1;
        assert_eq!(PublicKey::from_sec1(&off_curve), Err(CryptoError::InvalidPublicKey));
        assert_eq!(PublicKey::from_sec1(&[0u8; 65]), Err(CryptoError::InvalidPublicKey));
        // Padding and the standard alphabet are refused.
        assert!(PublicKey::from_wire(&format!("{wire}=")).is_err());
        assert!(PublicKey::from_wire(&wire.replace('-', "+").replace('_', "/")).is_err() || !wire.contains(['-', '_']));
    }

    #[test]
    fn secret_round_trip() {
        let pair = KeyPair::generate();
        let restored = KeyPair::from_secret_bytes(&pair.secret_bytes()[..]).unwrap();
        assert_eq!(restored.public(), pair.public());
        assert_eq!(KeyPair::from_secret_bytes(&[0u8; 32]).unwrap_err(), CryptoError::InvalidSecretKey);
        assert_eq!(KeyPair::from_secret_bytes(&[0xff; 32]).unwrap_err(), CryptoError::InvalidSecretKey);
        assert_eq!(KeyPair::from_secret_bytes(&[1u8; 31]).unwrap_err(), CryptoError::InvalidSecretKey);
    }

    #[test]
    fn ecdh_agrees() {
        let a = KeyPair::generate();
        let b = KeyPair::generate();
        assert_eq!(*a.diffie_hellman(b.public()), *b.diffie_hellman(a.public()));
    }
}
