//! The embedded backend: one SQLite file in the data directory (WAL mode), schema managed
//! by numbered migrations. Every call runs inline on the calling task while holding the one
//! connection, so transactions never interleave inside a process (statements take
//! microseconds; see BENCHMARKS.md for why not the blocking pool). The connection sits
//! behind tokio's mutex, not the standard one: a call that finds it taken waits as a task
//! while its worker goes on with other connections, instead of putting the worker to sleep
//! in the kernel and waking it with a second system call (an eighth of the server's CPU per
//! message when messages come one at a time; BENCHMARKS.md). `busy_timeout` lets
//! several processes share the file. WAL checkpoints run on a thread of their own
//! (`checkpoint`), off the request path. Sends from many connections share a batch
//! (`group_commit`), made durable by one append to the journal of sends beside the file
//! (`send_journal`); a message waits in memory (`pending_sends`) and reaches the tables
//! ten times a second, unless acked first.

mod accounts;
mod checkpoint;
mod codes;
mod deferred_acks;
mod devices;
mod group_commit;
mod limits;
mod links;
mod mailbox;
mod mailbox_counts;
mod mailbox_write;
mod message_records;
mod newest_ids;
mod pending_sends;
mod push;
mod route_cache;
mod send_journal;
mod sessions;
mod social;
mod unacked_copies;

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hush_shared::ws::ReceiptKind;
use rusqlite::Connection;
use tokio::sync::Mutex as AsyncMutex;

use self::deferred_acks::DeferredAcks;
use self::group_commit::{GroupCommit, Outcome, Ticket};
use self::mailbox_counts::MailboxCounts;
use self::message_records::Generations;
use self::pending_sends::PendingSends;
use self::route_cache::RouteCache;
use self::send_journal::SendJournal;
use self::unacked_copies::UnackedCopies;
use super::{HealthCheck, StoreError, StoreResult, Stores};

/// Ordered migrations; the version is the position (1-based). Never edit a published one.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_mailbox.sql"),
    include_str!("migrations/0003_mailbox_ack_index.sql"),
    include_str!("migrations/0004_mailbox_blob_ids.sql"),
    include_str!("migrations/0005_mailbox_depth.sql"),
    include_str!("migrations/0006_devices.sql"),
    include_str!("migrations/0007_crypto_v2.sql"),
    include_str!("migrations/0008_device_mailboxes.sql"),
    include_str!("migrations/0009_device_seen.sql"),
    include_str!("migrations/0010_links.sql"),
    include_str!("migrations/0011_message_copies.sql"),
    include_str!("migrations/0012_link_history.sql"),
    include_str!("migrations/0013_sign_in_attempts.sql"),
    include_str!("migrations/0014_mailbox_fewer_pages.sql"),
    include_str!("migrations/0015_push_subscriptions.sql"),
    include_str!("migrations/0016_message_id_generations.sql"),
    include_str!("migrations/0017_message_ids_by_id.sql"),
];

/// The SQLite store; cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    /// Waited for as a task (see the module header); the checkpoint thread blocks on it.
    conn: Arc<AsyncMutex<Connection>>,
    /// Taken only while `conn` is held (see [`Self::call_mailbox`]).
    memory: Arc<Mutex<MailboxMemory>>,
    /// Send routes remembered while their tables do not change.
    routes: Arc<RouteCache>,
    /// The batch of sends open on `conn`, if one is (`group_commit`).
    group: Arc<GroupCommit>,
}

/// What the mailbox keeps beside the database rather than write on every message.
#[derive(Default)]
pub(crate) struct MailboxMemory {
    pub counts: MailboxCounts,
    pub deferred: DeferredAcks,
    pub generations: Generations,
    pub unacked: UnackedCopies,
    /// Sends answered `stored` and not written to the tables yet.
    pub pending: PendingSends,
    /// Where they are durable (`None` for a database in memory).
    pub journal: Option<SendJournal>,
}

impl MailboxMemory {
    /// Appends the sends added since the last append to the journal: they are durable once
    /// this returns `Ok`.
    fn append_pending(&mut self) -> std::io::Result<()> {
        if let Some(journal) = self.journal.as_mut() {
            journal.append(self.pending.unjournaled())?;
        }
        self.pending.mark_journaled();
        Ok(())
    }

    /// Sends failed before they were durable (their batch, or its append to the journal):
    /// those not appended are forgotten (their senders are told, and send again), the
    /// receipts only the batch held are written again (`DeferredAcks::batch_ended`), and
    /// what is remembered of rows is read again from the tables — after the sends still
    /// pending are written, so that they are counted.
    fn batch_failed(&mut self, c: &Connection) {
        self.pending.drop_unjournaled();
        self.deferred.batch_ended(false);
        if let Err(e) = mailbox::write_pending(c, self) {
            tracing::error!(error = %e, "writing the pending sends failed");
        }
        self.forget_rows();
    }

