//! [`MailboxStore`] on SQLite: one mailbox per device (migration 0008). `messages` holds
//! one row per copy (device) of a message, `message_ids` one record per message
//! ([`message_records`](super::message_records): dedup of resends, and whether it was
//! delivered, read or expired, so receipts roll up per person), `receipts` one row per
//! device a receipt goes to, `mailboxes` each person's device mailboxes. Ids are 16-byte
//! BLOBs; each operation is one transaction, except sends, which share one with the sends
//! of other connections arriving meanwhile (`group_commit`), and acks, which wait in memory
//! to be written many at a time (`deferred_acks`). Rows are numbered and mailboxes counted
//! in memory ([`MailboxCounts`], migration 0014), and acks find a copy by the `seq` it was
//! read at: each page a commit touches is a WAL frame written.

use async_trait::async_trait;
use hush_shared::ws::{MessageId, ReceiptKind};
use hush_shared::{DeviceId, UserId};
use rusqlite::{Connection, OptionalExtension, ToSql, params};
use uuid::Uuid;

use super::deferred_acks::{DeferredAcks, Writing};
use super::mailbox_counts::{DepthChanges, MailboxCounts, first_seq_after};
use super::mailbox_write::Write;
use super::message_records::{self as records, DELIVERED, EXPIRED, Generation, Generations, Record};
use super::pending_sends::Unwritten;
use super::send_journal::{self, Journaled, JournaledCopy, JournaledSend};
use super::unacked_copies::UnackedCopies;
use super::{MailboxMemory, SqliteStore, receipt_kind_code, receipt_kind_from, uuid_blob};
use crate::store::{
    Enqueued, Mailbox, MailboxPolicy, MailboxStore, MessageRef, Outgoing, Placed, Preceding, RECEIPTS_KEPT_PER_MAILBOX,
    ReceiptRef, StoreResult, StoredMessage, StoredReceipt,
};

/// The device of rows queued before devices had mailboxes (migration 0008).
const UNASSIGNED: [u8; 16] = [0; 16];

/// A UUID as the 16-byte BLOB the mailbox tables key on.
fn blob(id: &Uuid) -> &[u8] {
    id.as_bytes()
}

/// One receipt about `message_id` (with `peer`, and for a resend `peer_device`).
struct Receipt<'a> {
    kind: ReceiptKind,
    message_id: &'a Uuid,
    peer: &'a Uuid,
    peer_device: Option<&'a Uuid>,
    at: i64,
}

/// Which of a person's mailboxes a receipt goes to.
enum Devices<'a> {
    /// Every one.
    All,
    /// Only this device's.
    Only(&'a Uuid),
    /// Every one but this device's.
    AllBut(&'a Uuid),
}

/// The devices of `user`'s mailboxes that `devices` names.
fn mailboxes_of(
    c: &Connection,
    counts: &mut MailboxCounts,
    user: &Uuid,
    devices: Devices<'_>,
) -> rusqlite::Result<Vec<Uuid>> {
    let all = counts.devices_of(c, user)?.iter();
    Ok(match devices {
        Devices::All => all.copied().collect(),
        Devices::Only(only) => all.filter(|d| *d == only).copied().collect(),
        Devices::AllBut(but) => all.filter(|d| *d != but).copied().collect(),
    })
}

/// `receipt` for the mailboxes of `user` that `devices` names, under one receipt id, each
/// numbered in its mailbox's queue (not written yet).
fn numbered_receipts(
    c: &Connection,
    counts: &mut MailboxCounts,
    (user, devices): (&Uuid, Devices<'_>),
    receipt: &Receipt<'_>,
) -> rusqlite::Result<Vec<(Mailbox, StoredReceipt)>> {
    let id = Uuid::now_v7();
    mailboxes_of(c, counts, user, devices)?
        .into_iter()
        .map(|device| {
            let numbered = StoredReceipt {
                seq: counts.next_seq(c, receipt.at)?,
                id,
                kind: receipt.kind,
                message_id: *receipt.message_id,
                peer: UserId(*receipt.peer),
                peer_device: receipt.peer_device.copied().map(DeviceId),
                at: receipt.at,
            };
            Ok((Mailbox { user: UserId(*user), device: DeviceId(device) }, numbered))
        })
        .collect()
}

/// Writes one receipt into `mailbox`'s queue (one there already — a receipt the journal
/// held, written again at start — is left as it is).
pub(super) fn insert_receipt(
    c: &Connection,
    counts: &mut MailboxCounts,
    mailbox: &Mailbox,
    r: &StoredReceipt,
) -> rusqlite::Result<()> {
    counts.receipt_written(*mailbox, r.seq);
    c.prepare_cached(
        "INSERT INTO receipts (seq, user_id, device, id, kind, message_id, peer, peer_device, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING",
    )?
    .execute(params![
        r.seq,
        blob(&mailbox.user.0),
        blob(&mailbox.device.0),
        blob(&r.id),
        receipt_kind_code(r.kind),
        blob(&r.message_id),
        blob(&r.peer.0),
        r.peer_device.as_ref().map(|d| blob(&d.0)),
        r.at,
    ])?;
    Ok(())
}

/// The `delivered` receipt of `message`, acked in `mailbox` at `now`.
fn delivered<'a>(mailbox: &'a Mailbox, message: &'a MessageRef, now: i64) -> Receipt<'a> {
    Receipt { kind: ReceiptKind::Delivered, message_id: &message.id, peer: &mailbox.user.0, peer_device: None, at: now }
}

/// Queues `receipt` in mailboxes of `user`, under one receipt id.
fn queue_receipt(
    (tx, counts): (&Connection, &mut MailboxCounts),
    user: &Uuid,
    devices: Devices<'_>,
    receipt: &Receipt<'_>,
) -> rusqlite::Result<()> {
    for (mailbox, numbered) in numbered_receipts(tx, counts, (user, devices), receipt)? {
        insert_receipt(tx, counts, &mailbox, &numbered)?;
    }
    Ok(())
}

/// A copy taken out of a mailbox (its sender is the one the ack or retry named).
struct Taken {
    sender_device: Option<Uuid>,
    /// Copies that went to the recipient's devices (0: not known).
    copies: i64,
}

/// The condition naming one copy in a mailbox, with [`copy_params`] as `?1`…`?5`: where it was
/// read (`seq`), whose mailbox, and the message (an ack names it as it was handed out). A
/// macro, so statements are put together at compile time (`concat!`).
macro_rules! one_copy {
    () => {
        "seq = ?1 AND recipient = ?2 AND device = ?3 AND id = ?4 AND sender = ?5"
    };
}
pub(super) use one_copy;

/// The values of [`one_copy`] for `message` in `mailbox`.
pub(super) fn copy_params<'a>(mailbox: &'a Mailbox, message: &'a MessageRef) -> [&'a dyn ToSql; 5] {
    let (user, device) = (mailbox.user.0.as_bytes(), mailbox.device.0.as_bytes());
    [&message.seq, user, device, message.id.as_bytes(), message.sender.0.as_bytes()]
}

/// Deletes the copy of `message` in `mailbox` (found by its `seq`), if it was there, and
/// forgets it as unacked.
fn take_copy(step: &mut Step<'_>, mailbox: Mailbox, message: &MessageRef) -> rusqlite::Result<Option<Taken>> {
    step.unacked.take(mailbox, message);
    let taken = step
        .tx
        .prepare_cached(concat!("DELETE FROM messages WHERE ", one_copy!(), " RETURNING sender_device, copies"))?
        .query_row(copy_params(&mailbox, message), |r| {
            let sender_device = r.get::<_, Option<Vec<u8>>>(0)?.map_or(Ok(None), |_| uuid_blob(r, 0).map(Some))?;
            Ok(Taken { sender_device, copies: r.get(1)? })
        })
        .optional()?;
    if taken.is_some() {
        step.changes.add(mailbox, -1);
    }
    Ok(taken)
}

/// One mailbox transaction: the transaction, the counters, the acks still deferred, the
/// depths it changed, and where it stored copies (with the batch's message being stored).
struct Step<'a> {
    tx: &'a Connection,
    counts: &'a mut MailboxCounts,
    deferred: &'a DeferredAcks,
    generations: &'a mut Generations,
    unacked: &'a mut UnackedCopies,
    changes: DepthChanges,
    placed: Vec<Placed>,
    /// The copies stored, with their message and its number of copies, to remember once
    /// the transaction commits (`unacked_copies`).
    stored: Vec<((Mailbox, i64), UserId, Uuid, i64)>,
    /// The messages kept pending, to add once the transaction is done (`pending_sends`).
    sends: Vec<JournaledSend>,
    message: usize,
}

