//! The versioned envelope of v1.
//!
//! ```text
//! envelope = version (1, = 0x01) || sender_key_id (8) || recipient_key_id (8)
//!            || nonce (12) || AES-256-GCM(padded plaintext) || tag (16)
//! AAD      = version || sender_key_id || recipient_key_id
//!            || message_id (16) || sender_user_id (16) || recipient_user_id (16)
//! ```
//! The message id and both user ids are not inside the envelope (they travel in the frame
//! around it) but are authenticated, so the server cannot re-address, re-label or replay a
//! message under another id without the recipient noticing.

use crate::aead::{self, KEY_LEN, NONCE_LEN, TAG_LEN};
use crate::error::CryptoError;
use crate::keys::{KEY_ID_LEN, KeyId};
use crate::padding;
use crate::{MessageIdBytes, UserIdBytes};

/// Envelope version byte of crypto v1.
pub const VERSION_1: u8 = 1;
/// Bytes before the ciphertext: version, two key ids, nonce.
pub const HEADER_LEN: usize = 1 + 2 * KEY_ID_LEN + NONCE_LEN;
/// Fixed bytes an envelope adds to the padded plaintext.
pub const ENVELOPE_OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// The largest envelope v1 produces (a [`padding::MAX_PLAINTEXT_LEN`] plaintext).
pub const MAX_ENVELOPE_LEN: usize = ENVELOPE_OVERHEAD + padding::padded_len(padding::MAX_PLAINTEXT_LEN);
const AAD_LEN: usize = 1 + 2 * KEY_ID_LEN + 16 * 3;

/// Who sends what to whom: everything the AAD binds besides the header.
pub(crate) struct Route<'a> {
    pub message_id: &'a MessageIdBytes,
    pub sender: &'a UserIdBytes,
    pub recipient: &'a UserIdBytes,
    pub sender_key_id: KeyId,
    pub recipient_key_id: KeyId,
}

fn header_and_aad(route: &Route<'_>) -> ([u8; 1 + 2 * KEY_ID_LEN], [u8; AAD_LEN]) {
    let mut header = [0u8; 1 + 2 * KEY_ID_LEN];
    header[0] = VERSION_1;
    header[1..9].copy_from_slice(&route.sender_key_id.0);
    header[9..17].copy_from_slice(&route.recipient_key_id.0);
    let mut aad = [0u8; AAD_LEN];
    aad[..17].copy_from_slice(&header);
    aad[17..33].copy_from_slice(route.message_id);
    aad[33..49].copy_from_slice(route.sender);
    aad[49..65].copy_from_slice(route.recipient);
    (header, aad)
}

pub(crate) fn seal(
    key: &[u8; KEY_LEN],
    route: Route<'_>,
    plaintext: &[u8],
    nonce: [u8; NONCE_LEN],
) -> Result<Vec<u8>, CryptoError> {
    let padded = padding::pad(plaintext)?;
    let (header, aad) = header_and_aad(&route);
    let sealed = aead::encrypt(key, &nonce, &aad, &padded)?;
    let mut out = Vec::with_capacity(HEADER_LEN + sealed.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

pub(crate) fn open(key: &[u8; KEY_LEN], route: Route<'_>, envelope: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let version = *envelope.first().ok_or(CryptoError::Undecryptable)?;
    if version != VERSION_1 {
        return Err(CryptoError::UnsupportedVersion(version));
    }
    if envelope.len() < ENVELOPE_OVERHEAD + padding::MIN_PADDED_LEN || envelope.len() > MAX_ENVELOPE_LEN {
        return Err(CryptoError::Undecryptable);
    }
    if envelope[1..9] != route.sender_key_id.0 || envelope[9..17] != route.recipient_key_id.0 {
        return Err(CryptoError::KeyMismatch);
    }
    let (_, aad) = header_and_aad(&route);
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&envelope[17..HEADER_LEN]);
    let padded = aead::decrypt(key, &nonce, &aad, &envelope[HEADER_LEN..])?;
    padding::unpad(&padded)
}

/// Reads the version and key ids of an envelope without decrypting it, so a client can
/// tell "sealed for a key I no longer have" from "tampered".
pub fn peek_key_ids(envelope: &[u8]) -> Option<(u8, KeyId, KeyId)> {
    if envelope.len() < HEADER_LEN {
        return None;
    }
    let mut s = [0u8; KEY_ID_LEN];
    let mut r = [0u8; KEY_ID_LEN];
    s.copy_from_slice(&envelope[1..9]);
    r.copy_from_slice(&envelope[9..17]);
    Some((envelope[0], KeyId(s), KeyId(r)))
}
