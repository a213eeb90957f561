//! Roles: the four default roles the hub (re)creates at every startup, and the role-name rule.

use crate::error::ScopeError;

/// A role definition: a named bundle of raw scopes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleSpec {
    /// The role's name (see [`validate_role_name`]).
    pub name: String,
    /// Human description, shown by the REST API.
    pub description: String,
    /// Raw scopes (may contain `self`, `inherit` and bare filters).
    pub scopes: Vec<String>,
}

/// The names of the default roles, which cannot be deleted.
pub const DEFAULT_ROLE_NAMES: [&str; 4] = ["user", "admin", "server", "token"];

/// The `admin` role's scopes, which configuration may not change.
pub const ADMIN_SCOPES: [&str; 16] = [
    "admin-ui",
    "admin:users",
    "admin:servers",
    "admin:services",
    "tokens",
    "admin:groups",
    "list:services",
    "read:services",
    "read:hub",
    "proxy",
    "shutdown",
    "access:services",
    "access:servers",
    "read:roles",
    "read:metrics",
    "shares",
];

/// The `admin` role's description, which configuration may not change.
pub const ADMIN_DESCRIPTION: &str = "Elevated privileges (can do anything)";

fn spec(name: &str, description: &str, scopes: impl IntoIterator<Item = String>) -> RoleSpec {
    RoleSpec {
        name: name.to_owned(),
        description: description.to_owned(),
        scopes: scopes.into_iter().collect(),
    }
}

/// Upstream's `get_default_roles`, with `JupyterHub.extra_user_scopes` appended to the `user`
/// role (duplicates dropped, order kept): `user` (`self`), `admin`, `server`
/// (`users:activity!user`, `access:servers!server`) and `token` (`inherit`).
pub fn default_roles(extra_user_scopes: &[String]) -> Vec<RoleSpec> {
    let mut user_scopes = vec!["self".to_owned()];
    for extra in extra_user_scopes {
        if !user_scopes.contains(extra) {
            user_scopes.push(extra.clone());
        }
    }
    vec![
        spec("user", "Standard user privileges", user_scopes),
        spec(
            "admin",
            ADMIN_DESCRIPTION,
            ADMIN_SCOPES.iter().map(|s| (*s).to_owned()),
        ),
        spec(
            "server",
            "Post activity only",
            ["users:activity!user", "access:servers!server"].map(str::to_owned),
        ),
        spec(
            "token",
            "Token with same permissions as its owner",
            ["inherit".to_owned()],
        ),
    ]
}

/// Whether `name` is a default role (not deletable, recreated at startup).
pub fn is_default_role(name: &str) -> bool {
    DEFAULT_ROLE_NAMES.contains(&name)
}

/// Rejects configuration that changes the `admin` role's description or scopes (upstream's
/// `RoleValueError`); `None` means the key was not given. Same scopes in another order count
/// as a change, as upstream compares lists.
pub fn check_admin_override(
    description: Option<&str>,
    scopes: Option<&[String]>,
) -> Result<(), ScopeError> {
    if let Some(d) = description
        && d != ADMIN_DESCRIPTION
    {
        return Err(ScopeError::AdminRoleOverride {
            key: "description",
            value: d.to_owned(),
        });
    }
    if let Some(s) = scopes
        && !s.iter().map(String::as_str).eq(ADMIN_SCOPES)
    {
        return Err(ScopeError::AdminRoleOverride {
            key: "scopes",
            value: format!("{s:?}"),
        });
    }
    Ok(())
}