impl<'a> Step<'a> {
    fn new(tx: &'a Connection, memory: &'a mut MailboxMemory, changes: DepthChanges) -> Self {
        let MailboxMemory { counts, deferred, generations, unacked, .. } = memory;
        let (placed, stored, sends) = (Vec::new(), Vec::new(), Vec::new());
        Self { tx, counts, deferred, generations, unacked, changes, placed, stored, sends, message: 0 }
    }

    /// The message records' table with the generations kept (`message_records`).
    fn records(&mut self) -> rusqlite::Result<(&'a Connection, &[Generation])> {
        Ok((self.tx, self.generations.kept(self.tx)?))
    }

    /// Copies waiting in `mailbox`, not counting those acked whose deletion waits.
    fn depth(&mut self, mailbox: Mailbox) -> rusqlite::Result<i64> {
        Ok(self.counts.depth(self.tx, mailbox, &self.changes)? - self.deferred.acked_in(mailbox))
    }
}

/// Which deferred acks (`deferred_acks`) a mailbox transaction writes first.
#[derive(Clone, Copy)]
pub(super) enum Deferred {
    /// All of them: the transaction acts on rows they concern, or may (expiry, a closed
    /// mailbox, a deleted account, a retry or read, an ack written at once).
    All,
    /// Only once they are due, and then all but those awaiting their receipt's ack
    /// ([`Writing::AllButAwaited`]): a send or an ack adds rows and acts on none (a full
    /// mailbox is judged without the copies acked here). Left to wait, acks are written many
    /// at a time, and a `delivered` receipt its sender acks meanwhile is never written at all.
    IfDue,
    /// All but those awaiting their receipt's ack ([`Writing::AllButAwaited`]), due or not:
    /// the store owner's frequent write, which keeps every write small.
    Settled,
}

/// Begins a mailbox transaction, writing deferred acks into it first as `deferred` says;
/// the depths they change are the transaction's first changes. Every transaction on the
/// mailbox tables begins here; inside an open batch (`group_commit`) it is a savepoint.
pub(super) fn begin<'c>(
    c: &'c Connection,
    memory: &mut MailboxMemory,
    deferred: Deferred,
) -> rusqlite::Result<(Write<'c>, DepthChanges)> {
    let tx = Write::begin(c)?;
    let changes = match deferred {
        Deferred::IfDue if !memory.deferred.due() => DepthChanges::default(),
        Deferred::IfDue | Deferred::Settled => {
            memory.deferred.write(&tx, &mut memory.counts, Writing::AllButAwaited)?
        }
        Deferred::All => memory.deferred.write(&tx, &mut memory.counts, Writing::Everything)?,
    };
    Ok((tx, changes))
}

