//! Sends from many connections committed together. A commit is most of what a message
//! costs SQLite when messages come one at a time: every page the send changed is written to
//! the WAL again, with its frame header and checksum, and the shared-memory locks are taken
//! and released (BENCHMARKS.md, "Sends committed together"). So the first send finding no
//! batch open opens one; before ending it, it lets the other tasks that are ready run
//! ([`TURNS`]; one turn after a batch nobody joined), and the sends among them join it.
//! Then one append to the journal of sends (`send_journal`) and one commit make them all
//! durable, and each is answered `stored` only after it: a batch adds no wait when the
//! server is idle (nothing else is ready) and grows with the load. A message kept pending
//! (`pending_sends`) writes no row: the journal alone makes it durable, and a batch of such
//! sends has no transaction at all (each send's `BEGIN` or `SAVEPOINT` and its `COMMIT` or
//! `RELEASE` were ~4 % of the server's instructions one message at a time; BENCHMARKS.md,
//! "Sockets polled when they may hold a frame, records written many at a time"). The first
//! send that writes rows (acks that were due, a resend a device asked for) leaves its
//! transaction open as the batch's; the sends after it write theirs into it, each in a
//! savepoint of its own, so one that fails takes only its own rows back.
//!
//! Acks and reads of the receipt queues run inside an open batch (they answer nothing
//! durable: delivery is at least once); when the batch has no transaction they run in one
//! of their own. Any other store call ends the open batch before it runs, so it runs in a
//! transaction of its own and is durable when it returns; so does the checkpoint thread
//! before it holds the writer off.
//!
//! The send that opened a batch ends it; should its task end first (the connection's task
//! dropped while the send gave the others their turns), the [`Opener`] it held tells the
//! sends that joined, and the first of them to hear it ends the batch itself — no timer
//! waits for an opener that may have gone.
//!
//! A batch ends committed or failed: its commit failed (it is rolled back), or SQLite rolled
//! the batch's transaction back itself — it does on an I/O error, a full disk or no memory,
//! even in a statement of another call — which is noticed by the connection having left
//! that transaction while the batch is open. A failed batch loses the acks written into it
//! as a crash would: those copies and receipts come again, on the device's next connection.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use rusqlite::Connection;
use tokio::sync::watch;

use super::mailbox_write::run;

/// Turns the send that opened a batch gives the tasks ready to run before it commits
/// (`tokio::task::yield_now`; each also lets the runtime read the sockets): with 50
/// conversations one message at a time, 1 turn gave 34.4 µs of server CPU per message, 3
/// gave 32.1, 6 gave 31.1, 12 gave 31.0 (BENCHMARKS.md).
pub const TURNS: usize = 6;

/// Turns when the last batch had no send join it: the server is not busy enough for sends
/// to meet, and six turns would cost a lone send ~4 µs for nothing (BENCHMARKS.md). One
/// turn still lets a send that is ready join, and one that does brings [`TURNS`] back.
pub const TURNS_ALONE: usize = 1;

/// Every this many batches nobody joined, one gets [`TURNS`] again: a load whose sends meet
/// only after more than one turn is found again.
pub const PROBE_EVERY: u32 = 16;

/// Failed batches remembered for the sends still waiting on them.
const FAILURES_KEPT: usize = 64;

/// The batches opened and ended on the serving connection. Changed only while that
/// connection is held.
pub struct GroupCommit {
    /// The number of the batch open now, or of the last one opened.
    opened: AtomicU64,
    /// Whether that batch is still open.
    open: AtomicBool,
    /// Whether a send in the open batch wrote rows: the transaction it left open is the
    /// batch's, committed when the batch ends. A batch of sends kept pending has none.
    begun: AtomicBool,
    /// Whether a send joined the open batch (or the last one).
    joined: AtomicBool,
    /// Batches nobody joined since the last one that was: how many turns the next one gets.
    alone_in_a_row: AtomicU32,
    ended: watch::Sender<Ended>,
}

/// The last batch that ended, the last ones that failed, and the last one whose opener left
/// it open.
#[derive(Default)]
struct Ended {
    batch: u64,
    failed: Vec<u64>,
    abandoned: u64,
}

/// How a send's batch ended, as [`GroupCommit::ended`] tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Committed: the send is durable.
    Committed,
    /// Rolled back: the send is not stored.
    Failed,
    /// Still open, its opener gone: the send that hears it ends the batch.
    Abandoned,
}

