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
//! the usual case, as its sender acks it a round trip later — is never written at all. An
//! ack whose receipt depends on what the other copies did (a recipient with several
//! devices) is written at once (`mailbox::ack_copy`).
//!
//! When they are written: by any mailbox transaction but a send (`mailbox::Deferred`), so
//! nothing (expiry, a closed mailbox, a deleted account, a retry) acts on the tables
//! without them; by a send too once [`MAX_DEFERRED`] items or [`MAX_DEFERRAL`] wait; by the
//! store's owner every [`MAX_DEFERRAL`] and at a clean shutdown
//! ([`crate::store::MailboxStore::flush`]); and before a device reads from before an ack
//! deferred here (a new connection), so it never gets that message or receipt again while
//! the process lives.

use std::collections::HashMap;
use std::time::Instant;

use rusqlite::{Connection, params};

use super::mailbox::{copy_params, insert_receipt, one_copy};
use super::mailbox_counts::{DepthChanges, MailboxCounts};
use crate::store::{MAX_DEFERRAL, Mailbox, MessageRef, ReceiptRef, StoredReceipt};

/// Deferred items beyond which the next mailbox transaction writes them all.
pub const MAX_DEFERRED: usize = 1024;

/// Acks not written yet, and the receipts they queued, by mailbox.
#[derive(Default)]
pub struct DeferredAcks {
    mailboxes: HashMap<Mailbox, Waiting>,
    /// Items in all mailboxes.
    count: usize,
    oldest: Option<Instant>,
    /// Whether the open transaction has them written (see [`Self::write`]).
    in_open_transaction: bool,
}

/// What waits for one mailbox.
#[derive(Default)]
struct Waiting {
    /// Message copies acked: deleted when written.
    copies: Vec<MessageRef>,
    /// Receipts acks queued here: inserted when written, read from here until then.
    receipts: Vec<StoredReceipt>,
    /// Receipts acked that are in the table: deleted when written.
    receipt_acks: Vec<ReceiptRef>,
}

impl DeferredAcks {
    /// Whether what waits should be written now (too much, or waiting too long).
    pub fn due(&self) -> bool {
        self.count >= MAX_DEFERRED || self.oldest.is_some_and(|oldest| oldest.elapsed() >= MAX_DEFERRAL)
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn waiting(&mut self, mailbox: Mailbox, items: usize) -> &mut Waiting {
        self.oldest.get_or_insert_with(Instant::now);
        self.count += items;
        self.mailboxes.entry(mailbox).or_default()
    }

    /// Whether the copy of `mailbox` at `seq` was acked here already.
    pub fn has_message(&self, mailbox: Mailbox, seq: i64) -> bool {
        self.mailboxes.get(&mailbox).is_some_and(|w| w.copies.iter().any(|r| r.seq == seq))
    }

    /// Defers the ack of `message` in `mailbox`, with the receipts it queued.
    pub fn defer_message(&mut self, mailbox: Mailbox, message: MessageRef, receipts: Vec<(Mailbox, StoredReceipt)>) {
        self.waiting(mailbox, 1).copies.push(message);
        for (to, receipt) in receipts {
            self.waiting(to, 1).receipts.push(receipt);
        }
    }

    /// Defers receipt acks of `mailbox`; a receipt still waiting here is dropped instead.
    pub fn defer_receipt_acks(&mut self, mailbox: Mailbox, acks: &[ReceiptRef]) {
        for ack in acks {
            let waiting = self.mailboxes.get_mut(&mailbox).and_then(|w| {
                let index = w.receipts.iter().position(|r| r.seq == ack.seq && r.id == ack.id)?;
                Some(w.receipts.remove(index))
            });
            match waiting {
                Some(_) => self.count -= 1,
                None => self.waiting(mailbox, 1).receipt_acks.push(*ack),
            }
        }
    }

    /// Whether a read of `mailbox`'s messages after `after` would see one acked here.
    pub fn hides_messages_from(&self, mailbox: Mailbox, after: i64) -> bool {
        self.mailboxes.get(&mailbox).is_some_and(|w| w.copies.iter().any(|r| r.seq > after))
    }

    /// Whether a read of `mailbox`'s receipts after `after` would see one acked here.
    pub fn hides_receipts_from(&self, mailbox: Mailbox, after: i64) -> bool {
        self.mailboxes.get(&mailbox).is_some_and(|w| w.receipt_acks.iter().any(|r| r.seq > after))
    }

    /// The receipts waiting here for `mailbox` after `after`.
    pub fn receipts_for(&self, mailbox: Mailbox, after: i64) -> impl Iterator<Item = &StoredReceipt> {
        let receipts = self.mailboxes.get(&mailbox).map_or(&[][..], |w| &w.receipts[..]);
        receipts.iter().filter(move |r| r.seq > after)
    }

    /// Copies of `mailbox` acked here and still in the table (the open transaction has
    /// not deleted them).
    pub fn acked_in(&self, mailbox: Mailbox) -> i64 {
        self.still_in_table(self.mailboxes.get(&mailbox).into_iter())
    }

    /// Copies acked here and still in the table, in every mailbox.
    pub fn acked(&self) -> i64 {
        self.still_in_table(self.mailboxes.values())
    }

    fn still_in_table<'a>(&self, waiting: impl Iterator<Item = &'a Waiting>) -> i64 {
        if self.in_open_transaction { 0 } else { waiting.map(|w| w.copies.len() as i64).sum() }
    }

