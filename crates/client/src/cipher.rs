//! The session cipher: seals a message for every device of a person and opens what their
//! devices send, over the crypto crate's sessions (`docs/CRYPTO.md` §5–§9).
//!
//! It keeps the sessions in the [`SessionStore`](crate::store::SessionStore) (a current one per device, plus a few
//! previous ones that may still open messages in flight), starts sessions from bundles
//! the server hands out, answers handshakes with this device's prekeys, and records each
//! person's account identity: trusted on first use, and a change is reported so the UI can
//! warn — and, for a person verified before, so sending waits for confirmation.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hush_crypto::{
    Bundle, CryptoError, LocalDevice, PublicKey, ResponderPrekeys, Session, Signature, VERSION_2, envelope_version,
    peek_prekey,
};
use hush_shared::api::devices::BundleList;
use hush_shared::ws::{DeviceEnvelope, MessageId};
use hush_shared::{DeviceId, UserId};

use crate::api::{self, ApiError, Http};
use crate::device::prekey_pair;
use crate::store::{ClientStore, MAX_PREVIOUS_SESSIONS, PeerRecord, SessionRecord, StoreError};

/// Why a message could not be sealed now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The person has no device yet: the message waits.
    #[error("this person has no device yet")]
    NoDevices,
    /// The person's identity changed and they were verified: the message waits for the
    /// user to confirm the new safety number.
    #[error("their identity changed; confirm it before sending")]
    Held,
    /// A bundle did not verify (a forged key or a broken server).
    #[error("their keys did not verify: {0}")]
    BadBundle(CryptoError),
    /// The server refused or could not be reached.
    #[error("server: {}", .0.message)]
    Api(ApiError),
    /// Local storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored session is corrupt.
    #[error("a stored session is invalid")]
    Corrupt,
    /// The content is larger than an envelope can carry.
    #[error("the message is too large")]
    TooLarge,
}

/// Why an envelope could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// No session or key of this device opens it: the sender should start a new session
    /// and send it again.
    #[error("cannot be opened here: {0}")]
    Retry(&'static str),
    /// Already opened (a replay or a redelivery).
    #[error("already opened")]
    Duplicate,
    /// Local storage failed: the message must stay in the mailbox.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A sealed message: one envelope per device of the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The envelopes.
    pub envelopes: Vec<DeviceEnvelope>,
    /// The person's identity was new or changed on the way (the UI warns).
    pub identity_changed: bool,
}

/// An opened message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The content bytes.
    pub plaintext: Vec<u8>,
    /// The sender's identity changed with this message (the UI warns).
    pub identity_changed: bool,
}

/// What a new identity for a person means.
enum IdentityNews {
    Same,
    Changed,
    HeldChanged,
}

/// Forgets every session with `peer`'s devices (their identity changed, or the friendship
/// ended): nothing from them opens any more, and the next message starts afresh.
pub async fn forget_sessions(store: &impl ClientStore, peer: UserId) -> Result<(), StoreError> {
    for record in store.peer_sessions(peer).await? {
        store.remove_sessions(peer, record.device).await?;
    }
    Ok(())
}

/// Retires the sessions with `peer`'s devices for sending (they could not open one of our
/// messages, or their devices changed): the next message starts a new session from fresh
/// bundles, while these keep opening what is still in flight from them.
pub async fn retire_sessions(store: &impl ClientStore, peer: UserId) -> Result<(), StoreError> {
    for mut record in store.peer_sessions(peer).await? {
        if !record.retired {
            record.retired = true;
            store.put_sessions(&record).await?;
        }
    }
    Ok(())
}

/// Retires the sessions with one device of `peer` for sending (it asked for a message
/// again): the next message starts a new session from fresh bundles.
pub async fn retire_device(store: &impl ClientStore, peer: UserId, device: DeviceId) -> Result<(), StoreError> {
    if let Some(mut record) = store.sessions(peer, device).await? {
        record.retired = true;
        store.put_sessions(&record).await?;
    }
    Ok(())
}

