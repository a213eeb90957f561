//! Wiring the hub to its Prometheus metrics: per-request timing labelled with
//! upstream's handler class names (Grafana dashboards key on them), the
//! `/hub/metrics` endpoint and the gauges counted at scrape time. (Spawn
//! outcomes and the metric loops are the runtime's: `crate::runtime::metrics`.)
//!
//! Handler labels: upstream labels every request with the Python class that
//! served it (`f"{cls.__module__}.{cls.__name__}"`). Here each axum route
//! pattern (axum's `MatchedPath`, relative to the hub prefix) maps to the class
//! upstream's `default_handlers` (apihandlers/*.py, handlers/*.py, app.py)
//! route that same URL to. Requests that match no route get upstream's catch-all
//! classes: `base.Template404` inside the hub prefix, `base.AddSlashHandler` for
//! `{base}user/<name>` and `{base}services/<name>`, `base.PrefixRedirectHandler`
//! elsewhere.

use ferrohub_rbac::scopes;
use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferrohub_metrics::RequestLabels;
use http::HeaderValue;

use crate::access::Target;
use crate::error::ApiError;
use crate::runtime::Phase;
use crate::state::AppState;

/// Upstream's catch-all for paths under the hub prefix that no handler takes.
const TEMPLATE_404: &str = "jupyterhub.handlers.base.Template404";

