//! [`MailboxStore`] on Redis: one mailbox per device.
//!
//! A mailbox is named `{user}:{device}` (its *box*). Per box: `mq:{box}` (sorted set,
//! score = sequence, member = `{sender}/{id}`: ids are chosen by senders, so two senders'
//! messages may share one; members queued before that are the bare id), `md:{box}` (hash
//! member → `{"f": sender, "d": sender's device, "t": addressee, "e": envelope base64url,
//! "a": stored_at}`), `mseq:{box}`
//! (sequence), and for receipts `rq:{box}`, `rd:{box}`, `rseq:{box}` alike. `mbx:{user}`
//! (set) lists the person's devices with a mailbox, `mbseen:{user}` (hash device → Unix
//! seconds) when each was last connected. Per message: `mid:{sender}:{id}` (hash
//! `a` stored_at, `r` recipient, `s` state bits 1 delivered, 2 read, 4 expired), expiring
//! with the message lifetime — the dedup of resends and the roll-up of receipts per person;
//! `rw:{sender}:{id}` (set of boxes that asked for the message again with `retry`). `mexp`
//! (sorted set by stored_at of `{box}|{member}`) drives expiry.
//!
//! Before devices had mailboxes of their own the keys were per person (`mq:{user}`, …,
//! `seen:{sender}:{id}`); the first device's mailbox to open takes those over.

use std::sync::LazyLock;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hush_shared::ws::{MessageId, ReceiptKind};
use hush_shared::{DeviceId, UserId};
use redis::Script;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::RedisStore;
use crate::store::{
    Enqueued, Mailbox, MailboxPolicy, MailboxStore, MessageRef, Outgoing, RECEIPTS_KEPT_PER_MAILBOX, ReceiptRef,
    StoreError, StoreResult, StoredMessage, StoredReceipt,
};

/// Shared Lua, prepended to the scripts that need it:
/// - `member_of(sender, id)` names a message in a queue, `id_of(member)` reads the id back
///   (also from a bare id, as queued before members named the sender);
/// - `put(p, box, member, payload, at)` stores one copy in a mailbox;
/// - `take(p, box, sender, id)` takes `sender`'s message `id` out of a mailbox (also one
///   queued under the bare id before members named the sender: `legacy_member` finds
///   that), `take_member` by member; `drop(p, box, sender, id)` and `drop_member` take it
///   out without reading it: true when it was there (an ack needs nothing from the copy,
///   and reading it made Lua hash and decode the whole envelope: BENCHMARKS.md, "Acks on
///   Redis");
/// - `receipt(p, user, only, but, rid, payload)` queues a receipt in every mailbox of
///   `user` (only `only`'s when not empty, skipping `but`'s); a mailbox keeps the newest
///   [`RECEIPTS_KEPT_PER_MAILBOX`], the oldest beyond go;
/// - `mark(p, sender, id, bit, unless)` sets a state bit of a message unless it or
///   `unless` is set: true when this call set it (the receipt is due). A message with no
///   record (stored before the record existed) counts as unmarked.
const SHARED: &str = r#"
local function member_of(sender, id) return sender .. '/' .. id end
local function id_of(m)
  local slash = string.find(m, '/', 1, true)
  if slash then return string.sub(m, slash + 1) end
  return m
end
local function put(p, box, member, payload, at)
  local seq = redis.call('INCR', p .. ':mseq:' .. box)
  redis.call('ZADD', p .. ':mq:' .. box, seq, member)
  redis.call('HSET', p .. ':md:' .. box, member, payload)
  redis.call('ZADD', p .. ':mexp', at, box .. '|' .. member)
end
local function receipt(p, user, only, but, rid, payload)
  local devices
  if only ~= '' then
    devices = {}
    if redis.call('SISMEMBER', p .. ':mbx:' .. user, only) == 1 then devices = {only} end
  else
    devices = redis.call('SMEMBERS', p .. ':mbx:' .. user)
  end
  for _, d in ipairs(devices) do
    if d ~= but then
      local box = user .. ':' .. d
      local seq = redis.call('INCR', p .. ':rseq:' .. box)
      redis.call('ZADD', p .. ':rq:' .. box, seq, rid)
      redis.call('HSET', p .. ':rd:' .. box, rid, payload)
      if redis.call('ZCARD', p .. ':rq:' .. box) > RECEIPTS_KEPT then
        local oldest = redis.call('ZPOPMIN', p .. ':rq:' .. box)
        redis.call('HDEL', p .. ':rd:' .. box, oldest[1])
      end
    end
  end
