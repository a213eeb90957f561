//! Users' servers: start, stop, create without starting, change while
//! stopped, remove, read and follow progress. Every operation takes the
//! capability its scope proves (`crate::capability::servers`); the work of
//! starting and stopping is the runtime's (`crate::runtime`), which this
//! layer drives and whose failures it turns into [`HubError`]s.

use std::time::Duration;

use ferrohub_core::server_names;
use ferrohub_store::{SpawnerRecord, UserRecord};
use serde_json::{Map, Value};

use crate::capability::{ReadServer, ServerControl, StartServer, StopServer};
use crate::error::HubError;
use crate::runtime::registry::ProgressLog;
use crate::runtime::spawn::{self, SLOW_TIMEOUT, SpawnOutcome};
use crate::runtime::{Phase, Runtime, log_name, stop};
use crate::state::AppState;

/// What a start request may carry (upstream 6.0's server JSON body).
#[derive(Debug, Default)]
pub(crate) struct StartOptions {
    /// The display name of a named server.
    pub display_name: Option<String>,
    /// `None` = reuse the options stored from the previous start.
    pub user_options: Option<Map<String, Value>>,
}

/// How a start request ended within [`SLOW_TIMEOUT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Started {
    /// The server is ready (201).
    Ready,
    /// Still starting (202).
    Pending,
}

/// How a start from the browser ended within its short wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageStart {
    /// It was running already.
    Running,
    /// It became ready during the wait.
    Ready,
    /// Still starting: the pending page follows it.
    Pending,
}

/// Where a server is, as the spawn-pending page tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pending {
    /// Ready: the page sends the browser on.
    Ready,
    /// Starting, for this many seconds.
    Starting(i64),
    /// The last start failed with this (client-safe) message.
    Failed(String),
    /// Being stopped: the stop-pending page waits for it.
    Stopping,
    /// Neither starting nor running.
    Stopped,
}

/// A change of a stopped named server (`PATCH /users/{name}/servers/{server}`).
#[derive(Debug, Default)]
pub(crate) struct ServerPatch {
    /// Rename to this.
    pub new_name: Option<String>,
    /// The display name asked for (or, without one, the new name).
    pub display_name: Option<String>,
    /// Whether the request set `display_name` itself (only then it is stored).
    pub set_display_name: bool,
    /// Replace the stored user options.
    pub user_options: Option<Map<String, Value>>,
}

/// Upstream's `_check_named_server_request`: named servers on, under the
/// per-user limit, and a valid name and display name for new servers.
pub(crate) async fn check_named_server_request(
    state: &AppState,
    user: &UserRecord,
    server: &str,
    display_name: &str,
    check_limit: bool,
) -> Result<(), HubError> {
    if !state.config.jupyterhub.allow_named_servers {
        return Err(HubError::Invalid(
            "Named servers are not enabled.".to_owned(),
        ));
    }
    let exists = state.store.spawner(user.id, server).await?.is_some();
    let limit = i64::from(state.config.jupyterhub.named_server_limit_per_user);
    if check_limit && limit > 0 && !exists {
        let count = state.store.count_named_spawners(user.id).await?;
        if count >= limit {
            return Err(HubError::Invalid(format!(
                "User {} already has the maximum of {limit} named servers.  One must be deleted before a new server can be created",
                user.name
            )));
        }
    }
    if !exists {
        if !server_names::is_valid_server_name(server) {
            return Err(HubError::Invalid(format!(
                "Invalid server_name: {server:?} (1-30 characters a-z, 0-9 and '-', starting with a letter, ending with a letter or digit, no '--')"
            )));
        }
        let display = server_names::normalize_display_name(display_name);
        if !server_names::is_valid_display_name(&display) {
            return Err(HubError::Invalid(format!(
                "Invalid display_name: {display_name:?}"
            )));
        }
    }
    Ok(())
}

