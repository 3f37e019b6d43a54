//! Safety numbers: what two friends compare (in person, or by scanning a QR code) to know
//! that the server handed each of them the other's real key.
//!
//! Signal's construction, with our identifiers: for each side,
//! ```text
//! h = u16_be(version) || pub (65 SEC1 bytes) || user_id (16 bytes)
//! repeat 5200 times: h = SHA-512(h || pub)
//! digits = for each of the first six 5-byte chunks of h: u40_be(chunk) mod 100000, as 5 digits
//! ```
//! The two 30-digit strings are sorted and concatenated: 60 digits, the same on both
//! devices. The QR payload is `qr_version || h_first[0..32] || h_second[0..32]` in the same
//! order. Crypto v2 (`docs/CRYPTO.md` §10) computes it over the account identity keys with
//! version 2 and QR version 2; v1 over the per-friendship keys with 0 and 1.

use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

use crate::schedule::Party;

/// Digits in a safety number.
pub const SAFETY_NUMBER_DIGITS: usize = 60;
const ITERATIONS: usize = 5200;

/// The two constructions: which version numbers go into the hash and the QR code.
#[derive(Clone, Copy)]
struct Versions {
    fingerprint: u16,
    qr: u8,
}
const V1: Versions = Versions { fingerprint: 0, qr: 1 };
const V2: Versions = Versions { fingerprint: 2, qr: 2 };

/// The safety number of one friendship.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SafetyNumber {
    digits: String,
    qr_payload: Vec<u8>,
}

fn fingerprint(party: Party<'_>, version: u16) -> [u8; 64] {
    let key = party.public_key.to_sec1();
    let mut hash: Vec<u8> = Vec::with_capacity(2 + 65 + 16);
    hash.extend_from_slice(&version.to_be_bytes());
    hash.extend_from_slice(&key);
    hash.extend_from_slice(party.user_id);
    for _ in 0..ITERATIONS {
        let mut digest = Sha512::new();
        digest.update(&hash);
        digest.update(key);
        hash = digest.finalize().to_vec();
    }
    let mut out = [0u8; 64];
    out.copy_from_slice(&hash);
    out
}

fn display_digits(fingerprint: &[u8; 64]) -> String {
    fingerprint[..30]
        .chunks_exact(5)
        .map(|c| {
            let n = c.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
            format!("{:05}", n % 100_000)
        })
        .collect()
}

impl SafetyNumber {
    /// Crypto v1: the safety number of the friendship between `a` and `b` over their
    /// per-friendship keys (order-independent).
    pub fn compute(a: Party<'_>, b: Party<'_>) -> Self {
        Self::with_versions(a, b, V1)
    }

    /// Crypto v2: the safety number between two people over their account identity keys
    /// (`Party::public_key` is the identity key; order-independent).
    pub fn for_identities(a: Party<'_>, b: Party<'_>) -> Self {
        Self::with_versions(a, b, V2)
    }

    fn with_versions(a: Party<'_>, b: Party<'_>, versions: Versions) -> Self {
        let (fa, fb) = (fingerprint(a, versions.fingerprint), fingerprint(b, versions.fingerprint));
        let (da, db) = (display_digits(&fa), display_digits(&fb));
        let ((d1, f1), (d2, f2)) = if da <= db { ((da, fa), (db, fb)) } else { ((db, fb), (da, fa)) };
        let mut qr_payload = Vec::with_capacity(65);
        qr_payload.push(versions.qr);
        qr_payload.extend_from_slice(&f1[..32]);
        qr_payload.extend_from_slice(&f2[..32]);
        Self { digits: d1 + &d2, qr_payload }
    }

    /// The 60 digits.
    pub fn digits(&self) -> &str {
        &self.digits
    }

    /// The 60 digits in 12 groups of 5, separated by spaces, as shown to people.
    pub fn grouped(&self) -> String {
        self.digits.as_bytes().chunks(5).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
    }

    /// The bytes to put in the QR code.
    pub fn qr_payload(&self) -> &[u8] {
        &self.qr_payload
    }

    /// Whether a scanned QR payload is this safety number (constant-time comparison).
    pub fn matches_qr(&self, scanned: &[u8]) -> bool {
        scanned.len() == self.qr_payload.len() && bool::from(scanned.ct_eq(&self.qr_payload))
    }
}
