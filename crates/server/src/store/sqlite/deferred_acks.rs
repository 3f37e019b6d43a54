//! Acks kept in memory and written many at a time instead of each in a commit of its own.
//! An ack answers nothing, and delivery is at least once anyway: if the process dies
//! before an ack is written, the device gets the message or receipt again — clients ignore
//! a message id they hold (and ack it again) and apply a receipt twice to no effect. So a
//! message costs one commit, its store, instead of three (store; ack with its `delivered`
//! receipt; receipt ack), and the acks of many messages share the pages they touch
//! (BENCHMARKS.md, "Receipt acks deferred", "Message acks deferred", "Acks written many at
//! a time").
//!
//! The ack of a message's only copy, or of a copy on the sender's own other device, is
//! deferred whole: the `delivered` receipt it queues waits here, in memory, and the sender's
//! devices read it from here until it is written; a receipt acked before it is written —
//! the usual case, as its sender acks it a round trip later — is never written at all. So
//! is the ack of a copy still pending (`pending_sends`, which decides whether it delivers
//! its message, however many devices it went to). The ack of a copy in the table whose
//! receipt depends on what the other copies did (a recipient with several devices) is
//! written at once (`mailbox::ack_copy`).
//!
//! When they are written: by any mailbox transaction but a send or an ack
//! (`mailbox::Deferred`), so nothing (expiry, a closed mailbox, a deleted account, a retry)
//! acts on the tables without them; by a send or an ack too once [`MAX_DEFERRED`] settled
//! items, [`MAX_AWAITED`] awaited ones or [`MAX_DEFERRAL`] wait; by the store's owner every
//! [`SETTLED_FLUSH_INTERVAL`](crate::store::SETTLED_FLUSH_INTERVAL), due or not, so that no
//! write grows large ([`crate::store::MailboxStore::flush_settled`]), and all of them at a
//! clean shutdown ([`crate::store::MailboxStore::flush`]); and before a device reads from
//! before an ack deferred here (a new connection), so it never gets that message or receipt
//! again while the process lives.
//!
//! Written into the open batch of sends (`group_commit`), they are lost with it if its
//! commit fails, as with a crash: the copies and receipts its rollback leaves in the tables
//! come again. The `delivered` receipts of copies never in the table do not, so they are
//! kept until the batch ends and written again if it failed ([`DeferredAcks::batch_ended`]).
//!
//! When a send, an ack or the owner's tick writes them, a copy whose `delivered` receipt
//! still waits here unacked stays, with the receipt ([`Writing::AllButAwaited`]): with many
//! messages in flight a sender acks its receipts tens of milliseconds later, after the acks
//! fell due, and the receipt would be a row written only to be deleted again. It stays at
//! most [`AWAIT_AT_MOST`]; when more copies waited that long than settled in time (a sender
//! flooding the server acks its receipts later still), the next writes await nothing
//! (BENCHMARKS.md, "Copies kept for their receipt's ack").

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};

use super::mailbox::{copy_params, insert_receipt, one_copy};
use super::mailbox_counts::{DepthChanges, MailboxCounts};
use crate::maps::{HashMap, HashMapExt};
use crate::store::{MAX_DEFERRAL, Mailbox, MessageRef, ReceiptRef, StoredReceipt};

/// Settled items (see [`Writing::AllButAwaited`]) beyond which the next mailbox
/// transaction writes them.
pub const MAX_DEFERRED: usize = 1024;

/// Awaited items (a copy whose `delivered` receipt waits here unacked, and that receipt)
/// beyond which the next mailbox transaction writes everything.
pub const MAX_AWAITED: usize = 16384;

/// How long an acked copy may stay here awaiting its receipt's ack while settled items are
/// written (well under [`MAX_DEFERRAL`]). A device sending a burst acks its receipts behind
/// its own sends, 50 to 250 ms late on a busy server (BENCHMARKS.md, "Receipts kept
/// flowing"), and every client holds a receipt ack up to
/// [`RECEIPT_ACK_HOLD_MS`](hush_shared::ws::RECEIPT_ACK_HOLD_MS) for its next frame: twice
/// that fits with a round trip to spare.
pub const AWAIT_AT_MOST: Duration = Duration::from_millis(250);
const _: () = assert!(2 * hush_shared::ws::RECEIPT_ACK_HOLD_MS < AWAIT_AT_MOST.as_millis() as i64);

