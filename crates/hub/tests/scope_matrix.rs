//! The whole scope matrix, in process (`ferrohub_hub::testing`): every
//! operation of upstream's REST API spec (`crates/cli/tests/data/rest-api.json`)
//! is called with a token holding exactly one scope, for every built-in scope
//! of the catalogue, and again with filtered variants (`!user=`, `!group=`,
//! `!server=`, `!service=`, matching the resource in the URL and not) of the
//! scopes that could allow it.
//!
//! The tokens belong to `root`, an admin who also holds every built-in scope
//! unfiltered (role `everything`), so intersecting a token with its owner's
//! scopes takes nothing away: what a token may do is what its one scope,
//! expanded (`ferrohub_rbac::expand`), plus the identify scopes every token
//! has, covers.
//!
//! Expected, per operation, as upstream's handler decides (`needs_scope` in
//! `jupyterhub/scopes.py`): allowed when one of the scopes the handler accepts
//! covers the resource named in the URL (an unfiltered grant for hub-wide
//! operations; any grant for post-filtered lists); refused otherwise with 404
//! when one of them is held for other resources only (existence is not
//! revealed), else 403. The accepted scopes are the spec's `security` scopes,
//! corrected where upstream's handlers differ: [`openapi::SCOPE_CORRECTIONS`]
//! (shared with the real-binary conformance suite) and [`MATRIX_CORRECTIONS`].
//! An allowed call must get the operation's success status; every mismatch is
//! collected and reported together. Each operation's row must contain both
//! allowed and refused cells (so a hub, or an oracle, that allows or refuses
//! everything cannot pass), and the oracle has its own tests below. The
//! oracle expands scopes with `ferrohub_rbac`, as the hub does: this matrix
//! checks that each handler asks for the right scopes on the right resource;
//! the expansion rules themselves are tested in `crates/rbac`.
//! `MATRIX_TRACE=1` prints every cell.
//!
//! The real-binary suites (`crates/cli/tests/conformance.rs`, `scopes.rs`)
//! still run the hub as a process; this matrix covers what they cannot afford:
//! every scope against every operation, in seconds.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

#[allow(dead_code, reason = "shared with the cli tests, which use all of it")]
#[path = "../../cli/tests/support/openapi.rs"]
mod openapi;

use std::collections::BTreeMap;
use std::time::Instant;

use ferrohub_config::{Config, RoleConfig, ServiceConfig};
use ferrohub_hub::testing::{FAKE_PROXY_TOKEN, TestApp};
use ferrohub_rbac::{
    CustomScopes, ExpandContext, FilterKind, Grant, Owner, ParsedScopes, Resource,
};
use http::Method;
use openapi::{Operation, Spec};
use serde_json::{Value, json};

/// The service the configuration defines.
const SERVICE_TOKEN: &str = "matrix-service-token-0123456789";
/// A past timestamp for activity reports.
const PAST: &str = "2024-01-02T03:04:05.000006Z";
/// The owner of every token in the matrix.
const OWNER: &str = "root";

// ---------------------------------------------------------------------------
// What each operation checks, as upstream's handlers do.

