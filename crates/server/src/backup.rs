//! `hush-server --backup-to DIR`: a consistent copy of the embedded store while the server
//! keeps running. SQLite's `VACUUM INTO` reads one snapshot (WAL readers do not block the
//! writer, nor it them) and writes a compact database; the journal of sends not yet written
//! to the tables (`hush.db-sends`) is copied first — a send it holds then is in the copy or
//! in the snapshot, and one written to the tables meanwhile is in both, which the restored
//! server's start takes as one — and the signing secret beside them. Restoring is stopping
//! the server and putting the files back in the data directory (README, "Backup and
//! restore").

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::data_dir::restrict;
use crate::secret::SECRET_FILE;

/// What the backup wrote.
#[derive(Debug)]
pub struct Backup {
    /// The copy of the database.
    pub database: PathBuf,
    /// The copy of the journal of sends, if the data directory has one.
    pub sends: Option<PathBuf>,
    /// The copy of the generated signing secret, if the data directory has one.
    pub secret: Option<PathBuf>,
}

/// Why a backup failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// No database in the data directory.
    #[error("no embedded database at {0}")]
    NoDatabase(String),
    /// The target already holds a backup (never overwritten).
    #[error("{0} already exists; choose a new directory")]
    Exists(String),
    /// Reading or writing files failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Copies `<data_dir>/hush.db` (consistently, while in use) and `<data_dir>/jwt_secret`
/// into `target`, which is created and must not already contain a backup.
pub fn backup(data_dir: &Path, target: &Path) -> Result<Backup, BackupError> {
    let source = data_dir.join("hush.db");
    if !source.is_file() {
        return Err(BackupError::NoDatabase(source.display().to_string()));
    }
    std::fs::create_dir_all(target)?;
    let database = target.join("hush.db");
    if database.exists() {
        return Err(BackupError::Exists(database.display().to_string()));
    }
    let journal_of = crate::store::sqlite::sends_journal_of;
    let sends = copy_if_there(&journal_of(&source), journal_of(&database))?;
    let conn = Connection::open_with_flags(&source, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    let into = database.to_str().ok_or_else(|| std::io::Error::other("backup path is not UTF-8"))?;
    conn.execute("VACUUM INTO ?1", [into])?;
    let secret = copy_if_there(&data_dir.join(SECRET_FILE), target.join(SECRET_FILE))?;
    restrict(&database)?;
    Ok(Backup { database, sends, secret })
}

/// Copies `source` to `copy` (owner-only) if there is such a file.
fn copy_if_there(source: &Path, copy: PathBuf) -> std::io::Result<Option<PathBuf>> {
    if !source.is_file() {
        return Ok(None);
    }
    std::fs::copy(source, &copy)?;
    restrict(&copy)?;
    Ok(Some(copy))
}
