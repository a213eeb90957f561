//! Trying ferrohub is safe: a database that upstream JupyterHub 6.1.1 made
//! and used (users, an admin, a group, a custom role, a service with its
//! token and OAuth client, a user's API token, a named server, a share) is
//! adopted by ferrohub, whose API then honours upstream's tokens and shows
//! upstream's records; and after ferrohub has used it (a token of its
//! own), upstream starts on it again and both tokens work there: on
//! SQLite, PostgreSQL and MariaDB (private servers, support/db_servers.rs).
//! And a JupyterHub 5.x database is brought to 6.1.1's schema by
//! `upgrade-db`, on SQLite and PostgreSQL.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use support::db_servers::{DbServer, Kind};
use support::upstream::UpstreamHub;
use support::{eventually, ferrohub_bin, free_port, http_get_status};

/// The service both hubs know, with its token from the configuration.
const SERVICE_TOKEN: &str = "upstream-and-ferrohub-service-token-0123456789";

/// What upstream's configuration adds: the people, a group, a role, the
/// service (admin through the built-in role), named servers.
fn upstream_config(service_port: u16) -> String {
    format!(
        r#"
c.Authenticator.admin_users = {{"ada"}}
c.JupyterHub.allow_named_servers = True
c.JupyterHub.load_groups = {{"physics": {{"users": ["ada", "bob"]}}}}
c.JupyterHub.services = [{{
    "name": "culler",
    "api_token": "{SERVICE_TOKEN}",
    "url": "http://127.0.0.1:{service_port}",
    "oauth_client_id": "service-culler",
}}]
c.JupyterHub.load_roles = [
    {{"name": "admin", "services": ["culler"]}},
    {{"name": "reader", "scopes": ["read:users", "read:groups"], "users": ["bob"]}},
]
"#
    )
}

