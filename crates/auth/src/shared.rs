//! `SharedPasswordAuthenticator` (upstream 5.3): every user logs in with one
//! shared password, the users in `admin_users` with another, longer one.
//! For short-lived deployments where users need not be protected from each
//! other: anyone with the user password can log in as any non-admin user.

use std::collections::BTreeSet;

use async_trait::async_trait;
use ferrohub_config::SharedPasswordAuthenticatorConfig;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::usernames::UsernameRules;
use crate::{AuthError, Authenticator};

/// Upstream's shortest `user_password`, in characters.
pub(crate) const USER_PASSWORD_MIN_LENGTH: usize = 8;
/// Upstream's shortest `admin_password`, in characters.
pub(crate) const ADMIN_PASSWORD_MIN_LENGTH: usize = 32;

/// Upstream's `SharedPasswordAuthenticator`: `user_password` for everyone not
/// in `admin_users`, `admin_password` for those (and only those). A user who
/// logs in with the user password is never an admin.
pub struct SharedPasswordAuthenticator {
    user_password: Option<String>,
    admin_password: Option<String>,
    /// `Authenticator.admin_users`, normalized.
    admin_users: BTreeSet<String>,
    rules: UsernameRules,
}

impl std::fmt::Debug for SharedPasswordAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedPasswordAuthenticator")
            .field("user_password_set", &self.user_password.is_some())
            .field("admin_password_set", &self.admin_password.is_some())
            .field("admin_users", &self.admin_users)
            .finish()
    }
}

impl SharedPasswordAuthenticator {
    /// Checks upstream's rules (user password at least 8 characters, admin
    /// password at least 32 and not the user password; an empty one counts as
    /// unset) and warns, as upstream, about configurations where some users
    /// cannot log in.
    pub(crate) fn new(
        config: &SharedPasswordAuthenticatorConfig,
        admin_users: BTreeSet<String>,
        rules: UsernameRules,
    ) -> Result<Self, AuthError> {
        const CLS: &str = "SharedPasswordAuthenticator";
        let user_password = config.user_password.clone().filter(|p| !p.is_empty());
        let admin_password = config.admin_password.clone().filter(|p| !p.is_empty());
        if let Some(password) = &user_password {
            let length = password.chars().count();
            if length < USER_PASSWORD_MIN_LENGTH {
                return Err(AuthError::Config(format!(
                    "{CLS}.user_password must be at least {USER_PASSWORD_MIN_LENGTH} \
                     characters long, got {length} characters"
                )));
            }
        }
        if let Some(password) = &admin_password {
            let length = password.chars().count();
            if length < ADMIN_PASSWORD_MIN_LENGTH {
                return Err(AuthError::Config(format!(
                    "{CLS}.admin_password must be at least {ADMIN_PASSWORD_MIN_LENGTH} \
                     characters, not {length}"
                )));
            }
            if user_password.as_ref() == Some(password) {
                return Err(AuthError::Config(format!(
                    "{CLS}.user_password and {CLS}.admin_password cannot be the same"
                )));
            }
        }
        if admin_password.is_some() && admin_users.is_empty() {
            tracing::warn!(
                "{CLS}.admin_password set, but Authenticator.admin_users is not. No admin \
                 users will be able to login. Add usernames to Authenticator.admin_users \
                 to grant users admin permissions."
            );
        }
        if !admin_users.is_empty() && admin_password.is_none() {
            tracing::warn!(
                "Authenticator.admin_users set, but {CLS}.admin_password is not. No admin \
                 users will be able to login. Set {CLS}.admin_password to allow admins to login."
            );
        }
        match (&user_password, &admin_password) {
            (None, None) => tracing::error!(
                "Neither {CLS}.admin_password nor {CLS}.user_password is set. \
                 Nobody will be able to login!"
            ),
            (None, Some(_)) => tracing::warn!(
                "{CLS}.user_password not set. No non-admin users will be able to login."
            ),
            _ => {}
        }
        Ok(Self {
            user_password,
            admin_password,
            admin_users,
            rules,
        })
    }
}

