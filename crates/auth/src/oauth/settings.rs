//! The effective options of one OAuth class: the configured values over the
//! preset's defaults (GitHub, GitLab, Google and Azure AD are defaults on
//! the same code, as upstream's subclasses are), checked once at start-up.

use std::collections::{BTreeMap, BTreeSet};

use ferrohub_config::{Config, OAuthClass, OAuthSettings};

use crate::AuthError;

/// Upstream's default `custom_403_message`.
const DEFAULT_403: &str = "Sorry, you are not currently authorized to use this hub. \
                           Please contact the hub administrator.";

/// Everything the OAuth back end needs, with defaults applied.
#[derive(Clone)]
pub(crate) struct Settings {
    /// Which preset (error messages, Azure's ID-token user info).
    pub class: OAuthClass,
    pub client_id: String,
    pub client_secret: String,
    pub callback_url: Option<String>,
    /// OIDC issuer: discovery and ID-token checks.
    pub issuer: Option<String>,
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
    pub userdata_url: Option<String>,
    /// User info from the ID token (option, or Azure AD's way).
    pub userdata_from_id_token: bool,
    pub scope: Vec<String>,
    pub username_claim: String,
    pub login_service: String,
    pub allowed_groups: BTreeSet<String>,
    pub admin_groups: BTreeSet<String>,
    /// Dotted path into `auth_state` holding the groups.
    pub groups_key: Option<String>,
    pub manage_groups: bool,
    pub enable_auth_state: bool,
    pub enable_pkce: bool,
    pub basic_auth: bool,
    pub token_params: BTreeMap<String, String>,
    pub userdata_params: BTreeMap<String, String>,
    /// `userdata_token_method = "url"`.
    pub userdata_token_in_url: bool,
    pub extra_authorize_params: BTreeMap<String, String>,
    pub logout_redirect_url: Option<String>,
    pub custom_403_message: String,
    /// The `auth_state` key holding the user info (upstream's
    /// `user_auth_state_key`).
    pub user_key: &'static str,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No client secret in logs.
        f.debug_struct("Settings")
            .field("class", &self.class)
            .field("client_id", &self.client_id)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Resolves `class`'s options from the configuration and the process
    /// environment (upstream's `OAUTH_CLIENT_ID`, `GITHUB_URL`, ...).
    pub(crate) fn from_config(config: &Config, class: OAuthClass) -> Result<Self, AuthError> {
        Self::resolve(config, class, &|name| {
            std::env::var(name).ok().filter(|v| !v.is_empty())
        })
    }