/// The resource an operation's URL names: what `needs_scope` filters on.
#[derive(Debug, Clone, Copy)]
enum Subject {
    /// Nothing (hub-wide operations).
    Hub,
    /// A user, with the groups the user is in when the call is made.
    User {
        name: &'static str,
        groups: &'static [&'static str],
    },
    /// A user's server (`""` the default one), with the owner's groups.
    Server {
        user: &'static str,
        server: &'static str,
        groups: &'static [&'static str],
    },
    Group(&'static str),
    Service(&'static str),
}

/// How the handler decides.
#[derive(Debug, Clone, Copy)]
enum Gate {
    /// No credentials needed at all.
    Public,
    /// Any valid credential (upstream's `token_authenticated`, `/user`).
    AnyToken,
    /// Removed upstream: 404 whatever the caller holds.
    Removed,
    /// `needs_scope(*accepted)` on the subject (unfiltered grant for [`Subject::Hub`]).
    Needs,
    /// `needs_scope(*accepted, post_filter=True)`: any grant, the list is
    /// filtered afterwards. With `only`, a grant also filtered by another kind
    /// of filter is refused with 403 (upstream's user and group lists refuse
    /// filters they cannot apply rather than list everything).
    PostFilter { only: Option<&'static [FilterKind]> },
    /// The handler's own check (not `needs_scope`): a scope on the subject,
    /// else 403, never 404 (upstream's `UserTokenListAPIHandler.post`).
    Own403,
}

/// One operation of the matrix.
struct Rule {
    gate: Gate,
    subject: Subject,
    /// Scopes every token for this operation gets besides the one under
    /// test: requirements beyond the gate that the matrix holds constant.
    granted: &'static [&'static str],
    /// The statuses an allowed call gets.
    ok: &'static [u16],
}

/// Where the spec's `security` scopes (after [`openapi::SCOPE_CORRECTIONS`])
/// are not what upstream's handler accepts: (operation, accepted scopes, why).
const MATRIX_CORRECTIONS: &[(&str, &[&str], &str)] = &[
    (
        "GET /users/{name}",
        &[
            "read:users",
            "read:users:name",
            "read:servers",
            "read:users:groups",
            "read:users:activity",
            "read:roles:users",
        ],
        "users.py UserAPIHandler.get: needs_scope of six scopes; the model is filtered by what the caller holds",
    ),
    (
        "GET /groups/{name}",
        &["read:groups", "read:groups:name", "read:roles:groups"],
        "groups.py GroupAPIHandler.get",
    ),
    (
        "GET /services/{name}",
        &["read:services", "read:services:name", "read:roles:services"],
        "services.py ServiceAPIHandler.get",
    ),
    (
        "POST /shares/{owner}/{server_name}",
        &["shares"],
        "shares.py ServerShareAPIHandler.post: needs_scope('shares'); read:users:name on the user shared with is a second condition (the spec lists all three together); the matrix grants it with every token",
    ),
    (
        "PATCH /shares/{owner}/{server_name}",
        &["shares"],
        "shares.py ServerShareAPIHandler.patch: needs_scope('shares'); revoking needs no read:users:name or read:groups:name",
    ),
    (
        "POST /users/{name}/tokens",
        &["tokens"],
        "users.py UserTokenListAPIHandler.post: get_scope_filter('tokens') on the user",
    ),
];

/// Operations outside the matrix, with the reason.
const NOT_IN_MATRIX: &[(&str, &str)] = &[
    (
        "GET /oauth2/authorize",
        "the OAuth provider's consent step: decided by the browser login and the client's access scope, not by the caller's token scopes (conformance.rs and services_oauth.rs cover it)",
    ),
    (
        "POST /oauth2/token",
        "the OAuth provider's token step: authenticated by client id and secret, not by scopes (conformance.rs and services_oauth.rs cover it)",
    ),
];

/// Mismatches known and left for a decision, so the matrix stays green:
/// (operation, scope, status the hub answers, why). Each must still occur
/// (the test fails when one is fixed, so the entry gets removed).
const KNOWN: &[(&str, &str, u16, &str)] = &[];

fn alice() -> Subject {
    Subject::User {
        name: "alice",
        groups: &["team"],
    }
}

fn alice_lab() -> Subject {
    Subject::Server {
        user: "alice",
        server: "lab",
        groups: &["team"],
    }
}

fn rule(key: &str) -> Option<Rule> {
    use Gate::*;
    let r = |gate, subject, ok| Rule {
        gate,
        subject,
        granted: &[],
        ok,
    };
    let team = Subject::Group("team");
    let bob = Subject::User {
        name: "bob",
        groups: &["team"],
    };
    Some(match key {
        "GET /" => r(Public, Subject::Hub, &[200]),
        "GET /info" => r(Needs, Subject::Hub, &[200]),
        "POST /shutdown" => r(Needs, Subject::Hub, &[202]),
        "GET /user" => r(AnyToken, Subject::Hub, &[200]),
        "POST /authorizations/token" => r(Removed, Subject::Hub, &[]),
        "GET /authorizations/token/{token}" => r(AnyToken, Subject::Hub, &[200]),
        "GET /authorizations/cookie/{cookie_name}/{cookie_value}" => {
            r(AnyToken, Subject::Hub, &[200])
        }
        // Users.
        "GET /users" => r(
            PostFilter {
                only: Some(&[FilterKind::User, FilterKind::Group]),
            },
            alice(),
            &[200],
        ),
        "POST /users" => r(Needs, Subject::Hub, &[201]),
        "GET /users/{name}" => r(Needs, alice(), &[200]),
        "POST /users/{name}" => r(
            Needs,
            Subject::User {
                name: "gina",
                groups: &[],
            },
            &[201],
        ),
        "PATCH /users/{name}" => r(Needs, alice(), &[200]),
        "DELETE /users/{name}" => r(
            Needs,
            Subject::User {
                name: "dave",
                groups: &["team"],
            },
            &[204],
        ),
        "POST /users/{name}/activity" => r(Needs, alice(), &[200]),
        // Servers: alice's default server and her named server `lab`.
        // The first allowed call starts the server (201: the fake spawner's
        // server answers at once); later ones find it running (400 "is
        // already running", also past the permission check). A real start
        // per call would only add hashing time.
        "POST /users/{name}/server" => r(
            Needs,
            Subject::Server {
                user: "alice",
                server: "",
                groups: &["team"],
            },
            &[201, 400],
        ),
        "DELETE /users/{name}/server" => r(
            Needs,
            Subject::Server {
                user: "alice",
                server: "",
                groups: &["team"],
            },
            &[204],
        ),
        "GET /users/{name}/servers/{server_name}" | "PATCH /users/{name}/servers/{server_name}" => {
            r(Needs, alice_lab(), &[200])
        }
        "POST /users/{name}/servers/{server_name}" => r(Needs, alice_lab(), &[201, 400]),
        "DELETE /users/{name}/servers/{server_name}" => r(Needs, alice_lab(), &[204]),
        "PUT /users/{name}/servers/{server_name}" => r(
            Needs,
            Subject::Server {
                user: "alice",
                server: "spare",
                groups: &["team"],
            },
            &[201],
        ),
        // Shares granted to bob.
        "GET /users/{name}/shared" | "GET /users/{name}/shared/{owner}/{server_name}" => {
            r(Needs, bob, &[200])
        }
        "DELETE /users/{name}/shared/{owner}/{server_name}" => r(Needs, bob, &[204]),
        // Tokens.
        "GET /users/{name}/tokens" | "GET /users/{name}/tokens/{token_id}" => {
            r(Needs, alice(), &[200])
        }
        "POST /users/{name}/tokens" => r(Own403, alice(), &[201]),
        "DELETE /users/{name}/tokens/{token_id}" => r(Needs, alice(), &[204]),
        // Groups.
        "GET /groups" => r(
            PostFilter {
                only: Some(&[FilterKind::Group]),
            },
            team,
            &[200],
        ),
        "GET /groups/{name}" | "PUT /groups/{name}/properties" => r(Needs, team, &[200]),
        "POST /groups/{name}" => r(Needs, Subject::Group("newgroup"), &[201]),
        "DELETE /groups/{name}" => r(Needs, Subject::Group("doomed"), &[204]),
        "POST /groups/{name}/users" | "DELETE /groups/{name}/users" => r(Needs, team, &[200]),
        "GET /groups/{name}/shared" | "GET /groups/{name}/shared/{owner}/{server_name}" => {
            r(Needs, team, &[200])
        }
        "DELETE /groups/{name}/shared/{owner}/{server_name}" => r(Needs, team, &[204]),
        // Shares of alice's `lab`.
        "GET /shares/{owner}" | "GET /share-codes/{owner}" => r(Needs, alice(), &[200]),
        "GET /shares/{owner}/{server_name}"
        | "PATCH /shares/{owner}/{server_name}"
        | "GET /share-codes/{owner}/{server_name}"
        | "POST /share-codes/{owner}/{server_name}" => r(Needs, alice_lab(), &[200]),
        "POST /shares/{owner}/{server_name}" => Rule {
            granted: &["read:users:name!user=dave"],
            ..r(Needs, alice_lab(), &[200])
        },
        "DELETE /shares/{owner}/{server_name}" | "DELETE /share-codes/{owner}/{server_name}" => {
            r(Needs, alice_lab(), &[204])
        }
        // Services, proxy.
        "GET /services" => r(PostFilter { only: None }, Subject::Service("svc"), &[200]),
        "GET /services/{name}" => r(Needs, Subject::Service("svc"), &[200]),
        "GET /proxy" | "POST /proxy" | "PATCH /proxy" => r(Needs, Subject::Hub, &[200]),
        _ => return None,
    })
}

/// The scopes `op`'s handler accepts (any one of them will do).
fn accepted(op: &Operation) -> Vec<String> {
    let key = op.key();
    MATRIX_CORRECTIONS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map_or_else(
            || openapi::handler_scopes(op),
            |(_, scopes, _)| scopes.iter().map(|s| (*s).to_owned()).collect(),
        )
}

// ---------------------------------------------------------------------------
// The oracle.

/// What the hub must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Allowed,
    Denied(u16),
}

