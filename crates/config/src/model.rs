//! The typed configuration tree: one struct per configurable class, with
//! upstream JupyterHub's class names as TOML section names and its trait names as
//! keys, and upstream's defaults.
//!
//! Every struct is `#[serde(default, deny_unknown_fields)]`: a missing key keeps its
//! default, an unknown key is an error (reported with the key's name by
//! [`crate::load`]). Adding a field here also needs a help line in `help.rs`; a
//! unit test fails until it has one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ldap::LdapAuthenticatorConfig;
use crate::profiles::{ByteSize, Profile};

/// The whole configuration of a hub.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[JupyterHub]`: the application itself.
    #[serde(rename = "JupyterHub")]
    pub jupyterhub: JupyterHubConfig,
    /// `[ConfigurableHTTPProxy]`: how the hub starts and talks to the proxy.
    #[serde(rename = "ConfigurableHTTPProxy")]
    pub proxy: ProxyConfig,
    /// `[Authenticator]`: who may log in, for every authenticator.
    #[serde(rename = "Authenticator")]
    pub authenticator: AuthenticatorConfig,
    /// `[DummyAuthenticator]`.
    #[serde(rename = "DummyAuthenticator")]
    pub dummy_authenticator: DummyAuthenticatorConfig,
    /// `[LocalAuthenticator]`: local UNIX accounts (PAM's base class upstream).
    #[serde(rename = "LocalAuthenticator")]
    pub local_authenticator: LocalAuthenticatorConfig,
    /// `[PAMAuthenticator]`.
    #[serde(rename = "PAMAuthenticator")]
    pub pam_authenticator: PamAuthenticatorConfig,
    /// `[SharedPasswordAuthenticator]`.
    #[serde(rename = "SharedPasswordAuthenticator")]
    pub shared_password_authenticator: SharedPasswordAuthenticatorConfig,
    /// `[OAuthenticator]`: options shared by every OAuth class.
    #[serde(rename = "OAuthenticator")]
    pub oauthenticator: crate::oauth::OAuthenticatorConfig,
    /// `[GenericOAuthenticator]`.
    #[serde(rename = "GenericOAuthenticator")]
    pub generic_oauthenticator: crate::oauth::GenericOAuthenticatorConfig,
    /// `[GitHubOAuthenticator]`.
    #[serde(rename = "GitHubOAuthenticator")]
    pub github_oauthenticator: crate::oauth::GitHubOAuthenticatorConfig,
    /// `[GitLabOAuthenticator]`.
    #[serde(rename = "GitLabOAuthenticator")]
    pub gitlab_oauthenticator: crate::oauth::GitLabOAuthenticatorConfig,
    /// `[GoogleOAuthenticator]`.
    #[serde(rename = "GoogleOAuthenticator")]
    pub google_oauthenticator: crate::oauth::GoogleOAuthenticatorConfig,
    /// `[AzureAdOAuthenticator]`.
    #[serde(rename = "AzureAdOAuthenticator")]
    pub azure_ad_oauthenticator: crate::oauth::AzureAdOAuthenticatorConfig,
    /// `[LDAPAuthenticator]` (jupyterhub-ldapauthenticator 2.x).
    #[serde(rename = "LDAPAuthenticator")]
    pub ldap_authenticator: LdapAuthenticatorConfig,
    /// `[Spawner]`: settings shared by every spawner.
    #[serde(rename = "Spawner")]
    pub spawner: SpawnerConfig,
    /// `[LocalProcessSpawner]`.
    #[serde(rename = "LocalProcessSpawner")]
    pub local_process_spawner: LocalProcessSpawnerConfig,
    /// `[SimpleLocalProcessSpawner]`.
    #[serde(rename = "SimpleLocalProcessSpawner")]
    pub simple_local_process_spawner: SimpleLocalProcessSpawnerConfig,
    /// `[SlurmSpawner]` (batchspawner 1.3).
    #[serde(rename = "SlurmSpawner")]
    pub slurm_spawner: crate::slurm::SlurmSpawnerConfig,
    /// `[DockerSpawner]` (dockerspawner 14's options).
    #[serde(rename = "DockerSpawner")]
    pub docker_spawner: crate::docker::DockerSpawnerConfig,
    /// `[SystemdSpawner]` (systemdspawner 1.0's options).
    #[serde(rename = "SystemdSpawner")]
    pub systemd_spawner: crate::systemd::SystemdSpawnerConfig,
    /// `[SudoSpawner]` (sudospawner 1.0's options).
    #[serde(rename = "SudoSpawner")]
    pub sudo_spawner: crate::sudo::SudoSpawnerConfig,
}

