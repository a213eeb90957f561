//! The Engine API side: image pull policy, create, start, inspect, stop and
//! remove, and where the hub reaches the server.

use std::collections::BTreeMap;

use async_trait::async_trait;
use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, RemoveContainerOptions, StopContainerOptions,
};
use ferrohub_config::{AllowedImages, Config, DockerSpawnerConfig, PullPolicy, SpawnerConfig};
use ferrohub_spawn::env::{EnvInputs, UserEnv, build_environment, server_url};
use ferrohub_spawn::{SpawnError, SpawnRequest, Spawner, Started};
use futures_util::StreamExt as _;
use serde_json::json;
use tokio::sync::OnceCell;

use crate::container::{Plan, create_body};
use crate::names::{Namespace, default_name_template};

/// The port the server listens on in its container when it has a network
/// of its own (upstream's `DockerSpawner.port` default).
const CONTAINER_PORT: u16 = 8888;

/// Starts each server in a container; see the crate documentation.
pub struct DockerSpawner {
    config: DockerSpawnerConfig,
    spawner: SpawnerConfig,
    /// The daemon's address; `None` means `DOCKER_HOST` (or the default
    /// socket), as upstream.
    host: Option<String>,
    /// Connected (and API version negotiated) at first use, so a hub whose
    /// daemon is not up yet still starts.
    docker: OnceCell<Docker>,
}

impl DockerSpawner {
    /// The spawner for `config` (`[DockerSpawner]` and `[Spawner]`).
    #[must_use]
    pub fn new(config: &Config) -> Self {
        Self {
            config: config.docker_spawner.clone(),
            spawner: config.spawner.clone(),
            host: None,
            docker: OnceCell::new(),
        }
    }

    /// The spawner for `config`, talking to the daemon at `host`
    /// (`unix:///path/docker.sock`, `tcp://host:2375`) instead of the one
    /// `DOCKER_HOST` names: for tools and tests that run several daemons.
    #[must_use]
    pub fn with_host(config: &Config, host: &str) -> Self {
        Self {
            host: Some(host.to_owned()),
            ..Self::new(config)
        }
    }

    async fn docker(&self) -> Result<&Docker, SpawnError> {
        self.docker
            .get_or_try_init(|| async {
                let docker = match &self.host {
                    Some(host) => Docker::connect_with_host(host),
                    None => Docker::connect_with_defaults(),
                }
                .map_err(|e| engine_error("connect", &e))?;
                docker
                    .negotiate_version()
                    .await
                    .map_err(|e| engine_error("reach the Docker daemon", &e))
            })
            .await
    }

    /// Makes `image` present as `pull_policy` says.
    async fn pull(
        &self,
        docker: &Docker,
        image: &str,
        request: &SpawnRequest,
    ) -> Result<(), SpawnError> {
        let pull = match self.config.pull_policy {
            PullPolicy::Skip => false,
            PullPolicy::Always => true,
            PullPolicy::IfNotPresent | PullPolicy::Never => match docker.inspect_image(image).await
            {
                Ok(_) => false,
                Err(e) if status(&e) == Some(404) => {
                    if self.config.pull_policy == PullPolicy::Never {
                        return Err(SpawnError::Engine(format!(
                            "image {image} is not present and DockerSpawner.pull_policy is never"
                        )));
                    }
                    true
                }
                Err(e) => return Err(engine_error("inspect the image", &e)),
            },
        };
        if !pull {
            return Ok(());
        }
        request.progress.report(5, format!("Pulling image {image}"));
        let (repo, tag) = split_image(image);
        let options = CreateImageOptions {
            from_image: Some(repo.to_owned()),
            tag: Some(tag.to_owned()),
            ..CreateImageOptions::default()
        };
        let mut stream = docker.create_image(Some(options), None, None);
        while let Some(step) = stream.next().await {
            if let Err(e) = step {
                tracing::error!("DockerSpawner: pulling {image} failed: {e}");
                return Err(SpawnError::Engine(format!(
                    "image {image} could not be pulled"
                )));
            }
        }
        Ok(())
    }

