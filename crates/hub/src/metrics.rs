//! Wiring the hub to its Prometheus metrics: per-request timing labelled with
//! upstream's handler class names (Grafana dashboards key on them), the
//! `/hub/metrics` endpoint, gauges refreshed at scrape time, and the
//! event-loop lag probe.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferrohub_core::time;
use http::HeaderValue;

use crate::access::Target;
use crate::error::ApiError;
use crate::servers::Phase;
use crate::state::AppState;

/// The upstream handler class of the route a request matched, filled in by
/// [`name_handler`] and read by [`record_request`].
#[derive(Clone, Default)]
struct HandlerSlot(Arc<OnceLock<&'static str>>);

/// Upstream's handler class for a route pattern (relative to the hub prefix).
fn handler_class(route: &str) -> &'static str {
    const API: &str = "jupyterhub.apihandlers.";
    const PAGES: &str = "jupyterhub.handlers.";
    let class: (&str, &'static str) = match route {
        "api" | "api/" => (API, "hub.RootAPIHandler"),
        "api/info" => (API, "hub.InfoAPIHandler"),
        "api/shutdown" => (API, "hub.ShutdownAPIHandler"),
        "api/user" => (API, "users.SelfAPIHandler"),
        "api/users" => (API, "users.UserListAPIHandler"),
        "api/users/{name}" => (API, "users.UserAPIHandler"),
        "api/users/{name}/activity" => (API, "users.ActivityAPIHandler"),
        "api/users/{name}/server" | "api/users/{name}/servers/{server}" => {
            (API, "users.UserServerAPIHandler")
        }
        "api/users/{name}/server/progress" | "api/users/{name}/servers/{server}/progress" => {
            (API, "users.SpawnProgressAPIHandler")
        }
        "api/users/{name}/admin-access" => (API, "users.UserAdminAccessAPIHandler"),
        "api/users/{name}/tokens" => (API, "users.UserTokenListAPIHandler"),
        "api/users/{name}/tokens/{token_id}" => (API, "users.UserTokenAPIHandler"),
        "api/users/{name}/shared" => (API, "shares.UserShareListAPIHandler"),
        "api/groups" => (API, "groups.GroupListAPIHandler"),
        "api/groups/{group}" => (API, "groups.GroupAPIHandler"),
        "api/groups/{group}/users" => (API, "groups.GroupUsersAPIHandler"),
        "api/groups/{group}/properties" => (API, "groups.GroupPropertiesAPIHandler"),
        "api/groups/{group}/shared" => (API, "shares.GroupShareListAPIHandler"),
        "api/services" => (API, "services.ServiceListAPIHandler"),
        "api/services/{service}" => (API, "services.ServiceAPIHandler"),
        "api/proxy" => (API, "proxy.ProxyAPIHandler"),
        "api/oauth2/authorize" => (API, "auth.OAuthAuthorizeHandler"),
        "api/oauth2/token" => (API, "auth.OAuthTokenHandler"),
        "api/{*rest}" => (API, "base.API404"),
        "health" | "api/health" => (PAGES, "pages.HealthCheckHandler"),
        "metrics" | "api/metrics" => (PAGES, "metrics.MetricsHandler"),
        "" => (PAGES, "pages.RootHandler"),
        "login" => (PAGES, "login.LoginHandler"),
        "logout" => (PAGES, "login.LogoutHandler"),
        "home" => (PAGES, "pages.HomeHandler"),
        "accept-share" => (PAGES, "pages.AcceptShareHandler"),
        "error/{code}" => (PAGES, "pages.ProxyErrorHandler"),
        "security/csp-report" => (PAGES, "base.CSPReportHandler"),
        _ => return handler_class_by_prefix(route),
    };
    leak(class)
}

/// Routes that come in several shapes (optional trailing parts).
fn handler_class_by_prefix(route: &str) -> &'static str {
    const API: &str = "jupyterhub.apihandlers.";
    const PAGES: &str = "jupyterhub.handlers.";
    let class = [
        (
            "api/users/{name}/shared/",
            (API, "shares.UserShareAPIHandler"),
        ),
        (
            "api/groups/{group}/shared/",
            (API, "shares.GroupShareAPIHandler"),
        ),
        ("api/shares/", (API, "shares.ServerShareAPIHandler")),
        (
            "api/share-codes/",
            (API, "shares.ServerShareCodeAPIHandler"),
        ),
        ("api/authorizations/token", (API, "auth.TokenAPIHandler")),
        ("api/authorizations/cookie/", (API, "auth.CookieAPIHandler")),
        ("spawn-pending/", (PAGES, "pages.SpawnPendingHandler")),
        ("spawn", (PAGES, "pages.SpawnHandler")),
        ("user-redirect/", (PAGES, "base.UserRedirectHandler")),
        ("user/", (PAGES, "base.UserUrlHandler")),
    ]
    .into_iter()
    .find(|(prefix, _)| route.starts_with(prefix))
    .map_or((PAGES, "pages.Template404"), |(_, class)| class);
    leak(class)
}

