//! Property-based bad input against one real hub: JSON of the wrong type in
//! every write endpoint, malformed and oversized bodies, bad query arguments,
//! arbitrary unicode names and path tricks sent byte-for-byte.
//!
//! Whatever arrives, the hub answers; never 5xx. A refusal is 4xx with the
//! API's `{"status": N, "message": "..."}` body, and a refused request leaves
//! every row of the database as it was.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use support::TestHub;
use support::api::token_for;

/// One request, sent exactly as written.
#[derive(Debug, Clone)]
struct RawRequest {
    method: &'static str,
    /// Already percent-encoded as it should appear on the wire.
    path: String,
    body: Vec<u8>,
    /// Straight to the hub's port instead of through the proxy.
    direct: bool,
}

/// The shared fixture: a hub with named servers, users, a group and an admin token.
struct Fixture {
    hub: TestHub,
    admin_token: String,
    db: String,
    runtime: tokio::runtime::Runtime,
}

impl Fixture {
    fn new() -> Self {
        let hub = TestHub::start(&[
            ("Authenticator", "admin_users = [\"admin\"]"),
            (
                "JupyterHub",
                "allow_named_servers = true\nnamed_server_limit_per_user = 5",
            ),
        ]);
        let admin_token = token_for(&hub, "admin");
        let db = format!(
            "sqlite://{}?mode=ro",
            hub.dir.path().join("ferrohub.sqlite").display()
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let fixture = Self {
            hub,
            admin_token,
            db,
            runtime,
        };
        for (method, path, body) in [
            (
                "POST",
                "/hub/api/users",
                json!({"usernames": ["alice", "bob"]}),
            ),
            ("POST", "/hub/api/groups/staff", json!({"users": ["alice"]})),
            ("PUT", "/hub/api/users/alice/servers/nb", json!({})),
        ] {
            let (status, body) = fixture.send(&RawRequest {
                method,
                path: path.to_owned(),
                body: body.to_string().into_bytes(),
                direct: false,
            });
            assert!(status < 300, "fixture {method} {path}: {status} {body}");
        }
        fixture
    }

    /// Sends `request` over a fresh connection; returns status and body.
    fn send(&self, request: &RawRequest) -> (u16, String) {
        let port = if request.direct {
            self.hub.hub_port
        } else {
            self.hub.public_port
        };
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let head = format!(
            "{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: token {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            request.method,
            request.path,
            self.admin_token,
            request.body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        // The hub may refuse an oversized body before reading it all, and
        // closes the connection after its answer: these errors only matter
        // when no answer arrives, and then they say why.
        let sent = stream.write_all(&request.body);
        let mut raw = Vec::new();
        let received = stream.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "no HTTP answer to {request:?} (sending the body: {sent:?}, \
                     reading: {received:?}): {text:?}"
                )
            });
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// Every row of every table, without the activity timestamps a valid token touches.
    fn snapshot(&self) -> Vec<String> {
        self.runtime.block_on(async {
            // Table and column names come from the hub's own schema, not from input.
            use sqlx::{AssertSqlSafe, Row};
            let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&self.db)
                .await
                .unwrap();
            let tables: Vec<String> =
                sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                    .fetch_all(&mut db)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
            let mut rows = Vec::new();
            for table in tables {
                let columns: Vec<String> =
                    sqlx::query(AssertSqlSafe(format!("PRAGMA table_info(\"{table}\")")))
                        .fetch_all(&mut db)
                        .await
                        .unwrap()
                        .iter()
                        .map(|r| r.get::<String, _>(1))
                        .filter(|c| c != "last_activity")
                        .collect();
                let list = columns
                    .iter()
                    .map(|c| format!("\"{c}\""))
                    .collect::<Vec<_>>()
                    .join(", ");
                let query = format!("SELECT json_array({list}) FROM \"{table}\" ORDER BY rowid");
                for row in sqlx::query(AssertSqlSafe(query))
                    .fetch_all(&mut db)
                    .await
                    .unwrap()
                {
                    rows.push(format!("{table}: {}", row.get::<String, _>(0)));
                }
            }
            rows
        })
    }

    /// Sends `request` and checks the invariants; `refusal` demands that status
    /// (a validation error, not a permission one: the token is an admin's).
    fn check(&self, request: &RawRequest, refusal: Option<u16>) -> Result<(), TestCaseError> {
        let before = self.snapshot();
        let (status, body) = self.send(request);
        prop_assert!(
            status < 500,
            "{} {} answered {status}: {body}",
            request.method,
            request.path
        );
        if let Some(expected) = refusal {
            prop_assert!(
                status == expected,
                "{} {} with {:?}: expected {expected}, got {status}: {body}",
                request.method,
                request.path,
                String::from_utf8_lossy(&request.body)
            );
        }
        if (400..500).contains(&status) {
            let error: Value = serde_json::from_str(&body).map_err(|_| {
                TestCaseError::fail(format!(
                    "{} {} → {status} without a JSON body: {body:?}",
                    request.method, request.path
                ))
            })?;
            prop_assert_eq!(error["status"].as_u64(), Some(u64::from(status)));
            prop_assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
            let after = self.snapshot();
            prop_assert!(
                before == after,
                "{} {} was refused ({status}) but changed the database:\n{}",
                request.method,
                request.path,
                diff(&before, &after)
            );
        }
        Ok(())
    }
}

