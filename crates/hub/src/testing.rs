//! In-process test kit (cargo feature `testing`, which only the hub's own
//! dev-dependency turns on, so production builds never contain it).
//!
//! [`TestApp`] is the hub's real router on its real state, assembled the way
//! [`crate::Hub::start`] assembles it (configuration checks, roles, services,
//! configured tokens), but with nothing outside the process:
//!
//! - the database is an in-memory SQLite (`sqlite:///:memory:`, one
//!   connection, gone when the app is dropped);
//! - the proxy is [`FakeProxy`], a tiny configurable-http-proxy REST API on a
//!   loopback port that keeps routes in memory and checks the auth token;
//! - the spawner is [`FakeSpawner`]: it starts no process; a start answers with
//!   the URL of a tiny in-process HTTP server that answers 200 to every
//!   request, so the hub's readiness check passes at once and the server is
//!   routed and "running" until it is stopped;
//! - requests go straight to the router (`tower::ServiceExt::oneshot`), not
//!   through a socket, so one costs well under a millisecond.
//!
//! No background loops run (polling, route checks, metrics sampling): a test
//! sees exactly the effects of its own requests. The real-binary tests in
//! `crates/cli/tests` remain the proof that the parts work together.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use ferrohub_config::Config;
use ferrohub_core::token::{self, GENERATED_TOKEN_ROUNDS};
use ferrohub_spawn::{SpawnError, SpawnRequest, Spawner, Started};
use ferrohub_store::{BUILTIN_CLIENT, NewToken, Store, TokenOwner, UserRecord};
use http::{HeaderMap, Method, StatusCode};
use serde_json::Value;
use tokio::task::JoinHandle;
use tower::ServiceExt;

use crate::app::{PageAssets, Parts, StartError, assemble, create_startup_users, router};
use crate::proxy::ProxyClient;
use crate::state::AppState;
use crate::urls::HubUrls;

/// The auth token [`FakeProxy`] accepts (and [`TestApp`] configures).
pub const FAKE_PROXY_TOKEN: &str = "fake-proxy-token-0123456789abcdef";
/// The `JUPYTERHUB_CRYPT_KEY` of the in-process hub, so `auth_state` can be
/// stored (and a test can decrypt what it finds in the database).
pub const TEST_CRYPT_KEY: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";

/// What can go wrong while setting up or driving a [`TestApp`].
#[derive(Debug, thiserror::Error)]
pub enum TestAppError {
    /// The configuration or the hub's assembly failed, as it would at start-up.
    #[error(transparent)]
    Start(#[from] StartError),
    /// A fixture's database write failed.
    #[error(transparent)]
    Store(#[from] ferrohub_store::StoreError),
    /// A fixture needs something that is not there (a user by name, ...).
    #[error("{0}")]
    Fixture(String),
    /// A loopback listener for the fakes could not be opened.
    #[error("fake server: {0}")]
    Io(#[from] std::io::Error),
}

/// A loopback HTTP server running on the test's runtime; stopped when dropped.
struct Background {
    url: String,
    task: JoinHandle<()>,
}

impl Background {
    async fn serve(app: Router) -> Result<Self, std::io::Error> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!("fake server stopped: {e}");
            }
        });
        Ok(Self { url, task })
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Routes of [`FakeProxy`], keyed as configurable-http-proxy keys them
/// (`/user/alice`, `/` for the root route).
type RouteTable = Arc<Mutex<BTreeMap<String, Value>>>;

/// An in-memory stand-in for configurable-http-proxy's REST API: `GET
/// /api/routes`, `POST` and `DELETE /api/routes/{path}`, answering 403 to any
/// other token than [`FAKE_PROXY_TOKEN`]. It forwards nothing.
pub struct FakeProxy {
    routes: RouteTable,
    server: Background,
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("token {FAKE_PROXY_TOKEN}"))
}

fn route_key(path: &str) -> String {
    format!("/{}", path.trim_matches('/'))
}

async fn list_routes(
    State(routes): State<RouteTable>,
    headers: HeaderMap,
) -> axum::response::Response {
    if !authorized(&headers) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let table = routes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    axum::Json(table).into_response()
}