    /// Rows were moved or deleted in bulk: what is remembered of them is counted or read
    /// again when next needed.
    pub fn forget_rows(&mut self) {
        self.counts.forget_depths();
        self.unacked.forget();
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: &Path) -> StoreResult<Self> {
        // Owner-only before SQLite opens it: its -wal and -shm files take this mode too.
        crate::data_dir::owner_only_file(path)
            .map_err(|e| StoreError(format!("cannot create {}: {e}", path.display())))?;
        let conn = Connection::open(path)?;
        // Checkpoints run on their own thread (see `checkpoint`), not inside commits.
        // SQLite's own stays as a backstop, far above where that thread restarts the WAL.
        conn.pragma_update(None, "wal_autocheckpoint", checkpoint::BACKSTOP_FRAMES)?;
        let store = Self::setup(conn)?;
        store.replay_journal(&SendJournal::path_of(path))?;
        let (group, memory) = (Arc::clone(&store.group), Arc::clone(&store.memory));
        let end_batch = move |c: &Connection| end_batch(&group, &memory, c);
        checkpoint::start(path.to_owned(), Arc::downgrade(&store.conn), end_batch)
            .map_err(|e| StoreError(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(store)
    }

    /// Opens the journal of sends at `path` and writes what it holds to the tables: sends
    /// answered `stored` by a process that ended before writing them, and receipts it held
    /// only in memory (`send_journal`).
    fn replay_journal(&self, path: &Path) -> StoreResult<()> {
        let (journal, journaled) = SendJournal::open(path)
            .map_err(|e| StoreError(format!("cannot open the journal of sends {}: {e}", path.display())))?;
        if !journaled.sends.is_empty() || !journaled.receipts.is_empty() {
            let (sends, receipts) = (journaled.sends.len(), journaled.receipts.len());
            tracing::info!(sends, receipts, "writing what a previous run journaled");
        }
        let conn = self.conn.try_lock().map_err(|_| StoreError("the store is in use while opening".into()))?;
        with_memory(&self.memory, |memory| {
            memory.journal = Some(journal);
            mailbox::write_journaled(&conn, memory, journaled)
        })?;
        Ok(())
    }

    /// An in-memory database, for tests of the store itself.
    pub fn open_in_memory() -> StoreResult<Self> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> StoreResult<Self> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // WAL: readers never block the writer; NORMAL sync is crash-safe for process
        // crashes (a committed transaction survives SIGKILL) at a fraction of FULL's fsyncs.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Room for every statement the store prepares (about 70), so none is parsed again.
        conn.set_prepared_statement_cache_capacity(128);
        // Plans fixed at prepare time: otherwise a statement with a bound LIMIT or range
        // (the mailbox reads) is prepared again whenever a new value is bound — parsing
        // and planning were an eighth of the server's CPU per message (BENCHMARKS.md).
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        migrate(&mut conn)?;
        let routes = Arc::new(RouteCache::default());
        routes.watch(&conn)?;
        Ok(Self { conn: Arc::new(AsyncMutex::new(conn)), memory: Arc::default(), routes, group: Arc::default() })
    }

    /// Every store trait backed by this database.
    pub fn stores(&self) -> Stores {
        Stores {
            accounts: Arc::new(self.clone()),
            sessions: Arc::new(self.clone()),
            codes: Arc::new(self.clone()),
            limits: Arc::new(self.clone()),
            social: Arc::new(self.clone()),
            mailbox: Arc::new(self.clone()),
            devices: Arc::new(self.clone()),
            prekeys: Arc::new(self.clone()),
            links: Arc::new(self.clone()),
            push: Arc::new(self.clone()),
            health: Arc::new(self.clone()),
        }
    }

    /// Runs `f` with the connection, after ending the open batch of sends if there is one
    /// (`group_commit`): `f` runs in transactions of its own.
    pub(crate) async fn call<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        // Run inline on the calling worker: our statements take microseconds, and a profile
        // of the saturate benchmark showed the hop to tokio's blocking pool (thread wake-ups
        // and parking) costing far more than SQLite itself.
        let mut guard = self.conn.lock().await;
        self.end_batch(&guard);
        f(&mut guard).map_err(StoreError::from)
    }

    /// Runs `f` with the connection and what the mailbox keeps beside it.
    pub(crate) async fn call_mailbox<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &mut MailboxMemory) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        self.call_mailbox_keeping_pending(move |c, memory| {
            mailbox::write_pending(c, memory)?;
            f(c, memory)
        })
        .await
    }

    /// [`Self::call_mailbox`] leaving the pending sends pending: for a read of a mailbox,
    /// which takes its pending copies from memory.
    pub(crate) async fn call_mailbox_keeping_pending<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &mut MailboxMemory) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        let memory = Arc::clone(&self.memory);
        self.call(move |c| with_memory(&memory, |memory| f(c, memory))).await
    }

    /// Runs `f` with the connection and what the mailbox keeps beside it, inside the open
    /// batch of sends if there is one (its writes in savepoints), without waiting for that
    /// batch to commit: for calls that answer nothing durable — acks, and reading the
    /// receipt queues. Delivery is at least once, so an ack lost with a batch (its commit
    /// failed, or the process died) only means the device gets the message or receipt again.
    pub(crate) async fn call_mailbox_lazily<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut Connection, &mut MailboxMemory) -> Result<T, rusqlite::Error>,
    {
        let mut guard = self.conn.lock().await;
        let result = with_memory(&self.memory, |memory| f(&mut guard, memory));
        self.end_batch_if_lost(&guard);
        result.map_err(StoreError::from)
    }

    /// Runs `f` inside the open batch of sends, opening one if none is; its rows are
    /// durable once [`Self::durable`] returns for the ticket.
    async fn call_in_batch<T, F>(&self, f: F) -> StoreResult<(T, Ticket)>
    where
        F: FnOnce(&mut Connection, &mut MailboxMemory) -> Result<T, rusqlite::Error>,
    {
        let mut guard = self.conn.lock().await;
        self.end_batch_if_lost(&guard);
        let joined = self.group.open_batch(&guard);
        // On an error `f`'s rows are rolled back: the whole transaction if it opened one,
        // else its savepoint in the batch.
        let result = with_memory(&self.memory, |memory| f(&mut guard, memory));
        self.end_batch_if_lost(&guard);
        let result = result?;
        let ticket = match joined {
            Some(ticket) => {
                self.group.joined_with(&guard);
                ticket
            }
            None => self.group.opened(&guard),
        };
        Ok((result, ticket))
    }

    /// Waits until the batch of `ticket` is committed. The send that opened it commits it
    /// once the tasks ready to run have had their turns (and could join; see
    /// [`GroupCommit::turns`](group_commit::GroupCommit::turns));
    /// a send that joined commits it itself if its opener's task ended first
    /// ([`Opener`](group_commit::Opener)).
    async fn durable(&self, ticket: Ticket) -> StoreResult<()> {
        if ticket.opened_it {
            let _opener = self.group.opener(ticket);
            for _ in 0..self.group.turns() {
                tokio::task::yield_now().await;
            }
            self.end_batch_of(ticket).await;
        }
        let outcome = match self.group.ended(ticket).await {
            Outcome::Abandoned => {
                self.end_batch_of(ticket).await;
                self.group.ended(ticket).await
            }
            outcome => outcome,
        };
        if outcome == Outcome::Committed {
            Ok(())
        } else {
            Err(StoreError("the batch of sends this one was in could not be committed".into()))
        }
    }

    /// Ends the batch of `ticket` if it is still open.
    async fn end_batch_of(&self, ticket: Ticket) {
        let guard = self.conn.lock().await;
        if self.group.is_open(ticket.batch) {
            self.end_batch(&guard);
        }
    }

    /// Ends the open batch of sends, if there is one (see [`end_batch`]).
    fn end_batch(&self, c: &Connection) {
        end_batch(&self.group, &self.memory, c);
    }

    /// Ends the open batch of sends as failed if SQLite rolled it back on its own.
    fn end_batch_if_lost(&self, c: &Connection) {
        if self.group.lost(c) {
            self.end_batch(c);
        }
    }
}

