//! The envelope of crypto v2 (`docs/CRYPTO.md` §7):
//!
//! ```text
//! envelope    = 0x02 || kind || [prekey part] || header || sealed
//! prekey part = AIK_I (65) || DK_I (65) || certificate_I (64) || EK_I (65) || u32 spk_id || u32 opk_id
//! header      = DHs_pub (65) || u32 PN || u32 N
//! AAD         = AD (324) || message_id (16) || every byte before `sealed`
//! ```
//! Parsing checks only shape (version, kind, lengths, points on the curve); everything
//! else is the ratchet's and AES-GCM's job.

use crate::aead::TAG_LEN;
use crate::error::CryptoError;
use crate::identity::{SIGNATURE_LEN, Signature};
use crate::keys::{PUBLIC_KEY_LEN, PublicKey};
use crate::padding;
use crate::ratchet::{Header, RATCHET_HEADER_LEN};

/// Envelope version byte of crypto v2.
pub const VERSION_2: u8 = 2;
/// Kind byte of a message that carries the handshake.
pub const KIND_PREKEY: u8 = 1;
/// Kind byte of an ordinary message.
pub const KIND_MESSAGE: u8 = 2;
/// Bytes of the prekey part.
pub const PREKEY_PART_LEN: usize = 3 * PUBLIC_KEY_LEN + SIGNATURE_LEN + 8;
/// The smallest ordinary envelope (a content of up to 59 bytes).
pub const MIN_MESSAGE_LEN: usize = 2 + RATCHET_HEADER_LEN + TAG_LEN + padding::MIN_PADDED_LEN;
/// The largest envelope v2 (a prekey message with the largest content).
pub const MAX_ENVELOPE_V2_LEN: usize =
    2 + PREKEY_PART_LEN + RATCHET_HEADER_LEN + TAG_LEN + padding::padded_len(padding::MAX_PLAINTEXT_LEN);

/// The handshake part of a prekey message: what the responder needs to run X3DH.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrekeyPart {
    /// The initiator's account identity key.
    pub identity: PublicKey,
    /// The initiator's device key.
    pub device_key: PublicKey,
    /// The initiator's device certificate.
    pub certificate: Signature,
    /// The initiator's ephemeral key `EK_I`: the session's base key.
    pub base_key: PublicKey,
    /// Which of the responder's signed prekeys was used.
    pub signed_prekey_id: u32,
    /// Which one-time prekey was used, if any.
    pub one_time_prekey_id: Option<u32>,
}

impl PrekeyPart {
    /// The 267 bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PREKEY_PART_LEN);
        out.extend_from_slice(&self.identity.to_sec1());
        out.extend_from_slice(&self.device_key.to_sec1());
        out.extend_from_slice(&self.certificate.0);
        out.extend_from_slice(&self.base_key.to_sec1());
        out.extend_from_slice(&self.signed_prekey_id.to_be_bytes());
        out.extend_from_slice(&self.one_time_prekey_id.unwrap_or(0).to_be_bytes());
        out
    }

    /// Parses the 267 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != PREKEY_PART_LEN {
            return Err(CryptoError::Undecryptable);
        }
        let key =
            |at: usize| PublicKey::from_sec1(&bytes[at..at + PUBLIC_KEY_LEN]).map_err(|_| CryptoError::Undecryptable);
        let u32_at = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let sig_at = 2 * PUBLIC_KEY_LEN;
        let ids_at = sig_at + SIGNATURE_LEN + PUBLIC_KEY_LEN;
        let signed_prekey_id = u32_at(ids_at);
        if signed_prekey_id == 0 {
            return Err(CryptoError::Undecryptable);
        }
        Ok(Self {
            identity: key(0)?,
            device_key: key(PUBLIC_KEY_LEN)?,
            certificate: Signature::from_slice(&bytes[sig_at..sig_at + SIGNATURE_LEN])?,
            base_key: key(sig_at + SIGNATURE_LEN)?,
            signed_prekey_id,
            one_time_prekey_id: Some(u32_at(ids_at + 4)).filter(|id| *id != 0),
        })
    }
}

/// An envelope v2 split into its parts.
pub(crate) struct Parsed<'a> {
    pub prekey: Option<PrekeyPart>,
    pub header: Header,
    /// Every byte before `sealed` (part of the AAD).
    pub prefix: &'a [u8],
    pub sealed: &'a [u8],
}

pub(crate) fn parse(envelope: &[u8]) -> Result<Parsed<'_>, CryptoError> {
    let (&version, rest) = envelope.split_first().ok_or(CryptoError::Undecryptable)?;
    if version != VERSION_2 {
        return Err(CryptoError::UnsupportedVersion(version));
    }
    let prekey_len = match rest.first() {
        Some(&KIND_PREKEY) => PREKEY_PART_LEN,
        Some(&KIND_MESSAGE) => 0,
        _ => return Err(CryptoError::Undecryptable),
    };
    let prefix_len = 2 + prekey_len + RATCHET_HEADER_LEN;
    if envelope.len() < prefix_len + TAG_LEN + padding::MIN_PADDED_LEN || envelope.len() > MAX_ENVELOPE_V2_LEN {
        return Err(CryptoError::Undecryptable);
    }
    let prekey = if prekey_len > 0 { Some(PrekeyPart::from_bytes(&envelope[2..2 + prekey_len])?) } else { None };
    let header = Header::from_bytes(&envelope[2 + prekey_len..prefix_len])?;
    Ok(Parsed { prekey, header, prefix: &envelope[..prefix_len], sealed: &envelope[prefix_len..] })
}

/// The prekey part of an envelope, if it is a prekey message: what a receiver needs to
/// pick (or make) the session that opens it.
pub fn peek_prekey(envelope: &[u8]) -> Result<Option<PrekeyPart>, CryptoError> {
    Ok(parse(envelope)?.prekey)
}

/// The envelope's version byte, if any.
pub fn envelope_version(envelope: &[u8]) -> Option<u8> {
    envelope.first().copied()
}