/// Compares in constant time; hashing first also hides the length.
fn matches(want: Option<&String>, given: &str) -> bool {
    let Some(want) = want else { return false };
    let want = Sha256::digest(want.as_bytes());
    let got = Sha256::digest(given.as_bytes());
    want.as_slice().ct_eq(got.as_slice()).into()
}

#[async_trait]
impl Authenticator for SharedPasswordAuthenticator {
    fn name(&self) -> &'static str {
        "SharedPasswordAuthenticator"
    }

    /// Admins (by normalized name; upstream compares the name as typed) must
    /// give the admin password, everyone else the user password.
    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<String>, AuthError> {
        let want = if self.admin_users.contains(&self.rules.normalize(username)) {
            self.admin_password.as_ref()
        } else {
            self.user_password.as_ref()
        };
        Ok(matches(want, password).then(|| username.to_owned()))
    }

    /// Reached only for users outside `admin_users` (those are granted admin
    /// by the policy first), who logged in with the user password: never admin,
    /// as upstream, so an admin flag given through the API is revoked.
    async fn admin_status(&self, _username: &str) -> Result<Option<bool>, AuthError> {
        Ok(Some(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "user-password";
    const ADMIN: &str = "an-admin-password-of-32-chars-xx";

    fn shared(
        user: Option<&str>,
        admin: Option<&str>,
    ) -> Result<SharedPasswordAuthenticator, AuthError> {
        let config = SharedPasswordAuthenticatorConfig {
            user_password: user.map(str::to_owned),
            admin_password: admin.map(str::to_owned),
        };
        SharedPasswordAuthenticator::new(
            &config,
            BTreeSet::from(["alice".to_owned()]),
            UsernameRules::default(),
        )
    }

    #[test]
    fn short_or_equal_passwords_are_refused() {
        let err = shared(Some("seven77"), None).unwrap_err().to_string();
        assert!(err.contains("user_password must be at least 8"), "{err}");
        let err = shared(None, Some(&"x".repeat(31))).unwrap_err().to_string();
        assert!(
            err.contains("admin_password must be at least 32 characters, not 31"),
            "{err}"
        );
        let same = "y".repeat(32);
        let err = shared(Some(&same), Some(&same)).unwrap_err().to_string();
        assert!(err.contains("cannot be the same"), "{err}");
        // Characters, not bytes: 8 two-byte characters are long enough.
        assert!(shared(Some("éééééééé"), None).is_ok());
        assert!(shared(Some(USER), Some(ADMIN)).is_ok());
        assert!(shared(None, None).is_ok());
    }

    #[tokio::test]
    async fn admins_need_the_admin_password_and_others_the_user_password() {
        let auth = shared(Some(USER), Some(ADMIN)).unwrap();
        let ok = |name: &str| Some(name.to_owned());
        assert_eq!(auth.authenticate("bob", USER).await.unwrap(), ok("bob"));
        assert_eq!(auth.authenticate("bob", ADMIN).await.unwrap(), None);
        assert_eq!(
            auth.authenticate("alice", ADMIN).await.unwrap(),
            ok("alice")
        );
        assert_eq!(auth.authenticate("alice", USER).await.unwrap(), None);
        // The admin's name in another case is still the admin.
        assert_eq!(auth.authenticate("Alice", USER).await.unwrap(), None);
        for wrong in ["", "user-passwor", "user-password ", "USER-PASSWORD"] {
            assert_eq!(
                auth.authenticate("bob", wrong).await.unwrap(),
                None,
                "{wrong:?}"
            );
        }
        assert_eq!(auth.admin_status("bob").await.unwrap(), Some(false));
    }

    #[tokio::test]
    async fn unset_passwords_let_nobody_in() {
        let auth = shared(None, None).unwrap();
        assert_eq!(auth.authenticate("bob", "").await.unwrap(), None);
        assert_eq!(auth.authenticate("alice", "").await.unwrap(), None);
    }

    #[test]
    fn debug_output_hides_the_passwords() {
        let text = format!("{:?}", shared(Some(USER), Some(ADMIN)).unwrap());
        assert!(!text.contains(USER) && !text.contains(ADMIN), "{text}");
    }
}
