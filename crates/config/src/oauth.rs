//! OAuthenticator's sections: `[OAuthenticator]` (shared by every OAuth
//! class, as its base class upstream) and one per class ferrohub has
//! (`[GenericOAuthenticator]`, `[GitHubOAuthenticator]`, ...).
//!
//! Upstream's traitlets let a subclass's section set any option of its base
//! classes, so an admin's `c.GenericOAuthenticator.client_id` and
//! `c.OAuthenticator.client_id` both work, the more specific one winning.
//! Here every OAuth option is an `Option` in each section, and
//! [`OAuthSettings::resolve`] layers them: the class's section over
//! `[OAuthenticator]` over the preset's defaults (which the auth crate
//! knows). The `Authenticator` options an OAuth section may set
//! (`allowed_users`, `allow_all`, ...) are copied into `[Authenticator]` at
//! load time by [`apply_inherited`], so the rest of the hub reads one place.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Config;

/// The OAuth classes ferrohub has (upstream's presets share one code path
/// here: they differ in defaults and a few URL options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthClass {
    /// `GenericOAuthenticator`: any OAuth2 / OpenID Connect provider.
    Generic,
    /// `GitHubOAuthenticator`.
    GitHub,
    /// `GitLabOAuthenticator`.
    GitLab,
    /// `GoogleOAuthenticator`.
    Google,
    /// `AzureAdOAuthenticator`.
    AzureAd,
}

impl OAuthClass {
    /// Every class, for error messages and lookups.
    pub const ALL: [Self; 5] = [
        Self::Generic,
        Self::GitHub,
        Self::GitLab,
        Self::Google,
        Self::AzureAd,
    ];

    /// Upstream's class name, also the TOML section's name.
    #[must_use]
    pub const fn class_name(self) -> &'static str {
        match self {
            Self::Generic => "GenericOAuthenticator",
            Self::GitHub => "GitHubOAuthenticator",
            Self::GitLab => "GitLabOAuthenticator",
            Self::Google => "GoogleOAuthenticator",
            Self::AzureAd => "AzureAdOAuthenticator",
        }
    }

    /// The `authenticator_class` values that select this class: upstream's
    /// entry point, its module path and the bare class name.
    #[must_use]
    pub const fn selectors(self) -> [&'static str; 4] {
        match self {
            Self::Generic => [
                "generic-oauth",
                "oauthenticator.generic.GenericOAuthenticator",
                "oauthenticator.GenericOAuthenticator",
                "GenericOAuthenticator",
            ],
            Self::GitHub => [
                "github",
                "oauthenticator.github.GitHubOAuthenticator",
                "oauthenticator.GitHubOAuthenticator",
                "GitHubOAuthenticator",
            ],
            Self::GitLab => [
                "gitlab",
                "oauthenticator.gitlab.GitLabOAuthenticator",
                "oauthenticator.GitLabOAuthenticator",
                "GitLabOAuthenticator",
            ],
            Self::Google => [
                "google",
                "oauthenticator.google.GoogleOAuthenticator",
                "oauthenticator.GoogleOAuthenticator",
                "GoogleOAuthenticator",
            ],
            Self::AzureAd => [
                "azuread",
                "oauthenticator.azuread.AzureAdOAuthenticator",
                "oauthenticator.AzureAdOAuthenticator",
                "AzureAdOAuthenticator",
            ],
        }
    }

    /// The class `authenticator_class` names, if it is an OAuth one.
    #[must_use]
    pub fn from_selector(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|class| class.selectors().contains(&value))
    }
}

