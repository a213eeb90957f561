//! Conformance with upstream's REST API spec: every path + method of
//! `tests/data/rest-api.json` (JupyterHub 6.1.1's OpenAPI document) is called
//! on a real hub, once by a caller the spec's `security` section allows (the
//! precise scopes, minted as a token) and once by a caller without rights on
//! that resource. Allowed calls must answer a documented success status with a
//! body that validates against the response schema; refused calls must answer
//! what upstream's `needs_scope` answers (403, or 404 where a filtered scope
//! would otherwise reveal that the resource exists).
//!
//! Where the spec disagrees with upstream's real handlers (section 2 of the
//! research notes, `jupyterhub/apihandlers/*.py`), the handlers win; every such
//! correction is listed in [`upstream_corrections`], [`openapi::SCOPE_CORRECTIONS`] or a
//! case's `expect`, with the reason.
//!
//! Mismatches are collected and reported together at the end.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use support::api::token_for;
use support::browser::{Browser, hidden_xsrf, urlencode};
use support::openapi::{self, Mode, Operation, Spec};
use support::{PROXY_TOKEN, TestHub};

/// The service's API token (also its OAuth client secret).
const SERVICE_TOKEN: &str = "conformance-service-token-0123456789";
/// The service's OAuth redirect URI (upstream's default for a service with a url).
const SERVICE_REDIRECT: &str = "/services/svc/oauth_callback";
/// A past timestamp for activity reports (activity never moves back, so any
/// past value is accepted).
const PAST: &str = "2024-01-02T03:04:05.000006Z";

// ---------------------------------------------------------------------------
// Where the spec is wrong about upstream's handlers.

/// Makes the schema at `pointer` accept null as well (upstream writes `None`
/// there; the spec forgot `"null"` in the type).
fn nullable(raw: &mut Value, pointer: &str) {
    let schema = raw
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("correction points nowhere: {pointer}"));
    let types = match schema.get("type") {
        Some(Value::String(t)) => vec![json!(t)],
        Some(Value::Array(ts)) => ts.clone(),
        other => panic!("{pointer}: no type to make nullable: {other:?}"),
    };
    let mut types = types;
    if !types.contains(&json!("null")) {
        types.push(json!("null"));
    }
    schema["type"] = Value::Array(types);
    if let Some(values) = schema.get_mut("enum").and_then(Value::as_array_mut)
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
}

/// Corrections of the spec's schemas to what upstream 6.1.1's handlers send.
fn upstream_corrections(raw: &mut Value) {
    let schemas = "/components/schemas";
    // base.py `user_model`: `server` is None unless the default server is ready,
    // `pending` None when nothing is pending, `last_activity` None for users never
    // seen, `user_info` None unless the Authenticator set it, `auth_state` a None
    // placeholder unless the caller has admin:auth_state on GET/PATCH of one user.
    for field in [
        "server",
        "pending",
        "last_activity",
        "user_info",
        "auth_state",
    ] {
        nullable(raw, &format!("{schemas}/User/properties/{field}"));
    }
    // base.py `server_model`: `pending` None when idle; `started` and
    // `last_activity` None for a server that never ran (e.g. created by PUT).
    for field in ["pending", "started", "last_activity"] {
        nullable(raw, &format!("{schemas}/Server/properties/{field}"));
    }
    // base.py `token_model`: `isoformat(None)` for never-used / non-expiring
    // tokens. (`note` stays a string: `APIToken.new` stores '' when none is
    // given, OAuth tokens included.)
    for schema in ["Token", "NewToken"] {
        for field in ["expires_at", "last_activity"] {
            nullable(raw, &format!("{schemas}/{schema}/properties/{field}"));
        }
    }
    // services.py ServiceListAPIHandler writes a dict keyed by service name, not
    // a list (research notes §2.2: "the OpenAPI says array — wrong").
    raw["paths"]["/services"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] = json!({
        "type": "object",
        "additionalProperties": {"$ref": "#/components/schemas/Service"}
    });
    // shares.py UserShareListAPIHandler lists Share models (the spec says
    // ShareCode, a copy-paste slip: it lists shares granted to the user).
    raw["paths"]["/users/{name}/shared"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"]["allOf"][1]["properties"]["items"]["items"] =
        json!({"$ref": "#/components/schemas/Share"});
    // groups.py GroupUsersAPIHandler.delete writes the group model (the spec
    // documents an empty body).
    raw["paths"]["/groups/{name}/users"]["delete"]["responses"]["200"]["content"] = json!({
        "application/json": {"schema": {"$ref": "#/components/schemas/Group"}}
    });
}

/// A token model names its owner as `user` or `service`, never both.
const TOKEN_OWNER: &[&str] = &["user", "service"];

/// Documented statuses upstream's handlers never answer.
const UNREACHABLE_STATUSES: &[(&str, u16, &str)] = &[
    (
        "POST /users/{name}/activity",
        401,
        "needs_scope answers 403 for missing or bad credentials, never 401",
    ),
    (
        "GET /users/{name}/tokens",
        401,
        "needs_scope answers 403 for missing or bad credentials, never 401",
    ),
    (
        "POST /authorizations/token",
        403,
        "removed in 2.0: always 404",
    ),
];

/// Spec operations that are not called at all, with the reason. Empty: every
/// operation runs (`POST /shutdown` last).
const SKIPPED: &[(&str, &str)] = &[];

// ---------------------------------------------------------------------------
// Calls.

/// Who makes a call.
#[derive(Clone)]
enum Caller<'a> {
    /// `Authorization: token ...`, with a label for messages.
    Token(String, String),
    /// No credentials at all.
    Anonymous,
    /// A logged-in browser (login cookie, XSRF header on unsafe methods).
    Session(&'a str, &'a Browser),
}

impl Caller<'_> {
    fn describe(&self) -> String {
        match self {
            Caller::Token(label, _) => format!("token of {label}"),
            Caller::Anonymous => "no credentials".into(),
            Caller::Session(label, _) => format!("login cookie of {label}"),
        }
    }
}