/// Built-in scopes that stand for sets of scopes and take no filter.
const METASCOPES: [&str; 3] = ["self", "inherit", "(no_scope)"];

fn custom() -> &'static CustomScopes {
    CustomScopes::none()
}

/// Every non-meta built-in scope: `root`'s role, and what `inherit` stands for.
fn everything() -> Vec<&'static str> {
    ferrohub_rbac::all_scope_names()
        .filter(|s| !METASCOPES.contains(s))
        .collect()
}

/// The scopes a token of `root` with `scopes` has in effect.
fn effective(scopes: &[&str]) -> ParsedScopes {
    let owner = Owner::User { name: OWNER };
    let cx = ExpandContext::new(owner, custom());
    let raw: Vec<&str> = if scopes.contains(&"inherit") {
        everything()
    } else {
        scopes.to_vec()
    };
    ferrohub_rbac::expand(&raw, &cx)
        .unwrap_or_else(|e| panic!("test bug: {scopes:?} do not expand: {e}"))
        .union(&ferrohub_rbac::identify_scopes(&owner))
}

fn expect(rule: &Rule, accepted: &[String], held: &ParsedScopes) -> Expect {
    let groups =
        |names: &[&str]| -> Vec<String> { names.iter().map(|g| (*g).to_owned()).collect() };
    let covers = |scope: &str| -> bool {
        match rule.subject {
            Subject::Hub => held.holds_all(scope),
            Subject::User { name, groups: g } => held.allows(
                scope,
                &Resource::User {
                    name,
                    groups: &groups(g),
                },
            ),
            Subject::Server {
                user,
                server,
                groups: g,
            } => held.allows(
                scope,
                &Resource::Server {
                    user,
                    server,
                    groups: &groups(g),
                },
            ),
            Subject::Group(name) => held.allows(scope, &Resource::Group { name }),
            Subject::Service(name) => held.allows(scope, &Resource::Service { name }),
        }
    };
    match rule.gate {
        Gate::Public | Gate::AnyToken => Expect::Allowed,
        Gate::Removed => Expect::Denied(404),
        Gate::PostFilter { only } => {
            let usable = accepted.iter().any(|s| match held.grant(s) {
                None => false,
                Some(Grant::All) => true,
                Some(Grant::Filtered(f)) => only.is_none_or(|kinds| {
                    let uses = |kind, values: &std::collections::BTreeSet<String>| {
                        values.is_empty() || kinds.contains(&kind)
                    };
                    uses(FilterKind::User, &f.users)
                        && uses(FilterKind::Group, &f.groups)
                        && uses(FilterKind::Server, &f.servers)
                        && uses(FilterKind::Service, &f.services)
                }),
            });
            if usable {
                Expect::Allowed
            } else {
                Expect::Denied(403)
            }
        }
        Gate::Needs | Gate::Own403 => {
            if accepted.iter().any(|s| covers(s)) {
                Expect::Allowed
            } else if matches!(rule.gate, Gate::Needs)
                && !matches!(rule.subject, Subject::Hub)
                && accepted.iter().any(|s| held.holds(s))
            {
                Expect::Denied(404)
            } else {
                Expect::Denied(403)
            }
        }
    }
}