/// Commits a transaction [`begin`] began that changed mailbox depths by `changes` (inside a
/// batch: releases its savepoint; the batch commits later).
pub(super) fn commit(tx: Write<'_>, memory: &mut MailboxMemory, changes: DepthChanges) -> rusqlite::Result<()> {
    let into_batch = tx.in_batch();
    tx.commit()?;
    written(memory, changes, into_batch);
    Ok(())
}

/// Ends a transaction [`begin`] began for sends without committing it (`group_commit`): a
/// transaction of its own stays open as the batch later sends join; a savepoint in the
/// batch is released into it. The batch commits later.
fn hold(tx: Write<'_>, memory: &mut MailboxMemory, changes: DepthChanges) -> rusqlite::Result<()> {
    tx.hold()?;
    written(memory, changes, true);
    Ok(())
}

/// What the memory learns once a mailbox transaction's writes are done (`into_batch`: done
/// in the open batch of sends, which commits later): the depths it changed, and that the
/// deferred acks it wrote are no longer waiting.
fn written(memory: &mut MailboxMemory, changes: DepthChanges, into_batch: bool) {
    memory.counts.committed(changes);
    memory.deferred.committed(into_batch);
}

/// Writes the deferred acks `deferred` says now, in a transaction of their own (a savepoint
/// inside an open batch of sends); none when nothing waits.
fn write_deferred(c: &mut Connection, memory: &mut MailboxMemory, deferred: Deferred) -> rusqlite::Result<()> {
    if memory.deferred.is_empty() {
        return Ok(());
    }
    let (tx, changes) = begin(c, memory, deferred)?;
    commit(tx, memory, changes)
}

/// How many copies of `message` went to its recipient's devices (0: not known), if its copy
/// is still in `mailbox`.
fn copies_of(c: &Connection, mailbox: Mailbox, message: &MessageRef) -> rusqlite::Result<Option<i64>> {
    c.prepare_cached(concat!("SELECT copies FROM messages WHERE ", one_copy!()))?
        .query_row(copy_params(&mailbox, message), |r| r.get(0))
        .optional()
}

/// `ack` of copies in `mailbox`: each one that needs nothing but itself and memory to
/// decide its receipt — a copy still pending (`pending_sends` knows whether it delivers its
/// message), the only copy of its message, or a copy on the sender's own other device — is
/// deferred with its receipt (`deferred_acks`); the others are returned, to be written now.
/// How many copies a message in the table went to is known from memory for one this
/// process stored (`unacked_copies`), and looked up for any other (nothing is written
/// here).
fn defer_acks(
    c: &Connection,
    memory: &mut MailboxMemory,
    (mailbox, messages): (Mailbox, &[MessageRef]),
    now: i64,
    told: &mut Vec<UserId>,
) -> rusqlite::Result<Vec<MessageRef>> {
    let mut at_once = Vec::new();
    for message in messages {
        if memory.deferred.has_message(mailbox, message.seq) {
            continue;
        }
        // A copy still pending is dropped there: its row is never written.
        let pending = memory.pending.ack(mailbox, message);
        // Forgotten there either way.
        let unacked = memory.unacked.take(mailbox, message);
        // Whether this ack delivers the message, if that is known without writing.
        let delivers = match pending {
            Some(delivers) => Some(delivers),
            None => {
                let copies = match unacked {
                    Some(copies) => Some(copies),
                    None => copies_of(c, mailbox, message)?,
                };
                // Not there: acked already, or gone (expired, a closed mailbox).
                let Some(copies) = copies else { continue };
                if message.sender == mailbox.user {
                    Some(false)
                } else if copies == 1 {
                    Some(true)
                } else {
                    None
                }
            }
        };
        let in_table = pending.is_none();
        match delivers {
            Some(false) => memory.deferred.defer_message((mailbox, *message, in_table), vec![]),
            Some(true) => {
                // Numbered now, written later (`deferred_acks`).
                let receipt = delivered(&mailbox, message, now);
                let receipts = numbered_receipts(c, &mut memory.counts, (&message.sender.0, Devices::All), &receipt)?;
                memory.deferred.defer_message((mailbox, *message, in_table), receipts);
                told.push(message.sender);
            }
            None => at_once.push(*message),
        }
    }
    Ok(at_once)
}