/// Declares a section struct with the options every OAuth section shares,
/// plus the class's own.
macro_rules! oauth_section {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            /// The OAuth client id registered with the provider (default:
            /// `$OAUTH_CLIENT_ID`).
            pub client_id: Option<String>,
            /// The client secret (default: `$OAUTH_CLIENT_SECRET`).
            pub client_secret: Option<String>,
            /// The redirect URL registered with the provider (default: the
            /// hub's public URL + `oauth_callback`).
            pub oauth_callback_url: Option<String>,
            /// ferrohub only: the OpenID Connect issuer; its
            /// `.well-known/openid-configuration` fills the endpoints not set
            /// and gives the keys ID tokens are checked against.
            pub oidc_issuer: Option<String>,
            /// The provider's authorization endpoint.
            pub authorize_url: Option<String>,
            /// The provider's token endpoint.
            pub token_url: Option<String>,
            /// The provider's userinfo endpoint.
            pub userdata_url: Option<String>,
            /// Read the user's claims from the ID token instead of `userdata_url`.
            pub userdata_from_id_token: Option<bool>,
            /// The scopes asked for.
            pub scope: Option<Vec<String>>,
            /// The claim (or dotted path) holding the user name.
            pub username_claim: Option<String>,
            /// The name on the login button ("Sign in with ...").
            pub login_service: Option<String>,
            /// Hub groups (from the groups claim) whose members may log in.
            pub allowed_groups: Option<Vec<String>>,
            /// Groups whose members are admins (others lose admin).
            pub admin_groups: Option<Vec<String>>,
            /// Dotted path into `auth_state` holding the group list.
            pub auth_state_groups_key: Option<String>,
            /// Use PKCE (S256) in the code flow.
            pub enable_pkce: Option<bool>,
            /// Send the client credentials with HTTP Basic auth to `token_url`.
            pub basic_auth: Option<bool>,
            /// Extra parameters of the token request.
            pub token_params: Option<BTreeMap<String, String>>,
            /// Extra query parameters of the userdata request.
            pub userdata_params: Option<BTreeMap<String, String>>,
            /// How the access token goes to `userdata_url`: `header` or `url`.
            pub userdata_token_method: Option<String>,
            /// Extra query parameters of the authorization request.
            pub extra_authorize_params: Option<BTreeMap<String, String>>,
            /// Where logout sends the browser instead of the hub's login page.
            pub logout_redirect_url: Option<String>,
            /// The message of the page a user who may not log in sees.
            pub custom_403_message: Option<String>,
            /// `Authenticator.allowed_users`, set through this section.
            pub allowed_users: Option<Vec<String>>,
            /// `Authenticator.admin_users`, set through this section.
            pub admin_users: Option<Vec<String>>,
            /// `Authenticator.blocked_users`, set through this section.
            pub blocked_users: Option<Vec<String>>,
            /// `Authenticator.allow_all`, set through this section.
            pub allow_all: Option<bool>,
            /// `Authenticator.allow_existing_users` (default false for OAuth).
            pub allow_existing_users: Option<bool>,
            /// `Authenticator.manage_groups`, set through this section.
            pub manage_groups: Option<bool>,
            /// `Authenticator.enable_auth_state`, set through this section.
            pub enable_auth_state: Option<bool>,
            /// `Authenticator.auto_login`, set through this section.
            pub auto_login: Option<bool>,
            /// `Authenticator.auto_login_oauth2_authorize`, set through this section.
            pub auto_login_oauth2_authorize: Option<bool>,
            /// `Authenticator.refresh_pre_spawn` (default: `enable_auth_state`).
            pub refresh_pre_spawn: Option<bool>,
            /// `Authenticator.auth_refresh_age`, set through this section.
            pub auth_refresh_age: Option<u64>,
            $($(#[$fdoc])* pub $field: $ty,)*
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                // The client secret stays out of logs and panics.
                f.debug_struct(stringify!($name))
                    .field("client_id", &self.client_id)
                    .field("client_secret_set", &self.client_secret.is_some())
                    .field("oidc_issuer", &self.oidc_issuer)
                    .field("authorize_url", &self.authorize_url)
                    .finish_non_exhaustive()
            }
        }

        impl $name {
            /// The shared options of this section.
            fn shared(&self) -> Shared<'_> {
                Shared {
                    client_id: self.client_id.as_ref(),
                    client_secret: self.client_secret.as_ref(),
                    oauth_callback_url: self.oauth_callback_url.as_ref(),
                    oidc_issuer: self.oidc_issuer.as_ref(),
                    authorize_url: self.authorize_url.as_ref(),
                    token_url: self.token_url.as_ref(),
                    userdata_url: self.userdata_url.as_ref(),
                    userdata_from_id_token: self.userdata_from_id_token,
                    scope: self.scope.as_ref(),
                    username_claim: self.username_claim.as_ref(),
                    login_service: self.login_service.as_ref(),
                    allowed_groups: self.allowed_groups.as_ref(),
                    admin_groups: self.admin_groups.as_ref(),
                    auth_state_groups_key: self.auth_state_groups_key.as_ref(),
                    enable_pkce: self.enable_pkce,
                    basic_auth: self.basic_auth,
                    token_params: self.token_params.as_ref(),
                    userdata_params: self.userdata_params.as_ref(),
                    userdata_token_method: self.userdata_token_method.as_ref(),
                    extra_authorize_params: self.extra_authorize_params.as_ref(),
                    logout_redirect_url: self.logout_redirect_url.as_ref(),
                    custom_403_message: self.custom_403_message.as_ref(),
                    allowed_users: self.allowed_users.as_ref(),
                    admin_users: self.admin_users.as_ref(),
                    blocked_users: self.blocked_users.as_ref(),
                    allow_all: self.allow_all,
                    allow_existing_users: self.allow_existing_users,
                    manage_groups: self.manage_groups,
                    enable_auth_state: self.enable_auth_state,
                    auto_login: self.auto_login,
                    auto_login_oauth2_authorize: self.auto_login_oauth2_authorize,
                    refresh_pre_spawn: self.refresh_pre_spawn,
                    auth_refresh_age: self.auth_refresh_age,
                }
            }
        }
    };
}