    /// [`Settings::from_config`] with the environment given (tests).
    pub(crate) fn resolve(
        config: &Config,
        class: OAuthClass,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, AuthError> {
        let o = OAuthSettings::resolve(config, class);
        let name = class.class_name();
        let err =
            |option: &str, problem: &str| AuthError::Config(format!("{name}.{option}: {problem}"));
        let extra = |key: &str| o.extra.get(key).cloned();
        let (own_id_env, own_secret_env) = match class {
            OAuthClass::GitHub => (Some("GITHUB_CLIENT_ID"), Some("GITHUB_CLIENT_SECRET")),
            OAuthClass::GitLab => (Some("GITLAB_CLIENT_ID"), Some("GITLAB_CLIENT_SECRET")),
            _ => (None, None),
        };
        let client_id = o
            .client_id
            .clone()
            .or_else(|| own_id_env.and_then(env))
            .or_else(|| env("OAUTH_CLIENT_ID"))
            .unwrap_or_default();
        let client_secret = o
            .client_secret
            .clone()
            .or_else(|| own_secret_env.and_then(env))
            .or_else(|| env("OAUTH_CLIENT_SECRET"))
            .unwrap_or_default();
        if client_id.is_empty() {
            return Err(err(
                "client_id",
                "must be set (or $OAUTH_CLIENT_ID): the id of the OAuth application registered with the provider",
            ));
        }

        // The preset's endpoints and defaults.
        let authorize: Option<String>;
        let token: Option<String>;
        let mut userdata = None;
        let mut username_claim = env("OAUTH2_USERNAME_KEY").unwrap_or_else(|| "username".into());
        let mut login_service = "OAuth 2.0".to_owned();
        let mut scope = Vec::new();
        let mut groups_key = None;
        let mut userdata_from_id_token = false;
        let user_key;
        match class {
            OAuthClass::Generic => {
                authorize = env("OAUTH2_AUTHORIZE_URL");
                token = env("OAUTH2_TOKEN_URL");
                userdata = env("OAUTH2_USERDATA_URL");
                user_key = "oauth_user";
                let claim = o
                    .claim_groups_key
                    .clone()
                    .or_else(|| env("OAUTH2_GROUPS_KEY"))
                    .unwrap_or_else(|| "groups".into());
                groups_key = Some(format!("{user_key}.{claim}"));
            }
            OAuthClass::GitHub => {
                let github_url = extra("github_url")
                    .or_else(|| env("GITHUB_URL"))
                    .map_or_else(
                        || "https://github.com".into(),
                        |u| {
                            if u.contains("://") {
                                u
                            } else {
                                format!("https://{u}")
                            }
                        },
                    );
                let github_url = github_url.trim_end_matches('/').to_owned();
                let api = extra("github_api").unwrap_or_else(|| {
                    if github_url == "https://github.com" {
                        "https://api.github.com".into()
                    } else {
                        format!("{github_url}/api/v3")
                    }
                });
                authorize = Some(format!("{github_url}/login/oauth/authorize"));
                token = Some(format!("{github_url}/login/oauth/access_token"));
                userdata = Some(format!("{api}/user"));
                username_claim = "login".into();
                login_service = "GitHub".into();
                user_key = "github_user";
            }
            OAuthClass::GitLab => {
                let gitlab_url = extra("gitlab_url")
                    .or_else(|| env("GITLAB_URL"))
                    .unwrap_or_else(|| "https://gitlab.com".into());
                let gitlab_url = gitlab_url.trim_end_matches('/').to_owned();
                let version = extra("gitlab_api_version")
                    .or_else(|| env("GITLAB_API_VERSION"))
                    .unwrap_or_else(|| "4".into());
                let api =
                    extra("gitlab_api").unwrap_or_else(|| format!("{gitlab_url}/api/v{version}"));
                authorize = Some(format!("{gitlab_url}/oauth/authorize"));
                token = Some(format!("{gitlab_url}/oauth/token"));
                userdata = Some(format!("{api}/user"));
                username_claim = "username".into();
                login_service = "GitLab".into();
                user_key = "gitlab_user";
            }
            OAuthClass::Google => {
                let api = extra("google_api_url")
                    .or_else(|| env("GOOGLE_API_URL"))
                    .unwrap_or_else(|| "https://www.googleapis.com".into());
                authorize = Some("https://accounts.google.com/o/oauth2/v2/auth".into());
                token = Some(format!("{api}/oauth2/v4/token"));
                userdata = Some(format!("{api}/oauth2/v1/userinfo"));
                username_claim = "email".into();
                login_service = "Google".into();
                scope = vec!["openid".into(), "email".into()];
                user_key = "google_user";
            }
            OAuthClass::AzureAd => {
                let graph = extra("graph_url")
                    .unwrap_or_else(|| "https://login.microsoftonline.com".into());
                let graph = graph.trim_end_matches('/');
                let tenant = extra("tenant_id").or_else(|| env("AAD_TENANT_ID"));
                let base = match tenant {
                    Some(tenant) => format!("{graph}/{tenant}"),
                    None => graph.to_owned(),
                };
                authorize = Some(format!("{base}/oauth2/authorize"));
                token = Some(format!("{base}/oauth2/token"));
                username_claim = "name".into();
                login_service = "Azure AD".into();
                // Upstream reads the user from the ID token.
                userdata_from_id_token = true;
                user_key = "user";
                groups_key = Some("user.groups".into());
            }
        }
        let username_claim = o.username_claim.clone().unwrap_or(username_claim);
        if username_claim.is_empty() {
            return Err(err(
                "username_claim",
                "must name the claim holding the user name",
            ));
        }
        let login_service = o
            .login_service
            .clone()
            .or_else(|| env("LOGIN_SERVICE"))
            .unwrap_or(login_service);

        let userdata_from_id_token = o.userdata_from_id_token.unwrap_or(userdata_from_id_token);
        if userdata_from_id_token && o.userdata_url.is_some() {
            return Err(err(
                "userdata_url",
                "cannot be set together with userdata_from_id_token (upstream refuses it too)",
            ));
        }
        let issuer = o
            .oidc_issuer
            .clone()
            .map(|i| i.trim_end_matches('/').to_owned());
        let authorize_url = o.authorize_url.clone().or(authorize);
        let token_url = o.token_url.clone().or(token);
        let userdata_url = o.userdata_url.clone().or(userdata);
        if issuer.is_none() {
            if authorize_url.is_none() {
                return Err(err(
                    "authorize_url",
                    "must be set, or oidc_issuer for OpenID Connect discovery",
                ));
            }
            if token_url.is_none() {
                return Err(err(
                    "token_url",
                    "must be set, or oidc_issuer for OpenID Connect discovery",
                ));
            }
            if userdata_url.is_none() && !userdata_from_id_token {
                return Err(err(
                    "userdata_url",
                    "must be set (or userdata_from_id_token, or oidc_issuer for discovery)",
                ));
            }
        }
        for (option, url) in [
            ("oidc_issuer", &issuer),
            ("authorize_url", &authorize_url),
            ("token_url", &token_url),
            ("userdata_url", &userdata_url),
            ("oauth_callback_url", &o.oauth_callback_url),
        ] {
            if let Some(url) = url {
                check_url(url).map_err(|problem| err(option, &problem))?;
            }
        }

        let manage_groups = config.authenticator.manage_groups;
        let allowed_groups: BTreeSet<String> = o
            .allowed_groups
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let admin_groups: BTreeSet<String> = o
            .admin_groups
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        for (option, set) in [
            ("allowed_groups", !allowed_groups.is_empty()),
            ("admin_groups", !admin_groups.is_empty()),
            ("auth_state_groups_key", o.auth_state_groups_key.is_some()),
            ("claim_groups_key", o.claim_groups_key.is_some()),
        ] {
            if set && !manage_groups {
                return Err(err(
                    option,
                    "requires manage_groups = true (as upstream OAuthenticator 17)",
                ));
            }
        }
        let groups_key = o.auth_state_groups_key.clone().or(groups_key);
        let userdata_token_in_url = match o.userdata_token_method.as_deref() {
            None | Some("header") => env("OAUTH2_USERDATA_REQUEST_TYPE").as_deref() == Some("url"),
            Some("url") => true,
            Some(other) => {
                return Err(err(
                    "userdata_token_method",
                    &format!("expected \"header\" or \"url\", found {other:?}"),
                ));
            }
        };
        let basic_auth = o.basic_auth.unwrap_or_else(|| {
            env("OAUTH2_BASIC_AUTH")
                .is_some_and(|v| ["true", "1"].contains(&v.to_lowercase().as_str()))
        });
        Ok(Self {
            class,
            client_id,
            client_secret,
            callback_url: o
                .oauth_callback_url
                .clone()
                .or_else(|| env("OAUTH_CALLBACK_URL")),
            issuer,
            authorize_url,
            token_url,
            userdata_url,
            userdata_from_id_token,
            scope: o.scope.clone().unwrap_or(scope),
            username_claim,
            login_service,
            allowed_groups,
            admin_groups,
            groups_key,
            manage_groups,
            enable_auth_state: config.authenticator.enable_auth_state,
            enable_pkce: o.enable_pkce.unwrap_or(true),
            basic_auth,
            token_params: o.token_params.clone().unwrap_or_default(),
            userdata_params: o.userdata_params.clone().unwrap_or_default(),
            userdata_token_in_url,
            extra_authorize_params: o.extra_authorize_params.clone().unwrap_or_default(),
            logout_redirect_url: o
                .logout_redirect_url
                .clone()
                .or_else(|| env("OAUTH_LOGOUT_REDIRECT_URL"))
                .filter(|u| !u.is_empty()),
            custom_403_message: o
                .custom_403_message
                .clone()
                .unwrap_or_else(|| DEFAULT_403.to_owned()),
            user_key,
        })
    }
}

/// An absolute `http` or `https` URL.
fn check_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not a URL ({e}): {url:?}"))?;
    if !["http", "https"].contains(&parsed.scheme()) {
        return Err(format!("must be an http or https URL, found {url:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(class: &str) -> Config {
        let mut config = Config::default();
        config.jupyterhub.authenticator_class = class.into();
        config
    }

    #[test]
    fn presets_fill_endpoints_and_claims() {
        let mut c = config("github");
        c.github_oauthenticator.client_id = Some("id".into());
        let s = Settings::resolve(&c, OAuthClass::GitHub, &|_| None).unwrap();
        assert_eq!(
            s.authorize_url.as_deref(),
            Some("https://github.com/login/oauth/authorize")
        );
        assert_eq!(
            s.userdata_url.as_deref(),
            Some("https://api.github.com/user")
        );
        assert_eq!(s.username_claim, "login");

        let mut c = config("azuread");
        c.azure_ad_oauthenticator.client_id = Some("id".into());
        c.azure_ad_oauthenticator.tenant_id = Some("t1".into());
        let s = Settings::resolve(&c, OAuthClass::AzureAd, &|_| None).unwrap();
        assert_eq!(
            s.token_url.as_deref(),
            Some("https://login.microsoftonline.com/t1/oauth2/token")
        );
        assert!(s.userdata_from_id_token);

        let mut c = config("gitlab");
        c.oauthenticator.client_id = Some("id".into());
        c.gitlab_oauthenticator.gitlab_url = Some("https://git.example.org".into());
        let s = Settings::resolve(&c, OAuthClass::GitLab, &|_| None).unwrap();
        assert_eq!(
            s.userdata_url.as_deref(),
            Some("https://git.example.org/api/v4/user")
        );
    }

    #[test]
    fn client_id_comes_from_the_environment_and_is_required() {
        let mut c = config("generic-oauth");
        c.generic_oauthenticator.oidc_issuer = Some("https://idp.example".into());
        let env = |name: &str| (name == "OAUTH_CLIENT_ID").then(|| "from-env".to_owned());
        assert_eq!(
            Settings::resolve(&c, OAuthClass::Generic, &env)
                .unwrap()
                .client_id,
            "from-env"
        );
        let e = Settings::resolve(&c, OAuthClass::Generic, &|_| None).unwrap_err();
        assert!(e.to_string().contains("client_id"), "{e}");
    }

    #[test]
    fn group_options_need_manage_groups_and_endpoints_are_needed() {
        let mut c = config("generic-oauth");
        c.generic_oauthenticator.client_id = Some("id".into());
        c.generic_oauthenticator.oidc_issuer = Some("https://idp.example".into());
        c.generic_oauthenticator.admin_groups = Some(vec!["staff".into()]);
        let e = Settings::resolve(&c, OAuthClass::Generic, &|_| None).unwrap_err();
        assert!(e.to_string().contains("manage_groups"), "{e}");
        c.authenticator.manage_groups = true;
        let s = Settings::resolve(&c, OAuthClass::Generic, &|_| None).unwrap();
        assert_eq!(s.groups_key.as_deref(), Some("oauth_user.groups"));

        c.generic_oauthenticator.oidc_issuer = None;
        let e = Settings::resolve(&c, OAuthClass::Generic, &|_| None).unwrap_err();
        assert!(e.to_string().contains("authorize_url"), "{e}");
    }
}
