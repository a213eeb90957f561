//! OAuth authorization helpers: which requested raw scopes a client may receive, and how to
//! describe them on the consent page.

use std::collections::BTreeSet;

use crate::catalogue;
use crate::custom::CustomScopes;
use crate::error::ScopeError;
use crate::expand::{ExpandContext, expand, without_inherit};
use crate::parsed::{Membership, ParsedScopes};
use crate::scope::{Filter, FilterKind, RawFilter, validate};

/// The outcome of [`resolve_requested_scopes`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolvedScopes {
    /// Raw scopes to issue: requested scopes that are held, plus, for requests only partly held,
    /// the expanded scopes of the held part.
    pub allowed: BTreeSet<String>,
    /// Requested scopes not (fully) held.
    pub disallowed: BTreeSet<String>,
}

fn expand_set(
    scopes: &BTreeSet<String>,
    cx: &ExpandContext<'_>,
) -> Result<ParsedScopes, ScopeError> {
    let list: Vec<&String> = scopes.iter().collect();
    expand(&without_inherit(&list), cx)
}

/// Upstream's `_resolve_requested_scopes`: intersects raw `requested` scopes with raw `have`
/// scopes, first literally, then — for the rest — on expanded form, so that e.g. a requested
/// `read:users!user=alice` is granted by a held `read:users`.
///
/// `inherit` is granted only if `have` contains it literally (the hub adds it when a user
/// authorizes a client for themself). A requested scope held only in part stays disallowed, and
/// the held part is added to `allowed` as expanded scope strings. Unknown scopes are errors.
pub fn resolve_requested_scopes(
    requested: &BTreeSet<String>,
    have: &BTreeSet<String>,
    cx: &ExpandContext<'_>,
    membership: &dyn Membership,
) -> Result<ResolvedScopes, ScopeError> {
    let mut allowed: BTreeSet<String> = requested.intersection(have).cloned().collect();
    let mut disallowed: BTreeSet<String> = requested.difference(have).cloned().collect();
    if disallowed.is_empty() {
        return Ok(ResolvedScopes {
            allowed,
            disallowed,
        });
    }
    let mut expanded_allowed = expand_set(&allowed, cx)?;
    let expanded_have = expand_set(have, cx)?;
    let pending: Vec<String> = disallowed.iter().cloned().collect();
    for scope in pending {
        if scope == "inherit" {
            continue;
        }
        let wanted = expand(&[scope.as_str()], cx)?.difference(&expanded_allowed);
        let held = if wanted.is_empty() {
            ParsedScopes::new()
        } else {
            wanted.intersect(&expanded_have, membership)
        };
        if held == wanted {
            disallowed.remove(&scope);
            allowed.insert(scope);
        } else if !held.is_empty() {
            allowed.extend(held.to_strings());
        } else {
            continue;
        }
        expanded_allowed = expand_set(&allowed, cx)?;
    }
    Ok(ResolvedScopes {
        allowed,
        disallowed,
    })
}

/// One line of the OAuth consent page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeDescription {
    /// The base scope.
    pub scope: String,
    /// What it allows.
    pub description: String,
    /// On what, in words: `""` (everything), `"only you"`, `"users in group x"`, `"server a/b"`…
    pub filter: String,
}