fn diff(before: &[String], after: &[String]) -> String {
    let gone = before.iter().filter(|r| !after.contains(r));
    let new = after.iter().filter(|r| !before.contains(r));
    gone.map(|r| format!("- {r}\n"))
        .chain(new.map(|r| format!("+ {r}\n")))
        .collect()
}

/// The JSON type a field must have.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Str,
    Bool,
    Int,
    StrList,
    Object,
}

/// A write endpoint: method, path, a valid body, and the type of each field it reads.
type WriteEndpoint = (&'static str, &'static str, Value, Vec<(&'static str, Kind)>);

/// Write endpoints with a valid body and the type of each field they read.
fn write_endpoints() -> Vec<WriteEndpoint> {
    use Kind::*;
    vec![
        (
            "POST",
            "/hub/api/users",
            json!({"usernames": ["newbie"], "admin": false}),
            vec![("usernames", StrList), ("admin", Bool)],
        ),
        (
            "POST",
            "/hub/api/users/newbie",
            json!({"admin": false}),
            vec![("admin", Bool)],
        ),
        (
            "PATCH",
            "/hub/api/users/alice",
            json!({"name": "alicia", "admin": false, "groups": ["staff"]}),
            vec![("name", Str), ("admin", Bool), ("groups", StrList)],
        ),
        (
            "POST",
            "/hub/api/users/alice/tokens",
            json!({"expires_in": 3600, "note": "n", "scopes": ["read:users"], "roles": []}),
            vec![
                ("expires_in", Int),
                ("note", Str),
                ("scopes", StrList),
                ("roles", StrList),
            ],
        ),
        (
            "POST",
            "/hub/api/users/alice/activity",
            json!({"last_activity": "2026-01-01T00:00:00Z", "servers": {}}),
            vec![("last_activity", Str), ("servers", Object)],
        ),
        (
            "POST",
            "/hub/api/groups",
            json!({"groups": ["newgroup"], "users": ["bob"]}),
            vec![("groups", StrList), ("users", StrList)],
        ),
        (
            "POST",
            "/hub/api/groups/newgroup",
            json!({"users": ["bob"]}),
            vec![("users", StrList)],
        ),
        (
            "POST",
            "/hub/api/groups/staff/users",
            json!({"users": ["bob"]}),
            vec![("users", StrList)],
        ),
        (
            "DELETE",
            "/hub/api/groups/staff/users",
            json!({"users": ["alice"]}),
            vec![("users", StrList)],
        ),
        (
            "POST",
            "/hub/api/shares/alice/nb",
            json!({"user": "bob", "scopes": ["access:servers!server=alice/nb"]}),
            vec![("user", Str), ("scopes", StrList)],
        ),
        (
            "POST",
            "/hub/api/shares/alice/nb",
            json!({"group": "staff"}),
            vec![("group", Str)],
        ),
        (
            "POST",
            "/hub/api/share-codes/alice/nb",
            json!({"expires_in": 3600, "scopes": []}),
            vec![("expires_in", Int), ("scopes", StrList)],
        ),
    ]
}

/// Any JSON value whose type is not `kind` (and not null, which some fields accept).
fn wrong_value(kind: Kind) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
    ];
    let value = leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    value.prop_filter("must be of the wrong type", move |v| match kind {
        Kind::Str => !v.is_string(),
        Kind::Bool => !v.is_boolean(),
        Kind::Int => !v.is_i64() && !v.is_u64(),
        Kind::StrList => !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        Kind::Object => !v.is_object(),
    })
}

