//! Client storage, split per record kind as libsignal's storage traits are: messages, this
//! device's identity and the identities of the people it talks to, its prekeys' secrets,
//! and sessions with other devices. All traits are `?Send` (IndexedDB in the browser is
//! single-threaded); [`MemoryStore`] implements them all for tests and native tools.
//!
//! Records holding secrets (own device, prekeys, sessions) are plain here; a store that
//! writes them to disk must encrypt them (the web app's IndexedDB store does, under a
//! non-extractable WebCrypto key).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use async_trait::async_trait;
use hush_shared::ws::MessageId;
use hush_shared::{DeviceId, UserId};
use serde::{Deserialize, Serialize};

use crate::model::{ChatMessage, Direction, Status};

/// A storage failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("client storage: {0}")]
pub struct StoreError(pub String);

/// This device: who it is and its long-term secrets (base64url scalars).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnDevice {
    /// The account.
    pub user_id: UserId,
    /// This device.
    pub device_id: DeviceId,
    /// The account identity key's secret scalar.
    pub identity_secret: String,
    /// The device key's secret scalar.
    pub device_secret: String,
    /// The next one-time prekey id to use.
    pub next_prekey_id: u32,
    /// The next signed prekey id to use.
    pub next_signed_prekey_id: u32,
    /// Unix seconds the device last registered (0 until it first did).
    pub registered_at: i64,
    /// The link that gave this browser the account identity, until it registers with it.
    #[serde(default)]
    pub link_id: Option<uuid::Uuid>,
}

/// A signed prekey's secret, kept while messages made with it may still arrive.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedPrekeySecret {
    /// Its id.
    pub id: u32,
    /// The secret scalar, base64url.
    pub secret: String,
    /// Unix seconds it was made.
    pub created_at: i64,
    /// Unix seconds a newer signed prekey replaced it on the server (its secret is kept
    /// for the mailbox lifetime after that).
    #[serde(default)]
    pub replaced_at: Option<i64>,
}

/// A one-time prekey's secret, deleted once a handshake used it — or, if none does, a
/// while after the server handed the key out (`device::replenish`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneTimePrekeySecret {
    /// Its id.
    pub id: u32,
    /// The secret scalar, base64url.
    pub secret: String,
    /// Unix seconds when this device first found the key no longer on the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handed_out_at: Option<i64>,
}

/// The sessions with one device of a person: the current one first, then up to
/// [`MAX_PREVIOUS_SESSIONS`] previous ones (still able to open messages in flight). Each is
/// the crypto crate's session bytes, base64url.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The person.
    pub peer: UserId,
    /// Their device.
    pub device: DeviceId,
    /// Current first.
    pub sessions: Vec<String>,
    /// The next message to this device starts a new session (it could not open one of
    /// ours, or its devices changed); these sessions still open what it sends.
    #[serde(default)]
    pub retired: bool,
}

/// Secrets never appear in logs or panics: `Debug` names the record, not its keys.
macro_rules! redacted_debug {
    ($name:ident { $($field:ident),* }) => {
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))$(.field(stringify!($field), &self.$field))*.finish_non_exhaustive()
            }
        }
    };
}
redacted_debug!(OwnDevice { user_id, device_id, next_prekey_id, next_signed_prekey_id, registered_at });
redacted_debug!(SignedPrekeySecret { id, created_at, replaced_at });
redacted_debug!(OneTimePrekeySecret { id });
redacted_debug!(SessionRecord { peer, device, retired });

/// Previous sessions kept per device besides the current one.
pub const MAX_PREVIOUS_SESSIONS: usize = 4;

/// What this device knows about a person it talks to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerRecord {
    /// The person.
    pub user_id: UserId,
    /// Their display name.
    pub display_name: Option<String>,
    /// Their account identity key (wire form), once known.
    pub identity_key: Option<String>,
    /// Whether I compared safety numbers with them for this identity.
    pub verified: bool,
    /// Their identity changed since I last confirmed it (shown as a warning; while it is
    /// set and they had been verified, messages to them wait for my confirmation).
    pub identity_changed: bool,
    /// Messages to them wait for me to confirm their new identity.
    pub held: bool,
}

