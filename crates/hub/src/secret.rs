//! The cookie secret: 32 random bytes kept hex-encoded in a mode-0600 file
//! (or `JPY_COOKIE_SECRET`), created on first start. Deleting the file logs
//! everyone out.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Why the secret could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Readable or writable by others.
    #[error(
        "cookie secret file {0} is accessible by other users (mode {1:o}); run `chmod 600 {0}`"
    )]
    Permissions(String, u32),
    /// Not hex.
    #[error("cookie secret in {0} is not hex-encoded")]
    Format(String),
    /// I/O.
    #[error("cookie secret file {0}: {1}")]
    Io(String, std::io::Error),
}

/// Loads the secret from `JPY_COOKIE_SECRET` or the file, creating the file if missing.
pub fn load_or_create(path: &Path) -> Result<Vec<u8>, SecretError> {
    if let Ok(hex_secret) = std::env::var("JPY_COOKIE_SECRET") {
        return hex::decode(hex_secret.trim())
            .map_err(|_| SecretError::Format("JPY_COOKIE_SECRET".into()));
    }
    let shown = path.display().to_string();
    match std::fs::metadata(path) {
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o007 != 0 {
                return Err(SecretError::Permissions(shown, mode));
            }
            let text =
                std::fs::read_to_string(path).map_err(|e| SecretError::Io(shown.clone(), e))?;
            let secret = hex::decode(text.trim()).map_err(|_| SecretError::Format(shown))?;
            if secret.len() < 32 {
                tracing::warn!("cookie secret is shorter than 32 bytes");
            }
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret = ferrohub_core::token::random_bytes::<32>().to_vec();
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| SecretError::Io(shown.clone(), e))?;
            writeln!(file, "{}", hex::encode(&secret))
                .map_err(|e| SecretError::Io(shown.clone(), e))?;
            tracing::info!("wrote a new cookie secret to {shown}");
            Ok(secret)
        }
        Err(e) => Err(SecretError::Io(shown, e)),
    }
}
