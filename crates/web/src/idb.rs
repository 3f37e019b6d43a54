//! The client stores on IndexedDB (through rexie): one database per signed-in account,
//! with one object store per record kind — messages, this device (`own`), the people it
//! talks to (`peers`), its prekey secrets and its sessions. Values are the client crate's
//! serde form as JSON, sealed by the [`Vault`] (encryption at rest) before they are written.
//!
//! Version 2 (crypto v2) drops v1's per-friendship keys (the `keys` store), turns v1
//! friends into peers without an identity, flagged as changed, so each chat shows a
//! one-time "safety number changed" notice after the upgrade, and seals v1's plain
//! messages.
//!
//! The IndexedDB and vault steps are written once, on bytes (boxed futures), and only the
//! JSON reading and writing is per record type: the app's bundle carries one copy of them.

use async_trait::async_trait;
use futures::future::LocalBoxFuture;
use hush_client::model::{ChatMessage, Direction, Status};
use hush_client::store::{
    IdentityStore, MessageStore, OneTimePrekeySecret, OwnDevice, PeerRecord, PrekeyStore, SessionRecord, SessionStore,
    SignedPrekeySecret, StoreError,
};
use hush_shared::ws::MessageId;
use hush_shared::{DeviceId, UserId};
use rexie::{Direction as ScanDirection, ObjectStore, Rexie, TransactionMode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsValue;

use crate::vault::{VAULT, Vault};

const MESSAGES: &str = "messages";
const OWN: &str = "own";
const PEERS: &str = "peers";
const SIGNED_PREKEYS: &str = "signed_prekeys";
const ONE_TIME_PREKEYS: &str = "one_time_prekeys";
const SESSIONS: &str = "sessions";
/// v1's friends, read once to become peers, then emptied.
const V1_FRIENDS: &str = "friends";
const OWN_KEY: &str = "device";

/// The IndexedDB store of one account.
pub struct IdbStore {
    db: Rexie,
    vault: Vault,
}

fn err(e: impl std::fmt::Debug) -> StoreError {
    StoreError(format!("{e:?}"))
}

/// A record's key and its opened (plain JSON) value.
type KeyedPlain = (String, Vec<u8>);

fn session_key(peer: UserId, device: DeviceId) -> String {
    format!("{peer}/{device}")
}

impl IdbStore {
    /// Opens (creating or upgrading) the database `hush-<user id>`.
    pub async fn open(user: UserId) -> Result<Self, StoreError> {
        let db = Rexie::builder(&format!("hush-{user}"))
            .version(2)
            .add_object_store(ObjectStore::new(MESSAGES))
            .add_object_store(ObjectStore::new(OWN))
            .add_object_store(ObjectStore::new(PEERS))
            .add_object_store(ObjectStore::new(SIGNED_PREKEYS))
            .add_object_store(ObjectStore::new(ONE_TIME_PREKEYS))
            .add_object_store(ObjectStore::new(SESSIONS))
            .add_object_store(ObjectStore::new(V1_FRIENDS))
            .add_object_store(ObjectStore::new(VAULT))
            .build()
            .await
            .map_err(err)?;
        let vault = Vault::open(&db).await?;
        let store = Self { db, vault };
        if !store.vault.upgraded(&store.db).await? {
            store.upgrade_v1_friends().await?;
            store.seal_plain_messages().await?;
            store.vault.mark_upgraded(&store.db).await?;
        }
        Ok(store)
    }

    /// Messages written before the vault are plain JSON strings: seal them.
    async fn seal_plain_messages(&self) -> Result<(), StoreError> {
        for (key, value) in self.scan(MESSAGES).await? {
            if let Some(plain) = value.as_string() {
                self.put_bytes(MESSAGES, &key, plain.as_bytes()).await?;
            }
        }
        Ok(())
    }

    /// Every `(key, stored value)` of an object store.
    async fn scan(&self, store: &str) -> Result<Vec<(String, JsValue)>, StoreError> {
        let tx = self.db.transaction(&[store], TransactionMode::ReadOnly).map_err(err)?;
        let pairs =
            tx.store(store).map_err(err)?.scan(None, None, None, Some(ScanDirection::Next)).await.map_err(err)?;
        Ok(pairs.into_iter().filter_map(|(k, v)| k.as_string().map(|k| (k, v))).collect())
    }

    /// Seals and writes a value. Boxed, like [`Self::get_bytes`].
    fn put_bytes<'a>(
        &'a self,
        store: &'a str,
        key: &'a str,
        plain: &'a [u8],
    ) -> LocalBoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let sealed = self.vault.seal(store, key, plain).await?;
            let tx = self.db.transaction(&[store], TransactionMode::ReadWrite).map_err(err)?;
            tx.store(store).map_err(err)?.put(&sealed, Some(&JsValue::from_str(key))).await.map_err(err)?;
            tx.done().await.map(|_| ()).map_err(err)
        })
    }

    /// v1 friends become peers: no identity yet, verification gone (it was for a v1 key),
    /// and flagged so the chat says the safety number changed with the upgrade.
    async fn upgrade_v1_friends(&self) -> Result<(), StoreError> {
        /// What a v1 friend record holds that a peer keeps.
        #[derive(serde::Deserialize)]
        struct V1Friend {
            user_id: UserId,
            display_name: Option<String>,
        }
        let old: Vec<V1Friend> = self
            .scan(V1_FRIENDS)
            .await?
            .into_iter()
            .filter_map(|(_, v)| v.as_string().and_then(|t| serde_json::from_str(&t).ok()))
            .collect();
        for V1Friend { user_id, display_name } in old {
            if self.peer(user_id).await?.is_none() {
                self.put_peer(&PeerRecord {
                    user_id,
                    display_name,
                    identity_key: None,
                    verified: false,
                    identity_changed: true,
                    held: false,
                })
                .await?;
            }
        }
        let tx = self.db.transaction(&[V1_FRIENDS], TransactionMode::ReadWrite).map_err(err)?;
        tx.store(V1_FRIENDS).map_err(err)?.clear().await.map_err(err)?;
        tx.done().await.map(|_| ()).map_err(err)
    }

    async fn put<T: Serialize>(&self, store: &str, key: &str, value: &T) -> Result<(), StoreError> {
        let plain = serde_json::to_vec(value).map_err(err)?;
        self.put_bytes(store, key, &plain).await
    }

    async fn get<T: DeserializeOwned>(&self, store: &str, key: &str) -> Result<Option<T>, StoreError> {
        match self.get_bytes(store, key).await? {
            Some(plain) => serde_json::from_slice(&plain).map(Some).map_err(err),
            None => Ok(None),
        }
    }

    /// The opened value under `key`, if any. Boxed: one copy of the IndexedDB and vault
    /// steps serves every record type (as a generic `async fn` they were compiled again
    /// for each).
    fn get_bytes<'a>(
        &'a self,
        store: &'a str,
        key: &'a str,
    ) -> LocalBoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move {
            let tx = self.db.transaction(&[store], TransactionMode::ReadOnly).map_err(err)?;
            let value = tx.store(store).map_err(err)?.get(JsValue::from_str(key)).await.map_err(err)?;
            match value.filter(|v| !v.is_undefined()) {
                Some(value) => self.vault.open_value(store, key, value).await.map(Some),
                None => Ok(None),
            }
        })
    }

    /// Every record of a store; one that does not open (damaged, or planted) is skipped
    /// with a warning rather than hiding all the others.
    async fn all<T: DeserializeOwned>(&self, store: &str) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        for (key, plain) in self.all_bytes(store).await? {
            match serde_json::from_slice(&plain) {
                Ok(record) => out.push(record),
                Err(e) => web_sys::console::warn_1(&format!("skipping {store}/{key}: {}", err(e)).into()),
            }
        }
        Ok(out)
    }

    /// Every `(key, opened value)` of a store, skipping (with a warning) a value that does
    /// not open. Boxed, like [`Self::get_bytes`].
    fn all_bytes<'a>(&'a self, store: &'a str) -> LocalBoxFuture<'a, Result<Vec<KeyedPlain>, StoreError>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for (key, value) in self.scan(store).await? {
                match self.vault.open_value(store, &key, value).await {
                    Ok(plain) => out.push((key, plain)),
                    Err(e) => web_sys::console::warn_1(&format!("skipping {store}/{key}: {e}").into()),
                }
            }
            Ok(out)
        })
    }

    fn delete<'a>(&'a self, store: &'a str, key: &'a str) -> LocalBoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let tx = self.db.transaction(&[store], TransactionMode::ReadWrite).map_err(err)?;
            tx.store(store).map_err(err)?.delete(JsValue::from_str(key)).await.map_err(err)?;
            tx.done().await.map(|_| ()).map_err(err)
        })
    }

    /// Every message (the app keeps them in memory for display).
    pub async fn all_messages(&self) -> Result<Vec<ChatMessage>, StoreError> {
        let mut all: Vec<ChatMessage> = self.all(MESSAGES).await?;
        hush_client::order::sort_by_key_u128(&mut all, |m| m.id.as_u128());
        Ok(all)
    }

    /// Every person this device knows.
    pub async fn peers(&self) -> Result<Vec<PeerRecord>, StoreError> {
        self.all(PEERS).await
    }

    /// Closes this handle on the database.
    pub fn close(self) {
        self.db.close();
    }

    /// Deletes the whole database (after deleting the account).
    pub async fn destroy(self, user: UserId) {
        self.db.close();
        let _ = Rexie::delete(&format!("hush-{user}")).await;
    }
}