/// The cipher of this device.
pub struct Cipher<'a, S: ClientStore, H: Http + ?Sized> {
    /// Storage.
    pub store: &'a S,
    /// The server.
    pub http: &'a H,
    /// This device.
    pub device: &'a LocalDevice,
}

fn encode(session: &Session) -> String {
    URL_SAFE_NO_PAD.encode(&session.to_bytes()[..])
}

fn decode(text: &str) -> Option<Session> {
    Session::from_bytes(&URL_SAFE_NO_PAD.decode(text).ok()?).ok()
}

fn decode_key(text: &str) -> Result<PublicKey, CryptoError> {
    PublicKey::from_wire(text)
}

/// A bundle from the list (verified when a session starts from it).
fn bundle_of(list: &BundleList, index: usize) -> Result<Bundle, CryptoError> {
    let device = &list.devices[index];
    let identity = list.identity_key.as_deref().ok_or(CryptoError::InvalidPublicKey)?;
    Ok(Bundle {
        user_id: *list.user_id.as_bytes(),
        device_id: *device.device_id.as_bytes(),
        identity: decode_key(identity)?,
        device_key: decode_key(&device.device_key)?,
        certificate: Signature::from_wire(&device.certificate)?,
        signed_prekey_id: device.signed_prekey.id,
        signed_prekey: decode_key(&device.signed_prekey.public_key)?,
        signed_prekey_signature: Signature::from_wire(&device.signed_prekey.signature)?,
        one_time_prekey: match &device.one_time_prekey {
            Some(p) => Some((p.id, decode_key(&p.public_key)?)),
            None => None,
        },
    })
}

/// Puts `session` first in the device's record, keeping the others as previous ones.
fn promote(record: &mut SessionRecord, session: &Session, replaced: Option<usize>) {
    if let Some(index) = replaced {
        record.sessions.remove(index);
    }
    record.sessions.insert(0, encode(session));
    record.sessions.truncate(1 + MAX_PREVIOUS_SESSIONS);
}

