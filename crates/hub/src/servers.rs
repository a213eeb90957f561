//! Life of a server: spawn (token, OAuth client, spawner, readiness, route),
//! stop, the liveness poll, and reconciling with the proxy at start-up.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use ferrohub_core::token::{self, GENERATED_TOKEN_ROUNDS, USER_PROVIDED_TOKEN_ROUNDS};
use ferrohub_core::{server_names, time};
use ferrohub_metrics::{Outcome, PollStatus, SpawnLabels, SpawnReason};
use ferrohub_spawn::SpawnRequest;
use ferrohub_store::{NewToken, OAuthClient, ServerAddress, SpawnerRecord, TokenOwner, UserRecord};
use serde_json::json;
use tokio::sync::watch;

use crate::error::ApiError;
use crate::state::AppState;
use crate::urls::HubUrls;

/// What is happening to a server right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Being started.
    Spawning,
    /// Being stopped.
    Stopping,
    /// Started and answering HTTP, route added.
    Ready,
    /// The last start failed with this message (shown on the pending page).
    Failed(String),
    /// Not running.
    Stopped,
}

impl Phase {
    /// Upstream's `pending` field: `"spawn"`, `"stop"` or null.
    #[must_use]
    pub fn pending(&self) -> Option<&'static str> {
        match self {
            Self::Spawning => Some("spawn"),
            Self::Stopping => Some("stop"),
            _ => None,
        }
    }
}

type Key = (String, String);

/// In-memory phases of servers (the database holds what persists).
#[derive(Default)]
pub struct ServerRegistry {
    phases: Mutex<HashMap<Key, watch::Sender<Phase>>>,
}

impl ServerRegistry {
    fn sender(&self, user: &str, server: &str) -> watch::Sender<Phase> {
        let mut phases = self.phases.lock().expect("registry lock");
        phases
            .entry((user.to_owned(), server.to_owned()))
            .or_insert_with(|| watch::channel(Phase::Stopped).0)
            .clone()
    }

    /// The current phase of a server.
    #[must_use]
    pub fn phase(&self, user: &str, server: &str) -> Phase {
        self.sender(user, server).borrow().clone()
    }

    /// Sets the phase.
    pub fn set(&self, user: &str, server: &str, phase: Phase) {
        self.sender(user, server).send_replace(phase);
    }

    /// Moves to `to` only if the current phase satisfies `from`; returns whether it moved.
    fn transition(
        &self,
        user: &str,
        server: &str,
        from: impl Fn(&Phase) -> bool,
        to: Phase,
    ) -> bool {
        let sender = self.sender(user, server);
        sender.send_if_modified(|phase| {
            if from(phase) {
                *phase = to.clone();
                true
            } else {
                false
            }
        })
    }

    /// Waits until the phase is no longer pending, at most `limit`.
    pub async fn wait_settled(&self, user: &str, server: &str, limit: Duration) -> Phase {
        let mut rx = self.sender(user, server).subscribe();
        let wait = rx.wait_for(|p| p.pending().is_none());
        match tokio::time::timeout(limit, wait).await {
            Ok(Ok(phase)) => phase.clone(),
            _ => self.phase(user, server),
        }
    }

    /// Resolves once a stop is requested (the phase becomes `Stopping`).
    pub async fn stop_requested(&self, user: &str, server: &str) {
        let mut rx = self.sender(user, server).subscribe();
        let _ = rx.wait_for(|p| *p == Phase::Stopping).await;
    }

    /// How many servers are in `phase` now.
    #[must_use]
    pub fn count_in(&self, phase: &Phase) -> usize {
        let phases = self.phases.lock().expect("registry lock");
        phases.values().filter(|p| *p.borrow() == *phase).count()
    }

    /// Servers starting now, and servers starting, running or stopping (for the spawn limits).
    #[must_use]
    pub fn counts(&self) -> (usize, usize) {
        let phases = self.phases.lock().expect("registry lock");
        phases.values().fold((0, 0), |(spawning, active), sender| {
            match *sender.borrow() {
                Phase::Spawning => (spawning + 1, active + 1),
                Phase::Ready | Phase::Stopping => (spawning, active + 1),
                _ => (spawning, active),
            }
        })
    }

