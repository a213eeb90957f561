//! One line of help per option, shown by `generate_config`. This table is the one
//! place to edit when adding an option; a test fails if an option has no line here
//! or a line names an option that does not exist.

/// `(class, option, help)`, grouped by class in [`crate::Config`] order.
#[rustfmt::skip] // one line per option reads as a table
pub(crate) const HELP: &[(&str, &str, &str)] = &[
    // [JupyterHub]
    ("JupyterHub", "bind_url", "Public URL the proxy listens on; an empty host means all interfaces and the path is the base URL (e.g. http://:8000/jh/)."),
    ("JupyterHub", "hub_bind_url", "URL the hub itself listens on (its path is always {base_url}hub/), http://host:port or a unix socket as http+unix://%2Fpath%2Fto%2Fhub.sock (unix+http:// is read the same); empty means http://{hub_ip}:{hub_port}."),
    ("JupyterHub", "hub_ip", "Address the hub listens on when hub_bind_url is empty; an empty string means all interfaces."),
    ("JupyterHub", "hub_port", "Port the hub listens on when hub_bind_url is empty."),
    ("JupyterHub", "hub_connect_url", "URL the proxy and single-user servers use to reach the hub (http://host:port or http+unix://...); empty means derived from where the hub listens (its socket, for a unix hub_bind_url)."),
    ("JupyterHub", "hub_socket_mode", "Permissions of the hub's unix socket when hub_bind_url is http+unix://<percent-encoded path> (default 0o600, i.e. 384: the hub's user only); the proxy and servers must be able to connect to it. Keep the socket's path lower case: jupyterhub-singleuser's HTTP client lowercases it."),
    ("JupyterHub", "ssl_cert", "PEM certificate chain for the public port: the proxy then serves HTTPS (HTTP/2 by ALPN) and bind_url's scheme becomes https, as upstream; set ssl_key too."),
    ("JupyterHub", "ssl_key", "PEM private key (unencrypted) of ssl_cert; set both or neither."),
    ("JupyterHub", "public_url", "Full public URL of the hub including base_url (e.g. https://hub.example.org/jupyter/), when several proxies in front make the request's own scheme and host wrong; used for redirects, OAuth callbacks and the Secure cookie flag. Empty: taken from each request."),
    ("JupyterHub", "trusted_downstream_ips", "IP addresses of proxies in front of the hub (nginx, a load balancer); their X-Forwarded-For entries are skipped when finding the client's address (login throttling, logs)."),
    ("JupyterHub", "subdomain_host", "Run each user's server on its own host under this one, e.g. https://hub.example.org puts alice's at https://alice.hub.example.org/user/alice/ (cookies and scripts of one user's server never reach another's); needs wildcard DNS and, for https, a wildcard certificate. https:// is added when no scheme is given; no path. Empty: one host for all."),
    ("JupyterHub", "subdomain_hook", "How a name becomes a host under subdomain_host: \"idna\" (default: the name if it is a valid DNS label, else its IDNA form, else a hash; services at <name>--service.<domain>) or \"legacy\" (upstream's deprecated escaping; all services at services.<domain>)."),
    ("JupyterHub", "db_url", "Database URL (SQLAlchemy spelling): sqlite:///relative.sqlite resolves from the working directory, sqlite:////abs/path.sqlite is absolute; also postgresql://user:pw@host/db and mysql+pymysql://user:pw@host/db (MySQL/MariaDB)."),
    ("JupyterHub", "upgrade_db", "Upgrade the database schema at start-up instead of refusing to start on an old schema."),
    ("JupyterHub", "cookie_secret_file", "File holding the hex cookie secret, created (mode 0600) if missing; relative to the working directory."),
    ("JupyterHub", "cookie_max_age_days", "Days a login cookie stays valid; greater than 0, at most 1000000."),
    ("JupyterHub", "pid_file", "Write the hub's process id to this file; empty means do not write one."),
    ("JupyterHub", "authenticator_class", "Who can log in: \"pam\" (system accounts), \"shared-password\" (one shared password, another for admins), \"ldap\" (an LDAP directory, [LDAPAuthenticator]), \"null\" (no login; API tokens only), \"dummy\" (anyone; testing only), or an OAuth2 / OpenID Connect provider: \"generic-oauth\", \"github\", \"gitlab\", \"google\", \"azuread\" (options in [GenericOAuthenticator], [GitHubOAuthenticator], ... and [OAuthenticator]); upstream class names are accepted too."),
    ("JupyterHub", "spawner_class", "How user servers start: \"localprocess\" (as the user's system account), \"simple\" (as the hub's user; testing only), \"docker\" (in containers, options in [DockerSpawner]; needs the cargo feature docker, on by default), \"slurm\" (as Slurm batch jobs, options in [SlurmSpawner]; needs the cargo feature slurm, on by default), \"systemd\" (as transient systemd units, options in [SystemdSpawner]; needs the cargo feature systemd, on by default) or \"sudo\" (a hub without root starts servers as the users through a sudo mediator, options in [SudoSpawner]; see docs/non-root-hub.md); upstream class names are accepted too."),
    ("JupyterHub", "last_activity_interval", "Seconds between checks of the proxy's routes and collection of user activity."),
    ("JupyterHub", "default_url", "Where /hub/ and a login without ?next= send users, e.g. /hub/home (empty: their server or the home page, by redirect_to_server)."),
    ("JupyterHub", "shutdown_on_logout", "Stop all of a user's running servers when they log out."),
    ("JupyterHub", "redirect_to_server", "After login, send users to their own server (starting it) rather than to the home page."),
    ("JupyterHub", "cleanup_servers", "Stop all user servers when the hub shuts down."),
    ("JupyterHub", "cleanup_proxy", "Stop the proxy when the hub shuts down, if the hub started it."),
    ("JupyterHub", "log_level", "Log level: debug, info, warn (or warning) or error."),
    ("JupyterHub", "allow_named_servers", "Let users run several named servers (/user/<name>/<server>/) besides their default one."),
    ("JupyterHub", "named_server_limit_per_user", "Most named servers a user may have; 0 means no limit. The default server does not count."),
    ("JupyterHub", "default_server_name", "Named server that /hub/user-redirect/ opens (and starts) when named servers are on; empty means the default server. Ignored, with a warning, without allow_named_servers."),
    ("JupyterHub", "implicit_spawn_seconds", "Seconds after which the page for a server that is not running starts it by itself, with a visible countdown; 0 (the default) means only the Launch button starts it."),
    ("JupyterHub", "api_page_default_limit", "Items per page of paginated API lists when the client does not give a limit."),
    ("JupyterHub", "api_page_max_limit", "Most items any API list returns at once."),
    ("JupyterHub", "concurrent_spawn_limit", "Most servers starting at the same time; further spawn requests get 429 Too Many Requests. 0 means no limit."),
    ("JupyterHub", "active_server_limit", "Most servers running or starting at the same time; further spawn requests get 429. 0 means no limit."),
    ("JupyterHub", "token_expires_in_max_seconds", "Longest lifetime, in seconds, of tokens requested through the API; 0 means no limit."),
    ("JupyterHub", "oauth_token_expires_in", "Lifetime, in seconds, of tokens the OAuth provider issues; 0 means the login cookie's lifetime."),
    ("JupyterHub", "authenticate_prometheus", "Require the read:metrics scope to read /hub/metrics."),
    ("JupyterHub", "activity_resolution", "Seconds within which repeated activity of a token or user is not written to the database again."),
    ("JupyterHub", "service_check_interval", "Seconds between health checks of services that have a url."),
    ("JupyterHub", "api_tokens", "Tokens given in configuration, as a table of token = \"user name\" (each token at most 255 bytes); prefer tokens created with `ferrohub token`."),
    ("JupyterHub", "services", "Services, as an array of tables: { name, url, command, environment, cwd, user, api_token, oauth_client_id, oauth_redirect_uri, oauth_client_allowed_scopes, oauth_no_confirm, info, display, timeout }; api_token at most 255 bytes; oauth_client_id (default service-<name>) must start with service- and be unique."),
    ("JupyterHub", "load_roles", "Roles, as an array of tables: { name, description, scopes, users, groups, services }."),
    ("JupyterHub", "custom_scopes", "Deployment-specific scopes named custom:..., as a table of name = { description, subscopes }."),
    ("JupyterHub", "extra_user_scopes", "Scopes every user gets in addition to the default user role (e.g. [\"access:services\"])."),
    ("JupyterHub", "template_paths", "Directories searched for page templates before the built-in ones; a file there replaces the built-in page of that name, and `templates/page.html` names the built-in one to extend."),
    ("JupyterHub", "template_vars", "Extra variables every page template sees (e.g. announcement = \"Maintenance on Friday\")."),
    ("JupyterHub", "logo_file", "Image served at /hub/logo and shown in the page header (default: the built-in logo)."),
    // [ConfigurableHTTPProxy]
    ("ConfigurableHTTPProxy", "api_url", "URL of the proxy's REST API, which the hub uses to add and remove routes."),
    ("ConfigurableHTTPProxy", "auth_token", "Token for the proxy's REST API; empty means $CONFIGPROXY_AUTH_TOKEN, or a new one per start if the hub starts the proxy."),
    ("ConfigurableHTTPProxy", "command", "Command that starts the proxy; ferrohub-proxy is looked up beside the hub's binary first."),
    ("ConfigurableHTTPProxy", "should_start", "Start the proxy with the hub; false means it is run separately."),
    ("ConfigurableHTTPProxy", "pid_file", "File where the started proxy's process id is written; relative to the working directory."),
    ("ConfigurableHTTPProxy", "log_level", "The proxy's log level: debug, info, warn or error."),
    ("ConfigurableHTTPProxy", "check_running_interval", "Seconds between checks that the proxy is up: one the hub started is started again if it died, with every route restored; for an external one (should_start = false) the hub logs an error and restores the routes once it answers again."),
    // [Authenticator]
    ("Authenticator", "admin_users", "Users who are admins; they are created at start-up."),
    ("Authenticator", "allowed_users", "Users who may log in; they are created at start-up."),
    ("Authenticator", "blocked_users", "Users who may never log in, even if allowed otherwise."),
    ("Authenticator", "allow_all", "Let everyone who authenticates log in; unset means false (true for DummyAuthenticator when nothing else is allowed)."),
    ("Authenticator", "enable_auth_state", "Store what the authenticator returns about each login (auth_state, e.g. OAuth tokens), encrypted with the keys in $JUPYTERHUB_CRYPT_KEY (;-separated, each 32 bytes as base64 or hex; the first encrypts). The hub refuses to start without a valid key."),
    ("Authenticator", "auto_login", "Skip the login page and begin the authenticator's own login at once (for authenticators with an external login, such as OAuth; with PAM or dummy the login page answers 403)."),
    ("Authenticator", "auto_login_oauth2_authorize", "Send a signed-out browser arriving at /hub/api/oauth2/authorize (an application using the hub as OAuth provider) straight to the authenticator's own login (e.g. an OAuth provider) instead of the login page."),
    ("Authenticator", "allow_existing_users", "Let users already in the database log in; unset means true if allowed_users is set, else false."),
    ("Authenticator", "login_failures_per_user", "ferrohub only: after this many failed logins in a row for one user name, refuse further attempts for that name (without checking the password) for a delay that doubles with each failure; reset by a successful login. 0 turns it off."),
    ("Authenticator", "login_failures_per_address", "ferrohub only: the same for one client address (the right-most X-Forwarded-For entry, added by the proxy). Keep it well above login_failures_per_user: a campus behind one NAT address logs in from a single address. 0 turns it off."),
    ("Authenticator", "login_backoff_initial_seconds", "ferrohub only: seconds of the first login backoff delay; each further failure doubles it."),
    ("Authenticator", "login_backoff_max_seconds", "ferrohub only: the longest login backoff delay, in seconds."),
    ("Authenticator", "username_map", "Maps the name an authenticator vouches for (lowercased) to the hub user name, e.g. { \"jdoe@example.org\" = \"jdoe\" }."),
    ("Authenticator", "username_pattern", "Regular expression every user name must match from its start; names that do not are refused at login and when created through the API. Empty allows any name."),
    ("Authenticator", "auth_refresh_age", "Seconds after which a user's authentication is re-checked with the back end on their next request (OAuth: the access token is refreshed or a new login asked for); 0 disables the timed check. Default 300."),
    ("Authenticator", "refresh_pre_spawn", "Re-check a user's authentication before starting their server; if it cannot be refreshed the start fails until they log in again."),
    ("Authenticator", "refresh_pre_stop", "Re-check a user's authentication before they stop their own server; an admin's stop always proceeds."),
    ("Authenticator", "manage_groups", "The authenticator decides group membership: at each login and refresh the user's groups become exactly its list (e.g. an OAuth groups claim), groups created as needed."),
    // [DummyAuthenticator]
    ("DummyAuthenticator", "password", "If set, every user must give this password; empty accepts any password (testing only)."),
    // [LocalAuthenticator]
    ("LocalAuthenticator", "allowed_groups", "System groups whose members may log in (primary or supplementary group), in addition to allowed_users."),
    ("LocalAuthenticator", "create_system_users", "Create a missing system account with add_user_cmd when a user is added to the hub (through the API, a first login, or at start-up)."),
    ("LocalAuthenticator", "add_user_cmd", "Command that creates a system account; USERNAME in an argument is replaced by the name, and the name is appended."),
    ("LocalAuthenticator", "uids", "Uid of each created account by user name, passed to add_user_cmd as --uid <uid>."),
    // [PAMAuthenticator]
    ("PAMAuthenticator", "service", "PAM service used to authenticate."),
    ("PAMAuthenticator", "check_account", "Also check the PAM account stack (expired or locked accounts)."),
    ("PAMAuthenticator", "admin_groups", "System groups whose members are admins."),
    ("PAMAuthenticator", "encoding", "Text encoding used with PAM; only utf8 is supported."),
    ("PAMAuthenticator", "pam_normalize_username", "Round-trip user names through the system user database (name to uid to name) instead of lowercasing them, so every spelling of an account is one hub user."),
    ("PAMAuthenticator", "open_sessions", "Open a PAM session for the user when a server starts and close it when the server stops; the first failure turns sessions off. Many PAM session stacks do not suit this lifecycle, hence off by default."),
    ("PAMAuthenticator", "executor_threads", "Threads that talk to PAM: at most this many PAM conversations run at once, other logins wait (a full queue is answered 429 Too Many Requests)."),
    // [SharedPasswordAuthenticator]
    ("SharedPasswordAuthenticator", "user_password", "Password every non-admin user logs in with (at least 8 characters); unset means only admins can log in."),
    ("SharedPasswordAuthenticator", "admin_password", "Password the users in Authenticator.admin_users log in with (at least 32 characters, different from user_password); unset means admins cannot log in."),
    // [OAuthenticator] (also every OAuth class's section: [GenericOAuthenticator], [GitHubOAuthenticator], ...)
    ("OAuthenticator", "client_id", "Client id of the OAuth application registered with the provider; default $OAUTH_CLIENT_ID."),
    ("OAuthenticator", "client_secret", "Client secret of the OAuth application; default $OAUTH_CLIENT_SECRET."),
    ("OAuthenticator", "oauth_callback_url", "Redirect URL registered with the provider; default the hub's public URL + oauth_callback (e.g. https://hub.example.org/hub/oauth_callback)."),
    ("OAuthenticator", "oidc_issuer", "ferrohub only: OpenID Connect issuer URL; its /.well-known/openid-configuration fills authorize_url, token_url and userdata_url when unset, and ID tokens are then checked against its keys (signature, iss, aud, exp, nonce)."),
    ("OAuthenticator", "authorize_url", "The provider's authorization endpoint; default $OAUTH2_AUTHORIZE_URL, the preset's, or the issuer's."),
    ("OAuthenticator", "token_url", "The provider's token endpoint; default $OAUTH2_TOKEN_URL, the preset's, or the issuer's."),
    ("OAuthenticator", "userdata_url", "The provider's userinfo endpoint; default $OAUTH2_USERDATA_URL, the preset's, or the issuer's."),
    ("OAuthenticator", "userdata_from_id_token", "Read the user's claims from the ID token returned by token_url instead of calling userdata_url."),
    ("OAuthenticator", "scope", "OAuth scopes to request, e.g. [\"openid\", \"profile\", \"email\"]."),
    ("OAuthenticator", "username_claim", "Claim of the user info holding the user name (e.g. preferred_username), or a dotted path into nested claims; default $OAUTH2_USERNAME_KEY or the preset's (username; GitHub login, GitLab username, Google email, Azure AD name). Upstream's callable form is not supported."),
    ("OAuthenticator", "login_service", "Name on the login page's \"Sign in with ...\" button; default $LOGIN_SERVICE or the preset's."),
    ("OAuthenticator", "allowed_groups", "Groups (from auth_state_groups_key) whose members may log in; requires manage_groups."),
    ("OAuthenticator", "admin_groups", "Groups whose members are admins; others (not in admin_users) lose admin at login. Requires manage_groups."),
    ("OAuthenticator", "auth_state_groups_key", "Dotted path into auth_state holding the user's groups, e.g. oauth_user.groups; requires manage_groups."),
    ("OAuthenticator", "enable_pkce", "Use PKCE (S256) in the authorization code flow; default true."),
    ("OAuthenticator", "basic_auth", "Send client_id and client_secret to token_url with HTTP Basic authentication instead of in the form body; default $OAUTH2_BASIC_AUTH or false."),
    ("OAuthenticator", "token_params", "Extra parameters of the token request, as a table."),
    ("OAuthenticator", "userdata_params", "Extra query parameters of the userdata request, as a table."),
    ("OAuthenticator", "userdata_token_method", "How the access token is sent to userdata_url: header (default) or url."),
    ("OAuthenticator", "extra_authorize_params", "Extra query parameters of the authorization request, as a table."),
    ("OAuthenticator", "logout_redirect_url", "Where logging out sends the browser (e.g. the provider's end-session URL) instead of the hub's login page; default $OAUTH_LOGOUT_REDIRECT_URL."),
    ("OAuthenticator", "custom_403_message", "Message shown to someone the provider vouched for but who may not use this hub."),
    ("OAuthenticator", "allowed_users", "Authenticator.allowed_users, set for the OAuth class."),
    ("OAuthenticator", "admin_users", "Authenticator.admin_users, set for the OAuth class."),
    ("OAuthenticator", "blocked_users", "Authenticator.blocked_users, set for the OAuth class."),
    ("OAuthenticator", "allow_all", "Authenticator.allow_all, set for the OAuth class: anyone the provider vouches for may log in."),
    ("OAuthenticator", "allow_existing_users", "Authenticator.allow_existing_users, set for the OAuth class; default false (OAuthenticator 16+)."),
    ("OAuthenticator", "manage_groups", "Authenticator.manage_groups, set for the OAuth class: the groups claim decides hub group membership."),
    ("OAuthenticator", "enable_auth_state", "Authenticator.enable_auth_state, set for the OAuth class: keep the tokens and user info (needs $JUPYTERHUB_CRYPT_KEY)."),
    ("OAuthenticator", "auto_login", "Authenticator.auto_login, set for the OAuth class: go to the provider without showing the login page."),
    ("OAuthenticator", "auto_login_oauth2_authorize", "Authenticator.auto_login_oauth2_authorize, set for the OAuth class."),
    ("OAuthenticator", "refresh_pre_spawn", "Authenticator.refresh_pre_spawn, set for the OAuth class; default enable_auth_state."),
    ("OAuthenticator", "auth_refresh_age", "Authenticator.auth_refresh_age, set for the OAuth class."),
    // [GenericOAuthenticator]
    ("GenericOAuthenticator", "claim_groups_key", "Deprecated upstream (use auth_state_groups_key): the userinfo claim holding the groups, same as auth_state_groups_key = \"oauth_user.<claim>\"; requires manage_groups."),
    // [GitHubOAuthenticator]
    ("GitHubOAuthenticator", "github_url", "GitHub's base URL (default $GITHUB_URL or https://github.com); authorize_url and token_url derive from it."),
    ("GitHubOAuthenticator", "github_api", "GitHub's REST API URL; default https://api.github.com for github.com, else github_url + /api/v3. userdata_url is github_api + /user."),
    // [GitLabOAuthenticator]
    ("GitLabOAuthenticator", "gitlab_url", "GitLab's base URL (default $GITLAB_URL or https://gitlab.com); authorize_url and token_url derive from it."),
    ("GitLabOAuthenticator", "gitlab_api_version", "GitLab REST API version (default $GITLAB_API_VERSION or 4)."),
    ("GitLabOAuthenticator", "gitlab_api", "GitLab's REST API URL; default gitlab_url + /api/v + gitlab_api_version. userdata_url is gitlab_api + /user."),
    // [GoogleOAuthenticator]
    ("GoogleOAuthenticator", "google_api_url", "Google's API base URL (default $GOOGLE_API_URL or https://www.googleapis.com); token_url and userdata_url derive from it."),
    // [AzureAdOAuthenticator]
    ("AzureAdOAuthenticator", "tenant_id", "Azure tenant id of the OAuth application (default $AAD_TENANT_ID); part of authorize_url and token_url."),
    ("AzureAdOAuthenticator", "graph_url", "Azure login host (default https://login.microsoftonline.com); authorize_url and token_url derive from it."),
    // [LDAPAuthenticator]
    ("LDAPAuthenticator", "server_address", "Host name or IP address of the LDAP server; also host:port or an ldap:// or ldaps:// URL (ldaps:// means TLS on connect), as upstream's ldap3 accepts."),
    ("LDAPAuthenticator", "server_port", "Port of the LDAP server; unset means 636 with tls_strategy = \"on_connect\" and 389 otherwise."),
    ("LDAPAuthenticator", "use_ssl", "Deprecated (upstream 2.0): true means tls_strategy = \"on_connect\"; false has no effect."),
    ("LDAPAuthenticator", "tls_strategy", "\"before_bind\" (StartTLS before any bind; default), \"on_connect\" (ldaps) or \"insecure\" (no TLS: passwords in clear text)."),
    ("LDAPAuthenticator", "tls_kwargs", "TLS settings, as upstream's ldap3.Tls arguments: ca_certs_file, ca_certs_path, ca_certs_data (CAs to trust instead of the system's), validate (0/\"CERT_NONE\" turns verification off; unlike upstream, ferrohub verifies by default), valid_names (extra certificate names; \"*\" any); other keys are refused."),
    ("LDAPAuthenticator", "bind_dn_template", "DN template(s) tried in turn to bind as the user, {username} replaced by the escaped name, e.g. \"uid={username},ou=people,dc=example,dc=org\"; a string or a list."),
    ("LDAPAuthenticator", "allowed_groups", "Group DNs whose members may log in, in addition to allowed_users; membership is found with group_search_filter."),
    ("LDAPAuthenticator", "group_search_filter", "Filter searched in each allowed group (as its base) to find the user; {userdn} and {uid} are replaced (escaped)."),
    ("LDAPAuthenticator", "group_attributes", "Attributes asked for in the group search."),
    ("LDAPAuthenticator", "valid_username_regex", "Login names must match this regular expression (from the start); others are refused without asking the server."),
    ("LDAPAuthenticator", "lookup_dn", "Find the user's DN by searching user_search_base for user_attribute = the login name (as lookup_dn_search_user, or anonymously), then bind with it."),
    ("LDAPAuthenticator", "user_search_base", "Base DN under which users are searched (lookup_dn, search_filter)."),
    ("LDAPAuthenticator", "user_attribute", "Attribute holding the login name, e.g. uid or sAMAccountName (lookup_dn, search_filter)."),
    ("LDAPAuthenticator", "lookup_dn_search_filter", "Filter of the lookup_dn search; {login_attr} is user_attribute, {login} the escaped login name."),
    ("LDAPAuthenticator", "lookup_dn_search_user", "DN to bind as for the lookup_dn search; unset means an anonymous search."),
    ("LDAPAuthenticator", "lookup_dn_search_password", "Password of lookup_dn_search_user."),
    ("LDAPAuthenticator", "lookup_dn_user_dn_attribute", "Attribute of the found entry whose value fills {username} in bind_dn_template (and names the user with use_lookup_dn_username); required with lookup_dn."),
    ("LDAPAuthenticator", "escape_userdn", "Removed upstream in 2.0 (names are always escaped); accepted with a warning, no effect."),
    ("LDAPAuthenticator", "search_filter", "Extra filter searched under user_search_base after the bind; it must find exactly one entry. {userattr} and {username} are replaced. Empty: no search."),
    ("LDAPAuthenticator", "attributes", "Attributes asked for in the search_filter search."),
    ("LDAPAuthenticator", "auth_state_attributes", "User attributes stored in auth_state[\"user_attributes\"] (with Authenticator.enable_auth_state)."),
    ("LDAPAuthenticator", "use_lookup_dn_username", "With lookup_dn, name the hub user by the looked-up lookup_dn_user_dn_attribute value instead of the login name."),
    // [Spawner]
    ("Spawner", "cmd", "Command that starts each user's single-user server; must not be empty."),
    ("Spawner", "args", "Extra arguments appended to cmd."),
    ("Spawner", "environment", "Extra environment variables for user servers, applied last; {username} in values is replaced."),
    ("Spawner", "env_keep", "Environment variables of the hub passed through to user servers."),
    ("Spawner", "auth_state_env", "ferrohub only, in place of upstream's Spawner.auth_state_hook: environment variables for user servers taken from the user's auth_state, as a table of VARIABLE = \"field\" (a dotted path such as \"oauth_user.email\" reaches nested fields; non-string values are passed as JSON)."),
    ("Spawner", "ip", "Address user servers listen on."),
    ("Spawner", "port", "Port user servers listen on; 0 picks a free port for each server."),
    ("Spawner", "start_timeout", "Seconds a server may take to start before the spawn is abandoned."),
    ("Spawner", "http_timeout", "Seconds a started server may take to answer HTTP before it is considered failed."),
    ("Spawner", "poll_interval", "Seconds between checks that each user server is still running."),
    ("Spawner", "notebook_dir", "Directory user servers start in (JUPYTERHUB_ROOT_DIR); ~ and {username} are expanded."),
    ("Spawner", "default_url", "Page users land on in their server (JUPYTERHUB_DEFAULT_URL), e.g. /lab."),
    ("Spawner", "debug", "Run user servers with debug logging (JUPYTERHUB_DEBUG=1)."),
    ("Spawner", "options_form", "HTML form fields shown on the spawn page before a server starts; the submitted fields become user_options (lists of strings)."),
    ("Spawner", "profile_list", "Profiles offered on the spawn page, as KubeSpawner's: [[Spawner.profile_list]] tables with display_name, slug, description, default and spawner_override (cmd, args, environment, default_url, mem_limit, cpu_limit, mem_guarantee, cpu_guarantee)."),
    ("Spawner", "mem_limit", "Memory limit announced to servers as MEM_LIMIT (bytes, or a number with K, M, G, T); the local spawners do not enforce it, as upstream."),
    ("Spawner", "cpu_limit", "CPU limit in cores announced to servers as CPU_LIMIT; not enforced by the local spawners, as upstream."),
    ("Spawner", "mem_guarantee", "Memory guarantee announced to servers as MEM_GUARANTEE (bytes, or a number with K, M, G, T); not enforced by the local spawners."),
    ("Spawner", "cpu_guarantee", "CPU guarantee in cores announced to servers as CPU_GUARANTEE; not enforced by the local spawners."),
    // [LocalProcessSpawner]
    ("LocalProcessSpawner", "interrupt_timeout", "Seconds to wait after SIGINT before sending SIGTERM when stopping a server."),
    ("LocalProcessSpawner", "term_timeout", "Seconds to wait after SIGTERM before sending SIGKILL."),
    ("LocalProcessSpawner", "kill_timeout", "Seconds to wait after SIGKILL before giving up."),
    ("LocalProcessSpawner", "shell_cmd", "Wrap the command in a shell, e.g. [\"bash\", \"-l\", \"-c\"] to load the user's login environment."),
    ("LocalProcessSpawner", "min_uid", "Refuse to start a server for an account whose uid is below this (system accounts); uid 0 (root) is always refused. Default 1000, Debian's UID_MIN. ferrohub only."),
    // [SimpleLocalProcessSpawner]
    ("SimpleLocalProcessSpawner", "home_dir_template", "Home directory of each user; {username} is replaced."),
    // [SlurmSpawner]
    ("SlurmSpawner", "batch_script", "The job script (Jinja2 when it contains {{ or {%, else Python str.format fields): {{cmd}} is the server's command, {{partition}}, {{runtime}}, {{memory}}, ... the req_* options, {{homedir}}, {{keepvars}}, {{username}}, and each user_options key. Default: batchspawner 1.3's Slurm script."),
    ("SlurmSpawner", "batch_submit_cmd", "Command that submits the script (given on its standard input) and prints the job id."),
    ("SlurmSpawner", "batch_query_cmd", "Command that prints a job's state and host; {job_id} is replaced."),
    ("SlurmSpawner", "batch_cancel_cmd", "Command that cancels a job; {job_id} is replaced."),
    ("SlurmSpawner", "exec_prefix", "Put before the three batch commands, e.g. sudo -E -u {username}. Empty with a hub running as root: the commands run as the user's own account, without sudo (ferrohub; upstream would run them as root)."),
    ("SlurmSpawner", "batchspawner_singleuser_cmd", "The wrapper before Spawner.cmd in the job; it picks a free port and reports it to POST /hub/api/batchspawner."),
    ("SlurmSpawner", "req_partition", "{{partition}}: the Slurm partition (--partition); empty means the default one."),
    ("SlurmSpawner", "req_runtime", "{{runtime}}: the job's time limit (--time), e.g. 8:00:00."),
    ("SlurmSpawner", "req_memory", "{{memory}}: memory for the job (--mem), e.g. 4G."),
    ("SlurmSpawner", "req_nprocs", "{{nprocs}}: CPUs per task (--cpus-per-task)."),
    ("SlurmSpawner", "req_ngpus", "{{ngpus}}: number of GPUs, for a custom batch_script."),
    ("SlurmSpawner", "req_qos", "{{qos}}: quality of service, for a custom batch_script."),
    ("SlurmSpawner", "req_account", "{{account}}: the account charged, for a custom batch_script."),
    ("SlurmSpawner", "req_options", "{{options}}: the options of one more #SBATCH line."),
    ("SlurmSpawner", "req_reservation", "{{reservation}}: a reservation name (--reservation)."),
    ("SlurmSpawner", "req_gres", "{{gres}}: generic resources (--gres), e.g. gpu:1."),
    ("SlurmSpawner", "req_cluster", "{{cluster}}: the cluster, for a custom batch_script."),
    ("SlurmSpawner", "req_queue", "{{queue}}: a queue name, for a custom batch_script."),
    ("SlurmSpawner", "req_host", "{{host}}: a batch server host, for a custom batch_script."),
    ("SlurmSpawner", "req_srun", "{{srun}}: put before the server's command in the job (default srun); empty runs it in the batch step itself."),
    ("SlurmSpawner", "req_prologue", "{{prologue}}: shell lines run in the job before the server starts (e.g. module load python)."),
    ("SlurmSpawner", "req_epilogue", "{{epilogue}}: shell lines run in the job after the server ends."),
    ("SlurmSpawner", "req_homedir", "{{homedir}}: the user's home on the execution host; empty means the home from this host's passwd database."),
    ("SlurmSpawner", "req_keepvars", "{{keepvars}}: comma-separated environment variables the job keeps (--export); empty means every variable of the server's environment."),
    ("SlurmSpawner", "req_keepvars_extra", "More variables added to keepvars (comma-separated)."),
    ("SlurmSpawner", "state_pending_re", "Regular expression that matches the query output of a job waiting in the queue."),
    ("SlurmSpawner", "state_running_re", "Regular expression that matches the query output of a running job."),
    ("SlurmSpawner", "state_exechost_re", "Regular expression whose first group is the execution host in the query output."),
    ("SlurmSpawner", "state_exechost_exp", "If set, the host is this replacement (\\1, \\g<name>) expanded with the state_exechost_re match."),
    ("SlurmSpawner", "state_unknown_re", "Regular expression that matches the query output when the batch system does not answer (the job is then taken as still there); empty means not used."),
    ("SlurmSpawner", "startup_poll_interval", "Seconds between job state queries while a server starts."),
    ("SlurmSpawner", "ip", "Address the server listens on inside the job (default 0.0.0.0: jobs run on other hosts)."),
    // [SystemdSpawner]
    ("SystemdSpawner", "unit_name_template", "Name of each server's transient systemd unit; {USERNAME} and {USERID} (the hub's user id) are expanded (default jupyter-{USERNAME}-singleuser)."),
    ("SystemdSpawner", "user_workingdir", "Directory the server starts in ({USERNAME}, {USERID} expanded); unset means the account's home. Not used with dynamic_users."),
    ("SystemdSpawner", "username_template", "The existing UNIX account each server runs as ({USERNAME}, {USERID} expanded; default {USERNAME}). Not used with dynamic_users."),
    ("SystemdSpawner", "default_shell", "SHELL of the server (its terminals); unset means the hub's own $SHELL, or /bin/bash."),
    ("SystemdSpawner", "extra_paths", "Directories put before the server's PATH ({USERNAME}, {USERID} expanded)."),
    ("SystemdSpawner", "isolate_tmp", "Give each server its own /tmp (PrivateTmp=yes)."),
    ("SystemdSpawner", "isolate_devices", "Give each server a minimal /dev of its own (PrivateDevices=yes)."),
    ("SystemdSpawner", "disable_user_sudo", "Forbid gaining privileges from inside the server, e.g. with sudo (NoNewPrivileges=yes); default true."),
    ("SystemdSpawner", "readonly_paths", "Paths the server may only read (ReadOnlyDirectories=, {USERNAME}, {USERID} expanded); unset means none."),
    ("SystemdSpawner", "readwrite_paths", "Paths the server may write, e.g. inside a read-only path (ReadWriteDirectories=); unset means none."),
    ("SystemdSpawner", "unit_extra_properties", "More unit properties for systemd-run --property: name = value, or name = [values] for a property given several times; values expand {USERNAME}, {USERID}."),
    ("SystemdSpawner", "dynamic_users", "Run each server as an account systemd allocates for it (DynamicUser=yes); its files persist in /var/lib/{USERNAME} (StateDirectory=), which is also HOME and the working directory."),
    ("SystemdSpawner", "mem_limit", "Memory limit of each server (MemoryMax=, with MemoryAccounting=yes), bytes or with K/M/G/T; unset means Spawner.mem_limit."),
    ("SystemdSpawner", "cpu_limit", "CPU limit of each server in cores (CPUQuota= of cores x 100 %, rounded down, with CPUAccounting=yes); unset means Spawner.cpu_limit."),
    ("SystemdSpawner", "slice", "The systemd slice every server's unit runs in (systemd-run --slice), to limit what all servers together use; unset means systemd's default."),
    // [DockerSpawner]
    ("DockerSpawner", "image", "The image of every server unless the user picks one of allowed_images; it should run jupyterhub-singleuser of JupyterHub 6.1 (default quay.io/jupyterhub/singleuser:6.1)."),
    ("DockerSpawner", "allowed_images", "Images users may choose on the spawn form (field image) or with user_options {\"image\": ...}: a list, a table of label = image, or \"*\" for any; empty (default) means users cannot choose."),
    ("DockerSpawner", "pull_policy", "When the image is pulled: ifnotpresent (default), always, never (a missing image fails the start) or skip (not even checked)."),
    ("DockerSpawner", "prefix", "{prefix} in name_template (default jupyter)."),
    ("DockerSpawner", "name_template", "Container name; {prefix}, {username}, {servername} (escaped), {raw_username}, {raw_servername}, {imagename} are filled in. Empty means {prefix}-{username}, and {prefix}-{username}--{servername} for a named server."),
    ("DockerSpawner", "network_name", "Docker network of the containers: bridge (default; the port is published on host_ip), host (the host's network: the hub picks a free port and the server listens on it), or a network's name (reached at the container's address)."),
    ("DockerSpawner", "use_internal_ip", "Reach servers at the container's own address on network_name instead of a published port; unset means true for a named network, false for bridge and host."),
    ("DockerSpawner", "host_ip", "Host address the container's port is published on in bridge mode (default 127.0.0.1)."),
    ("DockerSpawner", "volumes", "Host path or volume name = container path (read-write), or = { bind = path, mode = \"rw\"|\"ro\"|\"z\"|\"Z\", propagation = ... }; {username} and the other name_template fields are filled in on both sides."),
    ("DockerSpawner", "read_only_volumes", "Host path or volume name = container path, mounted read-only; templated like volumes."),
    ("DockerSpawner", "mounts", "Mounts beyond volumes, each a table of docker-py's Mount arguments: target, source, type (volume (default), bind, tmpfs, npipe), read_only, consistency, propagation, no_copy, labels, tmpfs_size, tmpfs_mode; strings templated like volumes; other keys are refused."),
    ("DockerSpawner", "links", "Legacy container links: container name = alias in the server's container, e.g. { jupyterhub = \"jupyterhub\" } for a hub in a container on the default bridge."),
    ("DockerSpawner", "remove", "Remove the container when its server stops (files outside volumes are lost); otherwise it is kept, stopped, and the next start runs it again (a different image replaces it)."),
    ("DockerSpawner", "mem_limit", "Memory limit of each container in bytes (\"2G\" allowed); unset means Spawner.mem_limit (or the profile's)."),
    ("DockerSpawner", "cpu_limit", "CPU limit of each container in cores (cpu_quota = cpu_limit x cpu_period, period 100 ms); unset means Spawner.cpu_limit."),
    ("DockerSpawner", "extra_create_kwargs", "Further container settings, as upstream's create_container arguments: user, working_dir, hostname, domainname, entrypoint, labels, environment, stop_signal, stop_timeout, tty; other keys are refused."),
    ("DockerSpawner", "extra_host_config", "Further host settings, as upstream's create_host_config arguments: network_mode, mem_limit, memswap_limit, mem_reservation, cpu_period, cpu_quota, cpu_shares, cpuset_cpus, shm_size, pids_limit, init, read_only, privileged, cap_add, cap_drop, security_opt, group_add, dns, extra_hosts, devices, tmpfs, sysctls, ulimits, ipc_mode, runtime, binds; other keys are refused."),
    ("DockerSpawner", "post_start_cmd", "Command run in the container (docker exec, split like a shell would, no shell) once it has started; empty means none."),
    // [SudoSpawner]
    ("SudoSpawner", "sudospawner_path", "The mediator the hub runs as each user with sudo: upstream's Python sudospawner (it starts the jupyterhub-singleuser beside it) or ferrohub's own ferrohub-sudospawner (it starts the command its root-owned rule file allows). Default: sudospawner on the hub's PATH."),
    ("SudoSpawner", "sudo_args", "Options put after sudo -u <user> (default [\"-nH\"]: never ask for a password, HOME is the user's)."),
    ("SudoSpawner", "mediator_log_level", "Passed to the mediator as --logging=<level> (default INFO); its log lines reach the hub's log. Empty passes nothing."),
    ("SudoSpawner", "debug_mediator", "sudospawner's older switch (removed in 1.0): true means mediator_log_level = \"DEBUG\"; accepted so an older configuration still loads."),
];

