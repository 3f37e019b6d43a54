//! WAL checkpoints off the request path. SQLite's automatic checkpoint runs inside the
//! commit that crosses 1,000 WAL pages: it copies pages into the database file and fsyncs
//! it while that call — and, since every store call holds the one connection, every other —
//! waits. On disk that was the tail of the round-trip benchmark (p99 7 ms, against 2.8 ms
//! with the file on tmpfs; BENCHMARKS.md). Instead the serving connection checkpoints
//! only as a far backstop ([`BACKSTOP_FRAMES`]), and this thread runs a `PASSIVE`
//! checkpoint on its own connection every [`INTERVAL`], which never blocks the writer.
//!
//! A passive checkpoint can only copy what was committed when it started, and the WAL
//! starts over only when a write finds everything copied. Under steady writes that never
//! happens and the WAL would grow without bound, so once it holds [`RESTART_FRAMES`] this
//! thread takes the serving connection for a moment — no writes; it commits the open batch
//! of sends first (`group_commit`), as an open write would keep the WAL from starting over
//! — and copies the rest (only what arrived since its last pass); the next write then
//! starts the WAL from the top.

use std::path::PathBuf;
use std::sync::Weak;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::Mutex;

/// How often the WAL is copied into the database file.
pub const INTERVAL: Duration = Duration::from_millis(250);

/// WAL frames (pages) beyond which a checkpoint holds the writer off to finish: 32 MiB.
pub const RESTART_FRAMES: i64 = 8192;

/// SQLite's automatic checkpoint on the serving connection, kept at 64 MiB of WAL: it
/// never fires while this thread keeps up, and bounds the WAL if it cannot (another
/// process writing the same file without pause).
pub const BACKSTOP_FRAMES: i64 = 16_384;

/// Starts the checkpoint thread for the database at `path`. It stops once `serving` (the
/// store's connection) is dropped; `end_batch` ends the open batch of sends on it.
pub fn start(
    path: PathBuf,
    serving: Weak<Mutex<Connection>>,
    end_batch: impl Fn(&Connection) + Send + 'static,
) -> std::io::Result<()> {
    std::thread::Builder::new().name("hush-sqlite-checkpoint".into()).spawn(move || {
        let connection = match Connection::open(&path) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot open the checkpoint connection; the WAL grows until restart");
                return;
            }
        };
        let _ = connection.busy_timeout(Duration::from_secs(5));
        loop {
            std::thread::sleep(INTERVAL);
            let Some(serving) = serving.upgrade() else { return };
            match checkpoint(&connection) {
                Ok(frames) if frames >= RESTART_FRAMES => {
                    let held = serving.blocking_lock();
                    end_batch(&held);
                    if let Err(e) = checkpoint(&connection) {
                        tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
                    }
                    drop(held);
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; retrying"),
            }
        }
    })?;
    Ok(())
}

/// A passive checkpoint; returns how many frames the WAL held.
fn checkpoint(connection: &Connection) -> rusqlite::Result<i64> {
    connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
}
