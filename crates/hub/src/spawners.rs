//! Choosing the spawner back end named by `JupyterHub.spawner_class`.
//!
//! The local-process spawners live in `ferrohub-spawn`, which every build
//! has. Back ends for other engines (batch systems, container engines) each
//! live in a crate of their own behind a cargo feature of the same name, so
//! a build leaves out what it does not use; each adds one branch here. A
//! class that names a back end left out of this build is refused with the
//! feature to build it with, not as unknown.

use std::sync::Arc;

use ferrohub_config::Config;
use ferrohub_spawn::{SpawnError, Spawner};

/// `JupyterHub.spawner_class` names of SlurmSpawner (kept here too, so a
/// build without the `slurm` feature still recognises them).
const SLURM_NAMES: [&str; 4] = [
    "slurm",
    "SlurmSpawner",
    "batchspawner.SlurmSpawner",
    "batchspawner.batchspawner.SlurmSpawner",
];

/// The spawner for `config`, or why there is none.
pub(crate) fn from_config(config: &Config) -> Result<Arc<dyn Spawner>, SpawnError> {
    let class = config.jupyterhub.spawner_class.as_str();
    if SLURM_NAMES.contains(&class) {
        return slurm(config);
    }
    ferrohub_spawn::from_config(config)
}

#[cfg(feature = "slurm")]
fn slurm(config: &Config) -> Result<Arc<dyn Spawner>, SpawnError> {
    Ok(Arc::new(ferrohub_spawn_slurm::SlurmSpawner::new(config)?))
}

#[cfg(not(feature = "slurm"))]
fn slurm(config: &Config) -> Result<Arc<dyn Spawner>, SpawnError> {
    Err(SpawnError::Config(format!(
        "JupyterHub.spawner_class {:?} is SlurmSpawner, which this build of ferrohub leaves out; \
         build it with the cargo feature \"slurm\" (on by default)",
        config.jupyterhub.spawner_class
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "slurm")]
    #[test]
    fn every_slurm_name_builds_slurm_spawner() {
        assert_eq!(SLURM_NAMES, ferrohub_spawn_slurm::NAMES);
        for class in SLURM_NAMES {
            let mut config = Config::default();
            config.jupyterhub.spawner_class = class.into();
            assert_eq!(from_config(&config).unwrap().name(), "SlurmSpawner");
        }
    }

    #[cfg(not(feature = "slurm"))]
    #[test]
    fn a_slurm_name_without_the_feature_names_the_feature() {
        let mut config = Config::default();
        config.jupyterhub.spawner_class = "batchspawner.SlurmSpawner".into();
        let Err(SpawnError::Config(message)) = from_config(&config) else {
            panic!("expected a config error");
        };
        assert!(message.contains("feature \"slurm\""), "{message}");
    }
}
