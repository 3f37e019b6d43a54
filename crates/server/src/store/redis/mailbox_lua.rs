//! The Lua scripts of the Redis mailbox (`mailbox.rs` has the layout and calls them). Each
//! runs atomically; reads that need no other key's state (a mailbox's messages, its
//! receipts, a receipt ack) are plain commands instead, because every value a script reads
//! or receives costs Lua a hash of all its bytes, and every `redis.call` from a script
//! costs about as much as a command of its own (BENCHMARKS.md, "Mailboxes as streams").

use std::sync::LazyLock;

use redis::Script;

use crate::store::RECEIPTS_KEPT_PER_MAILBOX;

/// A message record's string, written and read here only (`mailbox.rs` names the layout):
/// `record_value(at, recipient, state)` makes it, `record_fields(value)` splits it back into
/// at, recipient (empty on records kept from before records named it) and state. A new
/// record's state is written as the string `'0'`: Lua formats a number joined into a string
/// with `sprintf` (2–3 % of `redis-server` in `saturate` when every message's record did).
pub(super) const RECORD: &str = r#"
local function record_value(at, recipient, state)
  return at .. ' ' .. recipient .. ' ' .. state
end
local function record_fields(value)
  local at, recipient, state = string.match(value, '^(%S*) (%S*) (%d+)$')
  return at, recipient, tonumber(state)
end
"#;

/// Shared Lua, prepended to the scripts that need it:
/// - `counted(p, n)` adds `n` to the count of waiting copies (`mtotal`);
/// - `tell(user)` adds `user` to `told`, the people a script returns, once (an ack of a
///   hundred messages from one friend answers one name, not a hundred);
/// - `receipt(p, user, only, but, payload, placed, index)` appends a receipt to every
///   mailbox of `user` (only `only`'s when not empty, skipping `but`'s) and, when `placed`
///   is a table, adds `index`, `user`, the device and the entry's id to it for each; a
///   mailbox keeps the newest [`RECEIPTS_KEPT_PER_MAILBOX`], the oldest beyond go. A
///   person's mailboxes are read, and their receipt streams named, once per script call
///   (no script here opens or closes one);
/// - `record_of(p, sender, id)` reads a message's record (`mailbox.rs`: `{at} {recipient}
///   {state}`) as a table (`key`, `a`, `r`, `s`), or nil;
/// - `set_bit(record, bit, unless)` sets a state bit of a record unless it or `unless` is
///   set, keeping its expiry: true when this call set it (the receipt is due);
/// - `mark(p, sender, id, bit, unless)` is `set_bit` on the message's record; a message
///   with no record counts as unmarked;
/// - `receipt_value(r, k, m, p, a, q)` makes a receipt's line (`receipt_value.rs`; `q`, the
///   peer's device, may be nil) and `receipt_peer(value)` reads its peer back (or that of a
///   receipt stored as JSON before layout 4);
/// - `copy_of(value)` reads a waiting copy's line (`copy_value.rs`; or the JSON of copies
///   stored before layout 4) as a table (`i`, `f`, `d`, `t`, `a`; `d` and `t` nil when the
///   copy does not name them);
/// - `take(p, box, entry, sender, id)` takes the entry (its id, `0-{n}`) out of a mailbox,
///   read and checked to be `sender`'s message `id` (for the rare paths that need the copy:
///   `retry`).
const SHARED: &str = r#"
local function counted(p, n)
  if n ~= 0 then redis.call('INCRBY', p .. ':mtotal', n) end
end
local told, told_once = {}, {}
local function tell(user)
  if not told_once[user] then
    told_once[user] = true
    table.insert(told, user)
  end
end
local mailboxes_of = {}
local function receipt_streams(p, user, devices)
  local streams = {}
  for _, d in ipairs(devices) do
    table.insert(streams, {d = d, key = p .. ':rs:' .. user .. ':' .. d})
  end
  return streams