/// The spawner row for `server`, created on first use (a named one after the
/// checks above, with `display` as its display name): upstream creates named
/// servers when they are first started, from the API or the spawn page.
async fn ensure_spawner(
    state: &AppState,
    user: &UserRecord,
    server: &str,
    display: &str,
) -> Result<SpawnerRecord, HubError> {
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

/// The server's row; 404 if it was never created.
async fn existing(
    state: &AppState,
    user: &UserRecord,
    server: &str,
) -> Result<SpawnerRecord, HubError> {
    state
        .store
        .spawner(user.id, server)
        .await?
        .ok_or_else(|| HubError::NotFound(format!("{} has no server named '{server}'", user.name)))
}

/// `GET /users/{name}/server[s/{server}]`: the server's row.
pub(crate) async fn get(state: &AppState, read: &ReadServer) -> Result<SpawnerRecord, HubError> {
    existing(state, read.user(), read.server()).await
}

/// `POST /users/{name}/server[s/{server}]`: starts the server (creating a
/// named one on first use) and waits up to [`SLOW_TIMEOUT`] for it.
pub(crate) async fn start(
    state: &AppState,
    start: &StartServer,
    options: StartOptions,
) -> Result<Started, HubError> {
    let (user, server) = (start.user(), start.server());
    let user_options = options.user_options.map(Value::Object);
    if let Some(user_options) = &user_options {
        // Before a named server is created for it.
        spawn::server_settings(&state.config, user_options)?;
    }
    let display = options
        .display_name
        .clone()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| server.to_owned());
    let record = ensure_spawner(state, user, server, &display).await?;
    match state.servers.phase(&user.name, server) {
        Phase::Spawning => return Ok(Started::Pending),
        Phase::Stopping => {
            return Err(HubError::Invalid(format!(
                "{} is pending stop",
                log_name(&user.name, server)
            )));
        }
        Phase::Ready => return Err(already_running(user, server)),
        Phase::Stopped | Phase::Failed(_) => {}
    }
    if options
        .display_name
        .as_deref()
        .is_some_and(|d| !d.is_empty())
        && record.display_name != display
    {
        state
            .store
            .set_display_name(record.id, &server_names::normalize_display_name(&display))
            .await?;
    }
    refresh_before_spawn(state, user).await?;
    if let Some(user_options) = user_options {
        state
            .store
            .set_user_options(record.id, &user_options)
            .await?;
    }
    match spawn::request_spawn(&state.runtime, user, server).await? {
        SpawnOutcome::AlreadyRunning => Err(already_running(user, server)),
        SpawnOutcome::Pending => {
            match state
                .servers
                .wait_settled(&user.name, server, SLOW_TIMEOUT)
                .await
            {
                Phase::Ready => Ok(Started::Ready),
                Phase::Failed(message) => Err(HubError::SpawnFailed(message)),
                _ => Ok(Started::Pending),
            }
        }
    }
}

/// `Authenticator.refresh_pre_spawn`: the authenticator confirms (and may
/// refresh, e.g. an OAuth access token) the user's authentication before the
/// server gets it; if it cannot, the start is refused until they log in again.
async fn refresh_before_spawn(state: &AppState, user: &UserRecord) -> Result<(), HubError> {
    if !state.config.authenticator.refresh_pre_spawn {
        return Ok(());
    }
    if crate::service::auth_refresh::check(state, user, crate::service::auth_refresh::Why::Forced)
        .await?
    {
        Ok(())
    } else {
        Err(HubError::Forbidden(format!(
            "auth has expired for {}, login again",
            user.name
        )))
    }
}

/// `Authenticator.refresh_pre_stop`: as before a spawn, but only the owner's
/// own stop is refused; an admin's or a service's stop goes ahead (upstream).
async fn refresh_before_stop(state: &AppState, cap: &StopServer) -> Result<(), HubError> {
    if !state.config.authenticator.refresh_pre_stop {
        return Ok(());
    }
    let user = cap.user();
    if crate::service::auth_refresh::check(state, user, crate::service::auth_refresh::Why::Forced)
        .await?
    {
        return Ok(());
    }
    if cap.by_owner() {
        return Err(HubError::Forbidden(format!(
            "auth has expired for {}, login again",
            user.name
        )));
    }
    tracing::warn!(user = %user.name, "user may have stale auth info; stopping anyway");
    Ok(())
}

fn already_running(user: &UserRecord, server: &str) -> HubError {
    HubError::Invalid(format!(
        "{} is already running",
        log_name(&user.name, server)
    ))
}

