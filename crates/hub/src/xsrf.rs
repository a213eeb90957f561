//! XSRF protection for browser requests: a random token in the `_xsrf`
//! cookie that every state-changing cookie-authenticated request must echo
//! back as the `_xsrf` form field or an `X-XSRFToken` header.

use http::HeaderMap;
use subtle::ConstantTimeEq;

use crate::cookies;

/// The request's XSRF cookie, if it has one.
#[must_use]
pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    cookies::get(headers, cookies::XSRF_COOKIE)
        .filter(|t| t.len() >= 16 && t.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// A fresh token.
#[must_use]
pub fn new_token() -> String {
    ferrohub_core::token::new_token()
}

/// The token sent in a header (API calls from pages).
#[must_use]
pub fn header_token(headers: &HeaderMap) -> Option<String> {
    ["x-xsrftoken", "x-csrftoken"].iter().find_map(|h| {
        headers
            .get(*h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    })
}

/// Whether `submitted` matches the cookie, in constant time.
#[must_use]
pub fn check(headers: &HeaderMap, submitted: Option<&str>) -> bool {
    match (cookie_token(headers), submitted) {
        (Some(expected), Some(given)) => expected.as_bytes().ct_eq(given.as_bytes()).into(),
        _ => false,
    }
}