/// Writes that await nothing after one that found more copies awaiting too long than copies
/// settled in time (their senders ack receipts too slowly for awaiting to pay: a sender
/// flooding the server).
const WRITES_WITHOUT_AWAITING: u32 = 16;

/// What [`DeferredAcks::write`] writes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Writing {
    /// Everything waiting here.
    Everything,
    /// All but the awaited items: acked copies whose `delivered` receipts still wait here
    /// unacked — their senders ack them a round trip later, and a copy deleted with its
    /// receipt acked needs no receipt row written and deleted again — with those receipts,
    /// unless they waited [`AWAIT_AT_MOST`] or [`MAX_AWAITED`] are awaited.
    AllButAwaited,
}

/// Acks not written yet, and the receipts they queued.
#[derive(Default)]
pub struct DeferredAcks {
    mailboxes: HashMap<Mailbox, Waiting>,
    /// Items in all mailboxes.
    count: usize,
    /// Of them, awaited (see [`Writing::AllButAwaited`]).
    awaited: usize,
    /// When the oldest item here was deferred.
    oldest: Option<Instant>,
    /// Copies that await nothing: their receipts were acked here, or they queued none.
    settled: Vec<At>,
    /// Copies that queued receipts, in the order acked (some settled since).
    awaiting: VecDeque<(Instant, At)>,
    /// What the open transaction wrote, to forget once it commits.
    written: Option<Written>,
    /// Copies settled by their receipts' acks since the last write.
    settled_in_time: usize,
    /// Writes left that write everything (see [`WRITES_WITHOUT_AWAITING`]).
    writes_without_awaiting: u32,
    /// Receipts written into the open batch of sends whose copies were never in the table
    /// (see [`Self::batch_ended`]).
    in_open_batch: Vec<(Mailbox, StoredReceipt)>,
    /// Such receipts whose batch failed, to write again (`mailbox::write_pending`).
    to_write_again: Vec<(Mailbox, StoredReceipt)>,
}

/// What waits for one mailbox.
#[derive(Default)]
struct Waiting {
    /// Message copies acked, by `seq`: deleted when written.
    copies: BTreeMap<i64, AckedCopy>,
    /// Receipts the acks queued, by `seq`, with the copy whose ack queued each: inserted
    /// when written, read from here until then.
    receipts: BTreeMap<i64, (StoredReceipt, At)>,
    /// Receipts acked that are in the table: deleted when written.
    receipt_acks: Vec<ReceiptRef>,
}

/// Where a copy or a receipt is: its mailbox and `seq`.
type At = (Mailbox, i64);

/// A copy acked here.
struct AckedCopy {
    message: MessageRef,
    /// Whether its row is in the table (false: it was acked while its send was pending,
    /// `pending_sends`, and is never written).
    in_table: bool,
    /// The receipts its ack queued that still wait here unacked.
    receipts: Vec<At>,
}

/// What [`DeferredAcks::write`] wrote, to forget once the transaction commits.
enum Written {
    Everything,
    AllButAwaited {
        copies: Vec<At>,
        /// Entries at the front of `awaiting` it went through.
        awaiting_done: usize,
        /// Copies it wrote, by mailbox.
        by_mailbox: HashMap<Mailbox, i64>,
    },
}

