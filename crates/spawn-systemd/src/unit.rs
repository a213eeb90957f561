//! What a server's transient unit is made of, as systemdspawner 1.0 builds
//! it: the `{USERNAME}`/`{USERID}` templates, the unit properties each
//! option turns into, and the `systemd-run` command line. Pure functions,
//! so every option's exact properties are unit-tested without a systemd.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ferrohub_config::{PropertyValue, SystemdSpawnerConfig};

/// Expands upstream's template fields, as its `str.format(USERNAME=...,
/// USERID=...)`: `{USERNAME}` is the hub user's name, `{USERID}` the hub
/// user's id in the database, `{{` and `}}` are literal braces. Any other
/// field is left as written (upstream would fail on it).
#[must_use]
pub fn expand(template: &str, username: &str, user_id: i64) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find(['{', '}']) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("{{").or_else(|| tail.strip_prefix("}}")) {
            out.push_str(&tail[..1]);
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{USERNAME}") {
            out.push_str(username);
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{USERID}") {
            out.push_str(&user_id.to_string());
            rest = after;
        } else {
            out.push_str(&tail[..1]);
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// `text` as a unit-name part, as `systemd-escape` writes it: `/` becomes
/// `-`, ASCII letters, digits, `:`, `_` and `.` (not leading) stay, every
/// other byte is `\xNN`.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, byte) in text.bytes().enumerate() {
        match byte {
            b'/' => out.push('-'),
            b'.' if i > 0 => out.push('.'),
            b if b.is_ascii_alphanumeric() || b == b':' || b == b'_' => out.push(char::from(b)),
            b => {
                use std::fmt::Write as _;
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

/// Unit properties in the order they are given to `systemd-run`; setting a
/// name again replaces its value in place (upstream's dict `update`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties(Vec<(String, PropertyValue)>);

impl Properties {
    /// Sets `name`, replacing an earlier value.
    pub fn set(&mut self, name: &str, value: PropertyValue) {
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_owned(), value)),
        }
    }

    /// Sets `name` unless it is set already (upstream's `setdefault`).
    pub fn set_default(&mut self, name: &str, value: &str) {
        if self.get(name).is_none() {
            self.set(name, PropertyValue::One(value.to_owned()));
        }
    }

    /// The value of `name`, if set.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&PropertyValue> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// `--property=Name=value` arguments, one per value.
    #[must_use]
    pub fn arguments(&self) -> Vec<String> {
        self.0
            .iter()
            .flat_map(|(name, value)| {
                let values: Vec<&String> = match value {
                    PropertyValue::One(v) => vec![v],
                    PropertyValue::Many(vs) => vs.iter().collect(),
                };
                values
                    .into_iter()
                    .map(move |v| format!("--property={name}={v}"))
            })
            .collect()
    }
}

/// The per-server inputs of [`properties`] besides `[SystemdSpawner]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Bytes (`mem_limit`).
    pub mem_limit: Option<u64>,
    /// Cores (`cpu_limit`).
    pub cpu_limit: Option<f64>,
}

/// The properties the options ask for, as upstream's `start`: dynamic
/// users, `PrivateTmp`, `PrivateDevices`, the memory and CPU limits,
/// `NoNewPrivileges`, the read-only and read-write paths, then
/// `unit_extra_properties` over all of them.
#[must_use]
pub fn properties(
    config: &SystemdSpawnerConfig,
    limits: Limits,
    username: &str,
    user_id: i64,
) -> Properties {
    let expand = |s: &str| expand(s, username, user_id);
    let one = |s: &str| PropertyValue::One(s.to_owned());
    let mut p = Properties::default();
    if config.dynamic_users {
        p.set("DynamicUser", one("yes"));
        p.set("StateDirectory", PropertyValue::One(expand("{USERNAME}")));
    }
    if config.isolate_tmp {
        p.set("PrivateTmp", one("yes"));
    }
    if config.isolate_devices {
        p.set("PrivateDevices", one("yes"));
    }
    if let Some(bytes) = limits.mem_limit {
        p.set("MemoryAccounting", one("yes"));
        p.set("MemoryMax", PropertyValue::One(bytes.to_string()));
    }
    if let Some(cores) = limits.cpu_limit {
        p.set("CPUAccounting", one("yes"));
        p.set("CPUQuota", PropertyValue::One(cpu_quota(cores)));
    }
    if config.disable_user_sudo {
        p.set("NoNewPrivileges", one("yes"));
    }
    if let Some(paths) = &config.readonly_paths {
        let paths = paths.iter().map(|path| expand(path)).collect();
        p.set("ReadOnlyDirectories", PropertyValue::Many(paths));
    }
    if let Some(paths) = &config.readwrite_paths {
        let paths = paths.iter().map(|path| expand(path)).collect();
        p.set("ReadWriteDirectories", PropertyValue::Many(paths));
    }
    for (name, value) in &config.unit_extra_properties {
        let value = match value {
            PropertyValue::One(v) => PropertyValue::One(expand(v)),
            PropertyValue::Many(vs) => PropertyValue::Many(vs.iter().map(|v| expand(v)).collect()),
        };
        p.set(name, value);
    }
    p
}