#[derive(Clone)]
enum Body {
    None,
    Json(Value),
    Form(Vec<(&'static str, String)>),
}

/// One request against a spec operation.
#[derive(Clone)]
struct Call<'a> {
    caller: Caller<'a>,
    params: Vec<(&'static str, String)>,
    query: Vec<(&'static str, String)>,
    body: Body,
}

impl<'a> Call<'a> {
    fn by(caller: Caller<'a>) -> Self {
        Self {
            caller,
            params: Vec::new(),
            query: Vec::new(),
            body: Body::None,
        }
    }

    /// A path parameter.
    fn p(mut self, name: &'static str, value: &str) -> Self {
        self.params.push((name, value.to_owned()));
        self
    }

    /// A query argument.
    fn q(mut self, name: &'static str, value: &str) -> Self {
        self.query.push((name, value.to_owned()));
        self
    }

    fn json(mut self, body: Value) -> Self {
        self.body = Body::Json(body);
        self
    }

    fn form(mut self, pairs: &[(&'static str, &str)]) -> Self {
        self.body = Body::Form(pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect());
        self
    }

    fn as_caller(&self, caller: Caller<'a>) -> Self {
        Self {
            caller,
            ..self.clone()
        }
    }
}

/// When an operation runs: reads and harmless writes first, destruction last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// Reads, creations and edits that later operations do not mind.
    Read,
    /// Starting servers (then: wait until they are ready).
    Start,
    /// Stopping them.
    Stop,
    /// Leaving shares (as user and group), deleting share codes and tokens.
    Leave,
    /// Revoking a share (after the leaves above).
    Revoke,
    /// Deleting group members, groups, users, all shares of a server.
    Delete,
    /// The hub goes away.
    Shutdown,
}

/// What a caller without rights gets.
enum Denied<'a> {
    /// `call` must be answered with `status`.
    As(Box<Call<'a>>, u16),
    /// Nobody can be refused.
    Public(&'static str),
}

struct Case<'a> {
    phase: Phase,
    allowed: Call<'a>,
    /// More allowed calls (other kinds of callers), checked the same way.
    also: Vec<Call<'a>>,
    /// Statuses upstream's handler answers where the spec documents others.
    expect: Option<(&'static [u16], &'static str)>,
    denied: Denied<'a>,
    /// Calls that must get one of the operation's documented error statuses.
    errors: Vec<(Call<'a>, u16)>,
    /// Documented properties an admin's read may lack (see [`Mode::optional`]).
    optional: &'static [&'static str],
}

impl<'a> Case<'a> {
    fn new(phase: Phase, allowed: Call<'a>) -> Self {
        Self {
            phase,
            allowed,
            also: Vec::new(),
            expect: None,
            denied: Denied::Public("no refusal case given"),
            errors: Vec::new(),
            optional: &[],
        }
    }

    /// The same call by `caller` must get `status`.
    fn denied(mut self, caller: Caller<'a>, status: u16) -> Self {
        let call = self.allowed.as_caller(caller);
        self.denied = Denied::As(Box::new(call), status);
        self
    }

    /// A different refused call.
    fn denied_call(mut self, call: Call<'a>, status: u16) -> Self {
        self.denied = Denied::As(Box::new(call), status);
        self
    }

    fn public(mut self, why: &'static str) -> Self {
        self.denied = Denied::Public(why);
        self
    }

    /// A call that must be answered with the documented error `status`.
    fn error(mut self, call: Call<'a>, status: u16) -> Self {
        self.errors.push((call, status));
        self
    }

    fn also(mut self, call: Call<'a>) -> Self {
        self.also.push(call);
        self
    }

    fn optional(mut self, properties: &'static [&'static str]) -> Self {
        self.optional = properties;
        self
    }

    fn expect(mut self, statuses: &'static [u16], why: &'static str) -> Self {
        self.expect = Some((statuses, why));
        self
    }
}

/// What came back.
struct Answer {
    status: u16,
    content_type: String,
    text: String,
}

impl Answer {
    fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.text).ok()
    }

    fn brief(&self) -> String {
        let text: String = self.text.chars().take(300).collect();
        format!("{} {text}", self.status)
    }
}

struct Runner {
    base: String,
    client: reqwest::Client,
    mismatches: Vec<String>,
    /// (operation, query argument) pairs some allowed call has sent.
    sent_query: BTreeSet<(String, String)>,
    /// (operation, status) pairs answered as expected.
    covered: BTreeSet<(String, u16)>,
}

impl Runner {
    fn url(&self, op: &Operation, call: &Call<'_>) -> String {
        let mut path = op.path.clone();
        for (name, value) in &call.params {
            path = path.replace(&format!("{{{name}}}"), &urlencode(value));
        }
        let mut url = format!("{}/hub/api{path}", self.base);
        if !call.query.is_empty() {
            let query: Vec<String> = call
                .query
                .iter()
                .map(|(k, v)| format!("{k}={}", urlencode(v)))
                .collect();
            url = format!("{url}?{}", query.join("&"));
        }
        url
    }

    async fn send(&self, op: &Operation, call: &Call<'_>) -> Answer {
        let method: Method = op.method.parse().unwrap();
        let url = self.url(op, call);
        let mut request = match &call.caller {
            Caller::Token(_, token) => self
                .client
                .request(method, &url)
                .header("Authorization", format!("token {token}")),
            Caller::Anonymous => self.client.request(method, &url),
            Caller::Session(_, browser) => {
                let xsrf = browser.cookie("/hub/", "_xsrf").unwrap_or_default();
                browser
                    .single
                    .request(method, &url)
                    .header("X-XSRFToken", xsrf)
            }
        };
        request = match &call.body {
            Body::None => request,
            Body::Json(body) => request.json(body),
            Body::Form(pairs) => request.form(pairs),
        };
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{} {url}: {e}", op.method));
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await.unwrap_or_default();
        Answer {
            status,
            content_type,
            text,
        }
    }

