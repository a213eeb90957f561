//! The built-in scope catalogue of JupyterHub 6.1.1: every scope, what it implies, what it means.
//!
//! Kept as one table sorted by name so lookups are a binary search with no allocation; the
//! hub consults it on every request.

use crate::custom::CustomScopes;

/// One built-in scope.
struct Entry {
    name: &'static str,
    description: &'static str,
    subscopes: &'static [&'static str],
}

const fn e(
    name: &'static str,
    description: &'static str,
    subscopes: &'static [&'static str],
) -> Entry {
    Entry {
        name,
        description,
        subscopes,
    }
}

/// Upstream's `scope_definitions`, sorted by name (byte order) for binary search.
static CATALOGUE: [Entry; 48] = [
    e(
        "(no_scope)",
        "Identify the owner of the requesting entity.",
        &[],
    ),
    e(
        "access:servers",
        "Access user servers via API or browser.",
        &[],
    ),
    e(
        "access:services",
        "Access services via API or browser.",
        &[],
    ),
    e("admin-ui", "Access the admin page.", &[]),
    e(
        "admin:auth_state",
        "Read a user’s authentication state.",
        &[],
    ),
    e(
        "admin:groups",
        "Read and write group information, create and delete groups.",
        &["groups", "read:roles:groups", "delete:groups"],
    ),
    e(
        "admin:server_state",
        "Read and write users’ server state.",
        &[],
    ),
    e(
        "admin:servers",
        "Read, start, stop, create and delete user servers and their state.",
        &["admin:server_state", "servers"],
    ),
    e(
        "admin:services",
        "Create, read, update, delete services, not including services defined from config files.",
        &["list:services", "read:services", "read:roles:services"],
    ),
    e(
        "admin:users",
        "Read, modify, create, and delete users and their authentication state, not including \
         their servers or tokens. This is an extremely privileged scope and should be considered \
         tantamount to superuser.",
        &[
            "admin:auth_state",
            "users",
            "read:roles:users",
            "delete:users",
        ],
    ),
    e("delete:groups", "Delete groups.", &[]),
    e("delete:servers", "Stop and delete users' servers.", &[]),
    e("delete:users", "Delete users.", &[]),
    e(
        "groups",
        "Read and write group information, including adding/removing any users to/from groups. \
         Note: adding users to groups may affect permissions.",
        &["read:groups", "list:groups"],
    ),
    e(
        "groups:shares",
        "Read and revoke a group's access to shared servers.",
        &["read:groups:shares"],
    ),
    e("inherit", "Anything you have access to", &[]),
    e(
        "list:groups",
        "List groups, including at least their names.",
        &["read:groups:name"],
    ),
    e(
        "list:services",
        "List services, including at least their names.",
        &["read:services:name"],
    ),
    e(
        "list:users",
        "List users, including at least their names.",
        &["read:users:name"],
    ),
    e(
        "proxy",
        "Read information about the proxy’s routing table, sync the Hub with the proxy and \
         notify the Hub about a new proxy.",
        &[],
    ),
    e("read:groups", "Read group models.", &["read:groups:name"]),
    e("read:groups:name", "Read group names.", &[]),
    e(
        "read:groups:shares",
        "Read servers shared with a group.",
        &[],
    ),
    e("read:hub", "Read detailed information about the Hub.", &[]),
    e("read:metrics", "Read prometheus metrics.", &[]),
    e(
        "read:roles",
        "Read role assignments.",
        &[
            "read:roles:users",
            "read:roles:services",
            "read:roles:groups",
        ],
    ),
    e("read:roles:groups", "Read group role assignments.", &[]),
    e("read:roles:services", "Read service role assignments.", &[]),
    e("read:roles:users", "Read user role assignments.", &[]),
    e(
        "read:servers",
        "Read users’ names and their server models (excluding the server state).",
        &["read:users:name"],
    ),
    e(
        "read:services",
        "Read service models.",
        &["read:services:name"],
    ),
    e("read:services:name", "Read service names.", &[]),
    e(
        "read:shares",
        "Read information about shared access to servers.",
        &[],
    ),
    e("read:tokens", "Read user tokens.", &[]),
    e(
        "read:users",
        "Read user models (including the URL of the default server if it is running).",
        &[
            "read:users:name",
            "read:users:groups",
            "read:users:activity",
        ],
    ),
    e(
        "read:users:activity",
        "Read time of last user activity.",
        &[],
    ),
    e("read:users:groups", "Read users’ group membership.", &[]),
    e("read:users:name", "Read names of users.", &[]),
    e("read:users:shares", "Read servers shared with a user.", &[]),
    e("self", "Your own resources", &[]),
    e(
        "servers",
        "Start and stop user servers.",
        &["read:servers", "start:servers", "delete:servers"],
    ),
    e(
        "shares",
        "Manage access to shared servers.",
        &[
            "access:servers",
            "read:shares",
            "users:shares",
            "groups:shares",
        ],
    ),
    e("shutdown", "Shutdown the hub.", &[]),
    e(
        "start:servers",
        "Start and edit users' servers. (added in JupyterHub 6)",
        &[],
    ),
    e(
        "tokens",
        "Read, write, create and delete user tokens.",
        &["read:tokens"],
    ),
    e(
        "users",
        "Read and write permissions to user models (excluding servers, tokens and authentication state).",
        &["read:users", "list:users", "users:activity"],
    ),
    e(
        "users:activity",
        "Update time of last user activity.",
        &["read:users:activity"],
    ),
    e(
        "users:shares",
        "Read and revoke a user's access to shared servers.",
        &["read:users:shares"],
    ),
];

