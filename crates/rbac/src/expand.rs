//! Expansion: raw scopes (as in roles and token requests) → the full implied set in parsed form,
//! with metascopes, bare filters and subscopes resolved for one owner.

use crate::catalogue::{self, SELF_SCOPES};
use crate::custom::CustomScopes;
use crate::error::ScopeError;
use crate::parsed::ParsedScopes;
use crate::scope::{Filter, FilterKind, RawFilter, validate};

/// Who holds the scopes being expanded: resolves `self` and the bare filters `!user`,
/// `!service`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner<'a> {
    /// A user: `self` and `!user` refer to them.
    User {
        /// The user's name.
        name: &'a str,
    },
    /// A service: `!service` refers to it; `self` grants nothing.
    Service {
        /// The service's name.
        name: &'a str,
    },
    /// A group, as the recipient of a share: neither `self` nor `!user` / `!service` resolve.
    Group {
        /// The group's name.
        name: &'a str,
    },
}

/// Everything expansion needs besides the scopes themselves.
#[derive(Clone, Copy, Debug)]
pub struct ExpandContext<'a> {
    /// The holder of the scopes.
    pub owner: Owner<'a>,
    /// For OAuth tokens issued by a server's client: `(user, server)`, which bare `!server`
    /// resolves to. Without it, scopes with `!server` are dropped (as upstream does).
    pub client_server: Option<(&'a str, &'a str)>,
    /// For OAuth tokens issued by a service's client: bare `!service` resolves to it, taking
    /// precedence over a service owner.
    pub client_service: Option<&'a str>,
    /// The deployment's custom scopes.
    pub custom: &'a CustomScopes,
}

impl<'a> ExpandContext<'a> {
    /// A context without OAuth client, e.g. for roles and hub-issued tokens.
    pub fn new(owner: Owner<'a>, custom: &'a CustomScopes) -> Self {
        Self {
            owner,
            client_server: None,
            client_service: None,
            custom,
        }
    }

    /// Sets the issuing OAuth client to a user's server.
    pub fn with_client_server(mut self, user: &'a str, server: &'a str) -> Self {
        self.client_server = Some((user, server));
        self
    }

    /// Sets the issuing OAuth client to a service.
    pub fn with_client_service(mut self, service: &'a str) -> Self {
        self.client_service = Some(service);
        self
    }

    /// The concrete filter a bare filter stands for here, if any; names that are empty count as
    /// absent so no unparsable filter is ever produced.
    fn resolve(&self, kind: FilterKind) -> Option<Filter> {
        match kind {
            FilterKind::User => match self.owner {
                Owner::User { name } if !name.is_empty() => Some(Filter::User(name.to_owned())),
                _ => None,
            },
            FilterKind::Service => match (self.client_service, self.owner) {
                (Some(name), _) | (None, Owner::Service { name }) if !name.is_empty() => {
                    Some(Filter::Service(name.to_owned()))
                }
                _ => None,
            },
            FilterKind::Server => match self.client_server {
                Some((user, server)) if !user.is_empty() => Some(Filter::Server {
                    user: user.to_owned(),
                    server: server.to_owned(),
                }),
                _ => None,
            },
            FilterKind::Group => None,
        }
    }
}

/// Upstream's `expand_scopes`: every scope in `scopes` plus everything it implies (recursively),
/// reduced, with filters resolved for `cx`.
///
/// * `self` becomes, for a user owner, `read:users`, `users:shares`, `read:shares`,
///   `users:activity`, `servers`, `tokens`, `access:servers` and their subscopes, each
///   `!user=<owner>`; for other owners nothing.
/// * Bare `!user`, `!service`, `!server` are resolved through [`ExpandContext`]; a scope whose
///   bare filter has no target is dropped (upstream only warns).
/// * A filter is copied to every subscope, except that a `!server=` filter is not applied to
///   `read:users*` scopes (they are dropped, even when named directly): server scopes imply
///   user-name reads that make no sense per server.
/// * `inherit` is an error ([`ScopeError::Inherit`]): the caller substitutes the owner's scopes
///   (see [`has_inherit`] / [`without_inherit`]). Unknown scopes are errors too.
pub fn expand<S: AsRef<str>>(
    scopes: &[S],
    cx: &ExpandContext<'_>,
) -> Result<ParsedScopes, ScopeError> {
    let mut out = ParsedScopes::new();
    for scope in scopes {
        expand_one(scope.as_ref(), cx, &mut out)?;
    }
    Ok(out)
}

