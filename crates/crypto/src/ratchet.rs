//! The Double Ratchet (signal.org, revision 1) over P-256, HKDF-SHA256 and HMAC-SHA256:
//! `docs/CRYPTO.md` §6.
//!
//! Receiving is transactional: [`Ratchet::receive`] computes everything an incoming header
//! would change without touching the state and returns it as a [`Pending`] update; the
//! session commits it only after the message authenticated. A forged, replayed or corrupt
//! message therefore leaves the state exactly as it was, without copying the store of
//! skipped keys for every message.

use std::collections::VecDeque;

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::aead::{KEY_LEN, NONCE_LEN};
use crate::error::CryptoError;
use crate::keys::{KeyPair, PUBLIC_KEY_LEN, PublicKey};

/// Most message keys one incoming message may make the receiver skip.
pub const MAX_SKIP: u32 = 1_000;
/// Most skipped message keys a session keeps; beyond it the oldest are dropped.
pub const MAX_SKIPPED_KEYS: usize = 2_000;
/// How long a skipped message key is kept (30 days, the mailbox's default expiry).
pub const SKIPPED_KEY_LIFETIME_SECS: i64 = 30 * 24 * 3600;
/// Bytes of a ratchet header: `DHs_pub || u32_be(PN) || u32_be(N)`.
pub const RATCHET_HEADER_LEN: usize = PUBLIC_KEY_LEN + 8;

const ROOT_INFO: &[u8] = b"hush/v2/root";
const MESSAGE_KEY_INFO: &[u8] = b"hush/v2/message-key";

/// A 32-byte secret (root, chain or message key), zeroised on drop.
pub(crate) type Secret = Zeroizing<[u8; 32]>;

/// The header each message carries in the clear (authenticated as AAD).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The sender's current ratchet public key.
    pub dh: PublicKey,
    /// Messages in the sender's previous sending chain.
    pub pn: u32,
    /// This message's number in the sender's current sending chain.
    pub n: u32,
}

impl Header {
    /// The 73 header bytes.
    pub fn to_bytes(&self) -> [u8; RATCHET_HEADER_LEN] {
        let mut out = [0u8; RATCHET_HEADER_LEN];
        out[..PUBLIC_KEY_LEN].copy_from_slice(&self.dh.to_sec1());
        out[PUBLIC_KEY_LEN..PUBLIC_KEY_LEN + 4].copy_from_slice(&self.pn.to_be_bytes());
        out[PUBLIC_KEY_LEN + 4..].copy_from_slice(&self.n.to_be_bytes());
        out
    }

    /// Parses 73 header bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != RATCHET_HEADER_LEN {
            return Err(CryptoError::Undecryptable);
        }
        let dh = PublicKey::from_sec1(&bytes[..PUBLIC_KEY_LEN]).map_err(|_| CryptoError::Undecryptable)?;
        let pn = u32::from_be_bytes(bytes[PUBLIC_KEY_LEN..PUBLIC_KEY_LEN + 4].try_into().unwrap_or_default());
        let n = u32::from_be_bytes(bytes[PUBLIC_KEY_LEN + 4..].try_into().unwrap_or_default());
        Ok(Self { dh, pn, n })
    }
}

/// A message key expanded into the AES-256-GCM key and nonce it stands for.
pub(crate) struct MessageKeys {
    pub key: Zeroizing<[u8; KEY_LEN]>,
    pub nonce: [u8; NONCE_LEN],
}

/// `HKDF(salt = 0x00*32, ikm = mk, info = "hush/v2/message-key", L = 44)`.
pub(crate) fn expand_message_key(mk: &[u8; 32]) -> MessageKeys {
    let mut okm = Zeroizing::new([0u8; KEY_LEN + NONCE_LEN]);
    hkdf_expand(&[0u8; 32], mk, MESSAGE_KEY_INFO, &mut okm[..]);
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    key.copy_from_slice(&okm[..KEY_LEN]);
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&okm[KEY_LEN..]);
    MessageKeys { key, nonce }
}

pub(crate) fn hkdf_expand(salt: &[u8], ikm: &[u8], info: &[u8], out: &mut [u8]) {
    // Every caller asks for at most 64 bytes, far below HKDF-SHA256's 8,160-byte limit.
    if Hkdf::<Sha256>::new(Some(salt), ikm).expand(info, out).is_err() {
        unreachable!("HKDF-SHA256 expands up to 8160 bytes");
    }
}

/// `KDF_RK`: a new root key and a chain key.
fn kdf_rk(root: &[u8; 32], dh_out: &[u8; 32]) -> (Secret, Secret) {
    let mut okm = Zeroizing::new([0u8; 64]);
    hkdf_expand(root, dh_out, ROOT_INFO, &mut okm[..]);
    let (mut rk, mut ck) = (Secret::default(), Secret::default());
    rk.copy_from_slice(&okm[..32]);
    ck.copy_from_slice(&okm[32..]);
    (rk, ck)
}

