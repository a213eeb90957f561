//! Scopes, as far as this hub slice needs them: the default roles expanded
//! for a user, `!user` filters resolved, and a token's scopes intersected with
//! its owner's. (The full RBAC table comes with the complete REST API.)

use std::collections::BTreeSet;

/// Scopes of upstream's `admin` role, unfiltered.
const ADMIN_SCOPES: &[&str] = &[
    "admin-ui",
    "admin:users",
    "admin:auth_state",
    "users",
    "delete:users",
    "list:users",
    "read:users",
    "read:users:name",
    "read:users:groups",
    "read:users:activity",
    "users:activity",
    "admin:servers",
    "admin:server_state",
    "servers",
    "read:servers",
    "delete:servers",
    "access:servers",
    "tokens",
    "read:tokens",
    "admin:groups",
    "read:groups",
    "list:services",
    "read:services",
    "access:services",
    "read:hub",
    "proxy",
    "shutdown",
    "read:roles",
    "read:metrics",
    "shares",
    "read:shares",
];

/// What `self` expands to for a user (upstream's `user` role), before filtering.
const SELF_SCOPES: &[&str] = &[
    "read:users",
    "read:users:name",
    "read:users:groups",
    "read:users:activity",
    "users:activity",
    "servers",
    "read:servers",
    "delete:servers",
    "access:servers",
    "tokens",
    "read:tokens",
    "users:shares",
    "read:users:shares",
];

/// A resolved scope set (strings like `servers!user=alice`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(BTreeSet<String>);

impl Scopes {
    /// The scopes of a user through their roles (`user`, plus `admin` for admins).
    #[must_use]
    pub fn for_user(name: &str, admin: bool) -> Self {
        let mut set: BTreeSet<String> = SELF_SCOPES
            .iter()
            .map(|s| format!("{s}!user={name}"))
            .collect();
        if admin {
            set.extend(ADMIN_SCOPES.iter().map(|s| (*s).to_owned()));
        }
        Self(set)
    }

    /// A token's own scopes with `!user`/`!server` resolved for its owner; `inherit` = everything.
    #[must_use]
    pub fn resolve_token(token_scopes: &[String], owner: &str, owner_scopes: &Self) -> Self {
        if token_scopes.iter().any(|s| s == "inherit") {
            return owner_scopes.clone();
        }
        let resolved = token_scopes.iter().flat_map(|scope| {
            if scope == "self" {
                return SELF_SCOPES
                    .iter()
                    .map(|s| format!("{s}!user={owner}"))
                    .collect::<Vec<_>>();
            }
            let s = if let Some(base) = scope.strip_suffix("!user") {
                format!("{base}!user={owner}")
            } else if let Some(base) = scope.strip_suffix("!server") {
                format!("{base}!server={owner}/")
            } else {
                scope.clone()
            };
            vec![s]
        });
        Self(resolved.filter(|s| owner_scopes.covers(s)).collect())
    }

    /// Whether this set grants `scope` (possibly filtered) — exact, unfiltered base,
    /// or a user filter covering a server filter of that user.
    #[must_use]
    pub fn covers(&self, scope: &str) -> bool {
        if self.0.contains(scope) {
            return true;
        }
        let (base, filter) = scope.split_once('!').unwrap_or((scope, ""));
        if self.0.contains(base) {
            return true;
        }
        if let Some(server) = filter.strip_prefix("server=") {
            let user = server.split('/').next().unwrap_or_default();
            return self.0.contains(&format!("{base}!user={user}"));
        }
        false
    }

    /// Whether `scope` is granted for user `name`.
    #[must_use]
    pub fn allows_user(&self, scope: &str, name: &str) -> bool {
        self.covers(&format!("{scope}!user={name}"))
    }

    /// The scopes as a sorted list (the API's `scopes` field).
    #[must_use]
    pub fn to_vec(&self) -> Vec<String> {
        self.0.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_token_scopes_resolve_for_owner() {
        let owner = Scopes::for_user("alice", false);
        let token = [
            "users:activity!user".to_owned(),
            "access:servers!server=alice/".to_owned(),
        ];
        let scopes = Scopes::resolve_token(&token, "alice", &owner);
        assert_eq!(
            scopes.to_vec(),
            ["access:servers!server=alice/", "users:activity!user=alice"]
        );
        assert!(scopes.allows_user("users:activity", "alice"));
        assert!(!scopes.allows_user("servers", "alice"));
    }

    #[test]
    fn users_cannot_reach_others_and_tokens_cannot_exceed_owner() {
        let bob = Scopes::for_user("bob", false);
        assert!(!bob.allows_user("servers", "alice"));
        assert!(bob.allows_user("servers", "bob"));
        let stolen = Scopes::resolve_token(&["admin:users".to_owned()], "bob", &bob);
        assert!(stolen.to_vec().is_empty());
        let admin = Scopes::for_user("root", true);
        assert!(admin.allows_user("servers", "alice"));
        assert!(admin.covers("access:servers!server=alice/"));
    }
}
