//! Sends answered `stored` whose rows are not in the mailbox tables yet: durable in the
//! journal ([`send_journal`](super::send_journal)), kept here until the store writes them
//! ([`super::mailbox::write_pending`]: ten times a second, and before any transaction that
//! reads or changes the tables other than a send, an ack or a read of a mailbox, which
//! takes the mailbox's pending copies from here). A copy acked meanwhile — the
//! usual case, as a live device acks a message a round trip after it was handed over — is
//! dropped here and never written: a message one at a time costs the tables its record
//! alone, written with many others (BENCHMARKS.md, "Sends kept out of SQLite"). Whether a
//! message was delivered is decided here too: the first of its recipient's devices to ack
//! its copy delivers it, however many devices it went to, and its record is written with
//! that state.
//!
//! Exact for the one process that serves the database, as the mailbox counters are: the
//! counters count a pending copy as stored, and the duplicate check looks here before the
//! message records.

use std::collections::{BTreeMap, HashMap as SipHashMap};

use uuid::Uuid;

use super::send_journal::{self, JournaledSend};
use crate::maps::HashMap;
use crate::store::{Mailbox, MessageRef, StoredMessage};

/// Pending sends whose room the maps keep once written (a burst beyond it is not kept).
const ROOM_KEPT: usize = 4_096;

/// The sends waiting to be written, and the entries not yet appended to the journal.
#[derive(Default)]
pub struct PendingSends {
    sends: Vec<JournaledSend>,
    /// Whether each send was delivered: a device of its recipient acked its copy.
    delivered: Vec<bool>,
    /// When each pending message was stored, by sender and id (the duplicate check). Ids
    /// are the clients' choice and this map is shared by every sender: std's SipHash, not
    /// foldhash (`crate::maps`).
    ids: SipHashMap<(Uuid, Uuid), i64>,
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
        self.insert(send, false);
    }

    fn insert(&mut self, send: JournaledSend, delivered: bool) {
        let index = self.sends.len();
        send_journal::encode(&send, &mut self.unjournaled);
        self.ids.insert((send.from.user.0, send.id), send.stored_at);
        for (i, copy) in send.copies.iter().enumerate() {
            self.per_mailbox.entry(copy.mailbox).or_default().insert(copy.seq, (index, i));
        }
        self.sends.push(send);
        self.delivered.push(delivered);
    }

    /// When the message `id` of `sender` was stored, if it is pending.
    pub fn stored_at(&self, sender: &Uuid, id: &Uuid) -> Option<i64> {
        self.ids.get(&(*sender, *id)).copied()
    }

    /// Drops the copy of `message` in `mailbox` (acked), if it is pending — no row of it was
    /// or will be written — with whether this ack delivers its message: the copy is its
    /// recipient's, and no other device of theirs acked one before. An ack naming a
    /// pending copy's place with another sender or id drops nothing.
    pub fn ack(&mut self, mailbox: Mailbox, message: &MessageRef) -> Option<bool> {
        let &(send, _) = self.per_mailbox.get(&mailbox)?.get(&message.seq)?;
        let pending = &self.sends[send];
        if pending.from.user != message.sender || pending.id != message.id {
            return None;
        }
        release(&mut self.per_mailbox, (mailbox, message.seq));
        let delivers = mailbox.user == pending.addressee && !self.delivered[send];
        self.delivered[send] |= delivers;
        Some(delivers)
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
        self.delivered.truncate(self.journaled);
        for send in self.sends.drain(self.journaled..) {
            self.ids.remove(&(send.from.user.0, send.id));
            for copy in &send.copies {
                release(&mut self.per_mailbox, (copy.mailbox, copy.seq));
            }
        }
        self.unjournaled.clear();
    }

    /// Every send pending, each with which of its copies are not acked (to be written) and
    /// whether it was delivered; nothing is pending after.
    pub fn take_all(&mut self) -> Vec<Unwritten> {
        let (sends, delivered) = (std::mem::take(&mut self.sends), std::mem::take(&mut self.delivered));
        let per_mailbox = &self.per_mailbox;
        let unwritten = sends
            .into_iter()
            .zip(delivered)
            .enumerate()
            .map(|(index, (send, delivered))| {
                let unacked = (send.copies.iter().enumerate())
                    .map(|(i, copy)| per_mailbox.get(&copy.mailbox).and_then(|c| c.get(&copy.seq)) == Some(&(index, i)))
                    .collect();
                Unwritten { send, unacked, delivered }
            })
            .collect();
        self.forget_all();
        unwritten
    }

    /// Forgets every send, keeping the maps' room for up to [`ROOM_KEPT`] sends: made anew,
    /// the map of ids grew again from nothing in every tenth of a second, each doubling
    /// hashing every id again (BENCHMARKS.md, "Sockets polled when they may hold a frame,
    /// records written many at a time"). Every field is named here, so one added later
    /// cannot be left holding what was forgotten (as `mem::take` of the whole did).
    fn forget_all(&mut self) {
        let Self { sends, delivered, ids, per_mailbox, journaled, unjournaled } = self;
        if ids.capacity() > ROOM_KEPT {
            *ids = SipHashMap::new();
            *per_mailbox = HashMap::default();
        }
        sends.clear();
        delivered.clear();
        ids.clear();
        per_mailbox.clear();
        *journaled = 0;
        unjournaled.clear();
    }

    /// Writing what [`Self::take_all`] took failed: it is pending again, without the copies
    /// acked meanwhile (it is in the journal still).
    pub fn put_back(&mut self, unwritten: Vec<Unwritten>) {
        for Unwritten { mut send, unacked, delivered } in unwritten {
            let mut keep = unacked.into_iter();
            send.copies.retain(|_| keep.next().unwrap_or(false));
            self.insert(send, delivered);
        }
        self.mark_journaled();
    }
}