oauth_section!(
    /// `[OAuthenticator]`: options every OAuth class shares.
    OAuthenticatorConfig {}
);

oauth_section!(
    /// `[GenericOAuthenticator]`.
    GenericOAuthenticatorConfig {
        /// Deprecated upstream (17): the groups claim in the userinfo; same as
        /// `auth_state_groups_key = "oauth_user.<claim>"`.
        claim_groups_key: Option<String>,
    }
);

oauth_section!(
    /// `[GitHubOAuthenticator]`.
    GitHubOAuthenticatorConfig {
        /// GitHub's base URL (default `https://github.com`, or `$GITHUB_URL`).
        github_url: Option<String>,
        /// GitHub's REST API URL (default from `github_url`).
        github_api: Option<String>,
    }
);

oauth_section!(
    /// `[GitLabOAuthenticator]`.
    GitLabOAuthenticatorConfig {
        /// GitLab's base URL (default `https://gitlab.com`, or `$GITLAB_URL`).
        gitlab_url: Option<String>,
        /// The REST API version (default 4).
        gitlab_api_version: Option<String>,
        /// GitLab's REST API URL (default from `gitlab_url`).
        gitlab_api: Option<String>,
    }
);

oauth_section!(
    /// `[GoogleOAuthenticator]`.
    GoogleOAuthenticatorConfig {
        /// Google's API base URL (default `https://www.googleapis.com`).
        google_api_url: Option<String>,
    }
);

oauth_section!(
    /// `[AzureAdOAuthenticator]`.
    AzureAdOAuthenticatorConfig {
        /// The Azure tenant the OAuth application is registered in (default
        /// `$AAD_TENANT_ID`); part of the endpoint URLs.
        tenant_id: Option<String>,
        /// The login host (default `https://login.microsoftonline.com`).
        graph_url: Option<String>,
    }
);

/// One section's shared options, borrowed.
struct Shared<'a> {
    client_id: Option<&'a String>,
    client_secret: Option<&'a String>,
    oauth_callback_url: Option<&'a String>,
    oidc_issuer: Option<&'a String>,
    authorize_url: Option<&'a String>,
    token_url: Option<&'a String>,
    userdata_url: Option<&'a String>,
    userdata_from_id_token: Option<bool>,
    scope: Option<&'a Vec<String>>,
    username_claim: Option<&'a String>,
    login_service: Option<&'a String>,
    allowed_groups: Option<&'a Vec<String>>,
    admin_groups: Option<&'a Vec<String>>,
    auth_state_groups_key: Option<&'a String>,
    enable_pkce: Option<bool>,
    basic_auth: Option<bool>,
    token_params: Option<&'a BTreeMap<String, String>>,
    userdata_params: Option<&'a BTreeMap<String, String>>,
    userdata_token_method: Option<&'a String>,
    extra_authorize_params: Option<&'a BTreeMap<String, String>>,
    logout_redirect_url: Option<&'a String>,
    custom_403_message: Option<&'a String>,
    allowed_users: Option<&'a Vec<String>>,
    admin_users: Option<&'a Vec<String>>,
    blocked_users: Option<&'a Vec<String>>,
    allow_all: Option<bool>,
    allow_existing_users: Option<bool>,
    manage_groups: Option<bool>,
    enable_auth_state: Option<bool>,
    auto_login: Option<bool>,
    auto_login_oauth2_authorize: Option<bool>,
    refresh_pre_spawn: Option<bool>,
    auth_refresh_age: Option<u64>,
}

