//! Accounts, sessions and sign-in codes on MongoDB.

use async_trait::async_trait;
use futures_util::TryStreamExt;
use hush_shared::UserId;
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::ReturnDocument;
use subtle::ConstantTimeEq;

use super::{MongoStore, hash_hex};
use crate::store::{
    AccountStore, CodeCheck, CodeSlot, CodeStore, ROTATED_TOKENS_KEPT, RotateOutcome, SessionId, SessionStore,
    StoreError, StoreResult, UserRecord,
};

fn corrupt(what: &str) -> StoreError {
    StoreError(format!("mongodb: corrupt {what}"))
}

fn user_from(d: &Document) -> StoreResult<UserRecord> {
    Ok(UserRecord {
        id: d.get_str("_id").ok().and_then(|s| s.parse().ok()).ok_or_else(|| corrupt("user id"))?,
        phone: d.get_str("phone").map_err(|_| corrupt("phone"))?.to_owned(),
        display_name: d.get_str("display_name").ok().map(str::to_owned),
        created_at: d.get_i64("created_at").map_err(|_| corrupt("created_at"))?,
    })
}

#[async_trait]
impl AccountStore for MongoStore {
    async fn find_or_create(&self, phone: &str, now: i64) -> StoreResult<(UserRecord, bool)> {
        let fresh = UserId::new().to_string();
        let found = self
            .coll("users")
            .find_one_and_update(
                doc! { "phone": phone },
                doc! { "$setOnInsert": { "_id": &fresh, "display_name": Bson::Null, "created_at": now } },
            )
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await?
            .ok_or_else(|| corrupt("upsert result"))?;
        let user = user_from(&found)?;
        let created = user.id.to_string() == fresh;
        Ok((user, created))
    }

    async fn get(&self, id: UserId) -> StoreResult<Option<UserRecord>> {
        self.coll("users").find_one(doc! { "_id": id.to_string() }).await?.as_ref().map(user_from).transpose()
    }

    async fn find_by_phone(&self, phone: &str) -> StoreResult<Option<UserRecord>> {
        self.coll("users").find_one(doc! { "phone": phone }).await?.as_ref().map(user_from).transpose()
    }

    async fn set_display_name(&self, id: UserId, name: &str) -> StoreResult<Option<UserRecord>> {
        self.coll("users")
            .find_one_and_update(doc! { "_id": id.to_string() }, doc! { "$set": { "display_name": name } })
            .return_document(ReturnDocument::After)
            .await?
            .as_ref()
            .map(user_from)
            .transpose()
    }

    async fn delete(&self, id: UserId) -> StoreResult<bool> {
        let id = id.to_string();
        // One transaction (or, without, the account first: what is left behind belongs to
        // nobody and is never read again).
        let s = &mut self.begin().await?;
        let Some(user) = self.coll("users").find_one_and_delete(doc! { "_id": &id }).session(&mut *s).await? else {
            return Ok(false);
        };
        if let Ok(phone) = user.get_str("phone") {
            self.coll("sign_in_codes").delete_many(doc! { "phone": phone }).session(&mut *s).await?;
        }
        let sessions: Vec<String> = {
            let mut cursor = self.coll("sessions").find(doc! { "user_id": &id }).session(&mut *s).await?;
            let docs: Vec<Document> = cursor.stream(&mut *s).try_collect().await?;
            docs.iter().filter_map(|d| d.get_str("_id").ok().map(str::to_owned)).collect()
        };
        self.coll("refresh_tokens").delete_many(doc! { "session_id": { "$in": &sessions } }).session(&mut *s).await?;
        self.coll("sessions").delete_many(doc! { "user_id": &id }).session(&mut *s).await?;
        let requests = doc! { "$or": [{ "from": &id }, { "to": &id }] };
        self.coll("friend_requests").delete_many(requests).session(&mut *s).await?;
        let friendships = doc! { "$or": [{ "owner": &id }, { "friend": &id }] };
        self.coll("friend_keys").delete_many(friendships).session(&mut *s).await?;
        let blocks = doc! { "$or": [{ "blocker": &id }, { "blocked": &id }] };
        self.coll("blocks").delete_many(blocks).session(&mut *s).await?;
        self.coll("device_sets").delete_one(doc! { "_id": &id }).session(&mut *s).await?;
        self.commit(s).await?;
        Ok(true)
    }
}

#[async_trait]
impl SessionStore for MongoStore {
    async fn create(
        &self,
        session: SessionId,
        user: UserId,
        refresh_hash: [u8; 32],
        now: i64,
        refresh_expires_at: i64,
    ) -> StoreResult<()> {
        self.coll("sessions")
            .insert_one(doc! { "_id": session.to_string(), "user_id": user.to_string(), "created_at": now, "revoked_at": Bson::Null })
            .await?;
        self.coll("refresh_tokens")
            .insert_one(doc! { "_id": hash_hex(&refresh_hash), "session_id": session.to_string(), "expires_at": refresh_expires_at, "rotated_at": Bson::Null })
            .await?;
        Ok(())
    }

    async fn active_user(&self, session: SessionId) -> StoreResult<Option<UserId>> {
        let found =
            self.coll("sessions").find_one(doc! { "_id": session.to_string(), "revoked_at": Bson::Null }).await?;
        Ok(found.and_then(|d| d.get_str("user_id").ok().and_then(|s| s.parse().ok())))
    }