impl DeferredAcks {
    /// Whether what waits should be written now (too much, or waiting too long).
    pub fn due(&self) -> bool {
        let counted = if self.writes_without_awaiting > 0 { self.count } else { self.count - self.awaited };
        counted >= MAX_DEFERRED
            || self.awaited >= MAX_AWAITED
            || self.oldest.is_some_and(|oldest| oldest.elapsed() >= MAX_DEFERRAL)
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn waiting(&mut self, mailbox: Mailbox, items: usize, now: Instant) -> &mut Waiting {
        self.oldest.get_or_insert(now);
        self.count += items;
        self.mailboxes.entry(mailbox).or_default()
    }

    /// Whether the copy of `mailbox` at `seq` was acked here already.
    pub fn has_message(&self, mailbox: Mailbox, seq: i64) -> bool {
        self.mailboxes.get(&mailbox).is_some_and(|w| w.copies.contains_key(&seq))
    }

    /// Defers the ack of `message` in `mailbox`, with the receipts it queued.
    /// `in_table`: whether the copy's row is in the table (see `AckedCopy::in_table`).
    pub fn defer_message(
        &mut self,
        (mailbox, message, in_table): (Mailbox, MessageRef, bool),
        receipts: Vec<(Mailbox, StoredReceipt)>,
    ) {
        let now = Instant::now();
        let at = (mailbox, message.seq);
        if receipts.is_empty() {
            self.settled.push(at);
        } else {
            self.awaited += 1 + receipts.len();
            self.awaiting.push_back((now, at));
        }
        let locations = receipts.iter().map(|(to, receipt)| (*to, receipt.seq)).collect();
        self.waiting(mailbox, 1, now).copies.insert(message.seq, AckedCopy { message, in_table, receipts: locations });
        for (to, receipt) in receipts {
            self.waiting(to, 1, now).receipts.insert(receipt.seq, (receipt, at));
        }
    }

    /// Defers receipt acks of `mailbox`; a receipt still waiting here is dropped instead, and
    /// the copy that queued it settles once none of its receipts waits.
    pub fn defer_receipt_acks(&mut self, mailbox: Mailbox, acks: &[ReceiptRef]) {
        for ack in acks {
            let waiting = self.mailboxes.get_mut(&mailbox).and_then(|w| match w.receipts.get(&ack.seq) {
                Some((receipt, _)) if receipt.id == ack.id => w.receipts.remove(&ack.seq),
                _ => None,
            });
            let Some((_, (copy_mailbox, copy_seq))) = waiting else {
                self.waiting(mailbox, 1, Instant::now()).receipt_acks.push(*ack);
                continue;
            };
            self.count -= 1;
            self.awaited -= 1;
            let copy = self.mailboxes.get_mut(&copy_mailbox).and_then(|w| w.copies.get_mut(&copy_seq));
            if let Some(copy) = copy {
                copy.receipts.retain(|at| *at != (mailbox, ack.seq));
                if copy.receipts.is_empty() {
                    self.awaited -= 1;
                    self.settled_in_time += 1;
                    self.settled.push((copy_mailbox, copy_seq));
                }
            }
        }
    }

    /// The receipts waiting here that acks of copies never written queued
    /// (`AckedCopy::in_table` false), with the mailboxes they go to — also those written
    /// into the open batch of sends, or to write again after it failed. Once the pending
    /// sends are written without such a copy, the journal holds these instead
    /// (`mailbox::write_pending`): a process that died before writing the ack would lose
    /// the receipt with no copy left to deliver again.
    pub fn receipts_of_unwritten(&self) -> impl Iterator<Item = (Mailbox, &StoredReceipt)> {
        (self.awaiting.iter())
            .filter_map(|(_, at)| self.copy(*at).filter(|copy| !copy.in_table))
            .flat_map(|copy| &copy.receipts)
            .filter_map(|&(to, seq)| Some((to, &self.mailboxes.get(&to)?.receipts.get(&seq)?.0)))
            .chain(self.in_open_batch.iter().chain(&self.to_write_again).map(|(to, receipt)| (*to, receipt)))
    }

    /// The open batch of sends ended (`group_commit`). Receipts of copies never in the table
    /// that writes released into it are forgotten here like the rest of those writes; when
    /// it failed, nothing would deliver them again — their copies are gone, acked while
    /// pending — so they are kept to write again ([`Self::take_to_write_again`]). The
    /// other deferred items a failed batch loses come again: the copies and receipts its
    /// rollback left in the tables.
    pub fn batch_ended(&mut self, committed: bool) {
        let written = std::mem::take(&mut self.in_open_batch);
        if !committed {
            self.to_write_again.extend(written);
        }
    }

    /// The receipts to write again after their batch failed ([`Self::batch_ended`]); given
    /// back with [`Self::write_again_later`] if writing them fails.
    pub fn take_to_write_again(&mut self) -> Vec<(Mailbox, StoredReceipt)> {
        std::mem::take(&mut self.to_write_again)
    }

    /// Receipts [`Self::take_to_write_again`] gave that could not be written.
    pub fn write_again_later(&mut self, receipts: Vec<(Mailbox, StoredReceipt)>) {
        self.to_write_again.extend(receipts);
    }

    /// Whether a read of `mailbox`'s messages after `after` would see one acked here.
    pub fn hides_messages_from(&self, mailbox: Mailbox, after: i64) -> bool {
        self.mailboxes.get(&mailbox).is_some_and(|w| w.copies.range(after + 1..).next().is_some())
    }

    /// Whether a read of `mailbox`'s receipts after `after` would see one acked here.
    pub fn hides_receipts_from(&self, mailbox: Mailbox, after: i64) -> bool {
        self.mailboxes.get(&mailbox).is_some_and(|w| w.receipt_acks.iter().any(|r| r.seq > after))
    }

    /// The receipts waiting here for `mailbox` after `after`, in order.
    pub fn receipts_for(&self, mailbox: Mailbox, after: i64) -> impl Iterator<Item = &StoredReceipt> {
        let receipts = self.mailboxes.get(&mailbox).map(|w| w.receipts.range(after + 1..));
        receipts.into_iter().flatten().map(|(_, (receipt, _))| receipt)
    }

    /// Copies of `mailbox` acked here and still in the table (not deleted by the open
    /// transaction).
    pub fn acked_in(&self, mailbox: Mailbox) -> i64 {
        let here = self.mailboxes.get(&mailbox).map_or(0, |w| w.copies.len() as i64);
        match &self.written {
            None => here,
            Some(Written::Everything) => 0,
            Some(Written::AllButAwaited { by_mailbox, .. }) => here - by_mailbox.get(&mailbox).copied().unwrap_or(0),
        }
    }

    /// Copies acked here and still in the table, in every mailbox.
    pub fn acked(&self) -> i64 {
        let here: i64 = self.mailboxes.values().map(|w| w.copies.len() as i64).sum();
        match &self.written {
            None => here,
            Some(Written::Everything) => 0,
            Some(Written::AllButAwaited { by_mailbox, .. }) => here - by_mailbox.values().sum::<i64>(),
        }
    }

    /// The store's call ends (its transaction committed or rolled back, or its savepoint
    /// released into the batch of sends): nothing [`Self::write`] wrote is still pending.
    pub fn call_ended(&mut self) {
        self.written = None;
    }

    /// Writes what `writing` says in `tx`, returning how mailbox depths changed; call
    /// [`Self::committed`] once it commits.
    pub fn write(
        &mut self,
        tx: &Connection,
        counts: &mut MailboxCounts,
        writing: Writing,
    ) -> rusqlite::Result<DepthChanges> {
        let may_await = writing == Writing::AllButAwaited && self.writes_without_awaiting == 0;
        if writing == Writing::AllButAwaited {
            self.writes_without_awaiting = self.writes_without_awaiting.saturating_sub(1);
        }
        if !may_await || self.awaited >= MAX_AWAITED {
            return self.write_everything(tx, counts);
        }
        let mut changes = DepthChanges::default();
        // The settled copies, then those that awaited their receipts' acks too long.
        let mut copies = self.settled.clone();
        let (mut awaiting_done, mut aged) = (0, 0);
        for (acked_at, at) in &self.awaiting {
            if acked_at.elapsed() < AWAIT_AT_MOST {
                break;
            }
            awaiting_done += 1;
            let still_awaiting = self.copy(*at).is_some_and(|copy| !copy.receipts.is_empty());
            if still_awaiting {
                copies.push(*at);
                aged += 1;
            }
        }
        if aged > std::mem::take(&mut self.settled_in_time) {
            self.writes_without_awaiting = WRITES_WITHOUT_AWAITING;
        }
        let mut by_mailbox = HashMap::new();
        for &(mailbox, seq) in &copies {
            let Some(copy) = self.copy((mailbox, seq)) else { continue };
            delete_copy(tx, &mut changes, mailbox, copy)?;
            *by_mailbox.entry(mailbox).or_default() += 1;
            for &(to, receipt_seq) in &copy.receipts {
                if let Some((receipt, _)) = self.mailboxes.get(&to).and_then(|w| w.receipts.get(&receipt_seq)) {
                    insert_receipt(tx, counts, &to, receipt)?;
                }
            }
        }
        for (mailbox, waiting) in &self.mailboxes {
            for receipt in &waiting.receipt_acks {
                delete_receipt(tx, mailbox, receipt)?;
            }
        }
        self.written = Some(Written::AllButAwaited { copies, awaiting_done, by_mailbox });
        Ok(changes)
    }

    fn write_everything(&mut self, tx: &Connection, counts: &mut MailboxCounts) -> rusqlite::Result<DepthChanges> {
        let mut changes = DepthChanges::default();
        for (mailbox, waiting) in &self.mailboxes {
            for copy in waiting.copies.values() {
                delete_copy(tx, &mut changes, *mailbox, copy)?;
            }
            for (receipt, _) in waiting.receipts.values() {
                insert_receipt(tx, counts, mailbox, receipt)?;
            }
            for receipt in &waiting.receipt_acks {
                delete_receipt(tx, mailbox, receipt)?;
            }
        }
        self.written = Some(Written::Everything);
        Ok(changes)
    }

    fn copy(&self, (mailbox, seq): At) -> Option<&AckedCopy> {
        self.mailboxes.get(&mailbox)?.copies.get(&seq)
    }

    /// The mailbox transaction committed, or `into_batch`: its savepoint was released into
    /// the open batch of sends, which commits later (see [`Self::batch_ended`]). What
    /// [`Self::write`] wrote in it is gone from here; what it left waits on.
    pub fn committed(&mut self, into_batch: bool) {
        let Some(written) = self.written.take() else { return };
        if into_batch {
            let receipts = self.receipts_of_copies_never_in_table(&written);
            self.in_open_batch.extend(receipts);
        }
        match written {
            Written::Everything => {
                *self = Self {
                    writes_without_awaiting: self.writes_without_awaiting,
                    in_open_batch: std::mem::take(&mut self.in_open_batch),
                    to_write_again: std::mem::take(&mut self.to_write_again),
                    ..Self::default()
                }
            }
            Written::AllButAwaited { copies, awaiting_done, .. } => {
                for at in copies {
                    self.forget_copy(at);
                }
                for waiting in self.mailboxes.values_mut() {
                    self.count -= waiting.receipt_acks.len();
                    waiting.receipt_acks.clear();
                }
                self.settled.clear();
                self.awaiting.drain(..awaiting_done);
                self.mailboxes.retain(|_, w| !(w.copies.is_empty() && w.receipts.is_empty()));
                self.oldest = self.awaiting.front().map(|(acked_at, _)| *acked_at);
            }
        }
    }

    /// The receipts `written` wrote for copies that were never in the table.
    fn receipts_of_copies_never_in_table(&self, written: &Written) -> Vec<(Mailbox, StoredReceipt)> {
        let in_everything;
        let copies = match written {
            Written::Everything => {
                let all = self.mailboxes.iter().flat_map(|(mailbox, w)| w.copies.keys().map(|seq| (*mailbox, *seq)));
                in_everything = all.collect::<Vec<At>>();
                &in_everything
            }
            Written::AllButAwaited { copies, .. } => copies,
        };
        let never_in_table = copies.iter().filter_map(|at| self.copy(*at)).filter(|copy| !copy.in_table);
        let receipts = never_in_table.flat_map(|copy| &copy.receipts);
        receipts.filter_map(|&(to, seq)| Some((to, self.mailboxes.get(&to)?.receipts.get(&seq)?.0.clone()))).collect()
    }

    /// Forgets a copy written, with the receipts written with it.
    fn forget_copy(&mut self, (mailbox, seq): At) {
        let Some(copy) = self.mailboxes.get_mut(&mailbox).and_then(|w| w.copies.remove(&seq)) else { return };
        self.count -= 1;
        if !copy.receipts.is_empty() {
            self.awaited -= 1;
        }
        for (to, receipt_seq) in copy.receipts {
            if self.mailboxes.get_mut(&to).and_then(|w| w.receipts.remove(&receipt_seq)).is_some() {
                self.count -= 1;
                self.awaited -= 1;
            }
        }
    }
}

/// Deletes an acked copy (one never written leaves only the count).
fn delete_copy(
    tx: &Connection,
    changes: &mut DepthChanges,
    mailbox: Mailbox,
    copy: &AckedCopy,
) -> rusqlite::Result<()> {
    if !copy.in_table {
        changes.add(mailbox, -1);
        return Ok(());
    }
    let deleted = tx
        .prepare_cached(concat!("DELETE FROM messages WHERE ", one_copy!()))?
        .execute(copy_params(&mailbox, &copy.message))?;
    changes.add(mailbox, -(deleted as i64));
    Ok(())
}

/// Deletes an acked receipt.
fn delete_receipt(tx: &Connection, mailbox: &Mailbox, receipt: &ReceiptRef) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM receipts WHERE seq = ?1 AND user_id = ?2 AND device = ?3 AND id = ?4")?
        .execute(params![receipt.seq, mailbox.user.0.as_bytes(), mailbox.device.0.as_bytes(), receipt.id.as_bytes()])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hush_shared::ws::ReceiptKind;
    use hush_shared::{DeviceId, UserId};

