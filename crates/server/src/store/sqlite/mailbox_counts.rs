//! What the mailbox tables would otherwise write on every message, kept in memory beside the
//! connection instead (migration 0014): the last `seq` handed out, and how many messages wait
//! in each mailbox. Each was a page per commit — `sqlite_sequence` and `mailbox_depth` — and
//! every page is a 4 KiB WAL frame (BENCHMARKS.md, "Fewer pages per message"). Beside them,
//! where each mailbox's queues end: the last copy stored (so a copy can be handed straight to
//! a connection that read up to the one before) and an upper bound on its receipts (so a
//! read that would find none is skipped: receipts mostly live and die in memory,
//! `deferred_acks`). And each person's mailboxes, which every receipt is queued to.
//!
//! All are exact for the process that serves the database: they change only under the
//! store's one connection, a depth is counted from the mailbox index the first time it is
//! needed, a transaction's changes are applied only once it commits ([`DepthChanges`]) — a
//! send's once its part of a batch is written (`group_commit`; a batch that then fails to
//! commit has the depths counted again) —, and mailboxes open and close only through the
//! store, which forgets the lists then.

use rusqlite::{Connection, params};
use uuid::Uuid;

use super::uuid_blob;
use crate::maps::HashMap;
use crate::store::Mailbox;

/// Numbers per second of `stored_at`: a row stored in second `t` gets a `seq` of at least
/// `t * SEQ_PER_SECOND`, so `seq` order is time order and expiry reads the table in order.
pub const SEQ_PER_SECOND: i64 = 1_000_000;

/// The first `seq` a row stored after second `cutoff` can have: everything below is at most
/// that old (or was numbered before migration 0014, which `stored_at` then tells).
pub fn first_seq_after(cutoff: i64) -> i64 {
    cutoff.saturating_add(1).saturating_mul(SEQ_PER_SECOND)
}

/// The counters for one database.
#[derive(Default)]
pub struct MailboxCounts {
    /// The last `seq` given to a message or receipt; `None` until read from the tables.
    last_seq: Option<i64>,
    /// Messages waiting, for mailboxes counted so far.
    depths: HashMap<Mailbox, i64>,
    /// Messages waiting in all mailboxes, once counted.
    total: Option<i64>,
    /// The `seq` of the last copy stored in each mailbox, for mailboxes stored into since
    /// this process opened the database.
    tails: HashMap<Mailbox, i64>,
    /// For mailboxes whose receipts were read to the end since this process opened the
    /// database: no receipt in the table has a higher `seq` (raised by every receipt
    /// written since, committed or not).
    receipt_tails: HashMap<Mailbox, i64>,
    /// The devices of each person's mailboxes, for people read since mailboxes last
    /// opened or closed.
    devices: HashMap<Uuid, Vec<Uuid>>,
}

/// People whose mailboxes are remembered before the memory starts over.
const MAX_PEOPLE: usize = 20_000;

impl MailboxCounts {
    /// The `seq` for a row stored at `now`: after every one given before, and not below
    /// `now`'s second.
    pub fn next_seq(&mut self, c: &Connection, now: i64) -> rusqlite::Result<i64> {
        let last = match self.last_seq {
            Some(last) => last,
            None => c.query_row(
                "SELECT MAX(COALESCE((SELECT MAX(seq) FROM messages), 0), COALESCE((SELECT MAX(seq) FROM receipts), 0))",
                [],
                |r| r.get(0),
            )?,
        };
        let next = (last + 1).max(now.saturating_mul(SEQ_PER_SECOND));
        self.last_seq = Some(next);
        Ok(next)
    }

    /// The devices of `user`'s mailboxes.
    pub fn devices_of(&mut self, c: &Connection, user: &Uuid) -> rusqlite::Result<&[Uuid]> {
        if !self.devices.contains_key(user) {
            let mut stmt = c.prepare_cached("SELECT device FROM mailboxes WHERE user_id = ?1")?;
            let read = stmt.query_map([user.as_bytes()], |r| uuid_blob(r, 0))?.collect::<Result<_, _>>()?;
            if self.devices.len() >= MAX_PEOPLE {
                self.devices.clear();
            }
            self.devices.insert(*user, read);
        }
        Ok(self.devices.get(user).map_or(&[], Vec::as_slice))
    }