    /// Checks the call itself against the spec: parameters, query and body the
    /// spec documents (a mistake here is the test's, reported all the same).
    fn check_request(&mut self, op: &Operation, call: &Call<'_>) {
        let key = op.key();
        let want: BTreeSet<String> = op.path_params().into_iter().collect();
        let have: BTreeSet<String> = call.params.iter().map(|(k, _)| (*k).to_owned()).collect();
        if want != have {
            self.mismatches.push(format!(
                "{key}: test bug: path parameters {have:?}, the spec has {want:?}"
            ));
        }
        let documented = op.parameters();
        for (name, _) in &call.query {
            self.sent_query.insert((key.clone(), (*name).to_owned()));
            if !documented.iter().any(|(at, n)| at == "query" && n == name) {
                self.mismatches.push(format!(
                    "{key}: test bug: query argument {name:?} is not in the spec"
                ));
            }
        }
        let body = match &call.body {
            Body::None => None,
            Body::Json(value) => Some(("application/json", value.clone())),
            Body::Form(pairs) => Some((
                "application/x-www-form-urlencoded",
                Value::Object(
                    pairs
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), json!(v)))
                        .collect(),
                ),
            )),
        };
        match (op.request_schema(), body) {
            (Some((media, schema)), Some((sent, value))) => {
                if media != sent {
                    self.mismatches.push(format!(
                        "{key}: test bug: sends {sent}, the spec takes {media}"
                    ));
                }
                for problem in openapi::validate(schema, &value) {
                    self.mismatches
                        .push(format!("{key}: test bug: request body {problem}"));
                }
            }
            (None, Some(_)) => self.mismatches.push(format!(
                "{key}: test bug: sends a body the spec does not describe"
            )),
            (Some(_), None) if op.body_required() => self
                .mismatches
                .push(format!("{key}: test bug: the spec requires a request body")),
            _ => {}
        }
    }

    /// An allowed call: a documented success status and a body matching its schema.
    async fn allowed(
        &mut self,
        op: &Operation,
        call: &Call<'_>,
        expect: Option<(&'static [u16], &'static str)>,
        mode: Mode<'_>,
    ) -> Answer {
        self.check_request(op, call);
        let answer = self.send(op, call).await;
        let key = op.key();
        let who = call.caller.describe();
        let expected = expect.map_or_else(|| op.success_codes(), |(codes, _)| codes.to_vec());
        // A transcript, shown when the test fails.
        eprintln!("{key} ({who}) -> {}", answer.status);
        if !expected.contains(&answer.status) {
            let why = expect.map_or_else(String::new, |(_, why)| format!(" ({why})"));
            self.mismatches.push(format!(
                "{key} ({who}): status {}, expected one of {expected:?}{why}: {}",
                answer.status,
                answer.brief()
            ));
            return answer;
        }
        self.covered.insert((key.clone(), answer.status));
        if let Some(schema) = op.response_schema(answer.status) {
            if !answer.content_type.starts_with("application/json") {
                self.mismatches.push(format!(
                    "{key} ({who}): {} answer is {:?}, not JSON",
                    answer.status, answer.content_type
                ));
            }
            match answer.json() {
                Some(body) => {
                    for problem in openapi::validate_with(schema, &body, &mode) {
                        self.mismatches
                            .push(format!("{key} ({who}): body {problem}"));
                    }
                }
                None => self.mismatches.push(format!(
                    "{key} ({who}): body is not JSON: {}",
                    answer.brief()
                )),
            }
        }
        answer
    }

    /// A refused or bad call: exactly the status upstream answers, with its
    /// JSON error body.
    async fn refused(&mut self, op: &Operation, call: &Call<'_>, status: u16) {
        let answer = self.send(op, call).await;
        let key = op.key();
        let who = call.caller.describe();
        eprintln!("{key} ({who}) -> {} (error expected)", answer.status);
        if answer.status != status {
            self.mismatches.push(format!(
                "{key} ({who}): expected error {status}, got {}",
                answer.brief()
            ));
            return;
        }
        self.covered.insert((key.clone(), status));
        // The REST API's errors are `{"status", "message"}`; OAuth endpoints
        // answer with pages or RFC 6749 error objects instead.
        if !op.path.starts_with("/oauth2/") {
            let body = answer.json().unwrap_or_default();
            if body["status"] != json!(status)
                || !body.as_object().is_some_and(|b| b.contains_key("message"))
            {
                self.mismatches.push(format!(
                    "{key} ({who}): error body is not {{\"status\": {status}, \"message\": ...}}: {}",
                    answer.brief()
                ));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Fixtures.

/// Everything the cases use, made before any case runs.
struct Fixtures {
    root: String,
    alice: String,
    carol: String,
    /// A token of root with `read:users:name` only: identifies, may do nothing.
    names_only: String,
    /// A throwaway token of alice's, for GET and DELETE of one token.
    spare_token_id: String,
    /// A share code of alice's `lab` server, to revoke.
    share_code_id: String,
    /// Another one's secret, to revoke by code.
    share_code_secret: String,
    /// An OAuth authorization code issued to the service's client.
    oauth_code: String,
    /// carol's login cookie value, for the deprecated cookie look-up.
    carol_cookie: String,
    root_browser: Browser,
    carol_browser: Browser,
}

/// An admin call for fixtures, which must succeed.
async fn admin(
    client: &reqwest::Client,
    base: &str,
    root: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut request = client
        .request(method.clone(), format!("{base}/hub/api{path}"))
        .header("Authorization", format!("token {root}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(
        status.is_success(),
        "fixture {method} {path}: {status} {text}"
    );
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Logs in with the dummy authenticator.
async fn logged_in(hub: &TestHub, user: &str) -> Browser {
    let browser = Browser::new(&hub.public_url());
    let login = browser.login(user, "any password", None).await;
    assert_eq!(login.status(), 302, "login as {user}");
    browser
}

/// Undoes the HTML escaping templates apply to attribute values.
fn unescape_html(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&#x21;", "!")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Runs the OAuth authorization step as `browser` for the service's client
/// (confirming on the page if the hub asks) and returns the code.
async fn oauth_code(hub: &TestHub, browser: &Browser) -> String {
    let url = format!(
        "{}/hub/api/oauth2/authorize?client_id=service-svc&response_type=code&state=fixture&redirect_uri={}",
        hub.public_url(),
        urlencode(SERVICE_REDIRECT)
    );
    let mut response = browser.single.get(&url).send().await.unwrap();
    if response.status() == 200 {
        // Upstream's confirmation page: a form posting the scopes back with _xsrf.
        let page = response.text().await.unwrap();
        let xsrf = hidden_xsrf(&page).expect("the confirmation form has _xsrf");
        let mut form = vec![("_xsrf".to_owned(), xsrf)];
        for chunk in page.split("name=\"scopes\" value=\"").skip(1) {
            let scope = chunk.split('"').next().unwrap_or_default();
            form.push(("scopes".to_owned(), unescape_html(scope)));
        }
        response = browser.single.post(&url).form(&form).send().await.unwrap();
    }
    assert_eq!(response.status(), 302, "authorize redirects with a code");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let query = location.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("code="))
        .unwrap_or_else(|| panic!("no code in {location}"))
        .to_owned()
}

async fn fixtures(hub: &TestHub) -> Fixtures {
    let base = hub.public_url();
    let client = reqwest::Client::new();
    let root = token_for(hub, "root");
    let call = |method: Method, path: &str, body: Option<Value>| {
        let (client, base, root) = (&client, &base, &root);
        let path = path.to_owned();
        async move { admin(client, base, root, method, &path, body).await }
    };
    for user in ["alice", "bob", "carol", "dave", "ed"] {
        call(Method::POST, &format!("/users/{user}"), None).await;
    }
    let alice = token_for(hub, "alice");
    let carol = token_for(hub, "carol");
    call(
        Method::POST,
        "/groups/team",
        Some(json!({"users": ["alice", "bob"]})),
    )
    .await;
    // A stopped named server to share, read and edit.
    call(
        Method::PUT,
        "/users/alice/servers/lab",
        Some(json!({"display_name": "Lab"})),
    )
    .await;
    call(
        Method::POST,
        "/shares/alice/lab",
        Some(json!({"user": "bob"})),
    )
    .await;
    call(
        Method::POST,
        "/shares/alice/lab",
        Some(json!({"group": "team"})),
    )
    .await;
    let code = call(
        Method::POST,
        "/share-codes/alice/lab",
        Some(json!({"expires_in": 3600})),
    )
    .await;
    let second_code = call(
        Method::POST,
        "/share-codes/alice/lab",
        Some(json!({"expires_in": 3600})),
    )
    .await;
    let spare = call(
        Method::POST,
        "/users/alice/tokens",
        Some(json!({"note": "conformance: to delete"})),
    )
    .await;
    let names_only = call(
        Method::POST,
        "/users/root/tokens",
        Some(json!({"scopes": ["read:users:name"], "note": "conformance: names only"})),
    )
    .await;
    let root_browser = logged_in(hub, "root").await;
    let carol_browser = logged_in(hub, "carol").await;
    let oauth_code = oauth_code(hub, &root_browser).await;
    let carol_cookie = carol_browser
        .cookie("/hub/", "jupyterhub-hub-login")
        .expect("carol's login cookie");
    Fixtures {
        root,
        alice,
        carol,
        names_only: names_only["token"].as_str().unwrap().to_owned(),
        spare_token_id: spare["id"].as_str().unwrap().to_owned(),
        share_code_id: code["id"].as_str().unwrap().to_owned(),
        share_code_secret: second_code["code"].as_str().unwrap().to_owned(),
        oauth_code,
        carol_cookie,
        root_browser,
        carol_browser,
    }
}

// ---------------------------------------------------------------------------
// The cases, keyed by "METHOD /path" exactly as in the spec.

fn cases<'a>(fx: &'a Fixtures) -> BTreeMap<&'static str, Case<'a>> {
    use Phase::*;
    let root = || Caller::Token("root (admin)".into(), fx.root.clone());
    let alice = || Caller::Token("alice".into(), fx.alice.clone());
    // An ordinary user: her own scopes are filtered to herself, so for other
    // users' resources upstream answers 404 (existence is not revealed), and
    // 403 where she holds the scope in no form at all.
    let carol = || Caller::Token("carol (plain user)".into(), fx.carol.clone());
    let names = || Caller::Token("root, read:users:name only".into(), fx.names_only.clone());
    let by = Call::by;
    let page = |call: Call<'a>| call.q("offset", "0").q("limit", "10");
    let mut c = BTreeMap::new();

    c.insert(
        "GET /",
        Case::new(Read, by(Caller::Anonymous)).public("the version is public"),
    );
    c.insert(
        "GET /info",
        Case::new(Read, by(root())).denied(names(), 403),
    );
    c.insert(
        "GET /user",
        Case::new(Read, by(alice()))
            // A browser session: no token_id, a session_id.
            .also(by(Caller::Session("carol", &fx.carol_browser)))
            .also(by(Caller::Token(
                "service svc".into(),
                SERVICE_TOKEN.to_owned(),
            )))
            .denied(Caller::Anonymous, 403),
    );
    // Users.
    c.insert(
        "GET /users",
        Case::new(
            Read,
            by(root())
                .q("include_stopped_servers", "true")
                .q("sort", "name")
                .q("offset", "0")
                .q("limit", "50"),
        )
        .also(
            by(root())
                .q("state", "inactive")
                .q("sort", "-last_activity"),
        )
        .denied(carol(), 403),
    );
    c.insert(
        "POST /users",
        Case::new(
            Read,
            by(root()).json(json!({"usernames": ["erin", "frank"], "admin": false})),
        )
        .denied(names(), 403),
    );
    c.insert(
        "GET /users/{name}",
        Case::new(
            Read,
            by(root())
                .p("name", "alice")
                .q("include_stopped_servers", "true"),
        )
        .denied(carol(), 404),
    );
    c.insert(
        "POST /users/{name}",
        Case::new(Read, by(root()).p("name", "gina")).denied(carol(), 403),
    );
    c.insert(
        "PATCH /users/{name}",
        Case::new(
            Read,
            by(root()).p("name", "bob").json(json!({"admin": false})),
        )
        .denied(carol(), 403),
    );
    c.insert(
        "DELETE /users/{name}",
        Case::new(Delete, by(root()).p("name", "dave")).denied(carol(), 403),
    );
    c.insert(
        "POST /users/{name}/activity",
        Case::new(
            Read,
            by(root()).p("name", "alice").json(json!({
                "last_activity": PAST,
                "servers": {"lab": {"last_activity": PAST}},
            })),
        )
        .error(
            by(root())
                .p("name", "nobody")
                .json(json!({"last_activity": PAST})),
            404,
        )
        .denied(carol(), 404),
    );
    // Servers: alice's default server and `spare` really start and stop.
    c.insert(
        "POST /users/{name}/server",
        Case::new(
            Start,
            by(root())
                .p("name", "alice")
                .json(json!({"user_options": {"conformance": true}})),
        )
        .denied(carol(), 404),
    );
    c.insert(
        "DELETE /users/{name}/server",
        Case::new(Stop, by(root()).p("name", "alice")).denied(carol(), 404),
    );
    c.insert(
        "GET /users/{name}/servers/{server_name}",
        Case::new(Read, by(root()).p("name", "alice").p("server_name", "lab"))
            .error(by(root()).p("name", "alice").p("server_name", "nope"), 404)
            .denied(carol(), 404),
    );
    c.insert(
        "PUT /users/{name}/servers/{server_name}",
        Case::new(
            Read,
            by(root())
                .p("name", "alice")
                .p("server_name", "spare")
                .json(json!({"display_name": "Spare", "user_options": {}})),
        )
        .error(
            by(root())
                .p("name", "alice")
                .p("server_name", "lab")
                .json(json!({})),
            409,
        )
        .denied(carol(), 404),
    );
    c.insert(
        "POST /users/{name}/servers/{server_name}",
        Case::new(
            Start,
            by(root()).p("name", "alice").p("server_name", "spare"),
        )
        .denied(carol(), 404),
    );
    c.insert(
        "PATCH /users/{name}/servers/{server_name}",
        Case::new(
            Read,
            by(root())
                .p("name", "alice")
                .p("server_name", "lab")
                .json(json!({"display_name": "Lab (patched)"})),
        )
        .denied(carol(), 404),
    );
    c.insert(
        "DELETE /users/{name}/servers/{server_name}",
        Case::new(
            Stop,
            by(root())
                .p("name", "alice")
                .p("server_name", "spare")
                .json(json!({"remove": true})),
        )
        .denied(carol(), 404),
    );
    // Shares granted to a user (bob has one on alice/lab).
    c.insert(
        "GET /users/{name}/shared",
        Case::new(Read, by(root()).p("name", "bob")).denied(carol(), 404),
    );
    let bob_share = |caller| {
        by(caller)
            .p("name", "bob")
            .p("owner", "alice")
            .p("server_name", "lab")
    };
    c.insert(
        "GET /users/{name}/shared/{owner}/{server_name}",
        Case::new(Read, bob_share(root())).denied(carol(), 404),
    );
    c.insert(
        "DELETE /users/{name}/shared/{owner}/{server_name}",
        Case::new(Leave, bob_share(root())).denied(carol(), 404),
    );
    // Tokens.
    c.insert(
        "GET /users/{name}/tokens",
        Case::new(Read, by(root()).p("name", "alice"))
            .optional(TOKEN_OWNER)
            // root's include the OAuth token from `POST /oauth2/token` (run before).
            .also(by(root()).p("name", "root"))
            .error(by(root()).p("name", "nobody"), 404)
            .denied(carol(), 404),
    );
    c.insert(
        "POST /users/{name}/tokens",
        Case::new(
            Read,
            by(root()).p("name", "alice").json(json!({
                "note": "conformance",
                "expires_in": 3600,
                "scopes": ["read:users:name!user=alice"],
            })),
        )
        .error(
            by(root())
                .p("name", "alice")
                .json(json!(["not", "a", "dict"])),
            400,
        )
        // Not needs_scope: the handler's own check answers 403 for any target.
        .denied(carol(), 403),
    );
    let spare_token = |caller| {
        by(caller)
            .p("name", "alice")
            .p("token_id", &fx.spare_token_id)
    };
    c.insert(
        "GET /users/{name}/tokens/{token_id}",
        Case::new(Read, spare_token(root()))
            .optional(TOKEN_OWNER)
            .denied(carol(), 404),
    );
    c.insert(
        "DELETE /users/{name}/tokens/{token_id}",
        Case::new(Leave, spare_token(root())).denied(carol(), 404),
    );
    // Groups: carol holds no group scope in any form, so 403 throughout.
    c.insert(
        "GET /groups",
        Case::new(Read, by(root()).q("offset", "0").q("limit", "10")).denied(carol(), 403),
    );
    c.insert(
        "GET /groups/{name}",
        Case::new(Read, by(root()).p("name", "team")).denied(carol(), 403),
    );
    c.insert(
        "POST /groups/{name}",
        Case::new(Read, by(root()).p("name", "newgroup")).denied(carol(), 403),
    );
    c.insert(
        "DELETE /groups/{name}",
        Case::new(Delete, by(root()).p("name", "newgroup")).denied(carol(), 403),
    );
    c.insert(
        "GET /groups/{name}/shared",
        Case::new(Read, by(root()).p("name", "team")).denied(carol(), 403),
    );
    let team_share = |caller| {
        by(caller)
            .p("name", "team")
            .p("owner", "alice")
            .p("server_name", "lab")
    };
    c.insert(
        "GET /groups/{name}/shared/{owner}/{server_name}",
        Case::new(Read, team_share(root())).denied(carol(), 403),
    );
    c.insert(
        "DELETE /groups/{name}/shared/{owner}/{server_name}",
        Case::new(Leave, team_share(root())).denied(carol(), 403),
    );
    c.insert(
        "POST /groups/{name}/users",
        Case::new(
            Read,
            by(root()).p("name", "team").json(json!({"users": ["ed"]})),
        )
        .denied(carol(), 403),
    );
    c.insert(
        "DELETE /groups/{name}/users",
        Case::new(
            Delete,
            by(root()).p("name", "team").json(json!({"users": ["ed"]})),
        )
        .denied(carol(), 403),
    );
    c.insert(
        "PUT /groups/{name}/properties",
        Case::new(
            Read,
            by(root())
                .p("name", "team")
                .json(json!({"course": "physics", "seats": 30})),
        )
        .denied(carol(), 403),
    );
    // Shares of a server (alice/lab). carol has read:shares for her own
    // servers only (404 here), and no `shares` at all (403).
    c.insert(
        "GET /shares/{owner}",
        Case::new(Read, page(by(root()).p("owner", "alice"))).denied(carol(), 404),
    );
    let lab = |caller| by(caller).p("owner", "alice").p("server_name", "lab");
    c.insert(
        "GET /shares/{owner}/{server_name}",
        Case::new(Read, page(lab(root()))).denied(carol(), 404),
    );
    c.insert(
        "POST /shares/{owner}/{server_name}",
        Case::new(
            Read,
            lab(root())
                .json(json!({"user": "dave", "scopes": ["access:servers!server=alice/lab"]})),
        )
        .denied(carol(), 403),
    );
    c.insert(
        "PATCH /shares/{owner}/{server_name}",
        Case::new(Revoke, lab(root()).json(json!({"user": "dave"}))).denied(carol(), 403),
    );
    c.insert(
        "DELETE /shares/{owner}/{server_name}",
        Case::new(Delete, lab(root())).denied(carol(), 403),
    );
    c.insert(
        "GET /share-codes/{owner}",
        Case::new(Read, page(by(root()).p("owner", "alice"))).denied(carol(), 404),
    );
    c.insert(
        "GET /share-codes/{owner}/{server_name}",
        Case::new(Read, page(lab(root()))).denied(carol(), 404),
    );
    c.insert(
        "POST /share-codes/{owner}/{server_name}",
        Case::new(
            Read,
            lab(root())
                .json(json!({"expires_in": 600, "scopes": ["access:servers!server=alice/lab"]})),
        )
        .denied(carol(), 403),
    );
    c.insert(
        "DELETE /share-codes/{owner}/{server_name}",
        Case::new(Leave, lab(root()).q("id", &fx.share_code_id))
            .also(lab(root()).q("code", &fx.share_code_secret))
            .denied(carol(), 403),
    );
    // Services, proxy.
    c.insert(
        "GET /services",
        Case::new(Read, page(by(root()))).denied(carol(), 403),
    );
    c.insert(
        "GET /services/{name}",
        Case::new(Read, by(root()).p("name", "svc")).denied(carol(), 403),
    );
    c.insert(
        "GET /proxy",
        Case::new(Read, by(root()).q("offset", "0").q("limit", "100")).denied(names(), 403),
    );
    c.insert(
        "POST /proxy",
        Case::new(Read, by(root())).denied(names(), 403),
    );
    c.insert(
        "PATCH /proxy",
        Case::new(Read, by(root()).json(json!({"auth_token": PROXY_TOKEN}))).denied(names(), 403),
    );
    // Deprecated look-ups.
    c.insert(
        "POST /authorizations/token",
        Case::new(Read, by(root()))
            .expect(
                &[404],
                "auth.py TokenAPIHandler.post: removed in 2.0, always 404 (the spec still documents it)",
            )
            .denied(Caller::Anonymous, 404),
    );
    c.insert(
        "GET /authorizations/token/{token}",
        // Any token-authenticated caller may look up a token's owner.
        Case::new(Read, by(root()).p("token", &fx.alice))
            .error(by(root()).p("token", "not-a-token"), 404)
            .denied(Caller::Anonymous, 403),
    );
    c.insert(
        "GET /authorizations/cookie/{cookie_name}/{cookie_value}",
        Case::new(
            Read,
            by(root())
                .p("cookie_name", "jupyterhub-hub-login")
                .p("cookie_value", &fx.carol_cookie),
        )
        .error(
            by(root())
                .p("cookie_name", "jupyterhub-hub-login")
                .p("cookie_value", "not-a-cookie"),
            404,
        )
        // `@token_authenticated`: cookie or no credentials are refused.
        .denied(Caller::Anonymous, 403),
    );
    // OAuth provider: root may use the service (admin has access:services), carol may not.
    let authorize = |caller| {
        by(caller)
            .q("client_id", "service-svc")
            .q("response_type", "code")
            .q("state", "conformance")
            .q("redirect_uri", SERVICE_REDIRECT)
    };
    c.insert(
        "GET /oauth2/authorize",
        // Upstream asks the user to confirm a service's access (200, the
        // confirmation page) unless the client is the user's own server.
        Case::new(Read, authorize(Caller::Session("root", &fx.root_browser)))
            .error(
                by(Caller::Session("root", &fx.root_browser))
                    .q("client_id", "no-such-client")
                    .q("response_type", "code")
                    .q("redirect_uri", SERVICE_REDIRECT),
                400,
            )
            .denied(Caller::Session("carol", &fx.carol_browser), 403),
    );
    let token_form = |secret: &str| {
        by(Caller::Anonymous).form(&[
            ("client_id", "service-svc"),
            ("client_secret", secret),
            ("grant_type", "authorization_code"),
            ("code", fx.oauth_code.as_str()),
            ("redirect_uri", SERVICE_REDIRECT),
        ])
    };
    c.insert(
        "POST /oauth2/token",
        // oauthlib answers a wrong client secret with 401 invalid_client.
        Case::new(Read, token_form(SERVICE_TOKEN)).denied_call(token_form("wrong-secret"), 401),
    );
    c.insert(
        "POST /shutdown",
        Case::new(
            Shutdown,
            by(root()).json(json!({"proxy": true, "servers": true})),
        )
        .error(by(root()).json(json!({"proxy": "yes"})), 400)
        .denied(carol(), 403),
    );
    c
}

// ---------------------------------------------------------------------------

/// Waits until alice's servers are in the wanted state; a mismatch if not.
async fn wait_for_servers(
    runner: &mut Runner,
    root: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(150);
    let mut model = Value::Null;
    while Instant::now() < deadline {
        let response = runner
            .client
            .get(format!("{}/hub/api/users/alice", runner.base))
            .header("Authorization", format!("token {root}"))
            .send()
            .await
            .unwrap();
        model = response.json().await.unwrap_or_default();
        if done(&model) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    runner.mismatches.push(format!(
        "alice's servers never became {what}: {}",
        model["servers"]
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_spec_operation_behaves_like_upstream() {
    let mut raw = openapi::load_raw();
    upstream_corrections(&mut raw);
    let spec = Spec::resolve(raw).expect("the spec resolves");

    // The service: anything answering HTTP at its url will do.
    let service = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let service_port = service.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut stream, _)) = service.accept().await {
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                if let Err(e) = stream.read(&mut buffer).await {
                    eprintln!("test service: reading a request: {e}");
                    return;
                }
                let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                if let Err(e) = stream.write_all(answer).await {
                    eprintln!("test service: answering: {e}");
                }
            });
        }
    });
    let jh = format!(
        r#"allow_named_servers = true
services = [{{ name = "svc", url = "http://127.0.0.1:{service_port}", api_token = "{SERVICE_TOKEN}", info = {{ purpose = "conformance" }} }}]"#
    );
    let hub = TestHub::start(&[
        ("Authenticator", "admin_users = [\"root\"]"),
        ("JupyterHub", &jh),
    ]);
    let fx = fixtures(&hub).await;
    let mut runner = Runner {
        base: hub.public_url(),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        mismatches: Vec::new(),
        sent_query: BTreeSet::new(),
        covered: BTreeSet::new(),
    };

    // Walk the spec; every operation needs a case or a reasoned skip.
    let mut cases = cases(&fx);
    let mut plan: Vec<(Operation, Case<'_>)> = Vec::new();
    for op in spec.operations() {
        let key = op.key();
        if let Some(case) = cases.remove(key.as_str()) {
            plan.push((op, case));
        } else if !SKIPPED.iter().any(|(k, _)| *k == key) {
            runner
                .mismatches
                .push(format!("{key}: in the spec but never exercised"));
        }
    }
    for key in cases.keys() {
        runner.mismatches.push(format!(
            "{key}: a case for an operation the spec does not have"
        ));
    }
    // Phases order the run; within one, operations keep the order of
    // `Spec::operations` (by path, then method: serde_json maps are sorted).
    plan.sort_by_key(|(_, case)| case.phase);

    let mut minted: BTreeMap<Vec<String>, String> = BTreeMap::new();
    let mut phase = Phase::Read;
    for (op, case) in &plan {
        if case.phase != phase {
            match phase {
                Phase::Start => {
                    wait_for_servers(&mut runner, &fx.root, "ready", |m| {
                        m["servers"][""]["ready"] == true && m["servers"]["spare"]["ready"] == true
                    })
                    .await;
                    // Running servers' models, complete, as the admin sees them.
                    if let Some(get_user) = spec
                        .operations()
                        .into_iter()
                        .find(|o| o.key() == "GET /users/{name}")
                    {
                        let call = Call::by(Caller::Token("root (admin)".into(), fx.root.clone()))
                            .p("name", "alice");
                        let complete = Mode {
                            complete: true,
                            optional: &[],
                        };
                        let answer = runner.allowed(&get_user, &call, None, complete).await;
                        let model = answer.json().unwrap_or_default();
                        let running = &model["servers"][""];
                        if running["user_options"] != json!({"conformance": true})
                            || running["state"].get("pid").is_none()
                        {
                            runner.mismatches.push(format!(
                                "GET /users/{{name}}: alice's running default server lacks the user_options it was started with or its state: {running}"
                            ));
                        }
                    }
                }
                Phase::Stop => {
                    wait_for_servers(&mut runner, &fx.root, "stopped", |m| {
                        m["servers"]
                            .as_object()
                            .is_some_and(serde_json::Map::is_empty)
                    })
                    .await;
                }
                _ => {}
            }
            phase = case.phase;
        }
        let key = op.key();
        // Refused first, while the resource certainly exists; then the
        // documented errors.
        match &case.denied {
            Denied::As(call, status) => runner.refused(op, call, *status).await,
            Denied::Public(why) => eprintln!("{key}: no refusal to check: {why}"),
        }
        for (call, status) in &case.errors {
            if !op.documented_codes().contains(status) {
                runner
                    .mismatches
                    .push(format!("{key}: test bug: error {status} is not documented"));
            }
            runner.refused(op, call, *status).await;
        }
        // Allowed: with exactly the scopes the spec (corrected) names, minted
        // as a token of the admin; otherwise as the case's caller.
        let scopes: Vec<String> = openapi::handler_scopes(op);
        let mut allowed = case.allowed.clone();
        if !scopes.is_empty() && matches!(allowed.caller, Caller::Token(..)) {
            let token = match minted.get(&scopes) {
                Some(token) => token.clone(),
                None => {
                    let made = admin(
                        &runner.client,
                        &runner.base,
                        &fx.root,
                        Method::POST,
                        "/users/root/tokens",
                        // `(no_scope)` is no grantable scope (upstream refuses it
                        // for tokens): a token with no scopes at all is meant.
                        Some(json!({
                            "scopes": scopes.iter().filter(|s| *s != "(no_scope)").collect::<Vec<_>>(),
                            "note": format!("conformance: {key}"),
                        })),
                    )
                    .await;
                    let token = made["token"].as_str().unwrap().to_owned();
                    minted.insert(scopes.clone(), token.clone());
                    token
                }
            };
            allowed = allowed.as_caller(Caller::Token(format!("root with {scopes:?}"), token));
        }
        runner
            .allowed(op, &allowed, case.expect, Mode::default())
            .await;
        // Reads again as admin, who sees every field of the models: then
        // every property the spec documents must be there.
        if op.method == "GET" && matches!(allowed.caller, Caller::Token(..)) && !scopes.is_empty() {
            let as_admin = allowed.as_caller(Caller::Token("root (admin)".into(), fx.root.clone()));
            let complete = Mode {
                complete: true,
                optional: case.optional,
            };
            runner.allowed(op, &as_admin, case.expect, complete).await;
        }
        for call in &case.also {
            runner.allowed(op, call, case.expect, Mode::default()).await;
        }
        if key == "POST /shutdown" {
            let deadline = Instant::now() + Duration::from_secs(30);
            while support::http_get_status(hub.hub_port, "/hub/api").is_some() {
                if Instant::now() > deadline {
                    runner
                        .mismatches
                        .push("POST /shutdown: the hub still answers after 30 s".into());
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    // Every documented error status is seen, unless upstream never answers
    // it (alternative successes such as 201/202 depend on timing: one will do,
    // and every allowed call already had to get one).
    for (op, _) in &plan {
        for status in op.documented_codes() {
            if (200..300).contains(&status) {
                continue;
            }
            let key = op.key();
            let unreachable = UNREACHABLE_STATUSES
                .iter()
                .any(|(k, s, _)| *k == key && *s == status);
            if !unreachable && !runner.covered.contains(&(key.clone(), status)) {
                runner
                    .mismatches
                    .push(format!("{key}: documented status {status} never exercised"));
            }
        }
    }
    // Every documented query argument is used at least once.
    for (op, _) in &plan {
        for (at, name) in op.parameters() {
            if at == "query" && !runner.sent_query.contains(&(op.key(), name.clone())) {
                runner.mismatches.push(format!(
                    "{}: test bug: documented query argument {name:?} never sent",
                    op.key()
                ));
            }
        }
    }

    let skipped: Vec<String> = SKIPPED
        .iter()
        .map(|(k, why)| format!("{k}: {why}"))
        .collect();
    assert!(
        runner.mismatches.is_empty(),
        "{} mismatch(es) with upstream's REST API (skipped: {skipped:?}):\n  {}\n\nhub log:\n{}",
        runner.mismatches.len(),
        runner.mismatches.join("\n  "),
        hub.log()
    );
}

// ---------------------------------------------------------------------------
// The validator itself must be able to fail.

mod validator {
    use super::support::openapi::{Spec, is_iso8601_utc, validate};
    use serde_json::json;

    fn spec() -> Spec {
        let mut raw = super::support::openapi::load_raw();
        super::upstream_corrections(&mut raw);
        Spec::resolve(raw).unwrap()
    }

    #[test]
    fn types_nullable_and_type_lists() {
        let schema = json!({"type": "object", "properties": {
            "a": {"type": "string"},
            "b": {"type": ["string", "null"]},
            "c": {"type": "integer", "nullable": true},
            "d": {"type": "number"},
        }});
        assert!(validate(&schema, &json!({"a": "x", "b": null, "c": null, "d": 1.5})).is_empty());
        let problems = validate(&schema, &json!({"a": null, "b": 3, "c": 1.5, "d": "1"}));
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(
            problems[0].starts_with("$.a: expected string, got null"),
            "{problems:?}"
        );
        assert!(validate(&json!({"type": "array"}), &json!({})).len() == 1);
    }

    #[test]
    fn required_additional_properties_items_enum() {
        let schema = json!({
            "type": "object",
            "required": ["kind"],
            "properties": {"kind": {"type": "string", "enum": ["user"]}},
            "additionalProperties": {"type": "array", "items": {"type": "boolean"}},
        });
        assert!(validate(&schema, &json!({"kind": "user", "flags": [true, false]})).is_empty());
        let problems = validate(
            &schema,
            &json!({"kind": "group", "flags": [true, 1], "x": 2}),
        );
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems.iter().any(|p| p.starts_with("$.flags[1]:")),
            "{problems:?}"
        );
        assert_eq!(
            validate(&schema, &json!({})),
            ["$: required property \"kind\" is missing"]
        );
        let closed = json!({"type": "object", "additionalProperties": false});
        assert_eq!(validate(&closed, &json!({"odd key": 1})).len(), 1);
        assert_eq!(
            validate(&closed, &json!({"odd key": 1}))[0],
            "$[\"odd key\"]: property not allowed by the schema"
        );
    }

    #[test]
    fn completeness_reports_missing_documented_properties() {
        use super::support::openapi::{Mode, validate_with};
        let schema = json!({"type": "object", "properties": {
            "user": {"type": "string"}, "service": {"type": "string"}, "id": {"type": "string"},
        }});
        let token = json!({"user": "alice"});
        assert!(validate(&schema, &token).is_empty(), "nothing is required");
        let strict = Mode {
            complete: true,
            optional: &[],
        };
        assert_eq!(
            validate_with(&schema, &token, &strict),
            [
                "$: documented property \"id\" is missing",
                "$: documented property \"service\" is missing",
            ]
        );
        let owner_optional = Mode {
            complete: true,
            optional: &["user", "service"],
        };
        assert_eq!(validate_with(&schema, &token, &owner_optional).len(), 1);
    }

    #[test]
    fn date_times_must_be_utc_iso8601() {
        for good in ["2026-01-02T03:04:05Z", "2026-01-02T03:04:05.123456Z"] {
            assert!(is_iso8601_utc(good), "{good}");
        }
        for bad in [
            "2026-01-02T03:04:05",
            "2026-01-02T03:04:05+00:00",
            "2026-01-02 03:04:05Z",
            "2026-13-02T03:04:05Z",
            "2026-01-02T03:04:05.Z",
            "yesterday",
        ] {
            assert!(!is_iso8601_utc(bad), "{bad}");
        }
        let schema = json!({"type": "string", "format": "date-time"});
        assert!(validate(&schema, &json!("2026-01-02T03:04:05Z")).is_empty());
        assert_eq!(
            validate(&schema, &json!("2026-01-02T03:04:05+00:00")).len(),
            1
        );
    }

    #[test]
    fn all_of_one_of_and_unknown_keywords() {
        let schema = json!({"allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}},
            {"oneOf": [
                {"type": "object", "properties": {"k": {"enum": ["x"]}}},
                {"type": "object", "properties": {"k": {"enum": ["y"]}}},
            ]},
        ]});
        assert!(validate(&schema, &json!({"a": "s", "k": "x"})).is_empty());
        assert_eq!(validate(&schema, &json!({"a": 1, "k": "x"})).len(), 1);
        assert_eq!(validate(&schema, &json!({"a": "s", "k": "z"})).len(), 1);
        // Both branches match when `k` is absent: not exactly one.
        assert_eq!(validate(&schema, &json!({"a": "s"})).len(), 1);
        let unknown = json!({"type": "string", "pattern": "^a"});
        assert_eq!(validate(&unknown, &json!("a")).len(), 1);
    }

    #[test]
    fn spec_models_resolve_and_validate() {
        let spec = spec();
        let ops = spec.operations();
        assert_eq!(ops.len(), 54, "operations in upstream 6.1.1's spec");
        let get_user = ops.iter().find(|o| o.key() == "GET /users/{name}").unwrap();
        let schema = get_user.response_schema(200).unwrap();
        let good = json!({
            "kind": "user", "name": "alice", "admin": false, "roles": ["user"], "groups": [],
            "server": null, "pending": null, "last_activity": null, "user_info": null,
            "created": "2026-01-02T03:04:05.000001Z",
            "servers": {"lab": {"name": "lab", "ready": false, "stopped": true, "pending": null,
                "url": "/user/alice/lab/", "progress_url": "/hub/api/users/alice/servers/lab/progress",
                "full_url": null, "full_progress_url": null, "started": null, "last_activity": null,
                "user_options": {}, "state": {}}},
        });
        assert_eq!(validate(schema, &good), Vec::<String>::new());
        let mut bad = good.clone();
        bad["servers"]["lab"]["pending"] = json!("spawning");
        bad["last_activity"] = json!("2026-01-02T03:04:05");
        bad["kind"] = json!("service");
        let problems = validate(schema, &bad);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("$.servers.lab.pending:")),
            "{problems:?}"
        );
        // RequestIdentity: the discriminator picks User or Service.
        let me = ops.iter().find(|o| o.key() == "GET /user").unwrap();
        let schema = me.response_schema(200).unwrap();
        let service = json!({"kind": "service", "name": "svc", "admin": false, "url": "",
            "prefix": "", "pid": 0, "command": [], "info": {}, "roles": [],
            "scopes": ["read:services:name!service=svc"], "session_id": null, "token_id": "a3"});
        assert_eq!(validate(schema, &service), Vec::<String>::new());
        let mut bad = service.clone();
        bad["command"] = json!("run-me");
        bad["kind"] = json!("robot");
        assert_eq!(
            validate(schema, &bad).len(),
            2,
            "{:?}",
            validate(schema, &bad)
        );
    }
}
