//! `LDAPAuthenticator` (as jupyterhub-ldapauthenticator 2.x): a login is a
//! bind to an LDAP directory as the user, with the DN built from
//! `bind_dn_template` or found by a search (`lookup_dn`); group membership
//! (`allowed_groups`) and attributes (`auth_state_attributes`) are read on
//! the user's own connection and returned in `auth_state` as upstream's
//! `{"ldap_groups": [...], "user_attributes": {...}}`.
//!
//! Invariants:
//! - a login name reaches the server only after `valid_username_regex`, and
//!   only escaped (RFC 4514 in DNs, RFC 4515 in filters; see `template`), so
//!   `*`, `)(`, `,` or `\` in a name can never match another entry;
//! - LDAP I/O is async on the hub's runtime, and every login has a deadline
//!   ([`CONNECT_TIMEOUT`] for the connection and TLS, [`LOGIN_TIMEOUT`] for
//!   the whole exchange), so a slow or silent server costs a waiting task,
//!   never a blocked thread; at most [`MAX_CONCURRENT_LOGINS`] connections
//!   are open at once;
//! - a wrong password (any refused bind) is `Ok(None)`; a server that cannot
//!   be reached, a TLS failure or a timeout is [`AuthError::Backend`].

mod endpoint;
mod entry;
mod template;
mod tls;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferrohub_config::LdapAuthenticatorConfig;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope};
use regex::Regex;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::{AuthError, Authenticated, Authenticator};
use endpoint::Transport;
use entry::Entry;
use template::{Template, dn_value, filter_value};

/// How long opening a connection may take, TLS handshake (and StartTLS)
/// included. Upstream sets none (ldap3's default waits for the OS).
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one whole login may take: connection, lookup, binds, searches.
pub(crate) const LOGIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Most LDAP connections open at once; further logins wait for one.
pub(crate) const MAX_CONCURRENT_LOGINS: usize = 64;
/// How long a login waits for a free connection before it is answered
/// "busy" (429) without being checked.
const QUEUE_WAIT: Duration = Duration::from_secs(5);
/// LDAP result codes this module tells apart.
const RC_SUCCESS: u32 = 0;
const RC_SIZE_LIMIT_EXCEEDED: u32 = 4;
const RC_NO_SUCH_OBJECT: u32 = 32;

/// Upstream's `LDAPAuthenticator`. See the module documentation.
pub struct LdapAuthenticator {
    /// `ldap://host:port` or `ldaps://host:port`.
    url: String,
    /// The rustls configuration, unless `tls_strategy = "insecure"`.
    tls: Option<Arc<rustls::ClientConfig>>,
    /// `tls_strategy = "before_bind"`.
    starttls: bool,
    bind_dn_templates: Vec<Template>,
    /// `valid_username_regex`, anchored at the start as `re.match`.
    username_regex: Regex,
    lookup: Option<Lookup>,
    search: Option<UserSearch>,
    /// `allowed_groups` with its search; `None` when empty.
    groups: Option<GroupCheck>,
    auth_state_attributes: Vec<String>,
    use_lookup_dn_username: bool,
    /// Bounds the connections open at once.
    slots: Semaphore,
}

impl std::fmt::Debug for LdapAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapAuthenticator")
            .field("url", &self.url)
            .field("starttls", &self.starttls)
            .field("lookup_dn", &self.lookup.is_some())
            .field("allowed_groups", &self.groups.as_ref().map(|g| &g.allowed))
            .finish_non_exhaustive()
    }
}

/// `lookup_dn`: how the user's DN is found.
struct Lookup {
    search_base: String,
    /// `lookup_dn_search_filter` (`{login_attr}`, `{login}`).
    filter: Template,
    user_attribute: String,
    /// `lookup_dn_user_dn_attribute`.
    dn_attribute: String,
    /// `lookup_dn_search_user` and its password; `None`: anonymous.
    credentials: Option<(String, String)>,
}

/// `search_filter`: one more search that must find the user exactly once.
struct UserSearch {
    base: String,
    /// `{userattr}`, `{username}`.
    filter: Template,
    user_attribute: String,
    attributes: Vec<String>,
}

