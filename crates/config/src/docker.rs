//! `[DockerSpawner]`: the options of dockerspawner 14 with its names and
//! defaults, so an existing `c.DockerSpawner.*` configuration carries over.
//! Options that are Python callables upstream (`allowed_images`,
//! `extra_create_kwargs`, `extra_host_config`, `mem_limit`, `cpu_limit`)
//! take their plain-value forms here.

use std::collections::BTreeMap;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::profiles::ByteSize;

/// The image upstream defaults to: the Jupyter project's single-user image
/// for the JupyterHub version the hub speaks (6.1).
pub const DEFAULT_DOCKER_IMAGE: &str = "quay.io/jupyterhub/singleuser:6.1";

/// `[DockerSpawner]` (dockerspawner 14).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DockerSpawnerConfig {
    /// The image of every server unless the user picks one of
    /// `allowed_images`.
    pub image: String,
    /// Images users may choose (the spawn form's `image` field, or
    /// `user_options.image` through the API): a list, a table of label →
    /// image, or `"*"` for any image. Empty (the default): users cannot
    /// choose.
    pub allowed_images: AllowedImages,
    /// When the image is pulled: `ifnotpresent` (default), `always`,
    /// `never` (fail if absent) or `skip` (do not even look).
    pub pull_policy: PullPolicy,
    /// `{prefix}` in `name_template` (default `jupyter`).
    pub prefix: String,
    /// The container's name; empty means upstream's default,
    /// `{prefix}-{username}` and `{prefix}-{username}--{servername}` for a
    /// named server.
    pub name_template: String,
    /// The Docker network: `bridge` (default; the port is published on
    /// `host_ip`), `host` (the container shares the host's network: the hub
    /// picks a free port and the server listens on it), or a network name
    /// (reached at the container's own address).
    pub network_name: String,
    /// Reach the server at the container's address on `network_name`
    /// instead of a published port; unset means true for a named network
    /// and false for `bridge` and `host`, as upstream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_internal_ip: Option<bool>,
    /// Host address the container's port is published on (bridge mode).
    pub host_ip: String,
    /// Host path (or volume name) → container path, read-write; the value is
    /// a path or `{ bind = "...", mode = "rw" | "ro" | "z" | "Z",
    /// propagation = "..." }`. `{username}`, `{servername}`, `{prefix}`,
    /// `{imagename}`, `{raw_username}` are filled in both.
    pub volumes: BTreeMap<String, VolumeBind>,
    /// Like `volumes`, mounted read-only.
    pub read_only_volumes: BTreeMap<String, String>,
    /// Mounts beyond `volumes`, as docker-py's `Mount` arguments (a
    /// volume with labels, a tmpfs of a given size, a bind with its
    /// propagation); string values are templated like `volumes`.
    pub mounts: Vec<MountSpec>,
    /// Legacy container links, container name → alias in this container
    /// (Docker's `HostConfig.Links`), e.g. `{ jupyterhub = "jupyterhub" }`
    /// when the hub itself runs in a container on the default bridge.
    pub links: BTreeMap<String, String>,
    /// Remove the container when the server stops (its files outside the
    /// volumes are lost); otherwise it is kept, stopped.
    pub remove: bool,
    /// Memory limit of the container in bytes (`"2G"` allowed); unset means
    /// `Spawner.mem_limit` (a profile's, if one applies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_limit: Option<ByteSize>,
    /// CPU limit of the container in cores (`cpu_quota = cpu_limit ×
    /// cpu_period`); unset means `Spawner.cpu_limit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_limit: Option<f64>,
    /// Further container settings (upstream passes these to docker-py's
    /// `create_container`): the subset in [`ExtraCreateKwargs`].
    pub extra_create_kwargs: ExtraCreateKwargs,
    /// Further host settings (docker-py's `create_host_config`), applied
    /// over the spawner's own: the subset in [`ExtraHostConfig`].
    pub extra_host_config: ExtraHostConfig,
    /// A command run in the container (`docker exec`) once it has started;
    /// empty means none. Split into words like a shell would (quotes kept
    /// together), without a shell.
    pub post_start_cmd: String,
}

