//! Scope strings: `base` or `base!kind=value`, parsed into [`Scope`] (resolved filters only) or
//! [`RawScope`] (also the bare `!user`, `!service`, `!server` of role definitions).

use std::fmt;
use std::str::FromStr;

use crate::catalogue;
use crate::custom::CustomScopes;
use crate::error::ScopeError;

/// The kind of resource a filter restricts a scope to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FilterKind {
    /// `!user=`: a user (and that user's servers).
    User,
    /// `!server=`: one server of one user.
    Server,
    /// `!group=`: the members of a group (and their servers), or the group itself.
    Group,
    /// `!service=`: a service.
    Service,
}

impl FilterKind {
    /// The keyword used in scope strings.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Server => "server",
            Self::Group => "group",
            Self::Service => "service",
        }
    }

    fn from_keyword(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Self::User),
            "server" => Some(Self::Server),
            "group" => Some(Self::Group),
            "service" => Some(Self::Service),
            _ => None,
        }
    }
}

impl fmt::Display for FilterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scope's resource filter, restricting it to one named resource.
///
/// A server filter is written `server=<user>/<server>` and split at the first `/`, so the
/// default server is `server=alice/` and server names may contain `/` (user names may not).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Filter {
    /// `user=<name>`.
    User(String),
    /// `server=<user>/<server>`; `server` is empty for the default server.
    Server {
        /// The owning user's name.
        user: String,
        /// The server's name (empty for the default server).
        server: String,
    },
    /// `group=<name>`.
    Group(String),
    /// `service=<name>`.
    Service(String),
}

impl Filter {
    /// Which kind of resource this filter names.
    pub fn kind(&self) -> FilterKind {
        match self {
            Self::User(_) => FilterKind::User,
            Self::Server { .. } => FilterKind::Server,
            Self::Group(_) => FilterKind::Group,
            Self::Service(_) => FilterKind::Service,
        }
    }

    /// Parses the text after `!` of a scope (e.g. `server=alice/gpu`); `scope` is only used in
    /// error messages. Bare kinds are rejected (see [`RawFilter`] for those).
    fn parse_exact(scope: &str, text: &str) -> Result<Self, ScopeError> {
        match parse_filter_text(scope, text)? {
            RawFilter::Exact(f) => Ok(f),
            RawFilter::Bare(_) => Err(ScopeError::BareFilter {
                scope: scope.to_owned(),
            }),
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(name) => write!(f, "user={name}"),
            Self::Server { user, server } => write!(f, "server={user}/{server}"),
            Self::Group(name) => write!(f, "group={name}"),
            Self::Service(name) => write!(f, "service={name}"),
        }
    }
}

/// A filter as written in a role or token request: either resolved, or a bare `!user`,
/// `!service`, `!server` that expansion resolves against the owner / OAuth client.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RawFilter {
    /// A filter naming its resource.
    Exact(Filter),
    /// A bare filter kind (never [`FilterKind::Group`]: there is no owner group to resolve to).
    Bare(FilterKind),
}

impl fmt::Display for RawFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(filter) => filter.fmt(f),
            Self::Bare(kind) => kind.fmt(f),
        }
    }
}

/// One scope with a resolved filter, e.g. `read:users!user=alice` or
/// `access:servers!server=alice/gpu`: the unit of expanded scopes.
///
/// Parsing is syntactic: it does not check the base against the catalogue (use [`validate`]
/// for that), so stored expanded scopes parse even if they mention a since-removed custom scope.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope {
    /// The scope name, e.g. `read:users`.
    pub base: String,
    /// The resource restriction, or `None` for all resources.
    pub filter: Option<Filter>,
}

impl Scope {
    /// A scope on all resources.
    pub fn all(base: impl Into<String>) -> Self {
        Self {
            base: base.into(),
            filter: None,
        }
    }

    /// A scope restricted by `filter`.
    pub fn filtered(base: impl Into<String>, filter: Filter) -> Self {
        Self {
            base: base.into(),
            filter: Some(filter),
        }
    }
}

impl FromStr for Scope {
    type Err = ScopeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (base, filter) = split_scope(s)?;
        let filter = filter
            .map(|text| Filter::parse_exact(s, text))
            .transpose()?;
        Ok(Self {
            base: base.to_owned(),
            filter,
        })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)?;
        if let Some(filter) = &self.filter {
            write!(f, "!{filter}")?;
        }
        Ok(())
    }
}

/// A validated scope as it may appear in role definitions, token requests and shares: a known
/// base and an optional, possibly bare, filter.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RawScope {
    /// The scope name, known to the catalogue or the custom scopes.
    pub base: String,
    /// The filter as written.
    pub filter: Option<RawFilter>,
}

