//! [`LinkStore`] on SQLite: one row per open link, its record as JSON, replaced with a
//! compare-and-set on the whole record. Expired rows go when the next link is made.

use async_trait::async_trait;
use hush_shared::UserId;
use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

use super::SqliteStore;
use crate::store::{LinkRecord, LinkStore, StoreError, StoreResult};

fn to_json(link: &LinkRecord) -> StoreResult<String> {
    serde_json::to_string(link).map_err(|e| StoreError(e.to_string()))
}

fn from_json(text: Option<String>) -> StoreResult<Option<LinkRecord>> {
    text.map(|t| serde_json::from_str(&t).map_err(|_| StoreError("corrupt link record".into()))).transpose()
}

#[async_trait]
impl LinkStore for SqliteStore {
    async fn create_link(&self, link: &LinkRecord) -> StoreResult<()> {
        let (record, link) = (to_json(link)?, link.clone());
        self.call(move |c| {
            let tx = c.transaction()?;
            let gone = params![link.requester.to_string(), link.expires_at - hush_shared::limits::LINK_TTL_SECS];
            tx.prepare_cached(
                "DELETE FROM link_history WHERE link_id IN (SELECT id FROM links WHERE requester = ?1 OR expires_at < ?2)",
            )?
            .execute(gone)?;
            tx.prepare_cached("DELETE FROM links WHERE requester = ?1 OR expires_at < ?2")?.execute(gone)?;
            tx.prepare_cached(
                "INSERT INTO links (id, user_id, requester, code, expires_at, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                link.id.to_string(),
                link.user.to_string(),
                link.requester.to_string(),
                link.code,
                link.expires_at,
                record
            ])?;
            tx.commit()
        })
        .await
    }

    async fn link(&self, id: Uuid) -> StoreResult<Option<LinkRecord>> {
        let text = self
            .call(move |c| {
                c.prepare_cached("SELECT record FROM links WHERE id = ?1")?
                    .query_row([id.to_string()], |r| r.get::<_, String>(0))
                    .optional()
            })
            .await?;
        from_json(text)
    }

    async fn link_by_code(&self, user: UserId, code: &str) -> StoreResult<Option<LinkRecord>> {
        let code = code.to_owned();
        let text = self
            .call(move |c| {
                c.prepare_cached("SELECT record FROM links WHERE user_id = ?1 AND code = ?2")?
                    .query_row(params![user.to_string(), code], |r| r.get::<_, String>(0))
                    .optional()
            })
            .await?;
        from_json(text)
    }

    async fn update_link(&self, current: &LinkRecord, next: &LinkRecord) -> StoreResult<bool> {
        let (old, new, id) = (to_json(current)?, to_json(next)?, current.id);
        self.call(move |c| {
            let changed = c
                .prepare_cached("UPDATE links SET record = ?3 WHERE id = ?1 AND record = ?2")?
                .execute(params![id.to_string(), old, new])?;
            Ok(changed == 1)
        })
        .await
    }

    async fn delete_link(&self, link: &LinkRecord) -> StoreResult<()> {
        let id = link.id;
        self.call(move |c| {
            let tx = c.transaction()?;
            tx.prepare_cached("DELETE FROM link_history WHERE link_id = ?1")?.execute([id.to_string()])?;
            tx.prepare_cached("DELETE FROM links WHERE id = ?1")?.execute([id.to_string()])?;
            tx.commit()
        })
        .await
    }

    async fn put_history_chunk(&self, link: Uuid, index: u32, chunk: &str) -> StoreResult<()> {
        let chunk = chunk.to_owned();
        self.call(move |c| {
            c.prepare_cached("INSERT OR REPLACE INTO link_history (link_id, idx, chunk) VALUES (?1, ?2, ?3)")?
                .execute(params![link.to_string(), index, chunk])?;
            Ok(())
        })
        .await
    }

    async fn history_chunk(&self, link: Uuid, index: u32) -> StoreResult<Option<String>> {
        self.call(move |c| {
            c.prepare_cached("SELECT chunk FROM link_history WHERE link_id = ?1 AND idx = ?2")?
                .query_row(params![link.to_string(), index], |r| r.get(0))
                .optional()
        })
        .await
    }
}
