//! The one error type of the crypto crate. Deliberately coarse where it matters: a failed
//! `open` never says *why* (tag, padding or header), so it cannot serve as an oracle.

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
    /// The envelope's key ids do not match the keys of this conversation (v1).
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
    /// A certificate or signature does not verify (or is not 64 bytes).
    #[error("invalid signature")]
    BadSignature,
    /// A prekey id of 0 (reserved for "none").
    #[error("invalid prekey id")]
    InvalidPrekeyId,
    /// The message was already opened (a replay or duplicate delivery).
    #[error("message already opened")]
    Duplicate,
    /// The message would make the receiver skip more than `MAX_SKIP` keys.
    #[error("message too far ahead of its chain")]
    TooFarAhead,
    /// A responder's session cannot send before it has received.
    #[error("session cannot send yet")]
    NoSendingChain,
    /// The prekey message names prekeys this device does not have (any more).
    #[error("prekey unknown on this device")]
    UnknownPrekey,
    /// The envelope belongs to another session with this device (another base key).
    #[error("envelope belongs to another session")]
    WrongSession,
    /// Stored session bytes are corrupt or of an unknown format.
    #[error("stored session is invalid")]
    InvalidSessionState,
}
