//! What one server's container looks like: the Engine API's create body
//! built from `[DockerSpawner]` and the spawn request, without I/O, so every
//! option's effect is unit-tested.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    ContainerCreateBody, DeviceMapping, HostConfig, Mount, MountBindOptions,
    MountBindOptionsPropagationEnum, MountTmpfsOptions, MountType, MountVolumeOptions, PortBinding,
    ResourcesUlimits,
};
use ferrohub_config::{DockerSpawnerConfig, ExtraHostConfig, MountKind, MountSpec, VolumeBind};

use crate::names::Namespace;

/// A `[DockerSpawner]` value the Engine API cannot take; a configuration
/// mistake, reported in the hub log.
#[derive(Debug, thiserror::Error)]
pub enum BadSetting {
    /// A volume path names a template field that does not exist.
    #[error("DockerSpawner volume {0:?} is not a valid template")]
    VolumeTemplate(String),
    /// A size or time does not fit the Engine API's 64-bit signed integers.
    #[error("DockerSpawner {0} is too large")]
    TooLarge(&'static str),
    /// A `cpu_limit` that is negative or not a number.
    #[error("DockerSpawner cpu_limit {0} is not a non-negative number")]
    CpuLimit(f64),
    /// A mount option that does not fit its mount's type.
    #[error("DockerSpawner mount at {target:?}: {problem}")]
    Mount {
        /// The mount's `target`.
        target: String,
        /// What is wrong.
        problem: String,
    },
    /// A device that is not `host[:container[:permissions]]`.
    #[error("DockerSpawner extra_host_config device {0:?} is not host[:container[:permissions]]")]
    Device(String),
}

/// Everything about one server that the configuration alone does not say.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The image (already checked against `allowed_images`).
    pub image: String,
    /// The complete environment.
    pub env: BTreeMap<String, String>,
    /// The command and its arguments; `None` runs the image's own.
    pub cmd: Option<Vec<String>>,
    /// The port the server listens on inside the container (on the host's
    /// network with `network_name = "host"`).
    pub port: u16,
    /// Labels that tie the container to its hub user and server.
    pub labels: BTreeMap<String, String>,
    /// Memory limit in bytes (`mem_limit`, [DockerSpawner] or [Spawner]).
    pub mem_limit: Option<u64>,
    /// CPU limit in cores.
    pub cpu_limit: Option<f64>,
}

/// The create body of the container for `plan`: upstream's `create_object`
/// (environment, command, exposed port, volumes, limits, published port
/// unless the internal address or the host network is used, network mode),
/// then `extra_create_kwargs` and `extra_host_config` over it.
pub fn create_body(
    config: &DockerSpawnerConfig,
    ns: &Namespace,
    plan: &Plan,
) -> Result<ContainerCreateBody, BadSetting> {
    let extra = &config.extra_create_kwargs;
    let port_key = format!("{}/tcp", plan.port);
    let mut env: BTreeMap<String, String> = extra
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), ns.render_or_keep(v)))
        .collect();
    env.extend(plan.env.clone());
    let mut labels: HashMap<String, String> = extra
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), ns.render_or_keep(v)))
        .collect();
    labels.extend(plan.labels.clone());
    let render = |value: &Option<String>| value.as_deref().map(|v| ns.render_or_keep(v));
    Ok(ContainerCreateBody {
        image: Some(plan.image.clone()),
        env: Some(env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        cmd: plan.cmd.clone(),
        exposed_ports: Some(vec![port_key]),
        labels: Some(labels),
        user: render(&extra.user),
        working_dir: render(&extra.working_dir),
        hostname: render(&extra.hostname),
        domainname: render(&extra.domainname),
        entrypoint: extra
            .entrypoint
            .as_ref()
            .map(|e| e.iter().map(|a| ns.render_or_keep(a)).collect()),
        stop_signal: extra.stop_signal.clone(),
        stop_timeout: extra.stop_timeout,
        tty: extra.tty,
        host_config: Some(host_config(config, ns, plan)?),
        ..ContainerCreateBody::default()
    })
}

