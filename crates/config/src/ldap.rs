//! `[LDAPAuthenticator]`: the options of jupyterhub-ldapauthenticator 2.x,
//! with its names and defaults, so an existing `c.LDAPAuthenticator.*`
//! configuration carries over key for key.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Upstream's `group_search_filter` default: membership by DN in
/// `groupOfNames`/`groupOfUniqueNames`, or by uid in a `posixGroup`.
pub const DEFAULT_GROUP_SEARCH_FILTER: &str =
    "(|(member={userdn})(uniqueMember={userdn})(memberUid={uid}))";

/// `[LDAPAuthenticator]` (jupyterhub-ldapauthenticator 2.x).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LdapAuthenticatorConfig {
    /// Host name or IP address of the LDAP server; as in upstream's ldap3,
    /// also `host:port` or an `ldap://` / `ldaps://` URL.
    pub server_address: String,
    /// Port of the LDAP server; unset means 636 with `tls_strategy =
    /// "on_connect"` and 389 otherwise, as upstream.
    pub server_port: Option<u16>,
    /// Deprecated upstream since 2.0: `true` means `tls_strategy =
    /// "on_connect"`, `false` means nothing (both warn).
    pub use_ssl: Option<bool>,
    /// When the connection is encrypted: `before_bind` (StartTLS, the
    /// default), `on_connect` (ldaps) or `insecure` (never).
    pub tls_strategy: TlsStrategy,
    /// The keyword arguments upstream passes to `ldap3.Tls`; the subset with
    /// a meaning here (CA certificates, validation, extra valid names).
    pub tls_kwargs: TlsKwargs,
    /// DN templates tried in turn for the bind, `{username}` replaced by the
    /// (RFC 4514 escaped) user name; a single string is one template.
    #[serde(deserialize_with = "string_or_list")]
    pub bind_dn_template: Vec<String>,
    /// Group DNs whose members may log in (besides `allowed_users`).
    pub allowed_groups: Vec<String>,
    /// The filter that finds whether the user is in a group of
    /// `allowed_groups` (searched with the group as base); `{userdn}` and
    /// `{uid}` are replaced, RFC 4515 escaped.
    pub group_search_filter: String,
    /// Attributes asked for in the group search.
    pub group_attributes: Vec<String>,
    /// Login names must match this regular expression (from their start, as
    /// Python's `re.match`); others are refused before the server is asked.
    pub valid_username_regex: String,
    /// Find the user's DN by a search (`user_search_base`, `user_attribute`)
    /// instead of only from `bind_dn_template`.
    pub lookup_dn: bool,
    /// Where user entries are searched (`lookup_dn` and `search_filter`).
    pub user_search_base: Option<String>,
    /// The attribute that holds the login name (`uid`, `sAMAccountName`).
    pub user_attribute: Option<String>,
    /// The lookup search; `{login_attr}` is `user_attribute`, `{login}` the
    /// escaped login name.
    pub lookup_dn_search_filter: String,
    /// DN to bind as for the lookup; unset (with no password) is an
    /// anonymous search.
    pub lookup_dn_search_user: Option<String>,
    /// Password of `lookup_dn_search_user`.
    pub lookup_dn_search_password: Option<String>,
    /// The attribute of the found entry whose value fills `{username}` in
    /// `bind_dn_template` (and, with `use_lookup_dn_username`, names the hub
    /// user).
    pub lookup_dn_user_dn_attribute: Option<String>,
    /// Removed upstream in 2.0 (names are always escaped); accepted with a
    /// warning and no effect.
    pub escape_userdn: Option<bool>,
    /// A further search (under `user_search_base`, as the user) that must
    /// find exactly one entry for the login to go on; `{userattr}` and
    /// `{username}` are replaced. Empty: no such search.
    pub search_filter: String,
    /// Attributes asked for in the `search_filter` search.
    pub attributes: Vec<String>,
    /// User attributes returned in `auth_state["user_attributes"]`.
    pub auth_state_attributes: Vec<String>,
    /// With `lookup_dn`: the hub user is named by the looked-up
    /// `lookup_dn_user_dn_attribute` value, not the login name.
    pub use_lookup_dn_username: bool,
}