/// Messages, by id.
#[async_trait(?Send)]
pub trait MessageStore {
    /// Inserts or replaces a message (by id).
    async fn put_message(&self, message: &ChatMessage) -> Result<(), StoreError>;
    /// One message.
    async fn message(&self, id: MessageId) -> Result<Option<ChatMessage>, StoreError>;
    /// A conversation, oldest first (by id, which is time-ordered).
    async fn conversation(&self, peer: UserId) -> Result<Vec<ChatMessage>, StoreError>;
    /// Outgoing messages still `Sending`, oldest first: the outbox.
    async fn outbox(&self) -> Result<Vec<ChatMessage>, StoreError>;
}

/// This device's identity, and the identities of people (libsignal's identity store).
#[async_trait(?Send)]
pub trait IdentityStore {
    /// This device, once set up.
    async fn own_device(&self) -> Result<Option<OwnDevice>, StoreError>;
    /// Stores this device.
    async fn put_own_device(&self, device: &OwnDevice) -> Result<(), StoreError>;
    /// What I know about a person.
    async fn peer(&self, user: UserId) -> Result<Option<PeerRecord>, StoreError>;
    /// Inserts or replaces a person. People are never forgotten, not even when a friendship
    /// ends: their identity and verification must survive unfriending (a server that made a
    /// client forget could then swap the identity unnoticed).
    async fn put_peer(&self, peer: &PeerRecord) -> Result<(), StoreError>;
}

/// This device's prekey secrets.
#[async_trait(?Send)]
pub trait PrekeyStore {
    /// A signed prekey by id.
    async fn signed_prekey(&self, id: u32) -> Result<Option<SignedPrekeySecret>, StoreError>;
    /// Every signed prekey kept.
    async fn signed_prekeys(&self) -> Result<Vec<SignedPrekeySecret>, StoreError>;
    /// Stores a signed prekey.
    async fn put_signed_prekey(&self, prekey: &SignedPrekeySecret) -> Result<(), StoreError>;
    /// Deletes a signed prekey.
    async fn remove_signed_prekey(&self, id: u32) -> Result<(), StoreError>;
    /// A one-time prekey by id.
    async fn one_time_prekey(&self, id: u32) -> Result<Option<OneTimePrekeySecret>, StoreError>;
    /// Every one-time prekey kept.
    async fn one_time_prekeys(&self) -> Result<Vec<OneTimePrekeySecret>, StoreError>;
    /// Stores one-time prekeys.
    async fn put_one_time_prekeys(&self, prekeys: &[OneTimePrekeySecret]) -> Result<(), StoreError>;
    /// Deletes a one-time prekey (a handshake used it).
    async fn remove_one_time_prekey(&self, id: u32) -> Result<(), StoreError>;
}

/// Sessions with other devices.
#[async_trait(?Send)]
pub trait SessionStore {
    /// The sessions with one device.
    async fn sessions(&self, peer: UserId, device: DeviceId) -> Result<Option<SessionRecord>, StoreError>;
    /// The sessions with every device of a person.
    async fn peer_sessions(&self, peer: UserId) -> Result<Vec<SessionRecord>, StoreError>;
    /// Stores the sessions with one device.
    async fn put_sessions(&self, record: &SessionRecord) -> Result<(), StoreError>;
    /// Forgets the sessions with one device.
    async fn remove_sessions(&self, peer: UserId, device: DeviceId) -> Result<(), StoreError>;
    /// Forgets every session (this device started again under a new identity).
    async fn clear_sessions(&self) -> Result<(), StoreError>;
}

/// Everything a client keeps.
pub trait ClientStore: MessageStore + IdentityStore + PrekeyStore + SessionStore {}
impl<T: MessageStore + IdentityStore + PrekeyStore + SessionStore> ClientStore for T {}

#[derive(Default)]
struct Inner {
    messages: BTreeMap<MessageId, ChatMessage>,
    own: Option<OwnDevice>,
    peers: HashMap<UserId, PeerRecord>,
    signed: BTreeMap<u32, SignedPrekeySecret>,
    one_time: BTreeMap<u32, OneTimePrekeySecret>,
    sessions: BTreeMap<(UserId, DeviceId), SessionRecord>,
}

/// In-memory store. Clones share the same data, so a test can drop a client and build a
/// new one on the same store — as a reloaded page finds its IndexedDB.
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Rc<RefCell<Inner>>,
}

impl MemoryStore {
    /// All messages, for assertions.
    pub fn all_messages(&self) -> Vec<ChatMessage> {
        self.inner.borrow().messages.values().cloned().collect()
    }

    /// How many one-time prekey secrets are kept, for assertions.
    pub fn one_time_prekey_count(&self) -> usize {
        self.inner.borrow().one_time.len()
    }
}

