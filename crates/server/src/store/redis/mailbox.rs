//! [`MailboxStore`] on Redis: one mailbox per device, each a pair of streams.
//!
//! A mailbox is named `{user}:{device}` (its *box*). Per box: `ms:{box}` (stream of the
//! copies waiting, entry ids `0-{n}`, one field `p`: a line naming the message, then its
//! envelope's bytes, `copy_value.rs`) and `rs:{box}` (stream of receipts alike, `p` one
//! line, `receipt_value.rs`). The stream numbers its entries itself and never reuses a
//! number, so an entry's number names it: an ack is one `XDEL`, and reading a mailbox is
//! one `XRANGE` with no script. A receipt's seq is its entry's number; a copy's is twice
//! that, plus one for an only copy (see [`message_seq`]). Entries follow one another, so
//! the send and ack scripts can say which entry a copy or receipt became and so which
//! came before it (`Placed`, `PlacedReceipt`: hand-offs to connections here).
//! `mbx:{user}` (set) lists the person's devices with a mailbox, `mbseen:{user}` (hash
//! device → Unix seconds) when each was last connected. Per message: `mr:{sender}:{id}`
//! (string `{stored_at} {recipient} {state}`, state bits 1 delivered, 2 read, 4 expired;
//! the recipient empty on records kept from before records named it), expiring with the
//! message lifetime — the dedup of resends and the roll-up of receipts per person, written
//! and checked by one `SET NX EX`; `rw:{sender}:{id}` (set of boxes that asked for the
//! message again with `retry`). `mexp` (sorted set of boxes, scored at or before each one's
//! oldest copy) drives expiry;
//! `mtotal` counts the copies waiting everywhere.
//!
//! Data kept in an earlier layout (sorted sets and hashes per queue; records as hashes) is
//! moved into this one when the store connects (`layout.rs`), except copies and receipts
//! stored as JSON, which are read as they are; a person's queues from before
//! devices had mailboxes become streams named by the person alone, which the first
//! device's mailbox to open takes over.

use async_trait::async_trait;
use hush_shared::ws::{MessageId, ReceiptId, ReceiptKind};
use hush_shared::{DeviceId, UserId};
use redis::{Script, Value};
use uuid::Uuid;

use super::RedisStore;
use super::commands::{ScriptCall, bulk, int, items, mailbox_key, reply, users};
use super::copy_value::{copy_value, parse_copy};
use super::mailbox_lua::{ACK, CLOSE, ENQUEUE, EXPIRE, OPEN, PURGE, READ, RETRY, SEEN};
use super::receipt_value::{parse_receipt, receipt_value};
use crate::id_text::push_number;
use crate::store::{
    Enqueued, Mailbox, MailboxPolicy, MailboxStore, MessageRef, Outgoing, Placed, PlacedReceipt, Preceding, ReceiptRef,
    StoreError, StoreResult, StoredMessage, StoredReceipt,
};

fn corrupt(what: &str) -> StoreError {
    StoreError(format!("redis: corrupt {what}"))
}

/// The stream entry id of entry number `n`.
fn entry_id(n: i64) -> String {
    let mut id = String::with_capacity(22);
    id.push_str("0-");
    push_number(&mut id, n);
    id
}

/// The number of a stream entry id (`0-{n}`).
fn entry_number(entry: &[u8]) -> Option<i64> {
    std::str::from_utf8(entry.strip_prefix(b"0-")?).ok()?.parse().ok()
}

/// A copy's seq: twice its entry's number, plus one when it is its addressee's only copy.
/// The connection hands the seq back with the ack, and the ack of an only copy needs no
/// look at the message's record: the copy was there, so no other device of the addressee
/// acked it and it did not expire (BENCHMARKS.md, "Mailboxes as streams").
fn message_seq(entry: i64, only: bool) -> i64 {
    entry * 2 + i64::from(only)
}

/// The entry number and the only-copy mark of a copy's seq ([`message_seq`]).
fn message_entry(seq: i64) -> (i64, bool) {
    (seq >> 1, seq & 1 == 1)
}

