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

/// `JupyterHub.spawner_class` names of DockerSpawner (also when the feature
/// is off, so the refusal can name the feature).
const DOCKER_NAMES: [&str; 3] = ["docker", "DockerSpawner", "dockerspawner.DockerSpawner"];

/// `JupyterHub.spawner_class` names of SlurmSpawner (also when the feature
/// is off, so the refusal can name the feature).
const SLURM_NAMES: [&str; 4] = [
    "slurm",
    "SlurmSpawner",
    "batchspawner.SlurmSpawner",
    "batchspawner.batchspawner.SlurmSpawner",
];

/// `JupyterHub.spawner_class` names of SystemdSpawner (also when the
/// feature is off, so the refusal can name the feature).
const SYSTEMD_NAMES: [&str; 5] = [
    "systemd",
    "SystemdSpawner",
    "systemdspawner",
    "systemdspawner.SystemdSpawner",
    "systemdspawner.systemdspawner.SystemdSpawner",
];

/// The spawner for `config`, or why there is none.
pub(crate) fn from_config(config: &Config) -> Result<Arc<dyn Spawner>, SpawnError> {
    let class = config.jupyterhub.spawner_class.as_str();
    if DOCKER_NAMES.contains(&class) {
        return docker(config);
    }
    if SLURM_NAMES.contains(&class) {
        return slurm(config);
    }
    if SYSTEMD_NAMES.contains(&class) {
        return systemd(config);
    }
    ferrohub_spawn::from_config(config).map_err(|error| match error {
        // The local spawners' list of choices, plus the back ends here.
        SpawnError::Config(message) => SpawnError::Config(format!(
            "{message}, {}, {}, {}",
            DOCKER_NAMES.join(", "),
            SLURM_NAMES.join(", "),
            SYSTEMD_NAMES.join(", ")
        )),
        other => other,
    })
}

/// Defaults a back end gives options the rest of the hub reads from the
/// configuration: DockerSpawner's image choice form (upstream's default
/// `options_form` when `allowed_images` offers two or more), unless an
/// `options_form` or `profile_list` is configured.
pub(crate) fn apply_defaults(config: &mut Config) {
    #[cfg(feature = "docker")]
    if DOCKER_NAMES.contains(&config.jupyterhub.spawner_class.as_str())
        && !config.spawner.has_options_form()
        && let Some(form) = ferrohub_spawn_docker::options_form(&config.docker_spawner)
    {
        config.spawner.options_form = form;
    }
    #[cfg(not(feature = "docker"))]
    let _ = config;
}

/// The back end's check of a start's `user_options`, before anything is
/// created, so a refusal is the client's error (400), as upstream's
/// `HTTPError(400)` from DockerSpawner's `check_allowed`.
pub(crate) fn check_user_options(
    config: &Config,
    user_options: &serde_json::Value,
) -> Result<(), SpawnError> {
    #[cfg(feature = "docker")]
    if DOCKER_NAMES.contains(&config.jupyterhub.spawner_class.as_str()) {
        ferrohub_spawn_docker::chosen_image(&config.docker_spawner, user_options)?;
    }
    #[cfg(not(feature = "docker"))]
    let _ = (config, user_options);
    Ok(())
}

#[cfg(feature = "docker")]
fn docker(config: &Config) -> Result<Arc<dyn Spawner>, SpawnError> {
    Ok(Arc::new(ferrohub_spawn_docker::DockerSpawner::new(config)))
}

#[cfg(not(feature = "docker"))]
fn docker(config: &Config) -> Result<Arc<dyn Spawner>, SpawnError> {
    Err(SpawnError::Config(format!(
        "JupyterHub.spawner_class {:?} needs DockerSpawner, which this build leaves out; build with the cargo feature \"docker\"",
        config.jupyterhub.spawner_class
    )))
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

#[cfg(feature = "systemd")]
fn systemd(config: &Config) -> Result<Arc<dyn Spawner>, SpawnError> {
    Ok(Arc::new(ferrohub_spawn_systemd::SystemdSpawner::new(
        config,
    )))
}

#[cfg(not(feature = "systemd"))]
fn systemd(config: &Config) -> Result<Arc<dyn Spawner>, SpawnError> {
    Err(SpawnError::Config(format!(
        "JupyterHub.spawner_class {:?} is SystemdSpawner, which this build of ferrohub leaves out; \
         build it with the cargo feature \"systemd\" (on by default)",
        config.jupyterhub.spawner_class
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "docker")]
    #[test]
    fn every_docker_name_builds_docker_spawner() {
        assert_eq!(DOCKER_NAMES, ferrohub_spawn_docker::NAMES);
        for class in DOCKER_NAMES {
            let mut config = Config::default();
            config.jupyterhub.spawner_class = class.into();
            assert_eq!(from_config(&config).unwrap().name(), "DockerSpawner");
        }
    }

    #[cfg(not(feature = "docker"))]
    #[test]
    fn a_docker_name_without_the_feature_names_the_feature() {
        let mut config = Config::default();
        config.jupyterhub.spawner_class = "dockerspawner.DockerSpawner".into();
        let Err(SpawnError::Config(message)) = from_config(&config) else {
            panic!("expected a config error");
        };
        assert!(message.contains("feature \"docker\""), "{message}");
    }

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

    #[cfg(feature = "systemd")]
    #[test]
    fn every_systemd_name_builds_systemd_spawner() {
        assert_eq!(SYSTEMD_NAMES, ferrohub_spawn_systemd::NAMES);
        for class in SYSTEMD_NAMES {
            let mut config = Config::default();
            config.jupyterhub.spawner_class = class.into();
            assert_eq!(from_config(&config).unwrap().name(), "SystemdSpawner");
        }
    }

    #[cfg(not(feature = "systemd"))]
    #[test]
    fn a_systemd_name_without_the_feature_names_the_feature() {
        let mut config = Config::default();
        config.jupyterhub.spawner_class = "systemdspawner.SystemdSpawner".into();
        let Err(SpawnError::Config(message)) = from_config(&config) else {
            panic!("expected a config error");
        };
        assert!(message.contains("feature \"systemd\""), "{message}");
    }

    #[test]
    fn an_unknown_class_lists_the_back_ends_too() {
        let mut config = Config::default();
        config.jupyterhub.spawner_class = "kubespawner.KubeSpawner".into();
        let Err(SpawnError::Config(message)) = from_config(&config) else {
            panic!("expected a config error");
        };
        assert!(message.contains("localprocess"), "{message}");
        assert!(message.contains("dockerspawner.DockerSpawner"), "{message}");
        assert!(message.contains("batchspawner.SlurmSpawner"), "{message}");
        assert!(
            message.contains("systemdspawner.SystemdSpawner"),
            "{message}"
        );
    }

    #[test]
    fn local_names_still_build_local_spawners() {
        let spawner = from_config(&Config::default()).unwrap();
        assert_eq!(spawner.name(), "LocalProcessSpawner");
    }
}
