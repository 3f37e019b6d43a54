//! Moves mailbox data kept in an earlier Redis layout into the current one, once, when the
//! store connects (before it serves anything).
//!
//! Layout 1 kept each queue as a sorted set of members (`mq:{name}`, `rq:{name}`, by a
//! sequence `mseq:`/`rseq:`) beside a hash of payloads (`md:`, `rd:`), every waiting copy
//! in the expiry index as `{name}|{member}`, and the dedup of messages stored before
//! message records existed as `seen:{sender}:{id}`. Layout 2 keeps each queue as one
//! stream, and each message's record as a hash (`mid:{sender}:{id}`: `a`, `r`, `s`). Layout
//! 3 keeps the record as one string (`mr:{sender}:{id}`), which one `SET NX EX` both checks
//! and writes. Layout 4 (`mailbox.rs`) stores each new waiting copy as a line and the
//! envelope's bytes, and each new receipt as a line, instead of JSON (`copy_value.rs`,
//! `receipt_value.rs`); those stored as JSON stay as they are and are read so, which is why
//! moving from 3 to 4 moves nothing. Each queue moves in one script, oldest first, and
//! records a `SCAN` page (up to about a thousand) at a time, so a migration cut short leaves
//! every queue and record whole in one layout or the other and the next start finishes it;
//! the marker `layout` is set last.
//! Every node of a deployment must run this version before any serves: a node of an older
//! version would keep writing the layout it knows.

use std::sync::LazyLock;

use redis::Script;

use super::RedisStore;
use super::mailbox_lua::RECORD;
use crate::store::{RECEIPTS_KEPT_PER_MAILBOX, StoreError, StoreResult};

/// The layout this version reads and writes.
pub const LAYOUT: i64 = 4;

/// The first layout with string records (`mr:`): no data before it is left to move.
const LAYOUT_WITH_STRING_RECORDS: i64 = 3;

/// The oldest Redis that runs the scripts (stream ids `0-*` are Redis 7.0's).
pub const OLDEST_REDIS: (u32, u32) = (7, 0);

/// Keys visited per `SCAN` step.
const SCAN_COUNT: usize = 1_000;

/// ARGV: prefix, name (a box, or a person before devices had mailboxes). Moves the message
/// queue into the stream `ms:{name}`; each payload gains its id (`i`, the member after its
/// `/`, or the bare id members were before they named the sender).
static MOVE_MESSAGES: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local p, name = ARGV[1], ARGV[2]
local queue, data, index = p .. ':mq:' .. name, p .. ':md:' .. name, p .. ':mexp'
local oldest, moved = nil, 0
for _, member in ipairs(redis.call('ZRANGE', queue, 0, -1)) do
  local payload = redis.call('HGET', data, member)
  local at = redis.call('ZSCORE', index, name .. '|' .. member)
  redis.call('ZREM', index, name .. '|' .. member)
  if payload then
    local m = cjson.decode(payload)
    local slash = string.find(member, '/', 1, true)
    m['i'] = slash and string.sub(member, slash + 1) or member
    at = tonumber(at) or m['a']
    redis.call('XADD', p .. ':ms:' .. name, '0-*', 'p', cjson.encode(m))
    if not oldest or at < oldest then oldest = at end
    moved = moved + 1
  end
end
if oldest then redis.call('ZADD', index, 'LT', oldest, name) end
if moved > 0 then redis.call('INCRBY', p .. ':mtotal', moved) end
redis.call('DEL', queue, data, p .. ':mseq:' .. name)
return moved
"#,
    )
});

/// ARGV: prefix, name, the receipt quota. Moves the receipt queue into the stream
/// `rs:{name}`; each payload gains its id (`r`).
static MOVE_RECEIPTS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local p, name = ARGV[1], ARGV[2]
local queue, data = p .. ':rq:' .. name, p .. ':rd:' .. name
for _, rid in ipairs(redis.call('ZRANGE', queue, 0, -1)) do
  local payload = redis.call('HGET', data, rid)
  if payload then
    local r = cjson.decode(payload)
    r['r'] = rid
    redis.call('XADD', p .. ':rs:' .. name, 'MAXLEN', ARGV[3], '0-*', 'p', cjson.encode(r))
  end