impl Default for DockerSpawnerConfig {
    fn default() -> Self {
        Self {
            image: DEFAULT_DOCKER_IMAGE.into(),
            allowed_images: AllowedImages::default(),
            pull_policy: PullPolicy::IfNotPresent,
            prefix: "jupyter".into(),
            name_template: String::new(),
            network_name: "bridge".into(),
            use_internal_ip: None,
            host_ip: "127.0.0.1".into(),
            volumes: BTreeMap::new(),
            read_only_volumes: BTreeMap::new(),
            mounts: Vec::new(),
            links: BTreeMap::new(),
            remove: false,
            mem_limit: None,
            cpu_limit: None,
            extra_create_kwargs: ExtraCreateKwargs::default(),
            extra_host_config: ExtraHostConfig::default(),
            post_start_cmd: String::new(),
        }
    }
}

impl DockerSpawnerConfig {
    /// Whether the server is reached at the container's own address
    /// (upstream's default: on a named network, not on `bridge` or `host`).
    #[must_use]
    pub fn internal_ip(&self) -> bool {
        self.use_internal_ip
            .unwrap_or(!matches!(self.network_name.as_str(), "bridge" | "host"))
    }
}

/// `DockerSpawner.allowed_images`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedImages {
    /// `"*"`: any image a user names.
    Any,
    /// Label → image; a list is read as each image labelled by itself.
    /// Empty: the user cannot choose.
    Listed(BTreeMap<String, String>),
}

impl Default for AllowedImages {
    fn default() -> Self {
        Self::Listed(BTreeMap::new())
    }
}

impl<'de> Deserialize<'de> for AllowedImages {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(
            untagged,
            expecting = "\"*\", a list of images, or a table of label = image"
        )]
        enum Spelling {
            Text(String),
            List(Vec<String>),
            Table(BTreeMap<String, String>),
        }
        match Spelling::deserialize(deserializer)? {
            Spelling::Text(text) if text == "*" => Ok(Self::Any),
            Spelling::Text(text) => Err(de::Error::custom(format!(
                "\"*\" (all images) is the only string allowed_images accepts, got {text:?}; write [{text:?}] to allow just that image"
            ))),
            Spelling::List(images) => Ok(Self::Listed(
                images.into_iter().map(|i| (i.clone(), i)).collect(),
            )),
            Spelling::Table(table) => Ok(Self::Listed(table)),
        }
    }
}

impl Serialize for AllowedImages {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Any => serializer.serialize_str("*"),
            Self::Listed(table) => table.serialize(serializer),
        }
    }
}

/// `DockerSpawner.pull_policy` (upstream compares it caselessly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PullPolicy {
    /// Pull when the image is not present (default).
    IfNotPresent,
    /// Pull before every start, to get updates.
    Always,
    /// Never pull; a missing image fails the start.
    Never,
    /// Never pull and do not check either.
    Skip,
}

impl<'de> Deserialize<'de> for PullPolicy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.to_ascii_lowercase().as_str() {
            "ifnotpresent" => Ok(Self::IfNotPresent),
            "always" => Ok(Self::Always),
            "never" => Ok(Self::Never),
            "skip" => Ok(Self::Skip),
            _ => Err(de::Error::custom(format!(
                "pull_policy {text:?} is none of ifnotpresent, always, never, skip"
            ))),
        }
    }
}

/// One entry of `DockerSpawner.volumes`: the container path, or a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "a container path, or a table { bind, mode, propagation }"
)]
pub enum VolumeBind {
    /// The container path, mounted read-write.
    Path(String),
    /// The container path with a mode and optionally a propagation.
    Table(VolumeTable),
}

/// `{ bind = "/home/jovyan/work", mode = "ro" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeTable {
    /// The container path.
    pub bind: String,
    /// `rw` (default), `ro`, `z` or `Z`.
    #[serde(default = "read_write")]
    pub mode: String,
    /// Bind propagation (`rprivate`, `shared`, ...), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation: Option<String>,
}

/// One of `DockerSpawner.mounts`: the keyword arguments of docker-py's
/// `docker.types.Mount`. An unknown key (`driver_config`, which takes a
/// Python object upstream) is refused when the configuration loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountSpec {
    /// The path in the container.
    pub target: String,
    /// The host path (`bind`) or volume name (`volume`); none for `tmpfs`
    /// or an anonymous volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `volume` (default), `bind`, `tmpfs` or `npipe`.
    #[serde(default, rename = "type")]
    pub kind: MountKind,
    /// Mount read-only.
    #[serde(default)]
    pub read_only: bool,
    /// `default`, `consistent`, `cached` or `delegated`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<String>,
    /// Bind propagation (`rprivate`, `shared`, ...); `bind` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation: Option<String>,
    /// Do not copy the image's files into a new volume; `volume` only.
    #[serde(default)]
    pub no_copy: bool,
    /// Labels of a new volume; `volume` only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Size of a `tmpfs` in bytes (`"1G"` allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs_size: Option<ByteSize>,
    /// Permission bits of a `tmpfs` (`0o1777` is `1023`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs_mode: Option<i64>,
}