/// The container's `HostConfig`.
fn host_config(
    config: &DockerSpawnerConfig,
    ns: &Namespace,
    plan: &Plan,
) -> Result<HostConfig, BadSetting> {
    let extra = &config.extra_host_config;
    let network_mode = extra
        .network_mode
        .clone()
        .unwrap_or_else(|| config.network_name.clone());
    let mut binds = binds(config, ns)?;
    binds.extend(extra.binds.iter().map(|b| ns.render_or_keep(b)));
    let port_bindings = (!config.internal_ip() && network_mode != "host").then(|| {
        HashMap::from([(
            format!("{}/tcp", plan.port),
            Some(vec![PortBinding {
                host_ip: Some(config.host_ip.clone()),
                host_port: Some(String::new()),
            }]),
        )])
    });
    let memory = extra
        .mem_limit
        .map(u64::from)
        .or(plan.mem_limit)
        .map(|bytes| signed(bytes, "mem_limit"))
        .transpose()?;
    let (cpu_period, cpu_quota) = cpu(extra, plan.cpu_limit)?;
    let mounts = config
        .mounts
        .iter()
        .map(|spec| mount(spec, ns))
        .collect::<Result<Vec<_>, _>>()?;
    let links: Vec<String> = config
        .links
        .iter()
        .map(|(name, alias)| format!("{name}:{alias}"))
        .collect();
    Ok(HostConfig {
        auto_remove: Some(config.remove),
        binds: (!binds.is_empty()).then_some(binds),
        mounts: (!mounts.is_empty()).then_some(mounts),
        links: (!links.is_empty()).then_some(links),
        network_mode: Some(network_mode),
        port_bindings,
        memory,
        memory_swap: extra.memswap_limit,
        memory_reservation: extra
            .mem_reservation
            .map(|b| signed(b.0, "extra_host_config.mem_reservation"))
            .transpose()?,
        cpu_period,
        cpu_quota,
        cpu_shares: extra.cpu_shares,
        cpuset_cpus: extra.cpuset_cpus.clone(),
        shm_size: extra
            .shm_size
            .map(|b| signed(b.0, "extra_host_config.shm_size"))
            .transpose()?,
        pids_limit: extra.pids_limit,
        init: extra.init,
        readonly_rootfs: extra.read_only,
        privileged: extra.privileged,
        cap_add: non_empty(&extra.cap_add),
        cap_drop: non_empty(&extra.cap_drop),
        security_opt: non_empty(&extra.security_opt),
        group_add: non_empty(&extra.group_add),
        dns: non_empty(&extra.dns),
        extra_hosts: non_empty(&extra.extra_hosts),
        devices: devices(&extra.devices)?,
        tmpfs: (!extra.tmpfs.is_empty()).then(|| {
            extra
                .tmpfs
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }),
        sysctls: (!extra.sysctls.is_empty()).then(|| {
            extra
                .sysctls
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }),
        ulimits: (!extra.ulimits.is_empty()).then(|| {
            extra
                .ulimits
                .iter()
                .map(|u| ResourcesUlimits {
                    name: Some(u.name.clone()),
                    soft: Some(u.soft),
                    hard: Some(u.hard),
                })
                .collect()
        }),
        ipc_mode: extra.ipc_mode.clone(),
        runtime: extra.runtime.clone(),
        ..HostConfig::default()
    })
}

/// One of `mounts` as the Engine API's `Mount`: docker-py's arguments,
/// strings rendered with the server's namespace, each option only where
/// its type takes it (docker-py raises the same errors).
fn mount(spec: &MountSpec, ns: &Namespace) -> Result<Mount, BadSetting> {
    let render = |t: &str| {
        ns.render(t)
            .ok_or_else(|| BadSetting::VolumeTemplate(t.to_owned()))
    };
    let target = render(&spec.target)?;
    let wrong = |problem: &str| BadSetting::Mount {
        target: spec.target.clone(),
        problem: problem.to_owned(),
    };
    let kind = match spec.kind {
        MountKind::Volume => MountType::VOLUME,
        MountKind::Bind => MountType::BIND,
        MountKind::Tmpfs => MountType::TMPFS,
        MountKind::Npipe => MountType::NPIPE,
    };
    if spec.kind != MountKind::Bind && spec.propagation.is_some() {
        return Err(wrong("propagation is only for type = \"bind\""));
    }
    if spec.kind != MountKind::Volume && (spec.no_copy || !spec.labels.is_empty()) {
        return Err(wrong("no_copy and labels are only for type = \"volume\""));
    }
    if spec.kind != MountKind::Tmpfs && (spec.tmpfs_size.is_some() || spec.tmpfs_mode.is_some()) {
        return Err(wrong(
            "tmpfs_size and tmpfs_mode are only for type = \"tmpfs\"",
        ));
    }
    if spec.kind == MountKind::Tmpfs && spec.source.is_some() {
        return Err(wrong("a tmpfs has no source"));
    }
    let propagation = spec
        .propagation
        .as_deref()
        .map(|p| {
            p.parse::<MountBindOptionsPropagationEnum>().map_err(|_| {
                wrong("propagation must be private, rprivate, shared, rshared, slave or rslave")
            })
        })
        .transpose()?;
    let tmpfs_size = spec
        .tmpfs_size
        .map(|b| signed(b.0, "mounts tmpfs_size"))
        .transpose()?;
    Ok(Mount {
        target: Some(target),
        source: spec.source.as_deref().map(render).transpose()?,
        typ: Some(kind),
        read_only: Some(spec.read_only),
        consistency: spec.consistency.clone(),
        bind_options: propagation.map(|propagation| MountBindOptions {
            propagation: Some(propagation),
            ..MountBindOptions::default()
        }),
        volume_options: (spec.kind == MountKind::Volume).then(|| MountVolumeOptions {
            no_copy: Some(spec.no_copy),
            labels: (!spec.labels.is_empty()).then(|| {
                spec.labels
                    .iter()
                    .map(|(k, v)| (k.clone(), ns.render_or_keep(v)))
                    .collect()
            }),
            ..MountVolumeOptions::default()
        }),
        tmpfs_options: (spec.kind == MountKind::Tmpfs).then_some(MountTmpfsOptions {
            size_bytes: tmpfs_size,
            mode: spec.tmpfs_mode,
            ..MountTmpfsOptions::default()
        }),
        ..Mount::default()
    })
}