end
local function mark(p, sender, id, b, unless)
  local record = p .. ':mid:' .. sender .. ':' .. id
  local state = redis.call('HGET', record, 's')
  if not state then return true end
  state = tonumber(state)
  if bit.band(state, bit.bor(b, unless)) ~= 0 then return false end
  redis.call('HSET', record, 's', bit.bor(state, b))
  return true
end
local function drop_member(p, box, member)
  if redis.call('ZREM', p .. ':mq:' .. box, member) == 0 then return false end
  redis.call('HDEL', p .. ':md:' .. box, member)
  redis.call('ZREM', p .. ':mexp', box .. '|' .. member)
  return true
end
local function take_member(p, box, member)
  local payload = redis.call('HGET', p .. ':md:' .. box, member)
  if drop_member(p, box, member) and payload then return cjson.decode(payload) end
  return nil
end
local function legacy_member(p, box, sender, id)
  local legacy = redis.call('HGET', p .. ':md:' .. box, id)
  if legacy and cjson.decode(legacy)['f'] == sender then return id end
  return nil
end
local function drop(p, box, sender, id)
  if drop_member(p, box, member_of(sender, id)) then return true end
  local legacy = legacy_member(p, box, sender, id)
  return legacy ~= nil and drop_member(p, box, legacy)
end
local function take(p, box, sender, id)
  local m = take_member(p, box, member_of(sender, id))
  if m then return m end
  local legacy = legacy_member(p, box, sender, id)
  if legacy then return take_member(p, box, legacy) end
  return nil
end
"#;

/// What every script starts with: the receipt quota, then [`SHARED`].
static PRELUDE: LazyLock<String> =
    LazyLock::new(|| format!("local RECEIPTS_KEPT = {RECEIPTS_KEPT_PER_MAILBOX}\n{SHARED}"));

/// One message. ARGV: prefix, sender, id, addressee, now, max per mailbox, ttl, then
/// (box, payload) per copy. Returns {1, at} stored (or stored again for devices that asked
/// with `retry`), {0, at} duplicate, {-1, 0} a mailbox full.
static ENQUEUE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"{}
local p, sender, id = ARGV[1], ARGV[2], ARGV[3]
local record = p .. ':mid:' .. sender .. ':' .. id
local at = redis.call('HGET', record, 'a')
if at then
  local wish = p .. ':rw:' .. sender .. ':' .. id
  local resent = 0
  for i = 8, #ARGV, 2 do
    local box = ARGV[i]
    local colon = string.find(box, ':', 1, true)
    local listed = redis.call('SISMEMBER', p .. ':mbx:' .. string.sub(box, 1, colon - 1), string.sub(box, colon + 1))
    if redis.call('SREM', wish, box) == 1 and listed == 1 then
      put(p, ARGV[i], member_of(sender, id), ARGV[i + 1], tonumber(ARGV[5]))
      resent = 1
    end
  end
  return {{resent, tonumber(at)}}
end
local legacy = redis.call('GET', p .. ':seen:' .. sender .. ':' .. id)
if legacy then return {{0, tonumber(legacy)}} end
for i = 8, #ARGV, 2 do
  if redis.call('ZCARD', p .. ':mq:' .. ARGV[i]) >= tonumber(ARGV[6]) then return {{-1, 0}} end
end
for i = 8, #ARGV, 2 do put(p, ARGV[i], member_of(sender, id), ARGV[i + 1], tonumber(ARGV[5])) end
redis.call('HSET', record, 'a', ARGV[5], 'r', ARGV[4], 's', 0)
redis.call('EXPIRE', record, ARGV[7])
return {{1, tonumber(ARGV[5])}}
"#,
        *PRELUDE
    ))
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

/// `ack`. ARGV: prefix, user, device, now, then (sender, message id, receipt id) triples.
/// Returns the senders told.
static ACK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"{}
local p, user, device, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local box = user .. ':' .. device
local told = {{}}
for i = 5, #ARGV, 3 do
  local sender, id = ARGV[i], ARGV[i + 1]
  if drop(p, box, sender, id) and sender ~= user and mark(p, sender, id, 1, 4) then
    receipt(p, sender, '', '', ARGV[i + 2], cjson.encode({{k = 'delivered', m = id, p = user, a = now}}))
    table.insert(told, sender)
  end