/// Adds a message's arguments for `ACK` and `RETRY`: sender, id, entry id, only copy (the
/// script's `last` argument follows).
fn add_copy(call: &mut ScriptCall<'_>, message: &MessageRef) {
    let (entry, only) = message_entry(message.seq);
    call.id(&message.sender.0).id(&message.id).arg(entry_id(entry)).arg(u8::from(only));
}

impl RedisStore {
    /// Up to `limit` entries of a mailbox's stream (`ms` or `rs`) numbered above `after`, in
    /// order, as (entry number, payload).
    async fn read_stream(
        &self,
        stream: &str,
        mailbox: Mailbox,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<(i64, Vec<u8>)>> {
        let mut xrange = redis::cmd("XRANGE");
        xrange.arg(mailbox_key(&self.prefix, stream, mailbox)).arg(entry_id(after.max(0) + 1)).arg("+");
        xrange.arg("COUNT").arg(limit);
        let entries = items(reply(&self.conn, &xrange).await?, "stream entries")?;
        entries.into_iter().map(|entry| stream_entry(entry).ok_or_else(|| corrupt("entry"))).collect()
    }

    /// `ack_messages`, and with `placing` where each `delivered` receipt went.
    async fn ack(
        &self,
        mailbox: Mailbox,
        messages: &[MessageRef],
        now: i64,
        placing: bool,
    ) -> StoreResult<(Vec<UserId>, Vec<PlacedReceipt>)> {
        if messages.is_empty() {
            return Ok((vec![], vec![]));
        }
        let mut call = ScriptCall::new(&ACK);
        call.arg(&self.prefix).id(&mailbox.user.0).id(&mailbox.device.0).arg(u8::from(placing));
        let ids: Vec<ReceiptId> = messages.iter().map(|_| Uuid::now_v7()).collect();
        for (m, &id) in messages.iter().zip(&ids) {
            add_copy(&mut call, m);
            call.arg(receipt_value(id, ReceiptKind::Delivered, m.id, mailbox.user, now));
        }
        let answer = call.run(&self.conn).await?;
        if !placing {
            return Ok((users(answer, "ack")?, vec![]));
        }
        let [told, placed]: [Value; 2] = items(answer, "ack")?.try_into().map_err(|_| corrupt("ack answer"))?;
        let placed = items(placed, "ack")?.into_iter().map(bulk).collect::<Option<Vec<_>>>();
        let placed = placed
            .ok_or_else(|| corrupt("ack answer"))?
            .chunks_exact(4)
            .map(|p| {
                let index = std::str::from_utf8(&p[0]).ok()?.parse::<usize>().ok()?;
                let user = UserId(Uuid::try_parse_ascii(&p[1]).ok()?);
                let device = DeviceId(Uuid::try_parse_ascii(&p[2]).ok()?);
                let entry = entry_number(&p[3])?;
                let message = messages.get(index)?;
                let receipt = StoredReceipt {
                    seq: entry,
                    id: *ids.get(index)?,
                    kind: ReceiptKind::Delivered,
                    message_id: message.id,
                    peer: mailbox.user,
                    peer_device: None,
                    at: now,
                };
                Some(PlacedReceipt { mailbox: Mailbox { user, device }, receipt, prev: Preceding::exactly(entry - 1) })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| corrupt("ack answer"))?;
        Ok((users(told, "ack")?, placed))
    }

    /// `enqueue_many`, and with `placing` where each copy went ([`Placed`]).
    async fn enqueue(
        &self,
        from: Mailbox,
        messages: Vec<Outgoing>,
        now: i64,
        policy: MailboxPolicy,
        placing: bool,
    ) -> StoreResult<(Vec<Enqueued>, Vec<Placed>)> {
        if messages.is_empty() {
            return Ok((vec![], vec![]));
        }
        let mut call = ScriptCall::new(&ENQUEUE);
        call.arg(&self.prefix).arg(now).arg(policy.max_messages).arg(policy.ttl_secs.max(1)).arg(u8::from(placing));
        let mut copies = Vec::new();
        for (index, m) in messages.iter().enumerate() {
            call.id(&from.user.0).id(&m.id).id(&m.to.0).arg(m.copies.len());
            let for_addressee = m.copies.iter().filter(|c| c.mailbox.user == m.to).count();
            for copy in &m.copies {
                let only = copy.mailbox.user == m.to && for_addressee == 1;
                call.mailbox(copy.mailbox).arg(copy_value(m.id, from, m.to, now, only, &copy.envelope));
                if placing {
                    copies.push((index, copy.mailbox, only));
                }
            }
        }
        let answer = items(call.run(&self.conn).await?, "enqueue")?;
        let answer = answer.iter().map(int).collect::<Option<Vec<i64>>>().ok_or_else(|| corrupt("enqueue answer"))?;
        let per_message = |m: &Outgoing| 2 + if placing { m.copies.len() } else { 0 };
        if answer.len() != messages.iter().map(per_message).sum::<usize>() {
            return Err(corrupt("enqueue answer"));
        }
        let (mut enqueued, mut placed, mut pos) = (Vec::with_capacity(messages.len()), Vec::new(), 0);
        let mut copies = copies.into_iter();
        for m in &messages {
            enqueued.push(match (answer[pos], answer[pos + 1]) {
                (1, at) => Enqueued::Stored { at },
                (0, at) => Enqueued::Duplicate { at },
                _ => Enqueued::MailboxFull,
            });
            if placing {
                let entries = &answer[pos + 2..pos + per_message(m)];
                for (&n, (message, mailbox, only)) in entries.iter().zip(copies.by_ref()) {
                    if n > 0 {
                        let seq = message_seq(n, only);
                        let prev = Preceding { lowest: message_seq(n - 1, false), highest: message_seq(n - 1, true) };
                        placed.push(Placed { message, mailbox, seq, prev: Some(prev) });
                    }
                }
            }
            pos += per_message(m);
        }
        Ok((enqueued, placed))
    }

    /// Runs `OPEN`, `CLOSE` or `SEEN` for a mailbox (ARGV: prefix, user, device, `extra`).
    async fn mailbox_script(&self, script: &Script, mailbox: Mailbox, extra: &[i64]) -> StoreResult<()> {
        let mut call = ScriptCall::new(script);
        call.arg(&self.prefix).id(&mailbox.user.0).id(&mailbox.device.0);
        for arg in extra {
            call.arg(arg);
        }
        call.run(&self.conn).await?;
        Ok(())
    }
}

/// A stream entry as XRANGE answers it, `[id, [field, payload]]`: its number and payload.
fn stream_entry(entry: Value) -> Option<(i64, Vec<u8>)> {
    let [id, fields]: [Value; 2] = items(entry, "entry").ok()?.try_into().ok()?;
    let [_, payload]: [Value; 2] = items(fields, "entry").ok()?.try_into().ok()?;
    Some((entry_number(&bulk(id)?)?, bulk(payload)?))
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
        let mut call = ScriptCall::new(&PURGE);
        call.arg(&self.prefix).id(&a.0).id(&b.0).run(&self.conn).await?;
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

    /// One script call for the batch (a restarted Redis gets the script again first).
    async fn enqueue_many(
        &self,
        from: Mailbox,
        messages: Vec<Outgoing>,
        now: i64,
        policy: MailboxPolicy,
    ) -> StoreResult<Vec<Enqueued>> {
        Ok(self.enqueue(from, messages, now, policy, false).await?.0)
    }

    /// A copy's entry follows the entry before it in its stream (`0-*` numbers them one
    /// after the other, and never again): a connection that read that entry and found
    /// nothing after it can take this copy.
    async fn enqueue_placed(
        &self,
        from: Mailbox,
        messages: Vec<Outgoing>,
        now: i64,
        policy: MailboxPolicy,
    ) -> StoreResult<(Vec<Enqueued>, Vec<Placed>)> {
        self.enqueue(from, messages, now, policy, true).await
    }

    async fn fetch_messages(&self, mailbox: Mailbox, after: i64, limit: usize) -> StoreResult<Vec<StoredMessage>> {
        self.read_stream("ms", mailbox, message_entry(after).0, limit)
            .await?
            .into_iter()
            .map(|(entry, value)| {
                let c = parse_copy(value, mailbox.user).ok_or_else(|| corrupt("message"))?;
                Ok(StoredMessage {
                    seq: message_seq(entry, c.only),
                    id: c.id,
                    from: c.from,
                    from_device: c.from_device,
                    to: c.to,
                    envelope: c.envelope,
                    stored_at: c.stored_at,
                })
            })
            .collect()
    }

    async fn ack_messages(&self, mailbox: Mailbox, messages: &[MessageRef], now: i64) -> StoreResult<Vec<UserId>> {
        Ok(self.ack(mailbox, messages, now, false).await?.0)
    }

    /// A receipt's entry follows the entry before it in its stream, as a copy's does
    /// ([`Self::enqueue_placed`]); a receipt's `seq` is its entry's number.
    async fn ack_messages_placed(
        &self,
        mailbox: Mailbox,
        messages: &[MessageRef],
        now: i64,
    ) -> StoreResult<(Vec<UserId>, Vec<PlacedReceipt>)> {
        self.ack(mailbox, messages, now, true).await
    }

    async fn retry_messages(&self, mailbox: Mailbox, messages: &[MessageRef], now: i64) -> StoreResult<Vec<UserId>> {
        if messages.is_empty() {
            return Ok(vec![]);
        }
        let mut call = ScriptCall::new(&RETRY);
        call.arg(&self.prefix).id(&mailbox.user.0).id(&mailbox.device.0).arg(now);
        for m in messages {
            add_copy(&mut call, m);
            call.id(&Uuid::now_v7());
        }
        users(call.run(&self.conn).await?, "retry")
    }

    async fn read_messages(
        &self,
        reader: Mailbox,
        sender: UserId,
        ids: &[MessageId],
        now: i64,
    ) -> StoreResult<Vec<UserId>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let mut call = ScriptCall::new(&READ);
        call.arg(&self.prefix).id(&reader.user.0).id(&reader.device.0).id(&sender.0).arg(now);
        for id in ids {
            call.id(id).id(&Uuid::now_v7());
        }
        users(call.run(&self.conn).await?, "read")
    }

    async fn fetch_receipts(&self, mailbox: Mailbox, after: i64, limit: usize) -> StoreResult<Vec<StoredReceipt>> {
        self.read_stream("rs", mailbox, after, limit)
            .await?
            .into_iter()
            .map(|(seq, value)| parse_receipt(seq, &value).ok_or_else(|| corrupt("receipt")))
            .collect()
    }

    async fn ack_receipts(&self, mailbox: Mailbox, receipts: &[ReceiptRef]) -> StoreResult<()> {
        if receipts.is_empty() {
            return Ok(());
        }
        let mut xdel = redis::cmd("XDEL");
        xdel.arg(mailbox_key(&self.prefix, "rs", mailbox));
        for receipt in receipts {
            xdel.arg(entry_id(receipt.seq));
        }
        reply(&self.conn, &xdel).await?;
        Ok(())
    }

    async fn expire(&self, now: i64, ttl_secs: i64, limit: usize) -> StoreResult<Vec<UserId>> {
        let mut call = ScriptCall::new(&EXPIRE);
        call.arg(&self.prefix).arg(now - ttl_secs).arg(now).arg(limit);
        for _ in 0..limit {
            call.id(&Uuid::now_v7());
        }
        users(call.run(&self.conn).await?, "expire")
    }

    async fn depth(&self, mailbox: Mailbox) -> StoreResult<u64> {
        let mut conn = self.conn.clone();
        let n: u64 = redis::cmd("XLEN").arg(mailbox_key(&self.prefix, "ms", mailbox)).query_async(&mut conn).await?;
        Ok(n)
    }

    async fn total_depth(&self) -> StoreResult<u64> {
        let mut conn = self.conn.clone();
        let n: Option<i64> = redis::cmd("GET").arg(self.key("mtotal")).query_async(&mut conn).await?;
        Ok(n.unwrap_or(0).max(0) as u64)
    }
}