fn expand_one(
    scope: &str,
    cx: &ExpandContext<'_>,
    out: &mut ParsedScopes,
) -> Result<(), ScopeError> {
    let raw = validate(scope, cx.custom)?;
    match raw.base.as_str() {
        "inherit" => return Err(ScopeError::Inherit),
        "self" => {
            if let Some(Filter::User(name)) = cx.resolve(FilterKind::User) {
                let filter = Filter::User(name);
                for base in SELF_SCOPES {
                    add_with_subscopes(base, Some(&filter), cx.custom, out);
                }
            }
            return Ok(());
        }
        _ => {}
    }
    let filter = match raw.filter {
        None => None,
        Some(RawFilter::Exact(filter)) => Some(filter),
        Some(RawFilter::Bare(kind)) => match cx.resolve(kind) {
            Some(filter) => Some(filter),
            None => return Ok(()),
        },
    };
    add_with_subscopes(&raw.base, filter.as_ref(), cx.custom, out);
    Ok(())
}

/// Grants `base` and its subscope closure with `filter`, honouring the `!server` rule.
fn add_with_subscopes(
    base: &str,
    filter: Option<&Filter>,
    custom: &CustomScopes,
    out: &mut ParsedScopes,
) {
    let skip_user_reads = matches!(filter, Some(Filter::Server { .. }));
    let mut stack: Vec<&str> = vec![base];
    let mut seen: Vec<&str> = Vec::new();
    while let Some(name) = stack.pop() {
        if seen.contains(&name) {
            continue;
        }
        seen.push(name);
        if !(skip_user_reads && name.starts_with("read:user")) {
            out.insert(name, filter);
        }
        if let Some(subs) = catalogue::subscopes(name) {
            stack.extend_from_slice(subs);
        } else if let Some(def) = custom.get(name) {
            stack.extend(def.subscopes.iter().map(String::as_str));
        }
    }
}

/// Whether a raw scope list contains `inherit`, in which case the credential simply has its
/// owner's scopes and [`expand`] must not be called with it.
pub fn has_inherit<S: AsRef<str>>(scopes: &[S]) -> bool {
    scopes.iter().any(|s| s.as_ref() == "inherit")
}

/// The scopes other than `inherit`, for checking a token request's explicit scopes against
/// the owner's (upstream discards `inherit` there).
pub fn without_inherit<S: AsRef<str>>(scopes: &[S]) -> Vec<&str> {
    scopes
        .iter()
        .map(AsRef::as_ref)
        .filter(|s| *s != "inherit")
        .collect()
}

/// Raw identify scopes for the OAuth client defaults, before expansion (`!user` resolves to the
/// authorizing user).
pub const IDENTIFY_SCOPES_RAW: [&str; 2] = ["read:users:groups!user", "read:users:name!user"];

/// Scopes every credential always gets to identify its owner: users get
/// `read:users:name!user=<n>` and `read:users:groups!user=<n>`; services
/// `read:services:name!service=<n>`; group owners nothing.
pub fn identify_scopes(owner: &Owner<'_>) -> ParsedScopes {
    let mut out = ParsedScopes::new();
    match *owner {
        Owner::User { name } => {
            let filter = Filter::User(name.to_owned());
            out.insert("read:users:name", Some(&filter));
            out.insert("read:users:groups", Some(&filter));
        }
        Owner::Service { name } => {
            out.insert(
                "read:services:name",
                Some(&Filter::Service(name.to_owned())),
            );
        }
        Owner::Group { .. } => {}
    }
    out
}

/// The scope a server's OAuth client requires: `access:servers!server=<user>/<server>`.
pub fn access_scope_for_server(user: &str, server: &str) -> String {
    format!("access:servers!server={user}/{server}")
}

/// The scope a service's OAuth client requires: `access:services!service=<name>`.
pub fn access_scope_for_service(name: &str) -> String {
    format!("access:services!service={name}")
}

