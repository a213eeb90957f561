//! The environment of a single-user server, as upstream's `Spawner.get_env()`
//! plus `LocalProcessSpawner.user_env()` build it.
//!
//! The server starts from an empty environment: only what is listed here
//! reaches it, so nothing secret of the hub's own environment leaks by accident.
//! Order (later wins): `env_keep` variables the hub has, the hub's per-spawn
//! variables, `JUPYTERHUB_SERVICE_URL`, `USER`/`HOME`/`SHELL`, the optional
//! `JUPYTERHUB_ROOT_DIR`/`JUPYTERHUB_DEFAULT_URL`/`JUPYTERHUB_DEBUG`, the
//! limits (`MEM_LIMIT`, ...), and last `Spawner.environment` (all of these as
//! the request's settings say, a profile applied).

use std::collections::BTreeMap;

use ferrohub_config::SpawnerConfig;

use crate::SpawnRequest;

/// Who the server runs as, as far as its environment says (`USER`, `HOME`, `SHELL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEnv {
    /// `USER`: the hub user name.
    pub user: String,
    /// `HOME`; not set when the account has no home (as upstream).
    pub home: Option<String>,
    /// `SHELL`; not set when the account has no shell (as upstream).
    pub shell: Option<String>,
}

/// Everything besides the hub's own environment that the server's environment depends on.
#[derive(Debug, Clone, Copy)]
pub struct EnvInputs<'a> {
    /// `[Spawner]` settings: `env_keep`, `ip`, `notebook_dir`, `debug` (what a
    /// profile may change, `default_url`, `environment` and the limits, comes
    /// from the request's settings).
    pub spawner: &'a SpawnerConfig,
    /// The hub's request: user, URL prefix and the hub-computed variables.
    pub request: &'a SpawnRequest,
    /// The port the server must bind (already chosen, never 0).
    pub port: u16,
    /// The account the server runs as.
    pub user: &'a UserEnv,
}

/// Builds the complete environment of a server; `hub_env` is the hub's own
/// environment (passed in so tests need not change the process environment).
pub fn build_environment<I>(inputs: &EnvInputs<'_>, hub_env: I) -> BTreeMap<String, String>
where
    I: IntoIterator<Item = (String, String)>,
{
    let spawner = inputs.spawner;
    let request = inputs.request;
    let expand = |s: &str| expand_template(s, &request.username, &request.base_url);

    let mut env: BTreeMap<String, String> = hub_env
        .into_iter()
        .filter(|(key, _)| spawner.env_keep.contains(key))
        .collect();
    env.extend(request.hub_env.clone());
    env.insert(
        "JUPYTERHUB_SERVICE_URL".into(),
        service_url(&spawner.ip, inputs.port, &request.base_url),
    );
    env.insert("USER".into(), inputs.user.user.clone());
    if let Some(home) = &inputs.user.home {
        env.insert("HOME".into(), home.clone());
    }
    if let Some(shell) = &inputs.user.shell {
        env.insert("SHELL".into(), shell.clone());
    }
    if !spawner.notebook_dir.is_empty() {
        let dir = expand_home(&expand(&spawner.notebook_dir), inputs.user.home.as_deref());
        env.insert("JUPYTERHUB_ROOT_DIR".into(), dir);
    }
    let settings = &request.settings;
    if !settings.default_url.is_empty() {
        env.insert(
            "JUPYTERHUB_DEFAULT_URL".into(),
            expand(&settings.default_url),
        );
    }
    if spawner.debug {
        env.insert("JUPYTERHUB_DEBUG".into(), "1".into());
    }
    for (key, value) in settings.limit_variables() {
        env.insert(key.to_owned(), value);
    }
    for (key, value) in &settings.environment {
        env.insert(key.clone(), expand(value));
    }
    env
}

/// The hub's own environment as UTF-8 pairs; variables that are not valid
/// UTF-8 are skipped (they could not be passed on faithfully anyway).
pub fn hub_process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
        .collect()
}