    /// Whether any of the user's servers is ready (`GET /users?state=ready`).
    #[must_use]
    pub fn any_ready(&self, user: &str) -> bool {
        let phases = self.phases.lock().expect("registry lock");
        phases
            .iter()
            .any(|((u, _), p)| u == user && *p.borrow() == Phase::Ready)
    }

    /// Whether any of the user's servers is starting, running or stopping.
    #[must_use]
    pub fn any_active(&self, user: &str) -> bool {
        let phases = self.phases.lock().expect("registry lock");
        phases.iter().any(|((u, _), p)| {
            u == user
                && matches!(
                    *p.borrow(),
                    Phase::Spawning | Phase::Ready | Phase::Stopping
                )
        })
    }

    /// Forgets one server (renamed or removed).
    pub fn forget(&self, user: &str, server: &str) {
        self.phases
            .lock()
            .expect("registry lock")
            .remove(&(user.to_owned(), server.to_owned()));
    }

    /// Forgets a user (deleted).
    pub fn remove_user(&self, user: &str) {
        self.phases
            .lock()
            .expect("registry lock")
            .retain(|(u, _), _| u != user);
    }
}

/// Upstream's `_check_named_server_request`: named servers on, under the
/// per-user limit, and a valid name and display name for new servers.
pub async fn check_named_server_request(
    state: &AppState,
    user: &UserRecord,
    server: &str,
    display_name: &str,
    check_limit: bool,
) -> Result<(), ApiError> {
    if !state.config.jupyterhub.allow_named_servers {
        return Err(ApiError::bad_request("Named servers are not enabled."));
    }
    let exists = state.store.spawner(user.id, server).await?.is_some();
    let limit = i64::from(state.config.jupyterhub.named_server_limit_per_user);
    if check_limit && limit > 0 && !exists {
        let count = state.store.count_named_spawners(user.id).await?;
        if count >= limit {
            return Err(ApiError::bad_request(format!(
                "User {} already has the maximum of {limit} named servers.  One must be deleted before a new server can be created",
                user.name
            )));
        }
    }
    if !exists {
        if !server_names::is_valid_server_name(server) {
            return Err(ApiError::bad_request(format!(
                "Invalid server_name: {server:?} (1-30 characters a-z, 0-9 and '-', starting with a letter, ending with a letter or digit, no '--')"
            )));
        }
        let display = server_names::normalize_display_name(display_name);
        if !server_names::is_valid_display_name(&display) {
            return Err(ApiError::bad_request(format!(
                "Invalid display_name: {display_name:?}"
            )));
        }
    }
    Ok(())
}

/// The spawner row for `server`, created on first use (a named one after the
/// checks above, with `display` as its display name): upstream creates named
/// servers when they are first started, from the API or the spawn page.
pub async fn ensure_spawner(
    state: &AppState,
    user: &UserRecord,
    server: &str,
    display: &str,
) -> Result<SpawnerRecord, ApiError> {
    if !server.is_empty() {
        check_named_server_request(state, user, server, display, true).await?;
    }
    if let Some(record) = state.store.spawner(user.id, server).await? {
        return Ok(record);
    }
    let record = state.store.create_spawner(user.id, server).await?;
    if !server.is_empty() {
        state
            .store
            .set_display_name(record.id, &server_names::normalize_display_name(display))
            .await?;
    }
    Ok(record)
}

/// How long a request waits for a spawn or stop before answering 202 (upstream's 10 s).
pub const SLOW_TIMEOUT: Duration = Duration::from_secs(10);

/// Outcome of asking for a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpawnOutcome {
    /// It was already running.
    AlreadyRunning,
    /// A spawn is under way (started now or earlier).
    Pending,
}