/// The upstream handler class of the route a request matched, filled in by
/// [`name_handler`] and read by [`record_request`].
#[derive(Clone, Default)]
struct HandlerSlot(Arc<OnceLock<&'static str>>);

/// Route pattern (relative to the hub prefix, as registered with axum) →
/// upstream handler class. Every route of the hub must be here; a test checks.
const HANDLERS: &[(&str, &str)] = &[
    // jupyterhub/apihandlers/hub.py
    ("api", "jupyterhub.apihandlers.hub.RootAPIHandler"),
    ("api/", "jupyterhub.apihandlers.hub.RootAPIHandler"),
    ("api/info", "jupyterhub.apihandlers.hub.InfoAPIHandler"),
    (
        "api/shutdown",
        "jupyterhub.apihandlers.hub.ShutdownAPIHandler",
    ),
    // jupyterhub/apihandlers/users.py
    ("api/user", "jupyterhub.apihandlers.users.SelfAPIHandler"),
    (
        "api/users",
        "jupyterhub.apihandlers.users.UserListAPIHandler",
    ),
    (
        "api/users/{name}",
        "jupyterhub.apihandlers.users.UserAPIHandler",
    ),
    (
        "api/users/{name}/activity",
        "jupyterhub.apihandlers.users.ActivityAPIHandler",
    ),
    (
        "api/users/{name}/server",
        "jupyterhub.apihandlers.users.UserServerAPIHandler",
    ),
    (
        "api/users/{name}/servers/{server}",
        "jupyterhub.apihandlers.users.UserServerAPIHandler",
    ),
    (
        "api/users/{name}/server/progress",
        "jupyterhub.apihandlers.users.SpawnProgressAPIHandler",
    ),
    (
        "api/users/{name}/servers/{server}/progress",
        "jupyterhub.apihandlers.users.SpawnProgressAPIHandler",
    ),
    (
        "api/users/{name}/admin-access",
        "jupyterhub.apihandlers.users.UserAdminAccessAPIHandler",
    ),
    (
        "api/users/{name}/tokens",
        "jupyterhub.apihandlers.users.UserTokenListAPIHandler",
    ),
    (
        "api/users/{name}/tokens/{token_id}",
        "jupyterhub.apihandlers.users.UserTokenAPIHandler",
    ),
    // jupyterhub/apihandlers/groups.py
    (
        "api/groups",
        "jupyterhub.apihandlers.groups.GroupListAPIHandler",
    ),
    (
        "api/groups/{group}",
        "jupyterhub.apihandlers.groups.GroupAPIHandler",
    ),
    (
        "api/groups/{group}/users",
        "jupyterhub.apihandlers.groups.GroupUsersAPIHandler",
    ),
    (
        "api/groups/{group}/properties",
        "jupyterhub.apihandlers.groups.GroupPropertiesAPIHandler",
    ),
    // jupyterhub/apihandlers/shares.py
    (
        "api/users/{name}/shared",
        "jupyterhub.apihandlers.shares.UserShareListAPIHandler",
    ),
    (
        "api/users/{name}/shared/{owner}/",
        "jupyterhub.apihandlers.shares.UserShareAPIHandler",
    ),
    (
        "api/users/{name}/shared/{owner}/{server}",
        "jupyterhub.apihandlers.shares.UserShareAPIHandler",
    ),
    (
        "api/groups/{group}/shared",
        "jupyterhub.apihandlers.shares.GroupShareListAPIHandler",
    ),
    (
        "api/groups/{group}/shared/{owner}/",
        "jupyterhub.apihandlers.shares.GroupShareAPIHandler",
    ),
    (
        "api/groups/{group}/shared/{owner}/{server}",
        "jupyterhub.apihandlers.shares.GroupShareAPIHandler",
    ),
    (
        "api/shares/{owner}",
        "jupyterhub.apihandlers.shares.ServerShareAPIHandler",
    ),
    (
        "api/shares/{owner}/",
        "jupyterhub.apihandlers.shares.ServerShareAPIHandler",
    ),
    (
        "api/shares/{owner}/{server}",
        "jupyterhub.apihandlers.shares.ServerShareAPIHandler",
    ),
    (
        "api/share-codes/{owner}",
        "jupyterhub.apihandlers.shares.ServerShareCodeAPIHandler",
    ),
    (
        "api/share-codes/{owner}/",
        "jupyterhub.apihandlers.shares.ServerShareCodeAPIHandler",
    ),
    (
        "api/share-codes/{owner}/{server}",
        "jupyterhub.apihandlers.shares.ServerShareCodeAPIHandler",
    ),
    // jupyterhub/apihandlers/services.py, proxy.py
    (
        "api/services",
        "jupyterhub.apihandlers.services.ServiceListAPIHandler",
    ),
    (
        "api/services/{service}",
        "jupyterhub.apihandlers.services.ServiceAPIHandler",
    ),
    ("api/proxy", "jupyterhub.apihandlers.proxy.ProxyAPIHandler"),
    // jupyterhub/apihandlers/auth.py
    (
        "api/authorizations/token",
        "jupyterhub.apihandlers.auth.TokenAPIHandler",
    ),
    (
        "api/authorizations/token/{token}",
        "jupyterhub.apihandlers.auth.TokenAPIHandler",
    ),
    (
        "api/authorizations/cookie/{cookie_name}/{cookie_value}",
        "jupyterhub.apihandlers.auth.CookieAPIHandler",
    ),
    (
        "api/oauth2/authorize",
        "jupyterhub.apihandlers.auth.OAuthAuthorizeHandler",
    ),
    (
        "api/oauth2/token",
        "jupyterhub.apihandlers.auth.OAuthTokenHandler",
    ),
    // batchspawner/api.py (registered by batchspawner into default_handlers)
    (
        "api/batchspawner",
        "batchspawner.api.BatchSpawnerAPIHandler",
    ),
    // app.py: the API's catch-all
    ("api/{*rest}", "jupyterhub.apihandlers.base.API404"),
    // jupyterhub/handlers/metrics.py
    ("metrics", "jupyterhub.handlers.metrics.MetricsHandler"),
    ("api/metrics", "jupyterhub.handlers.metrics.MetricsHandler"),
    // jupyterhub/handlers/static.py
    (
        "static/{*path}",
        "jupyterhub.handlers.static.CacheControlStaticFilesHandler",
    ),
    ("logo", "jupyterhub.handlers.static.LogoHandler"),
    // jupyterhub/handlers/pages.py
    ("", "jupyterhub.handlers.pages.RootHandler"),
    ("home", "jupyterhub.handlers.pages.HomeHandler"),
    ("admin", "jupyterhub.handlers.pages.AdminHandler"),
    ("token", "jupyterhub.handlers.pages.TokenPageHandler"),
    // ferrohub's revoke form posts here (upstream's page calls the REST API).
    ("token/revoke", "jupyterhub.handlers.pages.TokenPageHandler"),
    (
        "token/revoke-application",
        "jupyterhub.handlers.pages.TokenPageHandler",
    ),
    ("spawn", "jupyterhub.handlers.pages.SpawnHandler"),
    ("spawn/{name}", "jupyterhub.handlers.pages.SpawnHandler"),
    (
        "spawn/{name}/{server}",
        "jupyterhub.handlers.pages.SpawnHandler",
    ),
    (
        "spawn-pending/{name}",
        "jupyterhub.handlers.pages.SpawnPendingHandler",
    ),
    (
        "spawn-pending/{name}/{server}",
        "jupyterhub.handlers.pages.SpawnPendingHandler",
    ),
    (
        "accept-share",
        "jupyterhub.handlers.pages.AcceptShareHandler",
    ),
    (
        "error/{code}",
        "jupyterhub.handlers.pages.ProxyErrorHandler",
    ),
    ("health", "jupyterhub.handlers.pages.HealthCheckHandler"),
    ("api/health", "jupyterhub.handlers.pages.HealthCheckHandler"),
    // jupyterhub/handlers/login.py
    ("login", "jupyterhub.handlers.login.LoginHandler"),
    // oauthenticator/oauth2.py (routed only for an OAuth authenticator)
    ("oauth_login", "oauthenticator.oauth2.OAuthLoginHandler"),
    (
        "oauth_callback",
        "oauthenticator.oauth2.OAuthCallbackHandler",
    ),
    ("logout", "jupyterhub.handlers.login.LogoutHandler"),
    // jupyterhub/handlers/base.py
    ("user/{name}", "jupyterhub.handlers.base.UserUrlHandler"),
    ("user/{name}/", "jupyterhub.handlers.base.UserUrlHandler"),
    (
        "user/{name}/{*rest}",
        "jupyterhub.handlers.base.UserUrlHandler",
    ),
    (
        "user-redirect/{*rest}",
        "jupyterhub.handlers.base.UserRedirectHandler",
    ),
    (
        "security/csp-report",
        "jupyterhub.handlers.base.CSPReportHandler",
    ),
    // Ours only: the home page's stop button posts a form where upstream's
    // page calls `DELETE api/users/{name}/server`; labelled as that call.
    ("stop", "jupyterhub.apihandlers.users.UserServerAPIHandler"),
];

/// Upstream's handler class for a route pattern relative to the hub prefix.
fn handler_class(route: &str) -> Option<&'static str> {
    HANDLERS
        .iter()
        .find(|(pattern, _)| *pattern == route)
        .map(|(_, class)| *class)
}

