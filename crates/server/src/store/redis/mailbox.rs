//! [`MailboxStore`] on Redis.
//!
//! Per recipient: `mq:{user}` (sorted set, score = sequence, member = message id),
//! `md:{user}` (hash id → `{"f": sender, "d": sender's device, "e": envelope base64url,
//! "a": stored_at}`; `d` is absent for messages queued before crypto v2),
//! `mseq:{user}` (sequence). Per sender and id: `seen:{sender}:{id}` (dedup of resends,
//! expiring with the message lifetime). `mexp` (sorted set by stored_at of
//! `recipient|id`) drives expiry. Receipts: `rq:{user}`, `rd:{user}`, `rseq:{user}` alike.

use std::sync::LazyLock;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hush_shared::ws::{MessageId, ReceiptId, ReceiptKind};
use hush_shared::{DeviceId, UserId};
use redis::Script;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::RedisStore;
use crate::store::{
    Enqueued, MailboxPolicy, MailboxStore, Outgoing, StoreError, StoreResult, StoredMessage, StoredReceipt,
};

static ENQUEUE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local at = redis.call('GET', KEYS[1])
if at then return {0, tonumber(at)} end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return {-1, 0} end
local seq = redis.call('INCR', KEYS[4])
redis.call('ZADD', KEYS[2], seq, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[5])
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[6])
return {1, tonumber(ARGV[3])}
"#,
    )
});

static FETCH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for i = 1, #ids, 2 do
  local payload = redis.call('HGET', KEYS[2], ids[i])
  if payload then
    table.insert(out, ids[i]); table.insert(out, ids[i + 1]); table.insert(out, payload)
  end
end
return out
"#,
    )
});

/// Shared Lua: queue one receipt for `user`.
const RECEIPT_FN: &str = r#"
local function receipt(prefix, user, rid, payload)
  local seq = redis.call('INCR', prefix .. ':rseq:' .. user)
  redis.call('ZADD', prefix .. ':rq:' .. user, seq, rid)
  redis.call('HSET', prefix .. ':rd:' .. user, rid, payload)
end
"#;

/// Deletes delivered (or unopenable) messages and queues a receipt for each sender.
/// ARGV: prefix, recipient, now, receipt kind, forget (1: also drop the sender's dedup key
/// so the message can be stored again), then (message id, receipt id) pairs.
static ACK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"{RECEIPT_FN}
local senders = {{}}
for i = 6, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call('ZREM', KEYS[1], id) == 1 then
    local payload = redis.call('HGET', KEYS[2], id)
    redis.call('HDEL', KEYS[2], id)
    redis.call('ZREM', KEYS[3], ARGV[2] .. '|' .. id)
    if payload then
      local sender = cjson.decode(payload)['f']
      if ARGV[5] == '1' then redis.call('DEL', ARGV[1] .. ':seen:' .. sender .. ':' .. id) end
      receipt(ARGV[1], sender, ARGV[i + 1], cjson.encode({{k = ARGV[4], m = id, p = ARGV[2], a = tonumber(ARGV[3])}}))
      table.insert(senders, sender)
    end
  end
end
return senders
"#
    ))
});

static ADD_RECEIPTS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"{RECEIPT_FN}
for i = 3, #ARGV, 2 do receipt(ARGV[1], ARGV[2], ARGV[i], ARGV[i + 1]) end
return 1
"#
    ))
});

static ACK_RECEIPTS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
for i = 1, #ARGV do
  redis.call('ZREM', KEYS[1], ARGV[i])
  redis.call('HDEL', KEYS[2], ARGV[i])
end
return 1
"#,
    )
});

static EXPIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"{RECEIPT_FN}
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[4]))
local senders = {{}}
for i, member in ipairs(members) do
  redis.call('ZREM', KEYS[1], member)
  local sep = string.find(member, '|', 1, true)
  local to = string.sub(member, 1, sep - 1)
  local id = string.sub(member, sep + 1)
  if redis.call('ZREM', ARGV[1] .. ':mq:' .. to, id) == 1 then
    local payload = redis.call('HGET', ARGV[1] .. ':md:' .. to, id)
    redis.call('HDEL', ARGV[1] .. ':md:' .. to, id)
    if payload then
      local sender = cjson.decode(payload)['f']
      receipt(ARGV[1], sender, ARGV[4 + i], cjson.encode({{k = 'expired', m = id, p = to, a = tonumber(ARGV[3])}}))
      table.insert(senders, sender)
    end
  end
end
return senders
"#
    ))
});