    fn mailbox() -> Mailbox {
        Mailbox { user: UserId::new(), device: DeviceId::new() }
    }

    fn receipt(seq: i64) -> StoredReceipt {
        StoredReceipt {
            seq,
            id: uuid::Uuid::now_v7(),
            kind: ReceiptKind::Delivered,
            message_id: uuid::Uuid::now_v7(),
            peer: UserId::new(),
            peer_device: None,
            at: 1,
        }
    }

    #[test]
    fn acks_are_due_when_too_many_wait() {
        let (bob, alice) = (mailbox(), mailbox());
        let mut deferred = DeferredAcks::default();
        assert!(!deferred.due(), "nothing waits");
        for seq in 1..MAX_DEFERRED as i64 {
            deferred.defer_receipt_acks(alice, &[ReceiptRef { id: uuid::Uuid::now_v7(), seq }]);
            assert!(!deferred.due(), "ack {seq} may wait");
        }
        let message = MessageRef { sender: alice.user, id: uuid::Uuid::now_v7(), seq: 7 };
        deferred.defer_message((bob, message, true), vec![]);
        assert!(deferred.due());
        assert!(deferred.hides_receipts_from(alice, 0));
        assert!(!deferred.hides_receipts_from(alice, MAX_DEFERRED as i64), "a cursor past them all");
        assert!(deferred.hides_messages_from(bob, 6) && !deferred.hides_messages_from(bob, 7));
        assert!(deferred.has_message(bob, 7) && !deferred.has_message(alice, 7));
        assert_eq!((deferred.acked_in(bob), deferred.acked_in(alice), deferred.acked()), (1, 0, 1));
        deferred.committed(false);
        assert!(deferred.due(), "not written: still waiting");
        deferred.written = Some(Written::Everything);
        deferred.committed(false);
        assert!(!deferred.due() && !deferred.hides_receipts_from(alice, 0) && deferred.acked() == 0);
    }

