//! Files the hub and proxy create for themselves (pid files, the SQLite
//! database) are private and are never written through a planted link.
//!
//! Such files often live in shared places (`/tmp`, a working directory other
//! users can write to). A hub running as root that opens them with a plain
//! `open(O_CREAT)` would follow a symlink planted there and truncate any file
//! on the system (`/etc/shadow`), or leave a database of token hashes readable
//! by everyone. So every such file is:
//! - created with `O_EXCL` and mode 0600 when absent;
//! - opened with `O_NOFOLLOW` when present: a symlink at the path is refused
//!   with [`PrivateFileError::Symlink`] instead of being followed;
//! - checked after opening (on the open descriptor, so there is no race): a
//!   regular file, one link only (no hard link to another file), owned by
//!   this process's user; its mode is then narrowed to 0600.
//!
//! Invariant: nothing here follows a symlink in the last path component.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The only mode a private file has.
pub const PRIVATE_MODE: u32 = 0o600;

/// Why a private file could not be created or written.
#[derive(Debug, thiserror::Error)]
pub enum PrivateFileError {
    /// A symbolic link sits where the file should be.
    #[error("{} is a symbolic link; refusing to write through it (remove it or choose another path)", .0.display())]
    Symlink(PathBuf),
    /// Something other than a regular file (directory, FIFO, device) is there.
    #[error("{} is not a regular file", .0.display())]
    NotRegular(PathBuf),
    /// The file has other names: writing would change a file elsewhere.
    #[error("{} has {links} hard links; refusing to write to it (another name points at the same file)", .path.display())]
    HardLinked {
        /// The path.
        path: PathBuf,
        /// How many names the file has.
        links: u64,
    },
    /// The file belongs to another user, who could have prepared its contents.
    #[error("{} belongs to uid {owner}, not to this process's uid {uid}; refusing to use it", .path.display())]
    Owner {
        /// The path.
        path: PathBuf,
        /// The file's owner.
        owner: u32,
        /// Our effective uid.
        uid: u32,
    },
    /// Any other error from the operating system.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Writes `contents` as the whole of the private file `path` (a pid file),
/// creating it 0600 or replacing the contents of our own earlier one.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), PrivateFileError> {
    let (mut file, _) = open_private(path)?;
    let io = |source| PrivateFileError::Io {
        path: path.to_owned(),
        source,
    };
    file.set_len(0).map_err(io)?;
    file.write_all(contents).map_err(io)?;
    Ok(())
}

/// Makes sure `path` is a private file, creating it empty (0600) when absent
/// (the SQLite database, before the driver opens it: SQLite gives its journal
/// and WAL files the database file's mode). Returns whether it was created.
pub fn ensure_private(path: &Path) -> Result<bool, PrivateFileError> {
    open_private(path).map(|(_, created)| created)
}

/// Opens `path` for writing as described in the crate docs; `true` if created.
fn open_private(path: &Path) -> Result<(File, bool), PrivateFileError> {
    let io = |source| PrivateFileError::Io {
        path: path.to_owned(),
        source,
    };
    // O_EXCL never follows a link: a planted one (even dangling) is "exists".
    let created = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path);
    let file = match created {
        Ok(file) => return Ok((file, true)),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => OpenOptions::new()
            .write(true)
            // O_NONBLOCK: a FIFO planted there must not hang us; it is refused below.
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => PrivateFileError::Symlink(path.to_owned()),
                Some(libc::ENXIO) => PrivateFileError::NotRegular(path.to_owned()),
                _ => io(e),
            })?,
        Err(e) => return Err(io(e)),
    };
    check_existing(path, &file)?;
    Ok((file, false))
}

/// Checks an existing file on its open descriptor and narrows its mode.
fn check_existing(path: &Path, file: &File) -> Result<(), PrivateFileError> {
    let meta = file.metadata().map_err(|source| PrivateFileError::Io {
        path: path.to_owned(),
        source,
    })?;
    if !meta.file_type().is_file() {
        return Err(PrivateFileError::NotRegular(path.to_owned()));
    }
    if meta.nlink() > 1 {
        return Err(PrivateFileError::HardLinked {
            path: path.to_owned(),
            links: meta.nlink(),
        });
    }
    let uid = nix::unistd::geteuid().as_raw();
    if meta.uid() != uid {
        return Err(PrivateFileError::Owner {
            path: path.to_owned(),
            owner: meta.uid(),
            uid,
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode != PRIVATE_MODE {
        tracing::warn!(
            "{} had mode {mode:o}; narrowing it to {PRIVATE_MODE:o}",
            path.display()
        );
        file.set_permissions(std::fs::Permissions::from_mode(PRIVATE_MODE))
            .map_err(|source| PrivateFileError::Io {
                path: path.to_owned(),
                source,
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    #[test]
    fn a_new_file_is_created_0600_with_the_contents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.pid");
        write_private(&path, b"1234").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1234");
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn an_old_file_of_ours_is_replaced_and_narrowed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.pid");
        std::fs::write(&path, "99999999 and more").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        write_private(&path, b"42").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "42");
        assert_eq!(mode(&path), 0o600);
        assert!(!ensure_private(&path).unwrap(), "exists already");
    }

    #[test]
    fn a_planted_symlink_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        std::fs::write(&target, "keep me").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("hub.pid");
        symlink(&target, &link).unwrap();
        let error = write_private(&link, b"1").unwrap_err();
        assert!(matches!(error, PrivateFileError::Symlink(_)), "{error:?}");
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert!(matches!(
            ensure_private(&link),
            Err(PrivateFileError::Symlink(_))
        ));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
        assert_eq!(mode(&target), 0o644);
    }

    #[test]
    fn a_dangling_symlink_is_refused_and_nothing_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("would-be-created");
        let link = dir.path().join("db.sqlite");
        symlink(&target, &link).unwrap();
        assert!(matches!(
            ensure_private(&link),
            Err(PrivateFileError::Symlink(_))
        ));
        assert!(!target.exists());
    }

    #[test]
    fn a_hard_link_to_another_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other");
        std::fs::write(&other, "other").unwrap();
        let path = dir.path().join("proxy.pid");
        std::fs::hard_link(&other, &path).unwrap();
        let error = write_private(&path, b"1").unwrap_err();
        assert!(
            matches!(error, PrivateFileError::HardLinked { links: 2, .. }),
            "{error:?}"
        );
        assert_eq!(std::fs::read_to_string(&other).unwrap(), "other");
    }

    #[test]
    fn directories_and_fifos_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            write_private(dir.path(), b"1"),
            Err(PrivateFileError::NotRegular(_) | PrivateFileError::Io { .. })
        ));
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(matches!(
            write_private(&fifo, b"1"),
            Err(PrivateFileError::NotRegular(_))
        ));
    }

    #[test]
    fn a_file_of_another_user_is_refused() {
        if !nix::unistd::geteuid().is_root() {
            return; // only root can give a file away
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.pid");
        std::fs::write(&path, "1").unwrap();
        std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
        let error = write_private(&path, b"2").unwrap_err();
        assert!(
            matches!(error, PrivateFileError::Owner { owner: 65534, .. }),
            "{error:?}"
        );
    }
}
