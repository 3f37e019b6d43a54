//! [`RateLimitStore`] on Redis: one sorted set of hit times per bucket, checked and updated
//! by one script so every node shares the same buckets.

use async_trait::async_trait;
use redis::Script;

use super::RedisStore;
use crate::store::{RateLimitStore, RateRule, StoreResult};

/// KEYS: one per rule. ARGV: now, member nonce, then (limit, window) per rule.
/// Returns 0 when allowed (and recorded), else the seconds to wait.
const HIT: &str = r#"
local now = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[1 + 2 * i])
  local window = tonumber(ARGV[2 + 2 * i])
  local hits = redis.call('ZREVRANGEBYSCORE', key, '+inf', '(' .. (now - window), 'WITHSCORES', 'LIMIT', limit - 1, 1)
  if #hits > 0 then
    local w = tonumber(hits[2]) + window - now
    if w < 1 then w = 1 end
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
local longest = {}
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[2 + 2 * i])
  if (longest[key] or 0) < window then longest[key] = window end
end
for key, window in pairs(longest) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  redis.call('ZADD', key, now, ARGV[2] .. ':' .. key)
  redis.call('EXPIRE', key, window)
end
return 0
"#;

#[async_trait]
impl RateLimitStore for RedisStore {
    async fn hit(&self, rules: &[RateRule], now: i64) -> StoreResult<Result<(), u64>> {
        let script = Script::new(HIT);
        let mut invocation = script.prepare_invoke();
        invocation.arg(now).arg(uuid::Uuid::new_v4().to_string());
        for rule in rules {
            invocation.key(self.key(format!("rl:{}", rule.key))).arg(rule.limit).arg(rule.window_secs);
        }
        let mut conn = self.conn.clone();
        let wait: i64 = invocation.invoke_async(&mut conn).await?;
        Ok(if wait > 0 { Err(wait as u64) } else { Ok(()) })
    }
}