end
local function receipt(p, user, only, but, payload, placed, index)
  local streams
  if only ~= '' then
    streams = {}
    if redis.call('SISMEMBER', p .. ':mbx:' .. user, only) == 1 then streams = receipt_streams(p, user, {only}) end
  else
    streams = mailboxes_of[user]
    if not streams then
      streams = receipt_streams(p, user, redis.call('SMEMBERS', p .. ':mbx:' .. user))
      mailboxes_of[user] = streams
    end
  end
  for _, stream in ipairs(streams) do
    if stream.d ~= but then
      local entry = redis.call('XADD', stream.key, 'MAXLEN', RECEIPTS_KEPT, '0-*', 'p', payload)
      if placed then
        table.insert(placed, index)
        table.insert(placed, user)
        table.insert(placed, stream.d)
        table.insert(placed, entry)
      end
    end
  end
end
local function record_key(p, sender, id)
  return p .. ':mr:' .. sender .. ':' .. id
end
local function record_of(p, sender, id)
  local key = record_key(p, sender, id)
  local value = redis.call('GET', key)
  if not value then return nil end
  local at, recipient, state = record_fields(value)
  return {key = key, a = at, r = recipient, s = state}
end
local function set_bit(record, b, unless)
  if bit.band(record.s, bit.bor(b, unless)) ~= 0 then return false end
  record.s = bit.bor(record.s, b)
  redis.call('SET', record.key, record_value(record.a, record.r, record.s), 'KEEPTTL')
  return true
end
local function mark(p, sender, id, b, unless)
  local record = record_of(p, sender, id)
  if not record then return true end
  return set_bit(record, b, unless)
end
local function receipt_value(r, k, m, p, a, q)
  local value = r .. ' ' .. k .. ' ' .. m .. ' ' .. p .. ' ' .. a
  if q then value = value .. ' ' .. q end
  return value
end
local function receipt_peer(value)
  if string.byte(value, 1) == 123 then return cjson.decode(value)['p'] end
  return string.match(value, '^%S+ %S+ %S+ (%S+)')
end
local function copy_of(value)
  if string.byte(value, 1) == 123 then return cjson.decode(value) end
  local i, f, d, t, a = string.match(value, '^(%S+) (%S+) (%S+) (%S+) (%d+) [01]\n')
  return {i = i, f = f, d = d, t = t, a = tonumber(a)}
end
local function take(p, box, entry, sender, id)
  local stream = p .. ':ms:' .. box
  local found = redis.call('XRANGE', stream, entry, entry)
  if #found == 0 then return nil end
  local m = copy_of(found[1][2][2])
  if m['f'] ~= sender or m['i'] ~= id then return nil end
  redis.call('XDEL', stream, entry)
  counted(p, -1)
  return m
end
"#;

/// What every script starts with: the receipt quota (a string: a Lua number handed to
/// `redis.call` is formatted as a float every time), then [`RECORD`] and [`SHARED`].
static PRELUDE: LazyLock<String> =
    LazyLock::new(|| format!("local RECEIPTS_KEPT = '{RECEIPTS_KEPT_PER_MAILBOX}'\n{RECORD}{SHARED}"));

/// A script of [`PRELUDE`] and `body`.
fn with_prelude(body: &str) -> Script {
    Script::new(&format!("{}\n{body}", *PRELUDE))
}

