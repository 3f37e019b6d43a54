//! The mailbox's transactions begun and ended with cached statements. rusqlite's
//! `Transaction` and `Savepoint` send their `BEGIN`, `SAVEPOINT`, `RELEASE` and `COMMIT`
//! through `execute_batch`, which parses the SQL again every time: with one message in
//! flight per conversation that was ~2 % of the server's CPU (BENCHMARKS.md, "Statements
//! kept, one generation looked in"), for one or more transactions per message. A [`Write`]
//! is one of its own, or a savepoint inside the open batch of sends (`group_commit`);
//! dropped without [`Write::commit`] or [`Write::hold`], it is rolled back, as rusqlite's
//! are.

use rusqlite::Connection;

/// A mailbox transaction on a connection, open until committed, held or dropped.
pub(super) struct Write<'c> {
    c: &'c Connection,
    /// A savepoint inside a transaction already open (the batch of sends), or a transaction
    /// of its own.
    in_batch: bool,
    /// Neither committed nor held yet: rolled back when dropped.
    open: bool,
}

impl<'c> Write<'c> {
    /// Begins a transaction on `c`, or a savepoint when a transaction is open on it.
    pub(super) fn begin(c: &'c Connection) -> rusqlite::Result<Self> {
        let in_batch = !c.is_autocommit();
        run(c, if in_batch { "SAVEPOINT mailbox_write" } else { "BEGIN DEFERRED" })?;
        Ok(Self { c, in_batch, open: true })
    }

    /// Whether this is a savepoint inside the open batch of sends.
    pub(super) fn in_batch(&self) -> bool {
        self.in_batch
    }

    /// Makes the writes durable, or releases the savepoint into the batch (which commits
    /// them later).
    pub(super) fn commit(mut self) -> rusqlite::Result<()> {
        run(self.c, if self.in_batch { "RELEASE mailbox_write" } else { "COMMIT" })?;
        self.open = false;
        Ok(())
    }

    /// Leaves a transaction of its own open (the batch later sends join, `group_commit`); a
    /// savepoint is released into the batch.
    pub(super) fn hold(mut self) -> rusqlite::Result<()> {
        if self.in_batch {
            run(self.c, "RELEASE mailbox_write")?;
        }
        self.open = false;
        Ok(())
    }
}

impl std::ops::Deref for Write<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.c
    }
}

impl Drop for Write<'_> {
    fn drop(&mut self) {
        // SQLite may have rolled the whole transaction back itself (an I/O error, a full
        // disk): then nothing is left to roll back.
        if !self.open || self.c.is_autocommit() {
            return;
        }
        let rolled_back = if self.in_batch {
            run(self.c, "ROLLBACK TO mailbox_write").and_then(|()| run(self.c, "RELEASE mailbox_write"))
        } else {
            run(self.c, "ROLLBACK")
        };
        if let Err(e) = rolled_back {
            tracing::error!(error = %e, "rolling back a mailbox transaction failed");
        }
    }
}

/// Runs a transaction-control statement (no parameters, no rows), prepared once per
/// connection: the ones above, and the batch's `COMMIT` and `ROLLBACK` (`group_commit`).
pub(super) fn run(c: &Connection, sql: &str) -> rusqlite::Result<()> {
    c.prepare_cached(sql)?.execute([])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Write;
    use rusqlite::Connection;

    fn table() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        c
    }

    fn rows(c: &Connection) -> Vec<i64> {
        let mut stmt = c.prepare("SELECT x FROM t ORDER BY x").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn a_transaction_of_its_own_commits_or_rolls_back_when_dropped() {
        let c = table();
        let tx = Write::begin(&c).unwrap();
        tx.execute("INSERT INTO t VALUES (1)", []).unwrap();
        tx.commit().unwrap();
        assert!(c.is_autocommit());
        drop({
            let tx = Write::begin(&c).unwrap();
            tx.execute("INSERT INTO t VALUES (2)", []).unwrap();
            tx
        });
        assert!(c.is_autocommit());
        assert_eq!(rows(&c), vec![1]);
    }

    #[test]
    fn a_held_transaction_stays_open() {
        let c = table();
        let tx = Write::begin(&c).unwrap();
        tx.execute("INSERT INTO t VALUES (1)", []).unwrap();
        tx.hold().unwrap();
        assert!(!c.is_autocommit(), "open for the batch");
        c.execute_batch("COMMIT").unwrap();
        assert_eq!(rows(&c), vec![1]);
    }

    /// Inside an open batch each write is a savepoint: released into the batch, or rolled
    /// back alone, leaving the batch's other writes.
    #[test]
    fn inside_a_batch_a_write_is_a_savepoint() {
        let c = table();
        c.execute_batch("BEGIN; INSERT INTO t VALUES (1);").unwrap();
        let tx = Write::begin(&c).unwrap();
        tx.execute("INSERT INTO t VALUES (2)", []).unwrap();
        tx.commit().unwrap();
        drop({
            let tx = Write::begin(&c).unwrap();
            tx.execute("INSERT INTO t VALUES (3)", []).unwrap();
            tx
        });
        let tx = Write::begin(&c).unwrap();
        tx.execute("INSERT INTO t VALUES (4)", []).unwrap();
        tx.hold().unwrap();
        assert!(!c.is_autocommit(), "the batch is still open");
        c.execute_batch("COMMIT").unwrap();
        assert_eq!(rows(&c), vec![1, 2, 4]);
    }
}
