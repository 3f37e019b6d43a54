//! Sends answered `stored` whose rows are not in the mailbox tables yet: durable in the
//! journal ([`send_journal`](super::send_journal)), kept here until the store writes them
//! ([`super::mailbox::write_pending`]: ten times a second, and before any transaction that
//! reads or changes the tables other than a send, an ack or a read of a mailbox, which
//! takes the mailbox's pending copies from here). A copy acked meanwhile — the
//! usual case, as a live device acks a message a round trip after it was handed over — is
//! dropped here and never written: a message one at a time costs the tables its record
//! alone, written with many others (BENCHMARKS.md, "Sends kept out of SQLite").
//!
//! Exact for the one process that serves the database, as the mailbox counters are: the
//! counters count a pending copy as stored, and the duplicate check looks here before the
//! message records.

use std::collections::{BTreeMap, HashMap};

use uuid::Uuid;

use super::send_journal::{self, JournaledSend};
use crate::store::{Mailbox, StoredMessage};

/// The sends waiting to be written, and the entries not yet appended to the journal.
#[derive(Default)]
pub struct PendingSends {
    sends: Vec<JournaledSend>,
    /// When each pending message was stored, by sender and id (the duplicate check).
    ids: HashMap<(Uuid, Uuid), i64>,
    /// The copies not acked yet, by mailbox in `seq` order (a read of a mailbox takes them
    /// from here): the send and the copy's index in it.
    per_mailbox: HashMap<Mailbox, BTreeMap<i64, (usize, usize)>>,
    /// Sends `sends[..journaled]` are in the journal; the rest are encoded in `unjournaled`.
    journaled: usize,
    unjournaled: Vec<u8>,
}

impl PendingSends {
    /// A send whose rows are to be written later; it is durable once appended
    /// ([`Self::mark_journaled`]).
    pub fn add(&mut self, send: JournaledSend) {
        let index = self.sends.len();
        send_journal::encode(&send, &mut self.unjournaled);
        self.ids.insert((send.from.user.0, send.id), send.stored_at);
        for (i, copy) in send.copies.iter().enumerate() {
            self.per_mailbox.entry(copy.mailbox).or_default().insert(copy.seq, (index, i));
        }
        self.sends.push(send);
    }

    /// When the message `id` of `sender` was stored, if it is pending.
    pub fn stored_at(&self, sender: &Uuid, id: &Uuid) -> Option<i64> {
        self.ids.get(&(*sender, *id)).copied()
    }

    /// Drops the copy at `seq` in `mailbox` (acked), if it is pending — no row of it was or
    /// will be written — with how many copies its message went to.
    pub fn ack(&mut self, mailbox: Mailbox, seq: i64) -> Option<i64> {
        let (send, copy) = release(&mut self.per_mailbox, (mailbox, seq))?;
        Some(self.sends[send].copies[copy].copies)
    }

