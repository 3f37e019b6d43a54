//! Signing keys of crypto v2: the account identity key and what it signs.
//!
//! The account identity key (`AIK`) is a P-256 ECDSA key held by every device of a person.
//! It only signs — device certificates and signed prekeys (`docs/CRYPTO.md` §3) — so no key
//! is used for both ECDSA and ECDH. Signatures are `r || s` (IEEE P1363, 64 bytes, as
//! WebCrypto makes them); signing is RFC 6979-deterministic, verifying accepts any valid
//! signature. Every signed message starts with its own ASCII context string, so a
//! certificate can never be taken for a prekey signature or the other way round.

use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature as EcdsaSignature, SigningKey};
use p256::elliptic_curve::ops::{Invert as _, Reduce};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{Scalar, SecretKey, U256};
use rand_core::OsRng;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::keys::{PUBLIC_KEY_LEN, PublicKey, SECRET_KEY_LEN, secret_from_bytes};
use crate::scalar_mul;
use crate::{DeviceIdBytes, UserIdBytes};

/// Bytes of a signature (`r || s`).
pub const SIGNATURE_LEN: usize = 64;
/// Context string of a device certificate.
pub const CERTIFICATE_CONTEXT: &[u8] = b"hush/v2/device-certificate";
/// Context string of a signed prekey.
pub const SIGNED_PREKEY_CONTEXT: &[u8] = b"hush/v2/signed-prekey";
/// Context string of a session proof (a device re-registering from a new sign-in).
pub const SESSION_PROOF_CONTEXT: &[u8] = b"hush/v2/device-session";

/// An ECDSA P-256 signature in `r || s` form.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; SIGNATURE_LEN]);

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature({})", crate::keys::hex(&self.0))
    }
}

impl Signature {
    /// Takes 64 bytes `r || s`; any other length is refused.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let array: [u8; SIGNATURE_LEN] = bytes.try_into().map_err(|_| CryptoError::BadSignature)?;
        Ok(Self(array))
    }

    /// Base64url without padding (86 characters), as on the wire.
    pub fn to_wire(&self) -> String {
        crate::keys::b64(&self.0)
    }

    /// Parses the wire form.
    pub fn from_wire(text: &str) -> Result<Self, CryptoError> {
        Self::from_slice(&crate::keys::unb64(text).ok_or(CryptoError::BadSignature)?)
    }
}

/// The account identity key pair: signs, never agrees. Zeroised on drop.
#[derive(Clone)]
pub struct IdentityKeyPair {
    signing: SigningKey,
    public: PublicKey,
}

impl std::fmt::Debug for IdentityKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityKeyPair").field("public", &self.public).finish_non_exhaustive()
    }
}

impl IdentityKeyPair {
    /// A fresh identity from the system CSPRNG.
    pub fn generate() -> Self {
        Self::from_secret(SecretKey::random(&mut OsRng))
    }

    /// Restores an identity from its 32-byte secret scalar.
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        Ok(Self::from_secret(secret_from_bytes(bytes)?))
    }

    fn from_secret(secret: SecretKey) -> Self {
        // One scalar multiplication: the signing key computes the public point, reused here.
        let signing = SigningKey::from(&secret);
        let point = p256::PublicKey::from(signing.verifying_key());
        let encoded = point.to_encoded_point(false);
        Self { public: PublicKey::from_parts(point, encoded.as_bytes()), signing }
    }

    /// The 32-byte secret scalar, for storage on the device only.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; SECRET_KEY_LEN]> {
        let mut out = Zeroizing::new([0u8; SECRET_KEY_LEN]);
        out.copy_from_slice(&self.signing.to_bytes());
        out
    }

    /// The public identity key.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// Signs `message` (RFC 6979 nonce, SHA-256).
    pub fn sign(&self, message: &[u8]) -> Signature {
        let signature: EcdsaSignature = self.signing.sign(message);
        let mut out = [0u8; SIGNATURE_LEN];
        out.copy_from_slice(&signature.to_bytes());
        Signature(out)
    }

    /// The certificate of device `device` of account `user` with device key `device_key`.
    pub fn certify_device(&self, user: &UserIdBytes, device: &DeviceIdBytes, device_key: &PublicKey) -> Signature {
        self.sign(&certificate_message(user, device, device_key))
    }

    /// The signature of signed prekey `id` of that device.
    pub fn sign_prekey(&self, user: &UserIdBytes, device: &DeviceIdBytes, id: u32, prekey: &PublicKey) -> Signature {
        self.sign(&signed_prekey_message(user, device, id, prekey))
    }

    /// Proves that the holder of this identity moves `device` to the sign-in whose access
    /// token hashes to `token_digest` (SHA-256 of the token's text).
    pub fn prove_session(&self, user: &UserIdBytes, device: &DeviceIdBytes, token_digest: &[u8; 32]) -> Signature {
        self.sign(&session_proof_message(user, device, token_digest))
    }
}

