//! Friend requests, friendships with their keys, and blocks on MongoDB.

use async_trait::async_trait;
use futures_util::TryStreamExt;
use hush_shared::{FriendRequestId, UserId};
use mongodb::ClientSession;
use mongodb::bson::{Document, doc};

use super::{MongoStore, is_duplicate};
use crate::store::{
    DeviceStore, FriendRecord, FriendRequestRecord, FriendRequestView, RequestDelivery, RequestFacts, RequestRefusal,
    RequestRule, RequestSide, SendRoute, SocialStore, StoreError, StoreResult,
};

fn corrupt(what: &str) -> StoreError {
    StoreError(format!("mongodb: corrupt {what}"))
}

fn id_field<T: std::str::FromStr>(d: &Document, field: &str) -> StoreResult<T> {
    d.get_str(field).ok().and_then(|s| s.parse().ok()).ok_or_else(|| corrupt(field))
}

fn request_from(d: &Document) -> StoreResult<FriendRequestRecord> {
    Ok(FriendRequestRecord {
        id: id_field(d, "_id")?,
        from: id_field(d, "from")?,
        to: id_field(d, "to")?,
        created_at: d.get_i64("created_at").map_err(|_| corrupt("created_at"))?,
    })
}

impl MongoStore {
    async fn exists(&self, collection: &str, filter: Document) -> StoreResult<bool> {
        Ok(self.coll(collection).find_one(filter).await?.is_some())
    }

    /// [`Self::exists`], read in `session`'s transaction.
    async fn exists_in(&self, session: &mut ClientSession, collection: &str, filter: Document) -> StoreResult<bool> {
        Ok(self.coll(collection).find_one(filter).session(session).await?.is_some())
    }

    /// Whether a request from `requester` is withheld from `recipient` (who blocked them).
    async fn withheld(&self, requester: &str, recipient: &str) -> StoreResult<bool> {
        self.exists("blocks", doc! { "blocker": recipient, "blocked": requester }).await
    }

    async fn display_name(&self, user: &str) -> StoreResult<Option<String>> {
        Ok(self.name_and_phone(user).await?.0)
    }

    /// `user`'s display name and phone number (none and empty for a deleted account).
    async fn name_and_phone(&self, user: &str) -> StoreResult<(Option<String>, String)> {
        let found = self.coll("users").find_one(doc! { "_id": user }).await?;
        Ok(found.map_or((None, String::new()), |d| {
            (d.get_str("display_name").ok().map(str::to_owned), d.get_str("phone").unwrap_or_default().to_owned())
        }))
    }

    /// One side of a friendship: `owner`'s document for `friend`.
    async fn side_of(&self, owner: &str, friend: &str) -> StoreResult<Option<Document>> {
        Ok(self.coll("friend_keys").find_one(doc! { "owner": owner, "friend": friend }).await?)
    }

    async fn friendship(&self, user: &str, friend: &str) -> StoreResult<Option<FriendRecord>> {
        let (Some(mine), Some(_)) = (self.side_of(user, friend).await?, self.side_of(friend, user).await?) else {
            return Ok(None);
        };
        Ok(Some(FriendRecord {
            user_id: friend.parse().map_err(|_| corrupt("friend"))?,
            display_name: self.display_name(friend).await?,
            since: mine.get_i64("since").map_err(|_| corrupt("since"))?,
        }))
    }

    async fn remove_pair(&self, a: &str, b: &str) -> StoreResult<u64> {
        let keys = self
            .coll("friend_keys")
            .delete_many(doc! { "$or": [{ "owner": a, "friend": b }, { "owner": b, "friend": a }] })
            .await?;
        Ok(keys.deleted_count)
    }

