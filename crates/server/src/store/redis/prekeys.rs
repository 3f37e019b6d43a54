//! [`PrekeyStore`] on Redis: one hash per device (`prekeys:{user}:{device}`, key id →
//! public key). Adding and taking are scripts, so a key is handed out exactly once even
//! to fetches on different server nodes at the same moment.

use async_trait::async_trait;
use hush_shared::{DeviceId, UserId};
use redis::Script;

use super::RedisStore;
use crate::store::{PrekeyStore, PrekeysAdded, StoreError, StoreResult};

/// KEYS[1]: the pool. ARGV: max stored, then id, key pairs.
/// Returns {n} when stored (n = pool size), {-1, id} when an id is taken, {-2} when full.
const ADD: &str = r#"
local count = (#ARGV - 1) / 2
local stored = redis.call('HLEN', KEYS[1])
if stored + count > tonumber(ARGV[1]) then return {-2} end
for i = 0, count - 1 do
  if redis.call('HEXISTS', KEYS[1], ARGV[2 + 2 * i]) == 1 then return {-1, tonumber(ARGV[2 + 2 * i])} end
end
for i = 0, count - 1 do
  redis.call('HSET', KEYS[1], ARGV[2 + 2 * i], ARGV[3 + 2 * i])
end
return {stored + count}
"#;

/// KEYS[1]: the pool. Removes and returns {id, key} of the lowest id, or nil when empty.
const TAKE: &str = r#"
local ids = redis.call('HKEYS', KEYS[1])
if #ids == 0 then return false end
local lowest = tonumber(ids[1])
for i = 2, #ids do
  local id = tonumber(ids[i])
  if id < lowest then lowest = id end
end
local key = redis.call('HGET', KEYS[1], tostring(lowest))
redis.call('HDEL', KEYS[1], tostring(lowest))
return {lowest, key}
"#;

impl RedisStore {
    fn pool(&self, user: UserId, device: DeviceId) -> String {
        self.key(format!("prekeys:{user}:{device}"))
    }
}

#[async_trait]
impl PrekeyStore for RedisStore {
    async fn add_prekeys(
        &self,
        user: UserId,
        device: DeviceId,
        keys: &[(u32, String)],
        max_stored: u32,
    ) -> StoreResult<PrekeysAdded> {
        let script = Script::new(ADD);
        let mut invocation = script.prepare_invoke();
        invocation.key(self.pool(user, device)).arg(max_stored);
        for (id, key) in keys {
            invocation.arg(*id).arg(key);
        }
        let mut conn = self.conn.clone();
        let answer: Vec<i64> = invocation.invoke_async(&mut conn).await?;
        match answer.as_slice() {
            [-2] => Ok(PrekeysAdded::Full),
            [-1, id] => Ok(PrekeysAdded::IdTaken(*id as u32)),
            [n] if *n >= 0 => Ok(PrekeysAdded::Stored(*n as u32)),
            other => Err(StoreError(format!("unexpected answer of the prekey script: {other:?}"))),
        }
    }

    async fn count_prekeys(&self, user: UserId, device: DeviceId) -> StoreResult<u32> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("HLEN").arg(self.pool(user, device)).query_async(&mut conn).await?)
    }

    async fn take_prekey(&self, user: UserId, device: DeviceId) -> StoreResult<Option<(u32, String)>> {
        let mut conn = self.conn.clone();
        Ok(Script::new(TAKE).key(self.pool(user, device)).invoke_async(&mut conn).await?)
    }

    async fn clear_prekeys(&self, user: UserId, device: DeviceId) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let _: i64 = redis::cmd("DEL").arg(self.pool(user, device)).query_async(&mut conn).await?;
        Ok(())
    }
}