/// Upstream's `f"{int(cpu_limit * 100)}%"`: cores as a percentage,
/// rounded toward zero (1.5 → `150%`, 0.125 → `12%`).
#[must_use]
pub fn cpu_quota(cores: f64) -> String {
    #[expect(
        clippy::cast_possible_truncation,
        reason = "truncation toward zero is upstream's int()"
    )]
    let percent = (cores * 100.0).trunc() as i64;
    format!("{percent}%")
}

/// What `systemd-run` itself adds in upstream's `start_transient_service`
/// unless the options set them: a private runtime directory named after
/// the unit (where the environment file goes, kept across a `systemctl
/// restart`), and `OOMPolicy=continue`, so a kernel killed for memory does
/// not take the server with it.
pub fn add_run_defaults(properties: &mut Properties, unit: &str) {
    properties.set_default("RuntimeDirectory", unit);
    properties.set_default("RuntimeDirectoryMode", "700");
    properties.set_default("RuntimeDirectoryPreserve", "restart");
    properties.set_default("OOMPolicy", "continue");
}

/// Where the environment file goes: `<run_root>/<first RuntimeDirectory
/// entry>/<unit>.env`, as upstream.
#[must_use]
pub fn environment_file(properties: &Properties, run_root: &Path, unit: &str) -> PathBuf {
    let first = match properties.get("RuntimeDirectory") {
        Some(PropertyValue::One(v)) => v.split_whitespace().next(),
        Some(PropertyValue::Many(vs)) => vs.first().and_then(|v| v.split_whitespace().next()),
        None => None,
    };
    run_root
        .join(first.unwrap_or(unit))
        .join(format!("{unit}.env"))
}

/// An environment variable name the environment file may hold.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A variable name that cannot go into an environment file.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a valid environment variable name")]
pub struct BadVariable(pub String);

/// The environment file's text: `NAME=value` lines, sorted, each value
/// shell-quoted (`shlex.quote`), which systemd's `EnvironmentFile=` reads
/// back unquoted.
pub fn environment_text(env: &BTreeMap<String, String>) -> Result<String, BadVariable> {
    let mut text = String::new();
    for (name, value) in env {
        if !valid_name(name) {
            return Err(BadVariable(name.clone()));
        }
        text.push_str(name);
        text.push('=');
        text.push_str(&ferrohub_spawn::command::shell_quote(value));
        text.push('\n');
    }
    Ok(text)
}

/// Everything `systemd-run` is given for one server.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPlan {
    /// The unit's name.
    pub unit: String,
    /// `--working-directory`.
    pub working_dir: String,
    /// `--uid`/`--gid`; `None` with dynamic users.
    pub ids: Option<(u32, u32)>,
    /// `--slice`, when set and not empty.
    pub slice: Option<String>,
    /// The unit's properties (with [`add_run_defaults`] applied).
    pub properties: Properties,
    /// `EnvironmentFile=`, when the server has an environment.
    pub environment_file: Option<PathBuf>,
    /// The server's command: an absolute program, then its arguments.
    pub command: Vec<String>,
}

/// The `systemd-run` arguments (without the program) in upstream's order.
#[must_use]
pub fn run_arguments(plan: &RunPlan) -> Vec<String> {
    let mut args = vec![
        "--unit".to_owned(),
        plan.unit.clone(),
        "--working-directory".to_owned(),
        plan.working_dir.clone(),
    ];
    if let Some((uid, gid)) = plan.ids {
        args.push(format!("--uid={uid}"));
        args.push(format!("--gid={gid}"));
    }
    if let Some(slice) = plan.slice.as_deref().filter(|s| !s.is_empty()) {
        args.push(format!("--slice={slice}"));
    }
    args.extend(plan.properties.arguments());
    if let Some(file) = &plan.environment_file {
        args.push(format!("--property=EnvironmentFile={}", file.display()));
    }
    args.extend(plan.command.iter().cloned());
    args
}