/// Interns `module + class` (a few dozen distinct strings for the life of the hub).
fn leak((module, class): (&str, &'static str)) -> &'static str {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static NAMES: OnceLock<Mutex<HashMap<&'static str, &'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    names
        .entry(class)
        .or_insert_with(|| Box::leak(format!("{module}{class}").into_boxed_str()))
}

/// Outermost layer: times every request and records `request_duration_seconds`.
pub async fn record_request(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let slot = HandlerSlot::default();
    request.extensions_mut().insert(slot.clone());
    let method = request.method().clone();
    let in_hub = request
        .uri()
        .path()
        .starts_with(state.urls.hub.trim_end_matches('/'));
    let response = next.run(request).await;
    let handler = slot.0.get().copied().unwrap_or_else(|| {
        // The fallback: upstream redirects paths outside the hub into it.
        if in_hub {
            handler_class_by_prefix("")
        } else {
            "jupyterhub.handlers.base.PrefixRedirectHandler"
        }
    });
    state.metrics.request_duration.observe(
        &[method.as_str(), handler, response.status().as_str()],
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Route layer: names the matched route's handler class for [`record_request`].
pub async fn name_handler(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let (Some(slot), Some(matched)) = (
        request.extensions().get::<HandlerSlot>(),
        request.extensions().get::<MatchedPath>(),
    ) {
        let hub = state.urls.hub.as_str();
        let route = matched.as_str().strip_prefix(hub).unwrap_or(
            if matched.as_str() == hub.trim_end_matches('/') {
                "bare-hub"
            } else {
                matched.as_str()
            },
        );
        let class = if route == "bare-hub" {
            "jupyterhub.handlers.base.AddSlashHandler"
        } else {
            handler_class(route)
        };
        let _ = slot.0.set(class);
    }
    next.run(request).await
}

/// `GET {hub}metrics` and `{hub}api/metrics`: the exposition, for holders of
/// `read:metrics` unless `JupyterHub.authenticate_prometheus` is off.
pub async fn serve(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    if state.config.jupyterhub.authenticate_prometheus {
        let identity =
            crate::api::require_identity(&state, request.method(), request.headers()).await?;
        if !identity.allows(&state, "read:metrics", Target::Hub).await? {
            return Err(ApiError::forbidden(
                "Access to metrics requires scope 'read:metrics'",
            ));
        }
    }
    refresh_gauges(&state).await?;
    let mut response = state.metrics.encode().into_response();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(ferrohub_metrics::CONTENT_TYPE),
    );
    Ok(response)
}

/// Users, active users and running servers, counted when scraped (upstream
/// refreshes active users hourly; a scrape every few seconds costs three small counts).
async fn refresh_gauges(state: &AppState) -> Result<(), ApiError> {
    let metrics = &state.metrics;
    metrics
        .total_users
        .set(&[], state.store.count_users().await? as f64);
    for (period, days) in [("24h", 1), ("7d", 7), ("30d", 30)] {
        let since = time::now() - chrono::Duration::days(days);
        let active = state.store.count_users_active_since(&since).await?;
        metrics.active_users.set(&[period], active as f64);
    }
    metrics
        .running_servers
        .set(&[], state.servers.count_in(&Phase::Ready) as f64);
    Ok(())
}

/// Upstream's event-loop probe: a 50 ms timer whose measured interval shows how
/// busy the runtime is; one second or more is logged.
pub async fn sample_event_loop(state: AppState) {
    const INTERVAL: Duration = Duration::from_millis(50);
    let mut last = Instant::now();
    loop {
        tokio::time::sleep(INTERVAL).await;
        let now = Instant::now();
        let interval = now - last;
        last = now;
        state
            .metrics
            .event_loop_interval
            .observe(&[], interval.as_secs_f64());
        if interval >= Duration::from_secs(1) {
            tracing::warn!(
                "the hub's runtime was blocked: a 50 ms timer took {:.1} s",
                interval.as_secs_f64()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_map_to_upstream_handler_classes() {
        for (route, class) in [
            (
                "api/users",
                "jupyterhub.apihandlers.users.UserListAPIHandler",
            ),
            (
                "api/users/{name}/servers/{server}",
                "jupyterhub.apihandlers.users.UserServerAPIHandler",
            ),
            (
                "api/users/{name}/shared/{owner}/",
                "jupyterhub.apihandlers.shares.UserShareAPIHandler",
            ),
            (
                "api/share-codes/{owner}",
                "jupyterhub.apihandlers.shares.ServerShareCodeAPIHandler",
            ),
            (
                "api/authorizations/token/{token}",
                "jupyterhub.apihandlers.auth.TokenAPIHandler",
            ),
            (
                "spawn/{name}/{server}",
                "jupyterhub.handlers.pages.SpawnHandler",
            ),
            (
                "spawn-pending/{name}",
                "jupyterhub.handlers.pages.SpawnPendingHandler",
            ),
            (
                "user/{name}/{*rest}",
                "jupyterhub.handlers.base.UserUrlHandler",
            ),
            ("login", "jupyterhub.handlers.login.LoginHandler"),
            ("no/such/page", "jupyterhub.handlers.pages.Template404"),
        ] {
            assert_eq!(handler_class(route), class, "{route}");
        }
    }
}