#[derive(Serialize, Deserialize)]
struct MessagePayload {
    f: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    d: Option<DeviceId>,
    e: String,
    a: i64,
}

#[derive(Serialize, Deserialize)]
struct ReceiptPayload {
    k: ReceiptKind,
    m: MessageId,
    p: UserId,
    a: i64,
}

fn corrupt(what: &str) -> StoreError {
    StoreError(format!("redis: corrupt {what}"))
}

impl RedisStore {
    /// Runs `FETCH` on a queue (`{q}:{user}` sorted set, `{d}:{user}` hash): up to `limit`
    /// `(id, seq, payload)` after `after`, in order.
    async fn fetch_queue(
        &self,
        queue: &str,
        data: &str,
        user: UserId,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<(String, i64, String)>> {
        let mut conn = self.conn.clone();
        let raw: Vec<String> = FETCH
            .key(self.key(format!("{queue}:{user}")))
            .key(self.key(format!("{data}:{user}")))
            .arg(after)
            .arg(limit)
            .invoke_async(&mut conn)
            .await?;
        Ok(raw
            .chunks_exact(3)
            .map(|c| (c[0].clone(), c[1].parse::<f64>().unwrap_or(0.0) as i64, c[2].clone()))
            .collect())
    }
}

impl RedisStore {
    /// Deletes messages of `to` and queues a `kind` receipt for each sender (`ACK`); a
    /// `resend` also forgets the id, so the sender can store it again.
    async fn take_messages(
        &self,
        to: UserId,
        ids: &[MessageId],
        now: i64,
        kind: ReceiptKind,
    ) -> StoreResult<Vec<UserId>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let (kind, forget) = match kind {
            ReceiptKind::Resend => ("resend", 1),
            _ => ("delivered", 0),
        };
        let mut invocation = ACK.prepare_invoke();
        invocation.key(self.key(format!("mq:{to}"))).key(self.key(format!("md:{to}"))).key(self.key("mexp"));
        invocation.arg(&self.prefix).arg(to.to_string()).arg(now).arg(kind).arg(forget);
        for id in ids {
            invocation.arg(id.to_string()).arg(Uuid::now_v7().to_string());
        }
        let mut conn = self.conn.clone();
        let senders: Vec<String> = invocation.invoke_async(&mut conn).await?;
        Ok(parse_users(senders))
    }
}

/// Sorted user ids, one per entry of `raw`.
fn parse_users(raw: Vec<String>) -> Vec<UserId> {
    let mut users: Vec<UserId> = raw.iter().filter_map(|s| s.parse().ok()).collect();
    users.sort();
    users
}

/// Sorted distinct user ids.
fn parse_distinct_users(raw: Vec<String>) -> Vec<UserId> {
    let mut users = parse_users(raw);
    users.dedup();
    users
}

#[async_trait]
impl MailboxStore for RedisStore {
    /// One round trip for the batch: `SCRIPT LOAD` (so a restarted Redis has the script)
    /// followed by one `ENQUEUE` per message, pipelined in order on one connection.
    async fn enqueue_many(
        &self,
        from: UserId,
        from_device: DeviceId,
        messages: Vec<Outgoing>,
        now: i64,
        policy: MailboxPolicy,
    ) -> StoreResult<Vec<Enqueued>> {
        let mut invocations = Vec::with_capacity(messages.len());
        for m in &messages {
            let payload =
                MessagePayload { f: from, d: Some(from_device), e: URL_SAFE_NO_PAD.encode(&m.envelope), a: now };
            let payload = serde_json::to_string(&payload).map_err(|e| StoreError(e.to_string()))?;
            let (to, id) = (m.to, m.id);
            let mut invocation = ENQUEUE.prepare_invoke();
            invocation
                .key(self.key(format!("seen:{from}:{id}")))
                .key(self.key(format!("mq:{to}")))
                .key(self.key(format!("md:{to}")))
                .key(self.key(format!("mseq:{to}")))
                .key(self.key("mexp"))
                .arg(id.to_string())
                .arg(payload)
                .arg(now)
                .arg(policy.max_messages)
                .arg(policy.ttl_secs.max(1))
                .arg(format!("{to}|{id}"));
            invocations.push(invocation);
        }
        let mut pipe = redis::pipe();
        pipe.load_script(&ENQUEUE).ignore();
        for invocation in &invocations {
            pipe.invoke_script(invocation);
        }
        let mut conn = self.conn.clone();
        let outcomes: Vec<(i64, i64)> = pipe.query_async(&mut conn).await?;
        Ok(outcomes
            .into_iter()
            .map(|(outcome, at)| match outcome {
                1 => Enqueued::Stored { at },
                0 => Enqueued::Duplicate { at },
                _ => Enqueued::MailboxFull,
            })
            .collect())
    }

