//! CHP's REST API (`/api/routes`, spec §3) driven in-process with request
//! sequences, checked against a reference model of statuses and the table.
//!
//! The input is text so seeds stay readable. The first line configures the
//! API: an `o` makes it open (else the token is `secret`), an `h` turns on
//! host routing. Requests follow, separated by a line `###`:
//!
//! ```text
//! POST /api/routes/user/alice
//! authorization: token secret
//! x-fuzz-chunks: 3
//!
//! {"target": "http://127.0.0.1:9000", "user": "alice"}
//! ```
//!
//! Pseudo-headers shape the body: `x-fuzz-chunks: N` splits it into N
//! frames, `x-fuzz-error: 1` ends it with a read error, `x-fuzz-size: max`
//! (or `max-N`, `max+N`) pads it with spaces to the 1 MiB limit (± N).
//!
//! Checked: no panics; every status is a documented one and the one the
//! model predicts; 200s are JSON objects (a listing's keys are the model's);
//! a 201 route is readable at the URL it was posted to and at its key; a
//! request that is not a successful POST or DELETE leaves the route it
//! addresses alone; after each input the listing and the table equal the
//! model.
#![no_main]

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use ferrohub_proxy::api::Api;
use ferrohub_proxy::routes::RouteTable;
use ferrohub_proxy_fuzz::{MAX_BODY, Model, decode_strict, encode_path, normalize, token_matches};
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName};
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use http_body::Frame;
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const TOKEN: &str = "secret";
const MAX_REQUESTS: usize = 64;
const DOCUMENTED: [u16; 8] = [200, 201, 204, 400, 403, 404, 405, 413];

fuzz_target!(|data: &[u8]| {
    let (config, rest) = split_once(data, b"\n").unwrap_or((data, b""));
    let open = config.contains(&b'o');
    let host_routing = config.contains(&b'h');
    let (table, api) =
        APIS.with(|apis| apis[usize::from(open) * 2 + usize::from(host_routing)].clone());
    let mut fuzz = Fuzz {
        api,
        table,
        model: Model::default(),
        open,
        host_routing,
    };
    // Parsing a padded 1 MiB body is slow: one per input.
    let mut padded = false;
    for record in split_all(rest, b"\n###\n").take(MAX_REQUESTS) {
        if let Some(request) = parse_record(record, &mut padded) {
            fuzz.check(request);
        }
    }
    fuzz.finish();
});

thread_local! {
    /// One API per configuration (open or token, host routing or not),
    /// reused: a table has 1024 shards, too many to build per input. Each
    /// input leaves its table empty again (checked in `Fuzz::finish`).
    static APIS: Vec<(Arc<RouteTable>, Arc<Api>)> = (0..4)
        .map(|i| {
            let table = Arc::new(RouteTable::default());
            let token = (i < 2).then(|| TOKEN.to_owned());
            let api = Api::new(Arc::clone(&table), token).with_host_routing(i % 2 == 1);
            (table, Arc::new(api))
        })
        .collect();
}

/// A stored route as the model sees it: target and data (no `last_activity`).
type Stored = (String, Map<String, Value>);

struct Fuzz {
    api: Arc<Api>,
    table: Arc<RouteTable>,
    model: Model<Stored>,
    open: bool,
    host_routing: bool,
}

/// One request to send, with the body as frames.
struct FuzzRequest {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    chunks: Vec<Bytes>,
    error: bool,
    /// The body without the padding (spaces, so the same JSON).
    json: Bytes,
}

/// What the model expects.
enum Expect {
    Status(u16),
    /// A listing whose `inactive_since` filter the model does not parse.
    Listing,
    /// The exact key, what is stored, and the URL path it was posted to.
    Created(String, Stored, String),
    /// The exact key.
    Deleted(String),
}