/// Upstream's `describe_raw_scopes`: one [`ScopeDescription`] per raw scope, in input order,
/// phrasing filters for `username` (the authorizing user).
pub fn describe_raw_scopes<S: AsRef<str>>(
    raw_scopes: &[S],
    username: Option<&str>,
    custom: &CustomScopes,
) -> Result<Vec<ScopeDescription>, ScopeError> {
    raw_scopes
        .iter()
        .map(|s| {
            let raw = validate(s.as_ref(), custom)?;
            let description = catalogue::description(&raw.base)
                .or_else(|| custom.description(&raw.base))
                .unwrap_or_default()
                .to_owned();
            let filter = match &raw.filter {
                None => String::new(),
                Some(RawFilter::Bare(FilterKind::User)) => "only you".to_owned(),
                Some(RawFilter::Bare(kind)) => kind.as_str().to_owned(),
                Some(RawFilter::Exact(Filter::User(name))) if Some(name.as_str()) == username => {
                    "only you".to_owned()
                }
                Some(RawFilter::Exact(Filter::User(name))) => format!("user {name}"),
                Some(RawFilter::Exact(Filter::Group(name))) => format!("users in group {name}"),
                Some(RawFilter::Exact(Filter::Service(name))) => format!("service {name}"),
                Some(RawFilter::Exact(Filter::Server { user, server })) => {
                    format!("server {user}/{server}")
                }
            };
            Ok(ScopeDescription {
                scope: raw.base,
                description,
                filter,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custom::CustomScopeDef;
    use crate::expand::Owner;
    use crate::parsed::NoGroups;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn alice() -> ExpandContext<'static> {
        ExpandContext::new(Owner::User { name: "alice" }, CustomScopes::none())
            .with_client_service("nb")
    }

    fn resolve(requested: &[&str], have: &[&str]) -> ResolvedScopes {
        resolve_requested_scopes(&set(requested), &set(have), &alice(), &NoGroups).unwrap()
    }

    #[test]
    fn literal_subset_is_allowed() {
        let r = resolve(&["read:hub", "inherit"], &["read:hub", "inherit", "self"]);
        assert_eq!(r.allowed, set(&["inherit", "read:hub"]));
        assert!(r.disallowed.is_empty());
    }

    #[test]
    fn expanded_subset_is_allowed_in_raw_form() {
        let r = resolve(
            &[
                "read:users!user=alice",
                "read:users:name!user",
                "access:services!service",
            ],
            &["self", "access:services!service", "inherit"],
        );
        assert_eq!(
            r.allowed,
            set(&[
                "access:services!service",
                "read:users!user=alice",
                "read:users:name!user"
            ])
        );
        assert!(r.disallowed.is_empty());
    }

    #[test]
    fn partly_held_scope_stays_disallowed_and_adds_the_held_part() {
        let r = resolve(&["tokens"], &["self"]);
        assert_eq!(r.disallowed, set(&["tokens"]));
        assert_eq!(
            r.allowed,
            set(&["read:tokens!user=alice", "tokens!user=alice"])
        );
    }

    #[test]
    fn unheld_scope_is_disallowed() {
        let r = resolve(&["proxy", "read:hub"], &["self", "read:hub"]);
        assert_eq!(r.allowed, set(&["read:hub"]));
        assert_eq!(r.disallowed, set(&["proxy"]));
        // a broad scope overlapping `self` yields its overlap, as upstream
        let r = resolve(&["admin:users"], &["self"]);
        assert_eq!(r.disallowed, set(&["admin:users"]));
        assert_eq!(
            r.allowed,
            set(&[
                "read:users!user=alice",
                "read:users:activity!user=alice",
                "read:users:groups!user=alice",
                "read:users:name!user=alice",
                "users:activity!user=alice",
            ])
        );
    }

    #[test]
    fn inherit_needs_to_be_held_literally() {
        let r = resolve(&["inherit"], &["self"]);
        assert_eq!(r.disallowed, set(&["inherit"]));
        assert!(r.allowed.is_empty());
    }

    #[test]
    fn scope_already_implied_by_allowed_ones_is_allowed() {
        let r = resolve(&["read:users", "read:users:name"], &["read:users"]);
        assert_eq!(r.allowed, set(&["read:users", "read:users:name"]));
        assert!(r.disallowed.is_empty());
    }

    #[test]
    fn unknown_scopes_are_errors() {
        let err = resolve_requested_scopes(&set(&["nope"]), &set(&["self"]), &alice(), &NoGroups);
        assert!(matches!(err, Err(ScopeError::NotFound { .. })));
    }

    #[test]
    fn group_membership_counts() {
        let member = |u: &str| {
            if u == "alice" {
                vec!["g".to_owned()]
            } else {
                vec![]
            }
        };
        let r = resolve_requested_scopes(
            &set(&["read:users!user=alice"]),
            &set(&["read:users!group=g"]),
            &alice(),
            &member,
        )
        .unwrap();
        assert_eq!(r.allowed, set(&["read:users!user=alice"]));
        assert!(r.disallowed.is_empty());
    }

    #[test]
    fn descriptions() {
        let custom = CustomScopes::new([(
            "custom:nb:read".to_owned(),
            CustomScopeDef {
                description: "Read notebooks.".to_owned(),
                subscopes: vec![],
            },
        )])
        .unwrap();
        let got = describe_raw_scopes(
            &[
                "read:users!user",
                "read:users!user=alice",
                "read:users!user=bob",
                "servers!group=g",
                "access:servers!server=alice/x",
                "access:services!service=s",
                "access:services!service",
                "read:hub",
                "custom:nb:read",
            ],
            Some("alice"),
            &custom,
        )
        .unwrap();
        let filters: Vec<&str> = got.iter().map(|d| d.filter.as_str()).collect();
        assert_eq!(
            filters,
            [
                "only you",
                "only you",
                "user bob",
                "users in group g",
                "server alice/x",
                "service s",
                "service",
                "",
                "",
            ]
        );
        assert_eq!(got[0].scope, "read:users");
        assert_eq!(
            got[0].description,
            "Read user models (including the URL of the default server if it is running)."
        );
        assert_eq!(got[8].description, "Read notebooks.");
        assert!(describe_raw_scopes(&["nope"], None, &custom).is_err());
    }
}
