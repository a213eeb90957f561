//! The settings of one server that a profile may change: the hub resolves
//! the profile (`Spawner.profile_list`) and hands the spawner the result in
//! [`crate::SpawnRequest::settings`], so spawners never learn about profiles.

use std::collections::BTreeMap;

use ferrohub_config::{SpawnerConfig, SpawnerOverride};

/// What runs and what it is told, for one server.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSettings {
    /// The command (`Spawner.cmd`).
    pub cmd: Vec<String>,
    /// Arguments after it (`Spawner.args`).
    pub args: Vec<String>,
    /// Applied last to the environment (`Spawner.environment`); `{username}`
    /// and `{base_url}` in values are expanded.
    pub environment: BTreeMap<String, String>,
    /// `JUPYTERHUB_DEFAULT_URL` when not empty (`Spawner.default_url`).
    pub default_url: String,
    /// `MEM_LIMIT`, bytes (`Spawner.mem_limit`).
    pub mem_limit: Option<u64>,
    /// `CPU_LIMIT`, cores (`Spawner.cpu_limit`).
    pub cpu_limit: Option<f64>,
    /// `MEM_GUARANTEE`, bytes (`Spawner.mem_guarantee`).
    pub mem_guarantee: Option<u64>,
    /// `CPU_GUARANTEE`, cores (`Spawner.cpu_guarantee`).
    pub cpu_guarantee: Option<f64>,
}

impl ServerSettings {
    /// The `[Spawner]` settings themselves (no profile).
    #[must_use]
    pub fn from_config(spawner: &SpawnerConfig) -> Self {
        Self {
            cmd: spawner.cmd.clone(),
            args: spawner.args.clone(),
            environment: spawner.environment.clone(),
            default_url: spawner.default_url.clone(),
            mem_limit: spawner.mem_limit.map(u64::from),
            cpu_limit: spawner.cpu_limit,
            mem_guarantee: spawner.mem_guarantee.map(u64::from),
            cpu_guarantee: spawner.cpu_guarantee,
        }
    }

    /// These settings with a profile's override applied: `environment` is
    /// merged (the profile's values win, as KubeSpawner merges dictionaries),
    /// every other field it sets replaces the base value.
    #[must_use]
    pub fn with_override(mut self, over: &SpawnerOverride) -> Self {
        if let Some(cmd) = &over.cmd {
            self.cmd.clone_from(cmd);
        }
        if let Some(args) = &over.args {
            self.args.clone_from(args);
        }
        if let Some(environment) = &over.environment {
            self.environment
                .extend(environment.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        if let Some(default_url) = &over.default_url {
            self.default_url.clone_from(default_url);
        }
        self.mem_limit = over.mem_limit.map(u64::from).or(self.mem_limit);
        self.cpu_limit = over.cpu_limit.or(self.cpu_limit);
        self.mem_guarantee = over.mem_guarantee.map(u64::from).or(self.mem_guarantee);
        self.cpu_guarantee = over.cpu_guarantee.or(self.cpu_guarantee);
        self
    }

    /// `MEM_LIMIT`, `MEM_GUARANTEE`, `CPU_LIMIT`, `CPU_GUARANTEE` as upstream's
    /// `get_env` writes them: only when set and not zero, bytes as integers,
    /// cores as Python prints a float (`2.0`, `0.5`).
    #[must_use]
    pub fn limit_variables(&self) -> Vec<(&'static str, String)> {
        let mut vars = Vec::new();
        if let Some(bytes) = self.mem_limit.filter(|b| *b != 0) {
            vars.push(("MEM_LIMIT", bytes.to_string()));
        }
        if let Some(bytes) = self.mem_guarantee.filter(|b| *b != 0) {
            vars.push(("MEM_GUARANTEE", bytes.to_string()));
        }
        if let Some(cores) = self.cpu_limit.filter(|c| *c != 0.0) {
            vars.push(("CPU_LIMIT", python_float(cores)));
        }
        if let Some(cores) = self.cpu_guarantee.filter(|c| *c != 0.0) {
            vars.push(("CPU_GUARANTEE", python_float(cores)));
        }
        vars
    }
}

/// A float as Python's `str()` writes ordinary values: whole numbers keep `.0`.
fn python_float(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e16 {
        format!("{value:.1}")
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrohub_config::ByteSize;

    #[test]
    fn an_override_replaces_fields_and_merges_the_environment() {
        let base = SpawnerConfig {
            args: vec!["--base".into()],
            environment: BTreeMap::from([("A".into(), "base".into()), ("B".into(), "base".into())]),
            default_url: "/lab".into(),
            mem_limit: Some(ByteSize(1 << 30)),
            cpu_limit: Some(1.0),
            ..SpawnerConfig::default()
        };
        let over = SpawnerOverride {
            args: Some(vec!["--gpu".into()]),
            environment: Some(BTreeMap::from([("B".into(), "gpu".into())])),
            default_url: Some("/lab/tree/gpu".into()),
            cpu_limit: Some(4.0),
            mem_guarantee: Some(ByteSize(512)),
            ..SpawnerOverride::default()
        };
        let settings = ServerSettings::from_config(&base).with_override(&over);
        assert_eq!(settings.cmd, ["jupyterhub-singleuser"]);
        assert_eq!(settings.args, ["--gpu"]);
        assert_eq!(settings.environment["A"], "base");
        assert_eq!(settings.environment["B"], "gpu");
        assert_eq!(settings.default_url, "/lab/tree/gpu");
        assert_eq!(
            settings.limit_variables(),
            [
                ("MEM_LIMIT", "1073741824".to_owned()),
                ("MEM_GUARANTEE", "512".to_owned()),
                ("CPU_LIMIT", "4.0".to_owned()),
            ]
        );
    }

    #[test]
    fn zero_and_unset_limits_are_not_announced() {
        let settings = ServerSettings::from_config(&SpawnerConfig {
            mem_limit: Some(ByteSize(0)),
            cpu_guarantee: Some(0.0),
            ..SpawnerConfig::default()
        });
        assert!(settings.limit_variables().is_empty());
        assert_eq!(python_float(0.5), "0.5");
        assert_eq!(python_float(2.0), "2.0");
    }
}
