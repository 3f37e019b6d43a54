//! The friend list as this device sees it: the server's list (`GET /friends`) joined with
//! what this device knows of each friend — their identity as first seen, whether I verified
//! it, whether it changed since. Syncing records every friend's current identity, so a
//! change made while this device was away is noticed here like one announced live.

use hush_shared::DeviceId;

use crate::api::{self, ApiError, Http};
use crate::engine::Engine;
use crate::store::{ClientStore, PeerRecord, StoreError};

/// Why a sync or a device removal failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// Local storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server refused or could not be reached.
    #[error("{} ({})", .0.message, .0.code)]
    Api(ApiError),
}

impl From<ApiError> for SyncError {
    fn from(e: ApiError) -> Self {
        SyncError::Api(e)
    }
}

/// The friend list after a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FriendList {
    /// Every current friend, in the server's order, as this device knows them.
    pub friends: Vec<PeerRecord>,
    /// Some friend's identity changed since this device last saw it.
    pub identity_changed: bool,
}

impl<S: ClientStore, H: Http> Engine<S, H> {
    /// Fetches the friend list, records each friend's name and identity (a changed
    /// identity removes the verified mark and may hold messages: see
    /// [`Engine::add_friend`]), and returns the list as this device knows it.
    pub async fn sync_friends(&mut self) -> Result<FriendList, SyncError> {
        let list = api::friends(self.http()).await?;
        let mut identity_changed = false;
        let mut friends = Vec::with_capacity(list.friends.len());
        for friend in list.friends {
            identity_changed |= self.add_friend(friend.user_id, friend.display_name, friend.identity_key).await?;
            if let Some(record) = self.store().peer(friend.user_id).await? {
                friends.push(record);
            }
        }
        Ok(FriendList { friends, identity_changed })
    }

    /// Removes this device from the account on the server (logging out): its prekeys go
    /// with it and friends stop sealing for it. Nothing local changes.
    pub async fn remove_this_device(&self) -> Result<(), SyncError> {
        let Some(device) = self.device_id().or(self.stored_device_id().await?) else { return Ok(()) };
        api::remove_device(self.http(), device).await?;
        Ok(())
    }

    async fn stored_device_id(&self) -> Result<Option<DeviceId>, StoreError> {
        Ok(self.store().own_device().await?.map(|own| own.device_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;

    use async_trait::async_trait;
    use hush_shared::UserId;

    use crate::MemoryStore;

    /// Answers calls from a queue and records what was asked.
    #[derive(Default)]
    struct Scripted {
        answers: RefCell<VecDeque<Result<serde_json::Value, ApiError>>>,
        asked: RefCell<Vec<String>>,
    }

    #[async_trait(?Send)]
    impl Http for Scripted {
        fn access_token(&self) -> Option<String> {
            Some("token".into())
        }

        async fn call(&self, method: &str, path: &str, _body: Option<String>) -> Result<String, ApiError> {
            self.asked.borrow_mut().push(format!("{method} {path}"));
            let answer = self.answers.borrow_mut().pop_front();
            answer.unwrap_or_else(|| Err(api::unreachable("no answer scripted"))).map(|json| json.to_string())
        }
    }

    fn friend(user: UserId, name: &str, key: &str) -> serde_json::Value {
        serde_json::json!({ "user_id": user, "display_name": name, "identity_key": key, "since": 0 })
    }

    #[tokio::test]
    async fn a_sync_records_identities_and_notices_a_change_made_while_away() {
        let (bob, carol) = (UserId::new(), UserId::new());
        let http = Scripted::default();
        let list = serde_json::json!({ "friends": [friend(bob, "Bob", "key-b1"), friend(carol, "Carol", "key-c1")] });
        http.answers.borrow_mut().push_back(Ok(list));
        let mut engine = Engine::new(UserId::new(), MemoryStore::default(), http);

        let first = engine.sync_friends().await.unwrap();
        assert!(!first.identity_changed, "first sight is not a change");
        let names: Vec<_> = first.friends.iter().map(|f| f.display_name.clone().unwrap()).collect();
        assert_eq!(names, ["Bob", "Carol"]);
        engine.set_verified(bob, true).await.unwrap();

        let list = serde_json::json!({ "friends": [friend(bob, "Bob", "key-b2"), friend(carol, "Carol", "key-c1")] });
        engine.http().answers.borrow_mut().push_back(Ok(list));
        let second = engine.sync_friends().await.unwrap();
        assert!(second.identity_changed);
        let bob_now = &second.friends[0];
        assert!(bob_now.identity_changed && bob_now.held && !bob_now.verified, "{bob_now:?}");
        assert!(!second.friends[1].identity_changed);

        let refused = api::unreachable("offline");
        engine.http().answers.borrow_mut().push_back(Err(refused.clone()));
        assert_eq!(engine.sync_friends().await, Err(SyncError::Api(refused)));
        assert_eq!(engine.http().asked.borrow().as_slice(), ["GET /api/v1/friends"; 3]);
    }
}
