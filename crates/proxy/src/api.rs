//! configurable-http-proxy's REST API on its own listener:
//! `GET|POST|DELETE /api/routes[/<path>]`, with CHP's status codes, bodies
//! and token rule, so JupyterHub's `ConfigurableHTTPProxy` can drive us.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, Utc};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use crate::body::{Body, BoxError, empty, full};
use crate::metrics::ProxyMetrics;
use crate::paths::decode_path;
use crate::routes::{Route, RouteTable, normalize_key};

/// Largest POST body accepted; route data is a few hundred bytes.
const MAX_BODY: usize = 1024 * 1024;

/// The REST API's state: the shared table and the token it requires.
pub struct Api {
    table: Arc<RouteTable>,
    token: Option<String>,
    host_routing: bool,
    metrics: Arc<ProxyMetrics>,
}

/// One answer, with the text CHP appends to its access-log line.
struct Answer {
    status: StatusCode,
    /// A JSON body, already serialised.
    body: Option<String>,
    text: String,
}

impl Answer {
    fn status(status: StatusCode) -> Self {
        Self {
            status,
            body: None,
            text: String::new(),
        }
    }

    fn text(status: StatusCode, text: impl Into<String>) -> Self {
        Self {
            status,
            body: None,
            text: text.into(),
        }
    }

    fn json(value: &Value) -> Self {
        Self::json_text(value.to_string())
    }

    fn json_text(json: String) -> Self {
        Self {
            status: StatusCode::OK,
            body: Some(json),
            text: String::new(),
        }
    }

    fn into_response(self) -> Response<Body> {
        let (body, json) = match self.body {
            Some(json) => (full(json), true),
            None if self.text.is_empty() => (empty(), false),
            None => (full(self.text), false),
        };
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        if json {
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        response
    }
}

impl Api {
    /// An API over `table`; `token` (from `CONFIGPROXY_AUTH_TOKEN`) is
    /// required when set and non-empty, else the API is open.
    #[must_use]
    pub fn new(table: Arc<RouteTable>, token: Option<String>) -> Self {
        let token = token.filter(|t| !t.is_empty());
        Self {
            table,
            token,
            host_routing: false,
            metrics: Arc::default(),
        }
    }

    /// Counts requests and route changes into `metrics` (CHP's `api_route_*`
    /// and `requests_api`).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<ProxyMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Under `--host-routing`, stored routes (other than `/`) get a `host`
    /// field holding their first segment, as CHP adds it.
    #[must_use]
    pub fn with_host_routing(mut self, host_routing: bool) -> Self {
        self.host_routing = host_routing;
        self
    }

    /// Whether requests must carry the token.
    #[must_use]
    pub fn is_authenticated(&self) -> bool {
        self.token.is_some()
    }

    /// Handles one API request and logs CHP's access line for it.
    /// Generic over the body so it can be driven without a socket (fuzzing).
    pub async fn handle<B>(self: Arc<Self>, req: Request<B>) -> Response<Body>
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let answer = self.answer(req).await;
        self.metrics.api_response(answer.status);
        let line = format!("{} {method} {path} {}", answer.status.as_u16(), answer.text);
        match answer.status.as_u16() {
            ..400 => tracing::info!("{}", line.trim_end()),
            400..500 => tracing::warn!("{}", line.trim_end()),
            _ => tracing::error!("{}", line.trim_end()),
        }
        answer.into_response()
    }

