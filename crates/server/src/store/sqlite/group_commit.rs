//! Sends from many connections committed together. A commit is most of what a message
//! costs SQLite when messages come one at a time: every page the send changed is written to
//! the WAL again, with its frame header and checksum, and the shared-memory locks are taken
//! and released (BENCHMARKS.md, "Sends committed together"). So the first send finding no
//! batch open writes its rows in a transaction it leaves open; before committing it lets
//! the other tasks that are ready run once (`yield_now`), and the sends among them write
//! their rows into the same batch (each in a savepoint of its own, so one that fails takes
//! only its own rows back). Then one commit makes them all durable, and each is answered
//! `stored` only after it: a batch adds no wait when the server is idle (nothing else is
//! ready) and grows with the load.
//!
//! Any other store call ends the open batch before it runs, so everything else still runs
//! in a transaction of its own and is durable when it returns.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::watch;

/// Turns the send that opened a batch gives the tasks ready to run before it commits
/// (`tokio::task::yield_now`; each also lets the runtime read the sockets): with 50
/// conversations one message at a time, 1 turn gave 34.4 µs of server CPU per message, 3
/// gave 32.1, 6 gave 31.1, 12 gave 31.0 (BENCHMARKS.md).
pub const TURNS: usize = 6;

/// How long a send that joined a batch waits for its opener to commit it before it does.
pub const ORPHANED_AFTER: Duration = Duration::from_millis(20);

/// The batches opened and ended on the serving connection.
pub struct GroupCommit {
    /// The number of the batch open now, or of the last one opened.
    opened: AtomicU64,
    ended: watch::Sender<Ended>,
}

/// The last batch that ended, and how many failed to commit so far.
#[derive(Clone, Copy, Default)]
struct Ended {
    batch: u64,
    failures: u64,
}

/// A send's place in a batch: which one, whether it opened it (and so ends it), and how
/// many batches had failed when it joined.
#[derive(Clone, Copy, Debug)]
pub struct Ticket {
    pub batch: u64,
    pub opened_it: bool,
    failures: u64,
}

impl Default for GroupCommit {
    fn default() -> Self {
        Self { opened: AtomicU64::new(0), ended: watch::Sender::new(Ended::default()) }
    }
}

impl GroupCommit {
    /// The ticket of the batch open on `c`, if one is: a send joining it.
    pub fn open_batch(&self, c: &Connection) -> Option<Ticket> {
        let failures = self.ended.borrow().failures;
        let batch = self.opened.load(Ordering::Relaxed);
        (!c.is_autocommit()).then_some(Ticket { batch, opened_it: false, failures })
    }

    /// The ticket of a send that found no batch open: the transaction it left open on `c`
    /// is a new batch (if it left none, its ticket is of a batch already ended).
    pub fn opened(&self, c: &Connection) -> Ticket {
        let failures = self.ended.borrow().failures;
        if c.is_autocommit() {
            return Ticket { batch: self.ended.borrow().batch, opened_it: false, failures };
        }
        let batch = self.opened.fetch_add(1, Ordering::Relaxed) + 1;
        Ticket { batch, opened_it: true, failures }
    }

    /// Whether `batch` is the one open on `c`.
    pub fn is_open(&self, c: &Connection, batch: u64) -> bool {
        !c.is_autocommit() && self.opened.load(Ordering::Relaxed) == batch
    }

    /// Ends the batch open on `c`, if one is: commits it, or rolls it back when the commit
    /// fails (then returns the error: what the store remembers of its rows is stale), and
    /// tells everyone waiting for it.
    pub fn end(&self, c: &Connection) -> rusqlite::Result<()> {
        if c.is_autocommit() {
            return Ok(());
        }
        let batch = self.opened.load(Ordering::Relaxed);
        let committed = c.execute_batch("COMMIT");
        if committed.is_err() && !c.is_autocommit() {
            let _ = c.execute_batch("ROLLBACK");
        }
        self.ended.send_modify(|ended| {
            ended.batch = batch;
            ended.failures += u64::from(committed.is_err());
        });
        committed
    }

    /// Waits until the batch of `ticket` ended; whether it committed. A batch that failed
    /// after it might count this one as failed too: the send is then refused and sent
    /// again, never answered `stored` without being durable.
    pub async fn ended(&self, ticket: Ticket) -> bool {
        let mut ended = self.ended.subscribe();
        let Ok(last) = ended.wait_for(|e| e.batch >= ticket.batch).await else { return false };
        last.failures == ticket.failures
    }
}