/// `[JupyterHub]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JupyterHubConfig {
    /// Public URL the proxy listens on; its path is the base URL. Default `http://:8000`.
    pub bind_url: String,
    /// Where the hub itself listens; empty means `http://{hub_ip}:{hub_port}{base_url}hub/`.
    pub hub_bind_url: String,
    /// Hub listen address (default `127.0.0.1`).
    pub hub_ip: String,
    /// Hub listen port (default 8081).
    pub hub_port: u16,
    /// How the proxy and servers reach the hub; empty means derived from the bind address.
    pub hub_connect_url: String,
    /// Permissions of the hub's unix socket (`hub_bind_url = "http+unix://..."`),
    /// default 0o600 (384): only the hub's user, as upstream.
    pub hub_socket_mode: u32,
    /// PEM certificate chain of the public port: the proxy serves HTTPS (HTTP/2
    /// by ALPN) with it, and `bind_url` becomes `https://`, as upstream.
    pub ssl_cert: String,
    /// PEM private key (unencrypted) of `ssl_cert`; both or neither.
    pub ssl_key: String,
    /// The URL browsers use to reach the hub, when it differs from what the
    /// request says (several proxies in front); used for links, redirects,
    /// OAuth callbacks and the Secure cookie flag. Empty: taken from each request.
    pub public_url: String,
    /// Addresses of proxies in front (nginx, a load balancer) whose entries in
    /// `X-Forwarded-For` are skipped when finding the client's address.
    pub trusted_downstream_ips: Vec<String>,
    /// Each user's server on its own host: `https://hub.example.org[:port]`
    /// puts alice's at `https://alice.hub.example.org/user/alice/`, so one
    /// user's pages cannot read another's cookies or call their server.
    /// Needs wildcard DNS (and a wildcard certificate). Empty: one host.
    pub subdomain_host: String,
    /// How a name becomes a host under `subdomain_host`: `"idna"` (default,
    /// always a valid label) or `"legacy"` (upstream's older escaping).
    pub subdomain_hook: String,
    /// Database URL (default `sqlite:///ferrohub.sqlite`; an upstream JupyterHub 6.x
    /// SQLite database can be named here and is adopted). A relative SQLite path (`sqlite:///relative.sqlite`,
    /// three slashes) is left as given and resolves from the working directory at use
    /// time, as upstream; `sqlite:////abs/path.sqlite` is absolute.
    pub db_url: String,
    /// Upgrade the database schema at start-up instead of refusing.
    pub upgrade_db: bool,
    /// File holding the cookie secret as hex (default `ferrohub_cookie_secret`). A relative path resolves from the working directory at use time.
    pub cookie_secret_file: String,
    /// How long a login cookie is accepted (default 14 days).
    pub cookie_max_age_days: f64,
    /// Write the hub's pid here when set; a relative path resolves from the working
    /// directory at use time.
    pub pid_file: String,
    /// `pam` (default), `shared-password`, `ldap`, `null` or `dummy`; also the
    /// upstream class names.
    pub authenticator_class: String,
    /// `localprocess` (default) or `simple`; also the upstream class names.
    pub spawner_class: String,
    /// Seconds between proxy route reconciliation and activity collection (default 300).
    pub last_activity_interval: u64,
    /// After login, go to the user's server (starting it) rather than the home page.
    pub redirect_to_server: bool,
    /// Where `{hub}` and a login without `next` send users (empty: upstream's
    /// default, their server or the home page by `redirect_to_server`). Upstream
    /// also takes a Python callable here; a TOML file can only give a URL.
    pub default_url: String,
    /// Stop all of a user's running servers when they log out (upstream's default false).
    pub shutdown_on_logout: bool,
    /// Stop all user servers when the hub shuts down (default true).
    pub cleanup_servers: bool,
    /// Stop the proxy when the hub shuts down, if the hub started it (default true).
    pub cleanup_proxy: bool,
    /// Log level: `debug`, `info` (default), `warn` (or `warning`), `error`. [`crate::load`]
    /// accepts any letter case (upstream configs often say `DEBUG`) and stores it lowercased.
    pub log_level: String,
    /// Let users run several named servers besides their default one.
    pub allow_named_servers: bool,
    /// Most named servers per user (0 = no limit); the default server does not count.
    pub named_server_limit_per_user: u32,
    /// Named server `/hub/user-redirect/` opens when named servers are on (upstream ignores it otherwise).
    pub default_server_name: String,
    /// Seconds after which the "not running" page starts the server by itself (0 = never; upstream's default).
    pub implicit_spawn_seconds: f64,
    /// Page size of paginated API lists when the client asks for pagination.
    pub api_page_default_limit: u32,
    /// Largest page any API list returns.
    pub api_page_max_limit: u32,
    /// Most servers starting at once; beyond it spawn requests get 429 (0 = no limit).
    pub concurrent_spawn_limit: u32,
    /// Most servers running or starting at once; beyond it spawn requests get 429 (0 = no limit).
    pub active_server_limit: u32,
    /// Longest lifetime a token requested through the API may have, in seconds (0 = no limit).
    pub token_expires_in_max_seconds: u64,
    /// Lifetime of tokens issued by the OAuth provider, in seconds (0 = the login cookie's lifetime).
    pub oauth_token_expires_in: u64,
    /// Require the `read:metrics` scope for `/hub/metrics`.
    pub authenticate_prometheus: bool,
    /// Seconds within which repeated activity of a token or user is not written again.
    pub activity_resolution: u64,
    /// Seconds between health checks of services that have a URL.
    pub service_check_interval: u64,
    /// Tokens given in configuration, mapped to the user who owns them.
    pub api_tokens: BTreeMap<String, String>,
    /// Services: external processes with an API token, or managed ones the hub runs.
    pub services: Vec<ServiceConfig>,
    /// Roles: scopes granted to users, groups and services.
    pub load_roles: Vec<RoleConfig>,
    /// Deployment-specific `custom:` scopes, by name.
    pub custom_scopes: BTreeMap<String, CustomScopeConfig>,
    /// Scopes added to the default `user` role.
    pub extra_user_scopes: Vec<String>,
    /// Directories searched for page templates before the built-in ones.
    pub template_paths: Vec<String>,
    /// Extra variables every page template sees.
    pub template_vars: BTreeMap<String, serde_json::Value>,
    /// Image served at `{hub}logo` and shown in the page header (empty: the built-in logo).
    pub logo_file: String,
}