/// Runs `each` on every item in one transaction; the people it told, sorted and distinct.
fn each<T>(
    (c, memory): (&mut rusqlite::Connection, &mut MailboxMemory),
    items: &[T],
    mut each: impl FnMut(&mut Step<'_>, &T, &mut Vec<UserId>) -> rusqlite::Result<()>,
) -> rusqlite::Result<Vec<UserId>> {
    let (tx, changes) = begin(c, memory, Deferred::All)?;
    let mut told = Vec::new();
    let mut step = Step::new(&tx, memory, changes);
    for item in items {
        each(&mut step, item, &mut told)?;
    }
    let changes = step.changes;
    commit(tx, memory, changes)?;
    told.sort();
    told.dedup();
    Ok(told)
}

/// `ack`: deletes the copies; the first copy of a message acked by its recipient queues
/// one `delivered` receipt in every mailbox of the sender.
fn ack_copy(
    step: &mut Step<'_>,
    mailbox: Mailbox,
    message: &MessageRef,
    now: i64,
    told: &mut Vec<UserId>,
) -> rusqlite::Result<()> {
    let Some(Taken { copies, .. }) = take_copy(step, mailbox, message)? else { return Ok(()) };
    let (sender, id) = (message.sender.0, &message.id);
    // A copy on the sender's own other device is not a delivery; the only copy needs no
    // record that it was delivered (no other copy can deliver it again).
    if sender != mailbox.user.0 && (copies == 1 || records::mark(step.records()?, &sender, id, DELIVERED, EXPIRED)?) {
        queue_receipt((step.tx, step.counts), &sender, Devices::All, &delivered(&mailbox, message, now))?;
        told.push(UserId(sender));
    }
    Ok(())
}

/// `retry`: deletes the copy, remembers that this device wants it again and asks the
/// sending device for it (`resend`).
fn retry_copy(
    step: &mut Step<'_>,
    mailbox: Mailbox,
    message: &MessageRef,
    now: i64,
    told: &mut Vec<UserId>,
) -> rusqlite::Result<()> {
    let Some(Taken { sender_device, .. }) = take_copy(step, mailbox, message)? else {
        return Ok(());
    };
    let (sender, id) = (message.sender.0, &message.id);
    step.tx
        .prepare_cached(
            "INSERT INTO resend_wanted (sender, id, recipient, device, at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT DO NOTHING",
        )?
        .execute(params![blob(&sender), blob(id), blob(&mailbox.user.0), blob(&mailbox.device.0), now])?;
    let receipt = Receipt {
        kind: ReceiptKind::Resend,
        message_id: id,
        peer: &mailbox.user.0,
        peer_device: Some(&mailbox.device.0),
        at: now,
    };
    // Messages queued before crypto v2 name no sending device: any device may resend.
    let devices = sender_device.as_ref().map_or(Devices::All, Devices::Only);
    queue_receipt((step.tx, step.counts), &sender, devices, &receipt)?;
    told.push(UserId(sender));
    Ok(())
}

/// `read`: a message `sender` sent to the reader's person and not yet read gets one `read`
/// receipt for the sender's devices and one `read_elsewhere` for the reader's other devices.
fn read_copy(
    step: &mut Step<'_>,
    (reader, sender): (Mailbox, UserId),
    id: &Uuid,
    now: i64,
    told: &mut Vec<UserId>,
) -> rusqlite::Result<()> {
    if !records::mark_read(step.records()?, &sender.0, id, &reader.user.0)? {
        return Ok(());
    }
    let read = Receipt { kind: ReceiptKind::Read, message_id: id, peer: &reader.user.0, peer_device: None, at: now };
    queue_receipt((step.tx, step.counts), &sender.0, Devices::All, &read)?;
    let elsewhere =
        Receipt { kind: ReceiptKind::ReadElsewhere, message_id: id, peer: &sender.0, peer_device: None, at: now };
    queue_receipt((step.tx, step.counts), &reader.user.0, Devices::AllBut(&reader.device.0), &elsewhere)?;
    told.push(sender);
    told.push(reader.user);
    Ok(())
}

/// Deletes the oldest receipts of every mailbox holding more than [`RECEIPTS_KEPT_PER_MAILBOX`]
/// (one pass over the receipts index; those within the quota are not touched).
fn trim_receipts(tx: &Connection) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "DELETE FROM receipts WHERE seq IN (
             SELECT seq FROM (
                 SELECT seq, ROW_NUMBER() OVER (PARTITION BY user_id, device ORDER BY seq DESC) AS newer
                 FROM receipts
                 WHERE (user_id, device) IN
                     (SELECT user_id, device FROM receipts GROUP BY user_id, device HAVING COUNT(*) > ?1))
             WHERE newer > ?1)",
    )?
    .execute([RECEIPTS_KEPT_PER_MAILBOX as i64])
}

/// Whether a device of `(sender, id)`'s recipient asked for it again, consuming the wish.
fn take_resend_wish(tx: &Connection, sender: &Uuid, id: &Uuid, mailbox: Mailbox) -> rusqlite::Result<bool> {
    let taken = tx
        .prepare_cached("DELETE FROM resend_wanted WHERE sender = ?1 AND id = ?2 AND recipient = ?3 AND device = ?4")?
        .execute(params![blob(sender), blob(id), blob(&mailbox.user.0), blob(&mailbox.device.0)])?;
    Ok(taken == 1)
}

/// A copy's row in `messages`.
struct CopyRow<'a> {
    seq: i64,
    mailbox: Mailbox,
    from: Mailbox,
    id: &'a Uuid,
    addressee: &'a Uuid,
    envelope: &'a [u8],
    stored_at: i64,
    /// How many copies went to the recipient's devices (0: not known).
    copies: i64,
}

/// Writes one copy's row (one already there — a journaled send written again after a
/// restart — is left as it is).
fn write_copy(tx: &Connection, row: &CopyRow<'_>) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO messages (seq, recipient, device, sender, sender_device, id, addressee, envelope, stored_at, copies)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING",
    )?
    .execute(params![
        row.seq,
        blob(&row.mailbox.user.0),
        blob(&row.mailbox.device.0),
        blob(&row.from.user.0),
        blob(&row.from.device.0),
        blob(row.id),
        blob(row.addressee),
        row.envelope,
        row.stored_at,
        row.copies
    ])?;
    Ok(())
}

/// Numbers one copy of the batch's message in `mailbox` and remembers where it went; the
/// caller writes it, or keeps it pending. `copies` is how many went to the recipient's
/// devices (0: not known).
fn place_copy(
    step: &mut Step<'_>,
    from: Mailbox,
    message: &Outgoing,
    (mailbox, copies): (Mailbox, i64),
    now: i64,
) -> rusqlite::Result<i64> {
    let seq = step.counts.next_seq(step.tx, now)?;
    let prev = step.counts.tail(mailbox, &step.changes).map(Preceding::exactly);
    step.stored.push(((mailbox, seq), from.user, message.id, copies));
    step.changes.stored(mailbox, seq);
    step.placed.push(Placed { message: step.message, mailbox, seq, prev });
    Ok(seq)
}