/// Upstream's `Share._apply_filter`: restricts share scopes to the shared server. Each scope is
/// validated, may carry no filter or exactly `!server=<owner>/<server>`, and comes back with
/// that filter; the result is sorted and deduplicated.
pub fn apply_share_filter<S: AsRef<str>>(
    scopes: &[S],
    owner: &str,
    server: &str,
    custom: &CustomScopes,
) -> Result<Vec<String>, ScopeError> {
    let allowed = format!("server={owner}/{server}");
    let mut out = Vec::with_capacity(scopes.len());
    for scope in scopes {
        let scope = scope.as_ref();
        validate(scope, custom)?;
        let (base, filter) = scope.split_once('!').unwrap_or((scope, ""));
        if !filter.is_empty() && filter != allowed {
            return Err(ScopeError::ShareFilter {
                scope: scope.to_owned(),
                filter: filter.to_owned(),
                allowed,
            });
        }
        let filtered = format!("{base}!{allowed}");
        validate(&filtered, custom)?;
        out.push(filtered);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custom::CustomScopeDef;
    use crate::parsed::Grant;
    use crate::roles::default_roles;

    fn user(name: &str) -> ExpandContext<'_> {
        ExpandContext::new(Owner::User { name }, CustomScopes::none())
    }

    fn service(name: &str) -> ExpandContext<'_> {
        ExpandContext::new(Owner::Service { name }, CustomScopes::none())
    }

    fn strings(scopes: &[&str], cx: &ExpandContext<'_>) -> Vec<String> {
        expand(scopes, cx).unwrap().to_strings()
    }

    #[test]
    fn self_for_a_user_is_the_15_scopes_of_a_default_token() {
        let got = strings(&["self"], &user("alice"));
        assert_eq!(
            got,
            [
                "access:servers!user=alice",
                "delete:servers!user=alice",
                "read:servers!user=alice",
                "read:shares!user=alice",
                "read:tokens!user=alice",
                "read:users!user=alice",
                "read:users:activity!user=alice",
                "read:users:groups!user=alice",
                "read:users:name!user=alice",
                "read:users:shares!user=alice",
                "servers!user=alice",
                "start:servers!user=alice",
                "tokens!user=alice",
                "users:activity!user=alice",
                "users:shares!user=alice",
            ]
        );
        assert_eq!(got.len(), 15);
    }

    #[test]
    fn self_for_a_service_or_group_is_nothing() {
        assert!(expand(&["self"], &service("announcer")).unwrap().is_empty());
        let group = ExpandContext::new(Owner::Group { name: "g" }, CustomScopes::none());
        assert!(expand(&["self"], &group).unwrap().is_empty());
    }

    #[test]
    fn server_role_for_a_servers_own_token() {
        let server_role = &default_roles(&[])[2];
        let cx = user("alice").with_client_server("alice", "");
        assert_eq!(
            strings(
                &server_role
                    .scopes
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
                &cx
            ),
            [
                "access:servers!server=alice/",
                "read:users:activity!user=alice",
                "users:activity!user=alice",
            ]
        );
        let cx = user("alice").with_client_server("alice", "gpu");
        assert_eq!(
            strings(&["access:servers!server"], &cx),
            ["access:servers!server=alice/gpu"]
        );
    }

    #[test]
    fn bare_filters_without_target_drop_the_scope() {
        assert_eq!(
            strings(
                &["users:activity!user", "access:servers!server"],
                &user("alice")
            ),
            [
                "read:users:activity!user=alice",
                "users:activity!user=alice"
            ]
        );
        assert!(strings(&["users:activity!user"], &service("s")).is_empty());
        assert!(strings(&["access:services!service"], &user("alice")).is_empty());
        let group = ExpandContext::new(Owner::Group { name: "g" }, CustomScopes::none());
        assert!(strings(&["read:users!user", "read:services!service"], &group).is_empty());
    }

    #[test]
    fn bare_service_resolves_to_the_client_service_before_the_owner() {
        assert_eq!(
            strings(&["access:services!service"], &service("owner")),
            ["access:services!service=owner"]
        );
        let cx = service("owner").with_client_service("client");
        assert_eq!(
            strings(&["access:services!service"], &cx),
            ["access:services!service=client"]
        );
        let cx = user("alice").with_client_service("client");
        assert_eq!(
            strings(&["read:services!service"], &cx),
            [
                "read:services!service=client",
                "read:services:name!service=client"
            ]
        );
    }

    #[test]
    fn empty_owner_names_resolve_nothing() {
        assert!(
            expand(&["self", "read:users!user"], &user(""))
                .unwrap()
                .is_empty()
        );
        let cx = user("alice").with_client_server("", "x");
        assert!(expand(&["access:servers!server"], &cx).unwrap().is_empty());
    }

    #[test]
    fn admin_role_expands_unfiltered() {
        let admin = &default_roles(&[])[1];
        let parsed = expand(&admin.scopes, &user("root")).unwrap();
        for (base, grant) in parsed.iter() {
            assert_eq!(grant, &Grant::All, "{base}");
        }
        let got = parsed.to_strings();
        for implied in [
            "admin:auth_state",
            "admin:server_state",
            "delete:users",
            "delete:servers",
            "delete:groups",
            "start:servers",
            "read:users:name",
            "read:users:activity",
            "read:groups:name",
            "read:roles:users",
            "read:roles:services",
            "read:roles:groups",
            "read:services:name",
            "read:tokens",
            "read:users:shares",
            "read:groups:shares",
            "read:shares",
            "list:users",
            "list:groups",
        ] {
            assert!(got.iter().any(|s| s == implied), "{implied}");
        }
        assert!(
            !got.iter()
                .any(|s| s == "self" || s == "inherit" || s == "(no_scope)")
        );
        assert_eq!(got.len(), 45);
    }

    #[test]
    fn leaf_scope_expands_to_itself() {
        assert_eq!(
            strings(&["read:users:name"], &user("a")),
            ["read:users:name"]
        );
        assert_eq!(strings(&["(no_scope)"], &user("a")), ["(no_scope)"]);
        assert_eq!(
            strings(&["read:users:name!user=bob"], &user("a")),
            ["read:users:name!user=bob"]
        );
    }

    #[test]
    fn filters_are_copied_to_subscopes() {
        assert_eq!(
            strings(&["users!group=g"], &user("a")),
            [
                "list:users!group=g",
                "read:users!group=g",
                "read:users:activity!group=g",
                "read:users:groups!group=g",
                "read:users:name!group=g",
                "users!group=g",
                "users:activity!group=g",
            ]
        );
        assert_eq!(
            strings(&["tokens!user=bob"], &user("a")),
            ["read:tokens!user=bob", "tokens!user=bob"]
        );
    }

    #[test]
    fn server_filters_skip_read_users_subscopes() {
        assert_eq!(
            strings(&["servers!server=alice/x"], &user("a")),
            [
                "delete:servers!server=alice/x",
                "read:servers!server=alice/x",
                "servers!server=alice/x",
                "start:servers!server=alice/x",
            ]
        );
        assert!(strings(&["read:users!server=alice/"], &user("a")).is_empty());
        assert_eq!(
            strings(&["users!server=alice/"], &user("a")),
            [
                "list:users!server=alice/",
                "users!server=alice/",
                "users:activity!server=alice/",
            ]
        );
        assert_eq!(
            strings(&["shares!server=alice/"], &user("a")),
            [
                "access:servers!server=alice/",
                "groups:shares!server=alice/",
                "read:groups:shares!server=alice/",
                "read:shares!server=alice/",
                "shares!server=alice/",
                "users:shares!server=alice/",
            ]
        );
    }

    #[test]
    fn unfiltered_grants_absorb_filtered_ones() {
        assert_eq!(
            strings(
                &["read:users!user=a", "read:users:name", "read:users!group=g"],
                &user("a")
            ),
            [
                "read:users!group=g",
                "read:users!user=a",
                "read:users:activity!group=g",
                "read:users:activity!user=a",
                "read:users:groups!group=g",
                "read:users:groups!user=a",
                "read:users:name",
            ]
        );
        assert_eq!(
            strings(&["servers", "self"], &user("alice")).len(),
            // servers, read:servers, start:servers, delete:servers and read:users:name
            // become unfiltered; the other 10 of self stay filtered
            15
        );
        assert!(
            expand(&["servers", "self"], &user("alice"))
                .unwrap()
                .holds_all("read:users:name")
        );
    }

    #[test]
    fn errors() {
        let cx = user("a");
        assert_eq!(
            expand(&["read:hub", "nope"], &cx).unwrap_err().to_string(),
            "Scope 'nope' does not exist"
        );
        assert_eq!(expand(&["all"], &cx), Err(ScopeError::AllRenamed));
        assert_eq!(expand(&["inherit"], &cx), Err(ScopeError::Inherit));
        assert_eq!(expand(&["self", "inherit"], &cx), Err(ScopeError::Inherit));
        assert!(matches!(
            expand(&["read:users!user="], &cx),
            Err(ScopeError::EmptyFilterValue { .. })
        ));
        assert!(matches!(
            expand(&["read:users!group"], &cx),
            Err(ScopeError::UnknownFilter { .. })
        ));
        assert!(expand::<&str>(&[], &cx).unwrap().is_empty());
    }

    #[test]
    fn inherit_helpers() {
        assert!(has_inherit(&["self", "inherit"]));
        assert!(!has_inherit(&["self", "inherit!user"]));
        assert!(!has_inherit::<&str>(&[]));
        assert_eq!(
            without_inherit(&["inherit", "read:hub", "inherit"]),
            ["read:hub"]
        );
        let owned = vec!["inherit".to_owned(), "tokens".to_owned()];
        assert_eq!(without_inherit(&owned), ["tokens"]);
    }

    fn custom() -> CustomScopes {
        let def = |d: &str, subs: &[&str]| CustomScopeDef {
            description: d.to_owned(),
            subscopes: subs.iter().map(|s| (*s).to_owned()).collect(),
        };
        CustomScopes::new([
            (
                "custom:srv:read".to_owned(),
                def("r", &["custom:srv:read:files", "custom:srv:read:kernels"]),
            ),
            ("custom:srv:read:files".to_owned(), def("f", &[])),
            ("custom:srv:read:kernels".to_owned(), def("k", &[])),
            ("custom:loop:aa".to_owned(), def("a", &["custom:loop:bb"])),
            ("custom:loop:bb".to_owned(), def("b", &["custom:loop:aa"])),
        ])
        .unwrap()
    }

    #[test]
    fn custom_scopes_expand_with_filters() {
        let custom = custom();
        let cx = ExpandContext::new(Owner::User { name: "alice" }, &custom);
        assert_eq!(
            strings(&["custom:srv:read!user"], &cx),
            [
                "custom:srv:read!user=alice",
                "custom:srv:read:files!user=alice",
                "custom:srv:read:kernels!user=alice",
            ]
        );
        assert_eq!(
            strings(&["custom:loop:aa"], &cx),
            ["custom:loop:aa", "custom:loop:bb"]
        );
        assert!(matches!(
            expand(&["custom:srv:write"], &cx),
            Err(ScopeError::NotFound { .. })
        ));
        assert!(expand(&["custom:srv:read"], &user("a")).is_err());
    }

    #[test]
    fn identify_scopes_per_owner() {
        assert_eq!(
            identify_scopes(&Owner::User { name: "alice" }).to_strings(),
            ["read:users:groups!user=alice", "read:users:name!user=alice"]
        );
        assert_eq!(
            identify_scopes(&Owner::Service { name: "s" }).to_strings(),
            ["read:services:name!service=s"]
        );
        assert!(identify_scopes(&Owner::Group { name: "g" }).is_empty());
        assert_eq!(
            expand(&IDENTIFY_SCOPES_RAW, &user("alice")).unwrap(),
            identify_scopes(&Owner::User { name: "alice" })
        );
    }

    #[test]
    fn access_scopes() {
        assert_eq!(
            access_scope_for_server("alice", ""),
            "access:servers!server=alice/"
        );
        assert_eq!(
            access_scope_for_server("alice", "gpu"),
            "access:servers!server=alice/gpu"
        );
        assert_eq!(access_scope_for_service("nb"), "access:services!service=nb");
        for s in [
            access_scope_for_server("a", "b"),
            access_scope_for_service("c"),
        ] {
            assert!(validate(&s, CustomScopes::none()).is_ok(), "{s}");
        }
    }

    #[test]
    fn share_filters() {
        let none = CustomScopes::none();
        assert_eq!(
            apply_share_filter(
                &[
                    "access:servers",
                    "read:shares!server=alice/x",
                    "access:servers"
                ],
                "alice",
                "x",
                none
            ),
            Ok(vec![
                "access:servers!server=alice/x".to_owned(),
                "read:shares!server=alice/x".to_owned()
            ])
        );
        let err =
            apply_share_filter(&["access:servers!user=alice"], "alice", "x", none).unwrap_err();
        assert_eq!(
            err.to_string(),
            "!user=alice not allowed on sharing access:servers!user=alice, only !server=alice/x"
        );
        assert!(matches!(
            apply_share_filter(&["nope"], "alice", "", none),
            Err(ScopeError::NotFound { .. })
        ));
        assert!(matches!(
            apply_share_filter(&["self"], "alice", "", none),
            Err(ScopeError::FilterOnMetascope { .. })
        ));
        assert_eq!(
            apply_share_filter(&["access:servers"], "alice", "", none),
            Ok(vec!["access:servers!server=alice/".to_owned()])
        );
    }
}
