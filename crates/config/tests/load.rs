//! `load` as the CLI uses it: real files on disk, command-line overrides, and the
//! one-line messages a user sees when something is wrong.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

use std::path::{Path, PathBuf};

use ferrohub_config::{Config, ConfigError, generate_config, load};
use tempfile::TempDir;

/// A config file with `text` in a fresh directory (kept alive by the `TempDir`).
fn file(text: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferrohub.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn args(overrides: &[&str]) -> Vec<String> {
    overrides.iter().map(|s| (*s).to_owned()).collect()
}

fn load_text(text: &str, overrides: &[&str]) -> Result<Config, ConfigError> {
    let (_dir, path) = file(text);
    load(Some(&path), &args(overrides))
}

/// The error message for `text` + `overrides`, with the temp path replaced by
/// `FILE`; asserts it is a single line.
fn error(text: &str, overrides: &[&str]) -> String {
    let (_dir, path) = file(text);
    let message = load(Some(&path), &args(overrides)).unwrap_err().to_string();
    assert!(!message.contains('\n'), "multi-line error: {message}");
    message.replace(&path.display().to_string(), "FILE")
}

#[test]
fn defaults_match_upstream() {
    let config = load(None, &[]).unwrap();
    assert_eq!(config, Config::default());
    let hub = &config.jupyterhub;
    assert_eq!(hub.bind_url, "http://:8000");
    assert_eq!((hub.hub_ip.as_str(), hub.hub_port), ("127.0.0.1", 8081));
    assert_eq!(hub.hub_bind_url, "");
    assert_eq!(hub.db_url, "sqlite:///ferrohub.sqlite");
    assert_eq!(hub.cookie_secret_file, "ferrohub_cookie_secret");
    assert_eq!(hub.cookie_max_age_days, 14.0);
    assert_eq!(hub.last_activity_interval, 300);
    assert_eq!(hub.authenticator_class, "pam");
    assert_eq!(hub.spawner_class, "localprocess");
    assert!(hub.redirect_to_server && hub.cleanup_servers && hub.cleanup_proxy);
    assert!(!hub.upgrade_db);
    assert_eq!(config.proxy.api_url, "http://127.0.0.1:8001");
    assert_eq!(config.proxy.pid_file, "ferrohub-proxy.pid");
    assert!(config.proxy.should_start);
    assert_eq!(config.authenticator.allow_all, None);
    assert_eq!(config.pam_authenticator.service, "login");
    assert!(config.pam_authenticator.check_account);
    assert_eq!(config.pam_authenticator.executor_threads, 4);
    // ferrohub-only login backoff: 5 per name, 100 per address, 1 s doubling to 300 s.
    let auth = &config.authenticator;
    assert_eq!(
        (
            auth.login_failures_per_user,
            auth.login_failures_per_address
        ),
        (5, 100)
    );
    assert_eq!(
        (
            auth.login_backoff_initial_seconds,
            auth.login_backoff_max_seconds
        ),
        (1.0, 300.0)
    );
    let spawner = &config.spawner;
    assert_eq!(spawner.cmd, ["jupyterhub-singleuser"]);
    assert_eq!((spawner.ip.as_str(), spawner.port), ("127.0.0.1", 0));
    assert_eq!(
        (
            spawner.start_timeout,
            spawner.http_timeout,
            spawner.poll_interval
        ),
        (60, 30, 30)
    );
    assert!(spawner.env_keep.iter().any(|v| v == "PATH"));
    let local = &config.local_process_spawner;
    assert_eq!(
        (
            local.interrupt_timeout,
            local.term_timeout,
            local.kill_timeout
        ),
        (30, 30, 5)
    );
    assert_eq!(
        config.simple_local_process_spawner.home_dir_template,
        "/tmp/{username}"
    );
}

const FULL: &str = r#"
[JupyterHub]
bind_url = "https://:443/jh"
ssl_cert = "/etc/hub/cert.pem"
ssl_key = "/etc/hub/key.pem"
public_url = "https://hub.example.org"
trusted_downstream_ips = ["10.0.0.1"]
hub_socket_mode = 432
hub_bind_url = "http://127.0.0.1:9081"
hub_ip = "0.0.0.0"
hub_port = 9081
hub_connect_url = "http://hub.internal:9081"
db_url = "sqlite:///relative.sqlite"
upgrade_db = true
cookie_secret_file = "secrets/cookie"
cookie_max_age_days = 0.5
pid_file = "hub.pid"
authenticator_class = "dummy"
spawner_class = "simple"
last_activity_interval = 60
redirect_to_server = false
cleanup_servers = false
cleanup_proxy = false
log_level = "DEBUG"

[ConfigurableHTTPProxy]
api_url = "http://127.0.0.1:9001"
auth_token = "secret"
command = ["/usr/local/bin/ferrohub-proxy", "--debug"]
should_start = false
pid_file = "proxy.pid"
log_level = "debug"

[Authenticator]
admin_users = ["alice"]
allowed_users = ["alice", "bob"]
blocked_users = ["mallory"]
allow_all = false
allow_existing_users = true

[DummyAuthenticator]
password = "pw"

[PAMAuthenticator]
service = "jupyterhub"
check_account = false
admin_groups = ["wheel"]

[Spawner]
cmd = ["jupyter-labhub"]
args = ["--debug"]
environment = { KEY = "v", HOME_HINT = "/home/{username}" }
env_keep = ["PATH"]
ip = "0.0.0.0"
port = 8888
start_timeout = 120
http_timeout = 45
poll_interval = 10
notebook_dir = "~/notebooks"
default_url = "/lab"
debug = true

[LocalProcessSpawner]
interrupt_timeout = 1
term_timeout = 2
kill_timeout = 3
shell_cmd = ["bash", "-l", "-c"]

[SimpleLocalProcessSpawner]
home_dir_template = "/srv/{username}"
"#;

#[test]
fn a_full_file_with_every_section_loads() {
    let config = load_text(FULL, &[]).unwrap();
    let hub = &config.jupyterhub;
    assert_eq!(hub.bind_url, "https://:443/jh");
    assert_eq!(
        (hub.ssl_cert.as_str(), hub.ssl_key.as_str()),
        ("/etc/hub/cert.pem", "/etc/hub/key.pem")
    );
    assert_eq!(
        hub.public_url, "https://hub.example.org/jh/",
        "completed as upstream"
    );
    assert_eq!(hub.trusted_downstream_ips, ["10.0.0.1"]);
    assert_eq!(hub.hub_socket_mode, 0o660);
    assert_eq!(hub.hub_port, 9081);
    assert_eq!(hub.cookie_max_age_days, 0.5);
    assert_eq!(hub.log_level, "debug", "log level is lowercased");
    assert!(!hub.redirect_to_server);
    assert_eq!(
        config.proxy.command,
        ["/usr/local/bin/ferrohub-proxy", "--debug"]
    );
    assert!(!config.proxy.should_start);
    assert_eq!(config.authenticator.allowed_users, ["alice", "bob"]);
    assert_eq!(config.authenticator.allow_all, Some(false));
    assert_eq!(config.authenticator.allow_existing_users, Some(true));
    assert_eq!(config.dummy_authenticator.password, "pw");
    assert_eq!(config.pam_authenticator.admin_groups, ["wheel"]);
    assert_eq!(config.spawner.environment["KEY"], "v");
    assert_eq!(
        (config.spawner.start_timeout, config.spawner.port),
        (120, 8888)
    );
    assert_eq!(config.local_process_spawner.shell_cmd, ["bash", "-l", "-c"]);
    assert_eq!(
        config.simple_local_process_spawner.home_dir_template,
        "/srv/{username}"
    );
    assert_eq!(config.base_url().unwrap(), "/jh/");
}

#[test]
fn relative_paths_are_kept_as_written() {
    let config = load_text(FULL, &[]).unwrap();
    assert_eq!(config.jupyterhub.db_url, "sqlite:///relative.sqlite");
    assert_eq!(config.jupyterhub.cookie_secret_file, "secrets/cookie");
    assert_eq!(config.jupyterhub.pid_file, "hub.pid");
    assert_eq!(config.proxy.pid_file, "proxy.pid");
}

#[test]
fn a_partial_file_keeps_the_other_defaults() {
    let config = load_text("[Spawner]\ndefault_url = \"/lab\"\n", &[]).unwrap();
    assert_eq!(config.spawner.default_url, "/lab");
    assert_eq!(config.spawner.cmd, ["jupyterhub-singleuser"]);
    assert_eq!(config.jupyterhub, Config::default().jupyterhub);
}

#[test]
fn command_line_overrides_beat_the_file() {
    let config = load_text(
        FULL,
        &[
            "--JupyterHub.bind_url=http://:9000",
            "JupyterHub.hub_port=8000",
            "--JupyterHub.redirect_to_server=True",
            "--Spawner.args=['--debug', '--port=1']",
            "--Spawner.environment={KEY = \"w\"}",
            "--Spawner.start_timeout=5",
            "--JupyterHub.cookie_max_age_days=2",
        ],
    )
    .unwrap();
    // The file's ssl_cert makes it https, as upstream's bind_url validator.
    assert_eq!(config.jupyterhub.bind_url, "https://:9000");
    assert_eq!(config.jupyterhub.hub_port, 8000);
    assert!(config.jupyterhub.redirect_to_server);
    assert_eq!(config.spawner.args, ["--debug", "--port=1"]);
    assert_eq!(
        config.spawner.environment.len(),
        1,
        "a table value replaces, as upstream"
    );
    assert_eq!(config.spawner.environment["KEY"], "w");
    assert_eq!(config.spawner.start_timeout, 5);
    assert_eq!(config.jupyterhub.cookie_max_age_days, 2.0);
    // untouched options still come from the file
    assert_eq!(config.spawner.http_timeout, 45);
}

#[test]
fn overrides_work_without_a_file_and_the_last_one_wins() {
    let config = load(
        None,
        &args(&[
            "--Spawner.debug=true",
            "--Spawner.debug=False",
            "--Authenticator.allow_all=True",
        ]),
    )
    .unwrap();
    assert!(!config.spawner.debug);
    assert_eq!(config.authenticator.allow_all, Some(true));
}

#[test]
fn override_values_fall_back_to_plain_text() {
    let config = load(
        None,
        &args(&[
            "--DummyAuthenticator.password=1234",
            "--Spawner.default_url=/lab",
            "--JupyterHub.hub_ip=0.0.0.0",
            "--Spawner.cmd=jupyter-labhub",
            "--Spawner.args=--debug",
            "--JupyterHub.log_level=warning",
        ]),
    )
    .unwrap();
    assert_eq!(config.dummy_authenticator.password, "1234");
    assert_eq!(config.spawner.default_url, "/lab");
    assert_eq!(config.jupyterhub.hub_ip, "0.0.0.0");
    assert_eq!(config.spawner.cmd, ["jupyter-labhub"]);
    assert_eq!(config.spawner.args, ["--debug"]);
    assert_eq!(config.jupyterhub.log_level, "warning");
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.toml");
    let message = load(Some(&path), &[]).unwrap_err().to_string();
    assert_eq!(message, format!("config file {} not found", path.display()));
}

#[test]
fn a_syntax_error_gives_file_line_and_column() {
    let message = error(
        "[JupyterHub]\nhub_port = 8081\nbind_url = http://:8000\n",
        &[],
    );
    assert!(message.starts_with("FILE:3:12: "), "{message}");
    let message = error("[Spawner\ncmd = []\n", &[]);
    assert!(message.starts_with("FILE:1:"), "{message}");
}

#[test]
fn an_unknown_class_is_named() {
    assert_eq!(
        error("[Foo]\nx = 1\n", &[]),
        "unknown configuration class [Foo] in FILE"
    );
    assert_eq!(
        error("[Spawnr]\ncmd = []\n", &[]),
        "unknown configuration class [Spawnr] in FILE (did you mean [Spawner]?)"
    );
    assert_eq!(
        error("", &["--Foo.bar=1"]),
        "unknown configuration class [Foo] on the command line"
    );
}

#[test]
fn an_unknown_option_is_named_with_a_suggestion() {
    assert_eq!(
        error("[Spawner]\nfoo = 1\n", &[]),
        "unknown option Spawner.foo in FILE"
    );
    assert_eq!(
        error("[Spawner]\ncmdd = []\n", &[]),
        "unknown option Spawner.cmdd in FILE (did you mean Spawner.cmd?)"
    );
    assert_eq!(
        error("", &["--Spawner.start_timout=5"]),
        "unknown option Spawner.start_timout on the command line (did you mean Spawner.start_timeout?)"
    );
    // upstream lets subclasses take their parent's options; point to where it lives here
    assert_eq!(
        error("[LocalProcessSpawner]\ncmd = [\"x\"]\n", &[]),
        "unknown option LocalProcessSpawner.cmd in FILE (did you mean Spawner.cmd?)"
    );
    assert_eq!(
        error("bind_url = \"http://:8000\"\n", &[]),
        "bind_url in FILE is not inside a [Class] section (did you mean JupyterHub.bind_url?)"
    );
}

#[test]
fn an_upstream_option_that_ferrohub_lacks_says_so() {
    assert_eq!(
        error("[JupyterHub]\ndebug_db = true\n", &[]),
        "unknown option JupyterHub.debug_db in FILE \
         (upstream JupyterHub has this option; ferrohub does not support it)"
    );
    // A Python hook points to the option that does its usual job.
    assert_eq!(
        error("[Spawner]\nauth_state_hook = \"f\"\n", &[]),
        "unknown option Spawner.auth_state_hook in FILE (did you mean Spawner.auth_state_env?) \
         (upstream JupyterHub has this option; ferrohub does not support it)"
    );
}

#[test]
fn auth_state_options_load() {
    let config = load_text(
        "[Authenticator]\nenable_auth_state = true\n\
         [Spawner.auth_state_env]\nACCESS_TOKEN = \"access_token\"\nEMAIL = \"oauth_user.email\"\n",
        &[],
    )
    .unwrap();
    assert!(config.authenticator.enable_auth_state);
    assert_eq!(
        config
            .spawner
            .auth_state_env
            .get("EMAIL")
            .map(String::as_str),
        Some("oauth_user.email")
    );
    assert!(!Config::default().authenticator.enable_auth_state);
}

#[test]
fn a_wrong_type_is_named() {
    assert_eq!(
        error("[Spawner]\nstart_timeout = \"abc\"\n", &[]),
        "Spawner.start_timeout in FILE: expected an integer, found a string \"abc\""
    );
    assert_eq!(
        error("", &["--Spawner.start_timeout=abc"]),
        "Spawner.start_timeout on the command line: expected an integer, found a string \"abc\""
    );
    assert_eq!(
        error("[JupyterHub]\nhub_port = 70000\n", &[]),
        "JupyterHub.hub_port in FILE: expected an integer from 0 to 65535, found an integer 70000"
    );
    assert_eq!(
        error("[Spawner]\ncmd = \"jupyterhub-singleuser\"\n", &[]),
        "Spawner.cmd in FILE: expected a list, found a string \"jupyterhub-singleuser\""
    );
    assert_eq!(
        error("[JupyterHub]\ncleanup_servers = \"yes\"\n", &[]),
        "JupyterHub.cleanup_servers in FILE: expected a boolean, found a string \"yes\""
    );
    assert_eq!(
        error("", &["--Spawner.environment=[1]"]),
        "Spawner.environment on the command line: expected a table, found a list"
    );
}

#[test]
fn python_none_is_refused_on_the_command_line() {
    assert_eq!(
        error("", &["--JupyterHub.pid_file=None"]),
        "JupyterHub.pid_file on the command line: None is not supported; \
         leave the option out to keep its default"
    );
}

#[test]
fn a_malformed_override_is_refused() {
    assert_eq!(
        error("", &["--debug"]),
        "bad command-line option \"--debug\": expected --Class.trait=value"
    );
    assert_eq!(
        error("", &["--Spawner=1"]),
        "bad command-line option \"--Spawner=1\": expected --Class.trait=value"
    );
}

#[test]
fn listen_urls_must_be_http() {
    assert_eq!(
        error("[JupyterHub]\nbind_url = \"ftp://:21\"\n", &[]),
        "JupyterHub.bind_url in FILE: \"ftp://:21\" is not a valid http(s) URL: only http and https are supported"
    );
    assert_eq!(
        error("", &["--ConfigurableHTTPProxy.api_url=127.0.0.1:8001"]),
        "ConfigurableHTTPProxy.api_url on the command line: \"127.0.0.1:8001\" is not a valid http(s) URL: \
         expected scheme://host:port/path"
    );
    assert!(
        error("[JupyterHub]\nhub_bind_url = \"http://:x\"\n", &[])
            .starts_with("JupyterHub.hub_bind_url in FILE: ")
    );
    // the default's empty host (all interfaces) is valid
    assert!(load_text("[JupyterHub]\nbind_url = \"http://:8000/jh\"\n", &[]).is_ok());
}

#[test]
fn cookie_lifetime_in_seconds_never_overflows() {
    let days = |d: f64| ferrohub_config::JupyterHubConfig {
        cookie_max_age_days: d,
        ..Default::default()
    };
    assert_eq!(days(14.0).cookie_max_age_secs(), 14 * 86_400);
    assert_eq!(days(0.5).cookie_max_age_secs(), 43_200);
    // Set in code, past what loading accepts: clamped, not i64::MAX.
    assert_eq!(days(1e300).cookie_max_age_secs(), 86_400_000_000);
    assert_eq!(days(f64::INFINITY).cookie_max_age_secs(), 86_400_000_000);
    assert_eq!(days(-1.0).cookie_max_age_secs(), 0);
}

#[test]
fn semantic_checks_name_the_option() {
    assert_eq!(
        error("[Spawner]\ncmd = []\n", &[]),
        "Spawner.cmd in FILE: must not be empty: it is the command that starts each user's server"
    );
    assert_eq!(
        error("[JupyterHub]\ncookie_max_age_days = 0\n", &[]),
        "JupyterHub.cookie_max_age_days in FILE: must be a number of days greater than 0 and at most 1000000, found 0"
    );
    // A lifetime whose seconds would not fit a timestamp is refused, not cut.
    assert_eq!(
        error("[JupyterHub]\ncookie_max_age_days = 1e12\n", &[]),
        "JupyterHub.cookie_max_age_days in FILE: must be a number of days greater than 0 and at most 1000000, found 1000000000000"
    );
    assert!(load_text("[JupyterHub]\ncookie_max_age_days = 1000000\n", &[]).is_ok());
    assert_eq!(
        error("[JupyterHub]\nimplicit_spawn_seconds = -1\n", &[]),
        "JupyterHub.implicit_spawn_seconds in FILE: must be a number of seconds from 0 to 86400, found -1"
    );
    let implicit = load_text("[JupyterHub]\nimplicit_spawn_seconds = 2.5\n", &[]).unwrap();
    assert!((implicit.jupyterhub.implicit_spawn_seconds - 2.5).abs() < f64::EPSILON);
    assert_eq!(
        error(
            "[JupyterHub]\nlog_level = \"loud\"\n",
            &["--JupyterHub.cookie_max_age_days=1"]
        ),
        "JupyterHub.log_level in FILE: expected one of debug, info, warn, warning, error, found \"loud\""
    );
    assert_eq!(
        error("[PAMAuthenticator]\nexecutor_threads = 0\n", &[]),
        "PAMAuthenticator.executor_threads in FILE: must be at least 1: PAM logins run on these threads"
    );
    assert_eq!(
        error("[Authenticator]\nlogin_backoff_initial_seconds = 0\n", &[]),
        "Authenticator.login_backoff_initial_seconds in FILE: must be a number of seconds greater than 0 and at most 86400, found 0"
    );
    assert_eq!(
        error(
            "[Authenticator]\nlogin_backoff_initial_seconds = 10\nlogin_backoff_max_seconds = 5\n",
            &[]
        ),
        "Authenticator.login_backoff_max_seconds in FILE: must not be less than login_backoff_initial_seconds (10)"
    );
    // the error says where the bad value came from, not where the key first appeared
    assert_eq!(
        error("[Spawner]\ncmd = [\"x\"]\n", &["--Spawner.cmd=[]"]),
        "Spawner.cmd on the command line: must not be empty: it is the command that starts each user's server"
    );
}

/// Removes the `# ` of every commented-out option line (help lines start with `##`).
fn uncomment_options(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(option) if !line.starts_with("##") => option,
            _ => line,
        })
        .collect();
    lines.join("\n")
}