/// `volumes` (read-write unless their table says otherwise) then
/// `read_only_volumes`, as Docker's `host:container:mode[,propagation]`
/// binds, both sides rendered with the server's namespace.
pub fn binds(config: &DockerSpawnerConfig, ns: &Namespace) -> Result<Vec<String>, BadSetting> {
    let render = |t: &str| {
        ns.render(t)
            .ok_or_else(|| BadSetting::VolumeTemplate(t.to_owned()))
    };
    let mut binds = Vec::new();
    for (host, bind) in &config.volumes {
        let (path, mode, propagation) = match bind {
            VolumeBind::Path(path) => (path.as_str(), "rw", None),
            VolumeBind::Table(table) => (
                table.bind.as_str(),
                table.mode.as_str(),
                table.propagation.as_deref(),
            ),
        };
        let options = match propagation {
            Some(p) => format!("{mode},{p}"),
            None => mode.to_owned(),
        };
        binds.push(format!("{}:{}:{options}", render(host)?, render(path)?));
    }
    for (host, path) in &config.read_only_volumes {
        binds.push(format!("{}:{}:ro", render(host)?, render(path)?));
    }
    Ok(binds)
}

/// Upstream's `cpu_quota = cpu_limit × cpu_period` (period 100 ms unless
/// `extra_host_config` gives one); an explicit `cpu_quota` there wins.
fn cpu(
    extra: &ExtraHostConfig,
    cpu_limit: Option<f64>,
) -> Result<(Option<i64>, Option<i64>), BadSetting> {
    let Some(cores) = cpu_limit else {
        return Ok((extra.cpu_period, extra.cpu_quota));
    };
    if !(cores.is_finite() && cores >= 0.0) {
        return Err(BadSetting::CpuLimit(cores));
    }
    let period = extra.cpu_period.unwrap_or(100_000);
    #[allow(
        clippy::cast_precision_loss,
        reason = "a CFS period is at most 1 s = 10^6 µs, exact in f64"
    )]
    let quota = cores * period as f64;
    if quota >= 9.0e18 {
        return Err(BadSetting::TooLarge("cpu_limit"));
    }
    #[allow(
        clippy::cast_possible_truncation,
        reason = "finite, non-negative and below i64::MAX (checked); truncation is upstream's int()"
    )]
    let quota = quota as i64;
    Ok((Some(period), Some(extra.cpu_quota.unwrap_or(quota))))
}