    /// Up to `limit` copies of `mailbox` waiting here unacked with `seq > after`, oldest
    /// first (a read of the mailbox merges them with the table's).
    pub fn copies_after(&self, mailbox: Mailbox, after: i64, limit: usize) -> Vec<StoredMessage> {
        let Some(copies) = self.per_mailbox.get(&mailbox) else { return Vec::new() };
        let after = after.saturating_add(1);
        copies
            .range(after..)
            .take(limit)
            .map(|(&seq, &(send, copy))| {
                let send = &self.sends[send];
                StoredMessage {
                    seq,
                    id: send.id,
                    from: send.from.user,
                    from_device: send.from.device,
                    to: send.addressee,
                    envelope: send.copies[copy].envelope.clone(),
                    stored_at: send.stored_at,
                }
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.sends.is_empty()
    }

    /// The journal entries of the sends added since the last [`Self::mark_journaled`].
    pub fn unjournaled(&self) -> &[u8] {
        &self.unjournaled
    }

    /// Every send here is in the journal (appended, or there already).
    pub fn mark_journaled(&mut self) {
        self.journaled = self.sends.len();
        self.unjournaled.clear();
    }

    /// Forgets the sends added since the last [`Self::mark_journaled`]: their batch
    /// failed, or appending them did (their senders are told so, and send again).
    pub fn drop_unjournaled(&mut self) {
        for send in self.sends.drain(self.journaled..) {
            self.ids.remove(&(send.from.user.0, send.id));
            for copy in &send.copies {
                release(&mut self.per_mailbox, (copy.mailbox, copy.seq));
            }
        }
        self.unjournaled.clear();
    }

    /// Every send pending, each with which of its copies are not acked (to be written);
    /// nothing is pending after.
    pub fn take_all(&mut self) -> Vec<(JournaledSend, Vec<bool>)> {
        let Self { sends, per_mailbox, .. } = std::mem::take(self);
        sends
            .into_iter()
            .enumerate()
            .map(|(index, send)| {
                let unacked = (send.copies.iter().enumerate())
                    .map(|(i, copy)| per_mailbox.get(&copy.mailbox).and_then(|c| c.get(&copy.seq)) == Some(&(index, i)))
                    .collect();
                (send, unacked)
            })
            .collect()
    }
}

/// The copy at `seq` in `mailbox` no longer waits: where it was, if it did.
fn release(
    per_mailbox: &mut HashMap<Mailbox, BTreeMap<i64, (usize, usize)>>,
    (mailbox, seq): (Mailbox, i64),
) -> Option<(usize, usize)> {
    let copies = per_mailbox.get_mut(&mailbox)?;
    let place = copies.remove(&seq);
    if copies.is_empty() {
        per_mailbox.remove(&mailbox);
    }
    place
}

#[cfg(test)]
mod tests {
    use super::super::SqliteStore;
    use super::super::tests::{rows_in, two_open_mailboxes};
    use crate::store::{Enqueued, EnvelopeCopy, Mailbox, MailboxPolicy, MailboxStore, MessageRef, Outgoing};

    const POLICY: MailboxPolicy = MailboxPolicy { max_messages: 2, ttl_secs: 100 };

    async fn send(store: &SqliteStore, (from, to): (Mailbox, Mailbox), id: uuid::Uuid) -> Enqueued {
        let copies = vec![EnvelopeCopy { mailbox: to, envelope: vec![7; 40] }];
        store.enqueue_many(from, vec![Outgoing { to: to.user, id, copies }], 5, POLICY).await.unwrap().remove(0)
    }

    /// A message one at a time: its copy is read from memory, its ack drops it, and only its
    /// record is ever written; while pending it counts toward a full mailbox and a resend
    /// of it is a duplicate. (A depth asked for writes the pending sends first.)
    #[tokio::test]
    async fn an_acked_pending_copy_is_never_written() {
        let (store, a1, b1) = two_open_mailboxes().await;
        let id = uuid::Uuid::now_v7();
        assert_eq!(send(&store, (a1, b1), id).await, Enqueued::Stored { at: 5 });
        assert_eq!(send(&store, (a1, b1), id).await, Enqueued::Duplicate { at: 5 });
        assert_eq!((rows_in(&store, "messages"), rows_in(&store, "message_ids")), (0, 0), "pending");
        assert_eq!(send(&store, (a1, b1), uuid::Uuid::now_v7()).await, Enqueued::Stored { at: 5 });
        assert_eq!(send(&store, (a1, b1), uuid::Uuid::now_v7()).await, Enqueued::MailboxFull);

        let read = store.fetch_messages(b1, 0, 1).await.unwrap();
        assert_eq!(
            read.iter().map(|m| (m.id, m.from, m.envelope.clone())).collect::<Vec<_>>(),
            [(id, a1.user, vec![7; 40])]
        );
        let (rows, records) = (rows_in(&store, "messages"), rows_in(&store, "message_ids"));
        assert_eq!((rows, records), (0, 0), "read from memory");
        store.ack_messages(b1, &[MessageRef { sender: a1.user, id, seq: read[0].seq }], 6).await.unwrap();
        store.flush().await.unwrap();
        assert_eq!(rows_in(&store, "messages"), 1, "the acked copy was never written; the other one is");
        assert_eq!(rows_in(&store, "message_ids"), 2, "both records are");
        assert_eq!(store.depth(b1).await.unwrap(), 1);
        let left = store.fetch_messages(b1, read[0].seq, 10).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_ne!(left[0].id, id);
        assert_eq!(send(&store, (a1, b1), id).await, Enqueued::Duplicate { at: 5 }, "its record refuses a resend");
    }

    /// A read of a mailbox merges its pending copies with the table's rows in `seq` order,
    /// up to the limit.
    #[tokio::test]
    async fn a_read_merges_pending_copies_with_the_tables_rows() {
        let (store, a1, b1) = two_open_mailboxes().await;
        let policy = MailboxPolicy { max_messages: 10, ttl_secs: 100 };
        let mut ids = Vec::new();
        for round in 0..3 {
            for _ in 0..2 {
                let id = uuid::Uuid::now_v7();
                let copies = vec![EnvelopeCopy { mailbox: b1, envelope: vec![round; 10] }];
                store.enqueue_many(a1, vec![Outgoing { to: b1.user, id, copies }], 5, policy).await.unwrap();
                ids.push(id);
            }
            if round < 2 {
                store.flush_settled().await.unwrap();
            }
        }
        assert_eq!(rows_in(&store, "messages"), 4, "two rounds written, one pending");
        let first = store.fetch_messages(b1, 0, 3).await.unwrap();
        assert_eq!(first.iter().map(|m| m.id).collect::<Vec<_>>(), ids[..3]);
        let rest = store.fetch_messages(b1, first[2].seq, 10).await.unwrap();
        assert_eq!(rest.iter().map(|m| m.id).collect::<Vec<_>>(), ids[3..]);
    }

    /// Sends a process answered `stored` and died before writing are written when the
    /// database is opened again; a copy acked before the process died comes again
    /// (delivery is at least once).
    #[tokio::test]
    async fn journaled_sends_are_written_when_the_store_opens_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hush.db");
        let (a1, b1) = (
            Mailbox { user: hush_shared::UserId::new(), device: hush_shared::DeviceId::new() },
            Mailbox { user: hush_shared::UserId::new(), device: hush_shared::DeviceId::new() },
        );
        let ids = [uuid::Uuid::now_v7(), uuid::Uuid::now_v7()];
        {
            let store = SqliteStore::open(&path).unwrap();
            for mailbox in [a1, b1] {
                store.open_mailbox(mailbox).await.unwrap();
            }
            for id in ids {
                assert_eq!(send(&store, (a1, b1), id).await, Enqueued::Stored { at: 5 });
            }
            let read = store.fetch_messages(b1, 0, 1).await.unwrap();
            store.ack_messages(b1, &[MessageRef { sender: a1.user, id: ids[0], seq: read[0].seq }], 6).await.unwrap();
            assert_eq!(rows_in(&store, "messages"), 0);
            // Dropped without a flush, as a killed process would leave it.
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(rows_in(&store, "messages"), 2);
        assert_eq!(rows_in(&store, "message_ids"), 2);
        let read = store.fetch_messages(b1, 0, 10).await.unwrap();
        assert_eq!(read.iter().map(|m| m.id).collect::<Vec<_>>(), ids);
        assert_eq!(send(&store, (a1, b1), ids[1]).await, Enqueued::Duplicate { at: 5 });
        let journal = std::fs::metadata(super::super::send_journal::SendJournal::path_of(&path)).unwrap();
        assert_eq!(journal.len(), 0, "emptied once written");
    }
}
