//! Every built-in scope of JupyterHub 6.1.1 as a typed constant.
//!
//! The hub's permission checks name scopes through these, never through
//! string literals, so a misspelt scope is a compile error instead of a check
//! that can never pass (or a hole); `ALL` is checked against the catalogue.

use std::fmt;

/// The name of a built-in scope (without a filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScopeName(&'static str);

impl ScopeName {
    /// The scope as upstream spells it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for ScopeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl AsRef<str> for ScopeName {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// `(no_scope)`.
pub const NO_SCOPE: ScopeName = ScopeName("(no_scope)");
/// `access:servers`.
pub const ACCESS_SERVERS: ScopeName = ScopeName("access:servers");
/// `access:services`.
pub const ACCESS_SERVICES: ScopeName = ScopeName("access:services");
/// `admin-ui`.
pub const ADMIN_UI: ScopeName = ScopeName("admin-ui");
/// `admin:auth_state`.
pub const ADMIN_AUTH_STATE: ScopeName = ScopeName("admin:auth_state");
/// `admin:groups`.
pub const ADMIN_GROUPS: ScopeName = ScopeName("admin:groups");
/// `admin:server_state`.
pub const ADMIN_SERVER_STATE: ScopeName = ScopeName("admin:server_state");
/// `admin:servers`.
pub const ADMIN_SERVERS: ScopeName = ScopeName("admin:servers");
/// `admin:services`.
pub const ADMIN_SERVICES: ScopeName = ScopeName("admin:services");
/// `admin:users`.
pub const ADMIN_USERS: ScopeName = ScopeName("admin:users");
/// `delete:groups`.
pub const DELETE_GROUPS: ScopeName = ScopeName("delete:groups");
/// `delete:servers`.
pub const DELETE_SERVERS: ScopeName = ScopeName("delete:servers");
/// `delete:users`.
pub const DELETE_USERS: ScopeName = ScopeName("delete:users");
/// `groups`.
pub const GROUPS: ScopeName = ScopeName("groups");
/// `groups:shares`.
pub const GROUPS_SHARES: ScopeName = ScopeName("groups:shares");
/// `inherit`.
pub const INHERIT: ScopeName = ScopeName("inherit");
/// `list:groups`.
pub const LIST_GROUPS: ScopeName = ScopeName("list:groups");
/// `list:services`.
pub const LIST_SERVICES: ScopeName = ScopeName("list:services");
/// `list:users`.
pub const LIST_USERS: ScopeName = ScopeName("list:users");
/// `proxy`.
pub const PROXY: ScopeName = ScopeName("proxy");
/// `read:groups`.
pub const READ_GROUPS: ScopeName = ScopeName("read:groups");
/// `read:groups:name`.
pub const READ_GROUPS_NAME: ScopeName = ScopeName("read:groups:name");
/// `read:groups:shares`.
pub const READ_GROUPS_SHARES: ScopeName = ScopeName("read:groups:shares");
/// `read:hub`.
pub const READ_HUB: ScopeName = ScopeName("read:hub");
/// `read:metrics`.
pub const READ_METRICS: ScopeName = ScopeName("read:metrics");
/// `read:roles`.
pub const READ_ROLES: ScopeName = ScopeName("read:roles");
/// `read:roles:groups`.
pub const READ_ROLES_GROUPS: ScopeName = ScopeName("read:roles:groups");
/// `read:roles:services`.
pub const READ_ROLES_SERVICES: ScopeName = ScopeName("read:roles:services");
/// `read:roles:users`.
pub const READ_ROLES_USERS: ScopeName = ScopeName("read:roles:users");
/// `read:servers`.
pub const READ_SERVERS: ScopeName = ScopeName("read:servers");
/// `read:services`.
pub const READ_SERVICES: ScopeName = ScopeName("read:services");
/// `read:services:name`.
pub const READ_SERVICES_NAME: ScopeName = ScopeName("read:services:name");
/// `read:shares`.
pub const READ_SHARES: ScopeName = ScopeName("read:shares");
/// `read:tokens`.
pub const READ_TOKENS: ScopeName = ScopeName("read:tokens");
/// `read:users`.
pub const READ_USERS: ScopeName = ScopeName("read:users");
/// `read:users:activity`.
pub const READ_USERS_ACTIVITY: ScopeName = ScopeName("read:users:activity");
/// `read:users:groups`.
pub const READ_USERS_GROUPS: ScopeName = ScopeName("read:users:groups");
/// `read:users:name`.
pub const READ_USERS_NAME: ScopeName = ScopeName("read:users:name");
/// `read:users:shares`.
pub const READ_USERS_SHARES: ScopeName = ScopeName("read:users:shares");
/// `self`.
pub const SELF: ScopeName = ScopeName("self");
/// `servers`.
pub const SERVERS: ScopeName = ScopeName("servers");
/// `shares`.
pub const SHARES: ScopeName = ScopeName("shares");
/// `shutdown`.
pub const SHUTDOWN: ScopeName = ScopeName("shutdown");
/// `start:servers`.
pub const START_SERVERS: ScopeName = ScopeName("start:servers");
/// `tokens`.
pub const TOKENS: ScopeName = ScopeName("tokens");
/// `users`.
pub const USERS: ScopeName = ScopeName("users");
/// `users:activity`.
pub const USERS_ACTIVITY: ScopeName = ScopeName("users:activity");
/// `users:shares`.
pub const USERS_SHARES: ScopeName = ScopeName("users:shares");

/// Every built-in scope, in catalogue order.
pub const ALL: [ScopeName; 48] = [
    NO_SCOPE,
    ACCESS_SERVERS,
    ACCESS_SERVICES,
    ADMIN_UI,
    ADMIN_AUTH_STATE,
    ADMIN_GROUPS,
    ADMIN_SERVER_STATE,
    ADMIN_SERVERS,
    ADMIN_SERVICES,
    ADMIN_USERS,
    DELETE_GROUPS,
    DELETE_SERVERS,
    DELETE_USERS,
    GROUPS,
    GROUPS_SHARES,
    INHERIT,
    LIST_GROUPS,
    LIST_SERVICES,
    LIST_USERS,
    PROXY,
    READ_GROUPS,
    READ_GROUPS_NAME,
    READ_GROUPS_SHARES,
    READ_HUB,
    READ_METRICS,
    READ_ROLES,
    READ_ROLES_GROUPS,
    READ_ROLES_SERVICES,
    READ_ROLES_USERS,
    READ_SERVERS,
    READ_SERVICES,
    READ_SERVICES_NAME,
    READ_SHARES,
    READ_TOKENS,
    READ_USERS,
    READ_USERS_ACTIVITY,
    READ_USERS_GROUPS,
    READ_USERS_NAME,
    READ_USERS_SHARES,
    SELF,
    SERVERS,
    SHARES,
    SHUTDOWN,
    START_SERVERS,
    TOKENS,
    USERS,
    USERS_ACTIVITY,
    USERS_SHARES,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_exactly_the_catalogue() {
        let catalogue: Vec<&str> = crate::catalogue::all_scope_names().collect();
        let constants: Vec<&str> = ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(constants, catalogue);
    }
}