fn hmac(key: &[u8; 32], byte: u8) -> Secret {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(&[byte]);
    let mut out = Secret::default();
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

/// `KDF_CK`: the next chain key and this step's message key.
fn kdf_ck(chain: &[u8; 32]) -> (Secret, Secret) {
    (hmac(chain, 0x02), hmac(chain, 0x01))
}

/// A skipped message key, kept to open a message that arrives late.
#[derive(Clone)]
pub(crate) struct SkippedKey {
    pub dh: [u8; PUBLIC_KEY_LEN],
    pub n: u32,
    pub mk: Secret,
    pub stored_at: i64,
}

/// The ratchet's evolving part, small enough to copy per message.
#[derive(Clone)]
pub(crate) struct Chains {
    pub root: Secret,
    pub dhs: KeyPair,
    pub dhr: Option<PublicKey>,
    pub cks: Option<Secret>,
    pub ckr: Option<Secret>,
    pub ns: u32,
    pub nr: u32,
    pub pn: u32,
}

/// One side's Double Ratchet state.
#[derive(Clone)]
pub(crate) struct Ratchet {
    pub chains: Chains,
    /// Oldest first.
    pub skipped: VecDeque<SkippedKey>,
}

/// What opening one message would change, applied by [`Ratchet::commit`].
pub(crate) enum Pending {
    /// The message used the skipped key at this index.
    UsedSkipped(usize),
    /// The message moved the chains on, skipping these keys.
    Advanced { chains: Box<Chains>, skipped: Vec<SkippedKey> },
}

impl Ratchet {
    /// The initiator's state: `DHr` is the responder's signed prekey.
    pub fn initiator(sk: &[u8; 32], their_signed_prekey: &PublicKey, dhs: KeyPair) -> Self {
        let (root, cks) = kdf_rk(sk, &dhs.diffie_hellman(their_signed_prekey));
        let chains = Chains {
            root,
            dhs,
            dhr: Some(their_signed_prekey.clone()),
            cks: Some(cks),
            ckr: None,
            ns: 0,
            nr: 0,
            pn: 0,
        };
        Self { chains, skipped: VecDeque::new() }
    }

    /// The responder's state: its first ratchet key is the signed prekey.
    pub fn responder(sk: &[u8; 32], signed_prekey: KeyPair) -> Self {
        let mut root = Secret::default();
        root.copy_from_slice(sk);
        let chains = Chains { root, dhs: signed_prekey, dhr: None, cks: None, ckr: None, ns: 0, nr: 0, pn: 0 };
        Self { chains, skipped: VecDeque::new() }
    }

    /// The next sending step: its header and message key. The responder cannot send before
    /// it received (it has no sending chain yet).
    pub fn send(&mut self) -> Result<(Header, Secret), CryptoError> {
        let c = &mut self.chains;
        let chain = c.cks.as_ref().ok_or(CryptoError::NoSendingChain)?;
        let (next, mk) = kdf_ck(chain);
        let header = Header { dh: c.dhs.public().clone(), pn: c.pn, n: c.ns };
        c.cks = Some(next);
        c.ns = c.ns.checked_add(1).ok_or(CryptoError::NoSendingChain)?;
        Ok((header, mk))
    }

    /// Works out the message key for `header` and the update opening it would make,
    /// without changing anything. `next_key` supplies the ratchet key of a DH step.
    pub fn receive(
        &self,
        header: &Header,
        now: i64,
        next_key: &mut dyn FnMut() -> KeyPair,
    ) -> Result<(Secret, Pending), CryptoError> {
        let dh = header.dh.to_sec1();
        if let Some(i) = self.skipped.iter().position(|k| k.n == header.n && k.dh == dh) {
            return Ok((self.skipped[i].mk.clone(), Pending::UsedSkipped(i)));
        }
        let mut c = self.chains.clone();
        let mut skipped = Vec::new();
        if c.dhr.as_ref() != Some(&header.dh) {
            skip_until(&mut c, header.pn, now, &mut skipped)?;
            c.pn = c.ns;
            c.ns = 0;
            c.nr = 0;
            let (root, ckr) = kdf_rk(&c.root, &c.dhs.diffie_hellman(&header.dh));
            c.dhs = next_key();
            let (root, cks) = kdf_rk(&root, &c.dhs.diffie_hellman(&header.dh));
            c.root = root;
            c.ckr = Some(ckr);
            c.cks = Some(cks);
            c.dhr = Some(header.dh.clone());
        } else if header.n < c.nr {
            return Err(CryptoError::Duplicate);
        }
        skip_until(&mut c, header.n, now, &mut skipped)?;
        let chain = c.ckr.as_ref().ok_or(CryptoError::Undecryptable)?;
        let (next, mk) = kdf_ck(chain);
        c.ckr = Some(next);
        c.nr = c.nr.checked_add(1).ok_or(CryptoError::Undecryptable)?;
        Ok((mk, Pending::Advanced { chains: Box::new(c), skipped }))
    }

    /// Applies what [`Self::receive`] worked out, once the message authenticated; then
    /// drops skipped keys past their lifetime or beyond the bound.
    pub fn commit(&mut self, pending: Pending, now: i64) {
        match pending {
            Pending::UsedSkipped(i) => {
                self.skipped.remove(i);
            }
            Pending::Advanced { chains, skipped } => {
                self.chains = *chains;
                self.skipped.extend(skipped);
            }
        }
        let oldest_allowed = now.saturating_sub(SKIPPED_KEY_LIFETIME_SECS);
        self.skipped.retain(|k| k.stored_at >= oldest_allowed);
        while self.skipped.len() > MAX_SKIPPED_KEYS {
            self.skipped.pop_front();
        }
    }
}

/// Stores the receiving chain's keys up to (not including) message `until`.
fn skip_until(c: &mut Chains, until: u32, now: i64, out: &mut Vec<SkippedKey>) -> Result<(), CryptoError> {
    let (Some(dhr), Some(mut chain)) = (c.dhr.as_ref(), c.ckr.clone()) else {
        return Ok(());
    };
    if until <= c.nr {
        return Ok(());
    }
    if until - c.nr > MAX_SKIP {
        return Err(CryptoError::TooFarAhead);
    }
    let dh = dhr.to_sec1();
    while c.nr < until {
        let (next, mk) = kdf_ck(&chain);
        out.push(SkippedKey { dh, n: c.nr, mk, stored_at: now });
        chain = next;
        c.nr += 1;
    }
    c.ckr = Some(chain);
    Ok(())
}
