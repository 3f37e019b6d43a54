//! [`MailboxStore`] on SQLite: `messages`, `message_ids` (dedup of resends) and `receipts`
//! tables keyed by 16-byte BLOB ids, each operation one transaction (a batch of sends is
//! one transaction too).

use async_trait::async_trait;
use hush_shared::ws::{MessageId, ReceiptId, ReceiptKind};
use hush_shared::{DeviceId, UserId};
use rusqlite::{OptionalExtension, Transaction, params};
use uuid::Uuid;

use super::{SqliteStore, uuid_blob};
use crate::store::{Enqueued, MailboxPolicy, MailboxStore, Outgoing, StoreResult, StoredMessage, StoredReceipt};

/// A receipt kind as stored (migration 0004).
fn kind_code(kind: ReceiptKind) -> i64 {
    match kind {
        ReceiptKind::Delivered => 0,
        ReceiptKind::Read => 1,
        ReceiptKind::Expired => 2,
        ReceiptKind::Resend => 3,
    }
}

fn kind_from(code: i64) -> ReceiptKind {
    match code {
        1 => ReceiptKind::Read,
        2 => ReceiptKind::Expired,
        3 => ReceiptKind::Resend,
        _ => ReceiptKind::Delivered,
    }
}

/// A UUID as the 16-byte BLOB the mailbox tables key on.
fn blob(id: &Uuid) -> &[u8] {
    id.as_bytes()
}

fn insert_receipt(
    tx: &Transaction<'_>,
    user: &Uuid,
    kind: ReceiptKind,
    message_id: &Uuid,
    peer: &Uuid,
    at: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO receipts (user_id, id, kind, message_id, peer, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![blob(user), blob(&Uuid::now_v7()), kind_code(kind), blob(message_id), blob(peer), at])?;
    Ok(())
}

/// Deletes messages `to` received and queues `kind` receipts for their senders, in one
/// transaction; the senders, sorted. A `resend` also forgets the message id, so the sender
/// may send it again under the same id.
fn take_messages(
    c: &mut rusqlite::Connection,
    to: UserId,
    ids: &[MessageId],
    kind: ReceiptKind,
    now: i64,
) -> rusqlite::Result<Vec<UserId>> {
    let tx = c.transaction()?;
    let mut senders = Vec::new();
    for id in ids {
        let sender: Option<Uuid> = tx
            .prepare_cached("DELETE FROM messages WHERE recipient = ?1 AND id = ?2 RETURNING sender")?
            .query_row(params![blob(&to.0), blob(id)], |r| uuid_blob(r, 0))
            .optional()?;
        if let Some(sender) = sender {
            if kind == ReceiptKind::Resend {
                tx.prepare_cached("DELETE FROM message_ids WHERE sender = ?1 AND id = ?2")?
                    .execute(params![blob(&sender), blob(id)])?;
            }
            insert_receipt(&tx, &sender, kind, id, &to.0, now)?;
            senders.push(UserId(sender));
        }
    }
    tx.commit()?;
    senders.sort();
    Ok(senders)
}

/// Messages waiting for `recipient` (kept by triggers, migration 0005).
fn depth_of(c: &rusqlite::Connection, recipient: &[u8]) -> rusqlite::Result<i64> {
    let depth = c
        .prepare_cached("SELECT messages FROM mailbox_depth WHERE recipient = ?1")?
        .query_row([recipient], |r| r.get(0))
        .optional()?;
    Ok(depth.unwrap_or(0))
}

