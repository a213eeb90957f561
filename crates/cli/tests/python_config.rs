//! Upstream's `jupyterhub_config.py` read by the real `ferrohub` binary: the
//! ArchWiki seed page's own snippets and three typical files give the same
//! `--show-config` as their TOML equivalents; a hook function is refused
//! naming its file, line and option; the values agree with upstream's own
//! traitlets loader (run from the project's virtualenv); and a hub started
//! from a `.py` file serves its login page.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::{TestHub, ferrohub_bin, http_get_status, venv};

/// Environment both readings of a file see.
const ENV: &[(&str, &str)] = &[
    ("ANNOUNCEMENT_TOKEN", "announcement-token-0123456789abcdef"),
    ("HUB_DB_PASSWORD", "db-pw-42"),
    ("CULL_TIMEOUT", "3600"),
];

/// What a `jupyterhub_config.py` that does not name them keeps: upstream's
/// database and cookie secret files (TOML lines of `[JupyterHub]`).
const UPSTREAM_FILES: &str =
    "db_url = \"sqlite:///jupyterhub.sqlite\"\ncookie_secret_file = \"jupyterhub_cookie_secret\"\n";

/// `ferrohub -f FILE ARGS...` in `dir`, with the virtualenv first on `PATH`
/// (so `sys.executable` is its Python) and [`ENV`].
fn ferrohub(dir: &Path, file: &str, args: &[&str]) -> Output {
    let path = format!("{}/bin:/usr/local/bin:/usr/bin:/bin", venv().display());
    Command::new(ferrohub_bin())
        .arg("-f")
        .arg(file)
        .args(args)
        .current_dir(dir)
        .env("PATH", path)
        .envs(ENV.iter().copied())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `--show-config` of `file` (written into `dir` from `source`): stdout.
fn show_config(dir: &Path, file: &str, source: &str, extra: &[&str]) -> String {
    std::fs::write(dir.join(file), source).unwrap();
    let mut args = vec!["--show-config"];
    args.extend_from_slice(extra);
    let out = ferrohub(dir, file, &args);
    assert!(
        out.status.success(),
        "{file} refused: {}\n{source}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The Python file and the TOML file configure the same hub, and the
/// configuration is not empty (the options differ from the defaults).
fn assert_equivalent(python: &str, toml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let from_py = show_config(dir.path(), "jupyterhub_config.py", python, &[]);
    let from_toml = show_config(dir.path(), "ferrohub.toml", toml, &[]);
    assert_eq!(from_py, from_toml, "python:\n{python}\ntoml:\n{toml}");
    assert!(
        from_py.lines().any(|l| l.starts_with('[')),
        "nothing configured:\n{from_py}"
    );
    from_py
}

/// The refusal of `source` as `jupyterhub_config.py` (one line), and the
/// file's name as the errors give it (as it was passed to `-f`).
fn refusal(source: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jupyterhub_config.py"), source).unwrap();
    let out = ferrohub(dir.path(), "jupyterhub_config.py", &["--show-config"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    (
        stderr.trim_end().to_owned(),
        "jupyterhub_config.py".to_owned(),
    )
}

fn python() -> String {
    format!("{}/bin/python3", venv().display())
}

#[test]
fn seed_page_snippets() {
    // Relative database path and the spawner classes the page names.
    assert_equivalent(
        "c.JupyterHub.db_url = 'sqlite:///jupyterhub.sqlite'\n\
         c.JupyterHub.spawner_class = 'systemdspawner.SystemdSpawner'\n",
        "[JupyterHub]\ndb_url = \"sqlite:///jupyterhub.sqlite\"\n\
         spawner_class = \"systemdspawner.SystemdSpawner\"\n\
         cookie_secret_file = \"jupyterhub_cookie_secret\"\n",
    );
    assert_equivalent(
        "c.JupyterHub.spawner_class = 'sudospawner.SudoSpawner'\n",
        &format!("[JupyterHub]\nspawner_class = \"sudospawner.SudoSpawner\"\n{UPSTREAM_FILES}"),
    );
    // The idle culler, run by the hub with the hub's Python.
    let culler = assert_equivalent(
        "import sys\n\
         c.JupyterHub.services = [\n\
         \x20   {\n\
         \x20       'name': 'idle-culler',\n\
         \x20       'admin': True,\n\
         \x20       'command': [\n\
         \x20           sys.executable,\n\
         \x20           '-m', 'jupyterhub_idle_culler',\n\
         \x20           '--timeout=3600'\n\
         \x20       ],\n\
         \x20   }\n\
         ]\n",
        &format!(
            "[JupyterHub]\n{UPSTREAM_FILES}[[JupyterHub.services]]\nname = \"idle-culler\"\nadmin = true\n\
             command = [\"{}\", \"-m\", \"jupyterhub_idle_culler\", \"--timeout=3600\"]\n",
            python()
        ),
    );
    assert!(culler.contains(&python()), "{culler}");
    // Behind a reverse proxy under /jupyter.
    assert_equivalent(
        "c.JupyterHub.bind_url = 'http://127.0.0.1:8000/jupyter'\n",
        &format!("[JupyterHub]\nbind_url = \"http://127.0.0.1:8000/jupyter\"\n{UPSTREAM_FILES}"),
    );
    // The packaged unit sets the pid files on the command line: they win
    // over the file.
    let dir = tempfile::tempdir().unwrap();
    let shown = show_config(
        dir.path(),
        "jupyterhub_config.py",
        "c.JupyterHub.pid_file = 'hub.pid'\nc.ConfigurableHTTPProxy.pid_file = 'proxy.pid'\n",
        &[
            "--JupyterHub.pid_file=/run/jupyterhub/jupyterhub.pid",
            "--ConfigurableHTTPProxy.pid_file=/run/jupyterhub/proxy.pid",
        ],
    );
    assert!(
        shown.contains("pid_file = \"/run/jupyterhub/jupyterhub.pid\"")
            && shown.contains("pid_file = \"/run/jupyterhub/proxy.pid\""),
        "{shown}"
    );
    // `c.Application.show_config = True` is also a command-line switch.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("jupyterhub_config.py"),
        "c.JupyterHub.hub_port = 9090\n",
    )
    .unwrap();
    let out = ferrohub(
        dir.path(),
        "jupyterhub_config.py",
        &["--Application.show_config=True"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("hub_port = 9090"));
    // ... and in the file itself, as the page first gives it: the hub prints
    // its configuration and exits instead of starting.
    std::fs::write(
        dir.path().join("jupyterhub_config.py"),
        "c.Application.show_config = True\nc.Application.log_level = 'DEBUG'\n",
    )
    .unwrap();
    let out = ferrohub(dir.path(), "jupyterhub_config.py", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("\nlog_level = \"debug\"\n"),
        "{}",
        text(&out.stdout)
    );
    // The page's jupyter-server-proxy snippet belongs in the single-user
    // server's config: in the hub's it is refused, naming line and class.
    let (line, path) = refusal(
        "c = get_config()\n\
         c.ServerProxy.servers = {\n\
         \x20 'code-server': {\n\
         \x20   'command': ['code-server', '--auth=none', '--port={port}'],\n\
         \x20   'timeout': 20,\n\
         \x20   'launcher_entry': {'title': 'VS Code'},\n\
         \x20 },\n\
         }\n",
    );
    assert_eq!(
        line,
        format!("ferrohub: unknown configuration class [ServerProxy] in {path}:2")
    );
}

/// The file upstream's `jupyterhub --generate-config` writes (every option
/// commented out) configures nothing but upstream's default state files.
#[test]
fn upstream_generated_config_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(venv().join("bin/jupyterhub"))
        .args(["--generate-config", "-f", "jupyterhub_config.py"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let source = std::fs::read_to_string(dir.path().join("jupyterhub_config.py")).unwrap();
    assert!(source.lines().count() > 1000, "{source:.400}");
    let out = ferrohub(dir.path(), "jupyterhub_config.py", &["--show-config"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Nothing but upstream's state files, which a Python file keeps.
    let shown = text(&out.stdout);
    let body: Vec<&str> = shown.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        body,
        [
            "[JupyterHub]",
            "cookie_secret_file = \"jupyterhub_cookie_secret\"",
            "db_url = \"sqlite:///jupyterhub.sqlite\""
        ],
        "{shown}"
    );
    // With the default file present and no -f, it is the one read.
    let out = Command::new(ferrohub_bin())
        .arg("--show-config")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("Loaded config file: jupyterhub_config.py"),
        "{}",
        text(&out.stderr)
    );
}

const PAM_PY: &str = r#"# A PAM set-up, as in JupyterHub's documentation.
c = get_config()  # noqa
import os

data_dir = '/var/lib/jupyterhub'
c.JupyterHub.bind_url = 'http://:8000'
c.JupyterHub.authenticator_class = 'jupyterhub.auth.PAMAuthenticator'
c.JupyterHub.cookie_secret_file = os.path.join(data_dir, 'jupyterhub_cookie_secret')
c.JupyterHub.db_url = f"sqlite:///{os.path.join(data_dir, 'jupyterhub.sqlite')}"
c.JupyterHub.log_level = 'DEBUG'

c.PAMAuthenticator.service = 'jupyterhub'
c.PAMAuthenticator.admin_groups = {'wheel'}
c.PAMAuthenticator.open_sessions = False
c.LocalAuthenticator.allowed_groups = {'jupyterhub-users'}
c.LocalAuthenticator.create_system_users = False
c.Authenticator.admin_users = {'admin'}
c.Authenticator.allowed_users = set()
c.Authenticator.allowed_users |= {'alice', 'bob'}

c.Spawner.default_url = '/lab'
c.Spawner.notebook_dir = '~/notebooks'
c.Spawner.environment = {'JUPYTER_ENABLE_LAB': 'yes'}
c.Spawner.env_keep.append('TZ')
c.Spawner.mem_limit = '2G'
c.Spawner.cpu_limit = 1.5
c.Spawner.start_timeout = 60 * 2
if os.environ.get('CULL_TIMEOUT'):
    c.Spawner.http_timeout = int(os.environ['CULL_TIMEOUT']) // 60
else:
    c.Spawner.http_timeout = 30
"#;

const PAM_TOML: &str = r#"
[JupyterHub]
bind_url = "http://:8000"
authenticator_class = "jupyterhub.auth.PAMAuthenticator"
cookie_secret_file = "/var/lib/jupyterhub/jupyterhub_cookie_secret"
db_url = "sqlite:////var/lib/jupyterhub/jupyterhub.sqlite"
log_level = "debug"

[PAMAuthenticator]
service = "jupyterhub"
admin_groups = ["wheel"]

[LocalAuthenticator]
allowed_groups = ["jupyterhub-users"]

[Authenticator]
admin_users = ["admin"]
allowed_users = ["alice", "bob"]

[Spawner]
default_url = "/lab"
notebook_dir = "~/notebooks"
environment = { JUPYTER_ENABLE_LAB = "yes" }
env_keep = ["CONDA_DEFAULT_ENV", "CONDA_ROOT", "JUPYTERHUB_SINGLEUSER_APP", "LANG", "LC_ALL",
            "LD_LIBRARY_PATH", "PATH", "PYTHONPATH", "VIRTUAL_ENV", "TZ"]
mem_limit = "2G"
cpu_limit = 1.5
start_timeout = 120
http_timeout = 60
"#;

#[test]
fn pam_setup() {
    let shown = assert_equivalent(PAM_PY, PAM_TOML);
    assert!(
        shown.contains("allowed_users = [\"alice\", \"bob\"]"),
        "{shown}"
    );
}

const SERVICES_PY: &str = r#"import os
import sys

c = get_config()

culler = 'jupyterhub-idle-culler-service'
c.JupyterHub.load_roles = [
    {
        "name": "jupyterhub-idle-culler-role",
        "scopes": [
            "list:users",
            "read:users:activity",
            "read:servers",
            "delete:servers",
        ],
        "services": [culler],
    },
    {"name": "user", "scopes": ["self", "access:services"]},
]
c.JupyterHub.services = [
    {
        "name": culler,
        "command": [sys.executable, "-m", "jupyterhub_idle_culler",
                    "--timeout={}".format(os.environ["CULL_TIMEOUT"])],
    },
    {
        "name": "announcement",
        "url": "http://127.0.0.1:8888",
        "api_token": os.environ["ANNOUNCEMENT_TOKEN"],
        "display": False,
        "oauth_no_confirm": True,
    },
]
c.JupyterHub.custom_scopes = {
    "custom:announcements:post": {"description": "post announcements"},
}
c.JupyterHub.db_url = "postgresql://hub:%s@db.example/jupyterhub" % os.environ["HUB_DB_PASSWORD"]
c.JupyterHub.allow_named_servers = True
c.JupyterHub.named_server_limit_per_user = 3
"#;

fn services_toml() -> String {
    format!(
        r#"
[JupyterHub]
db_url = "postgresql://hub:db-pw-42@db.example/jupyterhub"
cookie_secret_file = "jupyterhub_cookie_secret"
allow_named_servers = true
named_server_limit_per_user = 3

[[JupyterHub.load_roles]]
name = "jupyterhub-idle-culler-role"
scopes = ["list:users", "read:users:activity", "read:servers", "delete:servers"]
services = ["jupyterhub-idle-culler-service"]

[[JupyterHub.load_roles]]
name = "user"
scopes = ["self", "access:services"]

[[JupyterHub.services]]
name = "jupyterhub-idle-culler-service"
command = ["{python}", "-m", "jupyterhub_idle_culler", "--timeout=3600"]

[[JupyterHub.services]]
name = "announcement"
url = "http://127.0.0.1:8888"
api_token = "announcement-token-0123456789abcdef"
display = false
oauth_no_confirm = true

[JupyterHub.custom_scopes."custom:announcements:post"]
description = "post announcements"
"#,
        python = python()
    )
}

#[test]
fn services_and_roles() {
    let shown = assert_equivalent(SERVICES_PY, &services_toml());
    // Secrets are masked: the service's token and the database password.
    assert!(!shown.contains("announcement-token"), "{shown}");
    assert!(!shown.contains("db-pw-42"), "{shown}");
    assert!(shown.contains(&format!("api_token = \"{}\"", ferrohub_config::MASK)));
    // JSON too, keys sorted.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jupyterhub_config.py"), SERVICES_PY).unwrap();
    let out = ferrohub(dir.path(), "jupyterhub_config.py", &["--show-config-json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["JupyterHub"]["named_server_limit_per_user"], 3);
    assert_eq!(
        json["JupyterHub"]["services"][1]["api_token"],
        ferrohub_config::MASK
    );
}

#[test]
fn a_hook_function_is_refused_naming_file_line_and_option() {
    let (line, path) = refusal(
        "c = get_config()\n\
         \n\
         def pre_spawn_hook(spawner):\n\
         \x20   username = spawner.user.name\n\
         \x20   spawner.environment['GREETING'] = f'Hello {username}'\n\
         \n\
         c.Spawner.pre_spawn_hook = pre_spawn_hook\n\
         c.Spawner.default_url = '/lab'\n",
    );
    assert!(
        line.starts_with(&format!(
            "ferrohub: {path}:7: Spawner.pre_spawn_hook: the Python function pre_spawn_hook (line 3) is Python code"
        )),
        "{line}"
    );
    // An upstream option ferrohub does not have is named with its line.
    let (line, path) = refusal(
        "c.JupyterHub.hub_port = 8081\nc.JupyterHub.tornado_settings = {'slow_spawn_timeout': 0}\n",
    );
    assert_eq!(
        line,
        format!(
            "ferrohub: unknown option JupyterHub.tornado_settings in {path}:2 (upstream JupyterHub has this option; ferrohub does not support it)"
        )
    );
    // A value of the wrong type is named with its line too.
    let (line, path) = refusal("c.JupyterHub.hub_port = 'eighty'\n");
    assert!(
        line.starts_with(&format!(
            "ferrohub: JupyterHub.hub_port in {path}:1: expected"
        )),
        "{line}"
    );
    // An object of an imported class cannot be represented.
    let (line, path) = refusal(
        "from kubespawner import KubeSpawner\nc.JupyterHub.spawner_class = KubeSpawner()\n",
    );
    assert!(
        line.starts_with(&format!("ferrohub: {path}:2: kubespawner.KubeSpawner(...)")),
        "{line}"
    );
}

/// Upstream's own loader (traitlets, from the virtualenv) reads the same
/// file to the same values as ferrohub's reader.
#[test]
fn values_agree_with_upstream_traitlets() {
    let dir = tempfile::tempdir().unwrap();
    let source = format!("{PAM_PY}\n{SERVICES_PY}");
    std::fs::write(dir.path().join("jupyterhub_config.py"), &source).unwrap();
    let script = r#"
import json, sys
from traitlets.config import PyFileConfigLoader
from traitlets.config.loader import LazyConfigValue
config = PyFileConfigLoader('jupyterhub_config.py', path='.').load_config()
def plain(v):
    if isinstance(v, (set, frozenset)):
        return sorted(v)
    if isinstance(v, LazyConfigValue):
        return {'lazy': v.to_dict()}
    raise TypeError(repr(v))
json.dump(config, sys.stdout, default=plain, sort_keys=True)
"#;
    let out = Command::new(python())
        .args(["-c", script])
        .current_dir(dir.path())
        .env("PATH", format!("{}/bin:/usr/bin:/bin", venv().display()))
        .envs(ENV.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let upstream: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ours = ferrohub(dir.path(), "jupyterhub_config.py", &["--show-config-json"]);
    assert!(ours.status.success(), "{}", text(&ours.stderr));
    let ours: serde_json::Value = serde_json::from_slice(&ours.stdout).unwrap();
    let mut compared = 0;
    for (class, traits) in upstream.as_object().unwrap() {
        for (name, theirs) in traits.as_object().unwrap() {
            let mine = &ours[class][name];
            // A change of an unset list (traitlets applies it to upstream's
            // default later; PAM_TOML shows ours), an option left at its
            // default (not shown), secrets (masked in ours) and the log
            // level (ours lowercased) are not compared here.
            if theirs.get("lazy").is_some()
                || mine.is_null()
                || ["services", "db_url", "log_level"].contains(&name.as_str())
            {
                continue;
            }
            assert!(
                covers(mine, theirs),
                "{class}.{name}: ours {mine}, upstream's {theirs}"
            );
            compared += 1;
        }
    }
    assert!(compared >= 15, "only {compared} options compared");
    // The services (secrets masked in ours) agree once unmasked.
    assert_eq!(
        upstream["JupyterHub"]["services"][0]["command"][0],
        python(),
        "sys.executable"
    );
    assert_eq!(
        ours["JupyterHub"]["services"][0]["command"],
        upstream["JupyterHub"]["services"][0]["command"]
    );
}

/// The older `c.JupyterHub.ip`/`port`/`base_url` give the `bind_url` that
/// upstream's own JupyterHub application computes from them.
#[test]
fn url_parts_agree_with_upstream() {
    for source in [
        "c.JupyterHub.ip = '127.0.0.1'\nc.JupyterHub.port = 8765\nc.JupyterHub.base_url = '/jupyter'\n",
        "c.JupyterHub.port = 9000\n",
        "c.JupyterHub.bind_url = 'http://10.0.0.1:8000/hub-prefix/'\nc.JupyterHub.ip = '::1'\n",
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("jupyterhub_config.py"), source).unwrap();
        let script = "from traitlets.config import PyFileConfigLoader\n\
                      from jupyterhub.app import JupyterHub\n\
                      config = PyFileConfigLoader('jupyterhub_config.py', path='.').load_config()\n\
                      print(JupyterHub(config=config).bind_url)\n";
        let out = Command::new(python())
            .args(["-c", script])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let upstream = text(&out.stdout).trim().to_owned();
        let ours = ferrohub(dir.path(), "jupyterhub_config.py", &["--show-config-json"]);
        assert!(ours.status.success(), "{}", text(&ours.stderr));
        let ours: serde_json::Value = serde_json::from_slice(&ours.stdout).unwrap();
        assert_eq!(
            ours["JupyterHub"]["bind_url"],
            upstream.as_str(),
            "{source}"
        );
    }
}

/// Whether our value says what upstream's does: the same, with extra keys
/// only where ours shows a default (a service's `url = ""`), sets compared
/// sorted (the script sorts them), `mem_limit`'s "2G" as bytes.
fn covers(mine: &serde_json::Value, theirs: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (mine, theirs) {
        (Value::Object(a), Value::Object(b)) => b
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|m| covers(m, v))),
        (Value::Array(a), Value::Array(b)) => {
            let sorted = |v: &[Value]| {
                let mut v = v.to_vec();
                if v.iter().all(Value::is_string) {
                    v.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
                }
                v
            };
            let (a, b) = (sorted(a), sorted(b));
            a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| covers(x, y))
        }
        (Value::Number(n), Value::String(s)) if s.ends_with('G') => {
            let gib: f64 = s.trim_end_matches('G').parse().unwrap();
            n.as_f64() == Some(gib * f64::from(1u32 << 30))
        }
        _ => mine == theirs,
    }
}

/// A real hub started from a `jupyterhub_config.py` serves its login page.
#[test]
fn hub_starts_from_a_python_config() {
    let mut hub = TestHub::start(&[]);
    let toml_config = std::fs::read_to_string(&hub.config_path).unwrap();
    hub.kill(nix::sys::signal::Signal::SIGTERM);
    let venv = venv().display().to_string();
    let proxy_token = support::PROXY_TOKEN;
    let (public_port, hub_port, api_port) = (hub.public_port, hub.hub_port, hub.api_port);
    let args = if nix::unistd::Uid::effective().is_root() {
        "['--allow-root']"
    } else {
        "[]"
    };
    let python = format!(
        r#"import os
here = os.path.dirname(os.path.abspath(__file__))
c = get_config()
c.JupyterHub.bind_url = f'http://127.0.0.1:{public_port}'
c.JupyterHub.hub_port = {hub_port}
c.JupyterHub.db_url = 'sqlite:///' + os.path.join(here, 'ferrohub.sqlite')
c.JupyterHub.cookie_secret_file = os.path.join(here, 'cookie_secret')
c.JupyterHub.authenticator_class = 'dummy'
c.JupyterHub.spawner_class = 'simple'
c.JupyterHub.cleanup_servers = True
c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:%d' % {api_port}
c.ConfigurableHTTPProxy.auth_token = '{proxy_token}'
c.ConfigurableHTTPProxy.pid_file = os.path.join(here, 'proxy.pid')
c.Spawner.cmd = ['{venv}/bin/jupyterhub-singleuser']
c.Spawner.args = {args}
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.poll_interval = 2
c.Spawner.environment = {{'PATH': '{venv}/bin:/usr/local/bin:/usr/bin:/bin'}}
c.SimpleLocalProcessSpawner.home_dir_template = here + '/homes/{{username}}'
"#
    );
    let py_path = hub.dir.path().join("jupyterhub_config.py");
    std::fs::write(&py_path, &python).unwrap();
    // The same effective configuration as TestHub's own TOML.
    let show = |file: &Path| {
        let out = ferrohub(
            hub.dir.path(),
            &file.display().to_string(),
            &["--show-config"],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    assert_eq!(
        show(&py_path),
        show(&hub.config_path),
        "toml:\n{toml_config}"
    );
    hub.config_path = py_path;
    hub.launch();
    assert_eq!(http_get_status(hub.public_port, "/hub/login"), Some(200));
}