/// Verifies an ECDSA P-256 / SHA-256 signature `r || s` of `message` under `key`
/// (FIPS 186-5 §6.4.2: `r` and `s` in [1, n−1], `z` the digest reduced mod n, and
/// `x(z/s·G + r/s·Q) ≡ r (mod n)`), with one interleaved multiplication (see
/// `scalar_mul`).
pub fn verify(key: &PublicKey, message: &[u8], signature: &Signature) -> Result<(), CryptoError> {
    let signature = EcdsaSignature::from_slice(&signature.0).map_err(|_| CryptoError::BadSignature)?;
    let (r, s) = signature.split_scalars();
    let z = <Scalar as Reduce<U256>>::reduce_bytes(&Sha256::digest(message));
    let s_inv = *s.invert_vartime();
    let x = scalar_mul::lincomb_x_vartime(&(z * s_inv), key.point().as_affine(), &(*r * s_inv))
        .ok_or(CryptoError::BadSignature)?;
    let x = <Scalar as Reduce<U256>>::reduce_bytes(&x.into());
    if *r == x { Ok(()) } else { Err(CryptoError::BadSignature) }
}

/// `"hush/v2/device-certificate" || user || device || device_key`.
pub fn certificate_message(user: &UserIdBytes, device: &DeviceIdBytes, device_key: &PublicKey) -> Vec<u8> {
    let mut m = Vec::with_capacity(CERTIFICATE_CONTEXT.len() + 32 + PUBLIC_KEY_LEN);
    m.extend_from_slice(CERTIFICATE_CONTEXT);
    m.extend_from_slice(user);
    m.extend_from_slice(device);
    m.extend_from_slice(&device_key.to_sec1());
    m
}

/// `"hush/v2/signed-prekey" || user || device || u32_be(id) || prekey`.
pub fn signed_prekey_message(user: &UserIdBytes, device: &DeviceIdBytes, id: u32, prekey: &PublicKey) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNED_PREKEY_CONTEXT.len() + 36 + PUBLIC_KEY_LEN);
    m.extend_from_slice(SIGNED_PREKEY_CONTEXT);
    m.extend_from_slice(user);
    m.extend_from_slice(device);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&prekey.to_sec1());
    m
}

/// `"hush/v2/device-session" || user || device || SHA-256(access token)`.
pub fn session_proof_message(user: &UserIdBytes, device: &DeviceIdBytes, token_digest: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SESSION_PROOF_CONTEXT.len() + 64);
    m.extend_from_slice(SESSION_PROOF_CONTEXT);
    m.extend_from_slice(user);
    m.extend_from_slice(device);
    m.extend_from_slice(token_digest);
    m
}

/// Checks a session proof under the account identity `identity`.
pub fn verify_session_proof(
    identity: &PublicKey,
    user: &UserIdBytes,
    device: &DeviceIdBytes,
    token_digest: &[u8; 32],
    proof: &Signature,
) -> Result<(), CryptoError> {
    verify(identity, &session_proof_message(user, device, token_digest), proof)
}

/// Checks a device certificate under the account identity `identity`.
pub fn verify_device_certificate(
    identity: &PublicKey,
    user: &UserIdBytes,
    device: &DeviceIdBytes,
    device_key: &PublicKey,
    certificate: &Signature,
) -> Result<(), CryptoError> {
    verify(identity, &certificate_message(user, device, device_key), certificate)
}

/// Checks a signed prekey's signature under the account identity `identity`.
pub fn verify_signed_prekey(
    identity: &PublicKey,
    user: &UserIdBytes,
    device: &DeviceIdBytes,
    id: u32,
    prekey: &PublicKey,
    signature: &Signature,
) -> Result<(), CryptoError> {
    verify(identity, &signed_prekey_message(user, device, id, prekey), signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyPair;

    #[test]
    fn certificates_verify_and_bind_every_field() {
        let aik = IdentityKeyPair::generate();
        let dk = KeyPair::generate();
        let (user, device) = ([1u8; 16], [2u8; 16]);
        let cert = aik.certify_device(&user, &device, dk.public());
        assert!(verify_device_certificate(aik.public(), &user, &device, dk.public(), &cert).is_ok());
        assert!(verify_device_certificate(aik.public(), &[9; 16], &device, dk.public(), &cert).is_err());
        assert!(verify_device_certificate(aik.public(), &user, &[9; 16], dk.public(), &cert).is_err());
        let other = KeyPair::generate();
        assert!(verify_device_certificate(aik.public(), &user, &device, other.public(), &cert).is_err());
        // A certificate is not a prekey signature, even over the same key.
        assert!(verify_signed_prekey(aik.public(), &user, &device, 1, dk.public(), &cert).is_err());
        let restored = IdentityKeyPair::from_secret_bytes(&aik.secret_bytes()[..]).unwrap();
        assert_eq!(restored.certify_device(&user, &device, dk.public()), cert, "RFC 6979 is deterministic");
        assert!(Signature::from_slice(&[0u8; 63]).is_err());
        assert_eq!(verify(aik.public(), b"x", &Signature([0u8; 64])), Err(CryptoError::BadSignature));
    }
}