/// `enqueue_many`. ARGV: prefix, now, max per mailbox, ttl, placing (`1`: say where each
/// copy went), then per message: sender, id, addressee, number of copies, then (box,
/// payload) per copy. Returns per message `outcome, at`: 1 stored (or stored again for
/// devices that asked with `retry`), 0 duplicate, -1 a mailbox full (at 0); when placing,
/// then per copy its entry's number (0: not stored in that mailbox). A new message's
/// record is written, with its expiry, by the same `SET NX` that finds a resend (and taken
/// back if a mailbox is full). A batch reads each mailbox's depth once and puts each
/// mailbox in the expiry index once (its score stays its oldest copy's time, or earlier).
pub(super) static ENQUEUE: LazyLock<Script> = LazyLock::new(|| {
    with_prelude(
        r#"
local p, now, max, ttl, placing = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5] == '1'
local depths, streams, out, stored = {}, {}, {}, 0
local function depth(box)
  if not depths[box] then
    streams[box] = p .. ':ms:' .. box
    depths[box] = redis.call('XLEN', streams[box])
    redis.call('ZADD', p .. ':mexp', 'NX', now, box)
  end
  return depths[box]
end
local function put(box, payload)
  depths[box] = depth(box) + 1
  stored = stored + 1
  return redis.call('XADD', streams[box], '0-*', 'p', payload)
end
local i = 6
while i <= #ARGV do
  local sender, id, addressee, first = ARGV[i], ARGV[i + 1], ARGV[i + 2], i + 4
  i = first + 2 * tonumber(ARGV[i + 3])
  local entries = {}
  local record = record_key(p, sender, id)
  if not redis.call('SET', record, record_value(now, addressee, '0'), 'NX', 'EX', ttl) then
    local wish = p .. ':rw:' .. sender .. ':' .. id
    local resent = 0
    for j = first, i - 1, 2 do
      local box = ARGV[j]
      local colon = string.find(box, ':', 1, true)
      local listed = redis.call('SISMEMBER', p .. ':mbx:' .. string.sub(box, 1, colon - 1), string.sub(box, colon + 1))
      if redis.call('SREM', wish, box) == 1 and listed == 1 then
        entries[j] = put(box, ARGV[j + 1])
        resent = 1
      end
    end
    table.insert(out, resent)
    table.insert(out, tonumber(record_of(p, sender, id).a))
  else
    local full = false
    for j = first, i - 1, 2 do
      if depth(ARGV[j]) >= max then full = true end
    end
    if full then
      redis.call('DEL', record)
      table.insert(out, -1)
      table.insert(out, 0)
    else
      for j = first, i - 1, 2 do entries[j] = put(ARGV[j], ARGV[j + 1]) end
      table.insert(out, 1)
      table.insert(out, tonumber(now))
    end
  end
  if placing then
    for j = first, i - 1, 2 do
      table.insert(out, entries[j] and tonumber(string.sub(entries[j], 3)) or 0)
    end
  end
end
counted(p, stored)
return out
"#,
    )
});

/// `ack`. ARGV: prefix, user, device, placing (`1`: say where each receipt went), then
/// (sender, message id, entry id, only copy 1/0, the `delivered` receipt's payload) per
/// message. The copy is found by its entry alone (the connection acks only what it read);
/// copies go newest first, as Redis finds a stream's first entry again after deleting the
/// first (walking the deleted entries before it): acked oldest first, every `XDEL` did (0.8
/// instead of 1.2 µs per `XDEL`, 64 acked together); receipts follow in the order acked,
/// for the first naming of each copy. The addressee's only copy, there until now, was
/// neither acked by another device nor expired: its `delivered` is due without a look at
/// the record. The receipt comes written, so the script builds no table and encodes no JSON
/// per message. Returns the senders told; when placing, those and a list of (message's
/// index, sender, device, entry id) per receipt queued.
pub(super) static ACK: LazyLock<Script> = LazyLock::new(|| {
    with_prelude(
        r#"
local p, user, device = ARGV[1], ARGV[2], ARGV[3]
local placed = nil
if ARGV[4] == '1' then placed = {} end
local stream = p .. ':ms:' .. user .. ':' .. device
local dropped, gone = 0, {}
for i = #ARGV - 4, 5, -5 do
  if redis.call('XDEL', stream, ARGV[i + 2]) == 1 then gone[ARGV[i + 2]] = true end
end
for i = 5, #ARGV, 5 do
  local sender, id, entry = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if gone[entry] then
    gone[entry] = nil
    dropped = dropped + 1
    if sender ~= user and (ARGV[i + 3] == '1' or mark(p, sender, id, 1, 4)) then
      receipt(p, sender, '', '', ARGV[i + 4], placed, tostring((i - 5) / 5))
      tell(sender)
    end
  end
end
counted(p, -dropped)
if placed then return {told, placed} end
return told
"#,
    )
});