end
return told
"#,
        *PRELUDE
    ))
});

/// `retry`. ARGV: prefix, user, device, now, then (sender, message id, receipt id) triples. The wish
/// lives as long as the message's record; a message stored before records existed is
/// forgotten instead (its only device asked), so the resend is stored as new. Returns the
/// senders told.
static RETRY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"{}
local p, user, device, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local box = user .. ':' .. device
local told = {{}}
for i = 5, #ARGV, 3 do
  local id = ARGV[i + 1]
  local m = take(p, box, ARGV[i], id)
  if m then
    local ttl = redis.call('TTL', p .. ':mid:' .. m['f'] .. ':' .. id)
    if ttl > 0 then
      local wish = p .. ':rw:' .. m['f'] .. ':' .. id
      redis.call('SADD', wish, box)
      redis.call('EXPIRE', wish, ttl)
    else
      redis.call('DEL', p .. ':seen:' .. m['f'] .. ':' .. id)
    end
    local payload = cjson.encode({{k = 'resend', m = id, p = user, q = device, a = now}})
    receipt(p, m['f'], m['d'] or '', '', ARGV[i + 2], payload)
    table.insert(told, m['f'])
  end
end
return told
"#,
        *PRELUDE
    ))
});

/// `read`. ARGV: prefix, reader, reader's device, sender, now, then (message id, receipt id)
/// pairs. Returns {told...}.
static READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"{}
local p, reader, device, sender, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local told = {{}}
for i = 6, #ARGV, 2 do
  local id = ARGV[i]
  local recipient = redis.call('HGET', p .. ':mid:' .. sender .. ':' .. id, 'r')
  local legacy = not recipient and redis.call('EXISTS', p .. ':seen:' .. sender .. ':' .. id) == 1
  if (recipient == reader and mark(p, sender, id, 2, 0)) or legacy then
    receipt(p, sender, '', '', ARGV[i + 1], cjson.encode({{k = 'read', m = id, p = reader, a = now}}))
    receipt(p, reader, '', device, ARGV[i + 1], cjson.encode({{k = 'read_elsewhere', m = id, p = sender, a = now}}))
    table.insert(told, sender)
    table.insert(told, reader)
  end
end
return told
"#,
        *PRELUDE
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

/// ARGV: prefix, cutoff, now, limit, then `limit` receipt ids. Returns the senders told.
static EXPIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"{}
local p, now = ARGV[1], tonumber(ARGV[3])
local members = redis.call('ZRANGEBYSCORE', p .. ':mexp', '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[4]))
local told = {{}}
for i, member in ipairs(members) do
  local sep = string.find(member, '|', 1, true)
  local box = string.sub(member, 1, sep - 1)
  local key = string.sub(member, sep + 1)
  local id = id_of(key)
  local owner = box
  local colon = string.find(box, ':', 1, true)
  if colon then owner = string.sub(box, 1, colon - 1) end
  redis.call('ZREM', p .. ':mexp', member)
  local m = take_member(p, box, key)
  if m and (m['t'] or owner) == owner and mark(p, m['f'], id, 4, 1) then
    receipt(p, m['f'], '', '', ARGV[4 + i], cjson.encode({{k = 'expired', m = id, p = owner, a = now}}))
    table.insert(told, m['f'])
  end
end
return told
"#,
        *PRELUDE
    ))
});

/// `open_mailbox`. ARGV: prefix, user, device. Lists the mailbox and takes over what was
/// queued for the person before devices had mailboxes.
static OPEN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"{}
local p, user, device = ARGV[1], ARGV[2], ARGV[3]
local box = user .. ':' .. device
redis.call('SADD', p .. ':mbx:' .. user, device)
local old = redis.call('ZRANGE', p .. ':mq:' .. user, 0, -1)
for _, id in ipairs(old) do
  local payload = redis.call('HGET', p .. ':md:' .. user, id)
  local at = redis.call('ZSCORE', p .. ':mexp', user .. '|' .. id)
  redis.call('ZREM', p .. ':mexp', user .. '|' .. id)
  if payload then put(p, box, id, payload, tonumber(at or cjson.decode(payload)['a'])) end
end
local receipts = redis.call('ZRANGE', p .. ':rq:' .. user, 0, -1)
for _, rid in ipairs(receipts) do
  local payload = redis.call('HGET', p .. ':rd:' .. user, rid)
  if payload then
    local seq = redis.call('INCR', p .. ':rseq:' .. box)
    redis.call('ZADD', p .. ':rq:' .. box, seq, rid)
    redis.call('HSET', p .. ':rd:' .. box, rid, payload)
  end