    /// The store's call ends (its transaction committed or rolled back, or its savepoint
    /// released into the batch of sends): nothing [`Self::write`] wrote is still pending.
    pub fn call_ended(&mut self) {
        self.in_open_transaction = false;
    }

    /// Writes everything deferred in `tx`, returning how mailbox depths changed; call
    /// [`Self::committed`] once it commits.
    pub fn write(&mut self, tx: &Connection, counts: &mut MailboxCounts) -> rusqlite::Result<DepthChanges> {
        let mut changes = DepthChanges::default();
        for (mailbox, waiting) in &self.mailboxes {
            for message in &waiting.copies {
                let deleted = tx
                    .prepare_cached(concat!("DELETE FROM messages WHERE ", one_copy!()))?
                    .execute(copy_params(mailbox, message))?;
                changes.add(*mailbox, -(deleted as i64));
            }
            for receipt in &waiting.receipts {
                insert_receipt(tx, counts, mailbox, receipt)?;
            }
            for receipt in &waiting.receipt_acks {
                tx.prepare_cached("DELETE FROM receipts WHERE seq = ?1 AND user_id = ?2 AND device = ?3 AND id = ?4")?
                    .execute(params![
                        receipt.seq,
                        mailbox.user.0.as_bytes(),
                        mailbox.device.0.as_bytes(),
                        receipt.id.as_bytes()
                    ])?;
            }
        }
        self.in_open_transaction = true;
        Ok(changes)
    }

    /// The mailbox transaction committed (or its savepoint was released into the batch of
    /// sends, which a failed batch loses like a crash would: the acks come again): what
    /// [`Self::write`] wrote in it is gone from here.
    pub fn committed(&mut self) {
        if std::mem::take(&mut self.in_open_transaction) {
            *self = Self::default();
        }
    }
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
        deferred.defer_message(bob, message, vec![]);
        assert!(deferred.due());
        assert!(deferred.hides_receipts_from(alice, 0));
        assert!(!deferred.hides_receipts_from(alice, MAX_DEFERRED as i64), "a cursor past them all");
        assert!(deferred.hides_messages_from(bob, 6) && !deferred.hides_messages_from(bob, 7));
        assert!(deferred.has_message(bob, 7) && !deferred.has_message(alice, 7));
        assert_eq!((deferred.acked_in(bob), deferred.acked_in(alice), deferred.acked()), (1, 0, 1));
        deferred.committed();
        assert!(deferred.due(), "not written: still waiting");
        deferred.in_open_transaction = true;
        deferred.committed();
        assert!(!deferred.due() && !deferred.hides_receipts_from(alice, 0) && deferred.acked() == 0);
    }

    #[test]
    fn a_receipt_acked_while_it_waits_here_is_never_written() {
        let (bob, alice, alice_laptop) = (mailbox(), mailbox(), mailbox());
        let mut deferred = DeferredAcks::default();
        let (on_phone, on_laptop) = (receipt(10), receipt(11));
        let message = MessageRef { sender: alice.user, id: on_phone.message_id, seq: 5 };
        deferred.defer_message(bob, message, vec![(alice, on_phone.clone()), (alice_laptop, on_laptop.clone())]);
        assert_eq!(deferred.receipts_for(alice, 0).collect::<Vec<_>>(), vec![&on_phone]);
        assert_eq!(deferred.receipts_for(alice, 10).count(), 0, "a cursor past it");
        deferred.defer_receipt_acks(alice, &[ReceiptRef { id: on_phone.id, seq: on_phone.seq }]);
        assert_eq!(deferred.receipts_for(alice, 0).count(), 0, "acked: gone");
        assert!(!deferred.hides_receipts_from(alice, 0), "nothing to delete from the table");
        assert_eq!(deferred.receipts_for(alice_laptop, 0).collect::<Vec<_>>(), vec![&on_laptop]);
    }
}
