//! Sessions to and from bytes, so a client can keep them between runs.
//!
//! ```text
//! 0x01 (format) || role (1) || AD (324) || base key (65)
//! || has_prekey (1) [|| prekey part (267)]
//! || root (32) || DHs secret (32) || has_DHr (1) [|| DHr (65)]
//! || has_CKs (1) [|| CKs (32)] || has_CKr (1) [|| CKr (32)] || u32 Ns || u32 Nr || u32 PN
//! || u32 count || count × (dh (65) || u32 n || mk (32) || i64 stored_at)
//! ```
//! All integers big-endian. The bytes hold secrets: store them encrypted, never log them.

use std::collections::VecDeque;

use zeroize::Zeroizing;

use crate::envelope_v2::PREKEY_PART_LEN;
use crate::error::CryptoError;
use crate::keys::{KeyPair, PUBLIC_KEY_LEN, PublicKey};
use crate::ratchet::{Chains, MAX_SKIPPED_KEYS, Ratchet, Secret, SkippedKey};
use crate::session::{Role, Session};
use crate::x3dh::AD_LEN;

const FORMAT: u8 = 1;

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CryptoError> {
        if self.0.len() < n {
            return Err(CryptoError::InvalidSessionState);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn byte(&mut self) -> Result<u8, CryptoError> {
        Ok(self.take(1)?[0])
    }
    fn flag(&mut self) -> Result<bool, CryptoError> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(CryptoError::InvalidSessionState),
        }
    }
    fn u32(&mut self) -> Result<u32, CryptoError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i64(&mut self) -> Result<i64, CryptoError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(i64::from_be_bytes(b))
    }
    fn secret(&mut self) -> Result<Secret, CryptoError> {
        let mut s = Secret::default();
        s.copy_from_slice(self.take(32)?);
        Ok(s)
    }
    fn public(&mut self) -> Result<PublicKey, CryptoError> {
        PublicKey::from_sec1(self.take(PUBLIC_KEY_LEN)?).map_err(|_| CryptoError::InvalidSessionState)
    }
}

fn put_optional(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(bytes) => {
            out.push(1);
            out.extend_from_slice(bytes);
        }
        None => out.push(0),
    }
}

impl Session {
    /// The session as bytes (secret: store encrypted).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let c = &self.ratchet.chains;
        let mut out = Zeroizing::new(Vec::with_capacity(900 + self.ratchet.skipped.len() * 109));
        out.push(FORMAT);
        out.push(match self.role {
            Role::Initiator => 0,
            Role::Responder => 1,
        });
        out.extend_from_slice(&self.ad);
        out.extend_from_slice(&self.base_key.to_sec1());
        put_optional(&mut out, self.pending_prekey.as_deref());
        out.extend_from_slice(&c.root[..]);
        out.extend_from_slice(&c.dhs.secret_bytes()[..]);
        put_optional(&mut out, c.dhr.as_ref().map(|k| k.to_sec1()).as_ref().map(|k| &k[..]));
        put_optional(&mut out, c.cks.as_ref().map(|k| &k[..]));
        put_optional(&mut out, c.ckr.as_ref().map(|k| &k[..]));
        for n in [c.ns, c.nr, c.pn, self.ratchet.skipped.len() as u32] {
            out.extend_from_slice(&n.to_be_bytes());
        }
        for key in &self.ratchet.skipped {
            out.extend_from_slice(&key.dh);
            out.extend_from_slice(&key.n.to_be_bytes());
            out.extend_from_slice(&key.mk[..]);
            out.extend_from_slice(&key.stored_at.to_be_bytes());
        }
        out
    }

    /// Restores a session from [`Self::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let mut r = Reader(bytes);
        if r.byte()? != FORMAT {
            return Err(CryptoError::InvalidSessionState);
        }
        let role = match r.byte()? {
            0 => Role::Initiator,
            1 => Role::Responder,
            _ => return Err(CryptoError::InvalidSessionState),
        };
        let mut ad = [0u8; AD_LEN];
        ad.copy_from_slice(r.take(AD_LEN)?);
        let base_key = r.public()?;
        let pending_prekey = if r.flag()? { Some(r.take(PREKEY_PART_LEN)?.to_vec()) } else { None };
        let root = r.secret()?;
        let dhs = KeyPair::from_secret_bytes(&r.secret()?[..]).map_err(|_| CryptoError::InvalidSessionState)?;
        let dhr = if r.flag()? { Some(r.public()?) } else { None };
        let cks = if r.flag()? { Some(r.secret()?) } else { None };
        let ckr = if r.flag()? { Some(r.secret()?) } else { None };
        let (ns, nr, pn, count) = (r.u32()?, r.u32()?, r.u32()?, r.u32()? as usize);
        if count > MAX_SKIPPED_KEYS {
            return Err(CryptoError::InvalidSessionState);
        }
        let mut skipped = VecDeque::with_capacity(count);
        for _ in 0..count {
            let mut dh = [0u8; PUBLIC_KEY_LEN];
            dh.copy_from_slice(r.take(PUBLIC_KEY_LEN)?);
            let n = r.u32()?;
            let mk = r.secret()?;
            skipped.push_back(SkippedKey { dh, n, mk, stored_at: r.i64()? });
        }
        if !r.0.is_empty() {
            return Err(CryptoError::InvalidSessionState);
        }
        let chains = Chains { root, dhs, dhr, cks, ckr, ns, nr, pn };
        Ok(Session { role, ad, base_key, pending_prekey, ratchet: Ratchet { chains, skipped } })
    }
}