end
redis.call('DEL', p .. ':mq:' .. user, p .. ':md:' .. user, p .. ':mseq:' .. user)
redis.call('DEL', p .. ':rq:' .. user, p .. ':rd:' .. user, p .. ':rseq:' .. user)
return 1
"#,
        *PRELUDE
    ))
});

/// `purge_between`. ARGV: prefix, a, b: in every mailbox of each, the messages from the
/// other and the receipts about the other go.
static PURGE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local p = ARGV[1]
for _, pair in ipairs({{ARGV[2], ARGV[3]}, {ARGV[3], ARGV[2]}}) do
  local owner, other = pair[1], pair[2]
  for _, device in ipairs(redis.call('SMEMBERS', p .. ':mbx:' .. owner)) do
    local box = owner .. ':' .. device
    local messages = redis.call('HGETALL', p .. ':md:' .. box)
    for i = 1, #messages, 2 do
      if cjson.decode(messages[i + 1])['f'] == other then
        redis.call('ZREM', p .. ':mq:' .. box, messages[i])
        redis.call('HDEL', p .. ':md:' .. box, messages[i])
        redis.call('ZREM', p .. ':mexp', box .. '|' .. messages[i])
      end
    end
    local receipts = redis.call('HGETALL', p .. ':rd:' .. box)
    for i = 1, #receipts, 2 do
      if cjson.decode(receipts[i + 1])['p'] == other then
        redis.call('ZREM', p .. ':rq:' .. box, receipts[i])
        redis.call('HDEL', p .. ':rd:' .. box, receipts[i])
      end
    end
  end
end
return 1
"#,
    )
});

/// `mark_seen`. ARGV: prefix, user, device, time: recorded only for a listed mailbox.
static SEEN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local p, user, device = ARGV[1], ARGV[2], ARGV[3]
if redis.call('SISMEMBER', p .. ':mbx:' .. user, device) == 0 then return 0 end
redis.call('HSET', p .. ':mbseen:' .. user, device, ARGV[4])
return 1
"#,
    )
});

/// `close_mailbox`. ARGV: prefix, user, device.
static CLOSE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local p, user, device = ARGV[1], ARGV[2], ARGV[3]
local box = user .. ':' .. device
redis.call('SREM', p .. ':mbx:' .. user, device)
redis.call('HDEL', p .. ':mbseen:' .. user, device)
for _, id in ipairs(redis.call('ZRANGE', p .. ':mq:' .. box, 0, -1)) do
  redis.call('ZREM', p .. ':mexp', box .. '|' .. id)
end
redis.call('DEL', p .. ':mq:' .. box, p .. ':md:' .. box, p .. ':mseq:' .. box)
redis.call('DEL', p .. ':rq:' .. box, p .. ':rd:' .. box, p .. ':rseq:' .. box)
return 1
"#,
    )
});

#[derive(Serialize, Deserialize)]
struct MessagePayload {
    f: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    d: Option<DeviceId>,
    /// Absent on messages queued before devices had mailboxes: then the mailbox's owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<UserId>,
    e: String,
    a: i64,
}

#[derive(Serialize, Deserialize)]
struct ReceiptPayload {
    k: ReceiptKind,
    m: MessageId,
    p: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    q: Option<DeviceId>,
    a: i64,
}

fn corrupt(what: &str) -> StoreError {
    StoreError(format!("redis: corrupt {what}"))
}

/// A message's arguments for `ACK` and `RETRY`.
fn sender_and_id(message: &MessageRef) -> [String; 2] {
    [message.sender.to_string(), message.id.to_string()]
}

/// The message id in a queue member (`{sender}/{id}`, or the bare id of older ones).
fn member_id(member: &str) -> &str {
    member.rsplit('/').next().unwrap_or(member)
}

/// A mailbox's name in keys.
fn box_name(mailbox: Mailbox) -> String {
    format!("{}:{}", mailbox.user, mailbox.device)
}

/// Sorted distinct user ids.
fn parse_users(raw: Vec<String>) -> Vec<UserId> {
    let mut users: Vec<UserId> = raw.iter().filter_map(|s| s.parse().ok()).collect();
    users.sort();
    users.dedup();
    users
}

