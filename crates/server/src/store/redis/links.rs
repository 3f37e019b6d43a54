//! [`LinkStore`] on Redis: `link:{id}` (the record as JSON) and `linkcode:{user}:{code}`
//! (its id), both expiring with the link; `linkof:{session}` names the link a sign-in
//! opened, so a new one replaces it; `linkhist:{id}` (hash index → chunk) its history.
//! Updates are a compare-and-set script.

use async_trait::async_trait;
use hush_shared::UserId;
use redis::Script;
use std::sync::LazyLock;
use uuid::Uuid;

use super::RedisStore;
use crate::store::{LinkRecord, LinkStore, StoreError, StoreResult};

/// KEYS: link, code index, session index. ARGV: record, id, seconds to live, prefix.
static CREATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local previous = redis.call('GET', KEYS[3])
if previous then
  local record = redis.call('GET', ARGV[4] .. ':link:' .. previous)
  redis.call('DEL', ARGV[4] .. ':link:' .. previous, ARGV[4] .. ':linkhist:' .. previous)
  if record then
    local old = cjson.decode(record)
    redis.call('DEL', ARGV[4] .. ':linkcode:' .. old['user'] .. ':' .. old['code'])
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3])
return 1
"#,
    )
});

/// KEYS: link. ARGV: current record, next record.
static UPDATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
"#,
    )
});

fn to_json(link: &LinkRecord) -> StoreResult<String> {
    serde_json::to_string(link).map_err(|e| StoreError(e.to_string()))
}

fn from_json(text: Option<String>) -> StoreResult<Option<LinkRecord>> {
    text.map(|t| serde_json::from_str(&t).map_err(|_| StoreError("redis: corrupt link record".into()))).transpose()
}

#[async_trait]
impl LinkStore for RedisStore {
    async fn create_link(&self, link: &LinkRecord) -> StoreResult<()> {
        let ttl = hush_shared::limits::LINK_TTL_SECS;
        let mut conn = self.conn.clone();
        let _: i64 = CREATE
            .key(self.key(format!("link:{}", link.id)))
            .key(self.key(format!("linkcode:{}:{}", link.user, link.code)))
            .key(self.key(format!("linkof:{}", link.requester)))
            .arg(to_json(link)?)
            .arg(link.id.to_string())
            .arg(ttl)
            .arg(&self.prefix)
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }

    async fn link(&self, id: Uuid) -> StoreResult<Option<LinkRecord>> {
        let mut conn = self.conn.clone();
        let text: Option<String> = redis::cmd("GET").arg(self.key(format!("link:{id}"))).query_async(&mut conn).await?;
        from_json(text)
    }

    async fn link_by_code(&self, user: UserId, code: &str) -> StoreResult<Option<LinkRecord>> {
        let mut conn = self.conn.clone();
        let id: Option<String> =
            redis::cmd("GET").arg(self.key(format!("linkcode:{user}:{code}"))).query_async(&mut conn).await?;
        match id.and_then(|id| id.parse::<Uuid>().ok()) {
            Some(id) => self.link(id).await,
            None => Ok(None),
        }
    }

    async fn update_link(&self, current: &LinkRecord, next: &LinkRecord) -> StoreResult<bool> {
        let mut conn = self.conn.clone();
        let changed: i64 = UPDATE
            .key(self.key(format!("link:{}", current.id)))
            .arg(to_json(current)?)
            .arg(to_json(next)?)
            .invoke_async(&mut conn)
            .await?;
        Ok(changed == 1)
    }

    async fn delete_link(&self, link: &LinkRecord) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let _: i64 = redis::cmd("DEL")
            .arg(self.key(format!("link:{}", link.id)))
            .arg(self.key(format!("linkcode:{}:{}", link.user, link.code)))
            .arg(self.key(format!("linkof:{}", link.requester)))
            .arg(self.key(format!("linkhist:{}", link.id)))
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    async fn put_history_chunk(&self, link: Uuid, index: u32, chunk: &str) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let key = self.key(format!("linkhist:{link}"));
        let _: () = redis::pipe()
            .cmd("HSET")
            .arg(&key)
            .arg(index)
            .arg(chunk)
            .ignore()
            .cmd("EXPIRE")
            .arg(&key)
            .arg(hush_shared::limits::LINK_TTL_SECS)
            .ignore()
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    async fn history_chunk(&self, link: Uuid, index: u32) -> StoreResult<Option<String>> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("HGET").arg(self.key(format!("linkhist:{link}"))).arg(index).query_async(&mut conn).await?)
    }
}
