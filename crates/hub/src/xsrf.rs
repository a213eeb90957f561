//! XSRF protection for browser requests. Every state-changing
//! cookie-authenticated request must carry a token (the `_xsrf` form field or
//! an `X-XSRFToken` header) that only the hub can make, bound to who is asking:
//!
//! - signed in: an HMAC (keyed by the cookie secret) of the browser's session
//!   id and the user's cookie id, as upstream's `_xsrf_token_id`. The token is
//!   recomputed from the request's own cookies, so a token planted in the
//!   `_xsrf` cookie (for example by script on a notebook server that shares
//!   the origin) is worth nothing, and a token from another session or another
//!   user never matches;
//! - signed out (the login form): a random nonce signed together with the
//!   browser's User-Agent, which must also be the `_xsrf` cookie's value, so a
//!   cross-site page can neither read nor supply it.
//!
//! The `_xsrf` cookie only carries the token to the page's scripts.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::cookies;

/// Who a token is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Owner<'a> {
    /// A signed-in browser: its session id cookie and the user's `cookie_id`.
    Session {
        /// The `jupyterhub-session-id` cookie (empty when the browser has none).
        session_id: &'a str,
        /// The user's `cookie_id`, which changes when the user is logged out everywhere.
        cookie_id: &'a str,
    },
    /// A browser that is not signed in.
    Anonymous,
}

impl<'a> Owner<'a> {
    /// The owner for a request's caller: a cookie-authenticated user, or nobody.
    /// (Token-authenticated requests need no XSRF token at all.)
    #[must_use]
    pub(crate) fn of(who: Option<&'a crate::access::Identity>) -> Self {
        match who {
            Some(who) if who.via_cookie() => match who.user() {
                Some(user) => Owner::Session {
                    session_id: who.session_id.as_deref().unwrap_or(""),
                    cookie_id: &user.cookie_id,
                },
                None => Owner::Anonymous,
            },
            _ => Owner::Anonymous,
        }
    }
}

/// Prefixes telling the two kinds of token apart.
const SESSION_PREFIX: &str = "s.";
const ANONYMOUS_PREFIX: &str = "a.";

