//! `[SudoSpawner]`: the options of sudospawner 1.0's `SudoSpawner` (the hub
//! runs as an unprivileged account and starts servers through a mediator run
//! with `sudo`), with upstream's names and defaults, so an existing
//! `c.SudoSpawner.*` configuration carries over.

use serde::{Deserialize, Serialize};

/// `[SudoSpawner]` (sudospawner 1.0). The `[Spawner]` options and
/// `[LocalProcessSpawner]`'s stop timeouts and `min_uid` apply too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SudoSpawnerConfig {
    /// The mediator run as the user (default `sudospawner`, looked up on
    /// the hub's `PATH` as upstream's `shutil.which`): upstream's Python
    /// `sudospawner` or ferrohub's `ferrohub-sudospawner`.
    pub sudospawner_path: String,
    /// Put after `sudo -u <user>` (default `["-nH"]`: never prompt, set
    /// `HOME` to the user's).
    pub sudo_args: Vec<String>,
    /// Passed to the mediator as `--logging=<level>` (default `INFO`);
    /// empty passes nothing.
    pub mediator_log_level: String,
    /// sudospawner's older switch for `mediator_log_level = "DEBUG"`
    /// (deprecated when `mediator_log_level` came after 0.5.2, removed in
    /// 1.0; accepted so an older configuration still loads and means the same).
    pub debug_mediator: bool,
}

impl Default for SudoSpawnerConfig {
    fn default() -> Self {
        Self {
            sudospawner_path: "sudospawner".into(),
            sudo_args: vec!["-nH".into()],
            mediator_log_level: "INFO".into(),
            debug_mediator: false,
        }
    }
}

impl SudoSpawnerConfig {
    /// The `--logging` level the mediator gets, if any: `DEBUG` when the old
    /// `debug_mediator` is set (as sudospawner did while it was deprecated).
    #[must_use]
    pub fn log_level(&self) -> Option<&str> {
        if self.debug_mediator {
            Some("DEBUG")
        } else {
            Some(self.mediator_log_level.as_str()).filter(|level| !level.is_empty())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_upstreams() {
        let config = SudoSpawnerConfig::default();
        assert_eq!(config.sudospawner_path, "sudospawner");
        assert_eq!(config.sudo_args, ["-nH"]);
        assert_eq!(config.log_level(), Some("INFO"));
    }

    #[test]
    fn debug_mediator_means_debug_and_an_empty_level_means_none() {
        let old = SudoSpawnerConfig {
            debug_mediator: true,
            ..SudoSpawnerConfig::default()
        };
        assert_eq!(old.log_level(), Some("DEBUG"));
        let quiet = SudoSpawnerConfig {
            mediator_log_level: String::new(),
            ..SudoSpawnerConfig::default()
        };
        assert_eq!(quiet.log_level(), None);
    }
}