impl<S: ClientStore, H: Http + ?Sized> Cipher<'_, S, H> {
    /// Records `identity` for `peer`: trusted on first use; a change un-verifies them and
    /// holds sending if they had been verified.
    async fn note_identity(&self, peer: UserId, identity: &str) -> Result<IdentityNews, StoreError> {
        let mut record = self.store.peer(peer).await?.unwrap_or(PeerRecord {
            user_id: peer,
            display_name: None,
            identity_key: None,
            verified: false,
            identity_changed: false,
            held: false,
        });
        let news = match record.identity_key.as_deref() {
            Some(known) if known == identity => return Ok(IdentityNews::Same),
            None => IdentityNews::Same,
            Some(_) if record.verified => IdentityNews::HeldChanged,
            Some(_) => IdentityNews::Changed,
        };
        if !matches!(news, IdentityNews::Same) {
            record.identity_changed = true;
            record.held = record.held || matches!(news, IdentityNews::HeldChanged);
            record.verified = false;
        }
        record.identity_key = Some(identity.to_owned());
        self.store.put_peer(&record).await?;
        Ok(news)
    }

    /// Me, the owner of this device.
    fn me(&self) -> UserId {
        UserId(uuid::Uuid::from_bytes(self.device.user_id))
    }

    /// Fetches `peer`'s bundles and starts a session with each of their devices; forgets
    /// sessions with devices they no longer have. Every bundle is verified (and must be
    /// `peer`'s) before the identity it carries is recorded. For my own other devices
    /// (`peer` is me) this device is left out, having none is fine, and the identity must
    /// be mine.
    async fn start_sessions(&self, peer: UserId) -> Result<(Vec<SessionRecord>, bool), SealError> {
        let mut list = api::bundles(self.http, peer).await.map_err(SealError::Api)?;
        let mine = peer == self.me();
        if mine {
            let this = DeviceId(uuid::Uuid::from_bytes(self.device.device_id));
            list.devices.retain(|d| d.device_id != this);
            if list.identity_key.as_deref().is_some_and(|key| key != self.device.identity.public().to_wire()) {
                return Err(SealError::BadBundle(CryptoError::BadSignature));
            }
        }
        let Some(identity) = list.identity_key.clone().filter(|_| !list.devices.is_empty()) else {
            if mine {
                for old in self.store.peer_sessions(peer).await? {
                    self.store.remove_sessions(peer, old.device).await?;
                }
                return Ok((vec![], false));
            }
            return Err(SealError::NoDevices);
        };
        let mut ids: Vec<DeviceId> = list.devices.iter().map(|d| d.device_id).collect();
        crate::order::sort_by_key_u128(&mut ids, |device| device.0.as_u128());
        ids.dedup();
        if list.user_id != peer || ids.len() != list.devices.len() {
            return Err(SealError::BadBundle(CryptoError::BadSignature));
        }
        // Initiating verifies each bundle: every one must pass before the identity is noted.
        let sessions = (0..list.devices.len())
            .map(|i| bundle_of(&list, i).and_then(|bundle| Session::initiate(self.device, &bundle)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(SealError::BadBundle)?;
        let news = if mine { IdentityNews::Same } else { self.note_identity(peer, &identity).await? };
        if matches!(news, IdentityNews::HeldChanged) || self.store.peer(peer).await?.is_some_and(|p| p.held) {
            return Err(SealError::Held);
        }
        let current: Vec<DeviceId> = list.devices.iter().map(|d| d.device_id).collect();
        for old in self.store.peer_sessions(peer).await? {
            if !current.contains(&old.device) {
                self.store.remove_sessions(peer, old.device).await?;
            }
        }
        let mut records = Vec::with_capacity(sessions.len());
        for (session, device) in sessions.iter().zip(&list.devices) {
            let mut record = self.store.sessions(peer, device.device_id).await?.unwrap_or(SessionRecord {
                peer,
                device: device.device_id,
                sessions: vec![],
                retired: false,
            });
            promote(&mut record, session, None);
            record.retired = false;
            self.store.put_sessions(&record).await?;
            records.push(record);
        }
        Ok((records, !matches!(news, IdentityNews::Same)))
    }

    /// Seals `plaintext` under `message_id` for every device of `peer`, starting sessions
    /// from fresh bundles where there are none.
    pub async fn seal(&self, peer: UserId, message_id: MessageId, plaintext: &[u8]) -> Result<Sealed, SealError> {
        if self.store.peer(peer).await?.is_some_and(|p| p.held) {
            return Err(SealError::Held);
        }
        let records = self.store.peer_sessions(peer).await?;
        let fresh = records.is_empty() || records.iter().any(|r| r.retired || r.sessions.is_empty());
        self.seal_with(peer, records, fresh, message_id, plaintext).await
    }

    /// Seals `plaintext` under `message_id` for my other devices (none when I have one).
    /// `known` says the sessions with them are current (nothing changed since they were
    /// last looked up), so no sessions means no other devices; otherwise their bundles are
    /// fetched again.
    pub async fn seal_own(&self, message_id: MessageId, plaintext: &[u8], known: bool) -> Result<Sealed, SealError> {
        let me = self.me();
        let records = self.store.peer_sessions(me).await?;
        let fresh = !known || records.iter().any(|r| r.retired || r.sessions.is_empty());
        self.seal_with(me, records, fresh, message_id, plaintext).await
    }

    async fn seal_with(
        &self,
        peer: UserId,
        mut records: Vec<SessionRecord>,
        fresh: bool,
        message_id: MessageId,
        plaintext: &[u8],
    ) -> Result<Sealed, SealError> {
        if plaintext.len() > hush_crypto::padding::MAX_PLAINTEXT_LEN {
            return Err(SealError::TooLarge);
        }
        let mut identity_changed = false;
        if fresh {
            (records, identity_changed) = self.start_sessions(peer).await?;
        }
        let mut envelopes = Vec::with_capacity(records.len());
        for mut record in records {
            let mut session = decode(&record.sessions[0]).ok_or(SealError::Corrupt)?;
            let envelope = session.seal(message_id.as_bytes(), plaintext).map_err(|e| match e {
                CryptoError::TooLarge => SealError::TooLarge,
                _ => SealError::Corrupt,
            })?;
            record.sessions[0] = encode(&session);
            self.store.put_sessions(&record).await?;
            envelopes.push(DeviceEnvelope { device: record.device, envelope: URL_SAFE_NO_PAD.encode(envelope) });
        }
        Ok(Sealed { envelopes, identity_changed })
    }

    /// Opens an envelope that `from`'s device `from_device` sent under `message_id`.
    pub async fn open(
        &self,
        from: UserId,
        from_device: DeviceId,
        message_id: MessageId,
        envelope: &[u8],
        now: i64,
    ) -> Result<Opened, OpenError> {
        if envelope_version(envelope) != Some(VERSION_2) {
            return Err(OpenError::Retry("sent with an older version of Hush"));
        }
        let prekey = peek_prekey(envelope).map_err(|_| OpenError::Retry("not a valid envelope"))?;
        let mut record = self.store.sessions(from, from_device).await?.unwrap_or(SessionRecord {
            peer: from,
            device: from_device,
            sessions: vec![],
            retired: false,
        });
        let id = message_id.as_bytes();
        let mut duplicate = false;
        let mut known_base_key = false;
        for index in 0..record.sessions.len() {
            let Some(mut session) = decode(&record.sessions[index]) else { continue };
            if prekey.as_ref().is_some_and(|p| &p.base_key != session.base_key()) {
                continue;
            }
            known_base_key = prekey.is_some();
            match session.open(id, envelope, now) {
                Ok(plaintext) => {
                    promote(&mut record, &session, Some(index));
                    self.store.put_sessions(&record).await?;
                    return Ok(Opened { plaintext, identity_changed: false });
                }
                Err(CryptoError::Duplicate) => duplicate = true,
                Err(_) => {}
            }
        }
        if duplicate {
            return Err(OpenError::Duplicate);
        }
        let Some(prekey) = prekey else { return Err(OpenError::Retry("no session opens it")) };
        if known_base_key {
            // That handshake was answered before; answering it again would make a second
            // session the sender does not have.
            return Err(OpenError::Retry("its session cannot open it any more"));
        }
        // A new handshake from that device.
        let Some(signed) = self.store.signed_prekey(prekey.signed_prekey_id).await? else {
            return Err(OpenError::Retry("its signed prekey is gone"));
        };
        let signed = prekey_pair(&signed.secret).map_err(|_| OpenError::Retry("a stored prekey is invalid"))?;
        let one_time = match prekey.one_time_prekey_id {
            Some(id) => match self.store.one_time_prekey(id).await? {
                Some(secret) => {
                    Some(prekey_pair(&secret.secret).map_err(|_| OpenError::Retry("a stored prekey is invalid"))?)
                }
                None => return Err(OpenError::Retry("its one-time prekey was already used")),
            },
            None => None,
        };
        let keys = ResponderPrekeys { signed_prekey: &signed, one_time_prekey: one_time.as_ref() };
        let mut session = Session::respond(self.device, from.as_bytes(), from_device.as_bytes(), &prekey, keys)
            .map_err(|_| OpenError::Retry("its handshake does not verify"))?;
        let plaintext = session.open(id, envelope, now).map_err(|_| OpenError::Retry("its handshake fails"))?;
        let news = self.note_identity(from, &prekey.identity.to_wire()).await?;
        promote(&mut record, &session, None);
        self.store.put_sessions(&record).await?;
        if let Some(id) = prekey.one_time_prekey_id {
            self.store.remove_one_time_prekey(id).await?;
        }
        Ok(Opened { plaintext, identity_changed: !matches!(news, IdentityNews::Same) })
    }
}