    async fn upsert_side(&self, session: &mut ClientSession, owner: &str, friend: &str, now: i64) -> StoreResult<()> {
        self.coll("friend_keys")
            .update_one(doc! { "owner": owner, "friend": friend }, doc! { "$setOnInsert": { "since": now } })
            .upsert(true)
            .session(session)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl SocialStore for MongoStore {
    async fn create_request(
        &self,
        request: FriendRequestRecord,
        rule: RequestRule,
    ) -> StoreResult<Result<RequestDelivery, RequestRefusal>> {
        let (from, to) = (request.from.to_string(), request.to.to_string());
        let s = &mut self.begin().await?;
        let facts = RequestFacts {
            recipient_exists: self.exists_in(s, "users", doc! { "_id": &to }).await?,
            requester_blocked: self.exists_in(s, "blocks", doc! { "blocker": &from, "blocked": &to }).await?,
            blocked_by_recipient: self.exists_in(s, "blocks", doc! { "blocker": &to, "blocked": &from }).await?,
            friends: self.exists_in(s, "friend_keys", doc! { "owner": &from, "friend": &to }).await?
                && self.exists_in(s, "friend_keys", doc! { "owner": &to, "friend": &from }).await?,
            sent: self.exists_in(s, "friend_requests", doc! { "from": &from, "to": &to }).await?,
            incoming: self.exists_in(s, "friend_requests", doc! { "from": &to, "to": &from }).await?,
        };
        let delivery = match rule(&facts) {
            Ok(delivery) => delivery,
            Err(refusal) => return Ok(Err(refusal)),
        };
        // The unique (from, to) index refuses a request written concurrently since the read
        // (without transactions; with them, the write conflict aborts one of the two).
        let inserted = self
            .coll("friend_requests")
            .insert_one(doc! {
                "_id": request.id.to_string(), "from": &from, "to": &to, "created_at": request.created_at,
            })
            .session(&mut *s)
            .await;
        match inserted {
            Ok(_) => {
                self.commit(s).await?;
                Ok(Ok(delivery))
            }
            Err(e) if is_duplicate(&e) => Ok(Err(RequestRefusal::AlreadySent)),
            Err(e) => Err(e.into()),
        }
    }

    async fn list_requests(&self, user: UserId) -> StoreResult<(Vec<FriendRequestView>, Vec<FriendRequestView>)> {
        let me = user.to_string();
        let mut lists = Vec::new();
        for (mine, other) in [("to", "from"), ("from", "to")] {
            let cursor =
                self.coll("friend_requests").find(doc! { mine: &me }).sort(doc! { "created_at": 1, "_id": 1 }).await?;
            let docs: Vec<Document> = cursor.try_collect().await?;
            let mut views = Vec::with_capacity(docs.len());
            for d in &docs {
                let requester = d.get_str("from").map_err(|_| corrupt("from"))?;
                if mine == "to" && self.withheld(requester, &me).await? {
                    continue;
                }
                let (name, phone) = self.name_and_phone(d.get_str(other).map_err(|_| corrupt(other))?).await?;
                views.push(FriendRequestView {
                    request: request_from(d)?,
                    other_display_name: name,
                    other_phone: phone,
                });
            }
            lists.push(views);
        }
        let outgoing = lists.pop().unwrap_or_default();
        let incoming = lists.pop().unwrap_or_default();
        Ok((incoming, outgoing))
    }

    async fn accept_request(
        &self,
        id: FriendRequestId,
        accepter: UserId,
        now: i64,
    ) -> StoreResult<Option<FriendRequestRecord>> {
        let Some(found) =
            self.coll("friend_requests").find_one(doc! { "_id": id.to_string(), "to": accepter.to_string() }).await?
        else {
            return Ok(None);
        };
        let request = request_from(&found)?;
        let (from, to) = (request.from.to_string(), request.to.to_string());
        if self.withheld(&from, &to).await? {
            return Ok(None);
        }
        // One transaction; without one, both sides first and the request last, so a crash
        // in between leaves a friendship whose request can simply be accepted again.
        let s = &mut self.begin().await?;
        self.upsert_side(s, &from, &to, now).await?;
        self.upsert_side(s, &to, &from, now).await?;
        self.coll("friend_requests")
            .delete_many(doc! { "$or": [{ "from": &from, "to": &to }, { "from": &to, "to": &from }] })
            .session(&mut *s)
            .await?;
        self.commit(s).await?;
        Ok(Some(request))
    }

    async fn delete_request(
        &self,
        id: FriendRequestId,
        user: UserId,
        side: RequestSide,
    ) -> StoreResult<Option<FriendRequestRecord>> {
        let field = match side {
            RequestSide::Recipient => "to",
            RequestSide::Requester => "from",
        };
        let deleted = self
            .coll("friend_requests")
            .find_one_and_delete(doc! { "_id": id.to_string(), field: user.to_string() })
            .await?;
        deleted.as_ref().map(request_from).transpose()
    }

    async fn list_friends(&self, user: UserId) -> StoreResult<Vec<FriendRecord>> {
        let me = user.to_string();
        let cursor =
            self.coll("friend_keys").find(doc! { "owner": &me }).sort(doc! { "since": 1, "friend": 1 }).await?;
        let docs: Vec<Document> = cursor.try_collect().await?;
        let mut friends = Vec::new();
        for d in docs {
            let friend = d.get_str("friend").map_err(|_| corrupt("friend"))?;
            if let Some(record) = self.friendship(&me, friend).await? {
                friends.push(record);
            }
        }
        Ok(friends)
    }

    async fn friend(&self, user: UserId, friend: UserId) -> StoreResult<Option<FriendRecord>> {
        self.friendship(&user.to_string(), &friend.to_string()).await
    }

    async fn unfriend(&self, user: UserId, friend: UserId) -> StoreResult<bool> {
        Ok(self.remove_pair(&user.to_string(), &friend.to_string()).await? > 0)
    }

    async fn block(&self, blocker: UserId, blocked: UserId, now: i64) -> StoreResult<bool> {
        let (a, b) = (blocker.to_string(), blocked.to_string());
        if !self.exists("users", doc! { "_id": &b }).await? {
            return Ok(false);
        }
        self.coll("blocks")
            .update_one(doc! { "blocker": &a, "blocked": &b }, doc! { "$setOnInsert": { "created_at": now } })
            .upsert(true)
            .await?;
        self.remove_pair(&a, &b).await?;
        self.coll("friend_requests")
            .delete_many(doc! { "$or": [{ "from": &a, "to": &b }, { "from": &b, "to": &a }] })
            .await?;
        Ok(true)
    }

    async fn unblock(&self, blocker: UserId, blocked: UserId) -> StoreResult<bool> {
        let (blocker, blocked) = (blocker.to_string(), blocked.to_string());
        let deleted = self.coll("blocks").delete_one(doc! { "blocker": &blocker, "blocked": &blocked }).await?;
        if deleted.deleted_count > 0 {
            // Requests withheld during the block go with it.
            self.coll("friend_requests").delete_many(doc! { "from": &blocked, "to": &blocker }).await?;
        }
        Ok(deleted.deleted_count > 0)
    }

    async fn friend_ids(&self, user: UserId) -> StoreResult<Vec<UserId>> {
        Ok(self.list_friends(user).await?.into_iter().map(|f| f.user_id).collect())
    }

    async fn are_friends(&self, a: UserId, b: UserId) -> StoreResult<bool> {
        let (a, b) = (a.to_string(), b.to_string());
        Ok(self.side_of(&a, &b).await?.is_some() && self.side_of(&b, &a).await?.is_some())
    }

    async fn send_route(&self, from: UserId, to: UserId) -> StoreResult<Option<SendRoute>> {
        if !self.are_friends(from, to).await? {
            return Ok(None);
        }
        let ids = |set: crate::store::DeviceSet| set.devices.into_iter().map(|d| d.id).collect();
        Ok(Some(SendRoute { recipient: ids(self.device_set(to).await?), sender: ids(self.device_set(from).await?) }))
    }
}