/// Held by the send that opened a batch while the other sends take their turns; dropped
/// with the batch still open (the send's task ended first), it tells the sends waiting on
/// the batch to end it.
pub struct Opener<'a> {
    group: &'a GroupCommit,
    batch: u64,
}

impl Drop for Opener<'_> {
    fn drop(&mut self) {
        if self.group.is_open(self.batch) {
            self.group.ended.send_modify(|ended| ended.abandoned = ended.abandoned.max(self.batch));
        }
    }
}

/// A send's place in a batch: which one, and whether it opened it (and so ends it).
#[derive(Clone, Copy, Debug)]
pub struct Ticket {
    pub batch: u64,
    pub opened_it: bool,
}

impl Default for GroupCommit {
    fn default() -> Self {
        Self {
            opened: AtomicU64::new(0),
            open: AtomicBool::new(false),
            begun: AtomicBool::new(false),
            joined: AtomicBool::new(false),
            alone_in_a_row: AtomicU32::new(0),
            ended: watch::Sender::new(Ended::default()),
        }
    }
}

impl GroupCommit {
    /// The ticket of the batch open on `c`, if one is: a send joining it.
    pub fn open_batch(&self, c: &Connection) -> Option<Ticket> {
        let open = self.open.load(Ordering::Relaxed) && !self.lost(c);
        if open {
            self.joined.store(true, Ordering::Relaxed);
        }
        open.then(|| Ticket { batch: self.opened.load(Ordering::Relaxed), opened_it: false })
    }

    /// The ticket of a send that found no batch open: it opens one, with the transaction
    /// it left open on `c` if it wrote rows.
    pub fn opened(&self, c: &Connection) -> Ticket {
        let batch = self.opened.fetch_add(1, Ordering::Relaxed) + 1;
        self.joined.store(false, Ordering::Relaxed);
        self.begun.store(!c.is_autocommit(), Ordering::Relaxed);
        self.open.store(true, Ordering::Relaxed);
        Ticket { batch, opened_it: true }
    }

    /// After a send that joined the open batch: if the batch had no transaction and the
    /// send left one open on `c` (it wrote rows), that transaction is the batch's now.
    pub fn joined_with(&self, c: &Connection) {
        if self.open.load(Ordering::Relaxed) && !c.is_autocommit() {
            self.begun.store(true, Ordering::Relaxed);
        }
    }

    /// The turns the opener of a batch gives other sends to join it: [`TURNS`], or
    /// [`TURNS_ALONE`] after a batch nobody joined (but [`TURNS`] every [`PROBE_EVERY`]).
    pub fn turns(&self) -> usize {
        let alone = self.alone_in_a_row.load(Ordering::Relaxed);
        if alone == 0 || alone.is_multiple_of(PROBE_EVERY) { TURNS } else { TURNS_ALONE }
    }

