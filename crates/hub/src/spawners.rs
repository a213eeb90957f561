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

/// The spawner for `config`, or why there is none.
pub(crate) fn from_config(config: &Config) -> Result<Arc<dyn Spawner>, SpawnError> {
    ferrohub_spawn::from_config(config)
}