/// Ends the open batch of sends on `c`, if there is one; when it fails, what the mailbox
/// remembers of rows is read again (its senders are refused and resend).
fn end_batch(group: &GroupCommit, memory: &Mutex<MailboxMemory>, c: &Connection) {
    if !group.is_open_now() {
        return;
    }
    // The batch's pending sends are durable once appended: before its commit.
    let appended = with_memory(memory, MailboxMemory::append_pending);
    match group.end(c, appended) {
        Ok(()) => with_memory(memory, |memory| memory.deferred.batch_ended(true)),
        Err(e) => {
            tracing::error!(error = %e, "committing a batch of sends failed");
            with_memory(memory, |memory| memory.batch_failed(c));
        }
    }
}

/// Runs `f` with what the mailbox keeps beside the connection (held only while the
/// connection is).
fn with_memory<T>(memory: &Mutex<MailboxMemory>, f: impl FnOnce(&mut MailboxMemory) -> T) -> T {
    // A panic mid-update may have left a depth half-changed: count again.
    let mut guard = match memory.lock() {
        Ok(guard) => guard,
        Err(poisoned) => {
            memory.clear_poison();
            let mut guard = poisoned.into_inner();
            guard.forget_rows();
            guard
        }
    };
    let result = f(&mut guard);
    // Committed, rolled back with an error, or released into the open batch of sends: no
    // transaction or savepoint of `f` is open now.
    guard.deferred.call_ended();
    result
}

/// The journal of sends kept beside the database at `database` (`<database>-sends`): sends
/// answered `stored` and not yet written to its tables. A copy of the database is whole
/// only with it (the backup copies it first).
pub fn sends_journal_of(database: &Path) -> std::path::PathBuf {
    SendJournal::path_of(database)
}

/// The schema version this build migrates databases to.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The schema version of the database at `path` (0: none applied), read without changing
/// anything; `None` when there is no database yet.
pub fn schema_version_of(path: &Path) -> StoreResult<Option<i64>> {
    if !path.exists() {
        return Ok(None);
    }
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let has_table: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')",
        [],
        |r| r.get(0),
    )?;
    if !has_table {
        return Ok(Some(0));
    }
    Ok(Some(conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?))
}

/// Why a database a newer release migrated is not opened (its tables may mean other things).
pub fn newer_schema(version: i64) -> String {
    format!(
        "the database is at schema version {version}, newer than this hush-server knows ({SCHEMA_VERSION}): \
         a newer release has used it; run that release, or restore the backup taken before upgrading"
    )
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )?;
    let current: i64 = conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(StoreError(newer_schema(current)));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let version = index as i64 + 1;
        if version <= current {
            continue;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?1, unixepoch())", [version])?;
        tx.commit()?;
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}

#[async_trait]
impl HealthCheck for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.call(|c| c.query_row("SELECT 1", [], |_| Ok(()))).await
    }
}

/// How a receipt's kind is stored (the receipts table: migrations 0004, 0008; the journal
/// of sends).
fn receipt_kind_code(kind: ReceiptKind) -> i64 {
    match kind {
        ReceiptKind::Delivered => 0,
        ReceiptKind::Read => 1,
        ReceiptKind::Expired => 2,
        ReceiptKind::Resend => 3,
        ReceiptKind::ReadElsewhere => 4,
    }
}

fn receipt_kind_from(code: i64) -> ReceiptKind {
    match code {
        1 => ReceiptKind::Read,
        2 => ReceiptKind::Expired,
        3 => ReceiptKind::Resend,
        4 => ReceiptKind::ReadElsewhere,
        _ => ReceiptKind::Delivered,
    }
}