/// A client of a hub's REST API at `base` with `token`.
async fn api(
    base: &str,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{base}/hub/api{path}"))
        .header("Authorization", format!("token {token}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The ferrohub hub on the shared database, with the same service.
struct Ferrohub {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Ferrohub {
    /// Upgrades (adopts) the database at `db_url` and starts on it; for a
    /// SQLite file, checks that `upgrade-db` backed it up.
    fn start(dir: &std::path::Path, db_url: &str, service_port: u16) -> Self {
        let (port, hub_port, api_port) = (free_port(), free_port(), free_port());
        let config = dir.join("ferrohub.toml");
        std::fs::write(
            &config,
            format!(
                r#"[JupyterHub]
bind_url = "http://127.0.0.1:{port}"
hub_port = {hub_port}
db_url = "{db_url}"
cookie_secret_file = "{d}/ferrohub_cookie_secret"
authenticator_class = "dummy"
spawner_class = "simple"
allow_named_servers = true
services = [{{ name = "culler", api_token = "{SERVICE_TOKEN}", url = "http://127.0.0.1:{service_port}", oauth_client_id = "service-culler" }}]
load_roles = [{{ name = "admin", services = ["culler"] }}, {{ name = "reader", scopes = ["read:users", "read:groups"], users = ["bob"] }}]
[ConfigurableHTTPProxy]
api_url = "http://127.0.0.1:{api_port}"
pid_file = "{d}/ferrohub-proxy.pid"
[Authenticator]
admin_users = ["ada"]
allow_all = true
"#,
                d = dir.display(),
            ),
        )
        .unwrap();
        let log = dir.join("ferrohub.log");
        // Moving from JupyterHub: `ferrohub upgrade-db` first (a hub
        // refuses an older schema), which backs the SQLite file up.
        let upgraded = Command::new(ferrohub_bin())
            .arg("-f")
            .arg(&config)
            .arg("upgrade-db")
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            upgraded.status.success(),
            "upgrade-db: {}",
            String::from_utf8_lossy(&upgraded.stderr)
        );
        if let Some(file) = db_url.strip_prefix("sqlite:///") {
            let file = std::path::Path::new(file);
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            let backups = std::fs::read_dir(file.parent().unwrap())
                .unwrap()
                .filter(|e| {
                    let other = e.as_ref().unwrap().file_name();
                    let other = other.to_string_lossy();
                    other.starts_with(&format!("{name}.")) && other != name.as_str()
                })
                .count();
            assert!(backups >= 1, "upgrade-db backed the database up");
        }
        let child = Command::new(ferrohub_bin())
            .arg("-f")
            .arg(&config)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::options().append(true).open(&log).unwrap())
            .spawn()
            .unwrap();
        let mut hub = Self { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        while http_get_status(port, "/hub/api") != Some(200) {
            if let Ok(Some(status)) = hub.child.try_wait() {
                panic!("ferrohub exited ({status}):\n{}", hub.log());
            }
            assert!(
                Instant::now() < deadline,
                "ferrohub did not answer:\n{}",
                hub.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        hub
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn stop(mut self) {
        nix::sys::signal::kill(
            support::pid_of(&self.child),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "ferrohub's shutdown: {status}\n{}",
            self.log()
        );
    }
}

/// The records a user sees of bob, ada and the group through `base`.
async fn check_records(base: &str, bob_token: &str, who: &str) {
    let (status, me) = api(base, bob_token, Method::GET, "/user", None).await;
    assert_eq!(status, 200, "{who}: bob's token: {me}");
    assert_eq!(me["name"], "bob", "{who}");
    assert_eq!(me["groups"], json!(["physics"]), "{who}: {me}");
    let roles = me["roles"].as_array().unwrap();
    assert!(roles.contains(&json!("reader")), "{who}: {me}");
    let (status, ada) = api(
        base,
        SERVICE_TOKEN,
        Method::GET,
        "/users/ada?include_stopped_servers",
        None,
    )
    .await;
    assert_eq!(status, 200, "{who}: the service's token: {ada}");
    assert_eq!(ada["admin"], true, "{who}: {ada}");
    assert_eq!(ada["servers"]["lab1"]["name"], "lab1", "{who}: {ada}");
    assert_eq!(ada["servers"]["lab1"]["ready"], false, "{who}: {ada}");
    let (status, group) = api(base, SERVICE_TOKEN, Method::GET, "/groups/physics", None).await;
    assert_eq!(status, 200, "{who}: {group}");
    let mut members: Vec<&str> = group["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    members.sort_unstable();
    assert_eq!(members, ["ada", "bob"], "{who}");
    let (status, shares) = api(base, SERVICE_TOKEN, Method::GET, "/shares/ada/lab1", None).await;
    assert_eq!(status, 200, "{who}: {shares}");
    let shared_with: Vec<&Value> = shares["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["user"]["name"])
        .collect();
    assert_eq!(shared_with, [&json!("bob")], "{who}: {shares}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_sqlite_database_is_adopted_and_upstream_starts_on_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite:///{}", dir.path().join("shared.sqlite").display());
    round_trip(dir.path(), &db_url).await;
}

/// Upstream's PostgreSQL schema has BOOLEAN and TIMESTAMP columns, which
/// ferrohub reads and writes as they are (issue 15).
#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_postgresql_database_is_adopted_and_upstream_starts_on_it_again() {
    let server = DbServer::start(Kind::Postgres);
    let dir = tempfile::tempdir().unwrap();
    round_trip(dir.path(), &server.db_url()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_mariadb_database_is_adopted_and_upstream_starts_on_it_again() {
    let server = DbServer::start(Kind::MariaDb);
    let dir = tempfile::tempdir().unwrap();
    round_trip(dir.path(), &server.db_url()).await;
}

/// Upstream makes and uses the database at `db_url`, ferrohub adopts it,
/// upstream starts on it again.
async fn round_trip(dir: &std::path::Path, db_url: &str) {
    let service_port = free_port();

    // 1. Upstream makes the database and uses it.
    let upstream = UpstreamHub::start(db_url, &upstream_config(service_port));
    let base = upstream.public_url();
    for user in ["ada", "bob"] {
        let (status, _) = api(
            &base,
            SERVICE_TOKEN,
            Method::POST,
            &format!("/users/{user}"),
            None,
        )
        .await;
        assert!(matches!(status, 201 | 409), "create {user}: {status}");
    }
    let (status, token) = api(
        &base,
        SERVICE_TOKEN,
        Method::POST,
        "/users/bob/tokens",
        Some(json!({"note": "made by upstream"})),
    )
    .await;
    assert_eq!(status, 201, "{token}");
    let upstream_token = token["token"].as_str().unwrap().to_owned();
    let (status, answer) = api(
        &base,
        SERVICE_TOKEN,
        Method::POST,
        "/users/ada/servers/lab1",
        None,
    )
    .await;
    assert!(
        matches!(status, 201 | 202),
        "{status} {answer}\n{}",
        upstream.log()
    );
    eventually(120, "ada's named server on upstream", || async {
        let (_, ada) = api(&base, SERVICE_TOKEN, Method::GET, "/users/ada", None).await;
        (ada["servers"]["lab1"]["ready"] == true).then_some(())
    })
    .await;
    let (status, share) = api(
        &base,
        SERVICE_TOKEN,
        Method::POST,
        "/shares/ada/lab1",
        Some(json!({"user": "bob"})),
    )
    .await;
    assert_eq!(status, 200, "{share}");
    let (status, _) = api(
        &base,
        SERVICE_TOKEN,
        Method::DELETE,
        "/users/ada/servers/lab1",
        None,
    )
    .await;
    assert!(matches!(status, 202 | 204));
    eventually(60, "ada's named server to stop", || async {
        let (_, ada) = api(&base, SERVICE_TOKEN, Method::GET, "/users/ada", None).await;
        ada["servers"]
            .get("lab1")
            .is_none_or(|s| s["ready"] != true)
            .then_some(())
    })
    .await;
    check_records(&base, &upstream_token, "upstream, first run").await;
    drop(upstream);

    // 2. ferrohub adopts it: upstream's records and tokens are honoured, and
    // it makes a token of its own.
    let ferrohub = Ferrohub::start(dir, db_url, service_port);
    let ferro_base = format!("http://127.0.0.1:{}", ferrohub.port);
    check_records(&ferro_base, &upstream_token, "ferrohub").await;
    let (status, token) = api(
        &ferro_base,
        SERVICE_TOKEN,
        Method::POST,
        "/users/bob/tokens",
        Some(json!({"note": "made by ferrohub"})),
    )
    .await;
    assert_eq!(status, 201, "{token}");
    let ferrohub_token = token["token"].as_str().unwrap().to_owned();
    let (status, me) = api(&ferro_base, &ferrohub_token, Method::GET, "/user", None).await;
    assert_eq!((status, &me["name"]), (200, &json!("bob")));
    ferrohub.stop();

    // 3. Upstream starts on it again: its own token, ferrohub's token and
    // every record still work.
    let upstream = UpstreamHub::start(db_url, &upstream_config(service_port));
    let base = upstream.public_url();
    check_records(&base, &upstream_token, "upstream, after ferrohub").await;
    let (status, me) = api(&base, &ferrohub_token, Method::GET, "/user", None).await;
    assert_eq!(
        status,
        200,
        "ferrohub's token on upstream: {me}\n{}",
        upstream.log()
    );
    assert_eq!(me["name"], "bob");
    let (status, tokens) = api(&base, SERVICE_TOKEN, Method::GET, "/users/bob/tokens", None).await;
    assert_eq!(status, 200);
    let notes: Vec<&str> = tokens["api_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["note"].as_str())
        .collect();
    assert!(
        notes.contains(&"made by upstream") && notes.contains(&"made by ferrohub"),
        "{notes:?}"
    );
    let log = upstream.log();
    assert!(
        !log.contains("Traceback") && !log.contains("DatabaseSchemaMismatch"),
        "{log}"
    );
}

/// Makes a JupyterHub 5.x database with upstream's own application (its
/// `initialize`: schema, users, admin, group, role, service), adds a token
/// for bob and a named server row for ada, and prints the token and the
/// alembic revision.
const MAKE_5X_DATABASE: &str = r#"
import asyncio, sys
from sqlalchemy import text
from jupyterhub.app import JupyterHub

async def main(config_file):
    app = JupyterHub()
    await app.initialize(["-f", config_file])
    bob = app.users["bob"]
    token = bob.new_api_token(note="made by jupyterhub 5")
    app.users["ada"].get_spawner("lab1", replace_failed=True)
    app.db.commit()
    print(token)
    print(app.db.execute(text("SELECT version_num FROM alembic_version")).scalar())

asyncio.run(main(sys.argv[1]))
"#;

/// The virtualenv with JupyterHub 5.x that scripts/setup.sh makes.
fn jupyterhub5_venv() -> std::path::PathBuf {
    let venv = support::venv().with_file_name("venv-jupyterhub5");
    assert!(
        venv.join("bin/jupyterhub").exists(),
        "{} is missing; run scripts/setup.sh",
        venv.display()
    );
    venv
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jupyterhub_5_database_is_upgraded_adopted_and_upstream_6_starts_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite:///{}", dir.path().join("shared.sqlite").display());
    upgrade_5x(dir.path(), &db_url).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jupyterhub_5_postgresql_database_is_upgraded_adopted_and_upstream_6_starts_on_it() {
    let server = DbServer::start(Kind::Postgres);
    let dir = tempfile::tempdir().unwrap();
    // JupyterHub 5's SQLAlchemy would take psycopg2 for `postgresql://`;
    // its virtualenv has psycopg 3 (and ferrohub reads either form).
    let db_url = server
        .db_url()
        .replacen("postgresql://", "postgresql+psycopg://", 1);
    upgrade_5x(dir.path(), &db_url).await;
}

/// JupyterHub 5.x makes a database at `db_url`; ferrohub refuses it until
/// `upgrade-db`, then adopts it; upstream 6.1.1 starts on it.
async fn upgrade_5x(dir: &std::path::Path, db_url: &str) {
    let service_port = free_port();
    let config = dir.join("jupyterhub5_config.py");
    std::fs::write(
        &config,
        format!(
            r#"c = get_config()  # noqa
c.JupyterHub.db_url = "{db_url}"
c.JupyterHub.cookie_secret_file = "{d}/jupyterhub_cookie_secret"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = {{"ada", "bob"}}
{extra}"#,
            d = dir.display(),
            extra = upstream_config(service_port),
        ),
    )
    .unwrap();
    std::fs::write(dir.join("make.py"), MAKE_5X_DATABASE).unwrap();
    let made = Command::new(jupyterhub5_venv().join("bin/python"))
        .arg(dir.join("make.py"))
        .arg(&config)
        .current_dir(dir)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&made.stdout);
    assert!(
        made.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let mut lines = out.lines().rev();
    let revision = lines.next().unwrap().to_owned();
    let token = lines.next().unwrap().to_owned();
    assert_eq!(revision, "4621fec11365", "JupyterHub 5.x's alembic head");

    // A hub refuses it with what to do; upgrade-db brings it to 6.1.1's
    // schema and ferrohub's, and bob's 5.x token works.
    let refused = Command::new(ferrohub_bin())
        .arg(format!("--JupyterHub.db_url={db_url}"))
        .args(["token", "bob"])
        .current_dir(dir)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        said.contains("4621fec11365") && said.contains("ferrohub upgrade-db"),
        "{said}"
    );
    let ferrohub = Ferrohub::start(dir, db_url, service_port);
    let ferro_base = format!("http://127.0.0.1:{}", ferrohub.port);
    let (status, me) = api(&ferro_base, &token, Method::GET, "/user", None).await;
    assert_eq!(status, 200, "the 5.x token: {me}\n{}", ferrohub.log());
    assert_eq!(me["name"], "bob");
    assert_eq!(me["groups"], json!(["physics"]));
    let (status, ada) = api(
        &ferro_base,
        SERVICE_TOKEN,
        Method::GET,
        "/users/ada?include_stopped_servers",
        None,
    )
    .await;
    assert_eq!(status, 200, "{ada}");
    assert_eq!(ada["admin"], true);
    assert_eq!(ada["servers"]["lab1"]["name"], "lab1", "{ada}");
    ferrohub.stop();

    // JupyterHub 6.1.1 starts on the upgraded database without asking for
    // its own upgrade, and the 5.x token still works there.
    let upstream = UpstreamHub::start(db_url, &upstream_config(service_port));
    let (status, me) = api(&upstream.public_url(), &token, Method::GET, "/user", None).await;
    assert_eq!(status, 200, "{me}\n{}", upstream.log());
    assert_eq!(me["name"], "bob");
    let log = upstream.log();
    assert!(
        !log.contains("upgrade-db") && !log.contains("Traceback"),
        "{log}"
    );
}