/// docker-py's `Mount` types.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// A named or anonymous Docker volume.
    #[default]
    Volume,
    /// A host path.
    Bind,
    /// A memory file system.
    Tmpfs,
    /// A Windows named pipe.
    Npipe,
}

fn read_write() -> String {
    "rw".into()
}

/// The keyword arguments of docker-py's `create_container` that ferrohub
/// carries to the Engine API. An unknown key is refused when the
/// configuration loads, never silently dropped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExtraCreateKwargs {
    /// Run as this user (`"root"`, `"1000"`, `"1000:100"`): `docker run --user`.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "name_or_id"
    )]
    pub user: Option<String>,
    /// The working directory in the container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// The container's host name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The container's domain name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domainname: Option<String>,
    /// Replaces the image's entrypoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Labels added to the container.
    pub labels: BTreeMap<String, String>,
    /// Extra environment (the spawner's own variables win).
    pub environment: BTreeMap<String, String>,
    /// The signal `docker stop` sends (`SIGTERM` by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Seconds `docker stop` waits before SIGKILL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// Allocate a terminal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tty: Option<bool>,
}

/// The keyword arguments of docker-py's `create_host_config` that ferrohub
/// carries to the Engine API; applied over the spawner's own settings. An
/// unknown key is refused when the configuration loads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExtraHostConfig {
    /// Replaces `network_name` as the container's network mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    /// Memory limit in bytes (`"2G"` allowed); beats `mem_limit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_limit: Option<ByteSize>,
    /// Memory plus swap limit in bytes; -1 is unlimited swap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memswap_limit: Option<i64>,
    /// Memory soft limit in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_reservation: Option<ByteSize>,
    /// CFS period in microseconds (default 100000 with `cpu_limit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_period: Option<i64>,
    /// CFS quota in microseconds; beats the one `cpu_limit` computes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_quota: Option<i64>,
    /// Relative CPU weight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_shares: Option<i64>,
    /// CPUs the container may use (`"0-1"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpuset_cpus: Option<String>,
    /// Size of `/dev/shm` in bytes (`"1G"` allowed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<ByteSize>,
    /// Most processes in the container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
    /// Run an init process as PID 1 (reaps zombies, forwards signals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    /// Mount the container's root file system read-only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// Give the container every capability and device (dangerous).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// Capabilities added.
    pub cap_add: Vec<String>,
    /// Capabilities dropped.
    pub cap_drop: Vec<String>,
    /// Security options (`no-new-privileges`, `seccomp=...`).
    pub security_opt: Vec<String>,
    /// Extra groups of the container's user.
    pub group_add: Vec<String>,
    /// DNS servers.
    pub dns: Vec<String>,
    /// Extra `/etc/hosts` lines, `host:ip`.
    pub extra_hosts: Vec<String>,
    /// Devices, `host[:container[:permissions]]`.
    pub devices: Vec<String>,
    /// tmpfs mounts: container path → options (`"size=64m"`).
    pub tmpfs: BTreeMap<String, String>,
    /// Kernel parameters.
    pub sysctls: BTreeMap<String, String>,
    /// Resource limits, `{ name = "nofile", soft = 1024, hard = 1024 }`.
    pub ulimits: Vec<Ulimit>,
    /// The IPC namespace mode (`private`, `shareable`, `host`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipc_mode: Option<String>,
    /// The OCI runtime (`runc`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// Further bind mounts, `host:container[:mode]`, after `volumes`.
    pub binds: Vec<String>,
}

/// One resource limit of `extra_host_config.ulimits`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ulimit {
    /// `nofile`, `nproc`, ...
    pub name: String,
    /// The soft limit.
    pub soft: i64,
    /// The hard limit.
    pub hard: i64,
}

