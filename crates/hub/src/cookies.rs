//! Cookies: Tornado's signed-value format (version 2, HMAC-SHA256 with the
//! cookie secret), so the hub's cookies look and behave like upstream's, and
//! small helpers to read and build `Cookie`/`Set-Cookie` headers.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Login cookie: signed `users.cookie_id`, path `{hub}`.
pub(crate) const LOGIN_COOKIE: &str = "jupyterhub-hub-login";
/// Browser session id, plain, path `{base}`; servers read it.
pub(crate) const SESSION_COOKIE: &str = "jupyterhub-session-id";
/// XSRF double-submit token, path `{hub}`; not HttpOnly so pages can read it.
pub(crate) const XSRF_COOKIE: &str = "_xsrf";

/// The longest signed cookie value [`verify`] reads: browsers keep at most
/// 4096 bytes per cookie, so anything longer is forged and not worth an HMAC.
const MAX_SIGNED_LEN: usize = 4096;

fn field(value: &str) -> String {
    format!("{}:{value}", value.len())
}

fn signature(secret: &[u8], text: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(text.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Signs `value` for cookie `name` at unix time `now`.
#[must_use]
pub(crate) fn sign(secret: &[u8], name: &str, value: &str, now: i64) -> String {
    let encoded = STANDARD.encode(value);
    let text = format!(
        "2|{}|{}|{}|{}|",
        field("0"),
        field(&now.to_string()),
        field(name),
        field(&encoded)
    );
    let sig = signature(secret, &text);
    format!("{text}{sig}")
}

/// Verifies a signed value for cookie `name`, no older than `max_age_secs` at `now`.
#[must_use]
pub(crate) fn verify(
    secret: &[u8],
    name: &str,
    signed: &str,
    max_age_secs: i64,
    now: i64,
) -> Option<String> {
    if signed.len() > MAX_SIGNED_LEN {
        return None;
    }
    let rest = signed.strip_prefix("2|")?;
    let mut fields = Vec::with_capacity(4);
    let mut remaining = rest;
    for _ in 0..4 {
        let (len, tail) = remaining.split_once(':')?;
        let len: usize = len.parse().ok()?;
        let value = tail.get(..len)?;
        remaining = tail.get(len..)?.strip_prefix('|')?;
        fields.push(value);
    }
    let text_len = signed.len() - remaining.len();
    let expected = signature(secret, &signed[..text_len]);
    if !bool::from(expected.as_bytes().ct_eq(remaining.as_bytes())) {
        return None;
    }
    let timestamp: i64 = fields[1].parse().ok()?;
    if fields[2] != name || now - timestamp > max_age_secs || timestamp > now + 60 {
        return None;
    }
    let bytes = STANDARD.decode(fields[3]).ok()?;
    String::from_utf8(bytes).ok()
}

/// The value of cookie `name` from the request's `Cookie` headers.
#[must_use]
pub(crate) fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_owned())
}

/// How a cookie is set.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CookieOptions<'a> {
    /// Path.
    pub path: &'a str,
    /// HttpOnly flag.
    pub http_only: bool,
    /// Secure flag (set when the hub is reached over https).
    pub secure: bool,
    /// Max-Age in seconds; `None` = session cookie.
    pub max_age: Option<i64>,
}

/// A `Set-Cookie` value.
#[must_use]
pub(crate) fn set_cookie(name: &str, value: &str, opts: CookieOptions<'_>) -> String {
    let mut out = format!("{name}={value}; Path={}; SameSite=Lax", opts.path);
    if let Some(age) = opts.max_age {
        out.push_str("; Max-Age=");
        out.push_str(&age.to_string());
    }
    if opts.http_only {
        out.push_str("; HttpOnly");
    }
    if opts.secure {
        out.push_str("; Secure");
    }
    out
}

/// `cookie` (a `Set-Cookie` value) for `domain` and its subdomains too; as
/// is without one (then the browser keeps it to the host that set it).
#[must_use]
pub(crate) fn on_domain(cookie: String, domain: Option<&str>) -> String {
    match domain {
        Some(domain) => format!("{cookie}; Domain={domain}"),
        None => cookie,
    }
}

/// A `Set-Cookie` value that deletes the cookie.
#[must_use]
pub(crate) fn clear_cookie(name: &str, path: &str) -> String {
    format!("{name}=; Path={path}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_values_round_trip_and_reject_tampering() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let signed = sign(secret, LOGIN_COOKIE, "cookie-id", 1_000);
        assert_eq!(
            verify(secret, LOGIN_COOKIE, &signed, 100, 1_050).as_deref(),
            Some("cookie-id")
        );
        assert_eq!(
            verify(secret, LOGIN_COOKIE, &signed, 100, 1_200),
            None,
            "expired"
        );
        assert_eq!(
            verify(secret, "other", &signed, 100, 1_050),
            None,
            "wrong name"
        );
        assert_eq!(
            verify(b"another secret", LOGIN_COOKIE, &signed, 100, 1_050),
            None,
            "wrong secret"
        );
        let tampered = signed.replace("Y29va2llLWlk", "Y29va2llLWle");
        assert_eq!(verify(secret, LOGIN_COOKIE, &tampered, 100, 1_050), None);
        assert_eq!(verify(secret, LOGIN_COOKIE, "garbage", 100, 1_050), None);
    }

    #[test]
    fn over_long_values_are_refused_even_when_signed() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let long = "x".repeat(MAX_SIGNED_LEN);
        let signed = sign(secret, LOGIN_COOKIE, &long, 1_000);
        assert!(signed.len() > MAX_SIGNED_LEN);
        assert_eq!(verify(secret, LOGIN_COOKIE, &signed, 100, 1_050), None);
    }

    #[test]
    fn matches_tornado_layout() {
        let signed = sign(b"k", "n", "v", 1_795_343_935);
        assert!(
            signed.starts_with("2|1:0|10:1795343935|1:n|4:dg==|"),
            "{signed}"
        );
    }

    #[test]
    fn reads_cookie_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            "a=1; _xsrf=abc; b=\"q\"".parse().unwrap(),
        );
        assert_eq!(get(&headers, "_xsrf").as_deref(), Some("abc"));
        assert_eq!(get(&headers, "b").as_deref(), Some("q"));
        assert_eq!(get(&headers, "c"), None);
    }
}