/// `allowed_groups` and how membership is searched.
struct GroupCheck {
    allowed: Vec<String>,
    /// `group_search_filter` (`{userdn}`, `{uid}`).
    filter: Template,
    attributes: Vec<String>,
}

/// What a successful bind established.
struct Bound {
    conn: Connection,
    /// The DN the user bound as.
    dn: String,
    /// The name used in DN templates: the login name, or the looked-up
    /// `lookup_dn_user_dn_attribute` value.
    resolved: String,
}

/// What a search returned.
struct Found {
    entries: Vec<Entry>,
    /// The server's size limit cut the answer short: more entries matched.
    truncated: bool,
}

impl Found {
    /// The one entry found, or how many matched (at least 2 when the
    /// answer was cut short).
    fn unique(mut self) -> Result<Entry, usize> {
        if self.truncated {
            Err(self.entries.len().max(2))
        } else if self.entries.len() == 1 {
            Ok(self.entries.remove(0))
        } else {
            Err(self.entries.len())
        }
    }
}

/// An open LDAP connection; its driver task ends with it.
struct Connection {
    ldap: Ldap,
    driver: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

fn config_error(message: impl std::fmt::Display) -> AuthError {
    AuthError::Config(format!("LDAPAuthenticator.{message}"))
}

/// Parses a template option, checking that it gives a valid filter when
/// `filter` (ldap3's own parser, with every field filled).
fn parse_template(
    option: &str,
    text: &str,
    fields: &[&str],
    filter: bool,
) -> Result<Template, AuthError> {
    let template =
        Template::parse(text, fields).map_err(|e| config_error(format_args!("{option}: {e}")))?;
    if filter {
        let sample: Vec<_> = fields.iter().map(|f| (*f, "x")).collect();
        if ldap3::parse_filter(template.fill(&sample)).is_err() {
            return Err(config_error(format_args!(
                "{option}: {text:?} is not a valid LDAP search filter (RFC 4515)"
            )));
        }
    }
    Ok(template)
}

impl LdapAuthenticator {
    /// Builds the back end from `[LDAPAuthenticator]`, refusing at start-up
    /// what upstream would only fail on at the first login (no server, no
    /// DN template or lookup, a lookup without its search settings, a bad
    /// template, regular expression or CA file).
    pub fn new(config: &LdapAuthenticatorConfig) -> Result<Self, AuthError> {
        match config.use_ssl {
            Some(true) => tracing::warn!(
                "LDAPAuthenticator.use_ssl is deprecated in 2.0 in favor of \
                 LDAPAuthenticator.tls_strategy; configure tls_strategy = \"on_connect\" instead"
            ),
            Some(false) => tracing::warn!(
                "LDAPAuthenticator.use_ssl is deprecated in 2.0 in favor of \
                 LDAPAuthenticator.tls_strategy; use_ssl = false has no effect"
            ),
            None => {}
        }
        if config.escape_userdn.is_some() {
            tracing::warn!(
                "LDAPAuthenticator.escape_userdn was removed in 2.0 and no longer has any effect"
            );
        }
        let endpoint = endpoint::endpoint(config)?;
        let tls = match endpoint.transport {
            Transport::Plain => None,
            Transport::StartTls | Transport::Tls => Some(tls::client_config(&config.tls_kwargs)?),
        };

        if config.bind_dn_template.iter().any(String::is_empty) {
            tracing::warn!("Ignoring blank 'bind_dn_template' entry!");
        }
        let bind_dn_templates = config
            .bind_dn_template
            .iter()
            .filter(|t| !t.is_empty())
            .map(|t| parse_template("bind_dn_template", t, &["username"], false))
            .collect::<Result<Vec<_>, _>>()?;
        if !config.lookup_dn && bind_dn_templates.is_empty() {
            return Err(AuthError::Config(
                "LDAPAuthenticator requires either lookup_dn or bind_dn_template to be configured"
                    .to_owned(),
            ));
        }
        let username_regex = Regex::new(&format!("^(?:{})", config.valid_username_regex))
            .map_err(|e| config_error(format_args!("valid_username_regex: {e}")))?;

        let required = |option: &str, value: Option<&String>, why: &str| {
            value
                .filter(|v| !v.is_empty())
                .cloned()
                .ok_or_else(|| config_error(format_args!("{option} is required {why}")))
        };
        let lookup = if config.lookup_dn {
            let why = "with lookup_dn = true";
            let credentials = match (
                &config.lookup_dn_search_user,
                &config.lookup_dn_search_password,
            ) {
                (None, None) => None,
                (Some(user), Some(password)) => Some((user.clone(), password.clone())),
                (Some(_), None) => {
                    return Err(config_error(
                        "lookup_dn_search_user is set but lookup_dn_search_password is not",
                    ));
                }
                (None, Some(_)) => {
                    return Err(config_error(
                        "lookup_dn_search_password is set but lookup_dn_search_user is not",
                    ));
                }
            };
            Some(Lookup {
                search_base: required("user_search_base", config.user_search_base.as_ref(), why)?,
                filter: parse_template(
                    "lookup_dn_search_filter",
                    &config.lookup_dn_search_filter,
                    &["login_attr", "login"],
                    true,
                )?,
                user_attribute: required("user_attribute", config.user_attribute.as_ref(), why)?,
                dn_attribute: required(
                    "lookup_dn_user_dn_attribute",
                    config.lookup_dn_user_dn_attribute.as_ref(),
                    why,
                )?,
                credentials,
            })
        } else {
            if config.use_lookup_dn_username {
                tracing::warn!(
                    "LDAPAuthenticator.use_lookup_dn_username has no effect without lookup_dn"
                );
            }
            None
        };
        let search = if config.search_filter.is_empty() {
            None
        } else {
            let why = "with search_filter";
            let filter = parse_template(
                "search_filter",
                &config.search_filter,
                &["userattr", "username"],
                true,
            )?;
            let user_attribute = if filter.uses("userattr") {
                required("user_attribute", config.user_attribute.as_ref(), why)?
            } else {
                config.user_attribute.clone().unwrap_or_default()
            };
            Some(UserSearch {
                base: required("user_search_base", config.user_search_base.as_ref(), why)?,
                filter,
                user_attribute,
                attributes: config.attributes.clone(),
            })
        };
        if !config.allowed_groups.is_empty()
            && (config.group_search_filter.is_empty() || config.group_attributes.is_empty())
        {
            return Err(config_error(
                "allowed_groups requires both group_search_filter and group_attributes \
                 to be configured",
            ));
        }
        // Unused (and so unchecked, as upstream) without allowed_groups.
        let groups = if config.allowed_groups.is_empty() {
            None
        } else {
            Some(GroupCheck {
                allowed: config.allowed_groups.clone(),
                filter: parse_template(
                    "group_search_filter",
                    &config.group_search_filter,
                    &["userdn", "uid"],
                    true,
                )?,
                attributes: config.group_attributes.clone(),
            })
        };
        Ok(Self {
            url: endpoint.url,
            tls,
            starttls: endpoint.transport == Transport::StartTls,
            bind_dn_templates,
            username_regex,
            lookup,
            search,
            groups,
            auth_state_attributes: config.auth_state_attributes.clone(),
            use_lookup_dn_username: config.use_lookup_dn_username,
            slots: Semaphore::new(MAX_CONCURRENT_LOGINS),
        })
    }