impl Default for LdapAuthenticatorConfig {
    fn default() -> Self {
        Self {
            server_address: String::new(),
            server_port: None,
            use_ssl: None,
            tls_strategy: TlsStrategy::BeforeBind,
            tls_kwargs: TlsKwargs::default(),
            bind_dn_template: Vec::new(),
            allowed_groups: Vec::new(),
            group_search_filter: DEFAULT_GROUP_SEARCH_FILTER.into(),
            group_attributes: ["member", "uniqueMember", "memberUid"]
                .map(String::from)
                .to_vec(),
            valid_username_regex: "^[a-z][.a-z0-9_-]*$".into(),
            lookup_dn: false,
            user_search_base: None,
            user_attribute: None,
            lookup_dn_search_filter: "({login_attr}={login})".into(),
            lookup_dn_search_user: None,
            lookup_dn_search_password: None,
            lookup_dn_user_dn_attribute: None,
            escape_userdn: None,
            search_filter: String::new(),
            attributes: Vec::new(),
            auth_state_attributes: Vec::new(),
            use_lookup_dn_username: false,
        }
    }
}

impl fmt::Debug for LdapAuthenticatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The search user's password stays out of logs and panics.
        f.debug_struct("LdapAuthenticatorConfig")
            .field("server_address", &self.server_address)
            .field("server_port", &self.server_port)
            .field("tls_strategy", &self.tls_strategy)
            .field("tls_kwargs", &self.tls_kwargs)
            .field("bind_dn_template", &self.bind_dn_template)
            .field("allowed_groups", &self.allowed_groups)
            .field("lookup_dn", &self.lookup_dn)
            .field("user_search_base", &self.user_search_base)
            .field("user_attribute", &self.user_attribute)
            .field("lookup_dn_search_user", &self.lookup_dn_search_user)
            .field(
                "lookup_dn_search_password_set",
                &self.lookup_dn_search_password.is_some(),
            )
            .field(
                "lookup_dn_user_dn_attribute",
                &self.lookup_dn_user_dn_attribute,
            )
            .field("search_filter", &self.search_filter)
            .field("auth_state_attributes", &self.auth_state_attributes)
            .field("use_lookup_dn_username", &self.use_lookup_dn_username)
            .finish_non_exhaustive()
    }
}

impl LdapAuthenticatorConfig {
    /// `tls_strategy`, with the deprecated `use_ssl = true` meaning
    /// `on_connect` as upstream.
    #[must_use]
    pub fn effective_tls_strategy(&self) -> TlsStrategy {
        if self.use_ssl == Some(true) {
            TlsStrategy::OnConnect
        } else {
            self.tls_strategy
        }
    }
}

/// Upstream's `TlsStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsStrategy {
    /// StartTLS on the plain port before any bind (upstream's default).
    BeforeBind,
    /// TLS from the first byte (`ldaps://`, port 636 by default).
    OnConnect,
    /// No encryption: passwords cross the network in clear text.
    Insecure,
}

/// `tls_kwargs`: upstream hands these to `ldap3.Tls(...)`. Only the keys
/// about trusting the server are supported; any other key (`ciphers`,
/// `version`, client certificates, ...) is refused at load by name, since
/// ignoring it would silently change what the admin asked for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsKwargs {
    /// A PEM file of CA certificates to trust (instead of the system's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_certs_file: Option<String>,
    /// A directory of PEM CA certificate files to trust.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_certs_path: Option<String>,
    /// PEM CA certificates given inline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_certs_data: Option<String>,
    /// Python's `ssl.CERT_NONE` (0), `CERT_OPTIONAL` (1) or `CERT_REQUIRED`
    /// (2), as a number or by name. Unset: verify (see `CertValidation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validate: Option<CertValidation>,
    /// Names besides `server_address` the certificate may be issued to; `*`
    /// accepts any name (the chain is still verified).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub valid_names: Vec<String>,
}

/// Whether the server's certificate is verified (`tls_kwargs.validate`).
///
/// Upstream's `ldap3.Tls` defaults to `CERT_NONE`, which lets anyone on the
/// path read every password; ferrohub verifies unless `validate` says
/// `CERT_NONE`. For a client, `CERT_OPTIONAL` verifies like `CERT_REQUIRED`
/// (a server always presents a certificate), as in Python's `ssl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertValidation {
    /// `ssl.CERT_NONE` (0): accept any certificate.
    None,
    /// `ssl.CERT_OPTIONAL` (1): verify.
    Optional,
    /// `ssl.CERT_REQUIRED` (2): verify.
    Required,
}

