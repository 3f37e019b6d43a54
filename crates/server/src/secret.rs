//! The server's signing secret: from configuration, or generated once and kept in the data
//! directory, readable by the owner only.

use std::io::Write;
use std::path::Path;

use rand_core::{OsRng, RngCore};

/// File name of the generated secret inside the data directory.
pub const SECRET_FILE: &str = "jwt_secret";

/// Why the secret could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// `HUSH_JWT_SECRET` is too short.
    #[error("HUSH_JWT_SECRET must be at least 32 characters")]
    TooShort,
    /// Reading or writing the secret file failed.
    #[error("secret file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// The configured secret, or the one in `<data_dir>/jwt_secret`; `None` when neither
/// exists yet (the first start generates one).
pub fn load(configured: Option<&str>, data_dir: &Path) -> Result<Option<Vec<u8>>, SecretError> {
    if let Some(secret) = configured {
        if secret.len() < 32 {
            return Err(SecretError::TooShort);
        }
        return Ok(Some(secret.as_bytes().to_vec()));
    }
    let path = data_dir.join(SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if text.trim().len() >= 32 => Ok(Some(text.trim().as_bytes().to_vec())),
        Ok(_) => Err(SecretError::TooShort),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SecretError::Io { path: path.display().to_string(), source }),
    }
}

/// Returns the configured secret, or the one in `<data_dir>/jwt_secret`, creating it
/// (32 random bytes, hex) with mode 0600 on first start.
pub fn load_or_create(configured: Option<&str>, data_dir: &Path) -> Result<Vec<u8>, SecretError> {
    if let Some(secret) = load(configured, data_dir)? {
        return Ok(secret);
    }
    let path = data_dir.join(SECRET_FILE);
    let io = |source| SecretError::Io { path: path.display().to_string(), source };
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(io)?;
    file.write_all(hex.as_bytes()).and_then(|_| file.sync_all()).map_err(io)?;
    tracing::info!(path = %path.display(), "generated a new token-signing secret");
    Ok(hex.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_owner_only_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(None, dir.path()).unwrap();
        let second = load_or_create(None, dir.path()).unwrap();
        assert_eq!(first, second);
        assert_eq!(first.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SECRET_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(load_or_create(Some("short"), dir.path()), Err(SecretError::TooShort)));
    }
}