/// One entry of `JupyterHub.services`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    /// The service's name: its URL is `{base_url}services/<name>/`.
    pub name: String,
    /// Where the service listens (`http://127.0.0.1:10101`); empty means it has no web endpoint.
    pub url: String,
    /// Command the hub runs and keeps running; empty means an external service.
    pub command: Vec<String>,
    /// Extra environment of a managed service.
    pub environment: BTreeMap<String, String>,
    /// Working directory of a managed service.
    pub cwd: String,
    /// System user a managed service runs as (default: the hub's user).
    pub user: String,
    /// The service's API token; generated for managed services when empty.
    pub api_token: String,
    /// Deprecated: grants the `admin` role.
    pub admin: bool,
    /// OAuth client id (default `service-<name>`).
    pub oauth_client_id: String,
    /// OAuth redirect URI (default `{base_url}services/<name>/oauth_callback` when `url` is set).
    pub oauth_redirect_uri: String,
    /// Most scopes tokens issued to this service's OAuth client may carry.
    pub oauth_client_allowed_scopes: Vec<String>,
    /// Skip the OAuth confirmation page for this service.
    pub oauth_no_confirm: bool,
    /// Free-form information shown in the API.
    pub info: BTreeMap<String, serde_json::Value>,
    /// List the service on users' home pages.
    pub display: bool,
    /// Seconds to wait for the service to answer at start-up.
    pub timeout: u64,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            url: String::new(),
            command: Vec::new(),
            environment: BTreeMap::new(),
            cwd: String::new(),
            user: String::new(),
            api_token: String::new(),
            admin: false,
            oauth_client_id: String::new(),
            oauth_redirect_uri: String::new(),
            oauth_client_allowed_scopes: Vec::new(),
            oauth_no_confirm: false,
            info: BTreeMap::new(),
            display: true,
            timeout: 30,
        }
    }
}