/// Starts a user's server in the background unless it is running or pending.
pub async fn request_spawn(
    state: &AppState,
    user: &UserRecord,
    server: &str,
) -> Result<SpawnOutcome, ApiError> {
    let spawner = match state.store.spawner(user.id, server).await? {
        Some(s) => s,
        None if server.is_empty() => state.store.create_spawner(user.id, "").await?,
        None => {
            return Err(ApiError::not_found(format!(
                "{}'s server {server:?} does not exist",
                user.name
            )));
        }
    };
    let startable = |p: &Phase| matches!(p, Phase::Stopped | Phase::Failed(_));
    let busy = |phase: Phase| match phase {
        Phase::Ready => Ok(SpawnOutcome::AlreadyRunning),
        Phase::Stopping => Err(ApiError::bad_request(format!(
            "{} is pending stop",
            crate::api::log_name(&user.name, server)
        ))),
        _ => Ok(SpawnOutcome::Pending),
    };
    let started = std::time::Instant::now();
    let refused = |reason: SpawnReason| {
        state.metrics.server_spawn_duration.observe(
            SpawnLabels::failure(reason),
            started.elapsed().as_secs_f64(),
        );
    };
    let current = state.servers.phase(&user.name, server);
    if current == Phase::Spawning {
        refused(SpawnReason::AlreadyPending);
    }
    if !startable(&current) {
        return busy(current);
    }
    check_spawn_limits(state).inspect_err(|e| {
        refused(
            e.retry_after
                .map_or(SpawnReason::TooManyUsers, |_| SpawnReason::Throttled),
        );
    })?;
    if !state
        .servers
        .transition(&user.name, server, startable, Phase::Spawning)
    {
        return busy(state.servers.phase(&user.name, server));
    }
    let state = state.clone();
    let user = user.clone();
    let server = server.to_owned();
    tokio::spawn(async move {
        let result = spawn_server(&state, &user, &spawner).await;
        crate::metrics::record_spawn(&state, &user.name, &server, &result, started);
        let ready = result.is_ok()
            && state.servers.transition(
                &user.name,
                &server,
                |p| *p == Phase::Spawning,
                Phase::Ready,
            );
        if ready {
            return;
        }
        let phase = match result {
            // A stop was asked for just as the server became ready.
            Ok(()) => match stop_server(&state, &user, &server).await {
                Ok(()) => Phase::Stopped,
                Err(message) => Phase::Failed(message),
            },
            Err(_) if state.servers.phase(&user.name, &server) == Phase::Stopping => {
                tracing::warn!(user = %user.name, server = %server, "spawn interrupted by a stop request");
                Phase::Stopped
            }
            Err(message) => {
                tracing::error!(user = %user.name, server = %server, "spawn failed: {message}");
                Phase::Failed(message)
            }
        };
        state.servers.set(&user.name, &server, phase);
    });
    Ok(SpawnOutcome::Pending)
}

/// `concurrent_spawn_limit` and `active_server_limit`: 429 with upstream's messages.
fn check_spawn_limits(state: &AppState) -> Result<(), ApiError> {
    let config = &state.config.jupyterhub;
    let (spawning, active) = state.servers.counts();
    let concurrent = config.concurrent_spawn_limit as usize;
    if concurrent > 0 && spawning >= concurrent {
        // Upstream suggests a random wait in 30-60 s so clients do not retry in lockstep.
        let retry = 30 + u64::from(random_byte()) % 31;
        tracing::warn!("{spawning} pending spawns, throttling; suggested retry in {retry} s");
        return Err(ApiError::too_many(
            format!(
                "Too many users trying to log in right now. Try again in {}0 seconds.",
                retry.div_ceil(10)
            ),
            Some(retry),
        ));
    }
    let limit = config.active_server_limit as usize;
    if limit > 0 && active >= limit {
        tracing::info!("{active} servers active, no space available");
        return Err(ApiError::too_many(
            "Active user limit exceeded. Try again in a few minutes.",
            None,
        ));
    }
    Ok(())
}