    async fn answer<B>(&self, req: Request<B>) -> Answer
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        let Some(tail) = api_tail(req.uri().path()) else {
            return Answer::text(StatusCode::NOT_FOUND, "Not Found");
        };
        let method = req.method().clone();
        if !matches!(method, Method::GET | Method::POST | Method::DELETE) {
            return Answer::text(StatusCode::METHOD_NOT_ALLOWED, "Method not supported");
        }
        let Some(path) = decode_path(tail).map(std::borrow::Cow::into_owned) else {
            return Answer::text(
                StatusCode::BAD_REQUEST,
                format!("Invalid route path '{tail}'"),
            );
        };
        let query = req.uri().query().unwrap_or_default().to_owned();
        let allowed = self.authorized(req.headers());
        match method {
            // CHP parses the body before checking the token.
            Method::POST => match read_json(req.into_body()).await {
                Err(answer) => answer,
                Ok(_) if !allowed => Answer::status(StatusCode::FORBIDDEN),
                Ok(value) => self.add_route(&path, value),
            },
            _ if !allowed => Answer::status(StatusCode::FORBIDDEN),
            Method::DELETE => self.delete_route(&path),
            _ if path.is_empty() || path == "/" => self.list_routes(&query).await,
            // Normalised here and again by the table, as CHP's handler and
            // store both do (and as POST and DELETE do): `/a//` names `/a`.
            _ => match self.table.get(&normalize_key(&path)) {
                Some(route) => Answer::json(&route.to_json()),
                None => Answer::status(StatusCode::NOT_FOUND),
            },
        }
    }

    /// CHP's rule: the header contains `token`, whitespace, then the token
    /// (first non-space run), anywhere in the value; compared in constant time.
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.token else {
            return true;
        };
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let given = value.match_indices("token").find_map(|(at, word)| {
            let rest = &value[at + word.len()..];
            let token = rest.trim_start();
            (token.len() < rest.len() && !token.is_empty()).then_some(token)
        });
        let Some(given) = given else {
            return false;
        };
        let given = given.split_whitespace().next().unwrap_or_default();
        given.as_bytes().ct_eq(expected.as_bytes()).into()
    }

    fn add_route(&self, path: &str, value: Value) -> Answer {
        let mut data = match value {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => return bad_target(&other),
        };
        let Some(Value::String(target)) = data.remove("target") else {
            return bad_target(&Value::Object(data));
        };
        data.remove("last_activity");
        let key = normalize_key(if path.is_empty() { "/" } else { path });
        if self.host_routing && key != "/" {
            let host = key.split('/').nth(1).unwrap_or_default();
            data.insert("host".into(), Value::String(host.to_owned()));
        }
        tracing::info!("Adding route {key} -> {target}");
        self.table.insert(&key, &target, data);
        tracing::info!("Route added {key} -> {target}");
        self.metrics.route_added();
        Answer::status(StatusCode::CREATED)
    }

    fn delete_route(&self, path: &str) -> Answer {
        self.metrics.route_deleted();
        let key = normalize_key(path);
        if self.table.get(&key).is_none() {
            return Answer::status(StatusCode::NOT_FOUND);
        }
        tracing::info!("Removing route {key}");
        self.table.remove(&key);
        Answer::status(StatusCode::NO_CONTENT)
    }

    /// The whole table (JupyterHub polls it every few minutes): serialised
    /// straight from the routes, and for a large table on a blocking thread,
    /// so the data path's workers keep serving requests meanwhile.
    async fn list_routes(&self, query: &str) -> Answer {
        let since = match inactive_since(query) {
            Ok(since) => since,
            Err(answer) => return answer,
        };
        self.metrics.route_listed();
        let table = Arc::clone(&self.table);
        let listing = move || {
            let routes: Vec<Arc<Route>> = table
                .all()
                .into_iter()
                .filter(|route| since.is_none_or(|since| route.last_activity() < since))
                .collect();
            let mut json = Vec::with_capacity(routes.len() * 160 + 2);
            write_listing(&mut json, &routes);
            json
        };
        let json = if self.table.len() > LARGE_LISTING {
            match tokio::task::spawn_blocking(listing).await {
                Ok(json) => json,
                Err(e) => return Answer::text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            }
        } else {
            listing()
        };
        match String::from_utf8(json) {
            Ok(json) => Answer::json_text(json),
            Err(e) => Answer::text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
}

/// Tables larger than this are listed on a blocking thread.
const LARGE_LISTING: usize = 1_000;

/// The route table as CHP lists it: `{ "<path>": {<route>}, ... }`.
fn write_listing(out: &mut Vec<u8>, routes: &[Arc<Route>]) {
    out.push(b'{');
    for (i, route) in routes.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        crate::routes::write_json_string(out, route.path());
        out.push(b':');
        route.write_json(out);
    }
    out.push(b'}');
}

fn bad_target(data: &Value) -> Answer {
    tracing::warn!("Bad POST data: {data}");
    Answer::text(StatusCode::BAD_REQUEST, "Must specify 'target' as string")
}

/// The raw `(/.*)?` tail of `/api/routes(/.*)?`; `None` for any other path.
fn api_tail(path: &str) -> Option<&str> {
    let tail = path.strip_prefix("/api/routes")?;
    (tail.is_empty() || tail.starts_with('/')).then_some(tail)
}

/// Reads and parses a JSON body; `null` counts as `{}` as in CHP.
async fn read_json<B>(body: B) -> Result<Value, Answer>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let bytes: Bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(Answer::text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Body too large (limit {MAX_BODY} bytes)"),
            ));
        }
        Err(e) => {
            return Err(Answer::text(
                StatusCode::BAD_REQUEST,
                format!("Body not readable: {e}"),
            ));
        }
    };
    serde_json::from_slice(&bytes).map_err(|e| {
        Answer::text(
            StatusCode::BAD_REQUEST,
            format!("Body not valid JSON: SyntaxError: {e}"),
        )
    })
}