/// The scopes `self` stands for, for a user owner (each then expanded and filtered to the user).
pub(crate) const SELF_SCOPES: [&str; 7] = [
    "read:users",
    "users:shares",
    "read:shares",
    "users:activity",
    "servers",
    "tokens",
    "access:servers",
];

fn entry(base: &str) -> Option<&'static Entry> {
    CATALOGUE
        .binary_search_by(|probe| probe.name.cmp(base))
        .ok()
        .and_then(|i| CATALOGUE.get(i))
}

/// Whether `base` (a scope name without filter) is a built-in or a defined custom scope;
/// used to reject typos in roles, token requests and shares.
pub fn is_known(base: &str, custom: &CustomScopes) -> bool {
    entry(base).is_some() || custom.get(base).is_some()
}

/// Whether `base` is one of the built-in scopes (custom scopes excluded).
pub fn is_builtin(base: &str) -> bool {
    entry(base).is_some()
}

/// Upstream's human description of a built-in scope, shown on the OAuth consent page and in
/// docs; `None` for unknown and custom scopes (see [`CustomScopes::description`]).
pub fn description(base: &str) -> Option<&'static str> {
    entry(base).map(|e| e.description)
}

/// The scopes a built-in scope directly implies (not recursive); `None` if it is not built in.
/// Lets the hub render the scope tree without duplicating it.
pub fn subscopes(base: &str) -> Option<&'static [&'static str]> {
    entry(base).map(|e| e.subscopes)
}

/// Every built-in scope name, in byte order, for listings and exhaustive tests.
pub fn all_scope_names() -> impl Iterator<Item = &'static str> {
    CATALOGUE.iter().map(|e| e.name)
}

/// Whether `base` stands for a set of permissions rather than permissions on a resource,
/// and so may not carry a filter.
pub(crate) fn is_metascope(base: &str) -> bool {
    matches!(base, "self" | "inherit" | "(no_scope)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_strictly_sorted_so_binary_search_works() {
        for pair in CATALOGUE.windows(2) {
            if let [a, b] = pair {
                assert!(a.name < b.name, "{} must sort before {}", a.name, b.name);
            }
        }
    }

    #[test]
    fn every_subscope_is_itself_in_the_catalogue() {
        for e in &CATALOGUE {
            for sub in e.subscopes {
                assert!(is_builtin(sub), "{} -> {sub} missing", e.name);
            }
        }
    }

    #[test]
    fn catalogue_has_upstreams_48_scopes() {
        assert_eq!(all_scope_names().count(), 48);
    }

    #[test]
    fn every_scope_has_a_description() {
        for e in &CATALOGUE {
            assert!(!e.description.is_empty(), "{}", e.name);
        }
    }

    #[test]
    fn lookups() {
        let none = CustomScopes::empty();
        assert!(is_known("read:users:name", &none));
        assert!(is_known("(no_scope)", &none));
        assert!(is_known("users:shares", &none));
        assert!(!is_known("all", &none));
        assert!(!is_known("read:user", &none));
        assert!(!is_known("", &none));
        assert!(!is_known("read:users!user=a", &none));
        assert_eq!(description("shutdown"), Some("Shutdown the hub."));
        assert_eq!(description("nope"), None);
        assert_eq!(
            subscopes("admin:users"),
            Some(
                &[
                    "admin:auth_state",
                    "users",
                    "read:roles:users",
                    "delete:users"
                ][..]
            )
        );
        assert_eq!(subscopes("read:users:name"), Some(&[][..]));
        assert_eq!(subscopes("nope"), None);
    }

    #[test]
    fn implications_match_upstream_6_1_1() {
        let cases: &[(&str, &[&str])] = &[
            ("users", &["read:users", "list:users", "users:activity"]),
            ("list:users", &["read:users:name"]),
            ("read:servers", &["read:users:name"]),
            (
                "servers",
                &["read:servers", "start:servers", "delete:servers"],
            ),
            ("admin:servers", &["admin:server_state", "servers"]),
            ("tokens", &["read:tokens"]),
            (
                "admin:groups",
                &["groups", "read:roles:groups", "delete:groups"],
            ),
            ("groups", &["read:groups", "list:groups"]),
            (
                "admin:services",
                &["list:services", "read:services", "read:roles:services"],
            ),
            (
                "shares",
                &[
                    "access:servers",
                    "read:shares",
                    "users:shares",
                    "groups:shares",
                ],
            ),
            ("users:shares", &["read:users:shares"]),
            ("groups:shares", &["read:groups:shares"]),
            ("users:activity", &["read:users:activity"]),
        ];
        for (base, subs) in cases {
            assert_eq!(subscopes(base), Some(*subs), "{base}");
        }
    }

    #[test]
    fn metascopes() {
        assert!(is_metascope("self"));
        assert!(is_metascope("inherit"));
        assert!(is_metascope("(no_scope)"));
        assert!(!is_metascope("users"));
    }
}