/// One entry of `JupyterHub.load_roles`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoleConfig {
    /// Role name (`^[a-z][a-z0-9-_~.]{1,253}[a-z0-9]$`).
    pub name: String,
    /// What the role is for.
    pub description: String,
    /// Scopes the role grants; unset keeps a default role's scopes.
    pub scopes: Option<Vec<String>>,
    /// Users holding the role (replaces the members when set).
    pub users: Option<Vec<String>>,
    /// Groups holding the role (replaces the members when set).
    pub groups: Option<Vec<String>>,
    /// Services holding the role (replaces the members when set).
    pub services: Option<Vec<String>>,
}

/// One entry of `JupyterHub.custom_scopes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CustomScopeConfig {
    /// What the scope allows (required by upstream).
    pub description: String,
    /// Other custom scopes this one implies.
    pub subscopes: Vec<String>,
}

/// The largest `cookie_max_age_days` accepted (about 2,700 years). Upstream
/// has no limit, but the lifetime in seconds is added to timestamps, and a
/// larger value would overflow them (an `f64` turns into `i64::MAX`).
pub const MAX_COOKIE_MAX_AGE_DAYS: f64 = 1_000_000.0;

impl JupyterHubConfig {
    /// `cookie_max_age_days` in whole seconds: the login cookie's lifetime and
    /// the default lifetime of OAuth tokens, as upstream. Loading refuses
    /// values outside (0, [`MAX_COOKIE_MAX_AGE_DAYS`]]; a value set in code is
    /// clamped to that range.
    #[must_use]
    pub fn cookie_max_age_secs(&self) -> i64 {
        let secs = self.cookie_max_age_days.clamp(0.0, MAX_COOKIE_MAX_AGE_DAYS) * 86_400.0;
        #[allow(
            clippy::cast_possible_truncation,
            reason = "clamped to at most 8.64e10 seconds; dropping the fraction is intended"
        )]
        let secs = secs as i64;
        secs
    }
}