impl CertValidation {
    /// Whether the server's certificate chain and name are checked.
    #[must_use]
    pub fn verifies(self) -> bool {
        self != Self::None
    }
}

impl Serialize for CertValidation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(match self {
            Self::None => 0,
            Self::Optional => 1,
            Self::Required => 2,
        })
    }
}

impl<'de> Deserialize<'de> for CertValidation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        const EXPECTED: &str = "0, 1, 2, \"CERT_NONE\", \"CERT_OPTIONAL\" or \"CERT_REQUIRED\"";
        impl Visitor<'_> for V {
            type Value = CertValidation;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<CertValidation, E> {
                match v {
                    0 => Ok(CertValidation::None),
                    1 => Ok(CertValidation::Optional),
                    2 => Ok(CertValidation::Required),
                    _ => Err(E::invalid_value(de::Unexpected::Signed(v), &EXPECTED)),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<CertValidation, E> {
                let v = i64::try_from(v)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &EXPECTED))?;
                self.visit_i64(v)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CertValidation, E> {
                match v.strip_prefix("ssl.").unwrap_or(v) {
                    "CERT_NONE" => Ok(CertValidation::None),
                    "CERT_OPTIONAL" => Ok(CertValidation::Optional),
                    "CERT_REQUIRED" => Ok(CertValidation::Required),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &EXPECTED)),
                }
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Upstream's `Union([List(), Unicode()])` for `bind_dn_template`: one string
/// is a list of one. Empty entries are dropped later, with upstream's warning.
fn string_or_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged, expecting = "a string or a list of strings")]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LdapAuthenticatorConfig, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn defaults_are_upstreams() {
        let config = LdapAuthenticatorConfig::default();
        assert_eq!(config.server_port, None);
        assert_eq!(config.tls_strategy, TlsStrategy::BeforeBind);
        assert_eq!(config.lookup_dn_search_filter, "({login_attr}={login})");
        assert_eq!(config.valid_username_regex, "^[a-z][.a-z0-9_-]*$");
        let old = parse("use_ssl = true").unwrap();
        assert_eq!(old.effective_tls_strategy(), TlsStrategy::OnConnect);
        let off = parse("use_ssl = false\ntls_strategy = \"insecure\"").unwrap();
        assert_eq!(off.effective_tls_strategy(), TlsStrategy::Insecure);
    }

    #[test]
    fn bind_dn_template_is_a_string_or_a_list() {
        let one = parse("bind_dn_template = \"uid={username},dc=x\"").unwrap();
        assert_eq!(one.bind_dn_template, ["uid={username},dc=x"]);
        let two = parse("bind_dn_template = [\"a={username}\", \"b={username}\"]").unwrap();
        assert_eq!(two.bind_dn_template, ["a={username}", "b={username}"]);
        assert!(parse("bind_dn_template = 3").is_err());
    }

    #[test]
    fn tls_kwargs_accepts_the_supported_keys_and_names_an_unknown_one() {
        let config = parse(
            "tls_kwargs = { ca_certs_file = \"/ca.pem\", validate = 2, valid_names = [\"ldap\"] }",
        )
        .unwrap();
        assert_eq!(config.tls_kwargs.ca_certs_file.as_deref(), Some("/ca.pem"));
        assert_eq!(config.tls_kwargs.validate, Some(CertValidation::Required));
        let named = parse("tls_kwargs = { validate = \"CERT_NONE\" }").unwrap();
        assert!(!named.tls_kwargs.validate.unwrap().verifies());
        assert!(parse("tls_kwargs = { validate = 3 }").is_err());
        let err = parse("tls_kwargs = { ciphers = \"ALL\" }")
            .unwrap_err()
            .to_string();
        assert!(err.contains("ciphers"), "{err}");
    }

    #[test]
    fn debug_hides_the_search_password() {
        let config = parse("lookup_dn_search_password = \"s3cret-pw\"").unwrap();
        assert!(!format!("{config:?}").contains("s3cret-pw"));
    }

    #[test]
    fn defaults_round_trip_through_toml() {
        let text = toml::to_string(&LdapAuthenticatorConfig::default()).unwrap();
        assert_eq!(parse(&text).unwrap(), LdapAuthenticatorConfig::default());
    }
}