    /// The command: `Spawner.cmd` and `args`; an empty `cmd` means the
    /// image's own command (upstream's default), still followed by `args`.
    async fn command(
        &self,
        docker: &Docker,
        image: &str,
        request: &SpawnRequest,
    ) -> Result<Option<Vec<String>>, SpawnError> {
        let settings = &request.settings;
        if !settings.cmd.is_empty() {
            return Ok(Some(
                settings.cmd.iter().chain(&settings.args).cloned().collect(),
            ));
        }
        if settings.args.is_empty() {
            return Ok(None);
        }
        let inspect = docker
            .inspect_image(image)
            .await
            .map_err(|e| engine_error("inspect the image", &e))?;
        let image_cmd = inspect.config.and_then(|c| c.cmd).unwrap_or_default();
        Ok(Some(
            image_cmd
                .into_iter()
                .chain(settings.args.iter().cloned())
                .collect(),
        ))
    }

    /// Where the hub reaches a started container (upstream's
    /// `get_ip_and_port`, plus the host network, where the server listens
    /// on the host's own address and the port the hub picked).
    async fn reach(
        &self,
        docker: &Docker,
        id: &str,
        port: u16,
        network: &str,
    ) -> Result<String, SpawnError> {
        if network == "host" {
            return Ok(server_url(&self.spawner.ip, port));
        }
        let inspect = docker
            .inspect_container(id, None)
            .await
            .map_err(|e| engine_error("inspect the container", &e))?;
        let settings = inspect.network_settings.unwrap_or_default();
        if self.config.internal_ip() {
            let ip = settings
                .networks
                .as_ref()
                .and_then(|n| n.get(network))
                .and_then(|n| n.ip_address.clone())
                .filter(|ip| !ip.is_empty())
                .ok_or_else(|| SpawnError::Io(std::io::Error::other(format!(
                    "container {id} has no address on Docker network {network:?}; was it created with `docker network create`?"
                ))))?;
            return Ok(server_url(&ip, port));
        }
        let binding = settings
            .ports
            .as_ref()
            .and_then(|p| p.get(&format!("{port}/tcp")))
            .and_then(|b| b.as_ref())
            .and_then(|b| b.first())
            .cloned()
            .ok_or_else(|| {
                SpawnError::Io(std::io::Error::other(format!(
                    "container {id} publishes no port {port}"
                )))
            })?;
        let host_port: u16 = binding
            .host_port
            .as_deref()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| {
                SpawnError::Io(std::io::Error::other(format!(
                    "container {id} has a bad published port"
                )))
            })?;
        let ip = match binding.host_ip.as_deref() {
            None | Some("" | "0.0.0.0") => "127.0.0.1".to_owned(),
            Some("::") => "::1".to_owned(),
            Some(ip) => ip.to_owned(),
        };
        Ok(server_url(&ip, host_port))
    }

    /// A kept container worth starting again (upstream's "Found existing
    /// container"): `remove = false`, the image asked for now, and the API
    /// token and port it was created with in its environment. Upstream also
    /// revives a container of another image; here a changed image choice
    /// gets what was chosen.
    fn revivable(&self, existing: &ContainerInspectResponse, image: &str) -> Option<KeptServer> {
        if self.config.remove {
            return None;
        }
        let config = existing.config.as_ref()?;
        if config.image.as_deref() != Some(image) {
            return None;
        }
        let kept = KeptServer::from_env(config.env.as_deref().unwrap_or_default());
        if kept.is_none() {
            tracing::info!(
                "DockerSpawner: the kept container has no hub token or port; replacing it"
            );
        }
        kept
    }

    /// Starts a kept container again; the hub adopts the token it holds.
    async fn revive(
        &self,
        docker: &Docker,
        name: &str,
        kept: KeptServer,
        request: &SpawnRequest,
    ) -> Result<Started, SpawnError> {
        tracing::info!("DockerSpawner: starting the kept container {name} again");
        request
            .progress
            .report(70, "Starting the existing container");
        match docker.start_container(name, None).await {
            // 304: already running (a hub that died during a start).
            Err(e) if status(&e) != Some(304) => {
                return Err(engine_error("start the container", &e));
            }
            _ => {}
        }
        let inspect = docker
            .inspect_container(name, None)
            .await
            .map_err(|e| engine_error("inspect the container", &e))?;
        let id = inspect.id.unwrap_or_else(|| name.to_owned());
        let guard = AbandonGuard::new(docker, &id, false);
        let network = inspect
            .host_config
            .and_then(|host| host.network_mode)
            .unwrap_or_else(|| self.config.network_name.clone());
        self.post_start(docker, &id).await?;
        let url = self.reach(docker, &id, kept.port, &network).await?;
        guard.disarm();
        Ok(Started {
            url,
            state: json!({ "object_id": id, "object_name": name }),
            api_token: Some(kept.api_token),
        })
    }

    async fn inspect(
        &self,
        state: &serde_json::Value,
    ) -> Result<Option<ContainerInspectResponse>, SpawnError> {
        let Some(id) = object(state) else {
            return Ok(None);
        };
        let docker = self.docker().await?;
        match docker.inspect_container(id, None).await {
            Ok(inspect) => Ok(Some(inspect)),
            // Gone, or on an unhealthy node (swarm): upstream forgets it.
            Err(e) if matches!(status(&e), Some(404 | 500)) => Ok(None),
            Err(e) => Err(engine_error("inspect the container", &e)),
        }
    }

    async fn post_start(&self, docker: &Docker, id: &str) -> Result<(), SpawnError> {
        let cmd = split_words(&self.config.post_start_cmd);
        if cmd.is_empty() {
            return Ok(());
        }
        let exec = docker
            .create_exec(
                id,
                bollard::models::ExecConfig {
                    cmd: Some(cmd),
                    ..bollard::models::ExecConfig::default()
                },
            )
            .await
            .map_err(|e| engine_error("create the post_start_cmd exec", &e))?;
        docker
            .start_exec(
                &exec.id,
                Some(bollard::exec::StartExecOptions {
                    detach: true,
                    ..bollard::exec::StartExecOptions::default()
                }),
            )
            .await
            .map_err(|e| engine_error("run post_start_cmd", &e))?;
        Ok(())
    }
}