impl Default for JupyterHubConfig {
    fn default() -> Self {
        Self {
            bind_url: "http://:8000".into(),
            hub_bind_url: String::new(),
            hub_ip: "127.0.0.1".into(),
            hub_port: 8081,
            hub_connect_url: String::new(),
            hub_socket_mode: 0o600,
            ssl_cert: String::new(),
            ssl_key: String::new(),
            public_url: String::new(),
            trusted_downstream_ips: Vec::new(),
            subdomain_host: String::new(),
            subdomain_hook: "idna".into(),
            db_url: "sqlite:///ferrohub.sqlite".into(),
            upgrade_db: false,
            cookie_secret_file: "ferrohub_cookie_secret".into(),
            cookie_max_age_days: 14.0,
            pid_file: String::new(),
            authenticator_class: "pam".into(),
            spawner_class: "localprocess".into(),
            last_activity_interval: 300,
            redirect_to_server: true,
            default_url: String::new(),
            shutdown_on_logout: false,
            cleanup_servers: true,
            cleanup_proxy: true,
            log_level: "info".into(),
            allow_named_servers: false,
            named_server_limit_per_user: 0,
            default_server_name: String::new(),
            implicit_spawn_seconds: 0.0,
            api_page_default_limit: 50,
            api_page_max_limit: 200,
            concurrent_spawn_limit: 100,
            active_server_limit: 0,
            token_expires_in_max_seconds: 0,
            oauth_token_expires_in: 0,
            authenticate_prometheus: true,
            activity_resolution: 30,
            service_check_interval: 60,
            api_tokens: BTreeMap::new(),
            services: Vec::new(),
            load_roles: Vec::new(),
            custom_scopes: BTreeMap::new(),
            extra_user_scopes: Vec::new(),
            template_paths: Vec::new(),
            template_vars: BTreeMap::new(),
            logo_file: String::new(),
        }
    }
}

/// `[ConfigurableHTTPProxy]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyConfig {
    /// The proxy's REST API (default `http://127.0.0.1:8001`).
    pub api_url: String,
    /// `CONFIGPROXY_AUTH_TOKEN`; empty means taken from that environment variable,
    /// or generated at each start when the hub starts the proxy.
    pub auth_token: String,
    /// Command that starts the proxy (default `["ferrohub-proxy"]`, found beside the hub binary first).
    pub command: Vec<String>,
    /// Start the proxy (default true); false means it runs externally.
    pub should_start: bool,
    /// Where the started proxy's pid is written (default `ferrohub-proxy.pid`). A relative path resolves from the working directory at use time.
    pub pid_file: String,
    /// Proxy log level (default `info`).
    pub log_level: String,
    /// Seconds between checks that a proxy the hub started is still running
    /// (default 5, as upstream); a dead one is started again and its routes restored.
    pub check_running_interval: u64,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            api_url: "http://127.0.0.1:8001".into(),
            auth_token: String::new(),
            command: vec!["ferrohub-proxy".into()],
            should_start: true,
            pid_file: "ferrohub-proxy.pid".into(),
            log_level: "info".into(),
            check_running_interval: 5,
        }
    }
}