end
redis.call('DEL', queue, data, p .. ':rseq:' .. name)
return 1
"#,
    )
});

/// A script that moves message records a batch at a time. ARGV: prefix, then
/// `{sender}:{id}` of each record to move; `body` runs for each with `p` the prefix and
/// `name` its `{sender}:{id}`, and may call `keep_record(name, value, ttl)`: writes the string
/// record of `name` (made by `record_value`, [`RECORD`]) unless one is there, expiring in
/// `ttl` ms (the `PTTL` of what it replaces: -1 never; -2, gone, writes nothing).
fn record_move(body: &str) -> Script {
    Script::new(&format!(
        r#"{RECORD}
local p = ARGV[1]
local function keep_record(name, value, ttl)
  local key = p .. ':mr:' .. name
  if ttl > 0 then
    redis.call('SET', key, value, 'NX', 'PX', ttl)
  elseif ttl == -1 then
    redis.call('SET', key, value, 'NX')
  end
end
for i = 2, #ARGV do
  local name = ARGV[i]
{body}
end
return 1
"#
    ))
}

/// Layout 2's message records (hashes `mid:`) become the string records of layout 3,
/// expiring when the hashes would have; a string record already there is kept.
static MOVE_RECORDS: LazyLock<Script> = LazyLock::new(|| {
    record_move(
        r#"
  local old = p .. ':mid:' .. name
  local fields = redis.call('HMGET', old, 'a', 'r', 's')
  if fields[1] then
    local value = record_value(fields[1], fields[2] or '', fields[3] or 0)
    keep_record(name, value, redis.call('PTTL', old))
  end
  redis.call('DEL', old)
"#,
    )
});

/// Dedup keys (`seen:`) become message records that do not name their recipient, expiring
/// when the keys would have (unless the message has a record already).
static MOVE_SEEN: LazyLock<Script> = LazyLock::new(|| {
    record_move(
        r#"
  local old = p .. ':seen:' .. name
  local at = redis.call('GET', old)
  if at then
    keep_record(name, record_value(at, '', 0), redis.call('PTTL', old))
    redis.call('DEL', old)
  end
"#,
    )
});

/// `text` with the glob characters of `SCAN MATCH` escaped.
fn glob_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The layout of the data under `prefix` (1 when unmarked: layout 1 had no marker).
pub async fn layout_of(conn: &mut impl redis::aio::ConnectionLike, prefix: &str) -> redis::RedisResult<i64> {
    let layout: Option<i64> = redis::cmd("GET").arg(format!("{prefix}:layout")).query_async(conn).await?;
    Ok(layout.unwrap_or(1))
}

/// The server's version (`major.minor`) from `INFO server`.
pub async fn redis_version(conn: &mut impl redis::aio::ConnectionLike) -> redis::RedisResult<Option<(u32, u32)>> {
    let info: String = redis::cmd("INFO").arg("server").query_async(conn).await?;
    Ok(info.lines().find_map(|line| {
        let mut parts = line.strip_prefix("redis_version:")?.trim().split('.');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    }))
}

/// Why this release cannot use a Redis of `version` holding data in `layout`, if it cannot.
pub fn refusal(version: Option<(u32, u32)>, layout: i64) -> Option<String> {
    let (oldest_major, oldest_minor) = OLDEST_REDIS;
    if let Some((major, minor)) = version
        && (major, minor) < OLDEST_REDIS
    {
        return Some(format!(
            "version {major}.{minor} is too old: Hush needs Redis {oldest_major}.{oldest_minor} or newer"
        ));
    }
    (layout > LAYOUT).then(|| {
        format!("the mailbox data is in layout {layout}, newer than this release's {LAYOUT}: run the newer release")
    })
}