    /// Messages waiting in `mailbox`, counting what `pending` (this transaction) changed.
    pub fn depth(&mut self, c: &Connection, mailbox: Mailbox, pending: &DepthChanges) -> rusqlite::Result<i64> {
        let changed = pending.of(mailbox);
        if let Some(depth) = self.depths.get(&mailbox) {
            return Ok(depth + changed);
        }
        // The count sees this transaction's own rows; what is remembered is the committed one.
        let counted: i64 = c
            .prepare_cached("SELECT COUNT(*) FROM messages WHERE recipient = ?1 AND device = ?2")?
            .query_row(params![mailbox.user.0.as_bytes(), mailbox.device.0.as_bytes()], |r| r.get(0))?;
        self.depths.insert(mailbox, counted - changed);
        Ok(counted)
    }

    /// Messages waiting in every mailbox (outside a transaction).
    pub fn total(&mut self, c: &Connection) -> rusqlite::Result<i64> {
        if let Some(total) = self.total {
            return Ok(total);
        }
        let counted: i64 = c.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))?;
        self.total = Some(counted);
        Ok(counted)
    }

    /// The `seq` of the copy stored last in `mailbox` (this transaction's own included),
    /// if known.
    pub fn tail(&self, mailbox: Mailbox, pending: &DepthChanges) -> Option<i64> {
        let stored_now = pending.tails.iter().rev().find(|(m, _)| *m == mailbox).map(|(_, seq)| *seq);
        stored_now.or_else(|| self.tails.get(&mailbox).copied())
    }

    /// Whether the table may hold receipts of `mailbox` after `after` (false only when
    /// known not to: a read of the mailbox's receipts can then be skipped).
    pub fn may_have_receipts(&self, mailbox: Mailbox, after: i64) -> bool {
        self.receipt_tails.get(&mailbox).is_none_or(|tail| *tail > after)
    }

    /// A receipt is being written into `mailbox` at `seq`.
    pub fn receipt_written(&mut self, mailbox: Mailbox, seq: i64) {
        if let Some(tail) = self.receipt_tails.get_mut(&mailbox) {
            *tail = (*tail).max(seq);
        }
    }

    /// A read found no receipt of `mailbox` after `seq`.
    pub fn receipts_end_at(&mut self, mailbox: Mailbox, seq: i64) {
        self.receipt_tails.insert(mailbox, seq);
    }

    /// A transaction that changed these depths committed.
    pub fn committed(&mut self, changes: DepthChanges) {
        for (mailbox, seq) in changes.tails {
            self.tails.insert(mailbox, seq);
        }
        for (mailbox, change) in changes.depths {
            if let Some(depth) = self.depths.get_mut(&mailbox) {
                *depth += change;
            }
            if let Some(total) = self.total.as_mut() {
                *total += change;
            }
        }
    }

    /// Rows were moved or deleted in bulk, or mailboxes opened or closed: count and read
    /// again when next needed (and forget which copy or receipt came last: moved rows may
    /// come after it).
    pub fn forget_depths(&mut self) {
        self.devices.clear();
        self.depths.clear();
        self.total = None;
        self.tails.clear();
        self.receipt_tails.clear();
    }
}

/// How one transaction changed mailbox depths, and which copies it stored last, applied
/// once it commits.
#[derive(Default)]
pub struct DepthChanges {
    depths: Vec<(Mailbox, i64)>,
    tails: Vec<(Mailbox, i64)>,
}

impl DepthChanges {
    /// `change` more messages wait in `mailbox`.
    pub fn add(&mut self, mailbox: Mailbox, change: i64) {
        match self.depths.iter_mut().find(|(m, _)| *m == mailbox) {
            Some((_, total)) => *total += change,
            None => self.depths.push((mailbox, change)),
        }
    }

    /// A copy was stored in `mailbox` at `seq` (after every copy stored before).
    pub fn stored(&mut self, mailbox: Mailbox, seq: i64) {
        self.add(mailbox, 1);
        self.tails.push((mailbox, seq));
    }