#[async_trait(?Send)]
impl MessageStore for MemoryStore {
    async fn put_message(&self, message: &ChatMessage) -> Result<(), StoreError> {
        self.inner.borrow_mut().messages.insert(message.id, message.clone());
        Ok(())
    }

    async fn message(&self, id: MessageId) -> Result<Option<ChatMessage>, StoreError> {
        Ok(self.inner.borrow().messages.get(&id).cloned())
    }

    async fn conversation(&self, peer: UserId) -> Result<Vec<ChatMessage>, StoreError> {
        Ok(self.inner.borrow().messages.values().filter(|m| m.peer == peer).cloned().collect())
    }

    async fn outbox(&self) -> Result<Vec<ChatMessage>, StoreError> {
        Ok(self
            .inner
            .borrow()
            .messages
            .values()
            .filter(|m| m.direction == Direction::Outgoing && m.status == Status::Sending)
            .cloned()
            .collect())
    }
}

#[async_trait(?Send)]
impl IdentityStore for MemoryStore {
    async fn own_device(&self) -> Result<Option<OwnDevice>, StoreError> {
        Ok(self.inner.borrow().own.clone())
    }

    async fn put_own_device(&self, device: &OwnDevice) -> Result<(), StoreError> {
        self.inner.borrow_mut().own = Some(device.clone());
        Ok(())
    }

    async fn peer(&self, user: UserId) -> Result<Option<PeerRecord>, StoreError> {
        Ok(self.inner.borrow().peers.get(&user).cloned())
    }

    async fn put_peer(&self, peer: &PeerRecord) -> Result<(), StoreError> {
        self.inner.borrow_mut().peers.insert(peer.user_id, peer.clone());
        Ok(())
    }
}

#[async_trait(?Send)]
impl PrekeyStore for MemoryStore {
    async fn signed_prekey(&self, id: u32) -> Result<Option<SignedPrekeySecret>, StoreError> {
        Ok(self.inner.borrow().signed.get(&id).cloned())
    }

    async fn signed_prekeys(&self) -> Result<Vec<SignedPrekeySecret>, StoreError> {
        Ok(self.inner.borrow().signed.values().cloned().collect())
    }

    async fn put_signed_prekey(&self, prekey: &SignedPrekeySecret) -> Result<(), StoreError> {
        self.inner.borrow_mut().signed.insert(prekey.id, prekey.clone());
        Ok(())
    }

    async fn remove_signed_prekey(&self, id: u32) -> Result<(), StoreError> {
        self.inner.borrow_mut().signed.remove(&id);
        Ok(())
    }

    async fn one_time_prekey(&self, id: u32) -> Result<Option<OneTimePrekeySecret>, StoreError> {
        Ok(self.inner.borrow().one_time.get(&id).cloned())
    }

    async fn one_time_prekeys(&self) -> Result<Vec<OneTimePrekeySecret>, StoreError> {
        Ok(self.inner.borrow().one_time.values().cloned().collect())
    }

    async fn put_one_time_prekeys(&self, prekeys: &[OneTimePrekeySecret]) -> Result<(), StoreError> {
        let mut inner = self.inner.borrow_mut();
        for prekey in prekeys {
            inner.one_time.insert(prekey.id, prekey.clone());
        }
        Ok(())
    }

    async fn remove_one_time_prekey(&self, id: u32) -> Result<(), StoreError> {
        self.inner.borrow_mut().one_time.remove(&id);
        Ok(())
    }
}

#[async_trait(?Send)]
impl SessionStore for MemoryStore {
    async fn sessions(&self, peer: UserId, device: DeviceId) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.inner.borrow().sessions.get(&(peer, device)).cloned())
    }

    async fn peer_sessions(&self, peer: UserId) -> Result<Vec<SessionRecord>, StoreError> {
        Ok(self.inner.borrow().sessions.values().filter(|r| r.peer == peer).cloned().collect())
    }

    async fn put_sessions(&self, record: &SessionRecord) -> Result<(), StoreError> {
        self.inner.borrow_mut().sessions.insert((record.peer, record.device), record.clone());
        Ok(())
    }

    async fn remove_sessions(&self, peer: UserId, device: DeviceId) -> Result<(), StoreError> {
        self.inner.borrow_mut().sessions.remove(&(peer, device));
        Ok(())
    }

    async fn clear_sessions(&self) -> Result<(), StoreError> {
        self.inner.borrow_mut().sessions.clear();
        Ok(())
    }
}