/// A write endpoint's valid body with one field replaced by a value of the wrong type.
fn wrong_type_request() -> impl Strategy<Value = RawRequest> {
    let endpoints = write_endpoints();
    (0..endpoints.len())
        .prop_flat_map(move |i| {
            let (method, path, body, fields) = endpoints[i].clone();
            (0..fields.len()).prop_flat_map(move |f| {
                let (field, kind) = fields[f];
                let body = body.clone();
                wrong_value(kind).prop_map(move |bad| {
                    let mut body = body.clone();
                    body[field] = bad;
                    RawRequest {
                        method,
                        path: path.to_owned(),
                        body: body.to_string().into_bytes(),
                        direct: false,
                    }
                })
            })
        })
        .boxed()
}

/// A write endpoint with a body that is not a JSON object: another JSON type, or not JSON.
fn not_an_object_request() -> impl Strategy<Value = RawRequest> {
    let endpoints = write_endpoints();
    let body = prop_oneof![
        Just(b"[]".to_vec()),
        Just(b"\"text\"".to_vec()),
        Just(b"42".to_vec()),
        Just(b"{\"admin\": tru".to_vec()),
        Just(b"\xff\xfe{}".to_vec()),
        prop::collection::vec(any::<u8>(), 1..64)
            .prop_filter("not JSON", |b| serde_json::from_slice::<Value>(b).is_err()),
    ];
    (0..endpoints.len(), body).prop_map(move |(i, body)| {
        let (method, path, ..) = endpoints[i].clone();
        RawRequest {
            method,
            path: path.to_owned(),
            body,
            direct: false,
        }
    })
}

/// Percent-encodes every byte outside the unreserved set.
fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Arbitrary unicode user, group, server and token names in every name position.
fn unicode_name_request() -> impl Strategy<Value = RawRequest> {
    let name = prop_oneof![
        "\\PC{1,24}",
        ".{1,8}",
        Just("..".to_owned()),
        Just(".".to_owned()),
        Just("a/b".to_owned()),
        Just("\u{0}".to_owned()),
        Just("x".repeat(5000)),
        Just(" carol ".to_owned()),
        Just("CAROL".to_owned()),
        Just("\u{202e}evil".to_owned()),
    ];
    let template = prop::sample::select(vec![
        ("GET", "/hub/api/users/{}"),
        ("POST", "/hub/api/users/{}"),
        ("DELETE", "/hub/api/users/{}"),
        ("GET", "/hub/api/users/{}/tokens"),
        ("GET", "/hub/api/users/alice/tokens/{}"),
        ("DELETE", "/hub/api/users/alice/tokens/{}"),
        ("GET", "/hub/api/users/alice/servers/{}"),
        ("PUT", "/hub/api/users/alice/servers/{}"),
        ("DELETE", "/hub/api/users/alice/servers/{}"),
        ("GET", "/hub/api/groups/{}"),
        ("POST", "/hub/api/groups/{}"),
        ("DELETE", "/hub/api/groups/{}"),
        ("GET", "/hub/api/services/{}"),
        ("GET", "/hub/api/shares/{}"),
        ("GET", "/hub/api/shares/alice/{}"),
        ("GET", "/hub/api/authorizations/token/{}"),
    ]);
    (template, name).prop_map(|((method, template), name)| RawRequest {
        method,
        path: template.replace("{}", &encode(&name)),
        body: b"{}".to_vec(),
        direct: false,
    })
}

