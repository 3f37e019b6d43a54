//! A session between two devices: the handshake's result and the Double Ratchet, sealing
//! and opening envelopes v2 (`docs/CRYPTO.md` §5–§7).
//!
//! The initiator makes a session from a peer's verified [`Bundle`]; the responder from the
//! prekey part of the first message and its own prekeys. Both then [`Session::seal`] and
//! [`Session::open`]. A session serialises to bytes ([`Session::to_bytes`]) so a client can
//! keep it between runs; the bytes hold secrets and must be stored encrypted.

use crate::aead;
use crate::device::{Bundle, LocalDevice};
use crate::envelope_v2::{self, KIND_MESSAGE, KIND_PREKEY, PrekeyPart, VERSION_2};
use crate::error::CryptoError;
use crate::identity::verify_device_certificate;
use crate::keys::{KeyPair, PublicKey};
use crate::padding;
use crate::ratchet::{Ratchet, expand_message_key};
use crate::x3dh::{AD_LEN, SessionParty, associated_data, session_secret};
use crate::{DeviceIdBytes, MessageIdBytes, UserIdBytes};

/// Which side of the handshake this device was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Made the session from the peer's bundle.
    Initiator,
    /// Made the session from the peer's first message.
    Responder,
}

/// One device's end of a session with one peer device.
#[derive(Clone)]
pub struct Session {
    pub(crate) role: Role,
    pub(crate) ad: [u8; AD_LEN],
    pub(crate) base_key: PublicKey,
    /// The initiator's prekey part, sent with every message until the responder answers.
    pub(crate) pending_prekey: Option<Vec<u8>>,
    pub(crate) ratchet: Ratchet,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("role", &self.role)
            .field("base_key", &self.base_key)
            .field("awaiting_reply", &self.pending_prekey.is_some())
            .finish_non_exhaustive()
    }
}

/// The responder's prekeys that a prekey message names.
pub struct ResponderPrekeys<'a> {
    /// The signed prekey pair with the id the message names.
    pub signed_prekey: &'a KeyPair,
    /// The one-time prekey pair it names, if it names one.
    pub one_time_prekey: Option<&'a KeyPair>,
}

impl Session {
    /// Starts a session as initiator from a peer device's bundle (verified here), with a
    /// fresh ephemeral and first ratchet key.
    pub fn initiate(me: &LocalDevice, bundle: &Bundle) -> Result<Self, CryptoError> {
        Self::initiate_with(me, bundle, KeyPair::generate(), KeyPair::generate())
    }

    /// [`Self::initiate`] with caller-chosen ephemeral and ratchet keys (known-answer tests).
    pub fn initiate_with(
        me: &LocalDevice,
        bundle: &Bundle,
        ephemeral: KeyPair,
        first_ratchet_key: KeyPair,
    ) -> Result<Self, CryptoError> {
        bundle.verify()?;
        let ad = associated_data(
            SessionParty {
                identity: me.identity.public(),
                user_id: &me.user_id,
                device_id: &me.device_id,
                device_key: me.device_key.public(),
            },
            SessionParty {
                identity: &bundle.identity,
                user_id: &bundle.user_id,
                device_id: &bundle.device_id,
                device_key: &bundle.device_key,
            },
        );
        let dh1 = me.device_key.diffie_hellman(&bundle.signed_prekey);
        let dh2 = ephemeral.diffie_hellman(&bundle.device_key);
        let dh3 = ephemeral.diffie_hellman(&bundle.signed_prekey);
        let dh4 = bundle.one_time_prekey.as_ref().map(|(_, key)| ephemeral.diffie_hellman(key));
        let mut outputs = vec![&*dh1, &*dh2, &*dh3];
        outputs.extend(dh4.as_deref());
        let sk = session_secret(&outputs, &ad);
        let prekey = PrekeyPart {
            identity: me.identity.public().clone(),
            device_key: me.device_key.public().clone(),
            certificate: me.certificate,
            base_key: ephemeral.public().clone(),
            signed_prekey_id: bundle.signed_prekey_id,
            one_time_prekey_id: bundle.one_time_prekey.as_ref().map(|(id, _)| *id),
        };
        Ok(Self {
            role: Role::Initiator,
            ad,
            base_key: ephemeral.public().clone(),
            pending_prekey: Some(prekey.to_bytes()),
            ratchet: Ratchet::initiator(&sk, &bundle.signed_prekey, first_ratchet_key),
        })
    }