    #[test]
    fn a_receipt_acked_while_it_waits_here_is_never_written() {
        let (bob, alice, alice_laptop) = (mailbox(), mailbox(), mailbox());
        let mut deferred = DeferredAcks::default();
        let (on_phone, on_laptop) = (receipt(10), receipt(11));
        let message = MessageRef { sender: alice.user, id: on_phone.message_id, seq: 5 };
        deferred
            .defer_message((bob, message, true), vec![(alice, on_phone.clone()), (alice_laptop, on_laptop.clone())]);
        assert_eq!(deferred.receipts_for(alice, 0).collect::<Vec<_>>(), vec![&on_phone]);
        assert_eq!(deferred.receipts_for(alice, 10).count(), 0, "a cursor past it");
        deferred.defer_receipt_acks(alice, &[ReceiptRef { id: on_phone.id, seq: on_phone.seq }]);
        assert_eq!(deferred.receipts_for(alice, 0).count(), 0, "acked: gone");
        assert!(!deferred.hides_receipts_from(alice, 0), "nothing to delete from the table");
        assert_eq!(deferred.receipts_for(alice_laptop, 0).collect::<Vec<_>>(), vec![&on_laptop]);
    }

    /// A receipt of a copy never in the table, written into the open batch of sends, is
    /// kept for the journal until the batch ends; kept to write again when it failed.
    #[test]
    fn receipts_only_a_batch_holds_are_kept_until_it_commits() {
        let (bob, alice) = (mailbox(), mailbox());
        let never_written = |deferred: &mut DeferredAcks, seq: i64| {
            let on_phone = receipt(100 + seq);
            let message = MessageRef { sender: alice.user, id: on_phone.message_id, seq };
            deferred.defer_message((bob, message, false), vec![(alice, on_phone.clone())]);
            on_phone
        };
        let kept = |deferred: &DeferredAcks| deferred.receipts_of_unwritten().map(|(_, r)| r.id).collect::<Vec<_>>();
        let mut deferred = DeferredAcks::default();
        let first = never_written(&mut deferred, 1);
        deferred.written = Some(Written::Everything);
        deferred.committed(true);
        assert!(deferred.is_empty() && deferred.receipts_for(alice, 0).count() == 0, "written: read from the table");
        assert_eq!(kept(&deferred), vec![first.id], "the batch may still fail");
        deferred.batch_ended(true);
        assert!(kept(&deferred).is_empty() && deferred.take_to_write_again().is_empty());

        let second = never_written(&mut deferred, 2);
        deferred.written = Some(Written::Everything);
        deferred.committed(true);
        deferred.batch_ended(false);
        assert_eq!(kept(&deferred), vec![second.id], "kept until written again");
        let again = deferred.take_to_write_again();
        assert_eq!(again, vec![(alice, second.clone())]);
        deferred.write_again_later(again);
        assert_eq!(kept(&deferred), vec![second.id], "writing them failed");

        never_written(&mut deferred, 3);
        deferred.written = Some(Written::Everything);
        deferred.committed(false);
        deferred.batch_ended(false);
        assert_eq!(deferred.take_to_write_again(), vec![(alice, second)], "a transaction of its own: durable");
    }