/// `JUPYTERHUB_SERVICE_URL`: where the server binds, `http://ip:port/prefix/`.
/// An empty `ip` stays empty, which tells jupyterhub-singleuser to bind every
/// interface (upstream 5.3+).
pub fn service_url(ip: &str, port: u16, base_url: &str) -> String {
    let base_url = if base_url.is_empty() { "/" } else { base_url };
    format!("http://{}:{port}{base_url}", url_host(ip))
}

/// The URL the hub and proxy use to reach a server (`http://ip:port`, no path);
/// an empty `ip` (bind everywhere) is reached on 127.0.0.1, as upstream.
pub fn server_url(ip: &str, port: u16) -> String {
    let ip = if ip.is_empty() { "127.0.0.1" } else { ip };
    format!("http://{}:{port}", url_host(ip))
}

/// An IP as it appears in a URL: IPv6 addresses get brackets.
fn url_host(ip: &str) -> String {
    if ip.contains(':') && !ip.starts_with('[') {
        format!("[{ip}]")
    } else {
        ip.to_owned()
    }
}

/// Replaces upstream's format fields `{username}` and `{base_url}`.
pub fn expand_template(template: &str, username: &str, base_url: &str) -> String {
    template
        .replace("{username}", username)
        .replace("{base_url}", base_url)
}