fn mac(secret: &[u8], parts: &[&str]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(b"ferrohub-xsrf");
    for part in parts {
        // Length-prefixed so that no two part lists hash the same input.
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn user_agent(headers: &HeaderMap) -> &str {
    headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn session_token(secret: &[u8], session_id: &str, cookie_id: &str) -> String {
    format!(
        "{SESSION_PREFIX}{}",
        mac(secret, &["session", session_id, cookie_id])
    )
}

fn anonymous_token(secret: &[u8], nonce: &str, headers: &HeaderMap) -> String {
    let sig = mac(secret, &["anonymous", nonce, user_agent(headers)]);
    format!("{ANONYMOUS_PREFIX}{nonce}.{sig}")
}

/// Whether `token` is an anonymous token this hub made for this browser.
fn valid_anonymous(secret: &[u8], token: &str, headers: &HeaderMap) -> bool {
    let Some((nonce, _)) = token
        .strip_prefix(ANONYMOUS_PREFIX)
        .and_then(|rest| rest.split_once('.'))
    else {
        return false;
    };
    let expected = anonymous_token(secret, nonce, headers);
    expected.as_bytes().ct_eq(token.as_bytes()).into()
}

/// The request's `_xsrf` cookie, if any.
fn cookie_token(headers: &HeaderMap) -> Option<String> {
    cookies::get(headers, cookies::XSRF_COOKIE)
}

/// The token a page for `owner` embeds, and whether the `_xsrf` cookie must
/// be (re)set to it because the browser holds none or a stale one.
#[must_use]
pub(crate) fn token(secret: &[u8], owner: Owner<'_>, headers: &HeaderMap) -> (String, bool) {
    let current = cookie_token(headers);
    let token = match owner {
        Owner::Session {
            session_id,
            cookie_id,
        } => session_token(secret, session_id, cookie_id),
        Owner::Anonymous => match current.as_deref() {
            Some(existing) if valid_anonymous(secret, existing, headers) => existing.to_owned(),
            _ => anonymous_token(secret, &ferrohub_core::token::new_token(), headers),
        },
    };
    let stale = current.as_deref() != Some(token.as_str());
    (token, stale)
}

/// Whether `submitted` is the right token for `owner` on this request.
#[must_use]
pub(crate) fn check(
    secret: &[u8],
    owner: Owner<'_>,
    headers: &HeaderMap,
    submitted: Option<&str>,
) -> bool {
    let Some(submitted) = submitted else {
        return false;
    };
    match owner {
        Owner::Session {
            session_id,
            cookie_id,
        } => {
            let expected = session_token(secret, session_id, cookie_id);
            expected.as_bytes().ct_eq(submitted.as_bytes()).into()
        }
        Owner::Anonymous => {
            let matches_cookie = cookie_token(headers)
                .is_some_and(|c| bool::from(c.as_bytes().ct_eq(submitted.as_bytes())));
            matches_cookie && valid_anonymous(secret, submitted, headers)
        }
    }
}

/// The token sent in a header (API calls from pages).
#[must_use]
pub(crate) fn header_token(headers: &HeaderMap) -> Option<String> {
    ["x-xsrftoken", "x-csrftoken"].iter().find_map(|h| {
        headers
            .get(*h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn headers(cookie: Option<&str>, agent: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::USER_AGENT, agent.parse().unwrap());
        if let Some(cookie) = cookie {
            headers.insert(
                http::header::COOKIE,
                format!("_xsrf={cookie}").parse().unwrap(),
            );
        }
        headers
    }

    #[test]
    fn session_tokens_are_bound_to_session_and_user() {
        let alice = Owner::Session {
            session_id: "s1",
            cookie_id: "alice-cookie",
        };
        let (token, stale) = token(SECRET, alice, &headers(None, "ua"));
        assert!(stale, "a browser without the cookie gets it set");
        // The cookie plays no part in the check: a planted cookie is useless.
        let planted = headers(Some("s.forged"), "ua");
        assert!(check(SECRET, alice, &planted, Some(&token)));
        assert!(!check(SECRET, alice, &planted, Some("s.forged")));
        let other_session = Owner::Session {
            session_id: "s2",
            cookie_id: "alice-cookie",
        };
        assert!(!check(SECRET, other_session, &planted, Some(&token)));
        let other_user = Owner::Session {
            session_id: "s1",
            cookie_id: "bob-cookie",
        };
        assert!(!check(SECRET, other_user, &planted, Some(&token)));
        assert!(!check(b"another secret", alice, &planted, Some(&token)));
        assert!(!check(SECRET, alice, &planted, None));
    }

    #[test]
    fn anonymous_tokens_need_the_matching_signed_cookie() {
        let (token, stale) = token(SECRET, Owner::Anonymous, &headers(None, "ua"));
        assert!(stale);
        let with_cookie = headers(Some(&token), "ua");
        assert!(check(SECRET, Owner::Anonymous, &with_cookie, Some(&token)));
        // Re-rendering keeps a valid cookie.
        let (again, stale) = token_again(&with_cookie);
        assert_eq!(again, token);
        assert!(!stale);
        // Without the cookie (a cross-site form), or from another browser: refused.
        assert!(!check(
            SECRET,
            Owner::Anonymous,
            &headers(None, "ua"),
            Some(&token)
        ));
        assert!(!check(
            SECRET,
            Owner::Anonymous,
            &headers(Some(&token), "other-ua"),
            Some(&token)
        ));
        // A self-made cookie and token pair is not signed.
        let forged = "a.nonce.signature";
        assert!(!check(
            SECRET,
            Owner::Anonymous,
            &headers(Some(forged), "ua"),
            Some(forged)
        ));
    }

    fn token_again(headers: &HeaderMap) -> (String, bool) {
        token(SECRET, Owner::Anonymous, headers)
    }
}