    fn of(&self, mailbox: Mailbox) -> i64 {
        self.depths.iter().find(|(m, _)| *m == mailbox).map_or(0, |(_, change)| *change)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{store_one, two_open_mailboxes};
    use super::*;
    use crate::store::MailboxStore;

    /// A person's mailboxes are read once and remembered until a mailbox opens or closes:
    /// a device added later gets the receipts queued after it opened.
    #[tokio::test]
    async fn a_mailbox_opened_later_gets_its_persons_receipts() {
        let (store, a1, b1) = two_open_mailboxes().await;
        let delivered_to = async |now: i64| {
            let ack = store_one(&store, a1, b1, now).await;
            store.ack_messages(b1, &[ack], now).await.unwrap();
            store.flush().await.unwrap();
            ack.id
        };
        let first = delivered_to(1).await;
        let a2 = Mailbox { user: a1.user, device: hush_shared::DeviceId::new() };
        store.open_mailbox(a2).await.unwrap();
        let second = delivered_to(2).await;
        let ids = async |mailbox| {
            store.fetch_receipts(mailbox, 0, 10).await.unwrap().into_iter().map(|r| r.message_id).collect::<Vec<_>>()
        };
        assert_eq!(ids(a1).await, vec![first, second]);
        assert_eq!(ids(a2).await, vec![second], "opened after the first receipt, before the second");
    }

    #[test]
    fn seq_follows_time_and_never_goes_back() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE messages (seq INTEGER PRIMARY KEY); CREATE TABLE receipts (seq INTEGER PRIMARY KEY); INSERT INTO receipts VALUES (42);").unwrap();
        let mut counts = MailboxCounts::default();
        assert_eq!(counts.next_seq(&c, 0).unwrap(), 43, "after the rows already there");
        assert_eq!(counts.next_seq(&c, 10).unwrap(), 10 * SEQ_PER_SECOND);
        assert_eq!(counts.next_seq(&c, 10).unwrap(), 10 * SEQ_PER_SECOND + 1);
        assert_eq!(counts.next_seq(&c, 9).unwrap(), 10 * SEQ_PER_SECOND + 2, "a clock that goes back");
        assert!(counts.next_seq(&c, 11).unwrap() >= first_seq_after(10));
    }

    #[test]
    fn a_depth_counted_inside_a_transaction_is_remembered_without_its_changes() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE messages (seq INTEGER PRIMARY KEY, recipient BLOB, device BLOB)").unwrap();
        let mailbox = Mailbox { user: hush_shared::UserId::new(), device: hush_shared::DeviceId::new() };
        let insert = || {
            c.execute(
                "INSERT INTO messages (recipient, device) VALUES (?1, ?2)",
                params![mailbox.user.0.as_bytes(), mailbox.device.0.as_bytes()],
            )
            .unwrap()
        };
        insert();
        let mut counts = MailboxCounts::default();
        let mut pending = DepthChanges::default();
        insert();
        pending.add(mailbox, 1);
        assert_eq!(counts.depth(&c, mailbox, &pending).unwrap(), 2);
        insert();
        pending.add(mailbox, 1);
        assert_eq!(counts.depth(&c, mailbox, &pending).unwrap(), 3);
        counts.committed(pending);
        assert_eq!(counts.depth(&c, mailbox, &DepthChanges::default()).unwrap(), 3);
        assert_eq!(counts.total(&c).unwrap(), 3);
        let mut gone = DepthChanges::default();
        gone.add(mailbox, -1);
        counts.committed(gone);
        assert_eq!((counts.depth(&c, mailbox, &DepthChanges::default()).unwrap(), counts.total(&c).unwrap()), (2, 2));
    }

    /// A mailbox's receipts are known to end only after a read to the end; every receipt
    /// written later moves that end, and rows moved in bulk make it unknown again.
    #[test]
    fn a_receipt_queue_is_known_to_end_only_after_a_read_to_its_end() {
        let mailbox = Mailbox { user: hush_shared::UserId::new(), device: hush_shared::DeviceId::new() };
        let mut counts = MailboxCounts::default();
        counts.receipt_written(mailbox, 7);
        assert!(counts.may_have_receipts(mailbox, 100), "never read: unknown");
        counts.receipts_end_at(mailbox, 10);
        assert!(!counts.may_have_receipts(mailbox, 10) && counts.may_have_receipts(mailbox, 9));
        counts.receipt_written(mailbox, 12);
        assert!(counts.may_have_receipts(mailbox, 10) && !counts.may_have_receipts(mailbox, 12));
        counts.receipt_written(mailbox, 11);
        assert!(!counts.may_have_receipts(mailbox, 12), "an end never moves back when written");
        let other = Mailbox { user: mailbox.user, device: hush_shared::DeviceId::new() };
        assert!(counts.may_have_receipts(other, 1_000));
        counts.forget_depths();
        assert!(counts.may_have_receipts(mailbox, 1_000), "rows moved: unknown again");
    }
}