    /// Copies awaiting their receipts' acks, and those receipts, do not make acks due (up to
    /// [`MAX_AWAITED`]); a copy whose every receipt was acked here does.
    #[test]
    fn only_settled_acks_make_them_due() {
        let (bob, alice, alice_laptop) = (mailbox(), mailbox(), mailbox());
        let mut deferred = DeferredAcks::default();
        let mut last = None;
        for seq in 1..=MAX_DEFERRED as i64 {
            let (on_phone, on_laptop) = (receipt(2 * seq), receipt(2 * seq + 1));
            let message = MessageRef { sender: alice.user, id: on_phone.message_id, seq };
            deferred.defer_message(
                (bob, message, true),
                vec![(alice, on_phone.clone()), (alice_laptop, on_laptop.clone())],
            );
            last = Some((on_phone, on_laptop));
        }
        assert_eq!((deferred.count, deferred.awaited), (3 * MAX_DEFERRED, 3 * MAX_DEFERRED));
        assert!(!deferred.due(), "every copy awaits its receipts' acks");
        let (on_phone, on_laptop) = last.unwrap();
        deferred.defer_receipt_acks(alice, &[ReceiptRef { id: on_phone.id, seq: on_phone.seq }]);
        assert_eq!(deferred.awaited, 3 * MAX_DEFERRED - 1, "the copy still awaits the laptop's ack");
        deferred.defer_receipt_acks(alice_laptop, &[ReceiptRef { id: on_laptop.id, seq: on_laptop.seq }]);
        assert_eq!((deferred.count, deferred.awaited), (3 * MAX_DEFERRED - 2, 3 * MAX_DEFERRED - 3));
        for seq in 0..MAX_DEFERRED as i64 - 2 {
            deferred.defer_receipt_acks(alice, &[ReceiptRef { id: uuid::Uuid::now_v7(), seq: -seq }]);
        }
        assert!(!deferred.due(), "{} settled", MAX_DEFERRED - 1);
        deferred.defer_receipt_acks(alice, &[ReceiptRef { id: uuid::Uuid::now_v7(), seq: -5000 }]);
        assert!(deferred.due());
    }
}