/// The spawn page and the home page's start button: starts the server
/// (creating a named one on first use) and waits up to `wait` (upstream
/// waits a second, so quick spawns skip the pending page). `user_options`
/// from the options form or `opt-*` query arguments are checked against the
/// profile list (400 naming the choices) and stored for this and later
/// starts; `None` reuses the stored ones, as upstream.
pub(crate) async fn start_from_page(
    state: &AppState,
    start: &StartServer,
    user_options: Option<Map<String, Value>>,
    wait: Duration,
) -> Result<PageStart, HubError> {
    let (user, server) = (start.user(), start.server());
    let user_options = user_options.map(Value::Object);
    if let Some(user_options) = &user_options {
        spawn::server_settings(&state.config, user_options)?;
    }
    let record = ensure_spawner(state, user, server, server).await?;
    let stopped = matches!(
        state.servers.phase(&user.name, server),
        Phase::Stopped | Phase::Failed(_)
    );
    if stopped {
        refresh_before_spawn(state, user).await?;
    }
    if let Some(user_options) = user_options.filter(|_| stopped) {
        state
            .store
            .set_user_options(record.id, &user_options)
            .await?;
    }
    if spawn::request_spawn(&state.runtime, user, server).await? == SpawnOutcome::AlreadyRunning {
        return Ok(PageStart::Running);
    }
    let phase = state.servers.wait_settled(&user.name, server, wait).await;
    Ok(if phase == Phase::Ready {
        PageStart::Ready
    } else {
        PageStart::Pending
    })
}

/// Where a server stands when the spawn page would show its options form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FormStart {
    /// Running already: the page sends the browser to it.
    Running,
    /// Starting or stopping: the page sends the browser to the pending page.
    Pending,
    /// Stopped: the form is shown.
    Form,
}

/// The spawn page's GET with an options form: a new named server's name is
/// checked first (as upstream, before the form), then where the server is.
pub(crate) async fn before_form(
    state: &AppState,
    control: &ServerControl,
) -> Result<FormStart, HubError> {
    let (user, server) = (control.user(), control.server());
    if !server.is_empty() && state.store.spawner(user.id, server).await?.is_none() {
        check_named_server_request(state, user, server, server, true).await?;
    }
    Ok(match state.servers.phase(&user.name, server) {
        Phase::Ready => FormStart::Running,
        Phase::Spawning | Phase::Stopping => FormStart::Pending,
        Phase::Stopped | Phase::Failed(_) => FormStart::Form,
    })
}

/// `DELETE /users/{name}/server[s/{server}]`: stops the server and, with
/// `remove`, deletes a named one once stopped. Returns whether it stopped
/// within [`SLOW_TIMEOUT`] (else it is still stopping: 202).
pub(crate) async fn stop(
    state: &AppState,
    cap: &StopServer,
    remove: bool,
) -> Result<bool, HubError> {
    let (user, server) = (cap.user(), cap.server());
    if server.is_empty() {
        if remove {
            return Err(HubError::Invalid(
                "Cannot delete the default server".to_owned(),
            ));
        }
    } else if !state.config.jupyterhub.allow_named_servers {
        return Err(HubError::Invalid(
            "Named servers are not enabled.".to_owned(),
        ));
    }
    let record = existing(state, user, server).await?;
    refresh_before_stop(state, cap).await?;
    let stopped = stop::request_stop(&state.runtime, user, server).await;
    if remove {
        let removal = remove_when_stopped(
            state.runtime.clone(),
            user.name.clone(),
            server.to_owned(),
            record.id,
        );
        if stopped {
            removal.await;
        } else {
            tokio::spawn(removal);
        }
    }
    Ok(stopped)
}

/// Removes a named server once it has stopped; failures are logged.
async fn remove_when_stopped(rt: Runtime, user: String, server: String, spawner_id: i64) {
    rt.servers.wait_settled(&user, &server, Duration::MAX).await;
    if let Err(e) = stop::remove_server(&rt, &user, &server, spawner_id).await {
        tracing::error!(user = %user, server = %server, "removing server failed: {e}");
    }
}

/// The spawn-pending page: where the server is, and how long it has been starting.
pub(crate) async fn pending(
    state: &AppState,
    control: &ServerControl,
) -> Result<Pending, HubError> {
    let (user, server) = (control.user(), control.server());
    if !server.is_empty() {
        existing(state, user, server).await?;
    }
    Ok(match state.servers.phase(&user.name, server) {
        Phase::Ready => Pending::Ready,
        Phase::Spawning => {
            let started = state
                .store
                .spawner(user.id, server)
                .await?
                .and_then(|s| s.started);
            let seconds =
                started.map_or(0, |t| (ferrohub_core::time::now() - t).num_seconds().max(0));
            Pending::Starting(seconds)
        }
        Phase::Failed(message) => Pending::Failed(message),
        Phase::Stopping => Pending::Stopping,
        Phase::Stopped => Pending::Stopped,
    })
}