/// A send taken to be written ([`PendingSends::take_all`]).
pub struct Unwritten {
    pub send: JournaledSend,
    /// Whether each of its copies is still unacked (to be written).
    pub unacked: Vec<bool>,
    /// Whether a device of its recipient acked its copy.
    pub delivered: bool,
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
    use super::super::send_journal::SendJournal;
    use super::super::tests::{rows_in, two_open_mailboxes, write_pending_now};
    use crate::store::{
        Enqueued, EnvelopeCopy, Mailbox, MailboxPolicy, MailboxStore, MessageRef, Outgoing, ReceiptRef,
    };
    use hush_shared::ws::ReceiptKind;

    const POLICY: MailboxPolicy = MailboxPolicy { max_messages: 2, ttl_secs: 100 };

    async fn send(store: &SqliteStore, (from, to): (Mailbox, Mailbox), id: uuid::Uuid) -> Enqueued {
        let copies = vec![EnvelopeCopy { mailbox: to, envelope: vec![7; 40] }];
        store.enqueue_many(from, vec![Outgoing { to: to.user, id, copies }], 5, POLICY).await.unwrap().remove(0)
    }

    /// Written out, the pending sends leave the maps empty but keep their room for the next
    /// ones — unless a burst grew them past `ROOM_KEPT`; a send taken is no longer known.
    #[test]
    fn taken_sends_leave_their_room_up_to_a_bound() {
        use super::super::send_journal::{JournaledCopy, JournaledSend};
        use super::{PendingSends, ROOM_KEPT};
        let mailbox = Mailbox { user: hush_shared::UserId::new(), device: hush_shared::DeviceId::new() };
        let send = |seq: i64| JournaledSend {
            from: mailbox,
            id: uuid::Uuid::now_v7(),
            addressee: mailbox.user,
            stored_at: 5,
            copies: vec![JournaledCopy { seq, mailbox, copies: 1, envelope: vec![] }],
        };
        let mut pending = PendingSends::default();
        for round in [100, ROOM_KEPT * 2] {
            let sends: Vec<JournaledSend> = (0..round as i64).map(send).collect();
            let first = (sends[0].from.user.0, sends[0].id);
            for s in sends {
                pending.add(s);
            }
            assert_eq!(pending.take_all().len(), round);
            assert!(pending.stored_at(&first.0, &first.1).is_none() && pending.is_empty());
            let room = pending.ids.capacity();
            if round <= ROOM_KEPT {
                assert!(room >= round, "room for {round} kept: {room}");
            } else {
                assert!(room < round, "a burst's room is not kept: {room}");
            }
        }
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

    /// A new person's only device.
    fn one_device() -> Mailbox {
        Mailbox { user: hush_shared::UserId::new(), device: hush_shared::DeviceId::new() }
    }

    /// A database path in a new directory (kept while the first value lives), and two
    /// people's only devices.
    fn a_database_and_two_people() -> (tempfile::TempDir, std::path::PathBuf, Mailbox, Mailbox) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hush.db");
        (dir, path, one_device(), one_device())
    }