impl From<Scope> for RawScope {
    fn from(scope: Scope) -> Self {
        Self {
            base: scope.base,
            filter: scope.filter.map(RawFilter::Exact),
        }
    }
}

impl fmt::Display for RawScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)?;
        if let Some(filter) = &self.filter {
            write!(f, "!{filter}")?;
        }
        Ok(())
    }
}

/// Checks that `scope` names a known scope with a well-formed filter, like upstream's
/// `_check_scopes_exist`, so bad role or token definitions fail early with a clear message.
///
/// Bare `!user`, `!service` and `!server` are accepted (expansion resolves them). Stricter than
/// upstream: an empty filter (`read:users!`), an empty filter value, a server filter without
/// `/` or with an empty user, and a filter on `self` / `inherit` / `(no_scope)` are errors.
pub fn validate(scope: &str, custom: &CustomScopes) -> Result<RawScope, ScopeError> {
    let (base, filter) = match scope.split_once('!') {
        Some((base, filter)) => (base, Some(filter)),
        None => (scope, None),
    };
    if base == "all" {
        return Err(ScopeError::AllRenamed);
    }
    if !catalogue::is_known(base, custom) {
        return Err(ScopeError::NotFound {
            scope: scope.to_owned(),
        });
    }
    let filter = match filter {
        None => None,
        Some(_) if catalogue::is_metascope(base) => {
            return Err(ScopeError::FilterOnMetascope {
                scope: scope.to_owned(),
            });
        }
        Some(text) => Some(parse_filter_text(scope, text)?),
    };
    Ok(RawScope {
        base: base.to_owned(),
        filter,
    })
}

/// [`validate`] over a list, stopping at the first error; for role definitions and requests.
pub fn validate_all<S: AsRef<str>>(
    scopes: &[S],
    custom: &CustomScopes,
) -> Result<Vec<RawScope>, ScopeError> {
    scopes
        .iter()
        .map(|s| validate(s.as_ref(), custom))
        .collect()
}

/// Splits `base!filter`, rejecting an empty base or an empty filter.
fn split_scope(s: &str) -> Result<(&str, Option<&str>), ScopeError> {
    let (base, filter) = match s.split_once('!') {
        Some((base, filter)) => (base, Some(filter)),
        None => (s, None),
    };
    if base.is_empty() {
        return Err(ScopeError::NotFound {
            scope: s.to_owned(),
        });
    }
    if filter == Some("") {
        return Err(ScopeError::EmptyFilter {
            scope: s.to_owned(),
        });
    }
    Ok((base, filter))
}

