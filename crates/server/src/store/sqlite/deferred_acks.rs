//! Acks written with the next mailbox transaction instead of one of their own. An ack
//! answers nothing, and delivery is at least once anyway: if the process dies before an ack
//! is written, the device gets the message or receipt again — clients ignore a message id
//! they hold (and ack it again) and apply a receipt twice to no effect. Deferred, acks ride
//! along in whatever commit comes next — usually the person's next message — so a message
//! costs one commit, its store, instead of three (store; ack with its `delivered` receipt;
//! receipt ack) (BENCHMARKS.md, "Receipt acks deferred" and "Message acks deferred").
//!
//! The ack of a message's only copy, or of a copy on the sender's own other device, is
//! deferred whole: the `delivered` receipt it queues waits here, in memory, and the sender's
//! devices read it from here until it is written; a receipt acked before it is written is
//! never written at all. An ack whose receipt depends on what the other copies did (a
//! recipient with several devices) is written at once (`mailbox::ack_copy`).
//!
//! Bounds: at most [`MAX_DEFERRED`] items or [`MAX_DEFERRAL`] wait while acks keep coming,
//! the sweep's interval when the server is otherwise idle, and none past a clean shutdown
//! ([`crate::store::MailboxStore::flush`]). Every mailbox transaction writes them first, so
//! nothing (expiry, a closed mailbox, a deleted account) acts on the tables without them;
//! a device reading from before an ack deferred here (a new connection) has them written
//! first, so it never gets that message or receipt again while the process lives.

use std::time::{Duration, Instant};

use rusqlite::{Transaction, params};

use super::mailbox::{copy_params, insert_receipt, one_copy};
use super::mailbox_counts::DepthChanges;
use crate::store::{Mailbox, MessageRef, ReceiptRef, StoredReceipt};

/// Deferred items beyond which the next ack writes them all.
pub const MAX_DEFERRED: usize = 1024;

/// How long an ack may wait while acks keep coming.
pub const MAX_DEFERRAL: Duration = Duration::from_secs(1);

/// Acks not written yet, and the receipts they queued.
#[derive(Default)]
pub struct DeferredAcks {
    /// Message copies acked: deleted when written.
    messages: Vec<(Mailbox, MessageRef)>,
    /// Receipts those acks queued: inserted when written, read from here until then.
    receipts: Vec<(Mailbox, StoredReceipt)>,
    /// Receipts acked that are in the table: deleted when written.
    receipt_acks: Vec<(Mailbox, ReceiptRef)>,
    oldest: Option<Instant>,
}

impl DeferredAcks {
    /// Whether what waits should be written now (too much, or waiting too long).
    pub fn due(&self) -> bool {
        let waiting = self.messages.len() + self.receipts.len() + self.receipt_acks.len();
        waiting >= MAX_DEFERRED || self.oldest.is_some_and(|oldest| oldest.elapsed() >= MAX_DEFERRAL)
    }

    fn started(&mut self) {
        self.oldest.get_or_insert_with(Instant::now);
    }

    /// Whether the copy of `mailbox` at `seq` was acked here already.
    pub fn has_message(&self, mailbox: Mailbox, seq: i64) -> bool {
        self.messages.iter().any(|(m, r)| *m == mailbox && r.seq == seq)
    }

    /// Defers the ack of `message` in `mailbox`, with the receipts it queued.
    pub fn defer_message(&mut self, mailbox: Mailbox, message: MessageRef, receipts: Vec<(Mailbox, StoredReceipt)>) {
        self.started();
        self.messages.push((mailbox, message));
        self.receipts.extend(receipts);
    }

    /// Defers receipt acks of `mailbox`; a receipt still waiting here is dropped instead.
    pub fn defer_receipt_acks(&mut self, mailbox: Mailbox, acks: &[ReceiptRef]) {
        for ack in acks {
            let waiting = |(m, r): &(Mailbox, StoredReceipt)| *m == mailbox && r.seq == ack.seq && r.id == ack.id;
            match self.receipts.iter().position(waiting) {
                Some(index) => {
                    self.receipts.remove(index);
                }
                None => {
                    self.started();
                    self.receipt_acks.push((mailbox, *ack));
                }
            }
        }
    }

    /// Whether a read of `mailbox`'s messages after `after` would see one acked here.
    pub fn hides_messages_from(&self, mailbox: Mailbox, after: i64) -> bool {
        self.messages.iter().any(|(m, r)| *m == mailbox && r.seq > after)
    }

    /// Whether a read of `mailbox`'s receipts after `after` would see one acked here.
    pub fn hides_receipts_from(&self, mailbox: Mailbox, after: i64) -> bool {
        self.receipt_acks.iter().any(|(m, r)| *m == mailbox && r.seq > after)
    }

    /// The receipts waiting here for `mailbox` after `after`.
    pub fn receipts_for(&self, mailbox: Mailbox, after: i64) -> impl Iterator<Item = &StoredReceipt> {
        self.receipts.iter().filter(move |(m, r)| *m == mailbox && r.seq > after).map(|(_, r)| r)
    }

    /// Copies of `mailbox` acked here and not yet deleted.
    pub fn acked_in(&self, mailbox: Mailbox) -> i64 {
        self.messages.iter().filter(|(m, _)| *m == mailbox).count() as i64
    }

    /// Copies acked here and not yet deleted, in every mailbox.
    pub fn acked(&self) -> i64 {
        self.messages.len() as i64
    }

    /// Writes everything deferred in `tx`, returning how mailbox depths changed; call
    /// [`Self::written`] once it commits.
    pub fn write(&self, tx: &Transaction<'_>) -> rusqlite::Result<DepthChanges> {
        let mut changes = DepthChanges::default();
        for (mailbox, message) in &self.messages {
            let deleted = tx
                .prepare_cached(concat!("DELETE FROM messages WHERE ", one_copy!()))?
                .execute(copy_params(mailbox, message))?;
            changes.add(*mailbox, -(deleted as i64));
        }
        for (mailbox, receipt) in &self.receipts {
            insert_receipt(tx, mailbox, receipt)?;
        }
        for (mailbox, receipt) in &self.receipt_acks {
            tx.prepare_cached("DELETE FROM receipts WHERE seq = ?1 AND user_id = ?2 AND device = ?3 AND id = ?4")?
                .execute(params![
                    receipt.seq,
                    mailbox.user.0.as_bytes(),
                    mailbox.device.0.as_bytes(),
                    receipt.id.as_bytes()
                ])?;
        }
        Ok(changes)
    }

    /// The transaction that [`Self::write`] wrote into committed.
    pub fn written(&mut self) {
        self.messages.clear();
        self.receipts.clear();
        self.receipt_acks.clear();
        self.oldest = None;
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
        deferred.written();
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