/// Upstream's role-name rule `^[a-z][a-z0-9\-_~\.]{1,253}[a-z0-9]$`: 3-255 ASCII characters,
/// lowercase letter first, lowercase letter or digit last, URL-safe in between.
pub fn validate_role_name(name: &str) -> Result<(), ScopeError> {
    let bytes = name.as_bytes();
    let ok = match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            (3..=255).contains(&bytes.len())
                && first.is_ascii_lowercase()
                && (last.is_ascii_lowercase() || last.is_ascii_digit())
                && bytes.iter().all(|&b| {
                    b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || matches!(b, b'-' | b'_' | b'~' | b'.')
                })
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ScopeError::InvalidRoleName {
            name: name.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CustomScopes, validate_all};

    #[test]
    fn default_roles_match_upstream() {
        let roles = default_roles(&[]);
        let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, DEFAULT_ROLE_NAMES);
        let user = &roles[0];
        assert_eq!(user.description, "Standard user privileges");
        assert_eq!(user.scopes, ["self"]);
        let admin = &roles[1];
        assert_eq!(admin.description, "Elevated privileges (can do anything)");
        assert_eq!(
            admin.scopes,
            [
                "admin-ui",
                "admin:users",
                "admin:servers",
                "admin:services",
                "tokens",
                "admin:groups",
                "list:services",
                "read:services",
                "read:hub",
                "proxy",
                "shutdown",
                "access:services",
                "access:servers",
                "read:roles",
                "read:metrics",
                "shares",
            ]
        );
        let server = &roles[2];
        assert_eq!(server.description, "Post activity only");
        assert_eq!(
            server.scopes,
            ["users:activity!user", "access:servers!server"]
        );
        let token = &roles[3];
        assert_eq!(
            token.description,
            "Token with same permissions as its owner"
        );
        assert_eq!(token.scopes, ["inherit"]);
    }

    #[test]
    fn default_role_scopes_are_valid() {
        for role in default_roles(&[]) {
            assert!(
                validate_all(&role.scopes, CustomScopes::none()).is_ok(),
                "{}",
                role.name
            );
            assert!(validate_role_name(&role.name).is_ok(), "{}", role.name);
        }
    }

    #[test]
    fn extra_user_scopes_extend_the_user_role_only() {
        let extra = [
            "access:services".to_owned(),
            "self".to_owned(),
            "read:hub".to_owned(),
        ];
        let roles = default_roles(&extra);
        assert_eq!(roles[0].scopes, ["self", "access:services", "read:hub"]);
        assert_eq!(roles[1].scopes.len(), 16);
        assert_eq!(roles[3].scopes, ["inherit"]);
    }

    #[test]
    fn default_role_names() {
        for name in DEFAULT_ROLE_NAMES {
            assert!(is_default_role(name));
        }
        assert!(!is_default_role("teacher"));
        assert!(!is_default_role("Admin"));
    }

    #[test]
    fn admin_role_cannot_be_overridden() {
        assert!(check_admin_override(None, None).is_ok());
        assert!(check_admin_override(Some(ADMIN_DESCRIPTION), None).is_ok());
        let same: Vec<String> = ADMIN_SCOPES.iter().map(|s| (*s).to_owned()).collect();
        assert!(check_admin_override(None, Some(&same)).is_ok());
        let err = check_admin_override(Some("mine"), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Cannot override admin role admin.description = mine"
        );
        let fewer = vec!["admin-ui".to_owned()];
        let err = check_admin_override(None, Some(&fewer)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Cannot override admin role admin.scopes = [\"admin-ui\"]"
        );
        let mut reordered = same.clone();
        reordered.reverse();
        assert!(check_admin_override(None, Some(&reordered)).is_err());
    }

    #[test]
    fn role_names_follow_upstreams_pattern() {
        let long_ok = format!("a{}z", "b".repeat(253));
        let long_bad = format!("a{}z", "b".repeat(254));
        for ok in [
            "abc",
            "user",
            "admin",
            "my-role",
            "a.b",
            "a~b",
            "a_b",
            "r00",
            "abc1",
            long_ok.as_str(),
        ] {
            assert_eq!(validate_role_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "a",
            "ab",
            "1ab",
            "-ab",
            "Abc",
            "abC",
            "ab-",
            "ab.",
            "ab_",
            "a b",
            "a/b",
            "rôle",
            "abc\n",
            long_bad.as_str(),
        ] {
            assert!(
                matches!(
                    validate_role_name(bad),
                    Err(ScopeError::InvalidRoleName { .. })
                ),
                "{bad:?}"
            );
        }
        let msg = validate_role_name("X").unwrap_err().to_string();
        assert!(
            msg.starts_with("Invalid role name: 'X'. Role names must:"),
            "{msg}"
        );
        assert!(msg.contains("be 3-255 characters"));
    }
}
