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
    /// Empty or too short to sign cookies safely.
    #[error(
        "cookie secret in {0} is {1} bytes; it must be at least {MIN_SECRET_BYTES} random bytes \
         (hex-encoded), e.g. from `openssl rand -hex 32`"
    )]
    TooShort(String, usize),
    /// I/O.
    #[error("cookie secret file {0}: {1}")]
    Io(String, std::io::Error),
}

/// The shortest secret accepted: an HMAC-SHA256 key should be as long as the hash.
pub(crate) const MIN_SECRET_BYTES: usize = 32;

/// Refuses an empty or short secret (upstream only warns; a short key makes
/// every login cookie and XSRF token guessable offline).
fn long_enough(secret: Vec<u8>, source: &str) -> Result<Vec<u8>, SecretError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(SecretError::TooShort(source.to_owned(), secret.len()));
    }
    Ok(secret)
}

/// Checks `JPY_COOKIE_SECRET`, when set, without touching any file.
pub(crate) fn check_env() -> Result<(), SecretError> {
    if let Ok(hex_secret) = std::env::var("JPY_COOKIE_SECRET") {
        let secret = hex::decode(hex_secret.trim())
            .map_err(|_| SecretError::Format("JPY_COOKIE_SECRET".into()))?;
        long_enough(secret, "JPY_COOKIE_SECRET")?;
    }
    Ok(())
}

/// Loads the secret from `JPY_COOKIE_SECRET` or the file, creating the file if missing.
pub(crate) fn load_or_create(path: &Path) -> Result<Vec<u8>, SecretError> {
    if let Ok(hex_secret) = std::env::var("JPY_COOKIE_SECRET") {
        let secret = hex::decode(hex_secret.trim())
            .map_err(|_| SecretError::Format("JPY_COOKIE_SECRET".into()))?;
        return long_enough(secret, "JPY_COOKIE_SECRET");
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
            let secret =
                hex::decode(text.trim()).map_err(|_| SecretError::Format(shown.clone()))?;
            long_enough(secret, &shown)
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
