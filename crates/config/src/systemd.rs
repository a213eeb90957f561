//! `[SystemdSpawner]`: the options of systemdspawner 1.0 with its names and
//! defaults, so an existing `c.SystemdSpawner.*` configuration carries over.
//! `{USERNAME}` (the hub user's name) and `{USERID}` (the hub user's id in
//! the database) are expanded in the templates and paths, as upstream.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::profiles::ByteSize;

/// The unit name upstream defaults to.
pub const DEFAULT_SYSTEMD_UNIT_NAME_TEMPLATE: &str = "jupyter-{USERNAME}-singleuser";

/// `[SystemdSpawner]` (systemdspawner 1.0). `mem_limit` and `cpu_limit` are
/// `Spawner` traits upstream, so upstream's README sets them as
/// `c.SystemdSpawner.mem_limit`: both places work here too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SystemdSpawnerConfig {
    /// The transient unit's name (default `jupyter-{USERNAME}-singleuser`).
    pub unit_name_template: String,
    /// Where the server starts; unset means the account's home. Not used
    /// with `dynamic_users`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_workingdir: Option<String>,
    /// The UNIX account the server runs as (default `{USERNAME}`); it must
    /// exist. Not used with `dynamic_users`.
    pub username_template: String,
    /// `SHELL` of the server (its terminals); unset means the hub's own
    /// `$SHELL`, or `/bin/bash`, as upstream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_shell: Option<String>,
    /// Put before the server's `PATH`.
    pub extra_paths: Vec<String>,
    /// `PrivateTmp=yes`: a `/tmp` of the server's own.
    pub isolate_tmp: bool,
    /// `PrivateDevices=yes`: a minimal `/dev`.
    pub isolate_devices: bool,
    /// `NoNewPrivileges=yes`: no `sudo` or setuid programs from inside the
    /// server (default true).
    pub disable_user_sudo: bool,
    /// `ReadOnlyDirectories=` for each path; unset means none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readonly_paths: Option<Vec<String>>,
    /// `ReadWriteDirectories=` for each path (writable parts of a read-only
    /// path); unset means none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readwrite_paths: Option<Vec<String>>,
    /// More `systemd-run --property=` settings: name → value, or → a list
    /// of values for a property given several times.
    pub unit_extra_properties: BTreeMap<String, PropertyValue>,
    /// `DynamicUser=yes`: systemd allocates an account per server, whose
    /// files persist in `/var/lib/{USERNAME}` (`StateDirectory=`).
    pub dynamic_users: bool,
    /// The slice every server's unit is put in (`systemd-run --slice=`), to
    /// limit what all servers together may use; unset means systemd's
    /// default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slice: Option<String>,
    /// `MemoryMax=` in bytes (`"4G"` allowed); unset means
    /// `Spawner.mem_limit` (a profile's, if one applies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_limit: Option<ByteSize>,
    /// `CPUQuota=` as cores (1.5 → 150%); unset means `Spawner.cpu_limit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_limit: Option<f64>,
}

impl Default for SystemdSpawnerConfig {
    fn default() -> Self {
        Self {
            unit_name_template: DEFAULT_SYSTEMD_UNIT_NAME_TEMPLATE.into(),
            user_workingdir: None,
            username_template: "{USERNAME}".into(),
            default_shell: None,
            extra_paths: Vec::new(),
            isolate_tmp: false,
            isolate_devices: false,
            disable_user_sudo: true,
            readonly_paths: None,
            readwrite_paths: None,
            unit_extra_properties: BTreeMap::new(),
            dynamic_users: false,
            slice: None,
            mem_limit: None,
            cpu_limit: None,
        }
    }
}

/// A value of `unit_extra_properties`: one value, or several (the property
/// is then given once per value, in order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PropertyValue {
    /// `Name=value`.
    One(String),
    /// `Name=v1`, `Name=v2`, ...
    Many(Vec<String>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_upstreams() {
        let c = SystemdSpawnerConfig::default();
        assert_eq!(c.unit_name_template, "jupyter-{USERNAME}-singleuser");
        assert_eq!(c.username_template, "{USERNAME}");
        assert!(c.disable_user_sudo);
        assert!(!c.isolate_tmp && !c.isolate_devices && !c.dynamic_users);
        assert_eq!(c.readonly_paths, None);
        assert_eq!(c.slice, None);
    }

    #[test]
    fn limits_take_upstreams_spellings() {
        let c: SystemdSpawnerConfig =
            toml::from_str("mem_limit = \"4G\"\ncpu_limit = 1.5").unwrap();
        assert_eq!(c.mem_limit.map(u64::from), Some(4 << 30));
        assert_eq!(c.cpu_limit, Some(1.5));
    }

    #[test]
    fn extra_properties_take_strings_and_lists() {
        let c: SystemdSpawnerConfig = toml::from_str(
            r#"unit_extra_properties = { LimitNOFILE = "4096", Environment = ["A=1", "B=2"] }"#,
        )
        .unwrap();
        assert_eq!(
            c.unit_extra_properties["LimitNOFILE"],
            PropertyValue::One("4096".into())
        );
        assert_eq!(
            c.unit_extra_properties["Environment"],
            PropertyValue::Many(vec!["A=1".into(), "B=2".into()])
        );
    }
}