/// `retry`. ARGV: prefix, user, device, now, then (sender, message id, entry id, only
/// copy 1/0, receipt id) per message. The wish lives as long as the message's record; a
/// record that does not name its recipient (kept from before records did) is forgotten
/// instead (its only device asked), so the resend is stored as new. Returns the senders
/// told.
pub(super) static RETRY: LazyLock<Script> = LazyLock::new(|| {
    with_prelude(
        r#"
local p, user, device, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local box = user .. ':' .. device
for i = 5, #ARGV, 5 do
  local id = ARGV[i + 1]
  local m = take(p, box, ARGV[i + 2], ARGV[i], id)
  if m then
    local record = record_of(p, m['f'], id)
    if record and record.r ~= '' then
      local wish = p .. ':rw:' .. m['f'] .. ':' .. id
      redis.call('SADD', wish, box)
      local ttl = redis.call('TTL', record.key)
      if ttl > 0 then redis.call('EXPIRE', wish, ttl) end
    elseif record then
      redis.call('DEL', record.key)
    end
    receipt(p, m['f'], m['d'] or '', '', receipt_value(ARGV[i + 4], 'resend', id, user, now, device))
    tell(m['f'])
  end
end
return told
"#,
    )
});

/// `read`. ARGV: prefix, reader, reader's device, sender, now, then (message id, receipt
/// id) pairs. A record that does not name its recipient (kept from before records did)
/// answers without being marked. Returns the people told.
pub(super) static READ: LazyLock<Script> = LazyLock::new(|| {
    with_prelude(
        r#"
local p, reader, device, sender, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
for i = 6, #ARGV, 2 do
  local id, rid = ARGV[i], ARGV[i + 1]
  local record = record_of(p, sender, id)
  if record and ((record.r == reader and set_bit(record, 2, 0)) or record.r == '') then
    receipt(p, sender, '', '', receipt_value(rid, 'read', id, reader, now))
    receipt(p, reader, '', device, receipt_value(rid, 'read_elsewhere', id, sender, now))
    tell(sender)
    tell(reader)
  end
end
return told
"#,
    )
});

/// `expire`. ARGV: prefix, cutoff, now, limit, then `limit` receipt ids. `mexp` names each
/// mailbox that may hold copies, scored at or before its oldest copy's time: a mailbox due
/// is read from its oldest copy on, a page at a time (a stream is in the order it was
/// stored), each copy stored at or before the cutoff goes, and the mailbox is scored again
/// at its oldest copy left (or leaves the index, empty). Returns the senders told.
pub(super) static EXPIRE: LazyLock<Script> = LazyLock::new(|| {
    with_prelude(
        r#"
local p, cutoff, now, limit = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local index = p .. ':mexp'
local n = 0
for _, box in ipairs(redis.call('ZRANGEBYSCORE', index, '-inf', cutoff, 'LIMIT', 0, limit)) do
  if n >= limit then break end
  local stream = p .. ':ms:' .. box
  local owner = box
  local colon = string.find(box, ':', 1, true)
  if colon then owner = string.sub(box, 1, colon - 1) end
  local oldest, empty = nil, false
  while not oldest and not empty and n < limit do
    local page = math.min(limit - n, 32)
    local entries = redis.call('XRANGE', stream, '-', '+', 'COUNT', page)
    empty = #entries < page
    for _, e in ipairs(entries) do
      local m = copy_of(e[2][2])
      if m['a'] > cutoff then
        oldest = m['a']
        empty = false
        break
      end
      redis.call('XDEL', stream, e[1])
      counted(p, -1)
      n = n + 1
      if (m['t'] or owner) == owner and mark(p, m['f'], m['i'], 4, 1) then
        receipt(p, m['f'], '', '', receipt_value(ARGV[4 + n], 'expired', m['i'], owner, now))
        tell(m['f'])
      end
      if n >= limit then break end
    end
  end
  if oldest then
    redis.call('ZADD', index, oldest, box)
  elseif empty then
    redis.call('ZREM', index, box)
  end
end
return told
"#,
    )
});