impl Fuzz {
    fn check(&mut self, req: FuzzRequest) {
        let expect = self.expect(&req);
        // The route the request addresses, as the API cleans paths (twice).
        let key = api_tail(req.uri.path())
            .and_then(decode_strict)
            .map(|path| normalize(&normalize(&path)));
        let before = key.as_deref().and_then(|key| self.stored(key));
        let whole_table =
            req.method == Method::GET && matches!(api_tail(req.uri.path()), Some("" | "/"));
        let desc = format!("{} {}", req.method, req.uri);
        let (status, content_type, body) = self.send(req);
        assert!(
            DOCUMENTED.contains(&status),
            "{desc}: undocumented {status}"
        );
        match &expect {
            Expect::Status(want) => assert_eq!(status, *want, "{desc}: {body:?}"),
            Expect::Listing => assert!(matches!(status, 200 | 400), "{desc}: {status}"),
            Expect::Created(..) => assert_eq!(status, 201, "{desc}: {body:?}"),
            Expect::Deleted(_) => assert_eq!(status, 204, "{desc}: {body:?}"),
        }
        if status == 200 {
            assert_eq!(content_type.as_deref(), Some("application/json"), "{desc}");
            let value: Value = serde_json::from_slice(&body).expect("200 bodies are JSON");
            let object = value.as_object().expect("200 bodies are objects");
            if whole_table {
                let keys = self.model.keys();
                for key in object.keys() {
                    assert!(
                        key.starts_with('/') && keys.contains(key),
                        "{desc}: key {key}"
                    );
                }
            }
        } else {
            assert_eq!(content_type, None, "{desc}: {status}");
        }
        if matches!(status, 201 | 204 | 403) {
            assert!(body.is_empty(), "{desc}: {status} with a body");
        }
        match expect {
            Expect::Created(key, stored, url) => {
                self.model.insert_key(key.clone(), stored.clone());
                self.check_single(&key, &url, &stored);
            }
            Expect::Deleted(key) => {
                assert!(self.model.remove_key(&key));
                assert_eq!(self.stored(&key), None, "{desc}: still there");
            }
            // Cheap per request; `finish` compares the whole table.
            _ => assert_eq!(
                key.as_deref().and_then(|key| self.stored(key)),
                before,
                "{desc}: {status} changed the table"
            ),
        }
    }

    /// The whole table equals the model; then empties it for the next input.
    fn finish(self) {
        self.check_table();
        for route in &self.model.routes {
            assert!(self.table.remove(&format!("{}/", route.key)));
        }
        assert!(self.table.is_empty(), "routes the model does not know");
    }

    /// What the table stores under exactly `key`.
    fn stored(&self, key: &str) -> Option<Stored> {
        // `K/` is cleaned (once, by the table) back to `K`.
        let route = self.table.get(&format!("{key}/"))?;
        Some((route.target().to_owned(), route.data().clone()))
    }

    /// The status (and table change) the spec predicts for `req`.
    fn expect(&self, req: &FuzzRequest) -> Expect {
        let Some(tail) = api_tail(req.uri.path()) else {
            return Expect::Status(404);
        };
        if !matches!(req.method, Method::GET | Method::POST | Method::DELETE) {
            return Expect::Status(405);
        }
        let Some(path) = decode_strict(tail) else {
            return Expect::Status(400);
        };
        let allowed = self.open
            || token_matches(
                req.headers
                    .get(AUTHORIZATION)
                    .filter(|v| v.to_str().is_ok())
                    .map(HeaderValue::as_bytes),
                TOKEN,
            );
        if req.method == Method::POST {
            // The body is read and parsed before the token is checked.
            let mut size = 0;
            for chunk in &req.chunks {
                size += chunk.len();
                if size > MAX_BODY {
                    return Expect::Status(413);
                }
            }
            if req.error {
                return Expect::Status(400);
            }
            let Ok(value) = serde_json::from_slice::<Value>(&req.json) else {
                return Expect::Status(400);
            };
            if !allowed {
                return Expect::Status(403);
            }
            let mut data = match value {
                Value::Object(map) => map,
                Value::Null => Map::new(),
                _ => return Expect::Status(400),
            };
            let Some(Value::String(target)) = data.remove("target") else {
                return Expect::Status(400);
            };
            data.remove("last_activity");
            // CHP cleans the path in its handler and again in its store, so
            // `/a//` is stored as `/a`; the host comes from the first pass.
            let once = normalize(if path.is_empty() { "/" } else { &path });
            if self.host_routing && once != "/" {
                let host = once[1..].split('/').next().unwrap_or_default();
                data.insert("host".into(), Value::String(host.to_owned()));
            }
            let url = req.uri.path().to_owned();
            return Expect::Created(normalize(&once), (target, data), url);
        }
        if !allowed {
            return Expect::Status(403);
        }
        // GET and DELETE address a route as POST does (cleaned twice).
        let key = normalize(&normalize(&path));
        let stored = self.model.get_key(&key).is_some();
        match req.method {
            Method::DELETE if stored => Expect::Deleted(key),
            Method::DELETE => Expect::Status(404),
            _ if path.is_empty() || path == "/" => {
                if req.uri.query().unwrap_or_default().contains("inactive") {
                    Expect::Listing
                } else {
                    Expect::Status(200)
                }
            }
            _ if stored => Expect::Status(200),
            _ => Expect::Status(404),
        }
    }