impl RedisStore {
    /// Runs `FETCH` on a queue (`{q}:{box}` sorted set, `{d}:{box}` hash): up to `limit`
    /// `(id, seq, payload)` after `after`, in order.
    async fn fetch_queue(
        &self,
        queue: &str,
        data: &str,
        mailbox: Mailbox,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<(String, i64, String)>> {
        let mut conn = self.conn.clone();
        let name = box_name(mailbox);
        let raw: Vec<String> = FETCH
            .key(self.key(format!("{queue}:{name}")))
            .key(self.key(format!("{data}:{name}")))
            .arg(after)
            .arg(limit)
            .invoke_async(&mut conn)
            .await?;
        Ok(raw
            .chunks_exact(3)
            .map(|c| (c[0].clone(), c[1].parse::<f64>().unwrap_or(0.0) as i64, c[2].clone()))
            .collect())
    }

    /// Runs one of the per-message scripts (`ack`, `retry`, `read`): ARGV is `head`, then
    /// each message's arguments followed by a fresh receipt id. Returns the people told.
    async fn per_message<const N: usize>(
        &self,
        script: &Script,
        head: &[String],
        messages: impl ExactSizeIterator<Item = [String; N]>,
    ) -> StoreResult<Vec<UserId>> {
        if messages.len() == 0 {
            return Ok(vec![]);
        }
        let mut invocation = script.prepare_invoke();
        invocation.arg(&self.prefix);
        for arg in head {
            invocation.arg(arg);
        }
        for message in messages {
            for arg in message {
                invocation.arg(arg);
            }
            invocation.arg(Uuid::now_v7().to_string());
        }
        let mut conn = self.conn.clone();
        let told: Vec<String> = invocation.invoke_async(&mut conn).await?;
        Ok(parse_users(told))
    }

    /// Runs `OPEN`, `CLOSE` or `SEEN` for a mailbox (ARGV: prefix, user, device, `extra`).
    async fn mailbox_script(&self, script: &Script, mailbox: Mailbox, extra: &[i64]) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let mut invocation = script.prepare_invoke();
        invocation.arg(&self.prefix).arg(mailbox.user.to_string()).arg(mailbox.device.to_string());
        for arg in extra {
            invocation.arg(arg);
        }
        let _: i64 = invocation.invoke_async(&mut conn).await?;
        Ok(())
    }
}

#[async_trait]
impl MailboxStore for RedisStore {
    async fn open_mailbox(&self, mailbox: Mailbox) -> StoreResult<()> {
        self.mailbox_script(&OPEN, mailbox, &[]).await
    }

    async fn close_mailbox(&self, mailbox: Mailbox) -> StoreResult<()> {
        self.mailbox_script(&CLOSE, mailbox, &[]).await
    }