    /// The store of the database at `path`, with `mailboxes` open.
    async fn open_with(path: &std::path::Path, mailboxes: [Mailbox; 2]) -> SqliteStore {
        let store = SqliteStore::open(path).unwrap();
        for mailbox in mailboxes {
            store.open_mailbox(mailbox).await.unwrap();
        }
        store
    }

    /// Reads the one message in `mailbox` and acks it: the people told of a receipt.
    async fn read_and_ack(
        store: &SqliteStore,
        mailbox: Mailbox,
        sender: hush_shared::UserId,
    ) -> Vec<hush_shared::UserId> {
        let read = store.fetch_messages(mailbox, 0, 10).await.unwrap();
        assert_eq!(read.len(), 1);
        let acked = MessageRef { sender, id: read[0].id, seq: read[0].seq };
        store.ack_messages(mailbox, &[acked], 6).await.unwrap()
    }

    /// An ack naming a pending copy's place with another id (or sender) drops nothing: the
    /// copy is still there to read, and the right ack delivers it.
    #[tokio::test]
    async fn an_ack_with_the_wrong_id_leaves_a_pending_copy() {
        let (store, a1, b1) = two_open_mailboxes().await;
        let id = uuid::Uuid::now_v7();
        assert_eq!(send(&store, (a1, b1), id).await, Enqueued::Stored { at: 5 });
        let seq = store.fetch_messages(b1, 0, 10).await.unwrap()[0].seq;
        for (sender, wrong) in [(a1.user, uuid::Uuid::now_v7()), (b1.user, id)] {
            let told = store.ack_messages(b1, &[MessageRef { sender, id: wrong, seq }], 6).await.unwrap();
            assert_eq!(told, []);
        }
        assert_eq!(read_and_ack(&store, b1, a1.user).await, [a1.user]);
    }

    /// A message to a person with two devices is delivered by the first device to ack it,
    /// from memory: one `delivered` receipt, none for the second ack — whether that copy was
    /// still pending, or written meanwhile with the record saying it was delivered.
    #[tokio::test]
    async fn a_message_to_several_devices_is_delivered_once() {
        for second_written in [false, true] {
            let (store, a1, b1) = two_open_mailboxes().await;
            let b2 = Mailbox { user: b1.user, device: hush_shared::DeviceId::new() };
            store.open_mailbox(b2).await.unwrap();
            let id = uuid::Uuid::now_v7();
            let copies = [b1, b2].map(|mailbox| EnvelopeCopy { mailbox, envelope: vec![7; 40] }).to_vec();
            let stored = store.enqueue_many(a1, vec![Outgoing { to: b1.user, id, copies }], 5, POLICY).await.unwrap();
            assert_eq!(stored, [Enqueued::Stored { at: 5 }]);
            assert_eq!(rows_in(&store, "messages"), 0, "pending");

            assert_eq!(read_and_ack(&store, b1, a1.user).await, [a1.user], "the first ack delivers it");
            if second_written {
                write_pending_now(&store).await;
                assert_eq!(rows_in(&store, "messages"), 1, "b2's copy");
            }
            assert_eq!(read_and_ack(&store, b2, a1.user).await, [], "the second does not");
            let receipts = store.fetch_receipts(a1, 0, 10).await.unwrap();
            assert_eq!(
                receipts.iter().map(|r| (r.kind, r.message_id)).collect::<Vec<_>>(),
                [(ReceiptKind::Delivered, id)]
            );
            store.flush().await.unwrap();
            assert_eq!(rows_in(&store, "messages"), 0);
        }
    }

