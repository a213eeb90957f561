//! Regression tests for the holes the security audit of issue 11 found in the
//! hub's core, each run against the real hub binary: privilege escalation
//! through `PATCH /users`, blocked users keeping their credentials, the token
//! lifetime cap, shares following renamed names, the page routes' `servers`
//! scope, session-bound XSRF tokens, and the cookie secret.

mod support;

use std::process::Command;

use nix::sys::signal::Signal;
use reqwest::Method;
use serde_json::{Value, json};
use support::api::{Api, token_for};
use support::browser::{Browser, hidden_xsrf};
use support::{TestHub, eventually};

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A teacher holding `admin:users!group=students` (upstream's way to let a
/// teacher manage a class) can rename a student, but not make them an admin,
/// give them roles, move them into other groups, or rename them out of the class
/// or to `root`.
#[tokio::test(flavor = "multi_thread")]
async fn a_group_scoped_user_admin_cannot_escalate() {
    let hub = TestHub::start(&[
        (
            "JupyterHub",
            r#"load_roles = [{ name = "teacher", scopes = ["admin:users!group=students", "groups!group=students", "read:users!group=students"], users = ["teacher"] }]"#,
        ),
        ("Authenticator", r#"admin_users = ["boss"]"#),
    ]);
    let api = Api::new(&hub);
    let boss = token_for(&hub, "boss");
    let teacher = token_for(&hub, "teacher");
    for body in [
        json!({"usernames": ["stud"]}),
        json!({"usernames": ["other"]}),
    ] {
        let created = api
            .call(&boss, Method::POST, "/users")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    for group in ["students", "staff"] {
        let created = api
            .call(&boss, Method::POST, &format!("/groups/{group}"))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    let joined = api
        .call(&boss, Method::POST, "/groups/students/users")
        .json(&json!({"users": ["stud"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(joined.status(), 200);

    let patch = |body: Value| {
        api.call(&teacher, Method::PATCH, "/users/stud")
            .json(&body)
            .send()
    };
    let refused = [
        (json!({"admin": true}), "admin flag"),
        (json!({"roles": ["admin"]}), "admin role"),
        (json!({"roles": ["user", "teacher"]}), "another role"),
        (json!({"groups": ["students", "staff"]}), "another group"),
        (
            json!({"groups": []}),
            "leaving the group would hide the student",
        ),
    ];
    for (body, what) in refused {
        let response = patch(body.clone()).await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        // Leaving `students` is allowed by `groups!group=students`; the rest is not.
        if what.starts_with("leaving") {
            assert_eq!(status, 200, "{what}: {text}");
            let back = patch(json!({"groups": ["students"]})).await.unwrap();
            assert_eq!(back.status(), 404, "once out, the teacher lost the student");
            let rejoin = api
                .call(&boss, Method::POST, "/groups/students/users")
                .json(&json!({"users": ["stud"]}))
                .send()
                .await
                .unwrap();
            assert_eq!(rejoin.status(), 200);
            continue;
        }
        assert_eq!(status, 403, "{what} must be refused: {text}");
        let error: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(error["status"], 403, "{text}");
    }
    // Nothing of that reached the database.
    let (status, model) = api.get(&boss, "/users/stud").await;
    assert_eq!(status, 200);
    assert_eq!(model["admin"], false, "{model}");
    assert_eq!(names(&model["roles"]), ["user"], "{model}");
    assert_eq!(names(&model["groups"]), ["students"], "{model}");

    // Renaming out of the teacher's reach (a name the scope does not cover is
    // fine only while the user stays in the group) or to root is refused.
    let to_root = api
        .call(&boss, Method::PATCH, "/users/stud")
        .json(&json!({"name": "root"}))
        .send()
        .await
        .unwrap();
    assert_eq!(to_root.status(), 400, "nobody renames a user to root");
    let create_root = api
        .call(&boss, Method::POST, "/users/root")
        .send()
        .await
        .unwrap();
    assert_eq!(create_root.status(), 400, "nor creates one");
    let renamed = patch(json!({"name": "stud2"})).await.unwrap();
    assert_eq!(renamed.status(), 200, "{}", renamed.text().await.unwrap());
    let (_, model) = api.get(&boss, "/users/stud2").await;
    assert_eq!(names(&model["groups"]), ["students"]);

    // A user outside the class is not the teacher's at all.
    let other = api
        .call(&teacher, Method::PATCH, "/users/other")
        .json(&json!({"groups": ["students"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);

    // The admin can still do all of it.
    let granted = api
        .call(&boss, Method::PATCH, "/users/stud2")
        .json(&json!({"roles": ["user", "teacher"], "groups": ["staff"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(granted.status(), 200);
    let model: Value = granted.json().await.unwrap();
    assert_eq!(names(&model["roles"]), ["teacher", "user"], "{model}");
    assert_eq!(names(&model["groups"]), ["staff"], "{model}");
}

/// Upstream 5.2+: once a user is in `blocked_users`, their cookies and tokens
/// stop working, and at start-up they lose admin, roles and groups and their
/// servers are stopped.
#[tokio::test(flavor = "multi_thread")]
async fn a_blocked_user_loses_credentials_permissions_and_servers() {
    let mut hub = TestHub::start(&[("Authenticator", r#"admin_users = ["boss", "mallory"]"#)]);
    let api = Api::new(&hub);
    let boss = token_for(&hub, "boss");
    let token = token_for(&hub, "mallory");
    let browser = Browser::new(&hub.public_url());
    assert_eq!(browser.login("mallory", "pw", None).await.status(), 302);
    let made = api
        .call(&boss, Method::POST, "/groups/g1")
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 201);
    let joined = api
        .call(&boss, Method::POST, "/groups/g1/users")
        .json(&json!({"users": ["mallory"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(joined.status(), 200);
    browser.start_server("mallory").await;
    let server_pids = hub.server_pids("mallory");
    assert_eq!(server_pids.len(), 1);
    assert_eq!(api.get(&token, "/user").await.0, 200);

    // Block her: stop the hub (servers keep running), add her to blocked_users, start again.
    hub.kill(Signal::SIGKILL);
    let config = std::fs::read_to_string(&hub.config_path).unwrap();
    let config = config.replace(
        r#"admin_users = ["boss", "mallory"]"#,
        "admin_users = [\"boss\", \"mallory\"]\nblocked_users = [\"mallory\"]",
    );
    std::fs::write(&hub.config_path, config).unwrap();
    hub.launch();

    let (status, _) = api.get(&token, "/user").await;
    assert_eq!(status, 403, "her API token no longer works");
    let via_cookie = browser
        .single
        .get(format!("{}/hub/home", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(via_cookie.status(), 302, "her login cookie no longer works");
    assert!(
        via_cookie.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/hub/login"),
        "sent to the login page"
    );
    let (status, model) = api.get(&boss, "/users/mallory").await;
    assert_eq!(status, 200);
    assert_eq!(model["admin"], false, "admin removed: {model}");
    assert_eq!(
        names(&model["roles"]),
        Vec::<String>::new(),
        "roles removed: {model}"
    );
    assert_eq!(
        names(&model["groups"]),
        Vec::<String>::new(),
        "groups removed: {model}"
    );
    eventually(60, "the blocked user's server to stop", || async {
        let gone = server_pids
            .iter()
            .all(|pid| nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), None).is_err());
        gone.then_some(())
    })
    .await;
    let routes = hub.routes().await;
    assert!(
        routes.get("/user/mallory").is_none(),
        "route removed: {routes}"
    );
    assert!(
        hub.log()
            .contains("Removing admin permissions from blocked user mallory")
    );
}

/// `expires_in: 0` means "never"; with `token_expires_in_max_seconds` set, a
/// never-expiring token must not be issued (upstream's GHSA-pvm9 class).
#[tokio::test(flavor = "multi_thread")]
async fn the_token_lifetime_cap_cannot_be_bypassed_with_zero() {
    let hub = TestHub::start(&[
        ("JupyterHub", "token_expires_in_max_seconds = 3600"),
        ("Authenticator", r#"allowed_users = ["alice"]"#),
    ]);
    let api = Api::new(&hub);
    let alice = token_for(&hub, "alice");
    for expires_in in [json!(0), json!(-5), json!(7200)] {
        let response = api
            .call(&alice, Method::POST, "/users/alice/tokens")
            .json(&json!({"expires_in": expires_in}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "expires_in {expires_in}");
    }
    let (_, tokens) = api.get(&alice, "/users/alice/tokens").await;
    let never: Vec<&Value> = tokens["api_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["note"] != "command-line generated" && t["expires_at"].is_null())
        .collect();
    assert!(
        never.is_empty(),
        "no never-expiring token was made: {tokens}"
    );
    let ok = api
        .call(&alice, Method::POST, "/users/alice/tokens")
        .json(&json!({"expires_in": 60}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 201);
    let model: Value = ok.json().await.unwrap();
    assert!(model["expires_at"].is_string(), "{model}");
}

/// `default_server_name` sends `/hub/user-redirect/` to that named server
/// (only with named servers on, as upstream), keeping the path and query.
#[tokio::test(flavor = "multi_thread")]
async fn user_redirect_uses_default_server_name() {
    let hub = TestHub::start(&[(
        "JupyterHub",
        "allow_named_servers = true\ndefault_server_name = \"main\"",
    )]);
    let browser = Browser::new(&hub.public_url());
    assert_eq!(browser.login("alice", "pw", None).await.status(), 302);
    let redirect = browser
        .single
        .get(format!(
            "{}/hub/user-redirect/lab/tree/a.ipynb?x=1",
            hub.public_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 302);
    let location = redirect.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/hub/spawn/alice/main?next="),
        "{location}"
    );
    assert!(
        location.contains("%2Fuser%2Falice%2Fmain%2Flab%2Ftree%2Fa.ipynb%3Fx%3D1"),
        "{location}"
    );

    let plain = TestHub::start(&[("JupyterHub", "default_server_name = \"main\"")]);
    let browser = Browser::new(&plain.public_url());
    assert_eq!(browser.login("alice", "pw", None).await.status(), 302);
    let redirect = browser
        .single
        .get(format!("{}/hub/user-redirect/lab", plain.public_url()))
        .send()
        .await
        .unwrap();
    let location = redirect.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/hub/spawn?next=%2Fuser%2Falice%2Flab"),
        "ignored without named servers: {location}"
    );
}

/// `service_check_interval`: a service with a url that does not answer is
/// reported in the log, again and again.
#[tokio::test(flavor = "multi_thread")]
async fn services_that_do_not_answer_are_reported() {
    let dead = support::free_port();
    let hub = TestHub::start(&[(
        "JupyterHub",
        &format!(
            "service_check_interval = 1\nservices = [{{ name = \"gone\", url = \"http://127.0.0.1:{dead}\", api_token = \"gone-service-token-0123456789abcdef\", timeout = 1 }}]"
        ),
    )]);
    eventually(20, "two health-check warnings", || async {
        let log = hub.log();
        (log.matches("Cannot connect to external service gone")
            .count()
            >= 2)
            .then_some(())
    })
    .await;
}

/// A share points at its server, not at a name: after the owner is renamed,
/// the share follows the server, and a new user who takes the old name gets
/// nothing of it.
#[tokio::test(flavor = "multi_thread")]
async fn shares_follow_renames_and_never_pass_to_a_reused_name() {
    let hub = TestHub::start(&[(
        "Authenticator",
        "admin_users = [\"boss\"]\nallowed_users = [\"bob\"]",
    )]);
    let api = Api::new(&hub);
    let boss = token_for(&hub, "boss");
    let bob = token_for(&hub, "bob");
    let made = api
        .call(&boss, Method::POST, "/users")
        .json(&json!({"usernames": ["alice"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 201);
    let shared = api
        .call(&boss, Method::POST, "/shares/alice/")
        .json(&json!({"user": "bob"}))
        .send()
        .await
        .unwrap();
    assert_eq!(shared.status(), 200, "{}", shared.text().await.unwrap());
    let (_, me) = api.get(&bob, "/user").await;
    assert!(
        names(&me["scopes"]).contains(&"access:servers!server=alice/".to_owned()),
        "{me}"
    );

    let renamed = api
        .call(&boss, Method::PATCH, "/users/alice")
        .json(&json!({"name": "alicia"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    let made = api
        .call(&boss, Method::POST, "/users/alice")
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 201, "a new user takes the old name");

    let (_, me) = api.get(&bob, "/user").await;
    let scopes = names(&me["scopes"]);
    assert!(
        !scopes.iter().any(|s| s.contains("server=alice/")),
        "nothing on the new alice: {scopes:?}"
    );
    assert!(
        scopes.contains(&"access:servers!server=alicia/".to_owned()),
        "{scopes:?}"
    );
    let (status, listed) = api.get(&boss, "/shares/alicia").await;
    assert_eq!(status, 200);
    let share = &listed["items"][0];
    assert_eq!(share["server"]["name"], "", "{listed}");
    assert_eq!(
        names(&share["scopes"]),
        ["access:servers!server=alicia/"],
        "{listed}"
    );
    let (_, new_alice) = api.get(&boss, "/shares/alice").await;
    assert_eq!(new_alice["items"], json!([]), "{new_alice}");
}

/// Upstream's spawn pages need the `servers` scope, also for one's own server:
/// a hub whose users may only use (not start) servers refuses the pages.
#[tokio::test(flavor = "multi_thread")]
async fn spawn_pages_need_the_servers_scope() {
    let hub = TestHub::start(&[(
        "JupyterHub",
        r#"load_roles = [{ name = "user", scopes = ["read:users!user", "access:servers!user", "tokens!user"] }]"#,
    )]);
    let browser = Browser::new(&hub.public_url());
    assert_eq!(browser.login("alice", "pw", None).await.status(), 302);
    let page = browser
        .single
        .get(format!("{}/hub/spawn", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 403, "GET /hub/spawn starts nothing");
    let home = browser
        .follow
        .get(format!("{}/hub/home", hub.public_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let xsrf = hidden_xsrf(&home).expect("home has forms");
    for path in ["/hub/spawn", "/hub/spawn/alice", "/hub/stop"] {
        let posted = browser
            .single
            .post(format!("{}{path}", hub.public_url()))
            .form(&[("_xsrf", xsrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), 403, "POST {path}");
    }
    assert!(hub.server_pids("alice").is_empty(), "no server was started");
}

/// XSRF tokens are bound to the browser session: one made for another user or
/// session, or any value planted in the `_xsrf` cookie, is refused.
#[tokio::test(flavor = "multi_thread")]
async fn xsrf_tokens_are_bound_to_the_session() {
    let hub = TestHub::start(&[]);
    let alice = Browser::new(&hub.public_url());
    let bob = Browser::new(&hub.public_url());
    assert_eq!(alice.login("alice", "pw", None).await.status(), 302);
    assert_eq!(bob.login("bob", "pw", None).await.status(), 302);
    let alice_token = alice
        .cookie("/hub/", "_xsrf")
        .expect("alice's _xsrf cookie");
    let bob_token = bob.cookie("/hub/", "_xsrf").expect("bob's _xsrf cookie");
    assert_ne!(alice_token, bob_token);

    let revoke_with = |token: &str, cookie: Option<&str>| {
        let mut request = bob
            .single
            .post(format!("{}/hub/api/users/bob/tokens", hub.public_url()))
            .header("X-XSRFToken", token)
            .json(&json!({"note": "xsrf check"}));
        if let Some(cookie) = cookie {
            // A planted cookie, as script on a same-origin page could set.
            let jar = bob.cookie_header("/hub/");
            let jar = jar
                .split("; ")
                .filter(|c| !c.starts_with("_xsrf="))
                .collect::<Vec<_>>()
                .join("; ");
            request = request.header("Cookie", format!("{jar}; _xsrf={cookie}"));
        }
        request.send()
    };
    let planted = "0123456789abcdef0123456789abcdef";
    let cases = [
        (alice_token.as_str(), None, "alice's token in bob's session"),
        (
            planted,
            Some(planted),
            "a planted cookie with a matching header",
        ),
        (
            alice_token.as_str(),
            Some(alice_token.as_str()),
            "alice's token planted as bob's cookie",
        ),
    ];
    for (token, cookie, what) in cases {
        let response = revoke_with(token, cookie).await.unwrap();
        assert_eq!(response.status(), 403, "{what}");
    }
    let good = revoke_with(&bob_token, None).await.unwrap();
    assert_eq!(good.status(), 201, "bob's own token works");
}

/// An empty or short cookie secret is refused before anything is written.
#[test]
fn a_short_cookie_secret_is_refused() {
    for secret in ["", "abcd", &"ab".repeat(31)] {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("timeout")
            .current_dir(dir.path())
            .env("JPY_COOKIE_SECRET", secret)
            .args([
                "20",
                support::ferrohub_bin().to_str().unwrap(),
                &format!("--JupyterHub.hub_port={}", support::free_port()),
                &format!("--url=http://127.0.0.1:{}", support::free_port()),
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "secret {secret:?}: {stderr}");
        assert!(stderr.contains("at least 32"), "{stderr}");
        assert!(
            !dir.path().join("ferrohub.sqlite").exists(),
            "nothing written"
        );
    }
}

/// Accepted tokens and cookies are cached (no database round trip on the next
/// request), yet revocation, role and group changes, renames, deletion and
/// expiry take effect on the very next request.
#[tokio::test(flavor = "multi_thread")]
async fn cached_credentials_are_dropped_at_once() {
    let hub = TestHub::start(&[
        (
            "JupyterHub",
            r#"load_roles = [{ name = "lister", scopes = ["list:users"], groups = ["listers"] }, { name = "reader", scopes = ["list:users"] }]"#,
        ),
        (
            "Authenticator",
            r#"admin_users = ["boss"]
allowed_users = ["ann", "ben", "cat", "dan"]"#,
        ),
    ]);
    let api = Api::new(&hub);
    let boss = token_for(&hub, "boss");
    // Warm the cache with a few requests, then change something and ask once.
    let warm = |token: String, path: &'static str| {
        let api = Api::new(&hub);
        async move {
            for _ in 0..3 {
                assert_eq!(
                    api.get(&token, path).await.0,
                    200,
                    "{path} before the change"
                );
            }
        }
    };
    let change = |method: Method, path: String, body: Value| {
        let request = api.call(&boss, method, &path).json(&body);
        async move {
            let status = request.send().await.unwrap().status().as_u16();
            assert!((200..300).contains(&status), "{path}: {status}");
        }
    };

    // Revocation.
    let ann = token_for(&hub, "ann");
    warm(ann.clone(), "/user").await;
    let (_, me) = api.get(&ann, "/user").await;
    let id = me["token_id"].as_str().unwrap().to_owned();
    change(
        Method::DELETE,
        format!("/users/ann/tokens/{id}"),
        json!(null),
    )
    .await;
    assert_eq!(api.get(&ann, "/user").await.0, 403, "revoked token");

    // A role taken away.
    let ben = token_for(&hub, "ben");
    change(
        Method::PATCH,
        "/users/ben".into(),
        json!({"roles": ["user", "reader"]}),
    )
    .await;
    warm(ben.clone(), "/users").await;
    change(
        Method::PATCH,
        "/users/ben".into(),
        json!({"roles": ["user"]}),
    )
    .await;
    assert_eq!(api.get(&ben, "/users").await.0, 403, "role removed");

    // A group (and the role it carries) left.
    let cat = token_for(&hub, "cat");
    change(
        Method::POST,
        "/groups/listers/users".into(),
        json!({"users": ["cat"]}),
    )
    .await;
    warm(cat.clone(), "/users").await;
    change(
        Method::DELETE,
        "/groups/listers/users".into(),
        json!({"users": ["cat"]}),
    )
    .await;
    assert_eq!(api.get(&cat, "/users").await.0, 403, "group left");

    // A rename shows at once; a deletion ends the token and the cookie.
    let dan = token_for(&hub, "dan");
    let browser = Browser::new(&hub.public_url());
    assert_eq!(browser.login("dan", "pw", None).await.status(), 302);
    warm(dan.clone(), "/user").await;
    for _ in 0..3 {
        let me = browser.hub_api(Method::GET, "/user").send().await.unwrap();
        assert_eq!(me.status(), 200);
    }
    change(
        Method::PATCH,
        "/users/dan".into(),
        json!({"name": "daniel"}),
    )
    .await;
    let (_, me) = api.get(&dan, "/user").await;
    assert_eq!(me["name"], "daniel", "renamed");
    change(Method::DELETE, "/users/daniel".into(), json!(null)).await;
    assert_eq!(api.get(&dan, "/user").await.0, 403, "deleted user's token");
    let me = browser.hub_api(Method::GET, "/user").send().await.unwrap();
    assert_eq!(me.status(), 403, "deleted user's cookie");

    // Expiry, with nothing written in between.
    let made = api
        .call(&boss, Method::POST, "/users/boss/tokens")
        .json(&json!({"expires_in": 2}))
        .send()
        .await
        .unwrap();
    let short = made.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    warm(short.clone(), "/user").await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(api.get(&short, "/user").await.0, 403, "expired token");
}

/// Every configuration mistake that needs no I/O to find, including roles,
/// custom scopes, services and the environment the hub reads, exits with 64
/// before anything is written: no cookie secret, no database.
/// A config file, environment variables, and what the error must mention.
type BadConfig<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

#[test]
fn bad_configuration_exits_64_having_written_nothing() {
    let cases: &[BadConfig<'_>] = &[
        (
            "[JupyterHub]\ncustom_scopes = { nope = { description = \"x\" } }",
            &[],
            "custom_scopes",
        ),
        (
            "[JupyterHub]\nload_roles = [{ name = \"ruler\", scopes = [\"not-a-scope\"] }]",
            &[],
            "not-a-scope",
        ),
        (
            "[JupyterHub]\nload_roles = [{ name = \"ruler\", scopes = [\"read:users\"], services = [\"ghost\"] }]",
            &[],
            "ghost",
        ),
        (
            "[JupyterHub]\nservices = [{ name = \"a\", url = \"http://127.0.0.1:1\" }, { name = \"a\", url = \"http://127.0.0.1:2\" }]",
            &[],
            "more than once",
        ),
        (
            "[JupyterHub]\ndefault_server_name = \"a/b\"",
            &[],
            "default_server_name",
        ),
        (
            "[JupyterHub]\nspawner_class = \"kubespawner.KubeSpawner\"",
            &[],
            "spawner_class",
        ),
        ("", &[("JPY_COOKIE_SECRET", "abcd")], "at least 32"),
        (
            "",
            &[("JUPYTERHUB_METRICS_PREFIX", "bad prefix!")],
            "JUPYTERHUB_METRICS_PREFIX",
        ),
    ];
    for (config, env, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ferrohub.toml"), config).unwrap();
        // `timeout`: a hub that wrongly starts is stopped, and the test fails on its status.
        let mut command = Command::new("timeout");
        command.current_dir(dir.path()).args([
            "20",
            support::ferrohub_bin().to_str().unwrap(),
            &format!("--JupyterHub.hub_port={}", support::free_port()),
            &format!("--url=http://127.0.0.1:{}", support::free_port()),
        ]);
        for (name, value) in *env {
            command.env(name, value);
        }
        let out = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{config} {env:?}: {stderr}");
        assert!(stderr.contains(expected), "{config}: {stderr}");
        let written: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .filter(|name| name != "ferrohub.toml")
            .collect();
        assert!(written.is_empty(), "{config}: wrote {written:?}");
    }
}

/// `JupyterHub.api_tokens` works (it was accepted and ignored): the token acts
/// as its user, created if needed, and a restart does not store it twice.
#[tokio::test(flavor = "multi_thread")]
async fn configured_api_tokens_act_as_their_user() {
    const TOKEN: &str = "configured-token-for-carol-0123456789";
    let mut hub = TestHub::start(&[(
        "JupyterHub",
        &format!("api_tokens = {{ \"{TOKEN}\" = \"Carol\" }}"),
    )]);
    let api = Api::new(&hub);
    let (status, me) = api.get(TOKEN, "/user").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["name"], "carol", "normalized and created: {me}");
    hub.kill(Signal::SIGTERM);
    hub.launch();
    let (_, tokens) = api.get(TOKEN, "/users/carol/tokens").await;
    let from_config: Vec<&Value> = tokens["api_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["note"] == "from config")
        .collect();
    assert_eq!(from_config.len(), 1, "stored once: {tokens}");
}