/// The options of one OAuth class after layering its section over
/// `[OAuthenticator]`; `None` keeps the preset's default.
#[derive(Clone, Default, PartialEq, Eq)]
#[expect(missing_docs, reason = "each field is the option of the same name")]
pub struct OAuthSettings {
    pub class: Option<&'static str>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub oauth_callback_url: Option<String>,
    pub oidc_issuer: Option<String>,
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
    pub userdata_url: Option<String>,
    pub userdata_from_id_token: Option<bool>,
    pub scope: Option<Vec<String>>,
    pub username_claim: Option<String>,
    pub login_service: Option<String>,
    pub allowed_groups: Option<Vec<String>>,
    pub admin_groups: Option<Vec<String>>,
    pub auth_state_groups_key: Option<String>,
    pub enable_pkce: Option<bool>,
    pub basic_auth: Option<bool>,
    pub token_params: Option<BTreeMap<String, String>>,
    pub userdata_params: Option<BTreeMap<String, String>>,
    pub userdata_token_method: Option<String>,
    pub extra_authorize_params: Option<BTreeMap<String, String>>,
    pub logout_redirect_url: Option<String>,
    pub custom_403_message: Option<String>,
    /// `GenericOAuthenticator.claim_groups_key`.
    pub claim_groups_key: Option<String>,
    /// Class-specific URL options by name (`github_url`, `tenant_id`, ...).
    pub extra: BTreeMap<&'static str, String>,
}

impl std::fmt::Debug for OAuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthSettings")
            .field("class", &self.class)
            .field("client_id", &self.client_id)
            .field("client_secret_set", &self.client_secret.is_some())
            .field("oidc_issuer", &self.oidc_issuer)
            .finish_non_exhaustive()
    }
}

impl OAuthSettings {
    /// `class`'s options: its own section over `[OAuthenticator]`.
    #[must_use]
    pub fn resolve(config: &Config, class: OAuthClass) -> Self {
        let base = config.oauthenticator.shared();
        let mut extra = BTreeMap::new();
        let mut claim_groups_key = None;
        let own = match class {
            OAuthClass::Generic => {
                let c = &config.generic_oauthenticator;
                claim_groups_key.clone_from(&c.claim_groups_key);
                c.shared()
            }
            OAuthClass::GitHub => {
                let c = &config.github_oauthenticator;
                put(&mut extra, "github_url", c.github_url.as_ref());
                put(&mut extra, "github_api", c.github_api.as_ref());
                c.shared()
            }
            OAuthClass::GitLab => {
                let c = &config.gitlab_oauthenticator;
                put(&mut extra, "gitlab_url", c.gitlab_url.as_ref());
                put(
                    &mut extra,
                    "gitlab_api_version",
                    c.gitlab_api_version.as_ref(),
                );
                put(&mut extra, "gitlab_api", c.gitlab_api.as_ref());
                c.shared()
            }
            OAuthClass::Google => {
                let c = &config.google_oauthenticator;
                put(&mut extra, "google_api_url", c.google_api_url.as_ref());
                c.shared()
            }
            OAuthClass::AzureAd => {
                let c = &config.azure_ad_oauthenticator;
                put(&mut extra, "tenant_id", c.tenant_id.as_ref());
                put(&mut extra, "graph_url", c.graph_url.as_ref());
                c.shared()
            }
        };
        macro_rules! layer {
            ($field:ident) => {
                own.$field.or(base.$field).cloned()
            };
        }
        macro_rules! layer_copy {
            ($field:ident) => {
                own.$field.or(base.$field)
            };
        }
        Self {
            class: Some(class.class_name()),
            client_id: layer!(client_id),
            client_secret: layer!(client_secret),
            oauth_callback_url: layer!(oauth_callback_url),
            oidc_issuer: layer!(oidc_issuer),
            authorize_url: layer!(authorize_url),
            token_url: layer!(token_url),
            userdata_url: layer!(userdata_url),
            userdata_from_id_token: layer_copy!(userdata_from_id_token),
            scope: layer!(scope),
            username_claim: layer!(username_claim),
            login_service: layer!(login_service),
            allowed_groups: layer!(allowed_groups),
            admin_groups: layer!(admin_groups),
            auth_state_groups_key: layer!(auth_state_groups_key),
            enable_pkce: layer_copy!(enable_pkce),
            basic_auth: layer_copy!(basic_auth),
            token_params: layer!(token_params),
            userdata_params: layer!(userdata_params),
            userdata_token_method: layer!(userdata_token_method),
            extra_authorize_params: layer!(extra_authorize_params),
            logout_redirect_url: layer!(logout_redirect_url),
            custom_403_message: layer!(custom_403_message),
            claim_groups_key,
            extra,
        }
    }
}