/// Stores one copy in the table now.
fn insert_copy(
    step: &mut Step<'_>,
    from: Mailbox,
    message: &Outgoing,
    (mailbox, envelope, copies): (Mailbox, &[u8], i64),
    now: i64,
) -> rusqlite::Result<()> {
    let seq = place_copy(step, from, message, (mailbox, copies), now)?;
    let row =
        CopyRow { seq, mailbox, from, id: &message.id, addressee: &message.to.0, envelope, stored_at: now, copies };
    write_copy(step.tx, &row)
}

/// When `message` from `from` was first stored, if it was: a resend.
fn first_stored(
    c: &Connection,
    memory: &mut MailboxMemory,
    from: Mailbox,
    message: &Outgoing,
) -> rusqlite::Result<Option<i64>> {
    let (sender, id) = (&from.user.0, &message.id);
    match memory.pending.stored_at(sender, id) {
        Some(at) => Ok(Some(at)),
        None => memory.generations.find(c, sender, id),
    }
}

/// Stores one message of a batch, first stored at `stored_at` if it is a resend
/// ([`first_stored`]): it is kept pending, durable once its batch is appended to the
/// journal, and written later (`pending_sends`); a resend a device asked for is written now.
fn enqueue_one(
    step: &mut Step<'_>,
    from: Mailbox,
    (message, stored_at): (&Outgoing, Option<i64>),
    now: i64,
    policy: MailboxPolicy,
) -> rusqlite::Result<Enqueued> {
    // A resend: stored again only for a device that asked for it.
    if let Some(at) = stored_at {
        let mut resent = false;
        for copy in &message.copies {
            if take_resend_wish(step.tx, &from.user.0, &message.id, copy.mailbox)? {
                insert_copy(step, from, message, (copy.mailbox, &copy.envelope, 0), now)?;
                resent = true;
            }
        }
        return Ok(if resent { Enqueued::Stored { at } } else { Enqueued::Duplicate { at } });
    }
    for copy in &message.copies {
        if step.depth(copy.mailbox)? >= i64::from(policy.max_messages) {
            return Ok(Enqueued::MailboxFull);
        }
    }
    let copies = message.copies.iter().filter(|c| c.mailbox.user == message.to).count() as i64;
    let mut send = JournaledSend { from, id: message.id, addressee: message.to, stored_at: now, copies: Vec::new() };
    for copy in &message.copies {
        let seq = place_copy(step, from, message, (copy.mailbox, copies), now)?;
        send.copies.push(JournaledCopy { seq, mailbox: copy.mailbox, copies, envelope: copy.envelope.clone() });
    }
    step.sends.push(send);
    Ok(Enqueued::Stored { at: now })
}

/// Writes every pending send (`pending_sends`) — its message record, with whether it was
/// delivered, and its copies not acked yet — in a transaction of its own, then starts the
/// journal again: from then on the tables hold them. When a message to several devices is
/// recorded delivered by the commit, the `delivered` receipts the journal keeps
/// (`restart_journal`) are appended to it before the commit: a process dying between the
/// commit and the journal's restart then finds them too (the journaled send writes the
/// acked copy again, but its ack would queue no receipt). A message with one copy for its
/// recipient needs nothing more: that copy's ack queues its receipt again. Runs outside the
/// batch of sends (it commits); on an error the sends stay pending (and in the journal).
pub(super) fn write_pending(c: &Connection, memory: &mut MailboxMemory) -> rusqlite::Result<()> {
    let again = memory.deferred.take_to_write_again();
    if memory.pending.is_empty() && again.is_empty() {
        return Ok(());
    }
    let sends = memory.pending.take_all();
    let receipts = receipts_to_keep(memory);
    let written = (|| {
        let tx = Write::begin(c)?;
        write_open_receipts(&tx, &mut memory.counts, &again)?;
        let sent = sends.iter().map(|Unwritten { send, delivered, .. }| Record {
            sender: &send.from.user.0,
            id: &send.id,
            recipient: &send.addressee.0,
            stored_at: send.stored_at,
            state: if *delivered { DELIVERED } else { 0 },
        });
        memory.generations.record_all(&tx, &sent.collect::<Vec<_>>())?;
        for Unwritten { send, unacked, .. } in &sends {
            let id = &send.id;
            for (copy, _) in send.copies.iter().zip(unacked).filter(|(_, unacked)| **unacked) {
                let row = CopyRow {
                    seq: copy.seq,
                    mailbox: copy.mailbox,
                    from: send.from,
                    id,
                    addressee: &send.addressee.0,
                    envelope: &copy.envelope,
                    stored_at: send.stored_at,
                    copies: copy.copies,
                };
                write_copy(&tx, &row)?;
            }
        }
        let recorded_delivered = |u: &Unwritten| u.delivered && u.send.copies.iter().any(|copy| copy.copies > 1);
        if let Some(journal) = memory.journal.as_mut()
            && sends.iter().any(recorded_delivered)
        {
            journal.append(&receipts).map_err(|e| rusqlite::Error::UserFunctionError(Box::new(e)))?;
        }
        tx.commit()
    })();
    match written {
        Ok(()) => {
            restart_journal(memory, &receipts);
            Ok(())
        }
        Err(e) => {
            memory.pending.put_back(sends);
            memory.deferred.write_again_later(again);
            Err(e)
        }
    }
}

/// Writes `receipts` into their mailboxes' queues, those still open (one closed since — a
/// device removed, an account deleted — would be a row nobody reads).
fn write_open_receipts(
    tx: &Connection,
    counts: &mut MailboxCounts,
    receipts: &[(Mailbox, StoredReceipt)],
) -> rusqlite::Result<()> {
    for (mailbox, receipt) in receipts {
        if counts.devices_of(tx, &mailbox.user.0)?.contains(&mailbox.device.0) {
            insert_receipt(tx, counts, mailbox, receipt)?;
        }
    }
    Ok(())
}

