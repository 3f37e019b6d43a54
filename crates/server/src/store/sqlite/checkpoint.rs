//! WAL checkpoints off the request path. SQLite's automatic checkpoint runs inside the
//! commit that crosses 1,000 WAL pages, copying pages into the database file and fsyncing
//! it while that request — and, since every store call holds the one connection, every
//! other — waits: a few milliseconds of stall every few thousand messages, the tail of the
//! round-trip benchmark (BENCHMARKS.md). Instead the serving connection never checkpoints
//! and this thread runs a `PASSIVE` checkpoint on its own connection every
//! [`INTERVAL`]; a passive checkpoint never blocks the writer.

use std::path::PathBuf;
use std::sync::{Mutex, Weak};
use std::time::Duration;

use rusqlite::Connection;

/// How often the WAL is copied into the database file.
pub const INTERVAL: Duration = Duration::from_millis(100);

/// Starts the checkpoint thread for the database at `path`. It stops once `serving` (the
/// store's connection) is dropped, after a last checkpoint.
pub fn start(path: PathBuf, serving: Weak<Mutex<Connection>>) -> std::io::Result<()> {
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
            let alive = serving.strong_count() > 0;
            if let Err(e) = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
            }
            if !alive {
                return;
            }
        }
    })?;
    Ok(())
}