/// `open_mailbox`. ARGV: prefix, user, device. Lists the mailbox and moves into it what was
/// queued for the person before devices had mailboxes (a stream named by the person alone
/// since the layout migration, `layout.rs`).
pub(super) static OPEN: LazyLock<Script> = LazyLock::new(|| {
    with_prelude(
        r#"
local p, user, device = ARGV[1], ARGV[2], ARGV[3]
local box = user .. ':' .. device
redis.call('SADD', p .. ':mbx:' .. user, device)
local messages = redis.call('XRANGE', p .. ':ms:' .. user, '-', '+')
if #messages > 0 then
  local at = redis.call('ZSCORE', p .. ':mexp', user)
  for _, e in ipairs(messages) do
    redis.call('XADD', p .. ':ms:' .. box, '0-*', 'p', e[2][2])
  end
  redis.call('ZADD', p .. ':mexp', 'LT', at or 0, box)
end
redis.call('ZREM', p .. ':mexp', user)
for _, e in ipairs(redis.call('XRANGE', p .. ':rs:' .. user, '-', '+')) do
  redis.call('XADD', p .. ':rs:' .. box, 'MAXLEN', RECEIPTS_KEPT, '0-*', 'p', e[2][2])
end
redis.call('DEL', p .. ':ms:' .. user, p .. ':rs:' .. user)
return 1
"#,
    )
});

/// `purge_between`. ARGV: prefix, a, b: in every mailbox of each, the messages from the
/// other and the receipts about the other go.
pub(super) static PURGE: LazyLock<Script> = LazyLock::new(|| {
    with_prelude(
        r#"
local p = ARGV[1]
local dropped = 0
for _, pair in ipairs({{ARGV[2], ARGV[3]}, {ARGV[3], ARGV[2]}}) do
  local owner, other = pair[1], pair[2]
  for _, device in ipairs(redis.call('SMEMBERS', p .. ':mbx:' .. owner)) do
    local box = owner .. ':' .. device
    local messages = p .. ':ms:' .. box
    for _, e in ipairs(redis.call('XRANGE', messages, '-', '+')) do
      if copy_of(e[2][2])['f'] == other then
        dropped = dropped + redis.call('XDEL', messages, e[1])
      end
    end
    local receipts = p .. ':rs:' .. box
    for _, e in ipairs(redis.call('XRANGE', receipts, '-', '+')) do
      if receipt_peer(e[2][2]) == other then redis.call('XDEL', receipts, e[1]) end
    end
  end
end
counted(p, -dropped)
return 1
"#,
    )
});

/// `mark_seen`. ARGV: prefix, user, device, time: recorded only for a listed mailbox.
pub(super) static SEEN: LazyLock<Script> = LazyLock::new(|| {
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
pub(super) static CLOSE: LazyLock<Script> = LazyLock::new(|| {
    with_prelude(
        r#"
local p, user, device = ARGV[1], ARGV[2], ARGV[3]
local box = user .. ':' .. device
redis.call('SREM', p .. ':mbx:' .. user, device)
redis.call('HDEL', p .. ':mbseen:' .. user, device)
counted(p, -redis.call('XLEN', p .. ':ms:' .. box))
redis.call('ZREM', p .. ':mexp', box)
redis.call('DEL', p .. ':ms:' .. box, p .. ':rs:' .. box)
return 1
"#,
    )
});