/// `[Authenticator]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthenticatorConfig {
    /// Users who are admins (created at start-up).
    pub admin_users: Vec<String>,
    /// Users who may log in (created at start-up); empty means nobody unless `allow_all`.
    pub allowed_users: Vec<String>,
    /// Users who may never log in.
    pub blocked_users: Vec<String>,
    /// Anyone who authenticates may log in. Default false (true for DummyAuthenticator
    /// when `allowed_users` is empty, as upstream).
    pub allow_all: Option<bool>,
    /// Users already in the database may log in; default true iff `allowed_users` is set.
    pub allow_existing_users: Option<bool>,
    /// Keep what the authenticator returns about a login (`auth_state`, e.g.
    /// OAuth tokens) in the database, encrypted with the keys of
    /// `JUPYTERHUB_CRYPT_KEY`; the hub refuses to start without a valid key.
    /// Default false: each login then clears any stored `auth_state`.
    pub enable_auth_state: bool,
    /// Begin the login at once instead of showing the login page: the browser
    /// goes to the authenticator's own login URL (an external service's, such
    /// as OAuth's). For a form authenticator (PAM, dummy), whose login URL is
    /// the login page itself, the request must already carry the credentials,
    /// which a form never does, so the page answers 403, as upstream.
    pub auto_login: bool,
    /// When a signed-out browser arrives at `/hub/api/oauth2/authorize` (an
    /// application using the hub as its OAuth provider), send it straight to
    /// the authenticator's own login (e.g. `oauth_login`) instead of the
    /// login page, coming back to the authorization afterwards.
    pub auto_login_oauth2_authorize: bool,
    /// ferrohub only: after this many failed logins in a row for one user name,
    /// further attempts for that name are refused without checking the password,
    /// for a delay that doubles with each further failure (default 5; 0 turns the
    /// per-user backoff off). Upstream has no such limit.
    pub login_failures_per_user: u32,
    /// ferrohub only: the same from one client address (default 100; 0 turns it
    /// off). Much higher than per user, because a whole campus may log in from one
    /// NAT address; it stops one client trying many user names.
    pub login_failures_per_address: u32,
    /// ferrohub only: the first backoff delay in seconds (default 1); each further
    /// failure doubles it.
    pub login_backoff_initial_seconds: f64,
    /// ferrohub only: the longest backoff delay in seconds (default 300).
    pub login_backoff_max_seconds: f64,
    /// Maps the name a back end vouches for (after lowercasing) to the hub user
    /// name, as upstream's `normalize_username` does.
    pub username_map: BTreeMap<String, String>,
    /// A regular expression every user name must match from its start (Python's
    /// `re.match`); empty allows any valid name. Checked at login and when users
    /// are created through the API.
    pub username_pattern: String,
    /// Seconds after which a user's authentication is checked again with the
    /// back end (OAuth: the access token refreshed, or a new login asked
    /// for) on their next request; 0 turns the timed check off. Default 300.
    pub auth_refresh_age: u64,
    /// Check the user's authentication with the back end before starting
    /// their server; if it cannot be refreshed, the start fails until they
    /// log in again (so a server never gets an expired token).
    pub refresh_pre_spawn: bool,
    /// The same before a user stops their own server (an admin's stop always
    /// proceeds).
    pub refresh_pre_stop: bool,
    /// Let the authenticator decide group membership: at each login (and
    /// refresh) the user's groups become exactly the back end's list (OAuth
    /// group claims), groups created as needed. Group changes through the API
    /// are then overwritten at the next login.
    pub manage_groups: bool,
}

impl Default for AuthenticatorConfig {
    fn default() -> Self {
        Self {
            admin_users: Vec::new(),
            allowed_users: Vec::new(),
            blocked_users: Vec::new(),
            allow_all: None,
            allow_existing_users: None,
            enable_auth_state: false,
            auto_login: false,
            auto_login_oauth2_authorize: false,
            login_failures_per_user: 5,
            login_failures_per_address: 100,
            login_backoff_initial_seconds: 1.0,
            login_backoff_max_seconds: 300.0,
            username_map: BTreeMap::new(),
            username_pattern: String::new(),
            auth_refresh_age: 300,
            refresh_pre_spawn: false,
            refresh_pre_stop: false,
            manage_groups: false,
        }
    }
}

/// `[DummyAuthenticator]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DummyAuthenticatorConfig {
    /// If set, every user must give this password.
    pub password: String,
}

/// `[LocalAuthenticator]`: the options upstream's `LocalAuthenticator` gives
/// every authenticator of local UNIX accounts (here: PAM).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalAuthenticatorConfig {
    /// UNIX groups whose members may log in (primary or supplementary), in
    /// addition to `allowed_users`.
    pub allowed_groups: Vec<String>,
    /// Create a missing local account when a user is added to the hub (through
    /// the API, a first login or at start-up), with `add_user_cmd`.
    pub create_system_users: bool,
    /// The command that creates an account; `USERNAME` in any argument is
    /// replaced by the name, and the name is appended (upstream's Linux
    /// default: `adduser -q --gecos "" --disabled-password`).
    pub add_user_cmd: Vec<String>,
    /// Uids for created accounts by user name (passed as `--uid <uid>`).
    pub uids: BTreeMap<String, u32>,
}