    async fn rotate(
        &self,
        old_hash: [u8; 32],
        new_hash: [u8; 32],
        now: i64,
        new_expires_at: i64,
    ) -> StoreResult<RotateOutcome> {
        let old = hash_hex(&old_hash);
        let claimed = self
            .coll("refresh_tokens")
            .find_one_and_update(
                doc! { "_id": &old, "rotated_at": Bson::Null, "expires_at": { "$gt": now } },
                doc! { "$set": { "rotated_at": now } },
            )
            .await?;
        let Some(token) = claimed else {
            // Not current: replayed after a rotation (kill the session) or unknown/expired.
            let Some(existing) = self.coll("refresh_tokens").find_one(doc! { "_id": &old }).await? else {
                return Ok(RotateOutcome::Invalid);
            };
            let session_text = existing.get_str("session_id").map_err(|_| corrupt("session id"))?.to_owned();
            if existing.get_i64("rotated_at").is_ok() {
                let session: SessionId = session_text.parse().map_err(|_| corrupt("session id"))?;
                let owner = self.coll("sessions").find_one(doc! { "_id": &session_text }).await?;
                let user = owner
                    .and_then(|d| d.get_str("user_id").ok().and_then(|s| s.parse().ok()))
                    .ok_or_else(|| corrupt("session owner"))?;
                self.revoke(session, now).await?;
                return Ok(RotateOutcome::ReuseDetected { session, user });
            }
            return Ok(RotateOutcome::Invalid);
        };
        let session_text = token.get_str("session_id").map_err(|_| corrupt("session id"))?.to_owned();
        let session: SessionId = session_text.parse().map_err(|_| corrupt("session id"))?;
        let Some(user) = self.active_user(session).await? else { return Ok(RotateOutcome::Invalid) };
        self.coll("refresh_tokens")
            .insert_one(doc! { "_id": hash_hex(&new_hash), "session_id": &session_text, "expires_at": new_expires_at, "rotated_at": Bson::Null })
            .await?;
        // Keep only the newest rotated tokens for reuse detection.
        let rotated = doc! { "session_id": &session_text, "rotated_at": { "$ne": Bson::Null } };
        let stale: Vec<Document> = self
            .coll("refresh_tokens")
            .find(rotated)
            .sort(doc! { "rotated_at": -1 })
            .skip(ROTATED_TOKENS_KEPT as u64)
            .await?
            .try_collect()
            .await?;
        let ids: Vec<Bson> = stale.iter().filter_map(|d| d.get("_id").cloned()).collect();
        if !ids.is_empty() {
            self.coll("refresh_tokens").delete_many(doc! { "_id": { "$in": ids } }).await?;
        }
        Ok(RotateOutcome::Rotated { session, user })
    }

    async fn revoke(&self, session: SessionId, now: i64) -> StoreResult<()> {
        self.coll("sessions")
            .update_one(
                doc! { "_id": session.to_string(), "revoked_at": Bson::Null },
                doc! { "$set": { "revoked_at": now } },
            )
            .await?;
        Ok(())
    }
}

#[async_trait]
impl CodeStore for MongoStore {
    async fn put(&self, slot: &CodeSlot, code_hash: [u8; 32], now: i64, expires_at: i64) -> StoreResult<()> {
        let codes = self.coll("sign_in_codes");
        codes.delete_many(doc! { "expires_at": { "$lte": now } }).await?;
        codes
            .update_one(
                doc! { "_id": slot.key() },
                doc! { "$set": {
                    "phone": &slot.phone, "code_hash": hash_hex(&code_hash), "expires_at": expires_at, "attempts": 0_i64,
                } },
            )
            .upsert(true)
            .await?;
        Ok(())
    }

    async fn check(
        &self,
        slot: &CodeSlot,
        guess_hash: [u8; 32],
        now: i64,
        max_attempts: u32,
    ) -> StoreResult<CodeCheck> {
        let codes = self.coll("sign_in_codes");
        let key = slot.key();
        let max = i64::from(max_attempts);
        // Count the attempt before comparing, in one conditional update: parallel guesses
        // each take one of the `max_attempts`, so no more than that are ever compared.
        let counted = codes
            .find_one_and_update(
                doc! { "_id": &key, "expires_at": { "$gt": now }, "attempts": { "$lt": max } },
                doc! { "$inc": { "attempts": 1_i64 } },
            )
            .return_document(ReturnDocument::After)
            .await?;
        let Some(found) = counted else {
            // Missing, expired or out of attempts: whatever is left of it goes.
            codes
                .delete_one(
                    doc! { "_id": &key, "$or": [{ "expires_at": { "$lte": now } }, { "attempts": { "$gte": max } }] },
                )
                .await?;
            return Ok(CodeCheck::Missing);
        };
        let stored = found.get_str("code_hash").map_err(|_| corrupt("code hash"))?.to_owned();
        if bool::from(stored.as_bytes().ct_eq(hash_hex(&guess_hash).as_bytes())) {
            // Only the request that deletes the code wins it.
            let deleted = codes.delete_one(doc! { "_id": &key, "code_hash": &stored }).await?;
            return Ok(if deleted.deleted_count == 1 { CodeCheck::Accepted } else { CodeCheck::Missing });
        }
        let attempts = found.get_i64("attempts").unwrap_or(max);
        if attempts >= max {
            codes.delete_one(doc! { "_id": &key, "code_hash": &stored }).await?;
            return Ok(CodeCheck::Burned);
        }
        Ok(CodeCheck::Wrong { remaining: (max - attempts) as u32 })
    }
}