/// docker-py's device strings, `host[:container[:permissions]]`.
fn devices(specs: &[String]) -> Result<Option<Vec<DeviceMapping>>, BadSetting> {
    if specs.is_empty() {
        return Ok(None);
    }
    specs
        .iter()
        .map(|spec| {
            let parts: Vec<&str> = spec.split(':').collect();
            let (host, container, permissions) = match parts.as_slice() {
                [host] => (*host, *host, "rwm"),
                [host, container] => (*host, *container, "rwm"),
                [host, container, permissions] => (*host, *container, *permissions),
                _ => return Err(BadSetting::Device(spec.clone())),
            };
            if host.is_empty() {
                return Err(BadSetting::Device(spec.clone()));
            }
            Ok(DeviceMapping {
                path_on_host: Some(host.to_owned()),
                path_in_container: Some(container.to_owned()),
                cgroup_permissions: Some(permissions.to_owned()),
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn non_empty(items: &[String]) -> Option<Vec<String>> {
    (!items.is_empty()).then(|| items.to_vec())
}

fn signed(value: u64, what: &'static str) -> Result<i64, BadSetting> {
    i64::try_from(value).map_err(|_| BadSetting::TooLarge(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(toml_text: &str) -> DockerSpawnerConfig {
        toml::from_str(toml_text).unwrap()
    }

    fn plan() -> Plan {
        Plan {
            image: "img:1".into(),
            env: BTreeMap::from([("JUPYTERHUB_USER".into(), "alice".into())]),
            cmd: Some(vec!["jupyterhub-singleuser".into()]),
            port: 8888,
            labels: BTreeMap::from([("ferrohub.user".into(), "alice".into())]),
            mem_limit: None,
            cpu_limit: None,
        }
    }

    fn ns() -> Namespace {
        Namespace::new("alice", "", "img:1", "jupyter")
    }

    #[test]
    fn bridge_mode_publishes_the_port_on_host_ip() {
        let body = create_body(&config(""), &ns(), &plan()).unwrap();
        let host = body.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("bridge"));
        let bindings = host.port_bindings.unwrap();
        let binding = &bindings["8888/tcp"].as_ref().unwrap()[0];
        assert_eq!(binding.host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(body.exposed_ports.unwrap(), ["8888/tcp"]);
        assert_eq!(body.env.unwrap(), ["JUPYTERHUB_USER=alice"]);
        assert_eq!(host.auto_remove, Some(false));
    }

    #[test]
    fn host_and_internal_networks_publish_nothing() {
        for settings in ["network_name = \"host\"", "network_name = \"hubnet\""] {
            let body = create_body(&config(settings), &ns(), &plan()).unwrap();
            assert_eq!(body.host_config.unwrap().port_bindings, None, "{settings}");
        }
    }

    #[test]
    fn volumes_are_templated_binds_with_modes() {
        let config = config(
            r#"
volumes = { "/srv/homes/{username}" = "/home/jovyan/work", "cache-{username}" = { bind = "/cache", mode = "z", propagation = "rslave" } }
read_only_volumes = { "/srv/shared" = "/shared/{raw_username}" }
"#,
        );
        assert_eq!(
            binds(&config, &ns()).unwrap(),
            [
                "/srv/homes/alice:/home/jovyan/work:rw",
                "cache-alice:/cache:z,rslave",
                "/srv/shared:/shared/alice:ro",
            ]
        );
        let bad = self::config(r#"volumes = { "/srv/{user}" = "/x" }"#);
        assert!(matches!(
            binds(&bad, &ns()),
            Err(BadSetting::VolumeTemplate(_))
        ));
    }

    #[test]
    fn mounts_are_templated_with_the_options_of_their_type() {
        let config = config(
            r#"
links = { jupyterhub = "hub" }

[[mounts]]
source = "home-{username}"
target = "/home/jovyan"
labels = { owner = "{username}" }
no_copy = true

[[mounts]]
type = "bind"
source = "/srv/data"
target = "/data"
read_only = true
propagation = "rslave"

[[mounts]]
type = "tmpfs"
target = "/scratch"
tmpfs_size = "1G"
tmpfs_mode = 1023
"#,
        );
        let host = create_body(&config, &ns(), &plan())
            .unwrap()
            .host_config
            .unwrap();
        assert_eq!(host.links.unwrap(), ["jupyterhub:hub"]);
        let mounts = host.mounts.unwrap();
        let volume = &mounts[0];
        assert_eq!(volume.typ, Some(MountType::VOLUME));
        assert_eq!(volume.source.as_deref(), Some("home-alice"));
        let options = volume.volume_options.as_ref().unwrap();
        assert_eq!(options.no_copy, Some(true));
        assert_eq!(options.labels.as_ref().unwrap()["owner"], "alice");
        let bind = &mounts[1];
        assert_eq!(
            (bind.typ, bind.read_only),
            (Some(MountType::BIND), Some(true))
        );
        assert_eq!(
            bind.bind_options.as_ref().unwrap().propagation,
            Some(MountBindOptionsPropagationEnum::RSLAVE)
        );
        let tmpfs = mounts[2].tmpfs_options.as_ref().unwrap();
        assert_eq!((tmpfs.size_bytes, tmpfs.mode), (Some(1 << 30), Some(1023)));
        assert_eq!(mounts[2].source, None);
    }

    #[test]
    fn a_mount_option_of_another_type_is_refused() {
        for (text, says) in [
            (
                "[[mounts]]\ntarget = \"/t\"\npropagation = \"rslave\"",
                "propagation",
            ),
            (
                "[[mounts]]\ntype = \"bind\"\nsource = \"/s\"\ntarget = \"/t\"\nno_copy = true",
                "no_copy",
            ),
            (
                "[[mounts]]\ntype = \"tmpfs\"\nsource = \"/s\"\ntarget = \"/t\"",
                "no source",
            ),
            ("[[mounts]]\ntarget = \"/t\"\ntmpfs_size = 10", "tmpfs_size"),
            (
                "[[mounts]]\ntype = \"bind\"\nsource = \"/s\"\ntarget = \"/t\"\npropagation = \"sideways\"",
                "propagation must be",
            ),
            (
                "[[mounts]]\ntarget = \"/home/{user}\"",
                "not a valid template",
            ),
        ] {
            let error = create_body(&config(text), &ns(), &plan()).unwrap_err();
            assert!(error.to_string().contains(says), "{text}: {error}");
        }
        // Unknown keys and types are refused when the configuration loads.
        assert!(
            toml::from_str::<DockerSpawnerConfig>(
                "[[mounts]]\ntarget = \"/t\"\ndriver_config = {}"
            )
            .is_err()
        );
        assert!(
            toml::from_str::<DockerSpawnerConfig>(
                "[[mounts]]\ntarget = \"/t\"\ntype = \"cluster\""
            )
            .is_err()
        );
    }

    #[test]
    fn limits_become_memory_and_cpu_quota() {
        let mut plan = plan();
        plan.mem_limit = Some(1 << 30);
        plan.cpu_limit = Some(1.5);
        let host = create_body(&config(""), &ns(), &plan)
            .unwrap()
            .host_config
            .unwrap();
        assert_eq!(host.memory, Some(1 << 30));
        assert_eq!(
            (host.cpu_period, host.cpu_quota),
            (Some(100_000), Some(150_000))
        );
        let extra = config("[extra_host_config]\ncpu_period = 50000\nmem_limit = \"256M\"");
        let host = create_body(&extra, &ns(), &plan)
            .unwrap()
            .host_config
            .unwrap();
        assert_eq!(host.memory, Some(256 << 20));
        assert_eq!(
            (host.cpu_period, host.cpu_quota),
            (Some(50_000), Some(75_000))
        );
    }

    #[test]
    fn extra_settings_reach_the_body() {
        let config = config(
            r#"
remove = true
[extra_create_kwargs]
user = "root"
working_dir = "/home/{username}"
labels = { team = "x" }
[extra_host_config]
cap_drop = ["ALL"]
devices = ["/dev/fuse", "/dev/null:/dev/nothing:r"]
ulimits = [{ name = "nofile", soft = 512, hard = 1024 }]
network_mode = "none"
"#,
        );
        let body = create_body(&config, &ns(), &plan()).unwrap();
        assert_eq!(body.user.as_deref(), Some("root"));
        assert_eq!(body.working_dir.as_deref(), Some("/home/alice"));
        let labels = body.labels.unwrap();
        assert_eq!(labels["team"], "x");
        assert_eq!(labels["ferrohub.user"], "alice");
        let host = body.host_config.unwrap();
        assert_eq!(host.auto_remove, Some(true));
        assert_eq!(host.cap_drop.unwrap(), ["ALL"]);
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        let devices = host.devices.unwrap();
        assert_eq!(devices[0].path_in_container.as_deref(), Some("/dev/fuse"));
        assert_eq!(devices[1].cgroup_permissions.as_deref(), Some("r"));
        assert_eq!(host.ulimits.unwrap()[0].soft, Some(512));
    }

    #[test]
    fn impossible_limits_are_refused() {
        let mut plan = plan();
        plan.cpu_limit = Some(-1.0);
        assert!(matches!(
            create_body(&config(""), &ns(), &plan),
            Err(BadSetting::CpuLimit(_))
        ));
        plan.cpu_limit = None;
        plan.mem_limit = Some(u64::MAX);
        assert!(matches!(
            create_body(&config(""), &ns(), &plan),
            Err(BadSetting::TooLarge("mem_limit"))
        ));
    }
}