impl Default for LocalAuthenticatorConfig {
    fn default() -> Self {
        Self {
            allowed_groups: Vec::new(),
            create_system_users: false,
            // Upstream's list as is: `""` is two quote characters, since
            // the command runs without a shell.
            add_user_cmd: ["adduser", "-q", "--gecos", "\"\"", "--disabled-password"]
                .map(String::from)
                .to_vec(),
            uids: BTreeMap::new(),
        }
    }
}

/// `[SharedPasswordAuthenticator]` (upstream 5.3): one password for all users,
/// another for the admins.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SharedPasswordAuthenticatorConfig {
    /// The password of every non-admin user (at least 8 characters); unset:
    /// only admins can log in.
    pub user_password: Option<String>,
    /// The password of the users in `Authenticator.admin_users` (at least 32
    /// characters, not `user_password`); unset: admins cannot log in.
    pub admin_password: Option<String>,
}

impl std::fmt::Debug for SharedPasswordAuthenticatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Passwords stay out of logs and panics.
        f.debug_struct("SharedPasswordAuthenticatorConfig")
            .field("user_password_set", &self.user_password.is_some())
            .field("admin_password_set", &self.admin_password.is_some())
            .finish()
    }
}

/// `[PAMAuthenticator]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PamAuthenticatorConfig {
    /// PAM service (default `login`).
    pub service: String,
    /// Also run the PAM account stack (default true).
    pub check_account: bool,
    /// UNIX groups whose members are admins.
    pub admin_groups: Vec<String>,
    /// Threads that talk to PAM (default 4, as upstream): at most this many PAM
    /// conversations run at once, later logins wait for a free thread.
    pub executor_threads: u32,
    /// The text encoding used with PAM; only `utf8` (upstream's default) is
    /// supported, since user names and passwords arrive as UTF-8.
    pub encoding: String,
    /// Round-trip the name through the user database (name to uid to name), so
    /// that every spelling PAM accepts for an account maps to one hub user;
    /// replaces lowercasing (`username_map` still applies).
    pub pam_normalize_username: bool,
    /// Open a PAM session (service `service`) for the user when a server
    /// starts and close it when it stops (default false, as upstream since
    /// 2.2); the first failure turns sessions off.
    pub open_sessions: bool,
}

impl Default for PamAuthenticatorConfig {
    fn default() -> Self {
        Self {
            service: "login".into(),
            check_account: true,
            admin_groups: Vec::new(),
            executor_threads: 4,
            encoding: "utf8".into(),
            pam_normalize_username: false,
            open_sessions: false,
        }
    }
}

/// `[Spawner]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpawnerConfig {
    /// The command of the single-user server (default `["jupyterhub-singleuser"]`).
    pub cmd: Vec<String>,
    /// Extra arguments after `cmd`.
    pub args: Vec<String>,
    /// Extra environment, applied last.
    pub environment: BTreeMap<String, String>,
    /// Hub environment variables passed through (upstream's LocalProcessSpawner list).
    pub env_keep: Vec<String>,
    /// ferrohub's form of upstream's `Spawner.auth_state_hook` (a Python
    /// callable there), for its common use: environment variable name to an
    /// `auth_state` field (a dotted path such as `oauth_user.email` reaches
    /// into nested objects). A field that is missing sets nothing; a string
    /// is passed as is, any other JSON value as JSON text.
    pub auth_state_env: BTreeMap<String, String>,
    /// Address the server binds (default `127.0.0.1`).
    pub ip: String,
    /// Port the server binds; 0 (default) picks a free one.
    pub port: u16,
    /// Seconds `start()` may take (default 60).
    pub start_timeout: u64,
    /// Seconds the server may take to answer HTTP after start (default 30).
    pub http_timeout: u64,
    /// Seconds between liveness polls (default 30).
    pub poll_interval: u64,
    /// `JUPYTERHUB_ROOT_DIR`; `~` and `{username}` expanded.
    pub notebook_dir: String,
    /// `JUPYTERHUB_DEFAULT_URL`, e.g. `/lab`.
    pub default_url: String,
    /// Set `JUPYTERHUB_DEBUG=1` for the server.
    pub debug: bool,
    /// An HTML snippet of form fields (upstream's trait): when set, the spawn
    /// page shows it and starts the server with the submitted fields as
    /// `user_options` (each a list of strings, upstream's passthrough).
    pub options_form: String,
    /// KubeSpawner's profile list: choices shown on the spawn page, each
    /// overriding some of these settings; `user_options` is `{"profile": slug}`.
    pub profile_list: Vec<Profile>,
    /// `MEM_LIMIT` for the server, in bytes (`"1G"` allowed); the local
    /// spawners only announce it, as upstream's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_limit: Option<ByteSize>,
    /// `CPU_LIMIT` for the server, in cores; announced only, as upstream's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_limit: Option<f64>,
    /// `MEM_GUARANTEE` for the server, in bytes; announced only, as upstream's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_guarantee: Option<ByteSize>,
    /// `CPU_GUARANTEE` for the server, in cores; announced only, as upstream's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_guarantee: Option<f64>,
}