fn random_byte() -> u8 {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
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
        ("JUPYTERHUB_HOST", String::new()),
        (
            "JUPYTERHUB_OAUTH_CALLBACK_URL",
            format!("{prefix}oauth_callback"),
        ),
        ("JUPYTERHUB_OAUTH_ACCESS_SCOPES", access.clone()),
        ("JUPYTERHUB_OAUTH_SCOPES", access),
        ("JUPYTERHUB_OAUTH_CLIENT_ALLOWED_SCOPES", "[]".to_owned()),
        ("JUPYTERHUB_COOKIE_HOST_PREFIX_ENABLED", "0".to_owned()),
        ("JUPYTERHUB_PUBLIC_URL", String::new()),
        ("JUPYTERHUB_PUBLIC_HUB_URL", String::new()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Parses the spawner's `http://ip:port` into an address with the server prefix.
fn address(url: &str, prefix: &str) -> Result<ServerAddress, String> {
    let (proto, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("spawner returned a bad URL {url:?}"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let (ip, port) = authority
        .rsplit_once(':')
        .ok_or_else(|| format!("spawner URL {url:?} has no port"))?;
    let port = port
        .parse()
        .map_err(|_| format!("spawner URL {url:?} has a bad port"))?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']').to_owned();
    Ok(ServerAddress {
        proto: proto.to_owned(),
        ip,
        port,
        base_url: prefix.to_owned(),
    })
}

/// What a client is told when a spawn fails inside the hub (database, proxy):
/// the cause goes to the log only, never to the user's page or the API.
const INTERNAL_SPAWN_FAILURE: &str =
    "the hub could not record or route the server (internal error; details are in the hub log)";

/// Logs an internal spawn failure and hands back the client-safe text.
fn internal_failure(step: &'static str) -> impl Fn(&dyn std::fmt::Display) -> String {
    move |cause| {
        tracing::error!("spawn failed while {step}: {cause}");
        INTERNAL_SPAWN_FAILURE.to_owned()
    }
}

/// The whole spawn; on failure everything is cleaned up and a message returned.
async fn spawn_server(
    state: &AppState,
    user: &UserRecord,
    spawner: &SpawnerRecord,
) -> Result<(), String> {
    let server = spawner.name.as_str();
    let prefix = state.urls.server_prefix(&user.name, server);
    let client_id = HubUrls::oauth_client_id(&user.name, server);
    let api_token = token::new_token();
    let started = launch(state, user, spawner, &prefix, &client_id, &api_token).await;
    // Launching is short and leaves nothing untracked; waiting for the server to
    // answer can take minutes, so a stop request (DELETE) interrupts it.
    let result = match &started {
        Ok(addr) => tokio::select! {
            result = wait_and_route(state, user, server, addr) => result,
            () = state.servers.stop_requested(&user.name, server) => {
                Err("interrupted by a stop request".to_owned())
            }
        },
        Err(e) => Err(e.clone()),
    };
    if let Err(message) = &result {
        tracing::warn!(user = %user.name, "cleaning up failed spawn: {message}");
        if let Ok(addr) = &started {
            let _ = state.proxy.delete_route(&addr.base_url).await;
        }
        if let Ok(Some(record)) = state.store.spawner(user.id, server).await {
            let _ = state.spawner.stop(&record.state).await;
        }
        let _ = state.store.record_server_stopped(spawner.id).await;
        let _ = state.store.delete_oauth_client(&client_id).await;
    }
    result
}

async fn launch(
    state: &AppState,
    user: &UserRecord,
    spawner: &SpawnerRecord,
    prefix: &str,
    client_id: &str,
    api_token: &str,
) -> Result<ServerAddress, String> {
    let server = spawner.name.as_str();
    let db = |e: ferrohub_store::StoreError| internal_failure("writing to the database")(&e);
    // 16,384 rounds: hashed off the async workers.
    let secret = ferrohub_store::hashing::hash_secret(api_token, USER_PROVIDED_TOKEN_ROUNDS)
        .await
        .ok_or_else(|| db(ferrohub_store::StoreError::ShuttingDown))?;
    state
        .store
        .upsert_oauth_client(&OAuthClient {
            identifier: client_id.to_owned(),
            description: format!("Server at {prefix}"),
            secret,
            redirect_uri: format!("{prefix}oauth_callback"),
            allowed_scopes: vec![format!("access:servers!server={}/{server}", user.name)],
        })
        .await
        .map_err(db)?;
    // The server's own token belongs to its OAuth client, so it goes when the client goes.
    let scopes = [
        "users:activity!user".to_owned(),
        format!("access:servers!server={}/{server}", user.name),
    ];
    state
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
        .map_err(db)?;
    let request = SpawnRequest {
        username: user.name.clone(),
        server_name: server.to_owned(),
        base_url: prefix.to_owned(),
        hub_env: hub_env(
            &state.urls,
            &user.name,
            server,
            api_token,
            client_id,
            prefix,
        ),
    };
    let timeout = Duration::from_secs(state.config.spawner.start_timeout);
    let started = tokio::time::timeout(timeout, state.spawner.start(&request))
        .await
        .map_err(|_| {
            format!(
                "server did not start within {} seconds (Spawner.start_timeout)",
                timeout.as_secs()
            )
        })?
        .map_err(|e| e.to_string())?;
    let addr = address(&started.url, prefix)?;
    state
        .store
        .record_server_started(spawner.id, &addr, &started.state, client_id)
        .await
        .map_err(db)?;
    tracing::info!(user = %user.name, server, url = %started.url, "server launched");
    Ok(addr)
}

async fn wait_and_route(
    state: &AppState,
    user: &UserRecord,
    server: &str,
    addr: &ServerAddress,
) -> Result<(), String> {
    let record = state
        .store
        .spawner(user.id, server)
        .await
        .map_err(|e| internal_failure("reading the database")(&e))?
        .ok_or_else(|| internal_failure("reading the database")(&"spawner row vanished"))?;
    let url = format!("{}{}api", addr.host_url(), addr.base_url);
    let timeout = Duration::from_secs(state.config.spawner.http_timeout);
    ferrohub_spawn::wait_until_ready(state.spawner.as_ref(), &record.state, &url, timeout)
        .await
        .map_err(|e| e.to_string())?;
    let data = json!({"user": user.name, "server_name": server});
    state
        .proxy
        .add_route(&addr.base_url, &addr.host_url(), data)
        .await
        .map_err(|e| internal_failure("adding the proxy route")(&e))?;
    tracing::info!(user = %user.name, server, "server ready at {}", addr.base_url);
    Ok(())
}

/// Stops a user's server; waits for it up to [`SLOW_TIMEOUT`]. Returns true if it has stopped.
pub async fn request_stop(
    state: &AppState,
    user: &UserRecord,
    server: &str,
) -> Result<bool, ApiError> {
    // A pending spawn is interrupted: its task sees `Stopping` and cleans up.
    if state.servers.transition(
        &user.name,
        server,
        |p| *p == Phase::Spawning,
        Phase::Stopping,
    ) {
        tracing::warn!(user = %user.name, server, "interrupting a pending spawn");
        let phase = state
            .servers
            .wait_settled(&user.name, server, SLOW_TIMEOUT)
            .await;
        return Ok(phase.pending().is_none());
    }
    let moved = state.servers.transition(
        &user.name,
        server,
        |p| matches!(p, Phase::Ready | Phase::Failed(_)),
        Phase::Stopping,
    );
    if !moved {
        return Ok(state.servers.phase(&user.name, server) != Phase::Stopping);
    }
    let task_state = state.clone();
    let task_user = user.clone();
    let task_server = server.to_owned();
    tokio::spawn(async move {
        if let Err(e) = stop_server(&task_state, &task_user, &task_server).await {
            tracing::error!(user = %task_user.name, "stop failed: {e}");
        }
        task_state
            .servers
            .set(&task_user.name, &task_server, Phase::Stopped);
    });
    let phase = state
        .servers
        .wait_settled(&user.name, server, SLOW_TIMEOUT)
        .await;
    Ok(phase == Phase::Stopped)
}

/// Route first, then the process, then the records (upstream's order).
async fn stop_server(state: &AppState, user: &UserRecord, server: &str) -> Result<(), String> {
    let started = std::time::Instant::now();
    let result = stop_server_steps(state, user, server).await;
    state
        .metrics
        .server_stop_duration
        .observe(Outcome::of(&result), started.elapsed().as_secs_f64());
    result
}

async fn stop_server_steps(
    state: &AppState,
    user: &UserRecord,
    server: &str,
) -> Result<(), String> {
    let Some(record) = state
        .store
        .spawner(user.id, server)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    if let Some(addr) = &record.server {
        state
            .proxy
            .delete_route(&addr.base_url)
            .await
            .map_err(|e| e.to_string())?;
    }
    state
        .spawner
        .stop(&record.state)
        .await
        .map_err(|e| e.to_string())?;
    state
        .store
        .touch_spawner(record.id, &time::now())
        .await
        .map_err(|e| e.to_string())?;
    state
        .store
        .record_server_stopped(record.id)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(user = %user.name, server, "server stopped");
    Ok(())
}

/// Deletes a stopped server for good: its spawner row, OAuth client, and phase.
pub async fn remove_server(
    state: &AppState,
    user: &str,
    server: &str,
    spawner_id: i64,
) -> Result<(), String> {
    if state.servers.phase(user, server) != Phase::Stopped {
        return Err(format!(
            "{} did not stop; not removing it",
            crate::api::log_name(user, server)
        ));
    }
    let client_id = HubUrls::oauth_client_id(user, server);
    state
        .store
        .delete_oauth_client(&client_id)
        .await
        .map_err(|e| e.to_string())?;
    state
        .store
        .delete_spawner(spawner_id)
        .await
        .map_err(|e| e.to_string())?;
    state.servers.forget(user, server);
    tracing::info!(user, server, "removed server");
    Ok(())
}

/// At start-up: re-adopt servers that are still running, clean up the rest,
/// then make the proxy's routes match. Servers are checked concurrently
/// (upstream's `init_spawners`), so one slow server does not hold up the rest.
pub async fn restore(state: &AppState) -> Result<(), String> {
    let active = state
        .store
        .active_spawners()
        .await
        .map_err(|e| e.to_string())?;
    let mut checks = Vec::new();
    for record in active {
        let Some(user) = state
            .store
            .user_by_id(record.user_id)
            .await
            .map_err(|e| e.to_string())?
        else {
            continue;
        };
        checks.push(async move {
            let adopted = restore_one(state, &user, &record).await;
            (record.id, adopted)
        });
    }
    // The records are written one after the other: SQLite refuses a write
    // transaction that read before a concurrent one committed.
    for (spawner_id, adopted) in futures_util::future::join_all(checks).await {
        if !adopted {
            state
                .store
                .record_server_stopped(spawner_id)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    check_routes(state).await
}

/// Re-adopts one stored server only if the spawner still recognises its
/// process as ours (for processes: same pid, start time and uid) *and* it
/// answers HTTP at its stored address, as at spawn; returns whether it did.
/// A server whose process is gone, or whose pid now names another process, is
/// never signalled; one that is ours but does not answer is stopped (upstream).
async fn restore_one(state: &AppState, user: &UserRecord, record: &SpawnerRecord) -> bool {
    let polled = state.spawner.poll(&record.state).await;
    if !matches!(polled, Ok(None)) {
        tracing::info!(user = %user.name, server = %record.name, "server is gone ({polled:?}); cleaning up");
        return false;
    }
    if let Some(addr) = &record.server {
        let url = format!("{}{}api", addr.host_url(), addr.base_url);
        let timeout = Duration::from_secs(state.config.spawner.http_timeout);
        match ferrohub_spawn::wait_for_http_server(&url, timeout).await {
            Ok(_) => {
                tracing::info!(user = %user.name, server = %record.name, "re-adopted running server");
                state.servers.set(&user.name, &record.name, Phase::Ready);
                return true;
            }
            Err(e) => {
                tracing::error!(user = %user.name, server = %record.name, "server does not appear to be running at {url} ({e}); shutting it down")
            }
        }
    } else {
        tracing::warn!(user = %user.name, server = %record.name, "running server has no stored address; shutting it down");
    }
    if let Err(e) = state.spawner.stop(&record.state).await {
        tracing::warn!(user = %user.name, server = %record.name, "stop failed: {e}");
    }
    false
}

/// Makes the proxy's routes match the hub: hub route, one per ready server, nothing else.
pub async fn check_routes(state: &AppState) -> Result<(), String> {
    let routes = state.proxy.routes().await.map_err(|e| e.to_string())?;
    let hub_target = state.urls.hub_connect.clone();
    let hub_route = state.urls.base.clone();
    let mut wanted: BTreeMap<String, (String, serde_json::Value)> = BTreeMap::new();
    wanted.insert(hub_route, (hub_target, json!({"hub": true})));
    for record in state
        .store
        .active_spawners()
        .await
        .map_err(|e| e.to_string())?
    {
        let Some(user) = state
            .store
            .user_by_id(record.user_id)
            .await
            .map_err(|e| e.to_string())?
        else {
            continue;
        };
        if state.servers.phase(&user.name, &record.name) != Phase::Ready {
            continue;
        }
        if let Some(addr) = &record.server {
            wanted.insert(
                addr.base_url.clone(),
                (
                    addr.host_url(),
                    json!({"user": user.name, "server_name": record.name}),
                ),
            );
        }
        // Activity the proxy saw counts as the user's activity.
        if let Some(seen) = record
            .server
            .as_ref()
            .and_then(|a| routes.get(&a.base_url))
            .and_then(|r| r.last_activity)
        {
            let _ = state.store.touch_spawner(record.id, &seen).await;
            let _ = state.store.touch_user(user.id, &seen).await;
        }
    }
    for service in state
        .store
        .list_services()
        .await
        .map_err(|e| e.to_string())?
    {
        if let Some(addr) = &service.server {
            wanted.insert(
                addr.base_url.clone(),
                (addr.host_url(), json!({"service": service.name})),
            );
        }
    }
    for (spec, (target, data)) in &wanted {
        if routes.get(spec).is_none_or(|r| &r.target != target) {
            tracing::info!("adding route {spec} -> {target}");
            state
                .proxy
                .add_route(spec, target, data.clone())
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    for spec in routes.keys().filter(|spec| !wanted.contains_key(*spec)) {
        tracing::info!("deleting stale route {spec}");
        state
            .proxy
            .delete_route(spec)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Polls ready servers every `Spawner.poll_interval`; a server that died is cleaned up.
pub async fn poll_forever(state: AppState) {
    let interval = Duration::from_secs(state.config.spawner.poll_interval.max(1));
    loop {
        tokio::time::sleep(interval).await;
        let Ok(active) = state.store.active_spawners().await else {
            continue;
        };
        for record in active {
            let Ok(Some(user)) = state.store.user_by_id(record.user_id).await else {
                continue;
            };
            if state.servers.phase(&user.name, &record.name) != Phase::Ready {
                continue;
            }
            let polling = std::time::Instant::now();
            let polled = state.spawner.poll(&record.state).await;
            let running = matches!(polled, Ok(None));
            state.metrics.server_poll_duration.observe(
                PollStatus::running(running),
                polling.elapsed().as_secs_f64(),
            );
            if let Ok(Some(status)) = polled {
                tracing::warn!(user = %user.name, server = %record.name, status, "server exited on its own");
                if let Some(addr) = &record.server {
                    let _ = state.proxy.delete_route(&addr.base_url).await;
                }
                let _ = state.store.record_server_stopped(record.id).await;
                state.servers.set(&user.name, &record.name, Phase::Stopped);
            }
        }
    }
}

/// Reconciles routes (and collects proxy activity) every `last_activity_interval`.
pub async fn check_routes_forever(state: AppState) {
    let interval = Duration::from_secs(state.config.jupyterhub.last_activity_interval.max(1));
    loop {
        tokio::time::sleep(interval).await;
        let checking = std::time::Instant::now();
        if let Err(e) = check_routes(&state).await {
            tracing::warn!("route check failed: {e}");
        }
        state
            .metrics
            .check_routes_duration
            .observe((), checking.elapsed().as_secs_f64());
    }
}

/// At start-up, after [`restore`]: stops every server of a user in
/// `Authenticator.blocked_users` (upstream 5.2+). Failures are logged; the hub
/// still starts, and the identity check already refuses the user's credentials.
pub async fn stop_blocked_users_servers(state: &AppState) {
    for name in state.auth.blocked_users() {
        let user = match state.store.user_by_name(name).await {
            Ok(Some(user)) => user,
            Ok(None) => continue,
            Err(e) => {
                tracing::error!("cannot look up blocked user {name}: {e}");
                continue;
            }
        };
        let spawners = match state.store.spawners_of(user.id).await {
            Ok(spawners) => spawners,
            Err(e) => {
                tracing::error!("cannot list servers of blocked user {name}: {e}");
                continue;
            }
        };
        for record in spawners {
            if state.servers.phase(&user.name, &record.name) == Phase::Stopped {
                continue;
            }
            tracing::warn!("Stopping server {name}/{} of blocked user", record.name);
            if let Err(e) = request_stop(state, &user, &record.name).await {
                tracing::error!("failed to stop {name}/{}: {}", record.name, e.message);
            }
        }
    }
}