/// Stores one message of a batch. `depths` remembers each recipient's mailbox depth
/// within the batch, so it is looked up once per recipient rather than once per message.
fn enqueue_one(
    tx: &Transaction<'_>,
    (from, from_device): (&Uuid, &Uuid),
    message: &Outgoing,
    now: i64,
    policy: MailboxPolicy,
    depths: &mut Vec<(UserId, i64)>,
) -> rusqlite::Result<Enqueued> {
    let (to, id) = (blob(&message.to.0), blob(&message.id));
    // Claiming the id is the duplicate check: a resend finds it taken.
    let claimed = tx
        .prepare_cached("INSERT INTO message_ids (sender, id, stored_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")?
        .execute(params![blob(from), id, now])?;
    if claimed == 0 {
        let at = tx
            .prepare_cached("SELECT stored_at FROM message_ids WHERE sender = ?1 AND id = ?2")?
            .query_row(params![blob(from), id], |r| r.get(0))?;
        return Ok(Enqueued::Duplicate { at });
    }
    let index = match depths.iter().position(|(who, _)| *who == message.to) {
        Some(index) => index,
        None => {
            depths.push((message.to, depth_of(tx, to)?));
            depths.len() - 1
        }
    };
    if depths[index].1 >= i64::from(policy.max_messages) {
        // Not stored, so not a duplicate if sent again later.
        tx.prepare_cached("DELETE FROM message_ids WHERE sender = ?1 AND id = ?2")?.execute(params![blob(from), id])?;
        return Ok(Enqueued::MailboxFull);
    }
    tx.prepare_cached(
        "INSERT INTO messages (recipient, sender, sender_device, id, envelope, stored_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![to, blob(from), blob(from_device), id, message.envelope, now])?;
    depths[index].1 += 1;
    Ok(Enqueued::Stored { at: now })
}

#[async_trait]
impl MailboxStore for SqliteStore {
    async fn enqueue_many(
        &self,
        from: UserId,
        from_device: DeviceId,
        messages: Vec<Outgoing>,
        now: i64,
        policy: MailboxPolicy,
    ) -> StoreResult<Vec<Enqueued>> {
        self.call(move |c| {
            // One transaction, one commit, for the whole batch.
            let tx = c.transaction()?;
            let mut depths = Vec::new();
            let answers = messages
                .iter()
                .map(|m| enqueue_one(&tx, (&from.0, &from_device.0), m, now, policy, &mut depths))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            tx.commit()?;
            Ok(answers)
        })
        .await
    }

    async fn fetch_messages(&self, to: UserId, after: i64, limit: usize) -> StoreResult<Vec<StoredMessage>> {
        self.call(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, id, sender, sender_device, envelope, stored_at FROM messages WHERE recipient = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![blob(&to.0), after, limit as i64], |r| {
                // Messages queued before crypto v2 have no sender device.
                let from_device = r.get::<_, Option<Vec<u8>>>(3)?.map_or(Ok(Uuid::nil()), |_| uuid_blob(r, 3))?;
                Ok(StoredMessage {
                    seq: r.get(0)?,
                    id: uuid_blob(r, 1)?,
                    from: UserId(uuid_blob(r, 2)?),
                    from_device: DeviceId(from_device),
                    envelope: r.get(4)?,
                    stored_at: r.get(5)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn ack_messages(&self, to: UserId, ids: &[MessageId], now: i64) -> StoreResult<Vec<UserId>> {
        let ids = ids.to_vec();
        self.call(move |c| take_messages(c, to, &ids, ReceiptKind::Delivered, now)).await
    }

    async fn retry_messages(&self, to: UserId, ids: &[MessageId], now: i64) -> StoreResult<Vec<UserId>> {
        let ids = ids.to_vec();
        self.call(move |c| take_messages(c, to, &ids, ReceiptKind::Resend, now)).await
    }

    async fn add_receipts(
        &self,
        user: UserId,
        peer: UserId,
        kind: ReceiptKind,
        message_ids: &[MessageId],
        now: i64,
    ) -> StoreResult<()> {
        let ids = message_ids.to_vec();
        self.call(move |c| {
            let tx = c.transaction()?;
            for id in ids {
                insert_receipt(&tx, &user.0, kind, &id, &peer.0, now)?;
            }
            tx.commit()
        })
        .await
    }

    async fn fetch_receipts(&self, user: UserId, after: i64, limit: usize) -> StoreResult<Vec<StoredReceipt>> {
        self.call(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, id, kind, message_id, peer, at FROM receipts WHERE user_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![blob(&user.0), after, limit as i64], |r| {
                Ok(StoredReceipt {
                    seq: r.get(0)?,
                    id: uuid_blob(r, 1)?,
                    kind: kind_from(r.get(2)?),
                    message_id: uuid_blob(r, 3)?,
                    peer: UserId(uuid_blob(r, 4)?),
                    at: r.get(5)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn ack_receipts(&self, user: UserId, ids: &[ReceiptId]) -> StoreResult<()> {
        let ids = ids.to_vec();
        self.call(move |c| {
            let tx = c.transaction()?;
            for id in ids {
                tx.prepare_cached("DELETE FROM receipts WHERE user_id = ?1 AND id = ?2")?
                    .execute(params![blob(&user.0), blob(&id)])?;
            }
            tx.commit()
        })
        .await
    }

    async fn expire(&self, now: i64, ttl_secs: i64, limit: usize) -> StoreResult<Vec<UserId>> {
        self.call(move |c| {
            let tx = c.transaction()?;
            let cutoff = now - ttl_secs;
            let expired: Vec<(i64, Uuid, Uuid, Uuid)> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT seq, recipient, sender, id FROM messages WHERE stored_at <= ?1 ORDER BY stored_at LIMIT ?2",
                )?;
                let rows = stmt.query_map(params![cutoff, limit as i64], |r| {
                    Ok((r.get(0)?, uuid_blob(r, 1)?, uuid_blob(r, 2)?, uuid_blob(r, 3)?))
                })?;
                rows.collect::<Result<_, _>>()?
            };
            let mut senders = Vec::new();
            for (seq, recipient, sender, id) in expired {
                tx.prepare_cached("DELETE FROM messages WHERE seq = ?1")?.execute([seq])?;
                insert_receipt(&tx, &sender, ReceiptKind::Expired, &id, &recipient, now)?;
                senders.push(UserId(sender));
            }
            // Dedup records older than any live message can be forgotten.
            tx.prepare_cached("DELETE FROM message_ids WHERE stored_at <= ?1")?.execute([cutoff])?;
            tx.commit()?;
            senders.sort();
            senders.dedup();
            Ok(senders)
        })
        .await
    }

    async fn depth(&self, to: UserId) -> StoreResult<u64> {
        self.call(move |c| depth_of(c, blob(&to.0)).map(|n| n as u64)).await
    }

    async fn total_depth(&self) -> StoreResult<u64> {
        self.call(|c| {
            c.query_row("SELECT COALESCE(SUM(messages), 0) FROM mailbox_depth", [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
        })
        .await
    }
}
