//! DockerSpawner: each single-user server in its own container, created,
//! started, inspected and stopped through the Docker Engine API (bollard),
//! with dockerspawner 14's options (`[DockerSpawner]`).
//!
//! The daemon is the one `DOCKER_HOST` names (`unix:///var/run/docker.sock`
//! by default), as upstream's docker-py finds it; a Podman socket speaking
//! the same API works too. What identifies a server is the container's id
//! and name, returned as state the hub stores, so a restarted hub finds its
//! containers again.
//!
//! Modules: `names` (escaping and templates), `container` (the create body,
//! no I/O), `spawner` (the Engine API calls).

mod container;
mod names;
mod spawner;

pub use container::{BadSetting, Plan, binds, create_body};
pub use names::{Namespace, default_name_template, escape};
pub use spawner::{DockerSpawner, chosen_image, options_form};

/// Names accepted in `JupyterHub.spawner_class` for [`DockerSpawner`]:
/// upstream's class and entry-point names and our short one.
pub const NAMES: [&str; 3] = ["docker", "DockerSpawner", "dockerspawner.DockerSpawner"];
