//! User-defined `custom:` scopes (`JupyterHub.custom_scopes`).
//!
//! Deployments define these so services can ask for fine-grained permissions that the hub
//! itself never checks; the hub only has to know them so roles and tokens may carry them.

use std::collections::BTreeMap;

use crate::catalogue;
use crate::error::ScopeError;

/// The definition of one custom scope, as written in `JupyterHub.custom_scopes`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomScopeDef {
    /// Shown on the OAuth consent page, hence required.
    pub description: String,
    /// Other custom scopes this one implies (built-in scopes are not allowed: use roles).
    pub subscopes: Vec<String>,
}

/// The validated set of custom scopes of a deployment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomScopes {
    defs: BTreeMap<String, CustomScopeDef>,
}

static NO_CUSTOM_SCOPES: CustomScopes = CustomScopes::empty();

impl CustomScopes {
    /// Validates definitions like upstream's `define_custom_scopes`: names must match
    /// `^custom:[a-z0-9][a-z0-9_\-\*:]+[a-z0-9_\*]$`, descriptions must be non-empty and every
    /// subscope must be another custom scope defined in the same set. Cycles among subscopes
    /// are accepted (they mean mutual implication) and handled during expansion.
    pub fn new(
        defs: impl IntoIterator<Item = (String, CustomScopeDef)>,
    ) -> Result<Self, ScopeError> {
        let mut map: BTreeMap<String, CustomScopeDef> = BTreeMap::new();
        for (name, def) in defs {
            if let Some(existing) = map.get(&name) {
                if *existing != def {
                    return Err(ScopeError::Redefined { name });
                }
                continue;
            }
            if !is_valid_custom_scope_name(&name) {
                return Err(ScopeError::InvalidCustomScopeName { name });
            }
            if def.description.trim().is_empty() {
                return Err(ScopeError::MissingDescription { name });
            }
            map.insert(name, def);
        }
        for (name, def) in &map {
            for sub in &def.subscopes {
                if map.contains_key(sub) {
                    continue;
                }
                return Err(if catalogue::is_builtin(sub) {
                    ScopeError::NonCustomSubscope {
                        scope: name.clone(),
                        subscope: sub.clone(),
                    }
                } else {
                    ScopeError::UnknownSubscope {
                        scope: name.clone(),
                        subscope: sub.clone(),
                    }
                });
            }
        }
        Ok(Self { defs: map })
    }

    /// No custom scopes: the default of a deployment.
    pub const fn empty() -> Self {
        Self {
            defs: BTreeMap::new(),
        }
    }

    /// A shared empty set, so callers without custom scopes need not keep one alive.
    pub fn none() -> &'static Self {
        &NO_CUSTOM_SCOPES
    }

    /// The definition of a custom scope, if defined.
    pub fn get(&self, name: &str) -> Option<&CustomScopeDef> {
        self.defs.get(name)
    }

    /// The description of a custom scope, for the OAuth consent page.
    pub fn description(&self, name: &str) -> Option<&str> {
        self.defs.get(name).map(|d| d.description.as_str())
    }

    /// All definitions, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &CustomScopeDef)> {
        self.defs.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// How many custom scopes are defined.
    pub fn len(&self) -> usize {
        self.defs.len()
    }

    /// Whether no custom scope is defined.
    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }
}

/// Upstream's custom scope name rule, `^custom:[a-z0-9][a-z0-9_\-\*:]+[a-z0-9_\*]$`, checked by
/// hand (no regex engine on the request path).
pub fn is_valid_custom_scope_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("custom:") else {
        return false;
    };
    let bytes = rest.as_bytes();
    let (Some((&first, tail)), Some(&last)) = (bytes.split_first(), bytes.last()) else {
        return false;
    };
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let middle = tail.split_last().map_or(&[][..], |(_, m)| m);
    bytes.len() >= 3
        && alnum(first)
        && (alnum(last) || last == b'_' || last == b'*')
        && middle
            .iter()
            .all(|&b| alnum(b) || matches!(b, b'_' | b'-' | b'*' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(description: &str, subs: &[&str]) -> CustomScopeDef {
        CustomScopeDef {
            description: description.to_owned(),
            subscopes: subs.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn custom_scope_names_follow_upstreams_pattern() {
        for ok in [
            "custom:abc",
            "custom:jupyter_server:read:contents",
            "custom:a-b",
            "custom:0:*",
            "custom:a_*",
            "custom:x-y_",
            "custom:a:b:c",
        ] {
            assert!(is_valid_custom_scope_name(ok), "{ok}");
        }
        for bad in [
            "custom:",
            "custom:a",
            "custom:ab",
            "custom:-ab",
            "custom:_ab",
            "custom:*ab",
            "custom:ab-",
            "custom:ab:",
            "custom:aBc",
            "custom:a b",
            "custom:a.bc",
            "custom:ab\n",
            "custom:éab",
            "Custom:abc",
            "read:users",
            "abc",
            "",
        ] {
            assert!(!is_valid_custom_scope_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn valid_definitions_are_accepted() {
        let c = CustomScopes::new([
            (
                "custom:srv:read".to_owned(),
                def("read", &["custom:srv:read:files"]),
            ),
            ("custom:srv:read:files".to_owned(), def("files", &[])),
        ])
        .unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c.description("custom:srv:read:files"), Some("files"));
        assert_eq!(c.get("custom:srv:read").map(|d| d.subscopes.len()), Some(1));
        assert!(c.get("custom:other").is_none());
        assert!(CustomScopes::none().is_empty());
        assert_eq!(c.iter().count(), 2);
    }

    #[test]
    fn invalid_definitions_are_rejected() {
        let err = CustomScopes::new([("custom:x".to_owned(), def("d", &[]))]).unwrap_err();
        assert!(matches!(err, ScopeError::InvalidCustomScopeName { .. }));
        assert!(
            err.to_string()
                .starts_with("Invalid scope name: 'custom:x'.")
        );

        let err = CustomScopes::new([("custom:abc".to_owned(), def("  ", &[]))]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "scope custom:abc missing key 'description'"
        );

        let err =
            CustomScopes::new([("custom:abc".to_owned(), def("d", &["read:users"]))]).unwrap_err();
        assert!(matches!(err, ScopeError::NonCustomSubscope { .. }));
        assert!(
            err.to_string()
                .starts_with("non-custom subscope read:users in custom:abc")
        );

        let err =
            CustomScopes::new([("custom:abc".to_owned(), def("d", &["custom:zzz"]))]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "subscope custom:zzz in custom:abc not found. All scopes must be defined."
        );
    }

    #[test]
    fn duplicate_definitions_must_agree() {
        let same = CustomScopes::new([
            ("custom:abc".to_owned(), def("d", &[])),
            ("custom:abc".to_owned(), def("d", &[])),
        ]);
        assert_eq!(same.map(|c| c.len()), Ok(1));
        let err = CustomScopes::new([
            ("custom:abc".to_owned(), def("d", &[])),
            ("custom:abc".to_owned(), def("other", &[])),
        ])
        .unwrap_err();
        assert_eq!(
            err,
            ScopeError::Redefined {
                name: "custom:abc".to_owned()
            }
        );
    }

    #[test]
    fn cycles_are_accepted() {
        let c = CustomScopes::new([
            ("custom:aaa".to_owned(), def("a", &["custom:bbb"])),
            ("custom:bbb".to_owned(), def("b", &["custom:aaa"])),
        ]);
        assert!(c.is_ok());
    }
}