/// `PATH` with `extra_paths` (expanded) put first; the current `PATH`, or
/// Python's `os.defpath` without one, stays last.
#[must_use]
pub fn extended_path(
    extra: &[String],
    current: Option<&str>,
    username: &str,
    user_id: i64,
) -> String {
    let mut parts: Vec<String> = extra.iter().map(|p| expand(p, username, user_id)).collect();
    let current = current.unwrap_or(ferrohub_spawn::command::DEFAULT_PATH);
    if !current.is_empty() {
        parts.push(current.to_owned());
    }
    parts.join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our escaping is systemd's own (`systemd-escape`, installed by
    /// scripts/setup.sh with the systemd the tests run).
    #[test]
    fn escape_matches_systemd_escape() {
        for text in ["gpu", "gpu run/2", ".hidden", "a.b", "ü-x", "x:y_z", "50%"] {
            let output = std::process::Command::new("systemd-escape")
                .arg("--")
                .arg(text)
                .output()
                .expect("systemd-escape (scripts/setup.sh installs systemd)");
            let theirs = String::from_utf8(output.stdout).unwrap();
            assert_eq!(escape(text), theirs.trim_end(), "{text:?}");
        }
    }

    const NO_LIMITS: Limits = Limits {
        mem_limit: None,
        cpu_limit: None,
    };

    fn args_of(config: &SystemdSpawnerConfig, limits: Limits) -> Vec<String> {
        properties(config, limits, "alice", 7).arguments()
    }

    fn config(toml_text: &str) -> SystemdSpawnerConfig {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn templates_expand_username_and_user_id() {
        assert_eq!(
            expand("jupyter-{USERNAME}-singleuser", "alice", 7),
            "jupyter-alice-singleuser"
        );
        assert_eq!(expand("/srv/{USERID}/{USERNAME}", "bob", 12), "/srv/12/bob");
        assert_eq!(
            expand("{{USERNAME}} {other}", "bob", 1),
            "{USERNAME} {other}"
        );
        assert_eq!(expand("a}b{", "bob", 1), "a}b{");
    }

    #[test]
    fn defaults_only_forbid_new_privileges() {
        assert_eq!(
            args_of(&SystemdSpawnerConfig::default(), NO_LIMITS),
            ["--property=NoNewPrivileges=yes"]
        );
        assert!(args_of(&config("disable_user_sudo = false"), NO_LIMITS).is_empty());
    }

    #[test]
    fn isolation_options_become_private_tmp_and_devices() {
        let c = config("isolate_tmp = true\nisolate_devices = true\ndisable_user_sudo = false");
        assert_eq!(
            args_of(&c, NO_LIMITS),
            ["--property=PrivateTmp=yes", "--property=PrivateDevices=yes"]
        );
    }

    #[test]
    fn limits_become_memory_max_and_cpu_quota_with_accounting() {
        let c = config("disable_user_sudo = false");
        let limits = Limits {
            mem_limit: Some(1 << 30),
            cpu_limit: Some(1.5),
        };
        assert_eq!(
            args_of(&c, limits),
            [
                "--property=MemoryAccounting=yes",
                "--property=MemoryMax=1073741824",
                "--property=CPUAccounting=yes",
                "--property=CPUQuota=150%",
            ]
        );
    }

    #[test]
    fn cpu_quota_rounds_toward_zero_as_upstream() {
        assert_eq!(cpu_quota(0.125), "12%");
        assert_eq!(cpu_quota(4.0), "400%");
        assert_eq!(cpu_quota(0.5), "50%");
        // Python's int(0.29 * 100) is 28 too.
        assert_eq!(cpu_quota(0.29), "28%");
    }

    #[test]
    fn paths_are_given_once_each_and_expanded() {
        let c = config(
            r#"readonly_paths = ["/", "/srv/{USERNAME}"]
readwrite_paths = ["/home/{USERNAME}"]"#,
        );
        assert_eq!(
            args_of(&c, NO_LIMITS),
            [
                "--property=NoNewPrivileges=yes",
                "--property=ReadOnlyDirectories=/",
                "--property=ReadOnlyDirectories=/srv/alice",
                "--property=ReadWriteDirectories=/home/alice",
            ]
        );
        // An empty list is set but gives no argument.
        assert_eq!(
            args_of(&config("readonly_paths = []"), NO_LIMITS),
            ["--property=NoNewPrivileges=yes"]
        );
    }

    #[test]
    fn dynamic_users_get_a_state_directory_named_after_the_user() {
        let c = config("dynamic_users = true\ndisable_user_sudo = false");
        assert_eq!(
            args_of(&c, NO_LIMITS),
            [
                "--property=DynamicUser=yes",
                "--property=StateDirectory=alice"
            ]
        );
    }

    #[test]
    fn extra_properties_come_last_expanded_and_override_in_place() {
        let c = config(
            r#"isolate_tmp = true
[unit_extra_properties]
LimitNOFILE = "16384"
Environment = ["A={USERNAME}", "B={USERID}"]
PrivateTmp = "no"
"#,
        );
        assert_eq!(
            args_of(&c, NO_LIMITS),
            [
                "--property=PrivateTmp=no",
                "--property=NoNewPrivileges=yes",
                "--property=Environment=A=alice",
                "--property=Environment=B=7",
                "--property=LimitNOFILE=16384",
            ]
        );
    }

    #[test]
    fn run_defaults_do_not_replace_configured_values() {
        let mut p = properties(
            &config(
                "[unit_extra_properties]\nOOMPolicy = \"stop\"\nRuntimeDirectory = \"rt-{USERNAME} other\"",
            ),
            NO_LIMITS,
            "alice",
            7,
        );
        add_run_defaults(&mut p, "jupyter-alice-singleuser");
        assert_eq!(
            p.arguments(),
            [
                "--property=NoNewPrivileges=yes",
                "--property=OOMPolicy=stop",
                "--property=RuntimeDirectory=rt-alice other",
                "--property=RuntimeDirectoryMode=700",
                "--property=RuntimeDirectoryPreserve=restart",
            ]
        );
        assert_eq!(
            environment_file(&p, Path::new("/run"), "jupyter-alice-singleuser"),
            Path::new("/run/rt-alice/jupyter-alice-singleuser.env")
        );
    }

    #[test]
    fn the_command_line_is_upstreams() {
        let mut properties = Properties::default();
        add_run_defaults(&mut properties, "u1");
        let plan = RunPlan {
            unit: "u1".into(),
            working_dir: "/home/alice".into(),
            ids: Some((1001, 1002)),
            slice: Some("jupyter.slice".into()),
            properties,
            environment_file: Some("/run/u1/u1.env".into()),
            command: vec!["/venv/bin/jupyterhub-singleuser".into(), "--debug".into()],
        };
        assert_eq!(
            run_arguments(&plan),
            [
                "--unit",
                "u1",
                "--working-directory",
                "/home/alice",
                "--uid=1001",
                "--gid=1002",
                "--slice=jupyter.slice",
                "--property=RuntimeDirectory=u1",
                "--property=RuntimeDirectoryMode=700",
                "--property=RuntimeDirectoryPreserve=restart",
                "--property=OOMPolicy=continue",
                "--property=EnvironmentFile=/run/u1/u1.env",
                "/venv/bin/jupyterhub-singleuser",
                "--debug",
            ]
        );
        let dynamic = RunPlan {
            ids: None,
            slice: Some(String::new()),
            environment_file: None,
            properties: Properties::default(),
            ..plan
        };
        assert_eq!(
            run_arguments(&dynamic),
            [
                "--unit",
                "u1",
                "--working-directory",
                "/home/alice",
                "/venv/bin/jupyterhub-singleuser",
                "--debug",
            ]
        );
    }

    #[test]
    fn the_environment_file_is_sorted_and_quoted() {
        let env = BTreeMap::from([
            ("B".to_owned(), "two words".to_owned()),
            ("A".to_owned(), "it's".to_owned()),
            ("C_1".to_owned(), "plain".to_owned()),
        ]);
        assert_eq!(
            environment_text(&env).unwrap(),
            "A='it'\"'\"'s'\nB='two words'\nC_1=plain\n"
        );
        let bad = BTreeMap::from([("A-B".to_owned(), "x".to_owned())]);
        assert!(environment_text(&bad).is_err());
    }

    #[test]
    fn extra_paths_go_before_the_path() {
        let extra = vec!["/opt/{USERNAME}/bin".to_owned(), "/x".to_owned()];
        assert_eq!(
            extended_path(&extra, Some("/usr/bin:/bin"), "alice", 7),
            "/opt/alice/bin:/x:/usr/bin:/bin"
        );
        assert_eq!(
            extended_path(&extra, None, "alice", 7),
            "/opt/alice/bin:/x:/bin:/usr/bin"
        );
    }
}