#[async_trait]
impl Spawner for DockerSpawner {
    fn name(&self) -> &'static str {
        "DockerSpawner"
    }

    async fn start(&self, request: &SpawnRequest) -> Result<Started, SpawnError> {
        let image = chosen_image(&self.config, &request.user_options)?;
        let docker = self.docker().await?;
        self.pull(docker, &image, request).await?;

        let ns = Namespace::new(
            &request.username,
            &request.server_name,
            &image,
            &self.config.prefix,
        );
        let template = if self.config.name_template.is_empty() {
            default_name_template(&request.server_name)
        } else {
            &self.config.name_template
        };
        let name = ns.render_or_keep(template);
        // A container of an earlier start holds the name: kept by
        // `remove = false`, it is started again (its files are the user's
        // work); otherwise, or when the image chosen now differs, it is
        // replaced.
        if let Ok(existing) = docker.inspect_container(&name, None).await {
            if let Some(kept) = self.revivable(&existing, &image) {
                return self.revive(docker, &name, kept, request).await;
            }
            tracing::info!("DockerSpawner: removing the old container {name}");
            remove_container(docker, &name).await?;
        }

        let network = self
            .config
            .extra_host_config
            .network_mode
            .clone()
            .unwrap_or_else(|| self.config.network_name.clone());
        let (port, ip) = if network == "host" {
            let port = if self.spawner.port == 0 {
                ferrohub_spawn::port::free_port()?
            } else {
                self.spawner.port
            };
            (port, self.spawner.ip.clone())
        } else {
            let port = if self.spawner.port == 0 {
                CONTAINER_PORT
            } else {
                self.spawner.port
            };
            (port, "0.0.0.0".to_owned())
        };
        // DockerSpawner.mem_limit/cpu_limit are Spawner's own traits
        // upstream: they win over [Spawner] and are announced as MEM_LIMIT
        // and CPU_LIMIT like any limit.
        let mut effective = request.clone();
        effective.settings.mem_limit = self
            .config
            .mem_limit
            .map(u64::from)
            .or(request.settings.mem_limit);
        effective.settings.cpu_limit = self.config.cpu_limit.or(request.settings.cpu_limit);
        let env = self.environment(&effective, &image, &ip, port);
        let plan = Plan {
            cmd: self.command(docker, &image, request).await?,
            image: image.clone(),
            env,
            port,
            labels: BTreeMap::from([
                ("ferrohub.user".to_owned(), request.username.clone()),
                ("ferrohub.server".to_owned(), request.server_name.clone()),
            ]),
            mem_limit: self
                .config
                .mem_limit
                .map(u64::from)
                .or(request.settings.mem_limit),
            cpu_limit: self.config.cpu_limit.or(request.settings.cpu_limit),
        };
        let body =
            create_body(&self.config, &ns, &plan).map_err(|e| SpawnError::Config(e.to_string()))?;

        request.progress.report(40, "Creating container");
        let options = CreateContainerOptions {
            name: Some(name.clone()),
            ..CreateContainerOptions::default()
        };
        let created = docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| engine_error("create the container", &e))?;
        let id = created.id;
        tracing::info!(
            "DockerSpawner: created container {name} ({}) from {image}",
            short(&id)
        );

        let guard = AbandonGuard::new(docker, &id, true);
        request.progress.report(70, "Starting container");
        docker
            .start_container(&id, None)
            .await
            .map_err(|e| engine_error("start the container", &e))?;
        self.post_start(docker, &id).await?;
        let url = self.reach(docker, &id, port, &network).await?;
        guard.disarm();
        Ok(Started {
            url,
            state: json!({ "object_id": id, "object_name": name }),
            api_token: None,
        })
    }

    async fn poll(&self, state: &serde_json::Value) -> Result<Option<i32>, SpawnError> {
        let Some(inspect) = self.inspect(state).await? else {
            return Ok(Some(0));
        };
        let container_state = inspect.state.unwrap_or_default();
        if container_state.running == Some(true) {
            return Ok(None);
        }
        let code = container_state.exit_code.unwrap_or(0);
        Ok(Some(i32::try_from(code).unwrap_or(1)))
    }

    async fn stop(&self, state: &serde_json::Value) -> Result<(), SpawnError> {
        let Some(id) = object(state) else {
            return Ok(());
        };
        let docker = self.docker().await?;
        tracing::info!("DockerSpawner: stopping container {}", short(id));
        match docker
            .stop_container(id, None::<StopContainerOptions>)
            .await
        {
            // 304: already stopped; 404: already gone.
            Err(e) if !matches!(status(&e), Some(304 | 404)) => {
                return Err(engine_error("stop the container", &e));
            }
            _ => {}
        }
        if self.config.remove {
            remove_container(docker, id).await?;
        }
        Ok(())
    }
}