/// The `inactiveSince` (or older `inactive_since`) filter, if given.
fn inactive_since(query: &str) -> Result<Option<DateTime<Utc>>, Answer> {
    let param = |name: &str| {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| form_decode(v))
            .filter(|v| !v.is_empty())
    };
    let Some(value) = param("inactiveSince").or_else(|| param("inactive_since")) else {
        return Ok(None);
    };
    parse_date(&value).map(Some).ok_or_else(|| {
        Answer::text(
            StatusCode::BAD_REQUEST,
            format!("Invalid datestamp '{value}' must be ISO8601."),
        )
    })
}

fn form_decode(value: &str) -> String {
    let spaced = value.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// What JavaScript's `Date.parse` accepts that matters here: ISO 8601 with
/// `Z` or an offset, date-time without offset (local time), date only (UTC),
/// and RFC 2822 dates.
fn parse_date(value: &str) -> Option<DateTime<Utc>> {
    if let Ok(when) = DateTime::parse_from_rfc3339(value) {
        return Some(when.to_utc());
    }
    if let Ok(when) = DateTime::parse_from_rfc2822(value) {
        return Some(when.to_utc());
    }
    if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return day.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(value, format).ok())
        .and_then(|local| local.and_local_timezone(Local).earliest())
        .map(|when| when.to_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(token: Option<&str>) -> Api {
        Api::new(Arc::default(), token.map(str::to_owned))
    }

    fn auth(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn token_rule_matches_chp() {
        let api = api(Some("secret"));
        assert!(!api.authorized(&HeaderMap::new()));
        assert!(api.authorized(&auth("token secret")));
        assert!(api.authorized(&auth("token    secret")));
        assert!(api.authorized(&auth("xtokenx token secret")));
        for bad in [
            "Token secret",
            "Bearer secret",
            "token wrong",
            "tokensecret",
            "token secre",
            "token secrets",
            "token ",
        ] {
            assert!(!api.authorized(&auth(bad)), "{bad}");
        }
    }

    #[test]
    fn no_or_empty_token_means_open() {
        assert!(api(None).authorized(&HeaderMap::new()));
        assert!(!api(Some("")).is_authenticated());
        assert!(api(Some("t")).is_authenticated());
    }

    #[test]
    fn api_paths() {
        assert_eq!(api_tail("/api/routes"), Some(""));
        assert_eq!(api_tail("/api/routes/"), Some("/"));
        assert_eq!(
            api_tail("/api/routes/user/foo%40bar"),
            Some("/user/foo%40bar")
        );
        assert_eq!(api_tail("/api/routesx"), None);
        assert_eq!(api_tail("/api"), None);
        assert_eq!(api_tail("/api/"), None);
    }

    fn request(method: Method, uri: &str, body: &'static str) -> Request<String> {
        let mut req = Request::new(body.to_owned());
        *req.method_mut() = method;
        *req.uri_mut() = uri.parse().unwrap();
        req
    }

    /// Found by `fuzz/fuzz_targets/rest_api.rs`: a route POSTed at
    /// `/a//` (stored as `/a`, both slashes dropped as in CHP) gave 404 on
    /// `GET` of the same path, which was normalised only once.
    #[tokio::test]
    async fn route_is_addressed_alike_by_post_get_and_delete() {
        let api = Arc::new(api(None));
        let status = |req| {
            let api = Arc::clone(&api);
            async move { api.handle(req).await.status() }
        };
        let url = "/api/routes/user/a//";
        let post = request(Method::POST, url, r#"{"target": "http://127.0.0.1:1"}"#);
        assert_eq!(status(post).await, StatusCode::CREATED);
        assert!(api.table.get("/user/a").is_some());
        assert_eq!(status(request(Method::GET, url, "")).await, StatusCode::OK);
        assert_eq!(
            status(request(Method::DELETE, url, "")).await,
            StatusCode::NO_CONTENT
        );
        assert!(api.table.is_empty());
    }

    #[test]
    fn inactive_since_parsing() {
        let ms = |q: &str| {
            inactive_since(q)
                .ok()
                .unwrap()
                .map(|d| d.timestamp_millis())
        };
        assert_eq!(ms(""), None);
        assert_eq!(ms("inactive_since="), None);
        assert_eq!(ms("inactive_since=1970-01-01T00:00:01.000Z"), Some(1000));
        assert_eq!(ms("inactiveSince=1970-01-02"), Some(86_400_000));
        assert_eq!(ms("inactive_since=1970-01-01T01:00:00%2B01:00"), Some(0));
        assert_eq!(
            ms("inactiveSince=1970-01-01T00:00:02Z&inactive_since=1970-01-01T00:00:01Z"),
            Some(2000)
        );
        let bad = inactive_since("inactive_since=yesterday").err().unwrap();
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert_eq!(bad.text, "Invalid datestamp 'yesterday' must be ISO8601.");
    }
}