    /// Once the pending sends are written without an acked copy, the `delivered` receipt
    /// its ack queued and its sender has not acked yet is in the journal: a process that
    /// dies then keeps it (the copy that could deliver the message again is gone). Once
    /// acked, the next start of the journal leaves it out.
    #[tokio::test]
    async fn a_receipt_still_awaited_is_journaled_when_the_pending_sends_are_written() {
        let (_dir, path, a1, b1) = a_database_and_two_people();
        let id = uuid::Uuid::now_v7();
        {
            let store = open_with(&path, [a1, b1]).await;
            assert_eq!(send(&store, (a1, b1), id).await, Enqueued::Stored { at: 5 });
            let read = store.fetch_messages(b1, 0, 1).await.unwrap();
            store.ack_messages(b1, &[MessageRef { sender: a1.user, id, seq: read[0].seq }], 6).await.unwrap();
            write_pending_now(&store).await;
            assert_eq!((rows_in(&store, "messages"), rows_in(&store, "receipts")), (0, 0));
            // Dropped without a flush, as a killed process would leave it.
        }
        let store = SqliteStore::open(&path).unwrap();
        assert!(store.fetch_messages(b1, 0, 10).await.unwrap().is_empty());
        let receipts = store.fetch_receipts(a1, 0, 10).await.unwrap();
        assert_eq!(receipts.iter().map(|r| (r.kind, r.message_id)).collect::<Vec<_>>(), [(ReceiptKind::Delivered, id)]);
        let journal = SendJournal::path_of(&path);
        assert_eq!(std::fs::metadata(&journal).unwrap().len(), 0, "written, the journal starts again empty");

        // Acked this time before the pending sends are written: the journal keeps nothing.
        let id = uuid::Uuid::now_v7();
        assert_eq!(send(&store, (a1, b1), id).await, Enqueued::Stored { at: 5 });
        assert_eq!(read_and_ack(&store, b1, a1.user).await, [a1.user]);
        let receipt = store.fetch_receipts(a1, receipts[0].seq, 10).await.unwrap().remove(0);
        store.ack_receipts(a1, &[ReceiptRef { seq: receipt.seq, id: receipt.id }]).await.unwrap();
        write_pending_now(&store).await;
        assert_eq!(std::fs::metadata(&journal).unwrap().len(), 0);
    }

    /// A receipt the journal held for a mailbox closed since is not written back at start.
    #[tokio::test]
    async fn a_journaled_receipt_for_a_closed_mailbox_is_dropped() {
        let (_dir, path, a1, b1) = a_database_and_two_people();
        {
            let store = open_with(&path, [a1, b1]).await;
            assert_eq!(send(&store, (a1, b1), uuid::Uuid::now_v7()).await, Enqueued::Stored { at: 5 });
            assert_eq!(read_and_ack(&store, b1, a1.user).await, [a1.user]);
            write_pending_now(&store).await;
            assert!(std::fs::metadata(SendJournal::path_of(&path)).unwrap().len() > 0, "the receipt is journaled");
            store.close_mailbox(a1).await.unwrap();
            // Dropped without a flush, as a killed process would leave it.
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(rows_in(&store, "receipts"), 0);
    }

    /// Sends a process answered `stored` and died before writing are written when the
    /// database is opened again; a copy acked before the process died comes again
    /// (delivery is at least once).
    #[tokio::test]
    async fn journaled_sends_are_written_when_the_store_opens_again() {
        let (_dir, path, a1, b1) = a_database_and_two_people();
        let ids = [uuid::Uuid::now_v7(), uuid::Uuid::now_v7()];
        {
            let store = open_with(&path, [a1, b1]).await;
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
        let journal = std::fs::metadata(SendJournal::path_of(&path)).unwrap();
        assert_eq!(journal.len(), 0, "emptied once written");
    }
}
