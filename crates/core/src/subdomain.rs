//! Host names of users' servers and services under `JupyterHub.subdomain_host`,
//! as upstream's `subdomain_hook`s (`jupyterhub/utils.py`): each name becomes
//! one DNS label in front of the hub's domain.

use sha2::{Digest, Sha256};

/// Whose host a label is for: upstream's `kind` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A user's servers: `<label>.<domain>`.
    User,
    /// A service: `<label>--service.<domain>` (idna), `services.<domain>` (legacy).
    Service,
}

/// `JupyterHub.subdomain_hook`: how a name becomes a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Hook {
    /// Upstream's default since 5.0 (`subdomain_hook_idna`): always a valid,
    /// unique label.
    #[default]
    Idna,
    /// Upstream's deprecated `subdomain_hook_legacy`: the name percent-quoted
    /// with `_` for `%`; all services share `services.<domain>`.
    Legacy,
}

impl Hook {
    /// The hook an option value names (`"idna"`, `"legacy"`), as upstream's
    /// shortcut strings.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "idna" => Some(Self::Idna),
            "legacy" => Some(Self::Legacy),
            _ => None,
        }
    }

    /// The host (no scheme, no port) of `name`'s servers under `domain`.
    #[must_use]
    pub fn host(self, name: &str, kind: Kind, domain: &str) -> String {
        match (self, kind) {
            (Self::Idna, Kind::User) => format!("{}.{domain}", dns_label(name)),
            (Self::Idna, Kind::Service) => format!("{}--service.{domain}", dns_label(name)),
            (Self::Legacy, Kind::User) => format!("{}.{domain}", legacy_quote(name)),
            (Self::Legacy, Kind::Service) => format!("services.{domain}"),
        }
    }
}

/// Upstream's `_strict_dns_safe_encode`: the name itself when it is a valid
/// label, else its IDNA (punycode) form, else `u-<stub>--<hash>`. A name with
/// `--` always takes the hash, so no name can collide with an encoded one.
///
/// Unlike upstream, a name with upper-case letters also takes the hash: host
/// names are case-insensitive, so `Alice` and `alice` must not share one.
#[must_use]
pub fn dns_label(name: &str) -> String {
    if name.contains("--") {
        return trim_and_hash(name);
    }
    if is_dns_safe(name) {
        return name.to_owned();
    }
    // IDNA 2008 as Python's `idna.encode`: only a name that is already what
    // it encodes (NFC, no mapping) may use it; UTS 46 would map `ａ` to
    // `a`, which is another user's host.
    if !name.chars().any(char::is_uppercase)
        && let Ok(encoded) = idna::domain_to_ascii_strict(name)
        && encoded != name
        && is_dns_safe(&encoded)
        && idna::domain_to_unicode(&encoded).0 == name
    {
        return encoded;
    }
    trim_and_hash(name)
}

/// One label of lower-case letters, digits and inner `-`, 1 to 63 long, not all digits.
fn is_dns_safe(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && !label.bytes().all(|b| b.is_ascii_digit())
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Upstream's `_trim_and_hash`: `u-` + up to 8 safe characters (`x` if none)
/// + `--` + the first 7 hex digits of the name's SHA-256.
fn trim_and_hash(name: &str) -> String {
    let hash = hex::encode(Sha256::digest(name.as_bytes()));
    let stub: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        .take(8)
        .collect();
    let stub = if stub.is_empty() { "x" } else { &stub };
    format!("u-{stub}--{}", &hash[..7])
}

/// Upstream's `_dns_quote`: `quote(name, safe="")`, lower-cased, with any
/// character outside letters, digits, `-`, `.` and `%` written `%<hex>`, then
/// `%` written `_`.
fn legacy_quote(name: &str) -> String {
    let quoted = percent_encoding::utf8_percent_encode(name, LEGACY_SAFE)
        .to_string()
        .to_lowercase();
    let mut label = String::with_capacity(quoted.len());
    for c in quoted.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '%') {
            label.push(c);
        } else {
            let hex = format!("{:x}", u32::from(c));
            label.push('%');
            label.push_str(&hex);
        }
    }
    label.replace('%', "_")
}

/// What Python's `quote(s, safe="")` leaves alone: letters, digits, `_.-~`.
const LEGACY_SAFE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names_are_kept_and_others_encoded_as_upstream() {
        // Expected values computed with upstream's jupyterhub.utils (6.1).
        let cases = [
            ("alice", "alice"),
            ("a-b", "a-b"),
            ("élise", "xn--lise-9oa"),
            ("ü", "xn--tda"),
            ("日本", "xn--wgv71a"),
            ("a.b", "u-ab--2e7336d"),
            ("a--b", "u-ab--90827a2"),
            ("123", "u-123--a665a45"),
            ("user@example.org", "u-userexam--d159ef6"),
            ("-x", "u-x--a420962"),
            ("_", "u-x--d2e2adf"),
            ("a b", "u-ab--c8687a0"),
            ("Ωmega", "u-mega--57b72b9"),
            ("ß", "xn--zca"),
            ("ａ", "u-x--4b23692"),
            ("e\u{301}lise", "u-elise--ed23c49"),
            ("ﬁ", "u-x--b6554cc"),
            ("①", "u-x--9e96ca1"),
        ];
        for (name, label) in cases {
            assert_eq!(dns_label(name), label, "{name:?}");
        }
    }

    #[test]
    fn upper_case_names_never_share_a_host_with_lower_case_ones() {
        assert_ne!(dns_label("Alice"), dns_label("alice"));
        assert!(dns_label("Alice").starts_with("u-alice--"));
    }

    #[test]
    fn every_label_is_one_valid_dns_label() {
        let long = "x".repeat(100);
        for name in [
            "ü",
            "a b",
            "日本",
            "a/b",
            "..",
            long.as_str(),
            "Ωmega",
            "\u{202e}evil",
        ] {
            let label = dns_label(name);
            assert!(is_dns_safe(&label), "{name:?} -> {label:?}");
        }
    }

    #[test]
    fn hooks_give_upstreams_hosts() {
        let idna = Hook::default();
        assert_eq!(idna.host("alice", Kind::User, "hub.test"), "alice.hub.test");
        assert_eq!(
            idna.host("announce", Kind::Service, "hub.test"),
            "announce--service.hub.test"
        );
        let legacy = Hook::from_name("legacy").unwrap();
        assert_eq!(
            legacy.host("a b@c_d", Kind::User, "hub.test"),
            "a_20b_40c_5fd.hub.test"
        );
        assert_eq!(
            legacy.host("x", Kind::Service, "hub.test"),
            "services.hub.test"
        );
        assert_eq!(Hook::from_name("custom"), None);
    }
}