/// The journal entries of the `delivered` receipts that acks of copies never written queued
/// and that still wait in memory: with their copies gone, only the journal brings them back
/// after a crash.
fn receipts_to_keep(memory: &MailboxMemory) -> Vec<u8> {
    let mut entries = Vec::new();
    if memory.journal.is_some() {
        for receipt in memory.deferred.receipts_of_unwritten() {
            send_journal::encode_receipt(receipt, &mut entries);
        }
    }
    entries
}

/// Starts the journal again (`send_journal`) with `entries` ([`receipts_to_keep`]) once
/// everything else it held is in the tables.
fn restart_journal(memory: &mut MailboxMemory, entries: &[u8]) {
    let Some(journal) = memory.journal.as_mut() else { return };
    if let Err(e) = journal.restart(entries) {
        // What it holds comes again at the next start, and is found written.
        tracing::error!(error = %e, path = %journal.path().display(), "starting the journal of sends again failed");
    }
}

/// Writes what the journal held when the store opened (`send_journal`): the receipts not
/// already there whose mailboxes are still open (one closed since — a device removed, an
/// account deleted — would be a row nobody reads), and the sends as pending ones are
/// written; the journal starts again empty.
pub(super) fn write_journaled(
    c: &Connection,
    memory: &mut MailboxMemory,
    journaled: Journaled,
) -> rusqlite::Result<()> {
    if !journaled.receipts.is_empty() {
        let tx = Write::begin(c)?;
        write_open_receipts(&tx, &mut memory.counts, &journaled.receipts)?;
        tx.commit()?;
    }
    for send in journaled.sends {
        memory.pending.add(send);
    }
    memory.pending.mark_journaled();
    write_pending(c, memory)?;
    restart_journal(memory, &[]);
    Ok(())
}

/// Up to `limit` rows of `mailbox`'s queue after `after`, oldest first, as `row` reads them;
/// `select` names the mailbox's user, device, the cursor and the limit as `?1`…`?4`.
fn queue_after<T>(
    c: &Connection,
    select: &str,
    (mailbox, after, limit): (Mailbox, i64, usize),
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let values = params![blob(&mailbox.user.0), blob(&mailbox.device.0), after, limit as i64];
    c.prepare_cached(select)?.query_map(values, row)?.collect()
}

/// Up to `limit` receipts of `mailbox`'s queue in the table after `after`, oldest first.
fn read_receipts(c: &Connection, mailbox: Mailbox, after: i64, limit: usize) -> rusqlite::Result<Vec<StoredReceipt>> {
    let select = "SELECT seq, id, kind, message_id, peer, peer_device, at FROM receipts
                  WHERE user_id = ?1 AND device = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4";
    queue_after(c, select, (mailbox, after, limit), |r| {
        let peer_device = r.get::<_, Option<Vec<u8>>>(5)?.map_or(Ok(None), |_| uuid_blob(r, 5).map(Some))?;
        Ok(StoredReceipt {
            seq: r.get(0)?,
            id: uuid_blob(r, 1)?,
            kind: receipt_kind_from(r.get(2)?),
            message_id: uuid_blob(r, 3)?,
            peer: UserId(uuid_blob(r, 4)?),
            peer_device: peer_device.map(DeviceId),
            at: r.get(6)?,
        })
    })
}

#[async_trait]
impl MailboxStore for SqliteStore {
    async fn open_mailbox(&self, mailbox: Mailbox) -> StoreResult<()> {
        self.call_mailbox(move |c, memory| {
            let (tx, changes) = begin(c, memory, Deferred::All)?;
            let (user, device) = (blob(&mailbox.user.0), blob(&mailbox.device.0));
            tx.prepare_cached("INSERT INTO mailboxes (user_id, device) VALUES (?1, ?2) ON CONFLICT DO NOTHING")?
                .execute(params![user, device])?;
            // Rows queued before devices had mailboxes belong to the person's one device.
            tx.prepare_cached("UPDATE messages SET device = ?2 WHERE recipient = ?1 AND device = ?3")?
                .execute(params![user, device, UNASSIGNED])?;
            tx.prepare_cached("UPDATE receipts SET device = ?2 WHERE user_id = ?1 AND device = ?3")?
                .execute(params![user, device, UNASSIGNED])?;
            commit(tx, memory, changes)?;
            memory.forget_rows();
            Ok(())
        })
        .await
    }

    async fn close_mailbox(&self, mailbox: Mailbox) -> StoreResult<()> {
        self.call_mailbox(move |c, memory| {
            let (tx, changes) = begin(c, memory, Deferred::All)?;
            let (user, device) = (blob(&mailbox.user.0), blob(&mailbox.device.0));
            tx.prepare_cached("DELETE FROM mailboxes WHERE user_id = ?1 AND device = ?2")?
                .execute(params![user, device])?;
            tx.prepare_cached("DELETE FROM messages WHERE recipient = ?1 AND device = ?2")?
                .execute(params![user, device])?;
            tx.prepare_cached("DELETE FROM receipts WHERE user_id = ?1 AND device = ?2")?
                .execute(params![user, device])?;
            tx.prepare_cached("DELETE FROM resend_wanted WHERE recipient = ?1 AND device = ?2")?
                .execute(params![user, device])?;
            commit(tx, memory, changes)?;
            memory.forget_rows();
            Ok(())
        })
        .await
    }