async fn add_route(
    State(routes): State<RouteTable>,
    path: Option<Path<String>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    if !authorized(&headers) {
        return StatusCode::FORBIDDEN;
    }
    let Ok(Value::Object(data)) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let key = route_key(path.as_ref().map_or("", |Path(p)| p.as_str()));
    routes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(key, Value::Object(data));
    StatusCode::CREATED
}

async fn delete_route(
    State(routes): State<RouteTable>,
    path: Option<Path<String>>,
    headers: HeaderMap,
) -> StatusCode {
    if !authorized(&headers) {
        return StatusCode::FORBIDDEN;
    }
    let key = route_key(path.as_ref().map_or("", |Path(p)| p.as_str()));
    match routes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&key)
    {
        Some(_) => StatusCode::NO_CONTENT,
        None => StatusCode::NOT_FOUND,
    }
}

impl FakeProxy {
    async fn start() -> Result<Self, std::io::Error> {
        let routes = RouteTable::default();
        let app = Router::new()
            .route(
                "/api/routes",
                axum::routing::get(list_routes)
                    .post(add_route)
                    .delete(delete_route),
            )
            .route(
                "/api/routes/{*path}",
                axum::routing::post(add_route).delete(delete_route),
            )
            .with_state(Arc::clone(&routes));
        let server = Background::serve(app).await?;
        Ok(Self { routes, server })
    }

    /// The API's base URL (`http://127.0.0.1:port`).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.server.url
    }

    /// The routes as the proxy holds them: key → `{"target", "jupyterhub", ...data}`.
    #[must_use]
    pub fn routes(&self) -> BTreeMap<String, Value> {
        self.routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The step [`FakeSpawner`] reports half-way through each start, as a
/// spawner on a batch system or container engine reports its own steps.
pub const FAKE_PROGRESS_STEP: &str = "Fake server assigned";

/// A spawner that starts nothing (see the module documentation): every
/// server it "starts" is the same in-process HTTP server answering 200, and
/// it is running from `start` until `stop`. Its stored state is
/// `{"fake_id": n}`.
pub struct FakeSpawner {
    server: Background,
    next_id: AtomicU64,
    running: Mutex<BTreeSet<u64>>,
    requests: Mutex<Vec<SpawnRequest>>,
    /// How long each start takes after its progress step.
    start_delay: Mutex<Duration>,
}

impl FakeSpawner {
    async fn start() -> Result<Self, std::io::Error> {
        let app = Router::new().fallback(|| async { StatusCode::OK });
        Ok(Self {
            server: Background::serve(app).await?,
            next_id: AtomicU64::new(1),
            running: Mutex::default(),
            requests: Mutex::default(),
            start_delay: Mutex::default(),
        })
    }

    /// Makes every later start take `delay` after it reported its step, as
    /// a queued batch job or an image pull would: a test can then watch a
    /// spawn in progress.
    pub fn delay_starts(&self, delay: Duration) {
        *self
            .start_delay
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = delay;
    }

    /// Every start request so far, oldest first: what the hub asked to run
    /// (so tests see the effective settings a profile produced).
    #[must_use]
    pub fn requests(&self) -> Vec<SpawnRequest> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many servers are running now.
    #[must_use]
    pub fn running(&self) -> usize {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn id(state: &Value) -> Result<u64, SpawnError> {
        state
            .get("fake_id")
            .and_then(Value::as_u64)
            .ok_or_else(|| SpawnError::State(format!("no fake_id in {state}")))
    }
}

#[async_trait]
impl Spawner for FakeSpawner {
    fn name(&self) -> &'static str {
        "FakeSpawner"
    }

    async fn start(&self, request: &SpawnRequest) -> Result<Started, SpawnError> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request.clone());
        request.progress.report(50, FAKE_PROGRESS_STEP);
        let delay = *self
            .start_delay
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        tokio::time::sleep(delay).await;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id);
        Ok(Started {
            url: self.server.url.clone(),
            state: serde_json::json!({ "fake_id": id }),
            api_token: None,
        })
    }

    async fn poll(&self, state: &Value) -> Result<Option<i32>, SpawnError> {
        let id = Self::id(state)?;
        let running = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&id);
        Ok(if running { None } else { Some(0) })
    }

    async fn stop(&self, state: &Value) -> Result<(), SpawnError> {
        // A server that never started (empty state) is already stopped.
        if let Ok(id) = Self::id(state) {
            self.running
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&id);
        }
        Ok(())
    }
}