    async fn purge_between(&self, a: UserId, b: UserId) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let _: i64 = PURGE.arg(&self.prefix).arg(a.to_string()).arg(b.to_string()).invoke_async(&mut conn).await?;
        Ok(())
    }

    async fn mark_seen(&self, mailbox: Mailbox, at: i64) -> StoreResult<()> {
        self.mailbox_script(&SEEN, mailbox, &[at]).await
    }

    async fn last_seen(&self, user: UserId) -> StoreResult<Vec<(DeviceId, i64)>> {
        let mut conn = self.conn.clone();
        let seen: Vec<(String, i64)> =
            redis::cmd("HGETALL").arg(self.key(format!("mbseen:{user}"))).query_async(&mut conn).await?;
        Ok(seen.into_iter().filter_map(|(device, at)| Some((device.parse().ok()?, at))).collect())
    }

    /// One round trip for the batch: `SCRIPT LOAD` (so a restarted Redis has the script)
    /// followed by one `ENQUEUE` per message, pipelined in order on one connection.
    async fn enqueue_many(
        &self,
        from: Mailbox,
        messages: Vec<Outgoing>,
        now: i64,
        policy: MailboxPolicy,
    ) -> StoreResult<Vec<Enqueued>> {
        let mut invocations = Vec::with_capacity(messages.len());
        for m in &messages {
            let mut invocation = ENQUEUE.prepare_invoke();
            invocation
                .arg(&self.prefix)
                .arg(from.user.to_string())
                .arg(m.id.to_string())
                .arg(m.to.to_string())
                .arg(now)
                .arg(policy.max_messages)
                .arg(policy.ttl_secs.max(1));
            for copy in &m.copies {
                let payload = MessagePayload {
                    f: from.user,
                    d: Some(from.device),
                    t: Some(m.to),
                    e: URL_SAFE_NO_PAD.encode(&copy.envelope),
                    a: now,
                };
                let payload = serde_json::to_string(&payload).map_err(|e| StoreError(e.to_string()))?;
                invocation.arg(box_name(copy.mailbox)).arg(payload);
            }
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

    async fn fetch_messages(&self, mailbox: Mailbox, after: i64, limit: usize) -> StoreResult<Vec<StoredMessage>> {
        self.fetch_queue("mq", "md", mailbox, after, limit)
            .await?
            .into_iter()
            .map(|(id, seq, payload)| {
                let p: MessagePayload = serde_json::from_str(&payload).map_err(|_| corrupt("message"))?;
                Ok(StoredMessage {
                    seq,
                    id: member_id(&id).parse().map_err(|_| corrupt("message id"))?,
                    from: p.f,
                    from_device: p.d.unwrap_or(DeviceId(Uuid::nil())),
                    to: p.t.unwrap_or(mailbox.user),
                    envelope: URL_SAFE_NO_PAD.decode(p.e).map_err(|_| corrupt("envelope"))?,
                    stored_at: p.a,
                })
            })
            .collect()
    }

    async fn ack_messages(&self, mailbox: Mailbox, messages: &[MessageRef], now: i64) -> StoreResult<Vec<UserId>> {
        let head = [mailbox.user.to_string(), mailbox.device.to_string(), now.to_string()];
        self.per_message(&ACK, &head, messages.iter().map(sender_and_id)).await
    }

    async fn retry_messages(&self, mailbox: Mailbox, messages: &[MessageRef], now: i64) -> StoreResult<Vec<UserId>> {
        let head = [mailbox.user.to_string(), mailbox.device.to_string(), now.to_string()];
        self.per_message(&RETRY, &head, messages.iter().map(sender_and_id)).await
    }

    async fn read_messages(
        &self,
        reader: Mailbox,
        sender: UserId,
        ids: &[MessageId],
        now: i64,
    ) -> StoreResult<Vec<UserId>> {
        let head = [reader.user.to_string(), reader.device.to_string(), sender.to_string(), now.to_string()];
        self.per_message(&READ, &head, ids.iter().map(|id| [id.to_string()])).await
    }

    async fn fetch_receipts(&self, mailbox: Mailbox, after: i64, limit: usize) -> StoreResult<Vec<StoredReceipt>> {
        self.fetch_queue("rq", "rd", mailbox, after, limit)
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
                    peer_device: p.q,
                    at: p.a,
                })
            })
            .collect()
    }

    async fn ack_receipts(&self, mailbox: Mailbox, receipts: &[ReceiptRef]) -> StoreResult<()> {
        if receipts.is_empty() {
            return Ok(());
        }
        let name = box_name(mailbox);
        let mut invocation = ACK_RECEIPTS.prepare_invoke();
        invocation.key(self.key(format!("rq:{name}"))).key(self.key(format!("rd:{name}")));
        for receipt in receipts {
            invocation.arg(receipt.id.to_string());
        }
        let mut conn = self.conn.clone();
        let _: i64 = invocation.invoke_async(&mut conn).await?;
        Ok(())
    }

    async fn expire(&self, now: i64, ttl_secs: i64, limit: usize) -> StoreResult<Vec<UserId>> {
        let mut invocation = EXPIRE.prepare_invoke();
        invocation.arg(&self.prefix).arg(now - ttl_secs).arg(now).arg(limit);
        for _ in 0..limit {
            invocation.arg(Uuid::now_v7().to_string());
        }
        let mut conn = self.conn.clone();
        let senders: Vec<String> = invocation.invoke_async(&mut conn).await?;
        Ok(parse_users(senders))
    }

    async fn depth(&self, mailbox: Mailbox) -> StoreResult<u64> {
        let mut conn = self.conn.clone();
        let n: u64 =
            redis::cmd("ZCARD").arg(self.key(format!("mq:{}", box_name(mailbox)))).query_async(&mut conn).await?;
        Ok(n)
    }

    async fn total_depth(&self) -> StoreResult<u64> {
        // `mexp` holds every waiting copy once, for expiry.
        let mut conn = self.conn.clone();
        let n: u64 = redis::cmd("ZCARD").arg(self.key("mexp")).query_async(&mut conn).await?;
        Ok(n)
    }
}