    /// A server-side failure, with the server named.
    fn backend(&self, what: &str, error: impl std::fmt::Display) -> AuthError {
        AuthError::Backend(format!("LDAP server {}: {what}: {error}", self.url))
    }

    /// Opens a connection (TLS or StartTLS as configured) within
    /// [`CONNECT_TIMEOUT`].
    async fn connect(&self) -> Result<Connection, AuthError> {
        let mut settings = LdapConnSettings::new().set_conn_timeout(CONNECT_TIMEOUT);
        if let Some(tls) = &self.tls {
            settings = settings
                .set_config(Arc::clone(tls))
                .set_starttls(self.starttls);
        }
        let (conn, ldap) = LdapConnAsync::with_settings(settings, &self.url)
            .await
            .map_err(|e| self.backend("cannot connect", e))?;
        let driver = tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!("LDAP connection ended: {e}");
            }
        });
        Ok(Connection { ldap, driver })
    }

    /// A simple bind; `Ok(false)` when the server refuses it (any result
    /// code but success, as upstream's `LDAPBindError`).
    async fn bind(
        &self,
        conn: &mut Connection,
        dn: &str,
        password: &str,
    ) -> Result<bool, AuthError> {
        let result = conn
            .ldap
            .simple_bind(dn, password)
            .await
            .map_err(|e| self.backend("bind", e))?;
        if result.rc != RC_SUCCESS {
            tracing::debug!(dn, rc = result.rc, "LDAP bind refused: {}", result.text);
        }
        Ok(result.rc == RC_SUCCESS)
    }

    /// A search; a base that does not exist finds nothing. Other errors are
    /// the server's.
    async fn search(
        &self,
        conn: &mut Connection,
        base: &str,
        scope: Scope,
        filter: &str,
        attributes: &[String],
    ) -> Result<Found, AuthError> {
        let ldap3::SearchResult(entries, result) = conn
            .ldap
            .search(base, scope, filter, attributes)
            .await
            .map_err(|e| self.backend("search", e))?;
        let entries = || entries.into_iter().filter_map(Entry::read).collect();
        match result.rc {
            RC_SUCCESS => Ok(Found {
                entries: entries(),
                truncated: false,
            }),
            RC_SIZE_LIMIT_EXCEEDED => Ok(Found {
                entries: entries(),
                truncated: true,
            }),
            RC_NO_SUCH_OBJECT => Ok(Found {
                entries: Vec::new(),
                truncated: false,
            }),
            rc => Err(self.backend(
                "search",
                format_args!(
                    "base {base:?}, filter {filter:?}: result code {rc} {}",
                    result.text
                ),
            )),
        }
    }

    /// Upstream's `resolve_username`: the user's entry under
    /// `user_search_base`, as `(attribute value, DN)`; `None` unless exactly
    /// one entry with exactly one value was found.
    async fn resolve(
        &self,
        lookup: &Lookup,
        login: &str,
    ) -> Result<Option<(String, String)>, AuthError> {
        let mut conn = self.connect().await?;
        if let Some((user, password)) = &lookup.credentials
            && !self.bind(&mut conn, user, password).await?
        {
            return Err(AuthError::Backend(format!(
                "LDAP server {}: the lookup_dn_search_user {user:?} could not bind \
                 (wrong DN or password?)",
                self.url
            )));
        }
        let filter = lookup.filter.fill(&[
            ("login_attr", &lookup.user_attribute),
            ("login", &filter_value(login)),
        ]);
        let attributes = std::slice::from_ref(&lookup.dn_attribute);
        let found = self
            .search(
                &mut conn,
                &lookup.search_base,
                Scope::Subtree,
                &filter,
                attributes,
            )
            .await?;
        unbind(conn).await;
        let entry = match found.unique() {
            Ok(entry) => entry,
            Err(0) => {
                tracing::debug!(login, "no entry found looking up the user");
                return Ok(None);
            }
            Err(n) => {
                tracing::error!(
                    login,
                    "looking up the user gave {n} entries, expected 0 or 1; are \
                     lookup_dn_search_filter and user_attribute configured to get a unique match?"
                );
                return Ok(None);
            }
        };
        let values = entry.attribute(&lookup.dn_attribute);
        match values {
            Some([value]) => Ok(Some((value.clone(), entry.dn))),
            Some([]) | None => {
                tracing::error!(
                    "no attribute values for {:?} in {:?}; is lookup_dn_user_dn_attribute \
                     configured correctly?",
                    lookup.dn_attribute,
                    entry.dn
                );
                Ok(None)
            }
            Some(many) => {
                tracing::error!(
                    "attribute {:?} of {:?} has {} values, expected one; is \
                     lookup_dn_user_dn_attribute configured correctly?",
                    lookup.dn_attribute,
                    entry.dn,
                    many.len()
                );
                Ok(None)
            }
        }
    }

    /// Finds the DN and binds as the user: the bound connection, or `None`
    /// for a refusal.
    async fn bind_user(&self, login: &str, password: &str) -> Result<Option<Bound>, AuthError> {
        let mut resolved = login.to_owned();
        let mut candidates: Vec<String> = Vec::new();
        if let Some(lookup) = &self.lookup {
            let Some((name, dn)) = self.resolve(lookup, login).await? else {
                tracing::debug!(login, "login denied for failed lookup");
                return Ok(None);
            };
            resolved = name;
            if self.bind_dn_templates.is_empty() {
                candidates.push(dn);
            }
        }
        let escaped = dn_value(&resolved);
        candidates.extend(
            self.bind_dn_templates
                .iter()
                .map(|t| t.fill(&[("username", &escaped)])),
        );
        // One connection for all candidates: a refused bind leaves it
        // anonymous, ready for the next.
        let mut conn = self.connect().await?;
        for dn in candidates {
            if self.bind(&mut conn, &dn, password).await? {
                return Ok(Some(Bound { conn, dn, resolved }));
            }
        }
        unbind(conn).await;
        tracing::debug!(login, resolved, "failed to bind the user to an LDAP user");
        Ok(None)
    }

    /// The whole login after the name and password checks.
    async fn login(&self, login: &str, password: &str) -> Result<Option<Authenticated>, AuthError> {
        let Some(Bound {
            mut conn,
            dn,
            resolved,
        }) = self.bind_user(login, password).await?
        else {
            return Ok(None);
        };
        if let Some(search) = &self.search {
            let filter = search.filter.fill(&[
                ("userattr", &search.user_attribute),
                ("username", &filter_value(&resolved)),
            ]);
            let found = self
                .search(
                    &mut conn,
                    &search.base,
                    Scope::Subtree,
                    &filter,
                    &search.attributes,
                )
                .await?;
            if let Err(n) = found.unique() {
                tracing::warn!(
                    login,
                    "login denied: search_filter found {n} entries for {resolved:?}, \
                     and a unique match is required"
                );
                unbind(conn).await;
                return Ok(None);
            }
        }
        let mut ldap_groups = Vec::new();
        if let Some(groups) = &self.groups {
            let filter = groups.filter.fill(&[
                ("userdn", &filter_value(&dn)),
                ("uid", &filter_value(&resolved)),
            ]);
            for group in &groups.allowed {
                // Upstream's `conn.search` is false on any error: not a member.
                match self
                    .search(&mut conn, group, Scope::Base, &filter, &groups.attributes)
                    .await
                {
                    Ok(found) if !found.entries.is_empty() => ldap_groups.push(group.clone()),
                    Ok(_) => {}
                    Err(e) => tracing::warn!("group membership search in {group:?} failed: {e}"),
                }
            }
        }
        let user_attributes = self.user_attributes(&mut conn, &dn).await?;
        unbind(conn).await;
        let name = if self.use_lookup_dn_username {
            resolved
        } else {
            login.to_owned()
        };
        let auth_state = json!({
            "ldap_groups": ldap_groups,
            "user_attributes": user_attributes,
        });
        Ok(Some(Authenticated {
            auth_state: Some(auth_state),
            ..Authenticated::named(name)
        }))
    }

    /// Upstream's `get_user_attributes`: `auth_state_attributes` of the
    /// user's entry, each as its list of values; empty unless exactly one
    /// entry came back.
    async fn user_attributes(
        &self,
        conn: &mut Connection,
        dn: &str,
    ) -> Result<BTreeMap<String, Vec<String>>, AuthError> {
        if self.auth_state_attributes.is_empty() {
            return Ok(BTreeMap::new());
        }
        let found = self
            .search(
                conn,
                dn,
                Scope::Subtree,
                "(objectClass=*)",
                &self.auth_state_attributes,
            )
            .await?;
        match found.unique() {
            Ok(entry) => Ok(entry.attrs),
            Err(n) => {
                tracing::error!(
                    "expected 1 but got {n} entries for {dn:?} when looking up \
                     auth_state_attributes; the auth state will not include any attributes"
                );
                Ok(BTreeMap::new())
            }
        }
    }
}