#[test]
fn the_generated_config_loads_to_the_defaults() {
    let generated = generate_config();
    assert_eq!(load_text(&generated, &[]).unwrap(), Config::default());
}

#[test]
fn the_generated_config_uncommented_still_loads_to_the_defaults() {
    let uncommented = uncomment_options(&generate_config());
    assert!(uncommented.contains("\ncmd = [\"jupyterhub-singleuser\"]\n"));
    assert!(uncommented.contains("\nbind_url = \"http://:8000\"\n"));
    let (_dir, path) = file(&uncommented);
    assert_eq!(
        load(Some(Path::new(&path)), &[]).unwrap(),
        Config::default()
    );
}

#[test]
fn check_running_interval_defaults_to_upstreams_5_seconds_and_must_be_positive() {
    assert_eq!(load(None, &[]).unwrap().proxy.check_running_interval, 5);
    let set = load_text("[ConfigurableHTTPProxy]\ncheck_running_interval = 1\n", &[]).unwrap();
    assert_eq!(set.proxy.check_running_interval, 1);
    assert_eq!(
        error("", &["--ConfigurableHTTPProxy.check_running_interval=0"]),
        "ConfigurableHTTPProxy.check_running_interval on the command line: must be at least 1 second"
    );
}

#[test]
fn a_profile_list_loads_from_toml_with_derived_slugs() {
    let config = load_text(
        r#"
[Spawner]
environment = { BASE = "1" }
mem_limit = "1G"
cpu_limit = 2

[[Spawner.profile_list]]
display_name = "Small CPU"
description = "One core, 512 MiB"
spawner_override = { environment = { SIZE = "small" }, mem_limit = "512M" }

[[Spawner.profile_list]]
display_name = "Big"
slug = "big-one"
default = true
kubespawner_override = { default_url = "/lab/tree/big", cmd = ["jupyterhub-singleuser"] }
"#,
        &[],
    )
    .unwrap();
    let spawner = &config.spawner;
    assert!(spawner.has_options_form());
    assert_eq!(spawner.mem_limit.map(u64::from), Some(1 << 30));
    assert_eq!(spawner.cpu_limit, Some(2.0));
    let slugs: Vec<_> = spawner.profile_list.iter().map(|p| &p.slug).collect();
    assert_eq!(slugs, ["small-cpu", "big-one"]);
    let chosen = ferrohub_config::choose_profile(&spawner.profile_list, None)
        .unwrap()
        .unwrap();
    assert_eq!(chosen.slug, "big-one");
    assert!(!Config::default().spawner.has_options_form());
}