    /// Makes the responder's session from a prekey message's prekey part. `from_user` and
    /// `from_device` come from the frame that carried the message; the certificate must
    /// bind them to the initiator's device key. The caller deletes the one-time prekey
    /// once the first message opened.
    pub fn respond(
        me: &LocalDevice,
        from_user: &UserIdBytes,
        from_device: &DeviceIdBytes,
        prekey: &PrekeyPart,
        keys: ResponderPrekeys<'_>,
    ) -> Result<Self, CryptoError> {
        verify_device_certificate(&prekey.identity, from_user, from_device, &prekey.device_key, &prekey.certificate)?;
        if prekey.one_time_prekey_id.is_some() != keys.one_time_prekey.is_some() {
            return Err(CryptoError::UnknownPrekey);
        }
        let ad = associated_data(
            SessionParty {
                identity: &prekey.identity,
                user_id: from_user,
                device_id: from_device,
                device_key: &prekey.device_key,
            },
            SessionParty {
                identity: me.identity.public(),
                user_id: &me.user_id,
                device_id: &me.device_id,
                device_key: me.device_key.public(),
            },
        );
        let dh1 = keys.signed_prekey.diffie_hellman(&prekey.device_key);
        let dh2 = me.device_key.diffie_hellman(&prekey.base_key);
        let dh3 = keys.signed_prekey.diffie_hellman(&prekey.base_key);
        let dh4 = keys.one_time_prekey.map(|k| k.diffie_hellman(&prekey.base_key));
        let mut outputs = vec![&*dh1, &*dh2, &*dh3];
        outputs.extend(dh4.as_deref());
        let sk = session_secret(&outputs, &ad);
        Ok(Self {
            role: Role::Responder,
            ad,
            base_key: prekey.base_key.clone(),
            pending_prekey: None,
            ratchet: Ratchet::responder(&sk, keys.signed_prekey.clone()),
        })
    }

    /// Which side of the handshake this device was.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The initiator's ephemeral key: identifies the session on both sides.
    pub fn base_key(&self) -> &PublicKey {
        &self.base_key
    }

    /// The associated data (initiator first).
    pub fn associated_data(&self) -> &[u8; AD_LEN] {
        &self.ad
    }

    /// Whether this (initiator's) session still sends prekey messages, i.e. has not yet
    /// opened a message from the responder.
    pub fn awaiting_reply(&self) -> bool {
        self.pending_prekey.is_some()
    }

    /// The peer's account identity key, as bound into the session.
    pub fn peer_identity(&self) -> PublicKey {
        let at = match self.role {
            Role::Initiator => AD_LEN / 2,
            Role::Responder => 0,
        };
        // The AD was built from validated keys, so it parses.
        PublicKey::from_sec1(&self.ad[at..at + 65]).unwrap_or_else(|_| unreachable!("AD holds valid keys"))
    }

    /// Encrypts `plaintext` (content bytes, at most 32 KiB) under message id `message_id`.
    pub fn seal(&mut self, message_id: &MessageIdBytes, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let padded = padding::pad(plaintext)?;
        let (header, mk) = self.ratchet.send()?;
        let mut envelope = Vec::with_capacity(envelope_v2::PREKEY_PART_LEN + 128 + padded.len());
        envelope.push(VERSION_2);
        match &self.pending_prekey {
            Some(prekey) => {
                envelope.push(KIND_PREKEY);
                envelope.extend_from_slice(prekey);
            }
            None => envelope.push(KIND_MESSAGE),
        }
        envelope.extend_from_slice(&header.to_bytes());
        let keys = expand_message_key(&mk);
        let sealed = aead::encrypt(&keys.key, &keys.nonce, &self.aad(message_id, &envelope), &padded)?;
        envelope.extend_from_slice(&sealed);
        Ok(envelope)
    }

    /// Opens an envelope sent by the peer; `now` (Unix seconds) stamps keys it skips.
    pub fn open(&mut self, message_id: &MessageIdBytes, envelope: &[u8], now: i64) -> Result<Vec<u8>, CryptoError> {
        self.open_with(message_id, envelope, now, &mut KeyPair::generate)
    }

    /// [`Self::open`] with caller-chosen ratchet keys for DH steps (known-answer tests).
    pub fn open_with(
        &mut self,
        message_id: &MessageIdBytes,
        envelope: &[u8],
        now: i64,
        next_ratchet_key: &mut dyn FnMut() -> KeyPair,
    ) -> Result<Vec<u8>, CryptoError> {
        let parsed = envelope_v2::parse(envelope)?;
        if let Some(prekey) = &parsed.prekey
            && (self.role == Role::Initiator || prekey.base_key != self.base_key)
        {
            return Err(CryptoError::WrongSession);
        }
        let (mk, pending) = self.ratchet.receive(&parsed.header, now, next_ratchet_key)?;
        let keys = expand_message_key(&mk);
        let padded = aead::decrypt(&keys.key, &keys.nonce, &self.aad(message_id, parsed.prefix), parsed.sealed)?;
        let plaintext = padding::unpad(&padded)?;
        self.ratchet.commit(pending, now);
        self.pending_prekey = None;
        Ok(plaintext)
    }

    fn aad(&self, message_id: &MessageIdBytes, prefix: &[u8]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(AD_LEN + 16 + prefix.len());
        aad.extend_from_slice(&self.ad);
        aad.extend_from_slice(message_id);
        aad.extend_from_slice(prefix);
        aad
    }
}