    fn send(&self, req: FuzzRequest) -> (u16, Option<String>, Bytes) {
        let mut frames: VecDeque<Result<Bytes, FuzzError>> =
            req.chunks.into_iter().map(Ok).collect();
        if req.error {
            frames.push_back(Err(FuzzError));
        }
        let mut request = Request::new(FuzzBody { frames });
        *request.method_mut() = req.method;
        *request.uri_mut() = req.uri;
        *request.headers_mut() = req.headers;
        let api = Arc::clone(&self.api);
        runtime().block_on(async move {
            let response = api.handle(request).await;
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .map(|v| v.to_str().unwrap_or("<binary>").to_owned());
            let body = response
                .into_body()
                .collect()
                .await
                .expect("API bodies do not fail")
                .to_bytes();
            (status, content_type, body)
        })
    }

    /// An authorized GET of `uri` through the API.
    fn get(&self, uri: &str) -> Option<(u16, Value)> {
        let uri = uri.parse().ok()?;
        let mut headers = HeaderMap::new();
        if !self.open {
            headers.insert(AUTHORIZATION, HeaderValue::from_static("token secret"));
        }
        let req = FuzzRequest {
            method: Method::GET,
            uri,
            headers,
            chunks: Vec::new(),
            error: false,
            json: Bytes::new(),
        };
        let (status, _, body) = self.send(req);
        let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Some((status, value))
    }

    /// A route that was just created is visible at the URL it was posted
    /// to, and at its key's own URL (`K//` cleans back to `K` twice).
    fn check_single(&self, key: &str, url: &str, stored: &Stored) {
        let listing = api_tail(url)
            .and_then(decode_strict)
            .is_some_and(|path| path.is_empty() || path == "/");
        let (status, value) = self.get(url).expect("the POST's URL is valid");
        assert_eq!(status, 200, "GET {url:?} after POST");
        if !listing {
            assert_eq!(route_of(&value), Some(stored.clone()), "GET {url:?}");
        }
        let own = format!("/api/routes{}//", encode_path(key));
        let Some((status, value)) = self.get(&own) else {
            return; // too long for a URI
        };
        assert_eq!(status, 200, "GET {own:?} after POST");
        assert_eq!(route_of(&value), Some(stored.clone()), "GET {own:?}");
    }

    /// The whole table through the API equals the model, and so does the
    /// table itself.
    fn check_table(&self) {
        let (status, value) = self.get("/api/routes").expect("valid URI");
        assert_eq!(status, 200);
        let object = value.as_object().expect("the table is a JSON object");
        let listed: Vec<(String, Option<Stored>)> = object
            .iter()
            .map(|(key, route)| (key.clone(), route_of(route)))
            .collect();
        let mut want: Vec<(String, Option<Stored>)> = self
            .model
            .routes
            .iter()
            .map(|r| (r.key.clone(), Some(r.value.clone())))
            .collect();
        want.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(listed, want, "listing differs from the model");
        let direct: Vec<(String, Stored)> = self
            .snapshot()
            .into_iter()
            .map(|(key, target, data)| (key, (target, data)))
            .collect();
        let want: Vec<(String, Stored)> = want
            .into_iter()
            .map(|(key, stored)| (key, stored.unwrap_or_default()))
            .collect();
        assert_eq!(direct, want, "table differs from the model");
    }

    fn snapshot(&self) -> Vec<(String, String, Map<String, Value>)> {
        self.table
            .all()
            .iter()
            .map(|r| (r.path().to_owned(), r.target().to_owned(), r.data().clone()))
            .collect()
    }
}