    async fn fetch_messages(&self, to: UserId, after: i64, limit: usize) -> StoreResult<Vec<StoredMessage>> {
        self.fetch_queue("mq", "md", to, after, limit)
            .await?
            .into_iter()
            .map(|(id, seq, payload)| {
                let p: MessagePayload = serde_json::from_str(&payload).map_err(|_| corrupt("message"))?;
                Ok(StoredMessage {
                    seq,
                    id: id.parse().map_err(|_| corrupt("message id"))?,
                    from: p.f,
                    from_device: p.d.unwrap_or(DeviceId(Uuid::nil())),
                    envelope: URL_SAFE_NO_PAD.decode(p.e).map_err(|_| corrupt("envelope"))?,
                    stored_at: p.a,
                })
            })
            .collect()
    }

    async fn ack_messages(&self, to: UserId, ids: &[MessageId], now: i64) -> StoreResult<Vec<UserId>> {
        self.take_messages(to, ids, now, ReceiptKind::Delivered).await
    }

    async fn retry_messages(&self, to: UserId, ids: &[MessageId], now: i64) -> StoreResult<Vec<UserId>> {
        self.take_messages(to, ids, now, ReceiptKind::Resend).await
    }

    async fn add_receipts(
        &self,
        user: UserId,
        peer: UserId,
        kind: ReceiptKind,
        message_ids: &[MessageId],
        now: i64,
    ) -> StoreResult<()> {
        if message_ids.is_empty() {
            return Ok(());
        }
        let mut invocation = ADD_RECEIPTS.prepare_invoke();
        invocation.arg(&self.prefix).arg(user.to_string());
        for id in message_ids {
            let payload = serde_json::to_string(&ReceiptPayload { k: kind, m: *id, p: peer, a: now })
                .map_err(|e| StoreError(e.to_string()))?;
            invocation.arg(Uuid::now_v7().to_string()).arg(payload);
        }
        let mut conn = self.conn.clone();
        let _: i64 = invocation.invoke_async(&mut conn).await?;
        Ok(())
    }

    async fn fetch_receipts(&self, user: UserId, after: i64, limit: usize) -> StoreResult<Vec<StoredReceipt>> {
        self.fetch_queue("rq", "rd", user, after, limit)
            .await?
            .into_iter()
            .map(|(id, seq, payload)| {
                let p: ReceiptPayload = serde_json::from_str(&payload).map_err(|_| corrupt("receipt"))?;
                Ok(StoredReceipt {
                    seq,
                    id: id.parse().map_err(|_| corrupt("receipt id"))?,
                    kind: p.k,
                    message_id: p.m,
                    peer: p.p,
                    at: p.a,
                })
            })
            .collect()
    }

    async fn ack_receipts(&self, user: UserId, ids: &[ReceiptId]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut invocation = ACK_RECEIPTS.prepare_invoke();
        invocation.key(self.key(format!("rq:{user}"))).key(self.key(format!("rd:{user}")));
        for id in ids {
            invocation.arg(id.to_string());
        }
        let mut conn = self.conn.clone();
        let _: i64 = invocation.invoke_async(&mut conn).await?;
        Ok(())
    }

    async fn expire(&self, now: i64, ttl_secs: i64, limit: usize) -> StoreResult<Vec<UserId>> {
        let mut invocation = EXPIRE.prepare_invoke();
        invocation.key(self.key("mexp")).arg(&self.prefix).arg(now - ttl_secs).arg(now).arg(limit);
        for _ in 0..limit {
            invocation.arg(Uuid::now_v7().to_string());
        }
        let mut conn = self.conn.clone();
        let senders: Vec<String> = invocation.invoke_async(&mut conn).await?;
        Ok(parse_distinct_users(senders))
    }

    async fn depth(&self, to: UserId) -> StoreResult<u64> {
        let mut conn = self.conn.clone();
        let n: u64 = redis::cmd("ZCARD").arg(self.key(format!("mq:{to}"))).query_async(&mut conn).await?;
        Ok(n)
    }

    async fn total_depth(&self) -> StoreResult<u64> {
        // `mexp` holds every waiting message once, for expiry.
        let mut conn = self.conn.clone();
        let n: u64 = redis::cmd("ZCARD").arg(self.key("mexp")).query_async(&mut conn).await?;
        Ok(n)
    }
}
