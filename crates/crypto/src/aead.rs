//! The raw AES-256-GCM primitive (96-bit nonce, 128-bit tag). The envelope builds on it;
//! it is public so the Wycheproof vectors and interop tests exercise exactly this code.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

use crate::error::CryptoError;

/// Nonce length in bytes (96 bits).
pub const NONCE_LEN: usize = 12;
/// Authentication-tag length in bytes (128 bits).
pub const TAG_LEN: usize = 16;
/// Key length in bytes (AES-256).
pub const KEY_LEN: usize = 32;

/// Encrypts `plaintext`, returning `ciphertext || tag`.
pub fn encrypt(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let cipher = Aes256Gcm::new(key.into());
    cipher.encrypt(&Nonce::from(*nonce), Payload { msg: plaintext, aad }).map_err(|_| CryptoError::TooLarge)
}

/// Decrypts `ciphertext || tag`; any change to key, nonce, AAD or bytes fails.
pub fn decrypt(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    ciphertext_and_tag: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    if ciphertext_and_tag.len() < TAG_LEN {
        return Err(CryptoError::Undecryptable);
    }
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .decrypt(&Nonce::from(*nonce), Payload { msg: ciphertext_and_tag, aad })
        .map_err(|_| CryptoError::Undecryptable)
}