#[test]
fn profile_mistakes_name_the_profile_and_key() {
    assert_eq!(
        error(
            "[[Spawner.profile_list]]\ndisplay_name = \"GPU\"\nkubespawner_override = { image = \"x\" }",
            &[]
        ),
        "Spawner.profile_list in FILE: profile \"GPU\" overrides \"image\", which ferrohub's spawners do not support; \
         a profile may override cmd, args, environment, default_url, mem_limit, cpu_limit, mem_guarantee, cpu_guarantee"
    );
    assert_eq!(
        error(
            "[[Spawner.profile_list]]\ndisplay_name = \"A\"\n[[Spawner.profile_list]]\ndisplay_name = \"a\"",
            &[]
        ),
        "Spawner.profile_list in FILE: profiles \"A\" and \"a\" have the same slug \"a\"; give one a distinct slug"
    );
    assert_eq!(
        error(
            "[Spawner]\noptions_form = \"<input name=x>\"\n[[Spawner.profile_list]]\ndisplay_name = \"A\"",
            &[]
        ),
        "Spawner.options_form in FILE: set options_form or profile_list, not both: the spawn page shows one form"
    );
    assert_eq!(
        error(
            "[[Spawner.profile_list]]\ndisplay_name = \"A\"\nspawner_override = { cpu_limit = -1 }",
            &[]
        ),
        "Spawner.profile_list in FILE: profile \"A\", spawner_override.cpu_limit: must be a number of cores of at least 0, found -1"
    );
    assert_eq!(
        error("[Spawner]\nmem_limit = \"lots\"", &[]),
        "Spawner.mem_limit in FILE: \"lots\" is not a valid memory specification: write an integer number of bytes or a number with suffix K, M, G or T"
    );
}