/// Reads a UUID stored as a 16-byte BLOB (the mailbox tables).
pub(crate) fn uuid_blob(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<uuid::Uuid> {
    let bytes = row.get_ref(idx)?.as_blob()?;
    uuid::Uuid::from_slice(bytes)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Blob, Box::new(e)))
}

/// Reads a UUID stored as TEXT.
pub(crate) fn uuid_col(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<uuid::Uuid> {
    let text: String = row.get(idx)?;
    uuid::Uuid::parse_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mailbox reads bind a new LIMIT and cursor each time; SQLite must not plan them
    /// again for every new value (it did, until the plans were fixed at prepare time).
    #[test]
    fn statements_are_not_prepared_again_when_bound_values_change() {
        let store = SqliteStore::open_in_memory().unwrap();
        let conn = store.conn.try_lock().unwrap();
        let mut stmt = conn
            .prepare("SELECT seq FROM messages WHERE recipient = ?1 AND device = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4")
            .unwrap();
        for (after, limit) in [(0_i64, 256_i64), (5, 255), (9, 1), (12, 256)] {
            let rows = stmt.query_map(rusqlite::params![[0u8; 16], [0u8; 16], after, limit], |r| r.get::<_, i64>(0));
            assert_eq!(rows.unwrap().count(), 0);
        }
        assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0);
    }

    /// The database and the files SQLite keeps beside it are the owner's alone.
    #[cfg(unix)]
    #[test]
    fn the_database_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hush.db");
        std::fs::write(&path, b"").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let store = SqliteStore::open(&path).unwrap();
        store.conn.try_lock().unwrap().execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);").unwrap();
        for name in ["hush.db", "hush.db-wal", "hush.db-shm"] {
            let mode = std::fs::metadata(dir.path().join(name)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name}");
        }
    }

    #[test]
    fn migrations_are_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hush.db");
        drop(SqliteStore::open(&path).unwrap());
        let store = SqliteStore::open(&path).unwrap();
        let conn = store.conn.try_lock().unwrap();
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0)).unwrap();
        assert_eq!(n, MIGRATIONS.len() as i64);
    }

    /// Migration 0004 turns text ids into BLOBs, 0005 counts mailboxes and 0008 gives each
    /// device its own: rows written before them must come back unchanged through the store
    /// (in the person's first device's mailbox), and be counted.
    #[tokio::test]
    async fn mailbox_rows_survive_the_mailbox_migrations() {
        use crate::store::{Enqueued, EnvelopeCopy, Mailbox, MailboxPolicy, MailboxStore, MessageRef, Outgoing};
        use hush_shared::ws::ReceiptKind;
        use hush_shared::{DeviceId, UserId};

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hush.db");
        let (alice, bob, message, receipt) =
            (uuid::Uuid::now_v7(), uuid::Uuid::now_v7(), uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
            )
            .unwrap();
            for (index, sql) in MIGRATIONS[..3].iter().enumerate() {
                conn.execute_batch(sql).unwrap();
                conn.execute("INSERT INTO schema_migrations VALUES (?1, 0)", [index as i64 + 1]).unwrap();
            }
            let (a, b, m, r) = (alice.to_string(), bob.to_string(), message.to_string(), receipt.to_string());
            conn.execute(
                "INSERT INTO messages (recipient, sender, id, envelope, stored_at) VALUES (?1, ?2, ?3, x'01020304', 7)",
                [&b, &a, &m],
            )
            .unwrap();
            conn.execute("INSERT INTO message_ids (sender, id, stored_at) VALUES (?1, ?2, 7)", [&a, &m]).unwrap();
            conn.execute(
                "INSERT INTO receipts (user_id, id, kind, message_id, peer, at) VALUES (?1, ?2, 'read', ?3, ?4, 9)",
                [&a, &r, &m, &b],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        // Migration 0008: what waited for a person belongs to their first device's mailbox.
        let (bob_box, alice_box) = (
            Mailbox { user: UserId(bob), device: DeviceId::new() },
            Mailbox { user: UserId(alice), device: DeviceId::new() },
        );
        assert_eq!(store.total_depth().await.unwrap(), 1, "migration 0005 counted the waiting message");
        assert!(store.fetch_messages(bob_box, 0, 10).await.unwrap().is_empty(), "not Bob's device's until it opens");
        store.open_mailbox(bob_box).await.unwrap();
        store.open_mailbox(alice_box).await.unwrap();
        assert_eq!(store.depth(bob_box).await.unwrap(), 1);
        let waiting = store.fetch_messages(bob_box, 0, 10).await.unwrap();
        assert_eq!(waiting.len(), 1);
        assert_eq!(
            (waiting[0].id, waiting[0].from, waiting[0].to, waiting[0].stored_at),
            (message, UserId(alice), UserId(bob), 7)
        );
        assert_eq!(waiting[0].from_device, DeviceId(uuid::Uuid::nil()), "queued before devices existed");
        assert_eq!(waiting[0].envelope, vec![1, 2, 3, 4]);
        let receipts = store.fetch_receipts(alice_box, 0, 10).await.unwrap();
        assert_eq!(receipts.len(), 1);
        assert_eq!((receipts[0].id, receipts[0].kind, receipts[0].message_id), (receipt, ReceiptKind::Read, message));
        assert_eq!(receipts[0].peer, UserId(bob));
        let policy = MailboxPolicy { max_messages: 10, ttl_secs: 60 };
        let copies = vec![EnvelopeCopy { mailbox: bob_box, envelope: vec![1; 40] }];
        let resend = Outgoing { to: UserId(bob), id: message, copies };
        let answer = store.enqueue_many(alice_box, vec![resend], 8, policy).await.unwrap();
        assert_eq!(answer, vec![Enqueued::Duplicate { at: 7 }], "the dedup record was carried over");
        assert_eq!(
            store
                .ack_messages(bob_box, &[MessageRef { sender: UserId(alice), id: message, seq: waiting[0].seq }], 10)
                .await
                .unwrap(),
            vec![UserId(alice)]
        );
        let later = store.fetch_messages(bob_box, 0, 10).await.unwrap();
        assert!(later.is_empty(), "the acked message is gone");
        assert_eq!((store.depth(bob_box).await.unwrap(), store.total_depth().await.unwrap()), (0, 0));
        let delivered = store.fetch_receipts(alice_box, receipts[0].seq, 10).await.unwrap();
        assert_eq!(delivered.iter().map(|r| r.kind).collect::<Vec<_>>(), vec![ReceiptKind::Delivered]);
    }

    /// An ack of a message's only copy is written by a later mailbox transaction or at
    /// shutdown (`flush`), its `delivered` receipt read from memory until then; a receipt
    /// acked before it was written is never written. Acks not written when the process dies
    /// come again: the messages are delivered again (clients ignore an id they hold and ack
    /// it again), and acking them again queues their receipts again.
    #[tokio::test]
    async fn deferred_acks_are_written_by_flush_and_come_again_without_it() {
        use crate::store::{EnvelopeCopy, Mailbox, MailboxPolicy, MailboxStore, MessageRef, Outgoing, ReceiptRef};
        use hush_shared::ws::ReceiptKind;
        use hush_shared::{DeviceId, UserId};

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hush.db");
        let (a1, b1) = (
            Mailbox { user: UserId::new(), device: DeviceId::new() },
            Mailbox { user: UserId::new(), device: DeviceId::new() },
        );
        let policy = MailboxPolicy { max_messages: 10, ttl_secs: 60 };
        let store = SqliteStore::open(&path).unwrap();
        for mailbox in [a1, b1] {
            store.open_mailbox(mailbox).await.unwrap();
        }
        for _ in 0..2 {
            let copies = vec![EnvelopeCopy { mailbox: b1, envelope: vec![1; 40] }];
            let message = Outgoing { to: b1.user, id: uuid::Uuid::now_v7(), copies };
            store.enqueue_many(a1, vec![message], 5, policy).await.unwrap();
        }
        write_pending_now(&store).await;
        let rows = rows_in;
        let ack_all = async |store: &SqliteStore| {
            let waiting = store.fetch_messages(b1, 0, 10).await.unwrap();
            assert_eq!(waiting.len(), 2);
            let refs: Vec<_> = waiting.iter().map(|m| MessageRef { sender: m.from, id: m.id, seq: m.seq }).collect();
            assert_eq!(store.ack_messages(b1, &refs, 6).await.unwrap(), vec![a1.user], "Alice is told");
            assert_eq!(store.ack_messages(b1, &refs, 6).await.unwrap(), vec![], "acked already: nothing more");
        };
        ack_all(&store).await;
        assert_eq!((rows(&store, "messages"), rows(&store, "receipts")), (2, 0), "deferred: nothing written yet");
        assert_eq!((store.depth(b1).await.unwrap(), store.total_depth().await.unwrap()), (0, 0), "acked: not waiting");
        let receipts = store.fetch_receipts(a1, 0, 10).await.unwrap();
        assert_eq!(receipts.iter().map(|r| r.kind).collect::<Vec<_>>(), vec![ReceiptKind::Delivered; 2]);
        assert_eq!(
            store.fetch_receipts(a1, receipts[0].seq, 1).await.unwrap(),
            receipts[1..],
            "after a cursor, limited"
        );
        let acks: Vec<_> = receipts.iter().map(|r| ReceiptRef { id: r.id, seq: r.seq }).collect();
        store.ack_receipts(a1, &acks[..1]).await.unwrap();
        assert_eq!(store.fetch_receipts(a1, 0, 10).await.unwrap(), receipts[1..], "acked while waiting: gone");

        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        assert!(store.fetch_receipts(a1, 0, 10).await.unwrap().is_empty(), "the process died: no receipt was written");
        ack_all(&store).await; // the messages come again, and acking them queues their receipts again
        let receipts = store.fetch_receipts(a1, 0, 10).await.unwrap();
        assert_eq!(receipts.len(), 2);
        store.flush().await.unwrap();
        assert_eq!((rows(&store, "messages"), rows(&store, "receipts")), (0, 2), "written by flush");
        let acks: Vec<_> = receipts.iter().map(|r| ReceiptRef { id: r.id, seq: r.seq }).collect();
        store.ack_receipts(a1, &acks).await.unwrap();
        assert_eq!(rows(&store, "receipts"), 2, "a receipt ack in the table waits too");
        assert!(store.fetch_receipts(a1, 0, 10).await.unwrap().is_empty(), "a new reader: written first");
        assert_eq!(rows(&store, "receipts"), 0);
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        assert!(store.fetch_messages(b1, 0, 10).await.unwrap().is_empty());
        assert!(store.fetch_receipts(a1, 0, 10).await.unwrap().is_empty());
    }

    /// How many rows `table` holds.
    pub(super) fn rows_in(store: &SqliteStore, table: &str) -> i64 {
        let c = store.conn.try_lock().unwrap();
        c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)).unwrap()
    }

    /// Writes the pending sends to the tables now (`pending_sends`), as the store owner's
    /// frequent write would: for tests of what happens to rows in the tables.
    pub(super) async fn write_pending_now(store: &SqliteStore) {
        let c = store.conn.lock().await;
        store.end_batch(&c);
        with_memory(&store.memory, |memory| mailbox::write_pending(&c, memory)).unwrap();
    }

    /// An empty store with one open mailbox for each of two people.
    pub(super) async fn two_open_mailboxes() -> (SqliteStore, crate::store::Mailbox, crate::store::Mailbox) {
        use crate::store::{Mailbox, MailboxStore};
        use hush_shared::{DeviceId, UserId};

        let store = SqliteStore::open_in_memory().unwrap();
        let (a1, b1) = (
            Mailbox { user: UserId::new(), device: DeviceId::new() },
            Mailbox { user: UserId::new(), device: DeviceId::new() },
        );
        for mailbox in [a1, b1] {
            store.open_mailbox(mailbox).await.unwrap();
        }
        (store, a1, b1)
    }

    /// Stores one message from `from` to `to` (one copy, at `now`) and writes it to the
    /// table: the reference an ack of it names.
    pub(super) async fn store_one(
        store: &SqliteStore,
        from: crate::store::Mailbox,
        to: crate::store::Mailbox,
        now: i64,
    ) -> crate::store::MessageRef {
        use crate::store::{EnvelopeCopy, MailboxPolicy, MailboxStore, MessageRef, Outgoing};

        let policy = MailboxPolicy { max_messages: 10, ttl_secs: 100 };
        let id = uuid::Uuid::now_v7();
        let copies = vec![EnvelopeCopy { mailbox: to, envelope: vec![1; 40] }];
        store.enqueue_many(from, vec![Outgoing { to: to.user, id, copies }], now, policy).await.unwrap();
        write_pending_now(store).await;
        let waiting = store.fetch_messages(to, 0, 100).await.unwrap();
        MessageRef { sender: from.user, id, seq: waiting.iter().find(|m| m.id == id).unwrap().seq }
    }

    /// A send leaves deferred acks waiting until they are due: the copy acked stays in the
    /// table but no longer counts toward a full mailbox, and a receipt acked meanwhile is
    /// never written; anything else on the mailbox tables (here a retry) writes them first.
    /// A receipt queue read to its end is not read again until a receipt is written to it.
    #[tokio::test]
    async fn sends_leave_deferred_acks_waiting_until_due() {
        use crate::store::{Enqueued, EnvelopeCopy, MailboxPolicy, MailboxStore, MessageRef, Outgoing};
        use crate::store::{ReceiptRef, StoredMessage};

        let (store, a1, b1) = two_open_mailboxes().await;
        let policy = MailboxPolicy { max_messages: 1, ttl_secs: 60 };
        let send = async || {
            let copies = vec![EnvelopeCopy { mailbox: b1, envelope: vec![1; 40] }];
            store.enqueue_many(a1, vec![Outgoing { to: b1.user, id: uuid::Uuid::now_v7(), copies }], 5, policy).await
        };
        let reference = |m: &StoredMessage| MessageRef { sender: m.from, id: m.id, seq: m.seq };
        let rows = |table: &str| rows_in(&store, table);

        assert!(matches!(send().await.unwrap()[..], [Enqueued::Stored { .. }]));
        write_pending_now(&store).await;
        let first = store.fetch_messages(b1, 0, 10).await.unwrap().remove(0);
        assert_eq!(store.ack_messages(b1, &[reference(&first)], 6).await.unwrap(), vec![a1.user]);
        let receipt = store.fetch_receipts(a1, 0, 10).await.unwrap().remove(0);
        store.ack_receipts(a1, &[ReceiptRef { id: receipt.id, seq: receipt.seq }]).await.unwrap();
        assert!(matches!(send().await.unwrap()[..], [Enqueued::Stored { .. }]), "the acked copy does not fill it");
        // The acked copy's row is still there; the new one waits pending (`pending_sends`).
        assert_eq!((rows("messages"), rows("receipts")), (1, 0), "the send wrote no ack");

        let second = store.fetch_messages(b1, first.seq, 10).await.unwrap().remove(0);
        store.retry_messages(b1, &[reference(&second)], 7).await.unwrap();
        assert_eq!((rows("messages"), rows("receipts")), (0, 1), "written first: only the resend receipt is left");
        // Alice's receipts were read to their end before: the one written since is read.
        let resend = store.fetch_receipts(a1, receipt.seq, 10).await.unwrap();
        assert_eq!(resend.iter().map(|r| r.kind).collect::<Vec<_>>(), vec![hush_shared::ws::ReceiptKind::Resend]);
        assert!(store.fetch_receipts(a1, resend[0].seq, 10).await.unwrap().is_empty());
    }

    /// When settled acks fall due, a copy whose `delivered` receipt waits unacked in memory
    /// stays there with the receipt (no receipt row written only to be deleted a round trip
    /// later): the receipt is read from memory, the copy no longer counts as waiting, and
    /// once the receipt is acked the copy goes without a receipt ever written. A copy that
    /// awaited its receipt's ack too long is written with its receipt, and then, as awaiting
    /// did not pay, the next writes await nothing. The store owner's flush writes it all.
    #[tokio::test]
    async fn a_copy_awaiting_its_receipts_ack_stays_in_memory_while_settled_acks_are_written() {
        use crate::store::{MailboxStore, ReceiptRef};
        use deferred_acks::MAX_DEFERRED;

        let (store, a1, b1) = two_open_mailboxes().await;
        let rows = |table: &str| rows_in(&store, table);
        // Acks of receipts long gone: settled items, written when due (they delete nothing).
        let settled = async || {
            let gone: Vec<_> =
                (0..MAX_DEFERRED as i64).map(|seq| ReceiptRef { id: uuid::Uuid::now_v7(), seq }).collect();
            store.ack_receipts(b1, &gone).await.unwrap();
        };

        let first = store_one(&store, a1, b1, 5).await;
        assert_eq!(store.ack_messages(b1, &[first], 6).await.unwrap(), vec![a1.user]);
        settled().await;
        assert!(!store.memory.lock().unwrap().deferred.is_empty(), "the awaited copy stays");
        assert_eq!((rows("messages"), rows("receipts")), (1, 0), "the copy is not deleted, its receipt not written");
        assert_eq!(store.depth(b1).await.unwrap(), 0, "acked: not waiting");
        let delivered = store.fetch_receipts(a1, 0, 10).await.unwrap();
        assert_eq!(delivered.iter().map(|r| r.message_id).collect::<Vec<_>>(), vec![first.id], "read from memory");
        store.ack_receipts(a1, &[ReceiptRef { id: delivered[0].id, seq: delivered[0].seq }]).await.unwrap();
        settled().await;
        assert_eq!((rows("messages"), rows("receipts")), (0, 0), "the copy went; no receipt was ever written");

        let second = store_one(&store, a1, b1, 7).await;
        store.ack_messages(b1, &[second], 8).await.unwrap();
        std::thread::sleep(deferred_acks::AWAIT_AT_MOST + std::time::Duration::from_millis(50));
        settled().await;
        assert_eq!((rows("messages"), rows("receipts")), (0, 1), "awaited too long: written with its receipt");
        assert!(store.memory.lock().unwrap().deferred.is_empty());
        let delivered = store.fetch_receipts(a1, 0, 10).await.unwrap();
        assert_eq!(delivered.iter().map(|r| r.message_id).collect::<Vec<_>>(), vec![second.id], "read from the table");

        // More copies awaited too long than settled in time: the next writes await nothing.
        let third = store_one(&store, a1, b1, 9).await;
        store.ack_messages(b1, &[third], 10).await.unwrap();
        settled().await;
        assert_eq!((rows("messages"), rows("receipts")), (0, 2), "written at once with its receipt");

        let (store, a1, b1) = two_open_mailboxes().await;
        let fourth = store_one(&store, a1, b1, 11).await;
        store.ack_messages(b1, &[fourth], 12).await.unwrap();
        store.flush().await.unwrap();
        assert!(store.memory.lock().unwrap().deferred.is_empty(), "the store owner's flush writes what awaits too");
    }

    /// The store owner's frequent write (`flush_settled`) writes settled acks before they
    /// are due, so no write grows large, and leaves a copy awaiting its receipt's ack until
    /// that waited too long; then the copy goes with its receipt.
    #[tokio::test]
    async fn the_owners_frequent_write_leaves_only_copies_awaiting_their_receipts_ack() {
        use crate::store::{MailboxStore, ReceiptRef};

        let (store, a1, b1) = two_open_mailboxes().await;
        let rows = |table: &str| rows_in(&store, table);
        let (awaiting, settled) = (store_one(&store, a1, b1, 1).await, store_one(&store, a1, b1, 2).await);
        store.ack_messages(b1, &[awaiting, settled], 3).await.unwrap();
        let receipts = store.fetch_receipts(a1, 0, 10).await.unwrap();
        let of_settled = receipts.iter().find(|r| r.message_id == settled.id).unwrap();
        store.ack_receipts(a1, &[ReceiptRef { id: of_settled.id, seq: of_settled.seq }]).await.unwrap();
        assert!(!store.memory.lock().unwrap().deferred.due(), "nothing is due yet");
        assert_eq!((rows("messages"), rows("receipts")), (2, 0));

        store.flush_settled().await.unwrap();
        assert_eq!((rows("messages"), rows("receipts")), (1, 0), "the settled copy went; the other awaits");
        std::thread::sleep(deferred_acks::AWAIT_AT_MOST + std::time::Duration::from_millis(50));
        store.flush_settled().await.unwrap();
        assert_eq!((rows("messages"), rows("receipts")), (0, 1), "awaited too long: written with its receipt");
        assert!(store.memory.lock().unwrap().deferred.is_empty());
    }

    /// The ack of a copy in the table (written after its send was pending a while) whose
    /// receipt depends on the other copies — the recipient has several devices — is written
    /// at once, so the second device's ack adds no second receipt; a copy on the sender's
    /// own other device is deferred and tells nobody. (Copies still pending are decided in
    /// memory: `pending_sends`.)
    #[tokio::test]
    async fn acks_of_one_of_several_copies_are_written_at_once() {
        use crate::store::{EnvelopeCopy, Mailbox, MailboxPolicy, MailboxStore, MessageRef, Outgoing};
        use hush_shared::ws::ReceiptKind;
        use hush_shared::{DeviceId, UserId};

        let store = SqliteStore::open_in_memory().unwrap();
        let (alice, bob) = (UserId::new(), UserId::new());
        let (a1, a2) =
            (Mailbox { user: alice, device: DeviceId::new() }, Mailbox { user: alice, device: DeviceId::new() });
        let (b1, b2) = (Mailbox { user: bob, device: DeviceId::new() }, Mailbox { user: bob, device: DeviceId::new() });
        for mailbox in [a1, a2, b1, b2] {
            store.open_mailbox(mailbox).await.unwrap();
        }
        let copies = [b1, b2, a2].map(|mailbox| EnvelopeCopy { mailbox, envelope: vec![1; 40] }).to_vec();
        let policy = MailboxPolicy { max_messages: 10, ttl_secs: 60 };
        store.enqueue_many(a1, vec![Outgoing { to: bob, id: uuid::Uuid::now_v7(), copies }], 5, policy).await.unwrap();
        write_pending_now(&store).await;
        let ack = async |mailbox: Mailbox| {
            let m = store.fetch_messages(mailbox, 0, 10).await.unwrap().remove(0);
            store.ack_messages(mailbox, &[MessageRef { sender: m.from, id: m.id, seq: m.seq }], 6).await.unwrap()
        };
        assert_eq!(ack(a2).await, vec![], "Alice's own copy: no delivery");
        let waiting =
            |c: &Connection| c.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(waiting(&store.conn.try_lock().unwrap()), 3, "deferred");
        assert_eq!(ack(b1).await, vec![alice]);
        assert_eq!(waiting(&store.conn.try_lock().unwrap()), 1, "written at once, with the deferred one");
        assert_eq!(ack(b2).await, vec![], "delivered already");
        for mailbox in [a1, a2] {
            let receipts = store.fetch_receipts(mailbox, 0, 10).await.unwrap();
            assert_eq!(receipts.iter().map(|r| r.kind).collect::<Vec<_>>(), vec![ReceiptKind::Delivered]);
        }
    }

    /// Each stored copy says what was stored in its mailbox just before it: nothing known
    /// for a mailbox's first copy in this process, then the last one — within a batch too.
    #[tokio::test]
    async fn stored_copies_say_what_came_before_them_in_their_mailbox() {
        use crate::store::{EnvelopeCopy, Mailbox, MailboxPolicy, MailboxStore, Outgoing};
        use hush_shared::{DeviceId, UserId};

        let store = SqliteStore::open_in_memory().unwrap();
        let (a1, b1, b2) = (
            Mailbox { user: UserId::new(), device: DeviceId::new() },
            Mailbox { user: UserId::new(), device: DeviceId::new() },
            Mailbox { user: UserId::new(), device: DeviceId::new() },
        );
        let policy = MailboxPolicy { max_messages: 10, ttl_secs: 60 };
        let message = |to: &[Mailbox]| Outgoing {
            to: to[0].user,
            id: uuid::Uuid::now_v7(),
            copies: to.iter().map(|m| EnvelopeCopy { mailbox: *m, envelope: vec![1; 40] }).collect(),
        };
        let (_, first) = store.enqueue_placed(a1, vec![message(&[b1])], 5, policy).await.unwrap();
        assert_eq!((first[0].message, first[0].mailbox, first[0].prev), (0, b1, None), "b1's first copy here");
        let batch = vec![message(&[b1]), message(&[b2]), message(&[b1])];
        let (_, placed) = store.enqueue_placed(a1, batch, 6, policy).await.unwrap();
        let seen: Vec<_> = placed.iter().map(|p| (p.message, p.mailbox, p.prev)).collect();
        let at = |seq| Some(crate::store::Preceding::exactly(seq));
        assert_eq!(seen, vec![(0, b1, at(first[0].seq)), (1, b2, None), (2, b1, at(placed[0].seq))]);
        assert!(placed[0].seq > first[0].seq && placed[2].seq > placed[0].seq);
        store.open_mailbox(b1).await.unwrap(); // moves rows: what came last is read again
        let (_, after) = store.enqueue_placed(a1, vec![message(&[b1])], 7, policy).await.unwrap();
        assert_eq!(after[0].prev, None);
    }

    /// Migration 0007 (crypto v2) drops the per-friendship keys: friendships and pending
    /// requests made before it are still there, without keys.
    #[tokio::test]
    async fn friendships_survive_the_crypto_v2_migration() {
        use crate::store::SocialStore;
        use hush_shared::UserId;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hush.db");
        let (alice, bob, carol) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
            )
            .unwrap();
            for (index, sql) in MIGRATIONS[..6].iter().enumerate() {
                conn.execute_batch(sql).unwrap();
                conn.execute("INSERT INTO schema_migrations VALUES (?1, 0)", [index as i64 + 1]).unwrap();
            }
            for (id, phone) in [(alice, "+16502530001"), (bob, "+16502530002"), (carol, "+16502530003")] {
                conn.execute("INSERT INTO users (id, phone, created_at) VALUES (?1, ?2, 1)", [&id.to_string(), phone])
                    .unwrap();
            }
            let (a, b, c) = (alice.to_string(), bob.to_string(), carol.to_string());
            for (owner, friend) in [(&a, &b), (&b, &a)] {
                conn.execute(
                    "INSERT INTO friend_keys (owner, friend, public_key, since, updated_at) VALUES (?1, ?2, 'k', 5, 5)",
                    [owner, friend],
                )
                .unwrap();
            }
            conn.execute(
                "INSERT INTO friend_requests (id, from_user, to_user, from_key, created_at) VALUES (?1, ?2, ?3, 'k', 6)",
                [&uuid::Uuid::now_v7().to_string(), &c, &a],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let friends = store.list_friends(UserId(alice)).await.unwrap();
        assert_eq!(friends.iter().map(|f| (f.user_id, f.since)).collect::<Vec<_>>(), vec![(UserId(bob), 5)]);
        assert!(store.are_friends(UserId(alice), UserId(bob)).await.unwrap());
        let (incoming, _) = store.list_requests(UserId(alice)).await.unwrap();
        assert_eq!(incoming.iter().map(|r| r.request.from).collect::<Vec<_>>(), vec![UserId(carol)]);
    }
}
