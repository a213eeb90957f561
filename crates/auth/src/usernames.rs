//! `Authenticator.username_map` and `Authenticator.username_pattern`: the
//! name rules every back end shares, as upstream's `normalize_username` and
//! `validate_username`.

use std::collections::BTreeMap;

use ferrohub_config::AuthenticatorConfig;
use ferrohub_core::names;
use regex::Regex;

use crate::{AuthError, UsernameError};

/// The configured map and pattern; cheap to clone (the regex is shared).
#[derive(Debug, Clone, Default)]
pub(crate) struct UsernameRules {
    map: BTreeMap<String, String>,
    /// `username_pattern` anchored at the start, as Python's `re.match`.
    pattern: Option<Regex>,
}

impl UsernameRules {
    /// Compiles `username_pattern`; a pattern Rust's regex engine cannot
    /// compile (look-around and back-references are not supported) is a
    /// configuration error naming the option.
    pub(crate) fn from_config(config: &AuthenticatorConfig) -> Result<Self, AuthError> {
        let pattern = if config.username_pattern.is_empty() {
            None
        } else {
            // `re.match` anchors at the start only; `(?:...)` keeps a top-level
            // alternation inside the anchor.
            let anchored = format!("^(?:{})", config.username_pattern);
            Some(Regex::new(&anchored).map_err(|e| {
                AuthError::Config(format!(
                    "Authenticator.username_pattern {:?} is not a valid regular expression: {e}",
                    config.username_pattern
                ))
            })?)
        };
        Ok(Self {
            map: config.username_map.clone(),
            pattern,
        })
    }

    /// Applies `username_map` to an already lowercased (or canonical) name.
    pub(crate) fn map(&self, name: String) -> String {
        match self.map.get(&name) {
            Some(mapped) => mapped.clone(),
            None => name,
        }
    }

    /// Upstream's default `normalize_username`: lowercase, then the map.
    pub(crate) fn normalize(&self, name: &str) -> String {
        self.map(names::normalize_username(name))
    }

    /// Upstream's `validate_username` on a normalized name: the hub's own
    /// rules, then the pattern.
    pub(crate) fn validate(&self, name: &str) -> Result<(), UsernameError> {
        names::validate_username(name)?;
        match &self.pattern {
            Some(pattern) if !pattern.is_match(name) => Err(UsernameError::Pattern),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(pattern: &str, map: &[(&str, &str)]) -> UsernameRules {
        let config = AuthenticatorConfig {
            username_pattern: pattern.to_owned(),
            username_map: map
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..AuthenticatorConfig::default()
        };
        UsernameRules::from_config(&config).unwrap()
    }

    #[test]
    fn the_map_applies_after_lowercasing() {
        let rules = rules("", &[("jdoe@example.org", "jdoe")]);
        assert_eq!(rules.normalize("JDoe@Example.org"), "jdoe");
        assert_eq!(rules.normalize("Other"), "other");
    }

    #[test]
    fn the_pattern_matches_from_the_start_like_re_match() {
        let rules = rules("[a-z]+[0-9]|admin", &[]);
        assert!(rules.validate("abc1").is_ok());
        // re.match does not anchor at the end.
        assert!(rules.validate("abc1-more").is_ok());
        assert!(rules.validate("admin").is_ok());
        assert!(matches!(
            rules.validate("1abc"),
            Err(UsernameError::Pattern)
        ));
        assert!(matches!(
            rules.validate("xadmin"),
            Err(UsernameError::Pattern)
        ));
        // The hub's own rules come first.
        assert!(matches!(
            rules.validate("ab1/x"),
            Err(UsernameError::Invalid(_))
        ));
    }

    #[test]
    fn no_pattern_allows_any_valid_name() {
        let rules = rules("", &[]);
        assert!(rules.validate("anything-goes").is_ok());
        assert!(rules.validate("").is_err());
    }

    #[test]
    fn an_invalid_pattern_names_the_option() {
        let config = AuthenticatorConfig {
            username_pattern: "(unclosed".into(),
            ..AuthenticatorConfig::default()
        };
        let err = UsernameRules::from_config(&config).unwrap_err().to_string();
        assert!(err.contains("Authenticator.username_pattern"), "{err}");
    }
}
