//! User-name normalization and validation, with upstream's rules.

use thiserror::Error;

/// Why a user name was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    /// The name is empty.
    #[error("user name must not be empty")]
    Empty,
    /// The name contains `/`, which would break URLs like `/user/<name>/`.
    #[error("user name {0:?} must not contain '/'")]
    Slash(String),
    /// The name is only dots (`.`, `..`), which would act as a path segment.
    #[error("user name {0:?} must not consist only of dots")]
    OnlyDots(String),
    /// The name starts or ends with whitespace.
    #[error("user name {0:?} must not start or end with whitespace")]
    Whitespace(String),
    /// The name contains control characters.
    #[error("user name {0:?} must not contain control characters")]
    Control(String),
    /// The name is longer than the database column (255 bytes).
    #[error("user name is longer than 255 bytes")]
    TooLong,
}

/// Normalizes a user name as upstream's default `Authenticator.normalize_username`:
/// lowercase.
#[must_use]
pub fn normalize_username(name: &str) -> String {
    name.to_lowercase()
}

/// Checks a (normalized) user name against upstream's `validate_username` rules,
/// plus control characters and length, which upstream lets through to fail later.
pub fn validate_username(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > 255 {
        return Err(NameError::TooLong);
    }
    if name.contains('/') {
        return Err(NameError::Slash(name.to_owned()));
    }
    if name.chars().all(|c| c == '.') {
        return Err(NameError::OnlyDots(name.to_owned()));
    }
    if name.trim() != name {
        return Err(NameError::Whitespace(name.to_owned()));
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::Control(name.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for name in ["alice", "a.b", "user@example.org", "ünïcødé", "a..b"] {
            assert_eq!(validate_username(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn refuses_path_tricks_and_blanks() {
        assert_eq!(validate_username(""), Err(NameError::Empty));
        assert!(matches!(validate_username("a/b"), Err(NameError::Slash(_))));
        assert!(matches!(
            validate_username("../x"),
            Err(NameError::Slash(_))
        ));
        assert!(matches!(
            validate_username(".."),
            Err(NameError::OnlyDots(_))
        ));
        assert!(matches!(
            validate_username("."),
            Err(NameError::OnlyDots(_))
        ));
        assert!(matches!(
            validate_username(" bob"),
            Err(NameError::Whitespace(_))
        ));
        assert!(matches!(
            validate_username("bo\nb"),
            Err(NameError::Control(_))
        ));
        assert_eq!(validate_username(&"x".repeat(256)), Err(NameError::TooLong));
    }

    #[test]
    fn normalizes_to_lowercase() {
        assert_eq!(normalize_username("Alice"), "alice");
    }
}