#[cfg(test)]
mod tests {
    use super::super::SqliteStore;
    use super::super::tests::two_open_mailboxes;
    use super::*;
    use crate::store::{EnvelopeCopy, Mailbox, MailboxPolicy, MailboxStore, Outgoing};
    use hush_shared::{DeviceId, UserId};

    const POLICY: MailboxPolicy = MailboxPolicy { max_messages: 10, ttl_secs: 100 };

    fn one_message(to: Mailbox) -> Vec<Outgoing> {
        let copies = vec![EnvelopeCopy { mailbox: to, envelope: vec![1; 40] }];
        vec![Outgoing { to: to.user, id: uuid::Uuid::now_v7(), copies }]
    }

    /// Messages in the database as another connection sees them: only what was committed.
    fn committed_messages(path: &std::path::Path) -> i64 {
        let other = Connection::open(path).unwrap();
        other.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0)).unwrap()
    }

    /// Sends from several connections at once share one commit, and each is answered only
    /// once that commit made it durable (another connection to the file sees it).
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
                committed_messages(&path)
            })
        });
        let seen: Vec<i64> = futures_util::future::join_all(sends).await.into_iter().map(Result::unwrap).collect();
        assert_eq!(seen, vec![5; 5], "every send answered after all five were committed together");
        assert_eq!(store.group.opened.load(Ordering::Relaxed) - before, 1, "one batch");
    }

    /// A batch whose commit fails is rolled back, and every send in it learns so (it is
    /// refused, and sent again); the next batch commits as usual.
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
        c.execute_batch("BEGIN; INSERT INTO child VALUES (7);").unwrap();
        let (opener, joiner) = (group.opened(&c), group.open_batch(&c).unwrap());
        assert!(opener.opened_it && !joiner.opened_it && opener.batch == joiner.batch);
        assert!(group.end(&c).is_err(), "the deferred foreign key fails the commit");
        assert!(c.is_autocommit(), "rolled back");
        assert!(!group.ended(opener).await && !group.ended(joiner).await);
        let count: i64 = c.query_row("SELECT COUNT(*) FROM child", [], |r| r.get(0)).unwrap();
        assert_eq!(count, 0);

        c.execute_batch("BEGIN; INSERT INTO parent VALUES (7); INSERT INTO child VALUES (7);").unwrap();
        let next = group.opened(&c);
        group.end(&c).unwrap();
        assert!(group.ended(next).await);
    }

    /// A send that joined a batch whose opener's task ended before committing it commits
    /// the batch itself rather than wait for ever.
    #[tokio::test]
    async fn a_send_in_a_batch_its_opener_left_commits_it_itself() {
        let (store, a1, b1) = two_open_mailboxes().await;
        {
            let c = store.conn.lock().await;
            c.execute_batch("BEGIN; UPDATE mailboxes SET seen_at = 1;").unwrap();
            let abandoned = store.group.opened(&c);
            assert!(abandoned.opened_it);
        }
        let send = store.enqueue_many(a1, one_message(b1), 1, POLICY);
        tokio::time::timeout(std::time::Duration::from_secs(2), send).await.expect("not stuck").unwrap();
        assert!(store.conn.lock().await.is_autocommit(), "committed");
    }

    /// Acks and queue reads run inside an open batch without ending it (they answer
    /// nothing durable); any other call ends it first, so it runs on its own.
    #[tokio::test]
    async fn acks_join_an_open_batch_and_other_calls_end_it() {
        let (store, a1, b1) = two_open_mailboxes().await;
        let ticket = {
            let c = store.conn.lock().await;
            c.execute_batch("BEGIN; UPDATE mailboxes SET seen_at = 1;").unwrap();
            store.group.opened(&c)
        };
        store.ack_messages(b1, &[], 2).await.unwrap();
        store.fetch_messages(b1, 0, 10).await.unwrap();
        store.fetch_receipts(a1, 0, 10).await.unwrap();
        assert!(store.group.is_open(&*store.conn.lock().await, ticket.batch), "still open");
        store.mark_seen(a1, 3).await.unwrap();
        assert!(store.conn.lock().await.is_autocommit());
        assert!(store.group.ended(ticket).await, "committed before the other call ran");
    }
}