/// An answer of the router, body read.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The body as text.
    pub text: String,
}

impl Answer {
    /// The body as JSON (`Null` if it is not JSON).
    #[must_use]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

/// The hub's router and state in process; see the module documentation.
pub struct TestApp {
    state: AppState,
    router: Router,
    proxy: FakeProxy,
    spawner: Arc<FakeSpawner>,
}

impl TestApp {
    /// A hub on an in-memory database with the fakes, configured by
    /// [`Config::default`] plus: the dummy authenticator, the fake proxy's URL
    /// and token with `should_start = false`, then `tweak` (which may change
    /// anything, the database URL included). The configuration goes through
    /// the same checks as the real start-up.
    pub async fn new(tweak: impl FnOnce(&mut Config)) -> Result<Self, TestAppError> {
        Self::build(tweak, None).await
    }

    /// [`TestApp::new`] with `backend` in place of the configured
    /// authenticator, wrapped in the `[Authenticator]` policy: for hub logic
    /// around a back end's answers (refresh, groups) that no built-in back
    /// end gives on demand.
    pub async fn with_authenticator(
        backend: Box<dyn ferrohub_auth::Authenticator>,
        tweak: impl FnOnce(&mut Config),
    ) -> Result<Self, TestAppError> {
        Self::build(tweak, Some(backend)).await
    }

    async fn build(
        tweak: impl FnOnce(&mut Config),
        backend: Option<Box<dyn ferrohub_auth::Authenticator>>,
    ) -> Result<Self, TestAppError> {
        let proxy = FakeProxy::start().await?;
        let spawner = Arc::new(FakeSpawner::start().await?);
        let mut config = Config::default();
        config.jupyterhub.db_url = "sqlite:///:memory:".into();
        config.jupyterhub.authenticator_class = "dummy".into();
        config.proxy.should_start = false;
        config.proxy.api_url = proxy.url().to_owned();
        config.proxy.auth_token = FAKE_PROXY_TOKEN.to_owned();
        tweak(&mut config);
        crate::validate::check_config_with(&config, |_| Some(TEST_CRYPT_KEY.to_owned()))?;
        let metrics =
            Arc::new(ferrohub_metrics::HubMetrics::from_vars(|_| None).map_err(StartError::Io)?);
        let urls = HubUrls::from_config(&config).map_err(StartError::from)?;
        let pages = PageAssets::load(&config, &urls)?;
        let mut cookie_secret = vec![0u8; 32];
        getrandom::fill(&mut cookie_secret)
            .map_err(|e| TestAppError::Fixture(format!("random cookie secret: {e}")))?;
        let store = Store::connect(&config.jupyterhub.db_url)
            .await
            .map_err(StartError::from)?;
        if config.jupyterhub.upgrade_db {
            store.upgrade().await.map_err(StartError::from)?;
        }
        store.prepare().await.map_err(StartError::from)?;
        let auth = match backend {
            Some(backend) => ferrohub_auth::Auth::new(backend, &config.authenticator),
            None => ferrohub_auth::Auth::from_config(&config),
        }
        .map_err(StartError::from)?;
        let custom_scopes = crate::roles::custom_scopes(&config).map_err(StartError::from)?;
        create_startup_users(&store, &auth).await?;
        let proxy_client =
            ProxyClient::new(&urls.proxy_api, FAKE_PROXY_TOKEN, Arc::clone(&metrics));
        let crypt =
            crate::runtime::auth_state::keeper_from(&config, |_| Some(TEST_CRYPT_KEY.to_owned()))
                .map_err(StartError::from)?;
        let (state, _service_tokens) = assemble(Parts {
            config,
            urls,
            store,
            auth,
            spawner: Arc::clone(&spawner) as Arc<dyn Spawner>,
            proxy: proxy_client,
            cookie_secret,
            custom_scopes,
            metrics,
            pages,
            crypt,
        })
        .await?;
        let router = router(&state);
        Ok(Self {
            state,
            router,
            proxy,
            spawner,
        })
    }

    /// The database, for fixtures and for checking effects.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// The fake proxy API.
    #[must_use]
    pub fn proxy(&self) -> &FakeProxy {
        &self.proxy
    }