impl RedisStore {
    /// Refuses what [`refusal`] names, and brings the mailbox data to [`LAYOUT`] unless it
    /// is there already.
    pub(super) async fn migrate_layout(&self) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let version = redis_version(&mut conn).await?;
        let layout = layout_of(&mut conn, &self.prefix).await?;
        if let Some(why) = refusal(version, layout) {
            return Err(StoreError(format!("redis: {why}")));
        }
        if layout == LAYOUT {
            return Ok(());
        }
        let marker = self.key("layout");
        // Layout 4 changed only how new copies and receipts are written: from 3 there is
        // nothing to move, and each move below scans the whole keyspace.
        if layout < LAYOUT_WITH_STRING_RECORDS {
            for name in self.names_after("mq:").await? {
                let _: i64 = MOVE_MESSAGES.arg(&self.prefix).arg(name).invoke_async(&mut conn).await?;
            }
            for name in self.names_after("rq:").await? {
                let _: i64 = MOVE_RECEIPTS
                    .arg(&self.prefix)
                    .arg(name)
                    .arg(RECEIPTS_KEPT_PER_MAILBOX)
                    .invoke_async(&mut conn)
                    .await?;
            }
            self.move_by_page("mid:", &MOVE_RECORDS).await?;
            self.move_by_page("seen:", &MOVE_SEEN).await?;
        }
        let _: () = redis::cmd("SET").arg(&marker).arg(LAYOUT).query_async(&mut conn).await?;
        Ok(())
    }

    /// What follows `{prefix}:{kind}` in every key that starts so.
    async fn names_after(&self, kind: &str) -> StoreResult<Vec<String>> {
        let (mut cursor, mut names) = (0, Vec::new());
        loop {
            let (next, page) = self.scan_page(kind, cursor).await?;
            names.extend(page);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Runs `script` (ARGV: prefix, then names) on what follows `{prefix}:{kind}` in every
    /// key that starts so, one `SCAN` page at a time: a store with millions of records never
    /// holds all their names at once (a name `SCAN` returns twice is moved once; the second
    /// call finds nothing to move).
    async fn move_by_page(&self, kind: &str, script: &Script) -> StoreResult<()> {
        let (mut conn, mut cursor) = (self.conn.clone(), 0);
        loop {
            let (next, page) = self.scan_page(kind, cursor).await?;
            if !page.is_empty() {
                let _: i64 = script.arg(&self.prefix).arg(page).invoke_async(&mut conn).await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    /// One `SCAN` step from `cursor` over the keys that start with `{prefix}:{kind}`: the
    /// next cursor (0 at the end) and what follows `{prefix}:{kind}` in the keys found.
    async fn scan_page(&self, kind: &str, cursor: u64) -> StoreResult<(u64, Vec<String>)> {
        let start = self.key(kind);
        let mut conn = self.conn.clone();
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{}*", glob_literal(&start)))
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .query_async(&mut conn)
            .await?;
        Ok((next, keys.into_iter().filter_map(|k| k.strip_prefix(&start).map(str::to_owned)).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::{LAYOUT, glob_literal, refusal};

    #[test]
    fn an_old_redis_and_a_newer_layout_are_refused_with_the_reason() {
        assert_eq!(refusal(Some((7, 0)), LAYOUT), None);
        assert_eq!(refusal(None, 1), None, "a version INFO does not give is not held against it");
        let old = refusal(Some((6, 2)), LAYOUT).unwrap();
        assert!(old.contains("version 6.2 is too old: Hush needs Redis 7.0 or newer"), "{old}");
        let newer = refusal(Some((7, 2)), LAYOUT + 1).unwrap();
        assert!(newer.contains(&format!("layout {}, newer than this release's {LAYOUT}", LAYOUT + 1)), "{newer}");
    }

    #[test]
    fn glob_characters_in_the_prefix_match_only_themselves() {
        assert_eq!(glob_literal("hush"), "hush");
        assert_eq!(glob_literal("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