impl SpawnerConfig {
    /// Whether the spawn page asks before starting: an options form or a
    /// profile list is configured (upstream spawns at once otherwise).
    #[must_use]
    pub fn has_options_form(&self) -> bool {
        !self.options_form.trim().is_empty() || !self.profile_list.is_empty()
    }
}

impl Default for SpawnerConfig {
    fn default() -> Self {
        Self {
            cmd: vec!["jupyterhub-singleuser".into()],
            args: Vec::new(),
            environment: BTreeMap::new(),
            auth_state_env: BTreeMap::new(),
            env_keep: [
                "CONDA_DEFAULT_ENV",
                "CONDA_ROOT",
                "JUPYTERHUB_SINGLEUSER_APP",
                "LANG",
                "LC_ALL",
                "LD_LIBRARY_PATH",
                "PATH",
                "PYTHONPATH",
                "VIRTUAL_ENV",
            ]
            .map(String::from)
            .to_vec(),
            ip: "127.0.0.1".into(),
            port: 0,
            start_timeout: 60,
            http_timeout: 30,
            poll_interval: 30,
            notebook_dir: String::new(),
            default_url: String::new(),
            debug: false,
            options_form: String::new(),
            profile_list: Vec::new(),
            mem_limit: None,
            cpu_limit: None,
            mem_guarantee: None,
            cpu_guarantee: None,
        }
    }
}

/// `[LocalProcessSpawner]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalProcessSpawnerConfig {
    /// Seconds to wait after SIGINT before SIGTERM (default 30).
    pub interrupt_timeout: u64,
    /// Seconds to wait after SIGTERM before SIGKILL (default 30).
    pub term_timeout: u64,
    /// Seconds to wait after SIGKILL (default 5).
    pub kill_timeout: u64,
    /// Wrap the command, e.g. `["bash", "-l", "-c"]`.
    pub shell_cmd: Vec<String>,
    /// Lowest uid a server may run as (default 1000, Debian's `UID_MIN`);
    /// ferrohub's own option, not upstream's. Uid 0 is refused whatever it says.
    pub min_uid: u32,
}

impl Default for LocalProcessSpawnerConfig {
    fn default() -> Self {
        Self {
            interrupt_timeout: 30,
            term_timeout: 30,
            kill_timeout: 5,
            shell_cmd: Vec::new(),
            min_uid: 1000,
        }
    }
}

/// `[SimpleLocalProcessSpawner]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimpleLocalProcessSpawnerConfig {
    /// Home directory of each user (default `/tmp/{username}`).
    pub home_dir_template: String,
}

impl Default for SimpleLocalProcessSpawnerConfig {
    fn default() -> Self {
        Self {
            home_dir_template: "/tmp/{username}".into(),
        }
    }
}