    async fn purge_between(&self, a: UserId, b: UserId) -> StoreResult<()> {
        self.call_mailbox(move |c, memory| {
            let (tx, changes) = begin(c, memory, Deferred::All)?;
            for (one, other) in [(a, b), (b, a)] {
                let pair = params![blob(&one.0), blob(&other.0)];
                tx.prepare_cached("DELETE FROM messages WHERE recipient = ?1 AND sender = ?2")?.execute(pair)?;
                tx.prepare_cached("DELETE FROM receipts WHERE user_id = ?1 AND peer = ?2")?.execute(pair)?;
            }
            commit(tx, memory, changes)?;
            memory.forget_rows();
            Ok(())
        })
        .await
    }

    async fn mark_seen(&self, mailbox: Mailbox, at: i64) -> StoreResult<()> {
        self.call(move |c| {
            c.prepare_cached("UPDATE mailboxes SET seen_at = ?3 WHERE user_id = ?1 AND device = ?2")?
                .execute(params![blob(&mailbox.user.0), blob(&mailbox.device.0), at])?;
            Ok(())
        })
        .await
    }

    async fn last_seen(&self, user: UserId) -> StoreResult<Vec<(DeviceId, i64)>> {
        self.call(move |c| {
            let mut stmt =
                c.prepare_cached("SELECT device, seen_at FROM mailboxes WHERE user_id = ?1 AND seen_at IS NOT NULL")?;
            let rows = stmt.query_map([blob(&user.0)], |r| Ok((DeviceId(uuid_blob(r, 0)?), r.get(1)?)))?;
            rows.collect()
        })
        .await
    }

    async fn enqueue_many(
        &self,
        from: Mailbox,
        messages: Vec<Outgoing>,
        now: i64,
        policy: MailboxPolicy,
    ) -> StoreResult<Vec<Enqueued>> {
        Ok(self.enqueue_placed(from, messages, now, policy).await?.0)
    }

    async fn enqueue_placed(
        &self,
        from: Mailbox,
        messages: Vec<Outgoing>,
        now: i64,
        policy: MailboxPolicy,
    ) -> StoreResult<(Vec<Enqueued>, Vec<Placed>)> {
        let (enqueued, ticket) = self
            .call_in_batch(move |c, memory| {
                // In the open batch of sends, or opening it. Only acks that are due and a
                // resend a device asked for write rows: new messages kept pending write none
                // and begin no transaction (`group_commit`).
                let first_stored = messages.iter().map(|m| first_stored(c, memory, from, m));
                let first_stored = first_stored.collect::<rusqlite::Result<Vec<_>>>()?;
                let (tx, changes) = if memory.deferred.due() || first_stored.iter().any(Option::is_some) {
                    let (tx, changes) = begin(c, memory, Deferred::IfDue)?;
                    (Some(tx), changes)
                } else {
                    (None, DepthChanges::default())
                };
                let mut step = Step::new(tx.as_deref().unwrap_or(c), memory, changes);
                let mut answers = Vec::with_capacity(messages.len());
                for (index, (message, stored_at)) in messages.iter().zip(first_stored).enumerate() {
                    step.message = index;
                    answers.push(enqueue_one(&mut step, from, (message, stored_at), now, policy)?);
                }
                let (changes, placed, stored, sends) = (step.changes, step.placed, step.stored, step.sends);
                match tx {
                    Some(tx) => hold(tx, memory, changes)?,
                    None => written(memory, changes, true),
                }
                for (place, sender, id, copies) in stored {
                    memory.unacked.stored(place, sender, id, copies);
                }
                for send in sends {
                    memory.pending.add(send);
                }
                Ok((answers, placed))
            })
            .await?;
        self.durable(ticket).await?;
        Ok(enqueued)
    }

    async fn fetch_messages(&self, mailbox: Mailbox, after: i64, limit: usize) -> StoreResult<Vec<StoredMessage>> {
        // Outside the batch of sends (`call` ends it): every pending copy is durable.
        self.call_mailbox_keeping_pending(move |c, memory| {
            if memory.deferred.hides_messages_from(mailbox, after) {
                write_deferred(c, memory, Deferred::All)?;
            }
            let select = "SELECT seq, id, sender, sender_device, addressee, envelope, stored_at FROM messages
                          WHERE recipient = ?1 AND device = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4";
            let mut read = queue_after(c, select, (mailbox, after, limit), |r| {
                // Messages queued before crypto v2 have no sender device.
                let from_device = r.get::<_, Option<Vec<u8>>>(3)?.map_or(Ok(Uuid::nil()), |_| uuid_blob(r, 3))?;
                Ok(StoredMessage {
                    seq: r.get(0)?,
                    id: uuid_blob(r, 1)?,
                    from: UserId(uuid_blob(r, 2)?),
                    from_device: DeviceId(from_device),
                    to: UserId(uuid_blob(r, 4)?),
                    envelope: r.get(5)?,
                    stored_at: r.get(6)?,
                })
            })?;
            let pending = memory.pending.copies_after(mailbox, after, limit);
            if !pending.is_empty() {
                read.extend(pending);
                read.sort_by_key(|m| m.seq);
                read.truncate(limit);
            }
            Ok(read)
        })
        .await
    }

    async fn ack_messages(&self, mailbox: Mailbox, messages: &[MessageRef], now: i64) -> StoreResult<Vec<UserId>> {
        let messages = messages.to_vec();
        self.call_mailbox_lazily(move |c, memory| {
            let mut told = Vec::new();
            let at_once = defer_acks(c, memory, (mailbox, &messages), now, &mut told)?;
            if !at_once.is_empty() {
                told.extend(each((c, memory), &at_once, |step, m, told| ack_copy(step, mailbox, m, now, told))?);
            } else if memory.deferred.due() {
                write_deferred(c, memory, Deferred::IfDue)?;
            }
            told.sort();
            told.dedup();
            Ok(told)
        })
        .await
    }