/// `user` may be a name or a numeric id upstream (`"root"` or `1000`).
fn name_or_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged, expecting = "a user name or a numeric user id")]
    enum NameOrId {
        Name(String),
        Id(u32),
    }
    Ok(Some(match NameOrId::deserialize(deserializer)? {
        NameOrId::Name(name) => name,
        NameOrId::Id(id) => id.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DockerSpawnerConfig, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn defaults_are_upstreams() {
        let config = DockerSpawnerConfig::default();
        assert_eq!(config.image, "quay.io/jupyterhub/singleuser:6.1");
        assert_eq!(config.pull_policy, PullPolicy::IfNotPresent);
        assert_eq!(config.prefix, "jupyter");
        assert_eq!(config.network_name, "bridge");
        assert!(!config.internal_ip());
        assert!(!config.remove);
        assert_eq!(
            config.allowed_images,
            AllowedImages::Listed(BTreeMap::new())
        );
    }

    #[test]
    fn a_named_network_means_the_internal_ip_unless_told_otherwise() {
        let named = parse(r#"network_name = "jupyterhub""#).unwrap();
        assert!(named.internal_ip());
        let host = parse(r#"network_name = "host""#).unwrap();
        assert!(!host.internal_ip());
        let told = parse("network_name = \"jupyterhub\"\nuse_internal_ip = false").unwrap();
        assert!(!told.internal_ip());
    }

    #[test]
    fn allowed_images_is_a_list_a_table_or_a_star() {
        let list = parse(r#"allowed_images = ["a:1", "b:2"]"#).unwrap();
        assert_eq!(
            list.allowed_images,
            AllowedImages::Listed(BTreeMap::from([
                ("a:1".into(), "a:1".into()),
                ("b:2".into(), "b:2".into())
            ]))
        );
        let table = parse(r#"allowed_images = { Python = "py:3", R = "r:4" }"#).unwrap();
        assert_eq!(
            table.allowed_images,
            AllowedImages::Listed(BTreeMap::from([
                ("Python".into(), "py:3".into()),
                ("R".into(), "r:4".into())
            ]))
        );
        assert_eq!(
            parse(r#"allowed_images = "*""#).unwrap().allowed_images,
            AllowedImages::Any
        );
        let error = parse(r#"allowed_images = "a:1""#).unwrap_err().to_string();
        assert!(
            error.contains("only string allowed_images accepts"),
            "{error}"
        );
    }

    #[test]
    fn pull_policy_is_caseless_and_checked() {
        assert_eq!(
            parse(r#"pull_policy = "IfNotPresent""#)
                .unwrap()
                .pull_policy,
            PullPolicy::IfNotPresent
        );
        assert_eq!(
            parse(r#"pull_policy = "NEVER""#).unwrap().pull_policy,
            PullPolicy::Never
        );
        let error = parse(r#"pull_policy = "sometimes""#)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("ifnotpresent, always, never, skip"),
            "{error}"
        );
    }

    #[test]
    fn volumes_take_a_path_or_a_table() {
        let config = parse(
            r#"
volumes = { "/srv/{username}" = "/home/jovyan/work", "data" = { bind = "/data", mode = "ro" } }
read_only_volumes = { "/srv/shared" = "/shared" }
"#,
        )
        .unwrap();
        assert_eq!(
            config.volumes["/srv/{username}"],
            VolumeBind::Path("/home/jovyan/work".into())
        );
        assert_eq!(
            config.volumes["data"],
            VolumeBind::Table(VolumeTable {
                bind: "/data".into(),
                mode: "ro".into(),
                propagation: None
            })
        );
        assert_eq!(config.read_only_volumes["/srv/shared"], "/shared");
    }

    #[test]
    fn unknown_extra_keys_are_refused_by_name() {
        let error = parse("[extra_host_config]\nmem_limit = \"1G\"\nblkio_weight = 10")
            .unwrap_err()
            .to_string();
        assert!(error.contains("blkio_weight"), "{error}");
        let error = parse("[extra_create_kwargs]\nmac_address = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(error.contains("mac_address"), "{error}");
    }

    #[test]
    fn extra_settings_parse_into_their_types() {
        let config = parse(
            r#"
[extra_create_kwargs]
user = 0
working_dir = "/srv"
[extra_host_config]
mem_limit = "512M"
cpu_period = 50000
cap_drop = ["ALL"]
ulimits = [{ name = "nofile", soft = 512, hard = 1024 }]
"#,
        )
        .unwrap();
        assert_eq!(config.extra_create_kwargs.user.as_deref(), Some("0"));
        assert_eq!(
            config.extra_host_config.mem_limit,
            Some(ByteSize(512 << 20))
        );
        assert_eq!(config.extra_host_config.cpu_period, Some(50_000));
        assert_eq!(config.extra_host_config.ulimits[0].hard, 1024);
    }
}
