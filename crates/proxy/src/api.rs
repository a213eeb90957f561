//! configurable-http-proxy's REST API: `/api/routes[/<path>]`.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use crate::body::{Body, empty, full};
use crate::routes::RouteTable;

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut response = Response::new(if body.is_empty() {
        empty()
    } else {
        full(body.to_owned())
    });
    *response.status_mut() = status;
    response
}

fn json(status: StatusCode, value: &Value) -> Response<Body> {
    let mut response = text(status, &value.to_string());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// CHP's rule: `token <t>` (lower case word, then the token), compared in constant time.
fn authorized(headers: &HeaderMap, token: Option<&str>) -> bool {
    let Some(expected) = token else { return true };
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(rest) = value.split_once("token").map(|(_, rest)| rest) else {
        return false;
    };
    if !rest.starts_with(char::is_whitespace) {
        return false;
    }
    let given = rest.split_whitespace().next().unwrap_or_default();
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// The route path in `/api/routes/<path>`, percent-decoded; `None` if not an API path.
fn route_path(path: &str) -> Option<String> {
    let tail = path.strip_prefix("/api/routes")?;
    if !tail.is_empty() && !tail.starts_with('/') {
        return None;
    }
    let decoded = percent_encoding::percent_decode_str(tail)
        .decode_utf8_lossy()
        .into_owned();
    Some(if decoded.is_empty() {
        "/".to_owned()
    } else {
        decoded
    })
}

fn parse_since(query: &str) -> Result<Option<i64>, String> {
    let value = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "inactive_since" || *k == "inactiveSince")
        .map(|(_, v)| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        });
    let Some(value) = value else { return Ok(None) };
    let parsed = chrono::DateTime::parse_from_rfc3339(&value)
        .map(|d| d.timestamp_millis())
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(&value, "%Y-%m-%d").map(|d| {
                d.and_hms_opt(0, 0, 0)
                    .unwrap_or_default()
                    .and_utc()
                    .timestamp_millis()
            })
        })
        .map_err(|_| format!("Invalid datestamp '{value}' must be ISO8601."))?;
    Ok(Some(parsed))
}

/// Handles one API request.
pub async fn handle(
    req: Request<Incoming>,
    table: Arc<RouteTable>,
    token: Option<Arc<str>>,
) -> Response<Body> {
    let Some(path) = route_path(req.uri().path()) else {
        return text(StatusCode::NOT_FOUND, "Not Found");
    };
    let method = req.method().clone();
    if !matches!(method, Method::GET | Method::POST | Method::DELETE) {
        return text(StatusCode::METHOD_NOT_ALLOWED, "Method not supported");
    }
    let query = req.uri().query().unwrap_or_default().to_owned();
    let allowed = authorized(req.headers(), token.as_deref());
    let response = match method {
        Method::POST => {
            let body = match req.into_body().collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(_) => Bytes::new(),
            };
            let parsed: Result<Value, _> = serde_json::from_slice(&body);
            match (parsed, allowed) {
                (Err(e), _) => text(
                    StatusCode::BAD_REQUEST,
                    &format!("Body not valid JSON: {e}"),
                ),
                (Ok(_), false) => text(StatusCode::FORBIDDEN, ""),
                (Ok(value), true) => add_route(&table, &path, value),
            }
        }
        _ if !allowed => text(StatusCode::FORBIDDEN, ""),
        Method::DELETE => {
            if table.remove(&path) {
                tracing::info!("Removed route {path}");
                text(StatusCode::NO_CONTENT, "")
            } else {
                text(StatusCode::NOT_FOUND, "")
            }
        }
        _ if path == "/" => list_routes(&table, &query),
        _ => match table.get(&path) {
            Some(route) => json(StatusCode::OK, &route.to_json()),
            None => text(StatusCode::NOT_FOUND, ""),
        },
    };
    tracing::info!(
        "{} {method} {}",
        response.status().as_u16(),
        req_line(&path)
    );
    response
}

fn req_line(path: &str) -> String {
    format!("/api/routes{}", if path == "/" { "" } else { path })
}

fn add_route(table: &RouteTable, path: &str, value: Value) -> Response<Body> {
    let mut data = match value {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        _ => return text(StatusCode::BAD_REQUEST, "Must specify 'target' as string"),
    };
    let Some(Value::String(target)) = data.remove("target") else {
        return text(StatusCode::BAD_REQUEST, "Must specify 'target' as string");
    };
    data.remove("last_activity");
    tracing::info!("Route added {path} -> {target}");
    table.insert(path, target, data);
    text(StatusCode::CREATED, "")
}

fn list_routes(table: &RouteTable, query: &str) -> Response<Body> {
    let since = match parse_since(query) {
        Ok(since) => since,
        Err(message) => return text(StatusCode::BAD_REQUEST, &message),
    };
    let routes: Map<String, Value> = table
        .all()
        .into_iter()
        .filter(|route| since.is_none_or(|s| route.last_activity_ms() < s))
        .map(|route| (route.path.clone(), route.to_json()))
        .collect();
    json(StatusCode::OK, &Value::Object(routes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_rule_matches_chp() {
        let mut headers = HeaderMap::new();
        let check = |h: &HeaderMap| authorized(h, Some("secret"));
        assert!(!check(&headers));
        headers.insert(header::AUTHORIZATION, "token secret".parse().unwrap());
        assert!(check(&headers));
        headers.insert(header::AUTHORIZATION, "token    secret".parse().unwrap());
        assert!(check(&headers));
        for bad in [
            "Token secret",
            "Bearer secret",
            "token wrong",
            "tokensecret",
        ] {
            headers.insert(header::AUTHORIZATION, bad.parse().unwrap());
            assert!(!check(&headers), "{bad}");
        }
        assert!(authorized(&HeaderMap::new(), None));
    }

    #[test]
    fn api_paths() {
        assert_eq!(route_path("/api/routes").as_deref(), Some("/"));
        assert_eq!(route_path("/api/routes/").as_deref(), Some("/"));
        assert_eq!(
            route_path("/api/routes/user/foo%40bar").as_deref(),
            Some("/user/foo@bar")
        );
        assert_eq!(route_path("/api/routesx"), None);
        assert_eq!(route_path("/api"), None);
    }

    #[test]
    fn inactive_since_parsing() {
        assert_eq!(parse_since(""), Ok(None));
        assert_eq!(
            parse_since("inactive_since=1970-01-01T00:00:01.000Z"),
            Ok(Some(1000))
        );
        assert_eq!(
            parse_since("inactiveSince=1970-01-02"),
            Ok(Some(86_400_000))
        );
        assert!(
            parse_since("inactive_since=yesterday")
                .unwrap_err()
                .contains("ISO8601")
        );
    }
}