    /// Held by the send of `ticket`, which opened its batch, until it ended it.
    pub fn opener(&self, ticket: Ticket) -> Opener<'_> {
        Opener { group: self, batch: ticket.batch }
    }

    /// Whether `batch` is the one open.
    pub fn is_open(&self, batch: u64) -> bool {
        self.open.load(Ordering::Relaxed) && self.opened.load(Ordering::Relaxed) == batch
    }

    /// Whether SQLite rolled the open batch's transaction back on its own (see the module
    /// header).
    pub fn lost(&self, c: &Connection) -> bool {
        self.open.load(Ordering::Relaxed) && self.begun.load(Ordering::Relaxed) && c.is_autocommit()
    }

    /// Whether a batch is open.
    pub fn is_open_now(&self) -> bool {
        self.open.load(Ordering::Relaxed)
    }

    /// Ends the open batch, if there is one: commits it, or rolls it back when the commit
    /// fails or `journaled` says its pending sends could not be appended to the journal
    /// (`send_journal`), and tells everyone waiting for it. An error means the batch failed
    /// (what the store remembers of its rows is stale).
    pub fn end(&self, c: &Connection, journaled: std::io::Result<()>) -> Result<(), String> {
        if !self.open.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        let batch = self.opened.load(Ordering::Relaxed);
        if self.joined.load(Ordering::Relaxed) {
            self.alone_in_a_row.store(0, Ordering::Relaxed);
        } else {
            self.alone_in_a_row.fetch_add(1, Ordering::Relaxed);
        }
        let committed = if let Err(e) = journaled {
            if !c.is_autocommit() {
                let _ = run(c, "ROLLBACK");
            }
            Err(format!("appending the batch's sends to the journal failed: {e}"))
        } else if c.is_autocommit() {
            // No transaction to commit: none was begun (the journal alone makes the batch
            // durable), or SQLite rolled it back.
            if self.begun.load(Ordering::Relaxed) {
                Err("SQLite rolled the batch back after an error".to_owned())
            } else {
                Ok(())
            }
        } else {
            run(c, "COMMIT").map_err(|e| {
                if !c.is_autocommit() {
                    let _ = run(c, "ROLLBACK");
                }
                e.to_string()
            })
        };
        self.ended.send_modify(|ended| {
            ended.batch = batch;
            if committed.is_err() {
                ended.failed.push(batch);
                if ended.failed.len() > FAILURES_KEPT {
                    ended.failed.remove(0);
                }
            }
        });
        committed
    }

    /// Waits until the batch of `ticket` ended, or its opener left it open.
    pub async fn ended(&self, ticket: Ticket) -> Outcome {
        let mut ended = self.ended.subscribe();
        let Ok(last) = ended.wait_for(|e| e.batch >= ticket.batch || e.abandoned >= ticket.batch).await else {
            return Outcome::Failed;
        };
        if last.batch < ticket.batch {
            Outcome::Abandoned
        } else if last.failed.contains(&ticket.batch) {
            Outcome::Failed
        } else {
            Outcome::Committed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::SqliteStore;
    use super::super::tests::two_open_mailboxes;
    use super::*;
    use crate::store::{EnvelopeCopy, Mailbox, MailboxPolicy, MailboxStore, Outgoing};
    use futures_util::FutureExt;
    use hush_shared::{DeviceId, UserId};

    const POLICY: MailboxPolicy = MailboxPolicy { max_messages: 10, ttl_secs: 100 };

    fn one_message(to: Mailbox) -> Vec<Outgoing> {
        let copies = vec![EnvelopeCopy { mailbox: to, envelope: vec![1; 40] }];
        vec![Outgoing { to: to.user, id: uuid::Uuid::now_v7(), copies }]
    }

    /// Opens a batch by hand, as a send that wrote a row would; its ticket.
    async fn open_a_batch(store: &SqliteStore) -> Ticket {
        let c = store.conn.lock().await;
        c.execute_batch("BEGIN; UPDATE mailboxes SET seen_at = 1;").unwrap();
        store.group.opened(&c)
    }

    /// Sends durable in the journal of the database at `path` (`send_journal`): what a
    /// process started after this one was killed would find.
    fn journaled_sends(path: &std::path::Path) -> usize {
        let bytes = std::fs::read(super::super::send_journal::SendJournal::path_of(path)).unwrap();
        super::super::send_journal::decode_all(&bytes).sends.len()
    }

    /// Sends from several connections at once share one batch, and each is answered only
    /// once the batch's one append to the journal made it durable.
    #[tokio::test]
    async fn concurrent_sends_share_one_commit_and_are_durable_when_answered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hush.db");
        let store = SqliteStore::open(&path).unwrap();
        let to = Mailbox { user: UserId::new(), device: DeviceId::new() };
        store.open_mailbox(to).await.unwrap();
        let before = store.group.opened.load(Ordering::Relaxed);
        let sends = (0..5).map(|_| {
            let (store, path) = (store.clone(), path.clone());
            tokio::spawn(async move {
                let from = Mailbox { user: UserId::new(), device: DeviceId::new() };
                store.enqueue_many(from, one_message(to), 1, POLICY).await.unwrap();
                journaled_sends(&path)
            })
        });
        let seen: Vec<usize> = futures_util::future::join_all(sends).await.into_iter().map(Result::unwrap).collect();
        assert_eq!(seen, vec![5; 5], "every send answered after all five were appended together");
        assert_eq!(store.group.opened.load(Ordering::Relaxed) - before, 1, "one batch");
    }

    /// The opener of a batch gives the others six turns to join while sends meet, one after
    /// a batch nobody joined (six again every sixteenth, to look), and six once one is joined.
    #[tokio::test]
    async fn turns_follow_whether_the_last_batch_was_joined() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        let group = GroupCommit::default();
        assert_eq!(group.turns(), TURNS, "a fresh store expects company");
        let batch = |joiners: usize| {
            c.execute_batch("BEGIN; INSERT INTO t VALUES (1);").unwrap();
            group.opened(&c);
            for _ in 0..joiners {
                group.open_batch(&c).unwrap();
            }
            group.end(&c, Ok(())).unwrap();
        };
        batch(0);
        assert_eq!(group.turns(), TURNS_ALONE, "nobody joined the last batch");
        for _ in 1..PROBE_EVERY - 1 {
            batch(0);
            assert_eq!(group.turns(), TURNS_ALONE);
        }
        batch(0);
        assert_eq!(group.turns(), TURNS, "a probe after {PROBE_EVERY} batches alone");
        batch(0);
        assert_eq!(group.turns(), TURNS_ALONE, "the probe found nobody");
        batch(1);
        assert_eq!(group.turns(), TURNS, "a send joined the last batch");
        batch(3);
        assert_eq!(group.turns(), TURNS);
    }

    /// A batch whose commit fails is rolled back, and every send in it learns so (it is
    /// refused, and sent again); a batch before it still counts as committed, and the next
    /// commits as usual.
    #[tokio::test]
    async fn a_batch_that_fails_to_commit_fails_every_send_in_it() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);",
        )
        .unwrap();
        let group = GroupCommit::default();
        c.execute_batch("BEGIN; INSERT INTO parent VALUES (1);").unwrap();
        let before = group.opened(&c);
        group.end(&c, Ok(())).unwrap();
        c.execute_batch("BEGIN; INSERT INTO child VALUES (7);").unwrap();
        let opener = group.opened(&c);
        let joiner = group.open_batch(&c).unwrap();
        assert!(opener.opened_it && !joiner.opened_it && opener.batch == joiner.batch);
        assert!(group.end(&c, Ok(())).is_err(), "the deferred foreign key fails the commit");
        assert!(c.is_autocommit(), "rolled back");
        assert_eq!((group.ended(opener).await, group.ended(joiner).await), (Outcome::Failed, Outcome::Failed));
        assert_eq!(group.ended(before).await, Outcome::Committed, "the batch before still committed");
        let count: i64 = c.query_row("SELECT COUNT(*) FROM child", [], |r| r.get(0)).unwrap();
        assert_eq!(count, 0);

        c.execute_batch("BEGIN; INSERT INTO parent VALUES (7); INSERT INTO child VALUES (7);").unwrap();
        let next = group.opened(&c);
        group.end(&c, Ok(())).unwrap();
        assert_eq!(group.ended(next).await, Outcome::Committed);
    }

    /// The `delivered` receipt of a copy acked while its send was pending (a copy never
    /// written) lives only in memory until written. Written into a batch that then fails,
    /// it is written again: nothing else would deliver it.
    #[tokio::test]
    async fn a_receipt_only_a_failed_batch_held_is_written_again() {
        let (store, a1, b1) = two_open_mailboxes().await;
        store.enqueue_many(a1, one_message(b1), 1, POLICY).await.unwrap();
        let copy = store.fetch_messages(b1, 0, 10).await.unwrap().remove(0);
        let acked = crate::store::MessageRef { sender: a1.user, id: copy.id, seq: copy.seq };
        store.ack_messages(b1, &[acked], 2).await.unwrap();
        let delivered = store.fetch_receipts(a1, 0, 10).await.unwrap();
        assert_eq!(delivered.len(), 1, "waiting in memory");

        let ticket = open_a_batch(&store).await;
        // A receipt ack waiting makes the next read of Alice's receipts write everything
        // deferred first: into the batch.
        let unknown = crate::store::ReceiptRef { id: uuid::Uuid::now_v7(), seq: i64::MAX };
        store.ack_receipts(a1, &[unknown]).await.unwrap();
        assert_eq!(store.fetch_receipts(a1, 0, 10).await.unwrap(), delivered, "in the batch's table");
        // What SQLite does by itself after an I/O error inside the transaction.
        store.conn.lock().await.execute_batch("ROLLBACK").unwrap();
        store.ack_receipts(a1, &[]).await.unwrap();
        assert_eq!(store.group.ended(ticket).await, Outcome::Failed);

        assert_eq!(store.fetch_receipts(a1, 0, 10).await.unwrap(), delivered, "written again");
        store.flush().await.unwrap();
        let c = store.conn.lock().await;
        let rows: i64 = c.query_row("SELECT COUNT(*) FROM receipts", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 1, "in the table");
    }

    /// A send that joined a batch whose opener's task ended before committing it commits
    /// the batch itself rather than wait for ever.
    #[tokio::test]
    async fn a_send_in_a_batch_its_opener_left_commits_it_itself() {
        let (store, a1, b1) = two_open_mailboxes().await;
        let mut opener = Box::pin(store.enqueue_many(a1, one_message(b1), 1, POLICY));
        assert!((&mut opener).now_or_never().is_none(), "the opener gives the others their turns");
        let mut joiner = Box::pin(store.enqueue_many(a1, one_message(b1), 1, POLICY));
        assert!((&mut joiner).now_or_never().is_none(), "the joiner waits for the batch");
        assert!(store.group.is_open_now());
        drop(opener);
        tokio::time::timeout(std::time::Duration::from_secs(2), joiner).await.expect("not stuck").unwrap();
        assert!(store.conn.lock().await.is_autocommit(), "committed");
        assert_eq!(store.fetch_messages(b1, 0, 10).await.unwrap().len(), 2, "both sends' rows");
    }

    /// A batch of sends kept pending has no transaction: the journal alone makes it
    /// durable. A send that joins it and writes rows (a resend a device asked for) begins
    /// the batch's transaction; should SQLite roll that back on its own, the batch fails —
    /// every send in it is refused, none answered `stored` without its rows.
    #[tokio::test]
    async fn a_batch_has_a_transaction_only_once_a_send_in_it_writes_rows() {
        use crate::store::MessageRef;
        let (store, a1, b1) = two_open_mailboxes().await;
        let first = one_message(b1);
        store.enqueue_many(a1, first.clone(), 1, POLICY).await.unwrap();
        let copy = store.fetch_messages(b1, 0, 10).await.unwrap().remove(0);
        let asked = MessageRef { sender: a1.user, id: copy.id, seq: copy.seq };
        store.retry_messages(b1, &[asked], 2).await.unwrap();

        let mut opener = Box::pin(store.enqueue_many(a1, one_message(b1), 3, POLICY));
        assert!((&mut opener).now_or_never().is_none(), "the opener gives the others their turns");
        assert!(store.group.is_open_now());
        assert!(store.conn.lock().await.is_autocommit(), "a batch of pending sends: no transaction");
        let mut resend = Box::pin(store.enqueue_many(a1, first, 3, POLICY));
        assert!((&mut resend).now_or_never().is_none(), "the resend waits for the batch");
        assert!(!store.conn.lock().await.is_autocommit(), "the resend's rows: the batch's transaction");

        // What SQLite does by itself after an I/O error inside the transaction.
        store.conn.lock().await.execute_batch("ROLLBACK").unwrap();
        let (opened, resent) = futures_util::future::join(opener, resend).await;
        assert!(opened.is_err() && resent.is_err(), "both refused: {opened:?} {resent:?}");
    }

    /// Acks and receipt-queue reads run inside an open batch without ending it (they answer
    /// nothing durable); any other call — here a mailbox read, whose copies a device would
    /// hold — ends it first, so it runs on its own.
    #[tokio::test]
    async fn acks_join_an_open_batch_and_other_calls_end_it() {
        let (store, a1, b1) = two_open_mailboxes().await;
        let ticket = open_a_batch(&store).await;
        store.ack_messages(b1, &[], 2).await.unwrap();
        store.fetch_receipts(a1, 0, 10).await.unwrap();
        store.ack_receipts(a1, &[]).await.unwrap();
        assert!(store.group.is_open(ticket.batch), "still open");
        store.fetch_messages(b1, 0, 10).await.unwrap();
        assert!(store.conn.lock().await.is_autocommit());
        assert_eq!(store.group.ended(ticket).await, Outcome::Committed, "committed before the other call ran");
    }

    /// SQLite rolls a whole transaction back on its own after some errors (I/O, a full
    /// disk): the batch is then ended as failed — its sends are refused, never answered
    /// `stored` — at the next call that sees it, and the next send opens a new one.
    #[tokio::test]
    async fn a_batch_sqlite_rolled_back_on_its_own_fails_its_sends() {
        let (store, a1, b1) = two_open_mailboxes().await;
        let ticket = open_a_batch(&store).await;
        // What SQLite does by itself after an I/O error inside the transaction.
        store.conn.lock().await.execute_batch("ROLLBACK").unwrap();
        store.ack_receipts(a1, &[]).await.unwrap();
        let ended = tokio::time::timeout(std::time::Duration::from_secs(2), store.group.ended(ticket));
        assert_eq!(ended.await.expect("the batch was ended"), Outcome::Failed);
        store.enqueue_many(a1, one_message(b1), 3, POLICY).await.unwrap();
        assert_eq!(store.fetch_messages(b1, 0, 10).await.unwrap().len(), 1);
    }
}