/// Parses the text after `!`: `kind=value` or a bare kind.
fn parse_filter_text(scope: &str, text: &str) -> Result<RawFilter, ScopeError> {
    let unknown = || ScopeError::UnknownFilter {
        scope: scope.to_owned(),
        filter: text.to_owned(),
    };
    if text.is_empty() {
        return Err(ScopeError::EmptyFilter {
            scope: scope.to_owned(),
        });
    }
    let Some((keyword, value)) = text.split_once('=') else {
        return match FilterKind::from_keyword(text) {
            Some(kind @ (FilterKind::User | FilterKind::Service | FilterKind::Server)) => {
                Ok(RawFilter::Bare(kind))
            }
            Some(FilterKind::Group) | None => Err(unknown()),
        };
    };
    let kind = FilterKind::from_keyword(keyword).ok_or_else(unknown)?;
    if value.is_empty() {
        return Err(ScopeError::EmptyFilterValue {
            scope: scope.to_owned(),
        });
    }
    let filter = match kind {
        FilterKind::User => Filter::User(value.to_owned()),
        FilterKind::Group => Filter::Group(value.to_owned()),
        FilterKind::Service => Filter::Service(value.to_owned()),
        FilterKind::Server => match value.split_once('/') {
            Some((user, server)) if !user.is_empty() => Filter::Server {
                user: user.to_owned(),
                server: server.to_owned(),
            },
            _ => {
                return Err(ScopeError::MalformedServerFilter {
                    scope: scope.to_owned(),
                });
            }
        },
    };
    Ok(RawFilter::Exact(filter))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Scope, ScopeError> {
        s.parse()
    }

    fn none() -> &'static CustomScopes {
        CustomScopes::none()
    }

    #[test]
    fn parses_unfiltered_and_filtered_scopes() {
        assert_eq!(parse("read:hub"), Ok(Scope::all("read:hub")));
        assert_eq!(
            parse("read:users!user=alice"),
            Ok(Scope::filtered(
                "read:users",
                Filter::User("alice".to_owned())
            ))
        );
        assert_eq!(
            parse("access:servers!server=alice/gpu"),
            Ok(Scope::filtered(
                "access:servers",
                Filter::Server {
                    user: "alice".to_owned(),
                    server: "gpu".to_owned()
                }
            ))
        );
        assert_eq!(
            parse("access:servers!server=alice/"),
            Ok(Scope::filtered(
                "access:servers",
                Filter::Server {
                    user: "alice".to_owned(),
                    server: String::new()
                }
            ))
        );
        assert_eq!(
            parse("read:groups!group=g"),
            Ok(Scope::filtered(
                "read:groups",
                Filter::Group("g".to_owned())
            ))
        );
        assert_eq!(
            parse("access:services!service=s"),
            Ok(Scope::filtered(
                "access:services",
                Filter::Service("s".to_owned())
            ))
        );
    }

    #[test]
    fn display_matches_upstream_spelling() {
        assert_eq!(Filter::User("alice".to_owned()).to_string(), "user=alice");
        assert_eq!(
            Filter::Server {
                user: "alice".to_owned(),
                server: String::new()
            }
            .to_string(),
            "server=alice/"
        );
        assert_eq!(
            Filter::Server {
                user: "alice".to_owned(),
                server: "gpu".to_owned()
            }
            .to_string(),
            "server=alice/gpu"
        );
        assert_eq!(Filter::Group("g".to_owned()).to_string(), "group=g");
        assert_eq!(Filter::Service("s".to_owned()).to_string(), "service=s");
        assert_eq!(RawFilter::Bare(FilterKind::Server).to_string(), "server");
    }

    #[test]
    fn round_trips() {
        for s in [
            "read:hub",
            "read:users!user=alice",
            "servers!server=alice/",
            "servers!server=alice/gpu",
            "servers!server=alice/a/b",
            "read:groups!group=g",
            "access:services!service=s",
            "read:users!user=ålice-ü",
            "read:users!user=a=b",
            "read:users!user=a!b",
            "custom:whatever!group=x",
        ] {
            assert_eq!(parse(s).map(|p| p.to_string()).as_deref(), Ok(s), "{s}");
        }
    }

    #[test]
    fn server_names_may_contain_slashes_user_names_may_not() {
        assert_eq!(
            parse("servers!server=alice/a/b").map(|s| s.filter),
            Ok(Some(Filter::Server {
                user: "alice".to_owned(),
                server: "a/b".to_owned()
            }))
        );
    }

    #[test]
    fn unicode_names_are_accepted() {
        assert_eq!(
            parse("read:users!user=żółw").map(|s| s.filter),
            Ok(Some(Filter::User("żółw".to_owned())))
        );
        assert_eq!(
            parse("servers!server=日本/サーバー").map(|s| s.filter),
            Ok(Some(Filter::Server {
                user: "日本".to_owned(),
                server: "サーバー".to_owned()
            }))
        );
    }

    #[test]
    fn malformed_scopes_are_rejected() {
        assert!(matches!(parse(""), Err(ScopeError::NotFound { .. })));
        assert!(matches!(parse("!user=a"), Err(ScopeError::NotFound { .. })));
        assert!(matches!(
            parse("read:users!"),
            Err(ScopeError::EmptyFilter { .. })
        ));
        assert!(matches!(
            parse("read:users!user="),
            Err(ScopeError::EmptyFilterValue { .. })
        ));
        assert!(matches!(
            parse("read:users!group="),
            Err(ScopeError::EmptyFilterValue { .. })
        ));
        assert!(matches!(
            parse("read:users!service="),
            Err(ScopeError::EmptyFilterValue { .. })
        ));
        assert!(matches!(
            parse("servers!server="),
            Err(ScopeError::EmptyFilterValue { .. })
        ));
        assert!(matches!(
            parse("servers!server=alice"),
            Err(ScopeError::MalformedServerFilter { .. })
        ));
        assert!(matches!(
            parse("servers!server=/gpu"),
            Err(ScopeError::MalformedServerFilter { .. })
        ));
        assert!(matches!(
            parse("read:users!users=a"),
            Err(ScopeError::UnknownFilter { .. })
        ));
        assert!(matches!(
            parse("read:users!=a"),
            Err(ScopeError::UnknownFilter { .. })
        ));
        assert!(matches!(
            parse("read:users!group"),
            Err(ScopeError::UnknownFilter { .. })
        ));
        assert!(matches!(
            parse("read:users!user"),
            Err(ScopeError::BareFilter { .. })
        ));
        assert!(matches!(
            parse("read:users!USER=a"),
            Err(ScopeError::UnknownFilter { .. })
        ));
    }

    #[test]
    fn validate_accepts_known_scopes_and_bare_filters() {
        assert_eq!(
            validate("users:activity!user", none()),
            Ok(RawScope {
                base: "users:activity".to_owned(),
                filter: Some(RawFilter::Bare(FilterKind::User))
            })
        );
        assert_eq!(
            validate("access:servers!server", none())
                .map(|r| r.to_string())
                .as_deref(),
            Ok("access:servers!server")
        );
        assert!(validate("access:services!service", none()).is_ok());
        assert!(validate("self", none()).is_ok());
        assert!(validate("inherit", none()).is_ok());
        assert!(validate("(no_scope)", none()).is_ok());
        assert_eq!(
            validate("read:users!user=alice", none())
                .map(|r| r.to_string())
                .as_deref(),
            Ok("read:users!user=alice")
        );
    }

    #[test]
    fn validate_rejects_unknown_scopes_with_upstreams_message() {
        let err = validate("read:userz", none()).unwrap_err();
        assert_eq!(err.to_string(), "Scope 'read:userz' does not exist");
        let err = validate("read:userz!user=a", none()).unwrap_err();
        assert_eq!(err.to_string(), "Scope 'read:userz!user=a' does not exist");
        let err = validate("all", none()).unwrap_err();
        assert_eq!(err, ScopeError::AllRenamed);
        assert_eq!(err.to_string(), "Draft scope 'all' is now called 'inherit'");
        assert_eq!(validate("all!user=a", none()), Err(ScopeError::AllRenamed));
        assert!(matches!(
            validate("", none()),
            Err(ScopeError::NotFound { .. })
        ));
        assert!(matches!(
            validate(" users", none()),
            Err(ScopeError::NotFound { .. })
        ));
        assert!(matches!(
            validate("custom:abc", none()),
            Err(ScopeError::NotFound { .. })
        ));
    }

    #[test]
    fn validate_rejects_bad_filters() {
        let err = validate("read:users!group", none()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Scope filter '!group' in scope 'read:users!group' does not exist"
        );
        assert!(matches!(
            validate("read:users!foo=bar", none()),
            Err(ScopeError::UnknownFilter { .. })
        ));
        assert!(matches!(
            validate("read:users!", none()),
            Err(ScopeError::EmptyFilter { .. })
        ));
        assert!(matches!(
            validate("read:users!user=", none()),
            Err(ScopeError::EmptyFilterValue { .. })
        ));
        assert!(matches!(
            validate("servers!server=bob", none()),
            Err(ScopeError::MalformedServerFilter { .. })
        ));
        for meta in ["self!user", "inherit!user=a", "(no_scope)!service=s"] {
            assert!(
                matches!(
                    validate(meta, none()),
                    Err(ScopeError::FilterOnMetascope { .. })
                ),
                "{meta}"
            );
        }
    }

    #[test]
    fn validate_knows_custom_scopes() {
        let custom = CustomScopes::new([(
            "custom:srv:read".to_owned(),
            crate::CustomScopeDef {
                description: "d".to_owned(),
                subscopes: vec![],
            },
        )])
        .unwrap();
        assert!(validate("custom:srv:read", &custom).is_ok());
        assert!(validate("custom:srv:read!user", &custom).is_ok());
        assert!(validate("custom:srv:write", &custom).is_err());
    }

    #[test]
    fn validate_all_stops_at_first_error() {
        assert_eq!(
            validate_all(&["users", "read:hub"], none()).map(|v| v.len()),
            Ok(2)
        );
        let err = validate_all(&["users", "nope", "all"], none()).unwrap_err();
        assert_eq!(err.to_string(), "Scope 'nope' does not exist");
        assert_eq!(validate_all::<&str>(&[], none()), Ok(vec![]));
    }

    #[test]
    fn raw_scope_from_scope() {
        let raw: RawScope = Scope::filtered("users", Filter::Group("g".to_owned())).into();
        assert_eq!(raw.to_string(), "users!group=g");
    }

    #[test]
    fn filter_kinds() {
        assert_eq!(Filter::User(String::new()).kind(), FilterKind::User);
        assert_eq!(Filter::Group(String::new()).kind(), FilterKind::Group);
        assert_eq!(Filter::Service(String::new()).kind(), FilterKind::Service);
        assert_eq!(
            Filter::Server {
                user: String::new(),
                server: String::new()
            }
            .kind(),
            FilterKind::Server
        );
        assert_eq!(FilterKind::Service.to_string(), "service");
    }
}