/// The scopes a token is minted with for one cell: each built-in scope, and
/// filtered variants of those that can allow the operation at all.
fn scopes_for(rule: &Rule, accepted: &[String]) -> Vec<String> {
    let mut out: Vec<String> = ferrohub_rbac::all_scope_names()
        .map(str::to_owned)
        .collect();
    if matches!(rule.gate, Gate::Public | Gate::AnyToken | Gate::Removed) {
        return out;
    }
    let (user, server, group) = match rule.subject {
        Subject::Hub | Subject::Service(_) => ("alice", "lab", "team"),
        Subject::User { name, .. } => (name, "", "team"),
        Subject::Server { user, server, .. } => (user, server, "team"),
        Subject::Group(name) => ("alice", "lab", name),
    };
    let filters = [
        format!("!user={user}"),
        "!user=erin".to_owned(),
        format!("!group={group}"),
        "!group=others".to_owned(),
        format!("!server={user}/{server}"),
        "!server=erin/".to_owned(),
        "!service=svc".to_owned(),
    ];
    for base in everything() {
        // Without the identify scopes every token has, which would make
        // every scope look relevant to user reads.
        let cx = ExpandContext::new(Owner::User { name: OWNER }, custom());
        let expanded = ferrohub_rbac::expand(&[base], &cx).unwrap_or_default();
        if !accepted.iter().any(|s| expanded.holds(s)) {
            continue;
        }
        for filter in &filters {
            out.push(format!("{base}{filter}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Fixtures and requests.

struct Fixtures {
    /// `root`'s token with `inherit`: everything, for set-up and resets.
    root: String,
    /// A token of alice's (for the owner look-up).
    alice_token: String,
    /// Its id (`a12`).
    alice_token_id: String,
    /// carol's login cookie value.
    carol_cookie: String,
}

/// The configuration: `root` an admin with every scope, named servers, and
/// (only where the operation is about services, since its configured token
/// costs two 16,384-round hashes at start-up) the service `svc`.
fn config(c: &mut Config, with_service: bool) {
    c.authenticator.admin_users = vec![OWNER.into()];
    c.jupyterhub.allow_named_servers = true;
    if with_service {
        c.jupyterhub.services = vec![ServiceConfig {
            name: "svc".into(),
            api_token: SERVICE_TOKEN.into(),
            ..ServiceConfig::default()
        }];
    }
    c.jupyterhub.load_roles = vec![RoleConfig {
        name: "everything".into(),
        description:
            "every built-in scope, so that a token's scopes are never cut down by its owner's"
                .into(),
        scopes: Some(everything().into_iter().map(str::to_owned).collect()),
        users: Some(vec![OWNER.into()]),
        ..RoleConfig::default()
    }];
}

/// An admin call for set-up; must succeed (or answer one of `also`).
async fn admin(
    app: &TestApp,
    fx: &Fixtures,
    method: Method,
    path: &str,
    body: Option<Value>,
    also: &[u16],
) -> Value {
    let answer = app
        .call(method.clone(), path, Some(&fx.root), body.as_ref())
        .await;
    assert!(
        answer.status.is_success() || also.contains(&answer.status.as_u16()),
        "set-up {method} {path}: {} {}",
        answer.status,
        answer.text
    );
    answer.json()
}

async fn fixtures(app: &TestApp) -> Fixtures {
    for user in ["alice", "bob", "carol", "dave", "erin", "frank"] {
        app.create_user(user, false).await.unwrap();
    }
    app.add_to_group("team", &["alice", "bob", "dave"])
        .await
        .unwrap();
    app.add_to_group("others", &["carol"]).await.unwrap();
    let root = app.token(OWNER, &["inherit"]).await.unwrap();
    let mut fx = Fixtures {
        root,
        alice_token: String::new(),
        alice_token_id: String::new(),
        carol_cookie: app.login_cookie(&app.user("carol").await.unwrap()),
    };
    let lab = "/users/alice/servers/lab";
    admin(
        app,
        &fx,
        Method::PUT,
        lab,
        Some(json!({"display_name": "Lab"})),
        &[],
    )
    .await;
    for with in [json!({"user": "bob"}), json!({"group": "team"})] {
        admin(app, &fx, Method::POST, "/shares/alice/lab", Some(with), &[]).await;
    }
    admin(
        app,
        &fx,
        Method::POST,
        "/share-codes/alice/lab",
        Some(json!({"expires_in": 3600})),
        &[],
    )
    .await;
    let made = admin(
        app,
        &fx,
        Method::POST,
        "/users/alice/tokens",
        Some(json!({"note": "matrix"})),
        &[],
    )
    .await;
    fx.alice_token = made["token"].as_str().unwrap().to_owned();
    fx.alice_token_id = made["id"].as_str().unwrap().to_owned();
    fx
}

/// One concrete request.
struct Req {
    params: Vec<(&'static str, String)>,
    query: String,
    body: Option<Value>,
}

impl Req {
    fn new() -> Self {
        Self {
            params: Vec::new(),
            query: String::new(),
            body: None,
        }
    }

    fn p(mut self, name: &'static str, value: &str) -> Self {
        self.params.push((name, value.to_owned()));
        self
    }

    fn q(mut self, query: &str) -> Self {
        self.query = format!("?{query}");
        self
    }

    fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn path(&self, op: &Operation) -> String {
        let mut path = op.path.clone();
        for (name, value) in &self.params {
            path = path.replace(&format!("{{{name}}}"), value);
        }
        assert!(
            !path.contains('{'),
            "test bug: {} lacks a path parameter: {path}",
            op.key()
        );
        format!("{path}{}", self.query)
    }
}

/// Puts back what the previous call of `key` may have changed, and builds
/// the request (`n` numbers the calls of one operation).
async fn prepare(app: &TestApp, fx: &Fixtures, key: &str, n: usize) -> Req {
    let lab = || Req::new().p("owner", "alice").p("server_name", "lab");
    match key {
        "GET /authorizations/token/{token}" => Req::new().p("token", &fx.alice_token),
        "GET /authorizations/cookie/{cookie_name}/{cookie_value}" => Req::new()
            .p("cookie_name", "jupyterhub-hub-login")
            .p("cookie_value", &fx.carol_cookie),
        "POST /shutdown" => Req::new().json(json!({"proxy": false, "servers": false})),
        "POST /users" => Req::new().json(json!({"usernames": [format!("new{n}")]})),
        "GET /users/{name}" | "PATCH /users/{name}" | "POST /users/{name}/activity" => {
            let req = Req::new().p("name", "alice");
            match key {
                "PATCH /users/{name}" => req.json(json!({"admin": false})),
                "POST /users/{name}/activity" => req.json(json!({"last_activity": PAST})),
                _ => req,
            }
        }
        "POST /users/{name}" => {
            admin(app, fx, Method::DELETE, "/users/gina", None, &[404]).await;
            Req::new().p("name", "gina")
        }
        "DELETE /users/{name}" => {
            admin(app, fx, Method::POST, "/users/dave", None, &[409]).await;
            admin(
                app,
                fx,
                Method::POST,
                "/groups/team/users",
                Some(json!({"users": ["dave"]})),
                &[],
            )
            .await;
            Req::new().p("name", "dave")
        }
        "POST /users/{name}/server" => Req::new().p("name", "alice"),
        "DELETE /users/{name}/server" => Req::new().p("name", "alice"),
        "GET /users/{name}/servers/{server_name}"
        | "POST /users/{name}/servers/{server_name}"
        | "DELETE /users/{name}/servers/{server_name}" => {
            Req::new().p("name", "alice").p("server_name", "lab")
        }
        "PATCH /users/{name}/servers/{server_name}" => Req::new()
            .p("name", "alice")
            .p("server_name", "lab")
            .json(json!({"display_name": "Lab"})),
        "PUT /users/{name}/servers/{server_name}" => {
            admin(
                app,
                fx,
                Method::DELETE,
                "/users/alice/servers/spare",
                Some(json!({"remove": true})),
                &[404],
            )
            .await;
            Req::new()
                .p("name", "alice")
                .p("server_name", "spare")
                .json(json!({"display_name": "Spare"}))
        }
        "GET /users/{name}/shared" => Req::new().p("name", "bob"),
        "GET /users/{name}/shared/{owner}/{server_name}" => lab().p("name", "bob"),
        "DELETE /users/{name}/shared/{owner}/{server_name}" => {
            admin(
                app,
                fx,
                Method::POST,
                "/shares/alice/lab",
                Some(json!({"user": "bob"})),
                &[],
            )
            .await;
            lab().p("name", "bob")
        }
        "GET /users/{name}/tokens" => Req::new().p("name", "alice"),
        "POST /users/{name}/tokens" => Req::new()
            .p("name", "alice")
            .json(json!({"note": "matrix"})),
        "GET /users/{name}/tokens/{token_id}" => Req::new()
            .p("name", "alice")
            .p("token_id", &fx.alice_token_id),
        "DELETE /users/{name}/tokens/{token_id}" => {
            let made = admin(
                app,
                fx,
                Method::POST,
                "/users/alice/tokens",
                Some(json!({"note": "to delete"})),
                &[],
            )
            .await;
            let id = made["id"].as_str().unwrap().to_owned();
            Req::new().p("name", "alice").p("token_id", &id)
        }
        "GET /groups" => Req::new(),
        "GET /groups/{name}" | "GET /groups/{name}/shared" => Req::new().p("name", "team"),
        "POST /groups/{name}" => {
            admin(app, fx, Method::DELETE, "/groups/newgroup", None, &[404]).await;
            Req::new().p("name", "newgroup")
        }
        "DELETE /groups/{name}" => {
            admin(app, fx, Method::POST, "/groups/doomed", None, &[409]).await;
            Req::new().p("name", "doomed")
        }
        "PUT /groups/{name}/properties" => Req::new()
            .p("name", "team")
            .json(json!({"course": "physics"})),
        "POST /groups/{name}/users" | "DELETE /groups/{name}/users" => Req::new()
            .p("name", "team")
            .json(json!({"users": ["frank"]})),
        "GET /groups/{name}/shared/{owner}/{server_name}" => lab().p("name", "team"),
        "DELETE /groups/{name}/shared/{owner}/{server_name}" => {
            admin(
                app,
                fx,
                Method::POST,
                "/shares/alice/lab",
                Some(json!({"group": "team"})),
                &[],
            )
            .await;
            lab().p("name", "team")
        }
        "GET /shares/{owner}" | "GET /share-codes/{owner}" => Req::new().p("owner", "alice"),
        "GET /shares/{owner}/{server_name}" | "GET /share-codes/{owner}/{server_name}" => lab(),
        "POST /shares/{owner}/{server_name}" | "PATCH /shares/{owner}/{server_name}" => {
            lab().json(json!({"user": "dave"}))
        }
        "DELETE /shares/{owner}/{server_name}" => lab(),
        "POST /share-codes/{owner}/{server_name}" => lab().json(json!({"expires_in": 600})),
        "DELETE /share-codes/{owner}/{server_name}" => {
            let made = admin(
                app,
                fx,
                Method::POST,
                "/share-codes/alice/lab",
                Some(json!({"expires_in": 600})),
                &[],
            )
            .await;
            let id = made["id"].as_str().unwrap().to_owned();
            lab().q(&format!("id={id}"))
        }
        "GET /services/{name}" => Req::new().p("name", "svc"),
        "PATCH /proxy" => Req::new().json(json!({"auth_token": FAKE_PROXY_TOKEN})),
        _ => Req::new(),
    }
}

// ---------------------------------------------------------------------------

/// One cell that did not answer as expected.
struct Mismatch {
    key: String,
    scope: String,
    status: u16,
    text: String,
}

/// What one operation's row of the matrix gave.
struct Row {
    calls: usize,
    /// How many cells expected allowed, 403, 404.
    expected: [usize; 3],
    mismatches: Vec<Mismatch>,
}

/// Runs the matrix for one operation on its own app.
async fn run_operation(op: &Operation, rule: &Rule) -> Row {
    let key = op.key();
    let accepted = accepted(op);
    let with_service = op.path.starts_with("/services");
    let app = TestApp::new(|c| config(c, with_service)).await.unwrap();
    let fx = fixtures(&app).await;
    let method: Method = op.method.parse().unwrap();
    let mut mismatches = Vec::new();
    let mut expected = [0; 3];
    let trace = std::env::var_os("MATRIX_TRACE").is_some();
    let scopes = scopes_for(rule, &accepted);
    for (n, scope) in scopes.iter().enumerate() {
        let mut minted: Vec<&str> = vec![scope.as_str()];
        minted.extend_from_slice(rule.granted);
        let want = expect(rule, &accepted, &effective(&minted));
        let token = app.token(OWNER, &minted).await.unwrap();
        let req = prepare(&app, &fx, &key, n).await;
        let answer = app
            .call(
                method.clone(),
                &req.path(op),
                Some(&token),
                req.body.as_ref(),
            )
            .await;
        let status = answer.status.as_u16();
        expected[match want {
            Expect::Allowed => 0,
            Expect::Denied(403) => 1,
            Expect::Denied(_) => 2,
        }] += 1;
        if trace {
            eprintln!("{key} [{scope}] -> {status} (expected {want:?})");
        }
        let good = match want {
            Expect::Allowed => rule.ok.contains(&status),
            Expect::Denied(code) => status == code && answer.json()["status"] == json!(code),
        };
        if !good {
            let expected = match want {
                Expect::Allowed => format!("allowed {:?}", rule.ok),
                Expect::Denied(code) => format!("denied {code}"),
            };
            let text: String = answer.text.chars().take(200).collect();
            mismatches.push(Mismatch {
                key: key.clone(),
                scope: scope.clone(),
                status,
                text: format!("expected {expected}: {text}"),
            });
        }
    }
    // The starts went all the way: one server running, routed by the proxy.
    let started = match key.as_str() {
        "POST /users/{name}/server" => Some("/user/alice"),
        "POST /users/{name}/servers/{server_name}" => Some("/user/alice/lab"),
        _ => None,
    };
    if let Some(route) = started
        && (app.spawner().running() != 1 || !app.proxy().routes().contains_key(route))
    {
        mismatches.push(Mismatch {
            key: key.clone(),
            scope: "(after the matrix)".into(),
            status: 0,
            text: format!(
                "expected one running server routed at {route}; running {}, routes {:?}",
                app.spawner().running(),
                app.proxy().routes().keys().collect::<Vec<_>>()
            ),
        });
    }
    Row {
        calls: scopes.len(),
        expected,
        mismatches,
    }
}

/// Which outcomes an operation's row must contain, so that a matrix which
/// allows or refuses everything cannot pass: allowed and 403 for every gated
/// operation, and 404 too where a filtered scope hides the resource. (Where
/// every token's identify scopes, `read:users:name!user=root` and
/// `read:users:groups!user=root`, are among the accepted ones, as for
/// `GET /users/{name}`, every refusal is a 404.)
fn required_outcomes(rule: &Rule, accepted: &[String]) -> [bool; 3] {
    let identify = effective(&["(no_scope)"]);
    let always_held = accepted.iter().any(|s| identify.holds(s));
    match (rule.gate, rule.subject) {
        (Gate::Public | Gate::AnyToken, _) => [true, false, false],
        (Gate::Removed, _) => [false, false, true],
        (Gate::Needs, Subject::Hub) | (Gate::PostFilter { .. } | Gate::Own403, _) => {
            [true, true, false]
        }
        (Gate::Needs, _) if always_held => [true, false, true],
        (Gate::Needs, _) => [true, true, true],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_against_every_scope() {
    let started = Instant::now();
    // Only `security` is used here; the schema corrections live in conformance.rs.
    let spec = Spec::resolve(openapi::load_raw()).expect("the spec resolves");
    let mut problems = Vec::new();
    // Each operation runs on its own app; a few at a time, so the hub's
    // blocking work (SQLite's thread, hashing) overlaps with the next request.
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(parallel));
    let mut running = tokio::task::JoinSet::new();
    for op in spec.operations() {
        let key = op.key();
        if NOT_IN_MATRIX.iter().any(|(k, _)| *k == key) {
            continue;
        }
        let Some(rule) = rule(&key) else {
            problems.push(format!("{key}: in the spec but not in the matrix"));
            continue;
        };
        let limit = std::sync::Arc::clone(&limit);
        running.spawn(async move {
            let _permit = limit.acquire_owned().await.unwrap();
            let op_started = Instant::now();
            let row = run_operation(&op, &rule).await;
            let required = required_outcomes(&rule, &accepted(&op));
            (key, required, row, op_started.elapsed())
        });
    }
    let mut known_seen = vec![false; KNOWN.len()];
    let mut calls = 0;
    let mut per_op = BTreeMap::new();
    while let Some(done) = running.join_next().await {
        let (key, required, row, took) =
            done.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        for (i, what) in ["allowed", "403", "404"].iter().enumerate() {
            if required[i] != (row.expected[i] > 0) {
                problems.push(format!(
                    "{key}: the matrix has {} cell(s) expecting {what}; this operation needs {}",
                    row.expected[i],
                    if required[i] { "some" } else { "none" }
                ));
            }
        }
        per_op.insert(key, (row.calls, row.expected, took));
        calls += row.calls;
        for m in row.mismatches {
            let known = KNOWN
                .iter()
                .position(|(k, s, status, _)| *k == m.key && *s == m.scope && *status == m.status);
            match known {
                Some(i) => known_seen[i] = true,
                None => problems.push(format!(
                    "{} with [{}]: {} — {}",
                    m.key, m.scope, m.status, m.text
                )),
            }
        }
    }
    problems.sort();
    for (i, (key, scope, status, why)) in KNOWN.iter().enumerate() {
        if known_seen[i] {
            eprintln!("known: {key} with [{scope}]: {status} ({why})");
        } else {
            problems.push(format!(
                "{key} with [{scope}]: the known mismatch ({status}) no longer occurs; remove it from KNOWN"
            ));
        }
    }
    let elapsed = started.elapsed();
    for (key, (n, [allowed, forbidden, hidden], took)) in &per_op {
        eprintln!(
            "{key}: {n} calls ({allowed} allowed, {forbidden} 403, {hidden} 404) in {took:?}"
        );
    }
    eprintln!(
        "scope matrix: {} operations, {calls} calls in {elapsed:?}",
        per_op.len()
    );
    assert!(
        problems.is_empty(),
        "{} mismatch(es) in the scope matrix:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

// ---------------------------------------------------------------------------
// The oracle itself, on cells whose answer upstream's code makes plain.

mod oracle {
    use super::*;

    fn cell(key: &str, accepted: &[&str], scope: &str) -> Expect {
        let rule = rule(key).expect("a rule");
        let accepted: Vec<String> = accepted.iter().map(|s| (*s).to_owned()).collect();
        let mut minted = vec![scope];
        minted.extend_from_slice(rule.granted);
        expect(&rule, &accepted, &effective(&minted))
    }

    #[test]
    fn a_scope_on_the_resource_allows_and_elsewhere_hides_it() {
        let read = ["read:tokens"];
        let key = "GET /users/{name}/tokens";
        assert_eq!(cell(key, &read, "read:tokens"), Expect::Allowed);
        assert_eq!(
            cell(key, &read, "tokens"),
            Expect::Allowed,
            "tokens implies read:tokens"
        );
        assert_eq!(cell(key, &read, "read:tokens!user=alice"), Expect::Allowed);
        assert_eq!(cell(key, &read, "read:tokens!group=team"), Expect::Allowed);
        assert_eq!(
            cell(key, &read, "read:tokens!user=erin"),
            Expect::Denied(404)
        );
        assert_eq!(
            cell(key, &read, "read:tokens!group=others"),
            Expect::Denied(404)
        );
        assert_eq!(
            cell(key, &read, "self"),
            Expect::Denied(404),
            "self is root's own"
        );
        assert_eq!(cell(key, &read, "read:users"), Expect::Denied(403));
        assert_eq!(cell(key, &read, "inherit"), Expect::Allowed);
    }

    #[test]
    fn identify_scopes_make_user_reads_hidden_rather_than_forbidden() {
        // Every token may read its owner's name, so GET /users/{name} on
        // someone else is "not found" whatever the token's one scope is.
        let accepted = ["read:users", "read:users:name"];
        let key = "GET /users/{name}";
        assert_eq!(cell(key, &accepted, "shutdown"), Expect::Denied(404));
        assert_eq!(cell(key, &accepted, "(no_scope)"), Expect::Denied(404));
        assert_eq!(cell(key, &accepted, "list:users"), Expect::Allowed);
        // `!server=` drops read:users* from the expansion.
        assert_eq!(
            cell(key, &accepted, "read:users!server=alice/"),
            Expect::Denied(404)
        );
    }

    #[test]
    fn hub_wide_operations_need_an_unfiltered_grant() {
        let key = "POST /shutdown";
        assert_eq!(cell(key, &["shutdown"], "shutdown"), Expect::Allowed);
        assert_eq!(
            cell(key, &["shutdown"], "shutdown!user=alice"),
            Expect::Denied(403)
        );
        assert_eq!(cell(key, &["shutdown"], "admin:users"), Expect::Denied(403));
    }

    #[test]
    fn post_filtered_lists_take_any_grant_of_a_kind_they_can_apply() {
        let key = "GET /users";
        let list = ["list:users"];
        assert_eq!(cell(key, &list, "list:users!user=erin"), Expect::Allowed);
        assert_eq!(cell(key, &list, "users!group=others"), Expect::Allowed);
        assert_eq!(
            cell(key, &list, "list:users!server=alice/"),
            Expect::Denied(403)
        );
        assert_eq!(cell(key, &list, "read:users"), Expect::Denied(403));
        let key = "GET /groups";
        let list = ["list:groups"];
        assert_eq!(
            cell(key, &list, "list:groups!group=others"),
            Expect::Allowed
        );
        assert_eq!(
            cell(key, &list, "list:groups!user=alice"),
            Expect::Denied(403)
        );
    }

    #[test]
    fn servers_are_covered_by_their_owner_and_the_owners_groups() {
        let key = "GET /users/{name}/servers/{server_name}";
        let read = ["read:servers"];
        assert_eq!(
            cell(key, &read, "read:servers!server=alice/lab"),
            Expect::Allowed
        );
        assert_eq!(cell(key, &read, "servers!user=alice"), Expect::Allowed);
        assert_eq!(
            cell(key, &read, "admin:servers!group=team"),
            Expect::Allowed
        );
        assert_eq!(
            cell(key, &read, "read:servers!server=alice/"),
            Expect::Denied(404)
        );
        assert_eq!(
            cell(key, &read, "read:servers!service=svc"),
            Expect::Denied(404)
        );
    }

    #[test]
    fn the_token_check_of_post_tokens_never_hides() {
        let key = "POST /users/{name}/tokens";
        assert_eq!(cell(key, &["tokens"], "tokens!user=alice"), Expect::Allowed);
        assert_eq!(
            cell(key, &["tokens"], "tokens!user=erin"),
            Expect::Denied(403)
        );
        assert_eq!(cell(key, &["tokens"], "read:tokens"), Expect::Denied(403));
    }

    #[test]
    fn every_spec_operation_has_a_rule_or_a_reason() {
        let spec = Spec::resolve(openapi::load_raw()).expect("the spec resolves");
        let ops = spec.operations();
        assert_eq!(ops.len(), 54, "operations in upstream 6.1.1's spec");
        for op in ops {
            let key = op.key();
            let skipped = NOT_IN_MATRIX.iter().any(|(k, _)| *k == key);
            assert!(
                rule(&key).is_some() != skipped,
                "{key}: a rule xor a reason"
            );
        }
    }
}