    /// The fake spawner.
    #[must_use]
    pub fn spawner(&self) -> &FakeSpawner {
        &self.spawner
    }

    /// Makes the hub's proxy client present a token the fake proxy refuses,
    /// as a hub whose proxy was replaced behind its back: every route change
    /// fails from then on. For testing what clients are told then.
    pub fn break_proxy_token(&self) {
        self.state
            .proxy
            .reconfigure(None, Some("not-the-fake-proxys-token"));
    }

    /// The REST API's path prefix (`/hub/api`, with the configured base URL).
    #[must_use]
    pub fn api_prefix(&self) -> String {
        format!("{}api", self.state.urls.hub)
    }

    /// Creates a user as `POST /users/{name}` does (with the `user` role, and
    /// `admin` when `admin` is set).
    pub async fn create_user(&self, name: &str, admin: bool) -> Result<UserRecord, TestAppError> {
        crate::roles::create_user(&self.state, name, admin)
            .await
            .map_err(|e| TestAppError::Fixture(format!("creating user {name}: {e:?}")))
    }

    /// The user called `name`.
    pub async fn user(&self, name: &str) -> Result<UserRecord, TestAppError> {
        self.store()
            .user_by_name(name)
            .await?
            .ok_or_else(|| TestAppError::Fixture(format!("no user {name}")))
    }

    /// Puts `users` into `group`, creating the group if needed.
    pub async fn add_to_group(&self, group: &str, users: &[&str]) -> Result<(), TestAppError> {
        let store = self.store();
        let record = match store.group_by_name(group).await? {
            Some(record) => record,
            None => store.create_group(group, &serde_json::json!({})).await?,
        };
        let mut ids = Vec::with_capacity(users.len());
        for name in users {
            ids.push(self.user(name).await?.id);
        }
        store.add_group_members(record.id, &ids).await?;
        Ok(())
    }

    /// A new API token of user `owner` with exactly `scopes` (as stored; the
    /// hub intersects them with the owner's own scopes on use), written
    /// straight to the database so that any scope can be tested, including
    /// ones `POST /users/{name}/tokens` would refuse.
    pub async fn token(&self, owner: &str, scopes: &[&str]) -> Result<String, TestAppError> {
        let user = self.user(owner).await?;
        let token = token::new_token();
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        self.store()
            .create_token(&NewToken {
                token: &token,
                rounds: GENERATED_TOKEN_ROUNDS,
                owner: TokenOwner::User(user.id),
                client_id: BUILTIN_CLIENT,
                session_id: None,
                scopes: &scopes,
                note: Some("TestApp"),
                expires_at: None,
            })
            .await?;
        Ok(token)
    }

    /// A valid signed login cookie value (`jupyterhub-hub-login`) of `user`.
    #[must_use]
    pub fn login_cookie(&self, user: &UserRecord) -> String {
        crate::cookies::sign(
            &self.state.cookie_secret,
            crate::cookies::LOGIN_COOKIE,
            &user.cookie_id,
            chrono::Utc::now().timestamp(),
        )
    }

    /// Sends `request` through the router (no socket involved).
    pub async fn request(&self, request: http::Request<Body>) -> http::Response<Body> {
        match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(infallible) => match infallible {},
        }
    }

    /// An API call: `path` is below [`TestApp::api_prefix`] (`/users/alice`,
    /// query included), `token` goes into `Authorization: token ...`, `body`
    /// is sent as JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.api_prefix()));
        if let Some(token) = token {
            builder = builder.header(http::header::AUTHORIZATION, format!("token {token}"));
        }
        let body = match body {
            Some(value) => {
                builder = builder.header(http::header::CONTENT_TYPE, "application/json");
                Body::from(value.to_string())
            }
            None => Body::empty(),
        };
        let request = match builder.body(body) {
            Ok(request) => request,
            Err(e) => {
                return Answer {
                    status: StatusCode::BAD_REQUEST,
                    headers: HeaderMap::new(),
                    text: format!("test bug: cannot build a request for {path:?}: {e}"),
                };
            }
        };
        let response = self.request(request).await;
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        Answer {
            status: parts.status,
            headers: parts.headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }
}
