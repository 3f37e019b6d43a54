//! # hush-crypto — end-to-end crypto
//!
//! A flat facade over small private modules; pure functions, no I/O, no `unsafe`, no
//! `unwrap` on secret paths. The byte-exact specifications (with known-answer vectors) are
//! `docs/CRYPTO.md` (v2) and `docs/CRYPTO_V1.md`; this crate is their reference
//! implementation.
//!
//! Crypto v2 — one identity per person, devices, sessions:
//! - [`IdentityKeyPair`]: the account identity key (ECDSA P-256); it certifies device keys
//!   and signs prekeys ([`verify_device_certificate`], [`verify_signed_prekey`]).
//! - [`LocalDevice`] / [`Bundle`]: this device's long-term keys; a peer device's keys as
//!   the server hands them out.
//! - [`Session`]: the X3DH-style handshake and the Double Ratchet between two devices,
//!   sealing and opening envelopes v2; [`peek_prekey`] reads a prekey message's handshake.
//! - [`SafetyNumber::for_identities`]: safety numbers over the two account identities.
//! - [`LinkChannel`], [`link_commitment`], [`link_comparison_code`]: linking a new browser
//!   (the account identity handed over through the server, which cannot read it).
//!
//! Crypto v1 — one static key per friendship:
//! - [`KeyPair`] / [`PublicKey`] / [`KeyId`]: one P-256 key pair per friendship per person;
//!   public keys on the wire are SEC1 uncompressed points in base64url without padding.
//! - [`ConversationKeys`]: the HKDF-SHA256 key schedule bound to both user ids and both
//!   public keys, one AES-256-GCM key per direction, and the versioned envelope
//!   (`seal` / `open`) with a fresh random nonce and AAD binding every routing field.
//! - [`padding`]: hides exact plaintext lengths (Padmé buckets, minimum 64 bytes).
//! - [`SafetyNumber`]: the 60-digit number per friendship and its QR payload.
//! - [`aead`]: the raw AES-256-GCM primitive, exposed for test vectors and interop.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod aead;
mod device;
mod ecdh_mul;
mod envelope;
mod envelope_v2;
mod error;
mod identity;
mod keys;
mod link;
pub mod padding;
mod point_ops;
mod ratchet;
mod safety;
mod scalar_mul;
mod schedule;
mod session;
mod session_codec;
mod x3dh;

pub use device::{Bundle, LocalDevice};
pub use envelope_v2::{
    KIND_MESSAGE, KIND_PREKEY, MAX_ENVELOPE_V2_LEN, MIN_MESSAGE_LEN, PREKEY_PART_LEN, PrekeyPart, VERSION_2,
    envelope_version, peek_prekey,
};
pub use identity::{
    CERTIFICATE_CONTEXT, IdentityKeyPair, SESSION_PROOF_CONTEXT, SIGNATURE_LEN, SIGNED_PREKEY_CONTEXT, Signature,
    verify, verify_device_certificate, verify_session_proof, verify_signed_prekey,
};
pub use link::{LINK_CODE_DIGITS, LinkChannel, LinkIdBytes, MAX_HISTORY_CHUNKS, link_commitment, link_comparison_code};
pub use ratchet::{Header, MAX_SKIP, MAX_SKIPPED_KEYS, RATCHET_HEADER_LEN, SKIPPED_KEY_LIFETIME_SECS};
pub use session::{ResponderPrekeys, Role, Session};
pub use x3dh::{AD_LEN, SessionParty, associated_data};

pub use envelope::{ENVELOPE_OVERHEAD, HEADER_LEN, MAX_ENVELOPE_LEN, VERSION_1, peek_key_ids};
pub use error::CryptoError;
pub use keys::{KEY_ID_LEN, KeyId, KeyPair, PUBLIC_KEY_LEN, PublicKey, SECRET_KEY_LEN};
pub use safety::{SAFETY_NUMBER_DIGITS, SafetyNumber};
pub use schedule::{ConversationKeys, MESSAGE_KEY_INFO, Party, SCHEDULE_SALT, message_key};

/// A user id as bound into the key schedule and AAD: the 16 bytes of its UUID.
pub type UserIdBytes = [u8; 16];
/// A message id as bound into the AAD: the 16 bytes of its UUID v7.
pub type MessageIdBytes = [u8; 16];
/// A device id as bound into certificates and the associated data: the 16 bytes of its UUID.
pub type DeviceIdBytes = [u8; 16];