/// A listed route object back as (target, data), checking `last_activity`
/// has JavaScript's `Date` JSON form (`2026-11-22T10:24:06.006Z`).
fn route_of(value: &Value) -> Option<Stored> {
    let mut data = value.as_object()?.clone();
    let Some(Value::String(target)) = data.remove("target") else {
        return None;
    };
    let Some(Value::String(when)) = data.remove("last_activity") else {
        return None;
    };
    assert!(
        when.len() == 24 && when.ends_with('Z') && when.as_bytes()[10] == b'T',
        "last_activity {when:?}"
    );
    Some((target, data))
}

/// The `(/.*)?` tail of `^/api/routes(/.*)?$`.
fn api_tail(path: &str) -> Option<&str> {
    let tail = path.strip_prefix("/api/routes")?;
    (tail.is_empty() || tail.starts_with('/')).then_some(tail)
}

fn parse_record(record: &[u8], padded: &mut bool) -> Option<FuzzRequest> {
    let (head, body) = split_once(record, b"\n\n").unwrap_or((record, b""));
    let mut lines = split_all(head, b"\n");
    let (method, uri) = split_once(lines.next()?, b" ")?;
    let method = Method::from_bytes(method).ok()?;
    let uri = Uri::try_from(uri).ok()?;
    let mut headers = HeaderMap::new();
    let (mut chunks, mut error, mut size) = (1, false, None);
    for line in lines {
        let Some((name, value)) = split_once(line, b":") else {
            continue;
        };
        let value = value.trim_ascii();
        match name.trim_ascii() {
            b"x-fuzz-chunks" => chunks = number(value).clamp(1, 64),
            b"x-fuzz-error" => error = true,
            b"x-fuzz-size" if !*padded => {
                size = body_size(value);
                *padded = size.is_some();
            }
            name => {
                let (Ok(name), Ok(value)) =
                    (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
                else {
                    continue;
                };
                headers.append(name, value);
            }
        }
    }
    let json = Bytes::copy_from_slice(body);
    let body = match size {
        Some(size) if size > body.len() => {
            let mut body = body.to_vec();
            body.resize(size, b' ');
            Bytes::from(body)
        }
        _ => json.clone(),
    };
    let step = body.len().div_ceil(chunks).max(1);
    let chunks = (0..body.len())
        .step_by(step)
        .map(|at| body.slice(at..(at + step).min(body.len())))
        .collect();
    Some(FuzzRequest {
        method,
        uri,
        headers,
        chunks,
        error,
        json,
    })
}

/// `max`, `max-N`, `max+N`: a size around the API's body limit (N ≤ 64).
fn body_size(value: &[u8]) -> Option<usize> {
    match value {
        [b'm', b'a', b'x', b'-', n @ ..] => Some(MAX_BODY - number(n).min(64)),
        [b'm', b'a', b'x', b'+', n @ ..] => Some(MAX_BODY + number(n).min(64)),
        b"max" => Some(MAX_BODY),
        _ => None,
    }
}

fn number(digits: &[u8]) -> usize {
    digits
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0usize, |n, &d| {
            n.saturating_mul(10).saturating_add(usize::from(d - b'0'))
        })
}

fn split_once<'a>(data: &'a [u8], sep: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    let at = data.windows(sep.len()).position(|w| w == sep)?;
    Some((&data[..at], &data[at + sep.len()..]))
}

fn split_all<'a>(mut data: &'a [u8], sep: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        if let Some((item, rest)) = split_once(data, sep) {
            data = rest;
            Some(item)
        } else {
            done = true;
            Some(data)
        }
    })
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
    })
}

/// A request body that yields its frames at once, then maybe an error.
struct FuzzBody {
    frames: VecDeque<Result<Bytes, FuzzError>>,
}

impl http_body::Body for FuzzBody {
    type Data = Bytes;
    type Error = FuzzError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, FuzzError>>> {
        Poll::Ready(self.frames.pop_front().map(|frame| frame.map(Frame::data)))
    }
}

#[derive(Debug)]
struct FuzzError;

impl std::fmt::Display for FuzzError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset (fuzz)")
    }
}

impl std::error::Error for FuzzError {}