/// The help line for `class.option`, if the table has one.
/// An OAuth class's section shares `[OAuthenticator]`'s lines for the
/// options every OAuth section has.
pub(crate) fn help(class: &str, option: &str) -> Option<&'static str> {
    let line = |class: &str| {
        HELP.iter()
            .find(|(c, o, _)| *c == class && *o == option)
            .map(|(_, _, text)| *text)
    };
    line(class).or_else(|| {
        crate::OAuthClass::ALL
            .iter()
            .any(|c| c.class_name() == class)
            .then(|| line("OAuthenticator"))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use crate::schema::{CLASSES, find_class};

    #[test]
    fn every_option_of_every_class_has_help() {
        for class in CLASSES {
            for option in (class.options)() {
                assert!(
                    help(class.name, option).is_some(),
                    "no help for {}.{option}",
                    class.name
                );
            }
        }
    }

    #[test]
    fn every_help_line_names_an_existing_option_once() {
        for (i, (class, option, text)) in HELP.iter().enumerate() {
            assert!(
                find_class(class).is_some_and(|c| c.has(option)),
                "help for unknown option {class}.{option}"
            );
            assert!(
                !text.contains('\n'),
                "help for {class}.{option} spans lines"
            );
            assert!(
                !HELP[..i].iter().any(|(c, o, _)| c == class && o == option),
                "two help lines for {class}.{option}"
            );
        }
    }

    /// Cross-check against serde's own view of the defaults: every serialized key
    /// (all but the unset `Option`s) is a known option with help.
    #[test]
    fn every_serialized_default_has_help() {
        let table = toml::Table::try_from(Config::default()).unwrap();
        assert_eq!(table.len(), CLASSES.len());
        for (class, options) in &table {
            for option in options.as_table().unwrap().keys() {
                assert!(
                    help(class, option).is_some(),
                    "no help for {class}.{option}"
                );
            }
        }
    }
}