/// The class upstream's catch-all routes give a path no hub route matched.
fn fallback_class(path: &str, base: &str, hub: &str) -> &'static str {
    if path.starts_with(hub) {
        return TEMPLATE_404;
    }
    // app.py: `{base_url}(user|services)/([^/]+)` gets a trailing slash added.
    let add_slash = path.strip_prefix(base).is_some_and(|rest| {
        ["user/", "services/"].iter().any(|kind| {
            rest.strip_prefix(kind)
                .is_some_and(|name| !name.is_empty() && !name.contains('/'))
        })
    });
    if add_slash {
        "jupyterhub.handlers.base.AddSlashHandler"
    } else {
        "jupyterhub.handlers.base.PrefixRedirectHandler"
    }
}

/// The `method` label, without allocating for the usual methods.
fn method_label(method: &http::Method) -> Cow<'static, str> {
    const USUAL: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    USUAL
        .iter()
        .find(|name| **name == method.as_str())
        .map_or_else(
            || Cow::Owned(method.as_str().to_owned()),
            |name| Cow::Borrowed(*name),
        )
}

/// Outermost layer: times every request and records `request_duration_seconds`.
pub(crate) async fn record_request(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let slot = HandlerSlot::default();
    request.extensions_mut().insert(slot.clone());
    let method = method_label(request.method());
    let fallback = fallback_class(request.uri().path(), &state.urls.base, &state.urls.hub);
    let response = next.run(request).await;
    let handler = slot.0.get().copied().unwrap_or(fallback);
    state.metrics.request_duration.observe(
        RequestLabels {
            method,
            handler,
            code: response.status().as_u16(),
        },
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Route layer: names the matched route's handler class for [`record_request`].
pub(crate) async fn name_handler(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if let (Some(slot), Some(matched)) = (
        request.extensions().get::<HandlerSlot>(),
        request.extensions().get::<MatchedPath>(),
    ) {
        let hub = state.urls.hub.as_str();
        let matched = matched.as_str();
        let class = if matched == hub.trim_end_matches('/') {
            // `/hub` without its slash (handlers/base.py's `(r'', AddSlashHandler)`).
            Some("jupyterhub.handlers.base.AddSlashHandler")
        } else {
            matched.strip_prefix(hub).and_then(handler_class)
        };
        let class = class.unwrap_or_else(|| {
            tracing::debug!(route = matched, "route without an upstream handler class");
            TEMPLATE_404
        });
        let _ = slot.0.set(class);
    }
    next.run(request).await
}

/// `GET {hub}metrics` and `{hub}api/metrics`: the exposition, for holders of
/// `read:metrics` (token or login cookie) unless `JupyterHub.authenticate_prometheus`
/// is off, as upstream's `metrics_authentication`.
pub(crate) async fn serve(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    if state.config.jupyterhub.authenticate_prometheus {
        let refused = || ApiError::forbidden("Access to metrics requires scope 'read:metrics'");
        let identity = crate::identity::identify(&state, request.headers())
            .await?
            .ok_or_else(refused)?;
        if !identity
            .allows(&state, scopes::READ_METRICS, Target::Hub)
            .await?
        {
            return Err(refused());
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

/// `total_users` and `running_servers`, counted when scraped (upstream keeps
/// them with increments at every user creation, deletion, start and stop; a
/// count is never out of step and costs one small query per scrape).
async fn refresh_gauges(state: &AppState) -> Result<(), ApiError> {
    let metrics = &state.metrics;
    metrics
        .total_users
        .set((), state.store.count_users().await? as f64);
    metrics
        .running_servers
        .set((), state.servers.count_in(&Phase::Ready) as f64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Route patterns registered in `source` under the hub prefix: the
    /// `&r("/…")` helper of the API router and `format!("{hub}…")` of the others.
    fn routes_in(source: &str) -> Vec<String> {
        let mut routes = Vec::new();
        for line in source.lines() {
            let line = line.trim();
            for (marker, prefix) in [("&r(\"", "api"), ("format!(\"{hub}", "")] {
                let mut rest = line;
                while let Some(at) = rest.find(marker) {
                    rest = &rest[at + marker.len()..];
                    let Some(end) = rest.find('"') else { break };
                    let pattern = rest[..end].replace("{{", "{").replace("}}", "}");
                    routes.push(format!("{prefix}{pattern}"));
                }
            }
        }
        routes
    }

    /// Every route the hub registers has an upstream class, so a route added
    /// later cannot silently be labelled `Template404`.
    #[test]
    fn every_hub_route_has_an_upstream_handler_class() {
        let mut routes = routes_in(include_str!("api/mod.rs"));
        routes.extend(routes_in(include_str!("pages/mod.rs")));
        routes.extend(routes_in(include_str!("app.rs")));
        routes.push("api".to_owned());
        routes.push(String::new());
        assert!(routes.len() > 60, "found only {routes:?}");
        let missing: Vec<&String> = routes
            .iter()
            .filter(|r| handler_class(r).is_none())
            .collect();
        assert!(
            missing.is_empty(),
            "routes without an upstream handler class in metrics.rs HANDLERS: {missing:?}"
        );
    }

    /// Sample paths routed by upstream's `default_handlers` (JupyterHub 6.1.1,
    /// each class printed as `f"{cls.__module__}.{cls.__name__}"`), against the
    /// ferrohub route pattern serving the same path.
    #[test]
    fn routes_map_to_the_classes_upstream_routes_them_to() {
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
                "api/users/{name}/server",
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
            ("api/{*rest}", "jupyterhub.apihandlers.base.API404"),
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
            ("metrics", "jupyterhub.handlers.metrics.MetricsHandler"),
            ("api/health", "jupyterhub.handlers.pages.HealthCheckHandler"),
        ] {
            assert_eq!(handler_class(route), Some(class), "{route}");
        }
        assert_eq!(handler_class("no/such/route"), None);
    }

    #[test]
    fn unmatched_paths_get_upstream_catch_all_classes() {
        let class = |path| fallback_class(path, "/", "/hub/");
        assert_eq!(class("/hub/nonexistent"), TEMPLATE_404);
        assert_eq!(
            class("/user/alice"),
            "jupyterhub.handlers.base.AddSlashHandler"
        );
        assert_eq!(
            class("/services/announce"),
            "jupyterhub.handlers.base.AddSlashHandler"
        );
        for path in ["/", "/user/alice/lab", "/favicon.ico", "/hubx"] {
            assert_eq!(
                class(path),
                "jupyterhub.handlers.base.PrefixRedirectHandler",
                "{path}"
            );
        }
        assert_eq!(
            fallback_class("/prefix/user/bob", "/prefix/", "/prefix/hub/"),
            "jupyterhub.handlers.base.AddSlashHandler"
        );
    }
}
