//! What a route target is: the URLs routes, `--default-target` and
//! `--error-target` name, checked the way CHP accepts them (`http`, `https`,
//! and unix sockets as `http+unix://<percent-encoded socket path>[/path]`,
//! also spelled `unix+http://`).
//!
//! `http::Uri` refuses a `%` in the authority, so a unix target is carried
//! internally as `unix+http://<socket path in hex>/path`: [`parse_target`]
//! and [`target_uri`] produce that form and `socket_path` reads it back for
//! the connector. Encoding and decoding live here together, at the bottom of
//! the crate, so the route table, the URL rewriting and the connector all
//! depend on this module and never on each other.

use std::path::PathBuf;

use http::Uri;

/// The internal scheme of unix-socket targets (authority = hex socket path).
pub(crate) const UNIX_SCHEME: &str = "unix+http";

/// Why a route's target cannot be used (CHP answers these with 500).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not an absolute URL with a host.
    #[error("target '{0}' is not an absolute http URL")]
    NotAbsolute(String),
    /// A scheme CHP refuses too.
    #[error("unexpected protocol '{0}' in target")]
    BadScheme(String),
    /// The joined URL is not valid.
    #[error("cannot build the upstream URL: {0}")]
    Invalid(String),
}

/// Parses a route target, accepting what CHP serves: `http`, `https`, and
/// unix sockets (`http+unix`/`unix+http`, returned in the connector's
/// internal form).
///
/// # Errors
/// Not an absolute URL, or a scheme CHP refuses too.
pub fn parse_target(target: &str) -> Result<Uri, TargetError> {
    if let Some(unix) = unix_target(target) {
        return unix;
    }
    let uri: Uri = target
        .parse()
        .map_err(|_| TargetError::NotAbsolute(target.to_owned()))?;
    let (Some(scheme), Some(_)) = (uri.scheme_str(), uri.authority()) else {
        return Err(TargetError::NotAbsolute(target.to_owned()));
    };
    match scheme {
        "http" | "https" => Ok(uri),
        other => Err(TargetError::BadScheme(other.to_owned())),
    }
}

/// A URL for the upstream client (route targets, error targets): unix
/// targets in their internal form, others parsed as they are.
///
/// # Errors
/// Not an absolute URL.
pub fn target_uri(url: &str) -> Result<Uri, TargetError> {
    if let Some(uri) = unix_target(url) {
        return uri;
    }
    url.parse()
        .map_err(|_| TargetError::NotAbsolute(url.to_owned()))
}

/// Parses a unix-socket target (`http+unix://%2Fpath%2Fto%2Fsock/base`)
/// into the internal form; `None` if `target` is not a unix-socket URL.
fn unix_target(target: &str) -> Option<Result<Uri, TargetError>> {
    let rest = ["http+unix://", "unix+http://"].iter().find_map(|prefix| {
        target
            .get(..prefix.len())
            .filter(|head| head.eq_ignore_ascii_case(prefix))
            .map(|_| &target[prefix.len()..])
    })?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (socket, tail) = rest.split_at(end);
    let path: Vec<u8> = percent_encoding::percent_decode_str(socket).collect();
    if path.is_empty() {
        return Some(Err(TargetError::NotAbsolute(target.to_owned())));
    }
    let tail = tail.split('#').next().unwrap_or_default();
    let internal = format!("{UNIX_SCHEME}://{}{tail}", to_hex(&path));
    Some(
        internal
            .parse()
            .map_err(|e: http::uri::InvalidUri| TargetError::Invalid(e.to_string())),
    )
}

/// The socket path of an internal unix URI; `None` if its authority is
/// not the hex form [`unix_target`] writes.
pub(crate) fn socket_path(uri: &Uri) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let bytes = from_hex(uri.host().unwrap_or_default())?;
    Some(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    out
}

fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_targets_round_trip() {
        let uri = unix_target("http+unix://%2Ftmp%2Fhub.sock/base/x?q=1")
            .unwrap()
            .unwrap();
        assert_eq!(uri.scheme_str(), Some(UNIX_SCHEME));
        assert_eq!(uri.path_and_query().unwrap().as_str(), "/base/x?q=1");
        assert_eq!(socket_path(&uri).unwrap(), PathBuf::from("/tmp/hub.sock"));
        let other = unix_target("unix+http://%2Fa%20b").unwrap().unwrap();
        assert_eq!(socket_path(&other).unwrap(), PathBuf::from("/a b"));
        assert_eq!(other.path(), "/");
        assert!(unix_target("http://127.0.0.1:80").is_none());
        assert!(unix_target("http+unix:///x").unwrap().is_err());
    }

    #[test]
    fn target_uris() {
        assert_eq!(
            target_uri("https://hub:8081/x").unwrap().scheme_str(),
            Some("https")
        );
        assert!(target_uri("not a url").is_err());
    }

    #[test]
    fn unusable_targets() {
        assert!(matches!(
            parse_target("nowhere"),
            Err(TargetError::NotAbsolute(_))
        ));
        assert!(matches!(
            parse_target("/path"),
            Err(TargetError::NotAbsolute(_))
        ));
        assert!(parse_target("https://h").is_ok());
        assert!(parse_target("http+unix://%2Ftmp%2Fs/x").is_ok());
        assert!(matches!(
            parse_target("ftp://h"),
            Err(TargetError::BadScheme(_))
        ));
        assert!(parse_target("http://127.0.0.1:8888/x").is_ok());
    }

    #[test]
    fn hex() {
        assert_eq!(to_hex(b"/t\xff"), "2f74ff");
        assert_eq!(from_hex("2f74ff").unwrap(), b"/t\xff");
        assert_eq!(from_hex("2f7"), None);
        assert_eq!(from_hex("zz"), None);
        assert_eq!(socket_path(&"unix+http://zz/x".parse().unwrap()), None);
    }
}
