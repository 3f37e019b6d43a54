//! # hush-crypto — end-to-end crypto v1
//!
//! A flat facade over small private modules; pure functions, no I/O, no `unsafe`, no
//! `unwrap` on secret paths. The byte-exact specification (with known-answer vectors) is
//! `docs/CRYPTO.md`; this crate is its reference implementation.
//!
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
mod envelope;
mod error;
mod keys;
pub mod padding;
mod safety;
mod schedule;

pub use envelope::{ENVELOPE_OVERHEAD, HEADER_LEN, MAX_ENVELOPE_LEN, VERSION_1, peek_key_ids};
pub use error::CryptoError;
pub use keys::{KEY_ID_LEN, KeyId, KeyPair, PUBLIC_KEY_LEN, PublicKey, SECRET_KEY_LEN};
pub use safety::{SAFETY_NUMBER_DIGITS, SafetyNumber};
pub use schedule::{ConversationKeys, MESSAGE_KEY_INFO, Party, SCHEDULE_SALT, message_key};

/// A user id as bound into the key schedule and AAD: the 16 bytes of its UUID.
pub type UserIdBytes = [u8; 16];
/// A message id as bound into the AAD: the 16 bytes of its UUID v7.
pub type MessageIdBytes = [u8; 16];
