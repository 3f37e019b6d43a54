//! Client storage behind a `?Send` trait (IndexedDB in the browser is single-threaded), and
//! [`MemoryStore`], the reference implementation used by tests and native tools.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use async_trait::async_trait;
use hush_shared::UserId;
use hush_shared::ws::MessageId;
use serde::{Deserialize, Serialize};

use crate::model::{ChatMessage, Direction, Status};

/// A storage failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("client storage: {0}")]
pub struct StoreError(pub String);

/// My key pair for one friendship, as stored on the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The friend (or the person a request went to).
    pub peer: UserId,
    /// My secret scalar, 32 bytes, base64url.
    pub secret: String,
    /// My public key, wire form.
    pub public: String,
}

/// What I know about a friend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FriendRecord {
    /// The friend.
    pub user_id: UserId,
    /// Their display name.
    pub display_name: Option<String>,
    /// Their current public key for our friendship.
    pub their_key: String,
    /// Whether I compared safety numbers with them for this key.
    pub verified: bool,
    /// Set when their key changed since I last looked; cleared by the UI.
    pub key_changed: bool,
}

/// Where a client keeps messages, keys and friends.
#[async_trait(?Send)]
pub trait ClientStore {
    /// Inserts or replaces a message (by id).
    async fn put_message(&self, message: &ChatMessage) -> Result<(), StoreError>;
    /// One message.
    async fn message(&self, id: MessageId) -> Result<Option<ChatMessage>, StoreError>;
    /// A conversation, oldest first (by id, which is time-ordered).
    async fn conversation(&self, peer: UserId) -> Result<Vec<ChatMessage>, StoreError>;
    /// Outgoing messages still `Sending`, oldest first: the outbox.
    async fn outbox(&self) -> Result<Vec<ChatMessage>, StoreError>;
    /// Stores my key pair for a friendship.
    async fn put_key(&self, key: &KeyRecord) -> Result<(), StoreError>;
    /// My key pair for a friendship.
    async fn key(&self, peer: UserId) -> Result<Option<KeyRecord>, StoreError>;
    /// Inserts or replaces a friend.
    async fn put_friend(&self, friend: &FriendRecord) -> Result<(), StoreError>;
    /// One friend.
    async fn friend(&self, user: UserId) -> Result<Option<FriendRecord>, StoreError>;
    /// Forgets a friend (unfriended or blocked); messages stay.
    async fn remove_friend(&self, user: UserId) -> Result<(), StoreError>;
}

#[derive(Default)]
struct Inner {
    messages: BTreeMap<MessageId, ChatMessage>,
    keys: HashMap<UserId, KeyRecord>,
    friends: HashMap<UserId, FriendRecord>,
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
}

#[async_trait(?Send)]
impl ClientStore for MemoryStore {
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

    async fn put_key(&self, key: &KeyRecord) -> Result<(), StoreError> {
        self.inner.borrow_mut().keys.insert(key.peer, key.clone());
        Ok(())
    }

    async fn key(&self, peer: UserId) -> Result<Option<KeyRecord>, StoreError> {
        Ok(self.inner.borrow().keys.get(&peer).cloned())
    }

    async fn put_friend(&self, friend: &FriendRecord) -> Result<(), StoreError> {
        self.inner.borrow_mut().friends.insert(friend.user_id, friend.clone());
        Ok(())
    }

    async fn friend(&self, user: UserId) -> Result<Option<FriendRecord>, StoreError> {
        Ok(self.inner.borrow().friends.get(&user).cloned())
    }

    async fn remove_friend(&self, user: UserId) -> Result<(), StoreError> {
        self.inner.borrow_mut().friends.remove(&user);
        Ok(())
    }
}
