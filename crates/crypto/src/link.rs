//! Linking a browser (`docs/CRYPTO.md` §13): the channel over which a device of the account
//! (the approver) hands the account identity to a new browser (the requester) through the
//! server, which relays but cannot read. A commitment to the approver's ephemeral key comes
//! first, so a server in the middle cannot steer the 6-digit comparison code both screens
//! show; the payload is sealed under a key only the two ephemeral keys give.

use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::aead::{self, KEY_LEN, NONCE_LEN};
use crate::error::CryptoError;
use crate::keys::{KeyPair, PublicKey};
use crate::ratchet::hkdf_expand;

/// A link id as bound into every derivation: the 16 bytes of the server's UUID.
pub type LinkIdBytes = [u8; 16];

/// Digits of the comparison code.
pub const LINK_CODE_DIGITS: usize = 6;

const COMMIT_CONTEXT: &[u8] = b"hush/v2/link-commit";
const CODE_INFO: &[u8] = b"hush/v2/link-code";
const KEY_INFO: &[u8] = b"hush/v2/link-key";
const AAD_CONTEXT: &[u8] = b"hush/v2/link";
const HISTORY_CONTEXT: &[u8] = b"hush/v2/link-history";

/// Most chunks of history one link carries.
pub const MAX_HISTORY_CHUNKS: u32 = 512;

/// `C = SHA-256("hush/v2/link-commit" || L || EA_pub)`: the approver's commitment to its
/// ephemeral key, sent before it sees the requester's.
pub fn link_commitment(link: &LinkIdBytes, approver: &PublicKey) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(COMMIT_CONTEXT);
    hash.update(link);
    hash.update(approver.to_sec1());
    hash.finalize().into()
}

/// The 6-digit code both screens show once the keys are exchanged (leading zeros kept).
pub fn link_comparison_code(link: &LinkIdBytes, approver: &PublicKey, requester: &PublicKey) -> String {
    let mut ikm = Vec::with_capacity(130);
    ikm.extend_from_slice(&approver.to_sec1());
    ikm.extend_from_slice(&requester.to_sec1());
    let mut out = [0u8; 4];
    hkdf_expand(link, &ikm, CODE_INFO, &mut out);
    format!("{:06}", u32::from_be_bytes(out) % 1_000_000)
}

/// The sealed channel of one link: one key and nonce for the identity payload, and the
/// history key for its chunks.
pub struct LinkChannel {
    key: Zeroizing<[u8; KEY_LEN]>,
    nonce: [u8; NONCE_LEN],
    aad: Vec<u8>,
    history_key: Zeroizing<[u8; KEY_LEN]>,
    link: LinkIdBytes,
}

impl LinkChannel {
    /// Derives the channel from this side's ephemeral key pair and the other side's public
    /// key; `approver` and `requester` are the two public keys in their fixed roles.
    pub fn derive(
        link: &LinkIdBytes,
        mine: &KeyPair,
        theirs: &PublicKey,
        (approver, requester): (&PublicKey, &PublicKey),
    ) -> Self {
        let shared = mine.diffie_hellman(theirs);
        let info = |context: &[u8]| {
            let mut info = Vec::with_capacity(context.len() + 130);
            info.extend_from_slice(context);
            info.extend_from_slice(&approver.to_sec1());
            info.extend_from_slice(&requester.to_sec1());
            info
        };
        let mut okm = Zeroizing::new([0u8; KEY_LEN + NONCE_LEN]);
        hkdf_expand(link, &shared[..], &info(KEY_INFO), &mut okm[..]);
        let mut history_key = Zeroizing::new([0u8; KEY_LEN]);
        hkdf_expand(link, &shared[..], &info(HISTORY_CONTEXT), &mut history_key[..]);
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&okm[..KEY_LEN]);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&okm[KEY_LEN..]);
        let mut aad = Vec::with_capacity(AAD_CONTEXT.len() + link.len());
        aad.extend_from_slice(AAD_CONTEXT);
        aad.extend_from_slice(link);
        Self { key, nonce, aad, history_key, link: *link }
    }

    fn history_nonce_and_aad(&self, index: u32, count: u32) -> ([u8; NONCE_LEN], Vec<u8>) {
        let mut nonce = [0u8; NONCE_LEN];
        nonce[8..].copy_from_slice(&index.to_be_bytes());
        let mut aad = Vec::with_capacity(HISTORY_CONTEXT.len() + 24);
        aad.extend_from_slice(HISTORY_CONTEXT);
        aad.extend_from_slice(&self.link);
        aad.extend_from_slice(&index.to_be_bytes());
        aad.extend_from_slice(&count.to_be_bytes());
        (nonce, aad)
    }

    /// Seals history chunk `index` of `count`.
    pub fn seal_history(&self, index: u32, count: u32, records: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if index >= count || count > MAX_HISTORY_CHUNKS {
            return Err(CryptoError::TooLarge);
        }
        let (nonce, aad) = self.history_nonce_and_aad(index, count);
        aead::encrypt(&self.history_key, &nonce, &aad, records)
    }

    /// Opens history chunk `index` of `count`; a chunk under another index or count fails.
    pub fn open_history(&self, index: u32, count: u32, chunk: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if index >= count || count > MAX_HISTORY_CHUNKS {
            return Err(CryptoError::Undecryptable);
        }
        let (nonce, aad) = self.history_nonce_and_aad(index, count);
        aead::decrypt(&self.history_key, &nonce, &aad, chunk)
    }

    /// Seals the payload (the approver, once the person confirmed the codes match).
    pub fn seal(&self, payload: &[u8]) -> Result<Vec<u8>, CryptoError> {
        aead::encrypt(&self.key, &self.nonce, &self.aad, payload)
    }

    /// Opens the payload (the requester); any change fails.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        aead::decrypt(&self.key, &self.nonce, &self.aad, sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_derive_the_same_channel_and_code() {
        let link = [7u8; 16];
        let (a, b) = (KeyPair::generate(), KeyPair::generate());
        let roles = (a.public(), b.public());
        let sealed = LinkChannel::derive(&link, &a, b.public(), roles).seal(b"identity").unwrap();
        assert_eq!(LinkChannel::derive(&link, &b, a.public(), roles).open(&sealed).unwrap(), b"identity");
        let code = link_comparison_code(&link, a.public(), b.public());
        assert_eq!(code.len(), LINK_CODE_DIGITS);
        assert!(code.bytes().all(|c| c.is_ascii_digit()));
        let other = KeyPair::generate();
        assert_ne!(link_commitment(&link, a.public()), link_commitment(&link, other.public()));
        assert!(LinkChannel::derive(&[8u8; 16], &b, a.public(), roles).open(&sealed).is_err(), "another link");
    }
}
