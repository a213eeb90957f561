//! Living under systemd: the readiness protocol of a `Type=notify` service
//! (`sd_notify`: the unit counts as started only once the hub answers, and
//! as stopping from the shutdown signal on) and log lines the journal
//! files under the right priority. Both are plain protocols on what systemd
//! hands the process (`NOTIFY_SOCKET`, `JOURNAL_STREAM`), so no libsystemd.

use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Tells the service manager about the hub's state (`READY=1`,
/// `STOPPING=1`, `STATUS=...`), if one listens (`NOTIFY_SOCKET` set). A
/// failure is logged, never fatal: the hub works the same without systemd.
pub(crate) fn notify(state: &str) {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(e) = send(&socket, state) {
        tracing::warn!("could not notify systemd ({state:?}): {e}");
    }
}

fn send(socket: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    let datagram = UnixDatagram::unbound()?;
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(socket);
    // `@name` is a socket in the abstract namespace.
    if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt as _;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        datagram.send_to_addr(state.as_bytes(), &addr)?;
    } else {
        datagram.send_to(state.as_bytes(), socket)?;
    }
    Ok(())
}

/// Whether standard error is the journal's stream (systemd sets
/// `JOURNAL_STREAM` to its `device:inode`; a redirected stderr of a child
/// does not match, so only the hub's own output changes format).
pub(crate) fn stderr_is_journal() -> bool {
    let Some(expected) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(stderr) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    expected.to_str() == Some(&format!("{}:{}", stderr.dev(), stderr.ino()))
}

/// One line per event, `<priority>message fields`: the journal reads the
/// syslog priority prefix (`SyslogLevelPrefix=`, on by default) and adds
/// its own timestamps, so neither time nor colour is written.
pub(crate) struct JournalLines;

impl<S, N> FormatEvent<S, N> for JournalLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "<{}>", priority(*event.metadata().level()))?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// syslog priorities, as sd-daemon(3)'s `SD_ERR` ... `SD_DEBUG`.
fn priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_to_syslog_priorities() {
        assert_eq!(priority(Level::ERROR), 3);
        assert_eq!(priority(Level::WARN), 4);
        assert_eq!(priority(Level::INFO), 6);
        assert_eq!(priority(Level::DEBUG), 7);
        assert_eq!(priority(Level::TRACE), 7);
    }

    #[test]
    fn a_notification_reaches_a_path_and_an_abstract_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        send(path.as_os_str(), "READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");

        use std::os::linux::net::SocketAddrExt as _;
        let name = format!("ferrohub-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&addr).unwrap();
        send(std::ffi::OsStr::new(&format!("@{name}")), "STOPPING=1").unwrap();
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");
    }
}