impl DockerSpawner {
    /// Upstream's `get_env` for a container: the hub's variables,
    /// `JUPYTERHUB_SERVICE_URL` on the port it listens on, the limits,
    /// `Spawner.environment`, and `JUPYTER_IMAGE_SPEC`; nothing of the hub's
    /// own environment (upstream's `env_keep` is empty here) and no
    /// `USER`/`HOME` (the image's user is the container's business).
    fn environment(
        &self,
        request: &SpawnRequest,
        image: &str,
        ip: &str,
        port: u16,
    ) -> BTreeMap<String, String> {
        let spawner = SpawnerConfig {
            ip: ip.to_owned(),
            ..self.spawner.clone()
        };
        let user = UserEnv {
            user: request.username.clone(),
            home: None,
            shell: None,
        };
        let inputs = EnvInputs {
            spawner: &spawner,
            request,
            port,
            user: &user,
        };
        let mut env = build_environment(&inputs, Vec::new());
        env.remove("USER");
        env.insert("JUPYTER_IMAGE_SPEC".into(), image.to_owned());
        env
    }
}

/// Removes a container, tolerating one that is already gone. One whose
/// removal is already in progress (409: the daemon's auto-remove after
/// the stop) is waited for, up to 10 s, so that a stop returns once the
/// name is free for the next start.
async fn remove_container(docker: &Docker, id: &str) -> Result<(), SpawnError> {
    let options = RemoveContainerOptions {
        v: true,
        force: true,
        ..RemoveContainerOptions::default()
    };
    match docker.remove_container(id, Some(options)).await {
        Err(e) if status(&e) == Some(409) => {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while docker.inspect_container(id, None).await.is_ok()
                && std::time::Instant::now() < deadline
            {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Ok(())
        }
        Err(e) if status(&e) != Some(404) => Err(engine_error("remove the container", &e)),
        _ => Ok(()),
    }
}

/// Undoes a start that ends without handing its container over (the
/// hub's `start_timeout` or a stop request dropped the future, or a later
/// step failed), so no container runs that the hub does not know: one
/// created by this start is removed, a revived one is stopped again.
struct AbandonGuard {
    docker: Docker,
    id: String,
    created: bool,
    armed: bool,
}

impl AbandonGuard {
    fn new(docker: &Docker, id: &str, created: bool) -> Self {
        Self {
            docker: docker.clone(),
            id: id.to_owned(),
            created,
            armed: true,
        }
    }

    /// The container is handed over to the hub.
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for AbandonGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(container = %self.id, "cannot clean up the abandoned container: no runtime");
            return;
        };
        let (docker, id, created) = (
            self.docker.clone(),
            std::mem::take(&mut self.id),
            self.created,
        );
        tracing::warn!(container = %short(&id), "start did not finish; cleaning up its container");
        runtime.spawn(async move {
            let result = if created {
                remove_container(&docker, &id).await
            } else {
                docker
                    .stop_container(&id, None::<StopContainerOptions>)
                    .await
                    .or_else(|e| if matches!(status(&e), Some(304 | 404)) { Ok(()) } else { Err(e) })
                    .map_err(|e| engine_error("stop the container", &e))
            };
            if let Err(e) = result {
                tracing::error!(container = %short(&id), "cleaning up the abandoned container failed: {e}");
            }
        });
    }
}