#[async_trait(?Send)]
impl MessageStore for IdbStore {
    async fn put_message(&self, message: &ChatMessage) -> Result<(), StoreError> {
        self.put(MESSAGES, &message.id.to_string(), message).await
    }

    async fn message(&self, id: MessageId) -> Result<Option<ChatMessage>, StoreError> {
        self.get(MESSAGES, &id.to_string()).await
    }

    async fn conversation(&self, peer: UserId) -> Result<Vec<ChatMessage>, StoreError> {
        Ok(self.all_messages().await?.into_iter().filter(|m| m.peer == peer).collect())
    }

    async fn outbox(&self) -> Result<Vec<ChatMessage>, StoreError> {
        Ok(self
            .all_messages()
            .await?
            .into_iter()
            .filter(|m| m.direction == Direction::Outgoing && m.status == Status::Sending)
            .collect())
    }
}

#[async_trait(?Send)]
impl IdentityStore for IdbStore {
    async fn own_device(&self) -> Result<Option<OwnDevice>, StoreError> {
        self.get(OWN, OWN_KEY).await
    }

    async fn put_own_device(&self, device: &OwnDevice) -> Result<(), StoreError> {
        self.put(OWN, OWN_KEY, device).await
    }

    async fn peer(&self, user: UserId) -> Result<Option<PeerRecord>, StoreError> {
        self.get(PEERS, &user.to_string()).await
    }

