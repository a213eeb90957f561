//! `DummyAuthenticator`: any user name, and any password unless a shared one is
//! configured. For tests and demos only, as upstream.

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{AuthError, Authenticator};

/// Upstream's `DummyAuthenticator`: accepts every name; if `password` is non-empty,
/// only that password.
#[derive(Clone)]
pub struct DummyAuthenticator {
    password: String,
}

impl std::fmt::Debug for DummyAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keep the shared password out of logs.
        f.debug_struct("DummyAuthenticator")
            .field("password_set", &!self.password.is_empty())
            .finish()
    }
}

impl DummyAuthenticator {
    /// Builds the back end from `DummyAuthenticator.password` (empty: any password).
    #[must_use]
    pub fn new(password: impl Into<String>) -> Self {
        let password = password.into();
        if !password.is_empty() {
            tracing::warn!(
                "DummyAuthenticator.password is deprecated in JupyterHub 5.3 \
                 (upstream's replacement is SharedPasswordAuthenticator)"
            );
        }
        tracing::warn!(
            "Using testing authenticator DummyAuthenticator! This is not meant for production!"
        );
        Self { password }
    }

    /// Compares in constant time; hashing first also hides the password's length.
    fn password_matches(&self, given: &str) -> bool {
        let want = Sha256::digest(self.password.as_bytes());
        let got = Sha256::digest(given.as_bytes());
        want.as_slice().ct_eq(got.as_slice()).into()
    }
}

#[async_trait]
impl Authenticator for DummyAuthenticator {
    fn name(&self) -> &'static str {
        "DummyAuthenticator"
    }

    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<String>, AuthError> {
        if self.password.is_empty() || self.password_matches(password) {
            Ok(Some(username.to_owned()))
        } else {
            Ok(None)
        }
    }

    /// Upstream: `allow_all` defaults to true unless `allowed_users` is set.
    fn default_allow_all(&self, allowed_users_configured: bool) -> bool {
        !allowed_users_configured
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn any_password_without_a_shared_one() {
        let dummy = DummyAuthenticator::new("");
        assert_eq!(
            dummy.authenticate("Bob", "whatever").await.unwrap(),
            Some("Bob".to_owned())
        );
        assert_eq!(
            dummy.authenticate("bob", "").await.unwrap(),
            Some("bob".to_owned())
        );
    }

    #[tokio::test]
    async fn shared_password_must_match_exactly() {
        let dummy = DummyAuthenticator::new("s3cret");
        assert_eq!(
            dummy.authenticate("bob", "s3cret").await.unwrap(),
            Some("bob".to_owned())
        );
        for wrong in ["", "s3cre", "s3cret ", "S3CRET", "s3cret\0"] {
            assert_eq!(
                dummy.authenticate("bob", wrong).await.unwrap(),
                None,
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn debug_output_hides_the_password() {
        let text = format!("{:?}", DummyAuthenticator::new("s3cret"));
        assert!(!text.contains("s3cret"), "{text}");
    }
}