/// The home page: the servers of `control`'s user (their default server
/// first, then the named ones by name), which the page shows with their phases.
pub(crate) async fn home_servers(
    state: &AppState,
    control: &ServerControl,
) -> Result<Vec<SpawnerRecord>, HubError> {
    let mut servers = state.store.spawners_of(control.user().id).await?;
    servers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(servers)
}

/// The home page's form for a new named server: named servers on, a valid
/// name, under the limit (upstream's messages). The spawn page creates it.
pub(crate) async fn check_new_named(
    state: &AppState,
    control: &ServerControl,
) -> Result<(), HubError> {
    let server = control.server();
    check_named_server_request(state, control.user(), server, server, true).await
}

/// The home page's stop button: stops the server, waiting up to [`SLOW_TIMEOUT`].
pub(crate) async fn stop_from_page(state: &AppState, cap: &StopServer) -> Result<bool, HubError> {
    refresh_before_stop(state, cap).await?;
    Ok(stop::request_stop(&state.runtime, cap.user(), cap.server()).await)
}

/// `JupyterHub.shutdown_on_logout`: stops every running server of the user
/// who is logging out, all at once, and waits for them (up to the usual stop
/// wait each). As upstream, servers still starting or stopping are left
/// alone, and no scope is asked for: the user is ending their own session
/// and the hub's configuration decided it. Returns how many were stopped.
pub(crate) async fn stop_all_at_logout(
    state: &AppState,
    user: &UserRecord,
) -> Result<usize, HubError> {
    let running: Vec<String> = state
        .store
        .spawners_of(user.id)
        .await?
        .into_iter()
        .map(|record| record.name)
        .filter(|name| state.servers.phase(&user.name, name) == Phase::Ready)
        .collect();
    if !running.is_empty() {
        tracing::info!(user = %user.name, "shutting down {}'s servers at logout", user.name);
    }
    let stops = running
        .iter()
        .map(|server| stop::request_stop(&state.runtime, user, server));
    futures_util::future::join_all(stops).await;
    Ok(running.len())
}

/// `PUT /users/{name}/servers/{server}`: creates a named server without
/// starting it (6.0). Its `user_options` must name a known profile when
/// there is a profile list, as for a start (so a later start cannot fail on them).
pub(crate) async fn create_named(
    state: &AppState,
    start: &StartServer,
    options: StartOptions,
) -> Result<SpawnerRecord, HubError> {
    let (user, server) = (start.user(), start.server());
    if server.is_empty() {
        return Err(HubError::Conflict(format!(
            "User {} already has a default server",
            user.name
        )));
    }
    if state.store.spawner(user.id, server).await?.is_some() {
        return Err(HubError::Conflict(format!(
            "User {} already has server {server}",
            user.name
        )));
    }
    let display = options
        .display_name
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| server.to_owned());
    check_named_server_request(state, user, server, &display, true).await?;
    if let Some(user_options) = &options.user_options {
        spawn::server_settings(&state.config, &Value::Object(user_options.clone()))?;
    }
    let record = state.store.create_spawner(user.id, server).await?;
    state
        .store
        .set_display_name(record.id, &server_names::normalize_display_name(&display))
        .await?;
    if let Some(user_options) = options.user_options.filter(|o| !o.is_empty()) {
        state
            .store
            .set_user_options(record.id, &Value::Object(user_options))
            .await?;
    }
    existing(state, user, server).await
}