fn put(extra: &mut BTreeMap<&'static str, String>, name: &'static str, value: Option<&String>) {
    if let Some(value) = value {
        extra.insert(name, value.clone());
    }
}

/// When `authenticator_class` is an OAuth class, copies the `Authenticator`
/// options its sections set into `[Authenticator]` (the class's section
/// over `[OAuthenticator]` over `[Authenticator]`, as traitlets resolves
/// them), and applies OAuthenticator's own defaults: `allow_existing_users`
/// false and `refresh_pre_spawn` = `enable_auth_state` unless set.
/// `refresh_pre_spawn_set` says whether `[Authenticator]` set it.
pub(crate) fn apply_inherited(config: &mut Config, refresh_pre_spawn_set: bool) {
    let Some(class) = OAuthClass::from_selector(&config.jupyterhub.authenticator_class) else {
        return;
    };
    let base = config.oauthenticator.shared();
    let own = match class {
        OAuthClass::Generic => config.generic_oauthenticator.shared(),
        OAuthClass::GitHub => config.github_oauthenticator.shared(),
        OAuthClass::GitLab => config.gitlab_oauthenticator.shared(),
        OAuthClass::Google => config.google_oauthenticator.shared(),
        OAuthClass::AzureAd => config.azure_ad_oauthenticator.shared(),
    };
    let auth = &mut config.authenticator;
    if let Some(v) = own.allowed_users.or(base.allowed_users) {
        auth.allowed_users.clone_from(v);
    }
    if let Some(v) = own.admin_users.or(base.admin_users) {
        auth.admin_users.clone_from(v);
    }
    if let Some(v) = own.blocked_users.or(base.blocked_users) {
        auth.blocked_users.clone_from(v);
    }
    if let Some(v) = own.allow_all.or(base.allow_all) {
        auth.allow_all = Some(v);
    }
    // OAuthenticator 16+: existing users are not allowed unless asked for.
    auth.allow_existing_users = own
        .allow_existing_users
        .or(base.allow_existing_users)
        .or(auth.allow_existing_users)
        .or(Some(false));
    if let Some(v) = own.manage_groups.or(base.manage_groups) {
        auth.manage_groups = v;
    }
    if let Some(v) = own.enable_auth_state.or(base.enable_auth_state) {
        auth.enable_auth_state = v;
    }
    if let Some(v) = own.auto_login.or(base.auto_login) {
        auth.auto_login = v;
    }
    if let Some(v) = own
        .auto_login_oauth2_authorize
        .or(base.auto_login_oauth2_authorize)
    {
        auth.auto_login_oauth2_authorize = v;
    }
    if let Some(v) = own.auth_refresh_age.or(base.auth_refresh_age) {
        auth.auth_refresh_age = v;
    }
    match own.refresh_pre_spawn.or(base.refresh_pre_spawn) {
        Some(v) => auth.refresh_pre_spawn = v,
        // OAuthenticator's default: refresh before a spawn when there are
        // tokens to refresh.
        None if !refresh_pre_spawn_set => auth.refresh_pre_spawn = auth.enable_auth_state,
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_class_section_wins_over_the_base_section() {
        let mut config = Config::default();
        config.jupyterhub.authenticator_class = "generic-oauth".into();
        config.oauthenticator.client_id = Some("base".into());
        config.oauthenticator.scope = Some(vec!["openid".into()]);
        config.generic_oauthenticator.client_id = Some("own".into());
        config.generic_oauthenticator.allowed_users = Some(vec!["ann".into()]);
        config.oauthenticator.enable_auth_state = Some(true);
        let s = OAuthSettings::resolve(&config, OAuthClass::Generic);
        assert_eq!(s.client_id.as_deref(), Some("own"));
        assert_eq!(s.scope, Some(vec!["openid".to_owned()]));
        apply_inherited(&mut config, false);
        assert_eq!(config.authenticator.allowed_users, ["ann"]);
        assert_eq!(config.authenticator.allow_existing_users, Some(false));
        assert!(config.authenticator.refresh_pre_spawn);
    }

    #[test]
    fn selectors_name_the_classes() {
        assert_eq!(
            OAuthClass::from_selector("oauthenticator.github.GitHubOAuthenticator"),
            Some(OAuthClass::GitHub)
        );
        assert_eq!(
            OAuthClass::from_selector("azuread"),
            Some(OAuthClass::AzureAd)
        );
        assert_eq!(OAuthClass::from_selector("pam"), None);
    }
}