/// Raw paths built from traversal, encoding and separator tricks.
fn path_trick_request() -> impl Strategy<Value = RawRequest> {
    let piece = prop::sample::select(vec![
        "..",
        ".",
        "%2e%2e",
        "%2E%2e",
        "%2F",
        "%2f..%2f",
        "%00",
        "%ff%fe",
        "%",
        "%zz",
        "",
        "carol",
        "users",
        "nobody",
        "servers",
        "tokens",
        "groups",
        ";",
        "%3B",
        "~",
        "%C0%AE",
        "%E2%80%AE",
        "\\",
        "%5C",
    ]);
    let method = prop::sample::select(vec!["GET", "POST", "PUT", "PATCH", "DELETE"]);
    (method, prop::collection::vec(piece, 1..6)).prop_map(|(method, pieces)| RawRequest {
        method,
        path: format!("/hub/api/{}", pieces.join("/")),
        body: Vec::new(),
        // ferrohub-proxy answers 500 for undecodable paths, as CHP does; the hub
        // is what is under test here.
        direct: true,
    })
}

/// Query arguments of the wrong shape: paging on both listings, sort and state
/// on the user list (upstream's group list has neither and ignores them).
fn bad_query_request() -> impl Strategy<Value = RawRequest> {
    // Upstream takes any Python int (negative ones as their absolute value).
    let paging = "(offset|limit)=([a-z]{1,5}|1e9|1\\.5|0x10|%00|)";
    let listing = prop::sample::select(vec!["/hub/api/users", "/hub/api/groups"]);
    let paged = (listing, paging).prop_map(|(path, arg)| format!("{path}?{arg}"));
    let user_only = prop_oneof![
        "sort=[a-z_]{1,12}".prop_filter("not a known sort", |s| {
            !["sort=id", "sort=name", "sort=last_activity"].contains(&s.as_str())
        }),
        "state=[a-z]{1,10}".prop_filter("not a known state", |s| {
            !["state=active", "state=ready", "state=inactive"].contains(&s.as_str())
        }),
    ]
    .prop_map(|arg| format!("/hub/api/users?{arg}"));
    prop_oneof![paged, user_only].prop_map(|path| RawRequest {
        method: "GET",
        path,
        body: Vec::new(),
        direct: false,
    })
}

fn run(
    fixture: &Fixture,
    cases: u32,
    strategy: impl Strategy<Value = RawRequest>,
    refusal: Option<u16>,
) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(failure) = runner.run(&strategy, |request| fixture.check(&request, refusal)) {
        panic!("{failure}\nhub log:\n{}", tail(&fixture.hub.log()));
    }
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

#[test]
fn bad_input_is_refused_with_json_and_changes_nothing() {
    let fixture = Fixture::new();

    // Oversized and pathologically nested bodies.
    let mut huge = b"{\"usernames\": [".to_vec();
    while huge.len() < 3 * 1024 * 1024 {
        huge.extend_from_slice(b"\"someone-with-a-long-name\",");
    }
    huge.extend_from_slice(b"\"last\"]}");
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for (path, body, status) in [
        ("/hub/api/users", huge, 413),
        ("/hub/api/users", nested.clone().into_bytes(), 400),
        ("/hub/api/groups/staff/users", nested.into_bytes(), 400),
    ] {
        let request = RawRequest {
            method: "POST",
            path: path.to_owned(),
            body,
            direct: false,
        };
        fixture
            .check(&request, Some(status))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    run(&fixture, 160, wrong_type_request(), Some(400));
    run(&fixture, 48, not_an_object_request(), Some(400));
    run(&fixture, 48, bad_query_request(), Some(400));
    run(&fixture, 96, unicode_name_request(), None);
    run(&fixture, 96, path_trick_request(), None);

    // The fixture data survived all of it.
    let (status, body) = fixture.send(&RawRequest {
        method: "GET",
        path: "/hub/api/groups/staff".to_owned(),
        body: Vec::new(),
        direct: false,
    });
    assert_eq!(status, 200, "{body}");
    let group: Value = serde_json::from_str(&body).unwrap();
    assert!(
        group["users"].as_array().unwrap().contains(&json!("alice")),
        "{group}"
    );
}