/// `PATCH /users/{name}/servers/{server}`: renames a stopped server or
/// changes its display name or options (6.0). Returns the row afterwards.
pub(crate) async fn patch_named(
    state: &AppState,
    start: &StartServer,
    patch: ServerPatch,
) -> Result<SpawnerRecord, HubError> {
    let (user, server) = (start.user(), start.server());
    if let Some(user_options) = &patch.user_options {
        spawn::server_settings(&state.config, &Value::Object(user_options.clone()))?;
    }
    if let Some(new_name) = &patch.new_name {
        let display = patch
            .display_name
            .clone()
            .unwrap_or_else(|| new_name.clone());
        check_named_server_request(state, user, new_name, &display, server.is_empty()).await?;
    } else if let Some(display) = &patch.display_name {
        check_named_server_request(state, user, server, display, false).await?;
        let normalized = server_names::normalize_display_name(display);
        if !server_names::is_valid_display_name(&normalized) {
            return Err(HubError::Invalid(format!(
                "Invalid display_name: {display:?}"
            )));
        }
    }
    let record = state.store.spawner(user.id, server).await?.ok_or_else(|| {
        HubError::NotFound(format!("User {} has no such server {server:?}", user.name))
    })?;
    let phase = state.servers.phase(&user.name, server);
    if phase.pending().is_some() || phase == Phase::Ready {
        return Err(HubError::Invalid(format!(
            "{} is active. Please stop it before modifying it.",
            log_name(&user.name, server)
        )));
    }
    let mut current = server.to_owned();
    if let Some(new_name) = patch.new_name.filter(|n| n != server) {
        if state.store.spawner(user.id, &new_name).await?.is_some() {
            return Err(HubError::Conflict(format!(
                "User {} already has server '{new_name}'",
                user.name
            )));
        }
        state.store.rename_spawner(record.id, &new_name).await?;
        state.servers.forget(&user.name, server);
        tracing::info!(user = %user.name, from = %server, to = %new_name, "renamed server");
        current = new_name;
    }
    if let Some(user_options) = patch.user_options {
        state
            .store
            .set_user_options(record.id, &Value::Object(user_options))
            .await?;
    }
    if patch.set_display_name
        && let Some(display) = &patch.display_name
    {
        state
            .store
            .set_display_name(record.id, &server_names::normalize_display_name(display))
            .await?;
    }
    existing(state, user, &current).await
}

/// A spawn being followed (`GET …/progress`): where it started from and how
/// to wait for its next phase.
pub(crate) struct Progress {
    runtime: Runtime,
    user: String,
    server: String,
    phase: Phase,
    url: String,
}

impl Progress {
    /// The phase when the stream started (spawning, ready or failed).
    #[must_use]
    pub(crate) fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The server's URL prefix (the `url` of the ready event).
    #[must_use]
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The spawn's steps so far, and a notification for each new one.
    #[must_use]
    pub(crate) fn events(&self) -> tokio::sync::watch::Receiver<ProgressLog> {
        self.runtime.servers.progress(&self.user, &self.server)
    }

    /// Waits at most `limit` for the spawn to settle; the phase then.
    pub(crate) async fn settled(&self, limit: Duration) -> Phase {
        self.runtime
            .servers
            .wait_settled(&self.user, &self.server, limit)
            .await
    }
}

/// `GET /users/{name}/server[s/{server}]/progress`: the spawn to follow; 400
/// if the server is not starting, ready or failed.
pub(crate) async fn progress(state: &AppState, read: &ReadServer) -> Result<Progress, HubError> {
    let (user, server) = (read.user(), read.server());
    existing(state, user, server).await?;
    let phase = state.servers.phase(&user.name, server);
    if matches!(phase, Phase::Stopped | Phase::Stopping) {
        return Err(HubError::Invalid(format!(
            "{} is not starting...",
            log_name(&user.name, server)
        )));
    }
    Ok(Progress {
        runtime: state.runtime.clone(),
        user: user.name.clone(),
        server: server.to_owned(),
        url: state.urls.server_url(&user.name, server),
        phase,
    })
}

/// A starting server's report about itself (batchspawner's
/// `POST /hub/api/batchspawner`): the token must be a server's own API
/// token, which names the server (its OAuth client), as upstream finds the
/// spawner whose `api_token` it is. The report goes to that server's
/// spawner while it starts; otherwise 400, since nobody waits for it.
pub(crate) async fn report_from_server(
    state: &AppState,
    who: &crate::access::Identity,
    report: ferrohub_spawn::ServerReport,
) -> Result<(), HubError> {
    let not_a_server =
        || HubError::Forbidden("only a server's own API token may report for it".to_owned());
    let (crate::access::Principal::User(user), Some(token)) = (&who.principal, &who.token) else {
        return Err(not_a_server());
    };
    let server = state
        .store
        .spawners_of(user.id)
        .await?
        .into_iter()
        .map(|spawner| spawner.name)
        .find(|name| crate::urls::HubUrls::oauth_client_id(&user.name, name) == token.client_id)
        .ok_or_else(not_a_server)?;
    if state.servers.deliver_report(&user.name, &server, report) {
        tracing::info!(user = %user.name, server, port = report.port, "server reported its port");
        Ok(())
    } else {
        Err(HubError::Invalid(format!(
            "{} is not starting; nothing waits for its report",
            log_name(&user.name, &server)
        )))
    }
}