    async fn retry_messages(&self, mailbox: Mailbox, messages: &[MessageRef], now: i64) -> StoreResult<Vec<UserId>> {
        let messages = messages.to_vec();
        self.call_mailbox(move |c, memory| {
            each((c, memory), &messages, |step, m, told| retry_copy(step, mailbox, m, now, told))
        })
        .await
    }

    async fn read_messages(
        &self,
        reader: Mailbox,
        sender: UserId,
        ids: &[MessageId],
        now: i64,
    ) -> StoreResult<Vec<UserId>> {
        let ids = ids.to_vec();
        self.call_mailbox(move |c, memory| {
            each((c, memory), &ids, |step, id, told| read_copy(step, (reader, sender), id, now, told))
        })
        .await
    }

    async fn fetch_receipts(&self, mailbox: Mailbox, after: i64, limit: usize) -> StoreResult<Vec<StoredReceipt>> {
        self.call_mailbox_lazily(move |c, memory| {
            if memory.deferred.hides_receipts_from(mailbox, after) {
                write_deferred(c, memory, Deferred::All)?;
            }
            let mut receipts = if memory.counts.may_have_receipts(mailbox, after) {
                let read = read_receipts(c, mailbox, after, limit)?;
                if read.len() < limit {
                    memory.counts.receipts_end_at(mailbox, read.last().map_or(after, |r| r.seq));
                }
                read
            } else {
                Vec::new()
            };
            // With the receipts still waiting to be written, the first `limit` after `after`.
            receipts.extend(memory.deferred.receipts_for(mailbox, after).cloned());
            receipts.sort_by_key(|r| r.seq);
            receipts.truncate(limit);
            Ok(receipts)
        })
        .await
    }

    async fn ack_receipts(&self, mailbox: Mailbox, receipts: &[ReceiptRef]) -> StoreResult<()> {
        let receipts = receipts.to_vec();
        self.call_mailbox_lazily(move |c, memory| {
            memory.deferred.defer_receipt_acks(mailbox, &receipts);
            if memory.deferred.due() {
                write_deferred(c, memory, Deferred::IfDue)?;
            }
            Ok(())
        })
        .await
    }

    async fn flush(&self) -> StoreResult<()> {
        self.call_mailbox(|c, memory| {
            write_deferred(c, memory, Deferred::All)?;
            // Everything is in the tables: the journal keeps nothing.
            restart_journal(memory, &[]);
            Ok(())
        })
        .await
    }

    async fn flush_settled(&self) -> StoreResult<()> {
        // Ends the open batch: the pending sends are written (`call_mailbox`) outside it.
        self.call_mailbox(|c, memory| write_deferred(c, memory, Deferred::Settled)).await
    }

    async fn expire(&self, now: i64, ttl_secs: i64, limit: usize) -> StoreResult<Vec<UserId>> {
        self.call_mailbox(move |c, memory| {
            let (tx, changes) = begin(c, memory, Deferred::All)?;
            let cutoff = now - ttl_secs;
            // `seq` follows time (migration 0014): only the table's start can be that old.
            let expired: Vec<(i64, Mailbox, Uuid, Uuid, Uuid)> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT seq, recipient, device, sender, id, addressee FROM messages
                     WHERE seq < ?3 AND stored_at <= ?1 ORDER BY seq LIMIT ?2",
                )?;
                let rows = stmt.query_map(params![cutoff, limit as i64, first_seq_after(cutoff)], |r| {
                    let mailbox = Mailbox { user: UserId(uuid_blob(r, 1)?), device: DeviceId(uuid_blob(r, 2)?) };
                    Ok((r.get(0)?, mailbox, uuid_blob(r, 3)?, uuid_blob(r, 4)?, uuid_blob(r, 5)?))
                })?;
                rows.collect::<Result<_, _>>()?
            };
            let mut senders = Vec::new();
            let mut step = Step::new(&tx, memory, changes);
            for (seq, mailbox, sender, id, addressee) in &expired {
                let recipient = &mailbox.user.0;
                step.tx.prepare_cached("DELETE FROM messages WHERE seq = ?1")?.execute([seq])?;
                step.changes.add(*mailbox, -1);
                // One `expired` per message, and none once a device of the recipient has it.
                if recipient == addressee && records::mark(step.records()?, sender, id, EXPIRED, DELIVERED)? {
                    let receipt = Receipt {
                        kind: ReceiptKind::Expired,
                        message_id: id,
                        peer: addressee,
                        peer_device: None,
                        at: now,
                    };
                    queue_receipt((step.tx, step.counts), sender, Devices::All, &receipt)?;
                    senders.push(UserId(*sender));
                }
            }
            let changes = step.changes;
            if expired.len() < limit {
                // Every copy that old is gone: its message's record and wishes can go too.
                records::expire((&tx, &mut memory.generations), now, cutoff)?;
                tx.prepare_cached("DELETE FROM resend_wanted WHERE at <= ?1")?.execute([cutoff])?;
            }
            trim_receipts(&tx)?;
            commit(tx, memory, changes)?;
            if !expired.is_empty() {
                memory.unacked.forget();
            }
            senders.sort();
            senders.dedup();
            Ok(senders)
        })
        .await
    }

    async fn depth(&self, mailbox: Mailbox) -> StoreResult<u64> {
        // Copies acked and not yet deleted no longer wait.
        self.call_mailbox(move |c, memory| {
            let waiting = memory.counts.depth(c, mailbox, &DepthChanges::default())?;
            Ok((waiting - memory.deferred.acked_in(mailbox)) as u64)
        })
        .await
    }

    async fn total_depth(&self) -> StoreResult<u64> {
        self.call_mailbox(|c, memory| Ok((memory.counts.total(c)? - memory.deferred.acked()) as u64)).await
    }
}