/// What a kept container was created with that its next start needs: the
/// hub's API token (the server authenticates with it) and the port the
/// server listens on, from `JUPYTERHUB_SERVICE_URL`.
#[derive(Debug, PartialEq)]
struct KeptServer {
    api_token: String,
    port: u16,
}

impl KeptServer {
    /// From a container's `KEY=value` environment; `None` without both.
    fn from_env(env: &[String]) -> Option<Self> {
        let value = |key: &str| {
            env.iter()
                .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        };
        let api_token = value("JUPYTERHUB_API_TOKEN")
            .or_else(|| value("JPY_API_TOKEN"))
            .filter(|token| !token.is_empty())?
            .to_owned();
        let service_url = value("JUPYTERHUB_SERVICE_URL")?;
        let authority = service_url.split_once("://")?.1.split('/').next()?;
        let port = authority.rsplit_once(':')?.1.parse().ok()?;
        Some(Self { api_token, port })
    }
}

/// The image a start uses: `user_options.image` (a string, or the options
/// form's one-element list) checked against `allowed_images` and resolved
/// from its label, else `DockerSpawner.image` (upstream's `check_allowed`).
/// The hub also calls it before a start (`spawners::check_user_options`),
/// so a refused choice is the client's error (400).
pub fn chosen_image(
    config: &DockerSpawnerConfig,
    user_options: &serde_json::Value,
) -> Result<String, SpawnError> {
    let choice = match user_options.get("image") {
        Some(serde_json::Value::String(s)) => Some(s.as_str()),
        Some(serde_json::Value::Array(items)) => items.first().and_then(serde_json::Value::as_str),
        _ => None,
    }
    .filter(|s| !s.is_empty());
    let Some(choice) = choice else {
        return Ok(config.image.clone());
    };
    match &config.allowed_images {
        AllowedImages::Any => Ok(choice.to_owned()),
        AllowedImages::Listed(allowed) if allowed.is_empty() => Err(SpawnError::Engine(
            "specifying the image to launch is not allowed".to_owned(),
        )),
        AllowedImages::Listed(allowed) => allowed.get(choice).cloned().ok_or_else(|| {
            SpawnError::Engine(format!(
                "image {choice} is not in the allowed list: {}",
                allowed.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        }),
    }
}

/// Upstream's default `options_form` when `allowed_images` offers a choice
/// (two or more): a select named `image` listing the labels, the one whose
/// label is `image` preselected. The form delivers `{"image": [label]}`.
/// `None` when there is nothing to choose (or any image is allowed).
#[must_use]
pub fn options_form(config: &DockerSpawnerConfig) -> Option<String> {
    let AllowedImages::Listed(allowed) = &config.allowed_images else {
        return None;
    };
    if allowed.len() < 2 {
        return None;
    }
    let mut options = String::new();
    for label in allowed.keys() {
        let selected = if *label == config.image {
            " selected"
        } else {
            ""
        };
        let label = html_escape(label);
        options.push_str("<option value=\"");
        options.push_str(&label);
        options.push('"');
        options.push_str(selected);
        options.push('>');
        options.push_str(&label);
        options.push_str("</option>\n");
    }
    Some(format!(
        "<label for=\"image\">Select an image:</label>\n<select class=\"form-control\" id=\"image\" name=\"image\" required autofocus>\n{options}</select>\n"
    ))
}

/// Text safe inside HTML attribute values and elements.
fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// docker-py's split of an image into repository and tag: a `:` in the
/// last path segment separates the tag (a registry port does not).
fn split_image(image: &str) -> (&str, &str) {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') {
        image.rsplit_once(':').unwrap_or((image, "latest"))
    } else {
        (image, "latest")
    }
}

/// Shell-like words (single and double quotes group, backslash escapes), as
/// docker-py splits a string command with `shlex.split`.
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => word.extend(chars.next()),
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                word.extend(chars.next());
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The container id (or name) in a stored state: upstream's `object_id`,
/// or `container_id` of dockerspawner before 0.10; else `object_name`.
fn object(state: &serde_json::Value) -> Option<&str> {
    ["object_id", "container_id", "object_name"]
        .iter()
        .find_map(|key| state.get(key).and_then(serde_json::Value::as_str))
        .filter(|s| !s.is_empty())
}

/// The HTTP status of an Engine API refusal.
fn status(error: &DockerError) -> Option<u16> {
    match error {
        DockerError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// A daemon error: its text may name host paths, so it goes to the hub log
/// and the user sees the generic launch failure.
fn engine_error(what: &str, error: &DockerError) -> SpawnError {
    SpawnError::Io(std::io::Error::other(format!(
        "DockerSpawner could not {what}: {error}"
    )))
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(allowed: AllowedImages) -> DockerSpawnerConfig {
        DockerSpawnerConfig {
            image: "default:1".into(),
            allowed_images: allowed,
            ..DockerSpawnerConfig::default()
        }
    }

    #[test]
    fn a_kept_container_gives_back_its_token_and_port() {
        let env = |lines: &[&str]| lines.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>();
        let kept = KeptServer::from_env(&env(&[
            "PATH=/usr/bin",
            "JUPYTERHUB_API_TOKEN=abc=def",
            "JUPYTERHUB_SERVICE_URL=http://0.0.0.0:8888/user/alice/",
        ]));
        assert_eq!(
            kept,
            Some(KeptServer {
                api_token: "abc=def".into(),
                port: 8888
            })
        );
        // Older images carry only JPY_API_TOKEN; host networking a chosen port.
        let kept = KeptServer::from_env(&env(&[
            "JPY_API_TOKEN=t",
            "JUPYTERHUB_SERVICE_URL=http://127.0.0.1:43117/user/bob/lab/",
        ]));
        assert_eq!(kept.map(|k| k.port), Some(43117));
        // Without a token or a port there is nothing to revive.
        assert_eq!(
            KeptServer::from_env(&env(&["JUPYTERHUB_SERVICE_URL=http://0.0.0.0:8888/"])),
            None
        );
        assert_eq!(
            KeptServer::from_env(&env(&["JUPYTERHUB_API_TOKEN=t"])),
            None
        );
        assert_eq!(
            KeptServer::from_env(&env(&[
                "JUPYTERHUB_API_TOKEN_OLD=t",
                "JUPYTERHUB_SERVICE_URL=http://0.0.0.0:8888/"
            ])),
            None
        );
    }

    #[test]
    fn the_configured_image_is_used_without_a_choice() {
        let config = config(AllowedImages::default());
        assert_eq!(chosen_image(&config, &json!({})).unwrap(), "default:1");
        assert_eq!(
            chosen_image(&config, &json!({"image": ""})).unwrap(),
            "default:1"
        );
    }

    #[test]
    fn a_choice_needs_allowed_images() {
        let none = config(AllowedImages::default());
        let err = chosen_image(&none, &json!({"image": "evil:1"})).unwrap_err();
        assert!(err.to_string().contains("not allowed"), "{err}");
        let listed = config(AllowedImages::Listed(BTreeMap::from([
            ("Python".into(), "py:3".into()),
            ("R".into(), "r:4".into()),
        ])));
        assert_eq!(
            chosen_image(&listed, &json!({"image": "R"})).unwrap(),
            "r:4"
        );
        assert_eq!(
            chosen_image(&listed, &json!({"image": ["Python"]})).unwrap(),
            "py:3"
        );
        let err = chosen_image(&listed, &json!({"image": "r:4"})).unwrap_err();
        assert!(err.to_string().contains("Python, R"), "{err}");
        let any = config(AllowedImages::Any);
        assert_eq!(chosen_image(&any, &json!({"image": "x:9"})).unwrap(), "x:9");
    }

    #[test]
    fn a_choice_of_images_makes_upstreams_form() {
        assert_eq!(options_form(&config(AllowedImages::default())), None);
        assert_eq!(options_form(&config(AllowedImages::Any)), None);
        let one = AllowedImages::Listed(BTreeMap::from([("default:1".into(), "default:1".into())]));
        assert_eq!(options_form(&config(one)), None);
        let two = config(AllowedImages::Listed(BTreeMap::from([
            ("default:1".into(), "default:1".into()),
            ("R & <co>".into(), "r:4".into()),
        ])));
        let form = options_form(&two).unwrap();
        assert!(form.contains(r#"<label for="image">"#), "{form}");
        assert!(form.contains(r#"name="image""#), "{form}");
        assert!(
            form.contains(r#"<option value="default:1" selected>default:1</option>"#),
            "{form}"
        );
        assert!(
            form.contains(r#"<option value="R &amp; &lt;co&gt;">"#),
            "{form}"
        );
    }

    #[test]
    fn images_split_like_docker_py() {
        assert_eq!(split_image("img:1"), ("img", "1"));
        assert_eq!(split_image("img"), ("img", "latest"));
        assert_eq!(
            split_image("reg.example:5000/img"),
            ("reg.example:5000/img", "latest")
        );
        assert_eq!(
            split_image("reg.example:5000/img:2"),
            ("reg.example:5000/img", "2")
        );
    }

    #[test]
    fn words_split_like_shlex() {
        assert_eq!(split_words(""), Vec::<String>::new());
        assert_eq!(split_words("touch /tmp/x"), ["touch", "/tmp/x"]);
        assert_eq!(
            split_words(r#"sh -c 'echo "a b" > f'"#),
            ["sh", "-c", r#"echo "a b" > f"#]
        );
        assert_eq!(split_words(r#"a\ b "c\"d" ''"#), ["a b", "c\"d", ""]);
    }

    #[test]
    fn state_names_the_container_as_any_dockerspawner_did() {
        assert_eq!(
            object(&json!({"object_id": "abc", "object_name": "n"})),
            Some("abc")
        );
        assert_eq!(object(&json!({"container_id": "old"})), Some("old"));
        assert_eq!(object(&json!({"object_name": "n"})), Some("n"));
        assert_eq!(object(&json!({})), None);
        assert_eq!(object(&json!({"object_id": ""})), None);
    }
}
