//! Starting a server: the spawn limits, then in the background the server's
//! API token and OAuth client, the spawner, waiting until it answers HTTP,
//! and its proxy route. A stop request interrupts a spawn that is waiting.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferrohub_config::{Config, UnknownProfile};
use ferrohub_core::token::{self, GENERATED_TOKEN_ROUNDS, USER_PROVIDED_TOKEN_ROUNDS};
use ferrohub_metrics::{SpawnLabels, SpawnReason};
use ferrohub_spawn::{ProgressReporter, ServerSettings, SpawnError, SpawnRequest};
use ferrohub_store::{
    NewToken, OAuthClient, ServerAddress, SpawnerRecord, StoreError, TokenOwner, UserRecord,
};
use serde_json::{Value, json};

use super::registry::log_name;
use super::{Phase, Runtime};
use crate::urls::HubUrls;

/// How long a request waits for a spawn or stop before answering 202 (upstream's 10 s).
pub(crate) const SLOW_TIMEOUT: Duration = Duration::from_secs(10);

/// Outcome of asking for a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SpawnOutcome {
    /// It was already running.
    AlreadyRunning,
    /// A spawn is under way (started now or earlier).
    Pending,
}

/// Why a spawn was not even started. The texts are upstream's and shown to
/// clients; a database failure is not (see `error.rs`).
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpawnRefused {
    /// A named server that was never created.
    #[error("{user}'s server {server:?} does not exist")]
    NoSuchServer {
        /// The owner.
        user: String,
        /// The server name.
        server: String,
    },
    /// The server is being stopped (its log name).
    #[error("{0} is pending stop")]
    PendingStop(String),
    /// `concurrent_spawn_limit` or `active_server_limit` reached.
    #[error("{message}")]
    Throttled {
        /// Upstream's message.
        message: String,
        /// Seconds for `Retry-After` (concurrent spawns only).
        retry_after: Option<u64>,
    },
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `user_options` that the configuration cannot honour. Its text is shown to
/// the user (it names only what they asked for and the choices).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BadUserOptions {
    /// `profile` names no profile of `Spawner.profile_list`.
    #[error(transparent)]
    UnknownProfile(#[from] UnknownProfile),
    /// `profile` is there but not a string.
    #[error("user_options profile must be a string (the slug of a profile), found {0}")]
    ProfileNotText(String),
    /// The spawner back end refuses these options (DockerSpawner: an image
    /// outside `allowed_images`); its text names only what was asked for
    /// and the choices.
    #[error("{0}")]
    Refused(String),
}

/// What a server with these `user_options` runs: `[Spawner]` with the
/// chosen profile's override applied (with a profile list, a missing
/// `profile` is the default one, as KubeSpawner). Without a profile list the
/// options change nothing here; they still reach the spawner, after the
/// back end's own check (`spawners::check_user_options`).
pub(crate) fn server_settings(
    config: &Config,
    user_options: &Value,
) -> Result<ServerSettings, BadUserOptions> {
    crate::spawners::check_user_options(config, user_options)
        .map_err(|refusal| BadUserOptions::Refused(refusal.to_string()))?;
    let spawner = &config.spawner;
    let base = ServerSettings::from_config(spawner);
    if spawner.profile_list.is_empty() {
        return Ok(base);
    }
    let slug = match user_options.get("profile") {
        None | Some(Value::Null) => None,
        Some(Value::String(slug)) => Some(slug.as_str()),
        Some(other) => return Err(BadUserOptions::ProfileNotText(other.to_string())),
    };
    Ok(
        match ferrohub_config::choose_profile(&spawner.profile_list, slug)? {
            Some(profile) => base.with_override(&profile.spawner_override),
            None => base,
        },
    )
}

/// What a client is told when a spawn fails inside the hub (database, proxy):
/// the cause goes to the log only, never to the user's page or the API.
pub(crate) const INTERNAL_SPAWN_FAILURE: &str =
    "the hub could not record or route the server (internal error; details are in the hub log)";

/// Why a started spawn failed. Its text is what the pending page and the API
/// show (`Spawn failed: …`), so internal causes are logged where they happen
/// and appear here only as [`SpawnFailure::Internal`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpawnFailure {
    /// `Spawner.start_timeout` passed before the spawner returned.
    #[error("server did not start within {0} seconds (Spawner.start_timeout)")]
    StartTimeout(u64),
    /// The spawner refused or the server did not become ready (its own text,
    /// as upstream shows it: no account, exited, timed out).
    #[error(transparent)]
    Spawner(#[from] SpawnError),
    /// The spawner returned a URL without scheme.
    #[error("spawner returned a bad URL {0:?}")]
    BadUrl(String),
    /// The spawner returned a URL without port.
    #[error("spawner URL {0:?} has no port")]
    NoPort(String),
    /// The spawner returned a URL with a port that is no number.
    #[error("spawner URL {0:?} has a bad port")]
    BadPort(String),
    /// The spawner could not launch the server's command (the cause, which
    /// names commands and files, is logged).
    #[error("the server's command could not be started (details are in the hub log)")]
    Launch,
    /// The database or the proxy failed (logged when it happened).
    #[error("{}", INTERNAL_SPAWN_FAILURE)]
    Internal,
    /// A stop request came while the server was starting.
    #[error("interrupted by a stop request")]
    Interrupted,
    /// The stored `user_options` no longer fit the configuration (a profile
    /// was removed since they were chosen).
    #[error(transparent)]
    Options(#[from] BadUserOptions),
}

/// Logs an internal spawn failure; the client sees only [`SpawnFailure::Internal`].
fn internal(step: &'static str) -> impl Fn(&dyn std::fmt::Display) -> SpawnFailure {
    move |cause| {
        tracing::error!("spawn failed while {step}: {cause}");
        SpawnFailure::Internal
    }
}

/// Starts a user's server in the background unless it is running or pending.
pub(crate) async fn request_spawn(
    rt: &Runtime,
    user: &UserRecord,
    server: &str,
) -> Result<SpawnOutcome, SpawnRefused> {
    let spawner = match rt.store.spawner(user.id, server).await? {
        Some(s) => s,
        None if server.is_empty() => rt.store.create_spawner(user.id, "").await?,
        None => {
            return Err(SpawnRefused::NoSuchServer {
                user: user.name.clone(),
                server: server.to_owned(),
            });
        }
    };
    let startable = |p: &Phase| matches!(p, Phase::Stopped | Phase::Failed(_));
    let busy = |phase: Phase| match phase {
        Phase::Ready => Ok(SpawnOutcome::AlreadyRunning),
        Phase::Stopping => Err(SpawnRefused::PendingStop(log_name(&user.name, server))),
        _ => Ok(SpawnOutcome::Pending),
    };
    let started = Instant::now();
    let refused = |reason: SpawnReason| {
        rt.metrics.server_spawn_duration.observe(
            SpawnLabels::failure(reason),
            started.elapsed().as_secs_f64(),
        );
    };
    let current = rt.servers.phase(&user.name, server);
    if current == Phase::Spawning {
        refused(SpawnReason::AlreadyPending);
    }
    if !startable(&current) {
        return busy(current);
    }
    check_spawn_limits(rt).inspect_err(|e| {
        let reason = match e {
            SpawnRefused::Throttled {
                retry_after: Some(_),
                ..
            } => SpawnReason::Throttled,
            _ => SpawnReason::TooManyUsers,
        };
        refused(reason);
    })?;
    if !rt.servers.begin_spawn(&user.name, server, startable) {
        return busy(rt.servers.phase(&user.name, server));
    }
    let rt = rt.clone();
    let user = user.clone();
    let server = server.to_owned();
    tokio::spawn(async move {
        let result = spawn_server(&rt, &user, &spawner).await;
        super::metrics::record_spawn(&rt, &user.name, &server, &result, started);
        let ready = result.is_ok()
            && rt
                .servers
                .transition(&user.name, &server, |p| *p == Phase::Spawning, Phase::Ready);
        if ready {
            return;
        }
        let phase = match result {
            // A stop was asked for just as the server became ready.
            Ok(()) => match super::stop::stop_server(&rt, &user, &server).await {
                Ok(()) => Phase::Stopped,
                Err(e) => {
                    tracing::error!(user = %user.name, server = %server, "stopping an interrupted spawn failed: {e}");
                    Phase::Failed(super::stop::STOP_FAILED.to_owned())
                }
            },
            Err(_) if rt.servers.phase(&user.name, &server) == Phase::Stopping => {
                tracing::warn!(user = %user.name, server = %server, "spawn interrupted by a stop request");
                Phase::Stopped
            }
            Err(failure) => {
                tracing::error!(user = %user.name, server = %server, "spawn failed: {failure}");
                Phase::Failed(failure.to_string())
            }
        };
        rt.servers.set(&user.name, &server, phase);
    });
    Ok(SpawnOutcome::Pending)
}

/// `concurrent_spawn_limit` and `active_server_limit`: 429 with upstream's messages.
fn check_spawn_limits(rt: &Runtime) -> Result<(), SpawnRefused> {
    let config = &rt.config.jupyterhub;
    let (spawning, active) = rt.servers.counts();
    let concurrent = config.concurrent_spawn_limit as usize;
    if concurrent > 0 && spawning >= concurrent {
        // Upstream suggests a random wait in 30-60 s so clients do not retry in lockstep.
        let retry = 30 + u64::from(random_byte()) % 31;
        tracing::warn!("{spawning} pending spawns, throttling; suggested retry in {retry} s");
        return Err(SpawnRefused::Throttled {
            message: format!(
                "Too many users trying to log in right now. Try again in {}0 seconds.",
                retry.div_ceil(10)
            ),
            retry_after: Some(retry),
        });
    }
    let limit = config.active_server_limit as usize;
    if limit > 0 && active >= limit {
        tracing::info!("{active} servers active, no space available");
        return Err(SpawnRefused::Throttled {
            message: "Active user limit exceeded. Try again in a few minutes.".to_owned(),
            retry_after: None,
        });
    }
    Ok(())
}

fn random_byte() -> u8 {
    let mut byte = [0u8; 1];
    if getrandom::fill(&mut byte).is_err() {
        // Only spreads retries; a fixed value is still a valid suggestion.
        return 0;
    }
    byte[0]
}

fn hub_env(
    urls: &HubUrls,
    user: &str,
    server: &str,
    token: &str,
    client_id: &str,
    prefix: &str,
) -> BTreeMap<String, String> {
    let access = json!([
        format!("access:servers!server={user}/{server}"),
        format!("access:servers!user={user}")
    ])
    .to_string();
    let api_url = urls.api_url();
    let quoted_user = ferrohub_core::url::quote_name(user);
    [
        ("JUPYTERHUB_API_TOKEN", token.to_owned()),
        ("JPY_API_TOKEN", token.to_owned()),
        ("JUPYTERHUB_CLIENT_ID", client_id.to_owned()),
        ("JUPYTERHUB_API_URL", api_url.clone()),
        (
            "JUPYTERHUB_ACTIVITY_URL",
            format!("{api_url}/users/{quoted_user}/activity"),
        ),
        ("JUPYTERHUB_BASE_URL", urls.base.clone()),
        ("JUPYTERHUB_SERVICE_PREFIX", prefix.to_owned()),
        ("JUPYTERHUB_USER", user.to_owned()),
        ("JUPYTERHUB_SERVER_NAME", server.to_owned()),
        ("JUPYTERHUB_HOST", urls.hub_host()),
        (
            "JUPYTERHUB_OAUTH_CALLBACK_URL",
            format!("{}oauth_callback", urls.server_url(user, server)),
        ),
        ("JUPYTERHUB_OAUTH_ACCESS_SCOPES", access.clone()),
        ("JUPYTERHUB_OAUTH_SCOPES", access),
        ("JUPYTERHUB_OAUTH_CLIENT_ALLOWED_SCOPES", "[]".to_owned()),
        ("JUPYTERHUB_COOKIE_HOST_PREFIX_ENABLED", "0".to_owned()),
        // As upstream: set only with `JupyterHub.public_url`.
        (
            "JUPYTERHUB_PUBLIC_URL",
            if urls.subdomains.is_some() {
                urls.server_url(user, server)
            } else {
                urls.public_url_of(prefix)
            },
        ),
        ("JUPYTERHUB_PUBLIC_HUB_URL", urls.public_url_of(&urls.hub)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Parses the spawner's `http://ip:port` into an address with the server prefix.
fn address(url: &str, prefix: &str) -> Result<ServerAddress, SpawnFailure> {
    let (proto, rest) = url
        .split_once("://")
        .ok_or_else(|| SpawnFailure::BadUrl(url.to_owned()))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let (ip, port) = authority
        .rsplit_once(':')
        .ok_or_else(|| SpawnFailure::NoPort(url.to_owned()))?;
    let port = port
        .parse()
        .map_err(|_| SpawnFailure::BadPort(url.to_owned()))?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']').to_owned();
    Ok(ServerAddress {
        proto: proto.to_owned(),
        ip,
        port,
        base_url: prefix.to_owned(),
    })
}

/// The whole spawn; on failure everything is cleaned up.
async fn spawn_server(
    rt: &Runtime,
    user: &UserRecord,
    spawner: &SpawnerRecord,
) -> Result<(), SpawnFailure> {
    let server = spawner.name.as_str();
    let prefix = rt.urls.server_prefix(&user.name, server);
    let client_id = HubUrls::oauth_client_id(&user.name, server);
    let api_token = token::new_token();
    // Launching is short and leaves nothing untracked; waiting for the server to
    // answer can take minutes, so a stop request (DELETE) interrupts it.
    let (result, route) = match launch(rt, user, spawner, &prefix, &client_id, &api_token).await {
        Ok(addr) => {
            let result = tokio::select! {
                result = wait_and_route(rt, user, server, &addr) => result,
                () = rt.servers.stop_requested(&user.name, server) => Err(SpawnFailure::Interrupted),
            };
            (result, Some(rt.urls.user_route(&user.name, &addr.base_url)))
        }
        Err(failure) => (Err(failure), None),
    };
    if let Err(failure) = &result {
        tracing::warn!(user = %user.name, "cleaning up failed spawn: {failure}");
        cleanup_failed_spawn(rt, user, spawner, &client_id, route.as_deref()).await;
    }
    result
}

/// Undoes what a failed spawn left: route (if it got that far), process,
/// address, OAuth client.
/// Each step is tried whatever the others did; failures are logged.
async fn cleanup_failed_spawn(
    rt: &Runtime,
    user: &UserRecord,
    spawner: &SpawnerRecord,
    client_id: &str,
    route: Option<&str>,
) {
    let log = |step: &str, e: &dyn std::fmt::Display| {
        tracing::warn!(user = %user.name, server = %spawner.name, "cleanup after a failed spawn, {step}: {e}");
    };
    if let Some(route) = route
        && let Err(e) = rt.proxy.delete_route(route).await
    {
        log("deleting the route", &e);
    }
    match rt.store.spawner(user.id, &spawner.name).await {
        Ok(Some(record)) => {
            if let Err(e) = rt.spawner.stop(&record.state).await {
                log("stopping the process", &e);
            }
            rt.spawn_hooks.post_spawn_stop(&user.name).await;
        }
        Ok(None) => {}
        Err(e) => log("reading the spawner", &e),
    }
    if let Err(e) = rt.store.record_server_stopped(spawner.id).await {
        log("recording the stop", &e);
    }
    if let Err(e) = rt.store.delete_oauth_client(client_id).await {
        log("deleting the OAuth client", &e);
    }
}

async fn launch(
    rt: &Runtime,
    user: &UserRecord,
    spawner: &SpawnerRecord,
    prefix: &str,
    client_id: &str,
    api_token: &str,
) -> Result<ServerAddress, SpawnFailure> {
    let server = spawner.name.as_str();
    let db = internal("writing to the database");
    // The server's own token belongs to its OAuth client, so it goes when the client goes.
    let scopes = [
        "users:activity!user".to_owned(),
        format!("access:servers!server={}/{server}", user.name),
    ];
    let owner = ServerToken {
        user,
        server,
        client_id,
        prefix,
        scopes: &scopes,
    };
    upsert_server_client(rt, &owner, api_token).await?;
    let generated_token_id = rt
        .store
        .create_token(&NewToken {
            token: api_token,
            rounds: GENERATED_TOKEN_ROUNDS,
            owner: TokenOwner::User(user.id),
            client_id,
            session_id: None,
            scopes: &scopes,
            note: Some(&format!("Server at {prefix}")),
            expires_at: None,
        })
        .await
        .map_err(|e| db(&e))?;
    let mut settings = server_settings(&rt.config, &spawner.user_options)?;
    // `Spawner.auth_state_env` (upstream's auth_state_hook, run before each
    // start): fields of the user's auth_state join the environment.
    let fields = &rt.config.spawner.auth_state_env;
    if !fields.is_empty()
        && let Some(auth_state) = super::auth_state::load(rt, user.id)
            .await
            .map_err(|e| db(&e))?
    {
        settings
            .environment
            .extend(super::auth_state::environment(fields, &auth_state));
    }
    let request = SpawnRequest {
        username: user.name.clone(),
        user_id: user.id,
        server_name: server.to_owned(),
        base_url: prefix.to_owned(),
        hub_env: hub_env(&rt.urls, &user.name, server, api_token, client_id, prefix),
        settings,
        user_options: spawner.user_options.clone(),
        progress: spawner_progress(rt, &user.name, server),
        reports: rt.servers.open_reports(&user.name, server),
    };
    let timeout = Duration::from_secs(rt.config.spawner.start_timeout);
    rt.servers
        .report(&user.name, server, 10, "Spawning server...".to_owned());
    rt.spawn_hooks.pre_spawn_start(&user.name).await;
    // A stop request interrupts a start that waits (a batch job pending in
    // its queue): the spawner's `start` is dropped, which cancels what it
    // had begun.
    let started = tokio::select! {
        started = tokio::time::timeout(timeout, rt.spawner.start(&request)) => Some(started),
        () = rt.servers.stop_requested(&user.name, server) => None,
    };
    rt.servers.close_reports(&user.name, server);
    let started = started
        .ok_or(SpawnFailure::Interrupted)?
        .map_err(|_| SpawnFailure::StartTimeout(timeout.as_secs()))?
        .map_err(client_safe)?;
    if let Some(revived) = started.api_token.as_deref().filter(|t| *t != api_token) {
        adopt_revived_token(rt, &owner, revived, generated_token_id).await?;
    }
    let addr = address(&started.url, prefix)?;
    rt.servers.report(
        &user.name,
        server,
        40,
        format!("Server process started, listening on port {}", addr.port),
    );
    rt.store
        .record_server_started(spawner.id, &addr, &started.state, client_id)
        .await
        .map_err(|e| db(&e))?;
    tracing::info!(user = %user.name, server, url = %started.url, "server launched");
    Ok(addr)
}

/// Who a server's API token belongs to and what it may do.
struct ServerToken<'a> {
    user: &'a UserRecord,
    server: &'a str,
    client_id: &'a str,
    prefix: &'a str,
    scopes: &'a [String],
}

/// The server's OAuth client, whose secret is the server's API token (the
/// single-user server authenticates its OAuth calls with it).
async fn upsert_server_client(
    rt: &Runtime,
    owner: &ServerToken<'_>,
    api_token: &str,
) -> Result<(), SpawnFailure> {
    let db = internal("writing to the database");
    // 16,384 rounds: hashed off the async workers.
    let secret = ferrohub_store::hashing::hash_secret(api_token, USER_PROVIDED_TOKEN_ROUNDS)
        .await
        .ok_or_else(|| db(&StoreError::ShuttingDown))?;
    let prefix = owner.prefix;
    rt.store
        .upsert_oauth_client(&OAuthClient {
            identifier: owner.client_id.to_owned(),
            description: format!("Server at {prefix}"),
            secret,
            // Under `subdomain_host`, on the user's host (upstream's `User.url`).
            redirect_uri: format!(
                "{}oauth_callback",
                rt.urls.server_url(&owner.user.name, owner.server)
            ),
            allowed_scopes: vec![format!(
                "access:servers!server={}/{}",
                owner.user.name, owner.server
            )],
        })
        .await
        .map_err(|e| db(&e))
}

/// A revived server (a kept container) holds the token of the start that
/// created it, not the one just generated: that token becomes the server's
/// API token and OAuth client secret again, and the generated one goes.
/// A token already registered to anyone else is refused, so a revived
/// server cannot borrow another owner's credentials.
async fn adopt_revived_token(
    rt: &Runtime,
    owner: &ServerToken<'_>,
    revived: &str,
    generated_token_id: i64,
) -> Result<(), SpawnFailure> {
    let db = internal("writing to the database");
    let user = owner.user;
    match rt.store.find_token(revived).await.map_err(|e| db(&e))? {
        Some(known)
            if known.owner == TokenOwner::User(user.id) && known.client_id == owner.client_id => {}
        Some(_) => {
            return Err(internal("adopting the revived server's token")(
                &"the token the server holds belongs to someone else",
            ));
        }
        None => {
            rt.store
                .create_token(&NewToken {
                    token: revived,
                    rounds: USER_PROVIDED_TOKEN_ROUNDS,
                    owner: TokenOwner::User(user.id),
                    client_id: owner.client_id,
                    session_id: None,
                    scopes: owner.scopes,
                    note: Some(&format!(
                        "Server at {}, retrieved from the spawner",
                        owner.prefix
                    )),
                    expires_at: None,
                })
                .await
                .map_err(|e| db(&e))?;
        }
    }
    upsert_server_client(rt, owner, revived).await?;
    rt.store
        .delete_token(generated_token_id)
        .await
        .map_err(|e| db(&e))?;
    tracing::info!(user = %user.name, "the revived server keeps the API token it was created with");
    Ok(())
}

/// The spawner's own steps (0-100 % of its start) as events between the
/// hub's "Spawning server" (10 %) and "Server started" (40 %).
fn spawner_progress(rt: &Runtime, user: &str, server: &str) -> ProgressReporter {
    let rt = rt.clone();
    let (user, server) = (user.to_owned(), server.to_owned());
    ProgressReporter::new(move |percent, message| {
        let scaled = 10 + u16::from(percent) * 30 / 100;
        let scaled = u8::try_from(scaled).unwrap_or(40);
        rt.servers.report(&user, &server, scaled, message);
    })
}

async fn wait_and_route(
    rt: &Runtime,
    user: &UserRecord,
    server: &str,
    addr: &ServerAddress,
) -> Result<(), SpawnFailure> {
    let read = internal("reading the database");
    let record = rt
        .store
        .spawner(user.id, server)
        .await
        .map_err(|e| read(&e))?
        .ok_or_else(|| read(&"spawner row vanished"))?;
    let url = format!("{}{}api", addr.host_url(), addr.base_url);
    let timeout = Duration::from_secs(rt.config.spawner.http_timeout);
    rt.servers.report(
        &user.name,
        server,
        50,
        "Waiting for the server to answer".to_owned(),
    );
    tokio::select! {
        ready = ferrohub_spawn::wait_until_ready(rt.spawner.as_ref(), &record.state, &url, timeout) => {
            ready.map_err(client_safe)?;
        }
        () = report_waiting(rt, &user.name, server) => {}
    }
    rt.servers.report(
        &user.name,
        server,
        95,
        "The server answered; adding its route to the proxy".to_owned(),
    );
    let data = json!({"user": user.name, "server_name": server});
    rt.proxy
        .add_route(
            &rt.urls.user_route(&user.name, &addr.base_url),
            &addr.host_url(),
            data,
        )
        .await
        .map_err(|e| internal("adding the proxy route")(&e))?;
    tracing::info!(user = %user.name, server, "server ready at {}", addr.base_url);
    Ok(())
}

/// While the server does not answer yet: a step after 1, 2, 4, 8, 16 and
/// then every 30 seconds, creeping from 50 towards 90 percent so the pending
/// page shows the wait is still going on. Never returns (the caller races it).
async fn report_waiting(rt: &Runtime, user: &str, server: &str) {
    let started = Instant::now();
    let mut pause = Duration::from_secs(1);
    loop {
        tokio::time::sleep(pause).await;
        let waited = started.elapsed().as_secs();
        rt.servers.report(
            user,
            server,
            waiting_progress(waited),
            format!("Still waiting for the server to answer ({waited} s)"),
        );
        pause = (pause * 2).min(Duration::from_secs(30));
    }
}

/// 50 % at the start of the wait, approaching (never reaching) 90 %.
fn waiting_progress(waited_secs: u64) -> u8 {
    let fraction = waited_secs as f64 / (waited_secs as f64 + 8.0);
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "fraction is in [0, 1): the result is in [50, 90)"
    )]
    let progress = (50.0 + 40.0 * fraction) as u8;
    progress
}

/// A spawner's error as the pending page and the API may show it: launch and
/// operating-system errors name commands and files, so those go to the log
/// and the client gets a generic text (no paths, no internals).
fn client_safe(error: SpawnError) -> SpawnFailure {
    match error {
        SpawnError::Launch { .. }
        | SpawnError::Io(_)
        | SpawnError::Config(_)
        | SpawnError::State(_) => {
            tracing::error!("spawner failed: {error}");
            SpawnFailure::Launch
        }
        other => SpawnFailure::Spawner(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawner_urls_become_addresses() {
        let addr = address("http://127.0.0.1:8888", "/user/a/").unwrap();
        assert_eq!((addr.ip.as_str(), addr.port), ("127.0.0.1", 8888));
        let v6 = address("http://[::1]:9000/", "/user/a/").unwrap();
        assert_eq!(v6.ip, "::1");
        assert!(matches!(address("nope", "/"), Err(SpawnFailure::BadUrl(_))));
        assert!(matches!(
            address("http://host", "/"),
            Err(SpawnFailure::NoPort(_))
        ));
        assert!(matches!(
            address("http://host:x", "/"),
            Err(SpawnFailure::BadPort(_))
        ));
    }

    #[test]
    fn waiting_creeps_forward_below_ninety() {
        let steps: Vec<u8> = [0, 1, 2, 4, 8, 16, 46, 76, 3600]
            .into_iter()
            .map(waiting_progress)
            .collect();
        assert_eq!(steps[0], 50);
        assert!(steps.windows(2).all(|w| w[0] <= w[1]), "{steps:?}");
        assert!(steps[1] > 50 && *steps.last().unwrap() < 90, "{steps:?}");
    }

    #[test]
    fn launch_errors_hide_commands_and_paths() {
        let launch = client_safe(SpawnError::Launch {
            cmd: vec!["/secret/bin/server".into()],
            reason: "No such file or directory".into(),
        });
        assert!(!launch.to_string().contains("/secret"), "{launch}");
        let exited = client_safe(SpawnError::Exited(1));
        assert_eq!(
            exited.to_string(),
            "server exited with status 1 before it was ready"
        );
    }

    #[test]
    fn internal_failures_never_show_their_cause() {
        let failure = internal("testing")(&"database is locked at /secret/path");
        assert_eq!(failure.to_string(), INTERNAL_SPAWN_FAILURE);
    }
}
