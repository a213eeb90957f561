//! Assembling the hub: state, routes, background loops, start-up and shutdown.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ferrohub_auth::Auth;
use ferrohub_config::Config;
use ferrohub_store::Store;
use http::HeaderValue;
use tokio::net::TcpListener;

use crate::proxy::{self, ProxyClient};
use crate::runtime::watchdog::Watched;
use crate::runtime::{Handles, Runtime, ServerRegistry, managed, reconcile};
use crate::state::{AppState, Inner, ShutdownRequest};
use crate::templates::Templates;
use crate::urls::HubUrls;

/// A start-up failure, one line for the operator.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad URLs in the config.
    #[error(transparent)]
    Url(#[from] crate::urls::UrlError),
    /// Cookie secret.
    #[error(transparent)]
    Secret(#[from] crate::secret::SecretError),
    /// Database.
    #[error(transparent)]
    Store(#[from] ferrohub_store::StoreError),
    /// Authenticator.
    #[error(transparent)]
    Auth(#[from] ferrohub_auth::AuthError),
    /// Spawner.
    #[error(transparent)]
    Spawn(#[from] ferrohub_spawn::SpawnError),
    /// Proxy.
    #[error(transparent)]
    Proxy(#[from] proxy::ProxyError),
    /// Binding the hub's port, pid file, ...
    #[error("{0}")]
    Io(String),
    /// Reconciling servers and routes.
    #[error("restoring servers: {0}")]
    Restore(#[source] crate::runtime::RuntimeError),
    /// Roles and scopes in the configuration.
    #[error(transparent)]
    Roles(#[from] crate::roles::RoleError),
    /// Services in the configuration.
    #[error(transparent)]
    Services(#[from] crate::services::ServiceError),
    /// `JupyterHub.template_paths` / `template_vars`.
    #[error(transparent)]
    Templates(#[from] crate::templates::TemplateError),
    /// `JupyterHub.logo_file`.
    #[error(transparent)]
    Logo(#[from] crate::assets::LogoError),
    /// `Authenticator.enable_auth_state` without a valid `JUPYTERHUB_CRYPT_KEY`
    /// (upstream's words).
    #[error("auth_state is enabled, but encryption is not available: {0}")]
    AuthState(#[source] ferrohub_core::crypt::KeyError),
}

impl From<crate::runtime::auth_state::EncryptionUnavailable> for StartError {
    fn from(err: crate::runtime::auth_state::EncryptionUnavailable) -> Self {
        Self::AuthState(err.0)
    }
}

/// Where the hub listens: TCP (`hub_ip:hub_port`), or a unix socket
/// (`hub_bind_url = "http+unix://..."`), removed again at shutdown.
enum HubListener {
    /// `hub_ip:hub_port`.
    Tcp(TcpListener),
    /// The socket and its path.
    Unix(tokio::net::UnixListener, PathBuf),
}

impl HubListener {
    /// Binds where `urls` say. A socket file left by an earlier hub is
    /// replaced (as Tornado's `bind_unix_socket` does); anything else at
    /// that path is refused.
    async fn bind(urls: &HubUrls, socket_mode: u32) -> Result<Self, StartError> {
        let Some(path) = &urls.hub_socket else {
            let listener = TcpListener::bind((urls.hub_ip.as_str(), urls.hub_port))
                .await
                .map_err(|e| {
                    StartError::Io(format!(
                        "cannot listen on {}:{}: {e}",
                        urls.hub_ip, urls.hub_port
                    ))
                })?;
            return Ok(Self::Tcp(listener));
        };
        let refuse = |e: &dyn std::fmt::Display| {
            StartError::Io(format!("cannot listen on {}: {e}", path.display()))
        };
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            use std::os::unix::fs::FileTypeExt;
            if !meta.file_type().is_socket() {
                return Err(refuse(&"it exists and is not a socket"));
            }
            std::fs::remove_file(path).map_err(|e| refuse(&e))?;
        }
        let listener = tokio::net::UnixListener::bind(path).map_err(|e| refuse(&e))?;
        let mode = std::os::unix::fs::PermissionsExt::from_mode(socket_mode);
        std::fs::set_permissions(path, mode).map_err(|e| refuse(&e))?;
        Ok(Self::Unix(listener, path.clone()))
    }

    /// What the log says the hub listens on.
    fn describe(&self) -> String {
        match self {
            Self::Tcp(listener) => listener
                .local_addr()
                .map_or_else(|e| e.to_string(), |a| a.to_string()),
            Self::Unix(_, path) => format!("unix socket {}", path.display()),
        }
    }
}

/// A running hub.
pub struct Hub {
    state: AppState,
    listener: HubListener,
    proxy: crate::runtime::watchdog::Watched,
    service_tokens: std::collections::BTreeMap<String, String>,
}

/// The largest request body the hub accepts (API JSON, login forms).
const BODY_LIMIT: u64 = 1024 * 1024;
/// Oversized bodies up to this size are read and dropped before the 413, so a
/// proxy still streaming the body gets the answer instead of a broken pipe
/// (which it would report as "server down").
const DRAIN_LIMIT: u64 = 64 * 1024 * 1024;

/// Refuses a declared body over [`BODY_LIMIT`] with 413 (JSON on the API).
async fn refuse_oversized(request: Request, next: Next) -> Response {
    let length = request
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(length) = length.filter(|n| *n > BODY_LIMIT) else {
        return next.run(request).await;
    };
    let is_api = request.uri().path().contains("/hub/api");
    if length <= DRAIN_LIMIT {
        let mut body = request.into_body().into_data_stream();
        while let Some(Ok(_)) = futures_util::StreamExt::next(&mut body).await {}
    }
    let status = http::StatusCode::PAYLOAD_TOO_LARGE;
    let message = format!(
        "The request body ({length} bytes) is larger than the hub's limit of {} MiB",
        BODY_LIMIT >> 20
    );
    if is_api {
        crate::error::ApiError::new(status, message).into_response()
    } else {
        crate::error::PageError::new(status, message).into_response()
    }
}

/// Adds the headers every hub response carries.
async fn common_headers(request: Request, next: Next) -> Response {
    let is_api = request.uri().path().contains("/hub/api");
    let mut response = next.run(request).await;
    if is_api && response.status() == http::StatusCode::METHOD_NOT_ALLOWED {
        response =
            crate::error::ApiError::new(response.status(), "Method not allowed on this endpoint")
                .into_response();
    }
    // A page served under the API's prefix (the OAuth authorization page,
    // upstream's OAuthAuthorizeHandler, a page handler) loads the pages'
    // stylesheet and icons, so it gets the pages' policy.
    let is_page = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let headers = response.headers_mut();
    headers.insert(
        "x-jupyterhub-version",
        HeaderValue::from_static(ferrohub_core::JUPYTERHUB_VERSION),
    );
    let csp = if is_api && !is_page {
        "frame-ancestors 'none'; default-src 'none'"
    } else {
        "frame-ancestors 'none'"
    };
    headers.insert("content-security-policy", HeaderValue::from_static(csp));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// All routes.
pub(crate) fn router(state: &AppState) -> Router {
    let hub = &state.urls.hub;
    Router::new()
        .merge(crate::api::router(state))
        .merge(crate::pages::router(state))
        .route(&format!("{hub}metrics"), get(crate::metrics::serve))
        .route(&format!("{hub}api/metrics"), get(crate::metrics::serve))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::name_handler,
        ))
        .fallback(crate::pages::into_hub)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::pages::render_error_pages,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(
            usize::try_from(BODY_LIMIT).unwrap_or(usize::MAX),
        ))
        .layer(middleware::from_fn(refuse_oversized))
        .layer(middleware::from_fn(common_headers))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::record_request,
        ))
        .with_state(state.clone())
}

/// What the hub's state is made of, however each part was obtained:
/// [`Hub::start`] opens the configured database, starts (or adopts) the proxy
/// and builds the configured spawner; the in-process tests (`testing`
/// feature) hand in an in-memory database, a fake proxy API and a fake
/// spawner, and then go through the same [`assemble`].
pub(crate) struct Parts {
    pub(crate) config: Config,
    pub(crate) urls: HubUrls,
    pub(crate) store: Store,
    pub(crate) auth: Auth,
    pub(crate) spawner: Arc<dyn ferrohub_spawn::Spawner>,
    pub(crate) proxy: ProxyClient,
    pub(crate) cookie_secret: Vec<u8>,
    pub(crate) custom_scopes: ferrohub_rbac::CustomScopes,
    pub(crate) metrics: Arc<ferrohub_metrics::HubMetrics>,
    pub(crate) pages: PageAssets,
    /// `auth_state` encryption keys (see `runtime::auth_state::keeper_from`).
    pub(crate) crypt: Option<ferrohub_core::crypt::CryptKeeper>,
}

/// Templates and static files, loaded before anything is started so a bad
/// override or a missing logo stops the hub with its name.
pub(crate) struct PageAssets {
    templates: Templates,
    assets: crate::assets::Assets,
}

impl PageAssets {
    /// From `JupyterHub.template_paths`, `template_vars` and `logo_file`.
    pub(crate) fn load(config: &Config, urls: &HubUrls) -> Result<Self, StartError> {
        let hub = &config.jupyterhub;
        let assets = crate::assets::Assets::load(&hub.logo_file)?;
        let templates = Templates::new(
            &hub.template_paths,
            &hub.template_vars,
            &urls.hub,
            assets.urls(&urls.hub),
        )?;
        Ok(Self { templates, assets })
    }
}

/// Creates the users the authenticator names at start-up (admins flagged),
/// then hands every user to the authenticator's `add_user`.
pub(crate) async fn create_startup_users(store: &Store, auth: &Auth) -> Result<(), StartError> {
    for (name, admin) in auth.startup_users() {
        match store.user_by_name(&name).await? {
            None => {
                store.create_user(&name, admin).await?;
            }
            // The role follows in roles::sync, which keeps flag and role together.
            Some(user) if admin && !user.admin => store.set_admin(user.id, true).await?,
            Some(_) => {}
        }
    }
    // Upstream tells the authenticator of every user in the database that is
    // not blocked (`add_user`): with `create_system_users`, missing system
    // accounts are created; a refusal is logged and the user stays.
    for user in store.list_users().await? {
        if auth.is_blocked(&user.name) {
            continue;
        }
        if let Err(e) = auth.add_user(&user.name).await {
            tracing::warn!("Error adding user {} already in db: {e}", user.name);
        }
    }
    Ok(())
}

/// Builds the state from its parts and brings the database in line with the
/// configuration (services, roles, blocked users, configured tokens). Returns
/// the managed services' tokens too.
pub(crate) async fn assemble(
    parts: Parts,
) -> Result<(AppState, std::collections::BTreeMap<String, String>), StartError> {
    let runtime = Runtime::new(Handles {
        config: Arc::new(parts.config),
        urls: parts.urls,
        store: parts.store,
        spawner: parts.spawner,
        spawn_hooks: parts.auth.spawn_hooks(),
        proxy: parts.proxy,
        servers: ServerRegistry::default(),
        metrics: parts.metrics,
        crypt: parts.crypt.map(Arc::new),
        shutdown: tokio::sync::watch::channel(None).0,
    });
    let state = AppState(Arc::new(Inner {
        runtime,
        auth: parts.auth,
        cookie_secret: parts.cookie_secret,
        templates: parts.pages.templates,
        assets: parts.pages.assets,
        custom_scopes: parts.custom_scopes,
        credentials: crate::credential_cache::CredentialCache::default(),
        refresh_times: crate::refresh_times::RefreshTimes::default(),
    }));
    let service_tokens = crate::services::register(&state).await?;
    crate::roles::sync(&state.store, &state.config, &state.custom_scopes, |n| {
        state.auth.normalize_username(n)
    })
    .await?;
    crate::roles::revoke_blocked_users(&state).await?;
    crate::service::users::add_config_tokens(&state)
        .await
        .map_err(|e| StartError::Io(format!("JupyterHub.api_tokens: {e}")))?;
    Ok((state, service_tokens))
}

impl Hub {
    /// Opens the database, starts (or adopts) the proxy, binds the hub port and
    /// restores running servers. Nothing is served until [`Hub::serve`].
    pub async fn start(mut config: Config) -> Result<Self, StartError> {
        let started = std::time::Instant::now();
        crate::spawners::apply_defaults(&mut config);
        let metrics = Arc::new(ferrohub_metrics::HubMetrics::from_env().map_err(StartError::Io)?);
        let urls = HubUrls::from_config(&config)?;
        let pages = PageAssets::load(&config, &urls)?;
        let cookie_secret =
            crate::secret::load_or_create(&PathBuf::from(&config.jupyterhub.cookie_secret_file))?;
        let store = Store::connect(&config.jupyterhub.db_url).await?;
        if config.jupyterhub.upgrade_db {
            store.upgrade().await?;
        }
        store.prepare().await?;
        let auth = Auth::from_config(&config)?;
        let crypt = crate::runtime::auth_state::keeper_from(&config, |v| std::env::var(v).ok())?;
        let spawner = crate::spawners::from_config(&config)?;
        let custom_scopes = crate::roles::custom_scopes(&config)?;
        create_startup_users(&store, &auth).await?;
        // Before the proxy starts: a pid file that cannot be written stops the
        // hub before it has started anything it would leave behind.
        if !config.jupyterhub.pid_file.is_empty() {
            ferrohub_files::write_private(
                Path::new(&config.jupyterhub.pid_file),
                std::process::id().to_string().as_bytes(),
            )
            .map_err(|e| StartError::Io(format!("pid file: {e}")))?;
        }
        let listener = HubListener::bind(&urls, config.jupyterhub.hub_socket_mode).await?;
        let local_port = match &listener {
            HubListener::Tcp(tcp) => tcp
                .local_addr()
                .map_err(|e| StartError::Io(e.to_string()))?
                .port(),
            HubListener::Unix(..) => 0,
        };
        let urls = urls.with_hub_port(local_port);
        let token = if !config.proxy.auth_token.is_empty() {
            config.proxy.auth_token.clone()
        } else if let Ok(token) = std::env::var("CONFIGPROXY_AUTH_TOKEN") {
            token
        } else if config.proxy.should_start {
            proxy::derived_auth_token(&cookie_secret)
        } else {
            return Err(StartError::Io(
                "ConfigurableHTTPProxy.should_start is false: set ConfigurableHTTPProxy.auth_token or CONFIGPROXY_AUTH_TOKEN".into(),
            ));
        };
        let proxy_client = ProxyClient::new(&urls.proxy_api, &token, Arc::clone(&metrics));
        let proxy = if config.proxy.should_start {
            let pid_file = PathBuf::from(&config.proxy.pid_file);
            let process = proxy::start_or_adopt(
                &config.proxy.command,
                &urls,
                &proxy_client,
                &token,
                &pid_file,
                &config.proxy.log_level,
            )
            .await?;
            Watched::Started { process, token }
        } else {
            Watched::External
        };
        let (state, service_tokens) = assemble(Parts {
            config,
            urls,
            store,
            auth,
            spawner,
            proxy: proxy_client,
            cookie_secret,
            custom_scopes,
            metrics,
            pages,
            crypt,
        })
        .await?;
        let restoring = std::time::Instant::now();
        reconcile::restore(&state.runtime)
            .await
            .map_err(StartError::Restore)?;
        reconcile::stop_blocked_users_servers(&state.runtime, state.auth.blocked_users()).await;
        let metrics = &state.metrics;
        metrics
            .init_spawners_duration
            .observe((), restoring.elapsed().as_secs_f64());
        crate::runtime::metrics::update_active_users(&state.runtime).await;
        metrics
            .hub_startup_duration
            .observe((), started.elapsed().as_secs_f64());
        tracing::info!(
            "hub listening on {}, prefix {}",
            listener.describe(),
            state.urls.hub
        );
        Ok(Self {
            state,
            listener,
            proxy,
            service_tokens,
        })
    }

    /// The address the hub listens on (an error for a unix socket).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match &self.listener {
            HubListener::Tcp(listener) => listener.local_addr(),
            HubListener::Unix(_, path) => Err(std::io::Error::other(format!(
                "the hub listens on the unix socket {}",
                path.display()
            ))),
        }
    }

    /// Serves until `shutdown` resolves (or `POST /api/shutdown`), then cleans up as configured.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Self {
            state,
            listener,
            proxy,
            service_tokens,
        } = self;
        // Not aborted like the others: it ends at the shutdown signal and says
        // which proxy (pid) runs then.
        let rt = &state.runtime;
        let watchdog = tokio::spawn(crate::runtime::watchdog::run(rt.clone(), proxy));
        let background = vec![
            tokio::spawn(reconcile::poll_forever(rt.clone())),
            tokio::spawn(reconcile::check_routes_forever(rt.clone())),
            tokio::spawn(crate::runtime::metrics::sample_event_loop(rt.clone())),
            tokio::spawn(crate::runtime::metrics::update_active_users_forever(
                rt.clone(),
            )),
            tokio::spawn(managed::check_health_forever(rt.clone())),
        ];
        let app = router(&state);
        let mut api_shutdown = state.shutdown.subscribe();
        let signal_state = state.clone();
        let stop = async move {
            tokio::select! {
                () = shutdown => {
                    let config = &signal_state.config.jupyterhub;
                    signal_state.shutdown.send_replace(Some(ShutdownRequest {
                        proxy: config.cleanup_proxy,
                        servers: config.cleanup_servers,
                    }));
                }
                _ = api_shutdown.wait_for(Option::is_some) => {}
            }
        };
        let mut socket_file = None;
        let server = match listener {
            HubListener::Tcp(listener) => tokio::spawn(
                // The peer address is the client when no proxy forwards (see client_addr.rs).
                axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(stop)
                .into_future(),
            ),
            HubListener::Unix(listener, path) => {
                socket_file = Some(path);
                tokio::spawn(
                    axum::serve(listener, app.into_make_service())
                        .with_graceful_shutdown(stop)
                        .into_future(),
                )
            }
        };
        // Managed services start once the API answers, as upstream.
        let mut managed_tasks = Vec::new();
        for spec in &state.config.jupyterhub.services {
            if let Some(token) = service_tokens.get(&spec.name) {
                managed_tasks.push(tokio::spawn(managed::supervise(
                    state.runtime.clone(),
                    spec.clone(),
                    token.clone(),
                )));
            }
        }
        // Waiting for external services only logs; it must not hold up a shutdown.
        let waiting_state = state.clone();
        let waiting = tokio::spawn(async move {
            let state = waiting_state;
            for spec in state
                .config
                .jupyterhub
                .services
                .iter()
                .filter(|s| !s.url.is_empty())
            {
                if let Err(e) = managed::wait_until_up(&state.urls, spec).await {
                    tracing::warn!("{e}");
                }
            }
        });
        let served = match server.await {
            Ok(result) => result,
            Err(e) => Err(std::io::Error::other(e)),
        };
        waiting.abort();
        for task in background {
            task.abort();
        }
        let request = (*state.shutdown.borrow()).unwrap_or(ShutdownRequest {
            proxy: state.config.jupyterhub.cleanup_proxy,
            servers: state.config.jupyterhub.cleanup_servers,
        });
        state.shutdown.send_replace(Some(request));
        for task in managed_tasks {
            if let Err(e) = task.await {
                tracing::error!("managed service task failed: {e}");
            }
        }
        let proxy_pid = watchdog.await.unwrap_or_else(|e| {
            tracing::error!("proxy watchdog failed: {e}");
            None
        });
        shutdown_cleanup(&state, proxy_pid, request).await;
        if let Some(path) = socket_file
            && let Err(e) = std::fs::remove_file(&path)
        {
            tracing::warn!("could not remove {}: {e}", path.display());
        }
        served
    }
}

async fn shutdown_cleanup(state: &AppState, proxy_pid: Option<i32>, request: ShutdownRequest) {
    let config = &state.config;
    if request.servers {
        reconcile::stop_all(&state.runtime).await;
    }
    if request.proxy
        && let Some(pid) = proxy_pid
    {
        proxy::stop_started_proxy(pid, &PathBuf::from(&config.proxy.pid_file));
    }
    if !config.jupyterhub.pid_file.is_empty()
        && let Err(e) = std::fs::remove_file(&config.jupyterhub.pid_file)
    {
        tracing::warn!("could not remove {}: {e}", config.jupyterhub.pid_file);
    }
    state.store.close().await;
}