#[test]
fn batch_spawner_base_options_reach_slurm_spawner_and_the_class_wins() {
    let config = load_text(
        r#"
[BatchSpawnerBase]
req_partition = "debug"
req_runtime = "1:00:00"

[SlurmSpawner]
req_runtime = "8:00:00"
"#,
        &[],
    )
    .unwrap();
    let slurm = &config.slurm_spawner;
    assert_eq!(slurm.req_partition, "debug", "inherited from the base");
    assert_eq!(slurm.req_runtime, "8:00:00", "the class's own section wins");

    let only_base = load_text("[BatchSpawnerBase]\nreq_qos = \"short\"\n", &[]).unwrap();
    assert_eq!(only_base.slurm_spawner.req_qos, "short");

    let message = error("[BatchSpawnerBase]\nreq_partitoin = \"x\"\n", &[]);
    assert!(message.contains("req_partitoin"), "{message}");
    assert!(message.contains("req_partition"), "a suggestion: {message}");
}

/// `load` of a `jupyterhub_config.py`: its values become the same typed
/// configuration as TOML, and each message names the line of the option.
#[test]
fn python_file_loads_and_names_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jupyterhub_config.py");
    let load_py = |text: &str, overrides: &[&str]| {
        std::fs::write(&path, text).unwrap();
        load(Some(&path), &args(overrides))
    };
    let from_py = load_py(
        "c = get_config()\nc.JupyterHub.hub_port = 8082\nc.Spawner.args = ('--debug',)\n\
         c.Authenticator.admin_users = {'ann'}\nc.JupyterHub.pid_file = None\n",
        &[],
    )
    .unwrap();
    let from_toml = load_text(
        // A Python file keeps upstream's state files by default.
        "[JupyterHub]\nhub_port = 8082\ndb_url = \"sqlite:///jupyterhub.sqlite\"\n\
         cookie_secret_file = \"jupyterhub_cookie_secret\"\n[Spawner]\nargs = [\"--debug\"]\n\
         [Authenticator]\nadmin_users = [\"ann\"]\n",
        &[],
    )
    .unwrap();
    assert_eq!(from_py, from_toml);
    // The command line still wins over the file.
    let overridden = load_py(
        "c.JupyterHub.hub_port = 8082\n",
        &["--JupyterHub.hub_port=9000"],
    )
    .unwrap();
    assert_eq!(overridden.jupyterhub.hub_port, 9000);
    let shown = path.display();
    for (text, expected) in [
        (
            "x = 1\nc.JupyterHub.cookie_max_age_days = 0\n",
            format!(
                "JupyterHub.cookie_max_age_days in {shown}:2: must be a number of days greater than 0"
            ),
        ),
        (
            "\n\nc.Spawner.cmd = []\n",
            format!("Spawner.cmd in {shown}:3: must not be empty"),
        ),
        (
            "c.Spawner.start_timout = 5\n",
            format!(
                "unknown option Spawner.start_timout in {shown}:1 (did you mean Spawner.start_timeout?)"
            ),
        ),
        (
            "c.Spawner.pre_spawn_hook = lambda s: None\n",
            format!(
                "{shown}:1: Spawner.pre_spawn_hook: the Python function <lambda> (line 1) is Python code"
            ),
        ),
        (
            "c.Spawner.cmd = [\n",
            format!("{shown}:1: invalid syntax: '[' was never closed"),
        ),
        (
            // Every upstream option ferrohub lacks is named at once, in line
            // order (an option upstream does not have either is not).
            "c.Spawner.consecutive_failure_limit = 3\nc.JupyterHub.tornado_settings = {}\n\
             c.JupyterHub.hub_port = 1\nc.Authenticator.post_auth_hook = None\n\
             c.Authenticator.otp_required_for_login = True\nc.Authenticator.post_auth_hook = 'x'\n",
            format!(
                "unknown option Spawner.consecutive_failure_limit in {shown}:1 (upstream JupyterHub has this option; ferrohub does not support it); nor these upstream options: JupyterHub.tornado_settings in {shown}:2, Authenticator.post_auth_hook in {shown}:6"
            ),
        ),
    ] {
        let message = load_py(text, &[]).unwrap_err().to_string();
        assert!(!message.contains('\n'), "{message}");
        assert!(
            message.starts_with(&expected),
            "{message}\nexpected: {expected}"
        );
    }
}
