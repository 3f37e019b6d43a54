//! The data directory and the files in it are the server's alone: the directory is made
//! (or narrowed to) mode 0700 and each file Hush writes there — the database, the signing
//! secret, backups — mode 0600, whatever the process's umask. SQLite gives its `-wal` and
//! `-shm` files the mode of the database file, so making that one 0600 before SQLite
//! opens it covers them too.

use std::path::Path;

/// Creates `dir` if needed and makes it readable by the owner only. A directory the
/// server may write in but not change (a mount owned by someone else) is used as it is,
/// with a warning: the files in it are still owner-only.
pub fn prepare(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    if let Err(e) = set_mode(dir, 0o700) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot make the data directory owner-only (0700)");
    }
    Ok(())
}

/// Creates `file` empty if it does not exist, and makes it readable by the owner only.
pub fn owner_only_file(file: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(file)?;
    restrict(file)
}

/// Makes an existing file readable by the owner only.
pub fn restrict(file: &Path) -> std::io::Result<()> {
    set_mode(file, 0o600)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_or_open_data_directory_becomes_owner_only() {
        let root = tempfile::tempdir().unwrap();
        let fresh = root.path().join("a/b");
        prepare(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
        let open = root.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        prepare(&open).unwrap();
        assert_eq!(mode(&open), 0o700);
    }

    #[test]
    fn files_are_created_or_narrowed_to_owner_only() {
        let root = tempfile::tempdir().unwrap();
        let new = root.path().join("new");
        owner_only_file(&new).unwrap();
        assert_eq!(mode(&new), 0o600);
        let old = root.path().join("old");
        std::fs::write(&old, b"kept").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        owner_only_file(&old).unwrap();
        assert_eq!((mode(&old), std::fs::read(&old).unwrap()), (0o600, b"kept".to_vec()));
    }
}
