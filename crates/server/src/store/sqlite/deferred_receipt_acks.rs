//! Receipt acks written with the next mailbox transaction instead of one of their own. A
//! receipt ack answers nothing and deleting a receipt twice changes nothing, so it need not
//! be durable at once: if the process dies first, the device gets the receipt again and
//! applies it again (a tick it already shows). Deferred, it rides along in whatever commit
//! comes next — usually the person's next message — which saves one of the three commits a
//! message cost (BENCHMARKS.md, "Receipt acks deferred").
//!
//! Bounds: at most [`MAX_DEFERRED`] acks or [`MAX_DEFERRAL`] wait while acks keep coming,
//! the sweep's interval when the server is otherwise idle, and none past a clean shutdown
//! ([`crate::store::MailboxStore::flush`]). A device reading its receipts from before an ack
//! it deferred (a new connection) has them written first, so it never sees one again while
//! the process lives.

use std::time::{Duration, Instant};

use rusqlite::{Transaction, params};

use crate::store::{Mailbox, ReceiptRef};

/// Deferred acks beyond which the next one writes them all.
pub const MAX_DEFERRED: usize = 1024;

/// How long an ack may wait while acks keep coming.
pub const MAX_DEFERRAL: Duration = Duration::from_secs(1);

/// Receipt acks not written yet.
#[derive(Default)]
pub struct DeferredReceiptAcks {
    acks: Vec<(Mailbox, ReceiptRef)>,
    oldest: Option<Instant>,
}

impl DeferredReceiptAcks {
    /// Remembers acks; true when they should be written now (too many, or waiting too long).
    pub fn defer(&mut self, mailbox: Mailbox, receipts: &[ReceiptRef]) -> bool {
        if receipts.is_empty() {
            return false;
        }
        let oldest = *self.oldest.get_or_insert_with(Instant::now);
        self.acks.extend(receipts.iter().map(|r| (mailbox, *r)));
        self.acks.len() >= MAX_DEFERRED || oldest.elapsed() >= MAX_DEFERRAL
    }

    /// Whether a read of `mailbox`'s receipts after `after` would see one acked here.
    pub fn hides_from(&self, mailbox: Mailbox, after: i64) -> bool {
        self.acks.iter().any(|(m, r)| *m == mailbox && r.seq > after)
    }

    /// Deletes the deferred receipts in `tx`; call [`Self::written`] once it commits.
    pub fn write(&self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        for (mailbox, receipt) in &self.acks {
            tx.prepare_cached("DELETE FROM receipts WHERE seq = ?1 AND user_id = ?2 AND device = ?3 AND id = ?4")?
                .execute(params![
                    receipt.seq,
                    mailbox.user.0.as_bytes(),
                    mailbox.device.0.as_bytes(),
                    receipt.id.as_bytes()
                ])?;
        }
        Ok(())
    }

    /// The transaction that [`Self::write`] wrote into committed.
    pub fn written(&mut self) {
        self.acks.clear();
        self.oldest = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hush_shared::{DeviceId, UserId};

    #[test]
    fn acks_are_written_when_too_many_wait() {
        let mailbox = Mailbox { user: UserId::new(), device: DeviceId::new() };
        let mut deferred = DeferredReceiptAcks::default();
        let ack = |seq| ReceiptRef { id: uuid::Uuid::now_v7(), seq };
        assert!(!deferred.defer(mailbox, &[]), "nothing to write");
        for seq in 1..MAX_DEFERRED as i64 {
            assert!(!deferred.defer(mailbox, &[ack(seq)]), "ack {seq} may wait");
        }
        assert!(deferred.defer(mailbox, &[ack(MAX_DEFERRED as i64)]));
        assert!(deferred.hides_from(mailbox, 0));
        assert!(!deferred.hides_from(mailbox, MAX_DEFERRED as i64), "a cursor past them all");
        let other = Mailbox { user: mailbox.user, device: DeviceId::new() };
        assert!(!deferred.hides_from(other, 0));
        deferred.written();
        assert!(!deferred.hides_from(mailbox, 0));
    }
}
