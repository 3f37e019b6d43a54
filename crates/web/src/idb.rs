//! [`ClientStore`] on IndexedDB (through rexie): one database per signed-in account, with
//! object stores for messages, my keys and friends. Values are JSON strings, so the schema
//! is the client crate's serde form.

use async_trait::async_trait;
use hush_client::model::{ChatMessage, Direction, Status};
use hush_client::store::{ClientStore, FriendRecord, KeyRecord, StoreError};
use hush_shared::UserId;
use hush_shared::ws::MessageId;
use rexie::{ObjectStore, Rexie, TransactionMode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsValue;

const MESSAGES: &str = "messages";
const KEYS: &str = "keys";
const FRIENDS: &str = "friends";

/// The IndexedDB store of one account.
pub struct IdbStore {
    db: Rexie,
}

fn err(e: impl std::fmt::Debug) -> StoreError {
    StoreError(format!("{e:?}"))
}

impl IdbStore {
    /// Opens (creating) the database `hush-<user id>`.
    pub async fn open(user: UserId) -> Result<Self, StoreError> {
        let db = Rexie::builder(&format!("hush-{user}"))
            .version(1)
            .add_object_store(ObjectStore::new(MESSAGES))
            .add_object_store(ObjectStore::new(KEYS))
            .add_object_store(ObjectStore::new(FRIENDS))
            .build()
            .await
            .map_err(err)?;
        Ok(Self { db })
    }

    async fn put<T: Serialize>(&self, store: &str, key: &str, value: &T) -> Result<(), StoreError> {
        let text = serde_json::to_string(value).map_err(err)?;
        let tx = self.db.transaction(&[store], TransactionMode::ReadWrite).map_err(err)?;
        tx.store(store)
            .map_err(err)?
            .put(&JsValue::from_str(&text), Some(&JsValue::from_str(key)))
            .await
            .map_err(err)?;
        tx.done().await.map(|_| ()).map_err(err)
    }

    async fn get<T: DeserializeOwned>(&self, store: &str, key: &str) -> Result<Option<T>, StoreError> {
        let tx = self.db.transaction(&[store], TransactionMode::ReadOnly).map_err(err)?;
        let value = tx.store(store).map_err(err)?.get(JsValue::from_str(key)).await.map_err(err)?;
        match value.and_then(|v| v.as_string()) {
            Some(text) => serde_json::from_str(&text).map(Some).map_err(err),
            None => Ok(None),
        }
    }

    async fn all<T: DeserializeOwned>(&self, store: &str) -> Result<Vec<T>, StoreError> {
        let tx = self.db.transaction(&[store], TransactionMode::ReadOnly).map_err(err)?;
        let values = tx.store(store).map_err(err)?.get_all(None, None).await.map_err(err)?;
        values.into_iter().filter_map(|v| v.as_string()).map(|t| serde_json::from_str(&t).map_err(err)).collect()
    }

    async fn delete(&self, store: &str, key: &str) -> Result<(), StoreError> {
        let tx = self.db.transaction(&[store], TransactionMode::ReadWrite).map_err(err)?;
        tx.store(store).map_err(err)?.delete(JsValue::from_str(key)).await.map_err(err)?;
        tx.done().await.map(|_| ()).map_err(err)
    }

    /// Every message (the app keeps them in memory for display).
    pub async fn all_messages(&self) -> Result<Vec<ChatMessage>, StoreError> {
        let mut all: Vec<ChatMessage> = self.all(MESSAGES).await?;
        all.sort_by_key(|m| m.id);
        Ok(all)
    }

    /// Every friend.
    pub async fn friends(&self) -> Result<Vec<FriendRecord>, StoreError> {
        self.all(FRIENDS).await
    }

    /// Deletes the whole database (after deleting the account).
    pub async fn destroy(self, user: UserId) {
        self.db.close();
        let _ = Rexie::delete(&format!("hush-{user}")).await;
    }
}

#[async_trait(?Send)]
impl ClientStore for IdbStore {
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

    async fn put_key(&self, key: &KeyRecord) -> Result<(), StoreError> {
        self.put(KEYS, &key.peer.to_string(), key).await
    }

    async fn key(&self, peer: UserId) -> Result<Option<KeyRecord>, StoreError> {
        self.get(KEYS, &peer.to_string()).await
    }

    async fn put_friend(&self, friend: &FriendRecord) -> Result<(), StoreError> {
        self.put(FRIENDS, &friend.user_id.to_string(), friend).await
    }

    async fn friend(&self, user: UserId) -> Result<Option<FriendRecord>, StoreError> {
        self.get(FRIENDS, &user.to_string()).await
    }

    async fn remove_friend(&self, user: UserId) -> Result<(), StoreError> {
        self.delete(FRIENDS, &user.to_string()).await
    }
}