/// Expands a leading `~` to the server user's home (not the hub's).
fn expand_home(path: &str, home: Option<&str>) -> String {
    let Some(home) = home else {
        return path.to_owned();
    };
    if path == "~" {
        home.to_owned()
    } else if let Some(rest) = path.strip_prefix("~/") {
        format!("{}/{rest}", home.trim_end_matches('/'))
    } else {
        path.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(spawner: &SpawnerConfig) -> SpawnRequest {
        SpawnRequest {
            user_id: 1,
            settings: crate::ServerSettings::from_config(spawner),
            user_options: serde_json::json!({}),
            progress: crate::ProgressReporter::ignore(),
            reports: crate::ServerReports::new(),
            username: "alice".into(),
            server_name: String::new(),
            base_url: "/user/alice/".into(),
            hub_env: BTreeMap::from([
                ("JUPYTERHUB_API_TOKEN".into(), "secret-token".into()),
                ("JUPYTERHUB_USER".into(), "alice".into()),
                (
                    "JUPYTERHUB_API_URL".into(),
                    "http://127.0.0.1:8081/hub/api".into(),
                ),
            ]),
        }
    }

    fn alice() -> UserEnv {
        UserEnv {
            user: "alice".into(),
            home: Some("/home/alice".into()),
            shell: Some("/bin/zsh".into()),
        }
    }

    fn hub_env() -> Vec<(String, String)> {
        [
            ("PATH", "/usr/local/bin:/usr/bin"),
            ("LANG", "C.UTF-8"),
            ("CONFIGPROXY_AUTH_TOKEN", "proxy-secret"),
            ("HOME", "/root"),
            ("USER", "root"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn build(spawner: &SpawnerConfig, user: &UserEnv) -> BTreeMap<String, String> {
        let request = request(spawner);
        let inputs = EnvInputs {
            spawner,
            request: &request,
            port: 45678,
            user,
        };
        build_environment(&inputs, hub_env())
    }

    #[test]
    fn default_environment_is_exactly_upstreams_set() {
        let env = build(&SpawnerConfig::default(), &alice());
        let expected: BTreeMap<String, String> = [
            ("HOME", "/home/alice"),
            ("JUPYTERHUB_API_TOKEN", "secret-token"),
            ("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api"),
            (
                "JUPYTERHUB_SERVICE_URL",
                "http://127.0.0.1:45678/user/alice/",
            ),
            ("JUPYTERHUB_USER", "alice"),
            ("LANG", "C.UTF-8"),
            ("PATH", "/usr/local/bin:/usr/bin"),
            ("SHELL", "/bin/zsh"),
            ("USER", "alice"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(env, expected);
    }

    #[test]
    fn hub_secrets_not_in_env_keep_are_not_passed() {
        let env = build(&SpawnerConfig::default(), &alice());
        assert!(!env.contains_key("CONFIGPROXY_AUTH_TOKEN"));
    }

    #[test]
    fn empty_env_keep_passes_nothing_from_the_hub() {
        let spawner = SpawnerConfig {
            env_keep: Vec::new(),
            ..SpawnerConfig::default()
        };
        let env = build(&spawner, &alice());
        assert!(!env.contains_key("PATH"));
        assert!(!env.contains_key("LANG"));
    }

    #[test]
    fn user_variables_replace_the_hubs_own() {
        let spawner = SpawnerConfig {
            env_keep: vec!["HOME".into(), "USER".into()],
            ..SpawnerConfig::default()
        };
        let env = build(&spawner, &alice());
        assert_eq!(env["HOME"], "/home/alice");
        assert_eq!(env["USER"], "alice");
    }

    #[test]
    fn missing_home_and_shell_are_left_unset() {
        let user = UserEnv {
            user: "alice".into(),
            home: None,
            shell: None,
        };
        let env = build(
            &SpawnerConfig {
                env_keep: Vec::new(),
                ..SpawnerConfig::default()
            },
            &user,
        );
        assert!(!env.contains_key("HOME"));
        assert!(!env.contains_key("SHELL"));
    }

    #[test]
    fn optional_variables_follow_their_settings() {
        let spawner = SpawnerConfig {
            notebook_dir: "~/notebooks/{username}".into(),
            default_url: "/lab/tree/{username}".into(),
            debug: true,
            ..SpawnerConfig::default()
        };
        let env = build(&spawner, &alice());
        assert_eq!(env["JUPYTERHUB_ROOT_DIR"], "/home/alice/notebooks/alice");
        assert_eq!(env["JUPYTERHUB_DEFAULT_URL"], "/lab/tree/alice");
        assert_eq!(env["JUPYTERHUB_DEBUG"], "1");
    }

    #[test]
    fn optional_variables_are_absent_by_default() {
        let env = build(&SpawnerConfig::default(), &alice());
        for key in [
            "JUPYTERHUB_ROOT_DIR",
            "JUPYTERHUB_DEFAULT_URL",
            "JUPYTERHUB_DEBUG",
        ] {
            assert!(!env.contains_key(key), "{key} should be unset");
        }
    }

    #[test]
    fn spawner_environment_overrides_everything_and_expands_username() {
        let spawner = SpawnerConfig {
            environment: BTreeMap::from([
                (
                    "JUPYTERHUB_API_URL".into(),
                    "http://hub:8081/hub/api".into(),
                ),
                ("HOME".into(), "/srv/{username}".into()),
                ("PATH".into(), "/opt/{username}/bin".into()),
                ("EXTRA".into(), "x".into()),
            ]),
            ..SpawnerConfig::default()
        };
        let env = build(&spawner, &alice());
        assert_eq!(env["JUPYTERHUB_API_URL"], "http://hub:8081/hub/api");
        assert_eq!(env["HOME"], "/srv/alice");
        assert_eq!(env["PATH"], "/opt/alice/bin");
        assert_eq!(env["EXTRA"], "x");
    }

    #[test]
    fn service_url_brackets_ipv6_and_keeps_empty_ip() {
        assert_eq!(
            service_url("::1", 80, "/user/a/"),
            "http://[::1]:80/user/a/"
        );
        assert_eq!(service_url("", 80, "/user/a/"), "http://:80/user/a/");
        assert_eq!(service_url("10.0.0.5", 80, ""), "http://10.0.0.5:80/");
    }

    #[test]
    fn server_url_reaches_bind_all_servers_on_loopback() {
        assert_eq!(server_url("", 9000), "http://127.0.0.1:9000");
        assert_eq!(server_url("::1", 9000), "http://[::1]:9000");
        assert_eq!(server_url("10.1.2.3", 9000), "http://10.1.2.3:9000");
    }

    #[test]
    fn home_expansion_only_touches_a_leading_tilde() {
        assert_eq!(expand_home("~", Some("/home/a")), "/home/a");
        assert_eq!(expand_home("~/x", Some("/home/a/")), "/home/a/x");
        assert_eq!(expand_home("/data/~x", Some("/home/a")), "/data/~x");
        assert_eq!(expand_home("~/x", None), "~/x");
    }
}
