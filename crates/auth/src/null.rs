//! `NullAuthenticator`: no login at all; the hub is used through API tokens
//! only (tokens from `api_tokens`, services, or issued through the API).

use async_trait::async_trait;

use crate::{AuthError, Authenticator};

/// What the login page shows instead of a form.
const NO_LOGIN_HTML: &str = "<h1>Sign in</h1>\n<p id=\"null-login\">This hub has no \
    login page: its authenticator (NullAuthenticator) signs nobody in. It is used \
    through API tokens only.</p>";

/// Upstream's `NullAuthenticator` (2.0): every login is refused and the login
/// page shows no form, only that the hub is reached with API tokens.
#[derive(Debug, Clone, Copy, Default)]
pub struct NullAuthenticator;

#[async_trait]
impl Authenticator for NullAuthenticator {
    fn name(&self) -> &'static str {
        "NullAuthenticator"
    }

    async fn authenticate(
        &self,
        _username: &str,
        _password: &str,
    ) -> Result<Option<String>, AuthError> {
        Ok(None)
    }

    fn custom_html(&self, _hub_base: &str) -> String {
        NO_LOGIN_HTML.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_every_login_and_shows_no_form() {
        let null = NullAuthenticator;
        assert_eq!(null.authenticate("admin", "admin").await.unwrap(), None);
        assert_eq!(null.authenticate("", "").await.unwrap(), None);
        let html = null.custom_html("/hub/");
        assert!(
            html.contains("API tokens") && !html.contains("<form"),
            "{html}"
        );
    }
}