/// Ends a connection politely; the server may already be gone.
async fn unbind(mut conn: Connection) {
    if tokio::time::timeout(Duration::from_secs(1), conn.ldap.unbind())
        .await
        .is_err()
    {
        tracing::debug!("LDAP unbind timed out");
    }
}

#[async_trait]
impl Authenticator for LdapAuthenticator {
    fn name(&self) -> &'static str {
        "LDAPAuthenticator"
    }

    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<String>, AuthError> {
        Ok(self
            .authenticate_model(username, password)
            .await?
            .map(|model| model.name))
    }

    /// Upstream's `authenticate`: the name must match
    /// `valid_username_regex` and the password must not be blank (an empty
    /// password would be an anonymous bind, which servers accept) before
    /// the server is asked at all.
    async fn authenticate_model(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Authenticated>, AuthError> {
        if !self.username_regex.is_match(username) {
            tracing::warn!(
                username,
                "illegal characters in username, must match LDAPAuthenticator.valid_username_regex"
            );
            return Ok(None);
        }
        if password.trim().is_empty() {
            tracing::warn!(username, "login denied for blank password");
            return Ok(None);
        }
        let _slot = match tokio::time::timeout(QUEUE_WAIT, self.slots.acquire()).await {
            Ok(Ok(slot)) => slot,
            Ok(Err(closed)) => return Err(AuthError::Backend(closed.to_string())),
            Err(_) => return Err(AuthError::Busy),
        };
        match tokio::time::timeout(LOGIN_TIMEOUT, self.login(username, password)).await {
            Ok(result) => result,
            Err(_) => Err(AuthError::Backend(format!(
                "LDAP server {}: no answer within {} s",
                self.url,
                LOGIN_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Upstream's `check_allowed` beyond `allowed_users`: a member of one of
    /// `allowed_groups`, as found at this login (`auth_state["ldap_groups"]`).
    async fn check_allowed_model(
        &self,
        username: &str,
        model: &Authenticated,
    ) -> Result<bool, AuthError> {
        let found = model
            .auth_state
            .as_ref()
            .and_then(|state| state.get("ldap_groups"))
            .and_then(Value::as_array);
        let allowed = match (&self.groups, found) {
            (Some(groups), Some(found)) => groups
                .allowed
                .iter()
                .any(|group| found.iter().any(|g| g.as_str() == Some(group))),
            _ => false,
        };
        if allowed {
            tracing::debug!(username, "allowed as a member of an allowed group");
        } else if self.search.is_some() {
            tracing::info!(
                username,
                "user matches search_filter, but is not allowed by allowed_users, \
                 allowed_groups, or allow_all"
            );
        }
        Ok(allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> LdapAuthenticatorConfig {
        toml::from_str(&format!(
            "server_address = \"127.0.0.1\"\ntls_strategy = \"insecure\"\n{extra}"
        ))
        .unwrap()
    }

    fn refused(extra: &str) -> String {
        LdapAuthenticator::new(&config(extra))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn start_up_refuses_what_could_never_log_anyone_in() {
        let err = LdapAuthenticator::new(&LdapAuthenticatorConfig::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("server_address is required"), "{err}");
        assert_eq!(
            refused(""),
            "LDAPAuthenticator requires either lookup_dn or bind_dn_template to be configured"
        );
        assert!(refused("bind_dn_template = [\"\"]").contains("either lookup_dn"));
        let err = refused("lookup_dn = true");
        assert!(
            err.contains("user_search_base is required with lookup_dn"),
            "{err}"
        );
        let err =
            refused("lookup_dn = true\nuser_search_base = \"dc=x\"\nuser_attribute = \"uid\"");
        assert!(
            err.contains("lookup_dn_user_dn_attribute is required"),
            "{err}"
        );
        let err = refused("bind_dn_template = \"uid={user},dc=x\"");
        assert!(
            err.contains("bind_dn_template: unknown field {user} (offered: {username})"),
            "{err}"
        );
        let err = refused("bind_dn_template = \"uid={username}\"\nvalid_username_regex = \"(\"");
        assert!(err.contains("valid_username_regex"), "{err}");
        let err = refused(
            "bind_dn_template = \"uid={username}\"\nallowed_groups = [\"cn=g\"]\n\
             group_search_filter = \"(member={userdn}\"",
        );
        assert!(
            err.contains("group_search_filter") && err.contains("RFC 4515"),
            "{err}"
        );
        let err =
            refused("bind_dn_template = \"uid={username}\"\nsearch_filter = \"(uid={username})\"");
        assert!(
            err.contains("user_search_base is required with search_filter"),
            "{err}"
        );
        let err = refused(
            "lookup_dn = true\nuser_search_base = \"dc=x\"\nuser_attribute = \"uid\"\n\
             lookup_dn_user_dn_attribute = \"uid\"\nlookup_dn_search_user = \"cn=admin\"",
        );
        assert!(err.contains("lookup_dn_search_password"), "{err}");
    }

    #[test]
    fn urls_follow_the_tls_strategy_and_port_defaults() {
        let plain =
            LdapAuthenticator::new(&config("bind_dn_template = \"uid={username}\"")).unwrap();
        assert_eq!(plain.url, "ldap://127.0.0.1:389");
        assert!(plain.tls.is_none());
        let ldaps: LdapAuthenticatorConfig = toml::from_str(
            "server_address = \"ldap.example.org\"\ntls_strategy = \"on_connect\"\n\
             bind_dn_template = \"uid={username}\"\ntls_kwargs = { validate = 0 }",
        )
        .unwrap();
        let ldaps = LdapAuthenticator::new(&ldaps).unwrap();
        assert_eq!(ldaps.url, "ldaps://ldap.example.org:636");
        assert!(ldaps.tls.is_some() && !ldaps.starttls);
    }

    /// Names the regular expression or a blank password refuse are refused
    /// before any connection: the server here does not exist, so reaching it
    /// would be an error, not `Ok(None)`.
    #[tokio::test]
    async fn bad_names_and_blank_passwords_never_reach_the_server() {
        let auth = LdapAuthenticator::new(&config(
            "server_port = 1\nbind_dn_template = \"uid={username},dc=x\"",
        ))
        .unwrap();
        for name in ["*", "alice)(uid=*", "a,b", "a\\b", "Alice", "", "3fry"] {
            assert_eq!(
                auth.authenticate(name, "pw").await.unwrap(),
                None,
                "{name:?}"
            );
        }
        for blank in ["", "  ", "\t"] {
            assert_eq!(auth.authenticate("alice", blank).await.unwrap(), None);
        }
        // A valid name does reach it: the closed port is a back-end error.
        assert!(matches!(
            auth.authenticate("alice", "pw").await,
            Err(AuthError::Backend(_))
        ));
    }

    #[test]
    fn a_unique_entry_is_one_entry_of_a_complete_answer() {
        let entry = |dn: &str| Entry {
            dn: dn.to_owned(),
            attrs: BTreeMap::new(),
        };
        let found = |entries: Vec<Entry>, truncated| Found { entries, truncated };
        assert_eq!(
            found(vec![entry("uid=a")], false).unique().unwrap().dn,
            "uid=a"
        );
        assert_eq!(found(vec![], false).unique().unwrap_err(), 0);
        assert_eq!(
            found(vec![entry("a"), entry("b")], false)
                .unique()
                .unwrap_err(),
            2
        );
        // A size limit hit after one entry means more matched: ambiguous.
        assert_eq!(found(vec![entry("uid=a")], true).unique().unwrap_err(), 2);
    }

    #[tokio::test]
    async fn group_membership_comes_from_the_login_model() {
        let auth = LdapAuthenticator::new(&config(
            "bind_dn_template = \"uid={username}\"\nallowed_groups = [\"cn=staff,dc=x\"]",
        ))
        .unwrap();
        let model = |groups: Value| Authenticated {
            auth_state: Some(json!({"ldap_groups": groups, "user_attributes": {}})),
            ..Authenticated::named("alice")
        };
        assert!(
            auth.check_allowed_model("alice", &model(json!(["cn=staff,dc=x"])))
                .await
                .unwrap()
        );
        assert!(
            !auth
                .check_allowed_model("alice", &model(json!(["cn=other,dc=x"])))
                .await
                .unwrap()
        );
        assert!(
            !auth
                .check_allowed_model("alice", &Authenticated::named("alice"))
                .await
                .unwrap()
        );
    }
}