    async fn put_peer(&self, peer: &PeerRecord) -> Result<(), StoreError> {
        self.put(PEERS, &peer.user_id.to_string(), peer).await
    }
}

#[async_trait(?Send)]
impl PrekeyStore for IdbStore {
    async fn signed_prekey(&self, id: u32) -> Result<Option<SignedPrekeySecret>, StoreError> {
        self.get(SIGNED_PREKEYS, &id.to_string()).await
    }

    async fn signed_prekeys(&self) -> Result<Vec<SignedPrekeySecret>, StoreError> {
        self.all(SIGNED_PREKEYS).await
    }

    async fn put_signed_prekey(&self, prekey: &SignedPrekeySecret) -> Result<(), StoreError> {
        self.put(SIGNED_PREKEYS, &prekey.id.to_string(), prekey).await
    }

    async fn remove_signed_prekey(&self, id: u32) -> Result<(), StoreError> {
        self.delete(SIGNED_PREKEYS, &id.to_string()).await
    }

    async fn one_time_prekey(&self, id: u32) -> Result<Option<OneTimePrekeySecret>, StoreError> {
        self.get(ONE_TIME_PREKEYS, &id.to_string()).await
    }

    async fn one_time_prekeys(&self) -> Result<Vec<OneTimePrekeySecret>, StoreError> {
        self.all(ONE_TIME_PREKEYS).await
    }

    async fn put_one_time_prekeys(&self, prekeys: &[OneTimePrekeySecret]) -> Result<(), StoreError> {
        // Sealing is asynchronous and an IndexedDB transaction ends when it waits on
        // something else, so every value is sealed first and then written in one
        // transaction.
        let mut sealed = Vec::with_capacity(prekeys.len());
        for prekey in prekeys {
            let key = prekey.id.to_string();
            let value = self.vault.seal(ONE_TIME_PREKEYS, &key, &serde_json::to_vec(prekey).map_err(err)?).await?;
            sealed.push((key, value));
        }
        let tx = self.db.transaction(&[ONE_TIME_PREKEYS], TransactionMode::ReadWrite).map_err(err)?;
        let store = tx.store(ONE_TIME_PREKEYS).map_err(err)?;
        for (key, value) in &sealed {
            store.put(value, Some(&JsValue::from_str(key))).await.map_err(err)?;
        }
        tx.done().await.map(|_| ()).map_err(err)
    }

    async fn remove_one_time_prekey(&self, id: u32) -> Result<(), StoreError> {
        self.delete(ONE_TIME_PREKEYS, &id.to_string()).await
    }
}

#[async_trait(?Send)]
impl SessionStore for IdbStore {
    async fn sessions(&self, peer: UserId, device: DeviceId) -> Result<Option<SessionRecord>, StoreError> {
        self.get(SESSIONS, &session_key(peer, device)).await
    }

    async fn peer_sessions(&self, peer: UserId) -> Result<Vec<SessionRecord>, StoreError> {
        Ok(self.all::<SessionRecord>(SESSIONS).await?.into_iter().filter(|r| r.peer == peer).collect())
    }

    async fn put_sessions(&self, record: &SessionRecord) -> Result<(), StoreError> {
        self.put(SESSIONS, &session_key(record.peer, record.device), record).await
    }

    async fn remove_sessions(&self, peer: UserId, device: DeviceId) -> Result<(), StoreError> {
        self.delete(SESSIONS, &session_key(peer, device)).await
    }

    async fn clear_sessions(&self) -> Result<(), StoreError> {
        let tx = self.db.transaction(&[SESSIONS], TransactionMode::ReadWrite).map_err(err)?;
        tx.store(SESSIONS).map_err(err)?.clear().await.map_err(err)?;
        tx.done().await.map(|_| ()).map_err(err)
    }
}
