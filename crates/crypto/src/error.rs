//! The one error type of the crypto crate. Deliberately coarse: a failed `open` never says
//! *why* (tag, padding or header), so it cannot serve as an oracle.

/// Why a crypto operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// Not a valid P-256 public key in SEC1 uncompressed form (or not base64url).
    #[error("invalid public key")]
    InvalidPublicKey,
    /// A secret key that is zero, out of range or of the wrong length.
    #[error("invalid secret key")]
    InvalidSecretKey,
    /// The envelope's first byte names a version this build does not know.
    #[error("unsupported envelope version {0}")]
    UnsupportedVersion(u8),
    /// The envelope's key ids do not match the keys of this conversation.
    #[error("envelope sealed for other keys")]
    KeyMismatch,
    /// Truncated envelope, failed authentication or bad padding.
    #[error("message cannot be decrypted")]
    Undecryptable,
    /// The plaintext exceeds [`padding::MAX_PLAINTEXT_LEN`](crate::padding::MAX_PLAINTEXT_LEN).
    #[error("plaintext too large")]
    TooLarge,
    /// The system random number generator failed.
    #[error("random number generator unavailable")]
    Rng,
}
