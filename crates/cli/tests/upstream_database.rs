//! Trying ferrohub is safe: a database that upstream JupyterHub 6.1.1 made
//! and used (users, an admin, a group, a custom role, a service with its
//! token and OAuth client, a user's API token, a named server, a share) is
//! adopted by ferrohub, whose API then honours upstream's tokens and shows
//! upstream's records; and after ferrohub has used it (a token of its
//! own), upstream starts on it again and both tokens work there. SQLite
//! here; the same on PostgreSQL and MySQL is still to be shown.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
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
    fn start(dir: &std::path::Path, db: &std::path::Path, service_port: u16) -> Self {
        let (port, hub_port, api_port) = (free_port(), free_port(), free_port());
        let config = dir.join("ferrohub.toml");
        std::fs::write(
            &config,
            format!(
                r#"[JupyterHub]
bind_url = "http://127.0.0.1:{port}"
hub_port = {hub_port}
db_url = "sqlite:///{db}"
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
                db = db.display(),
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
        let backups = std::fs::read_dir(db.parent().unwrap())
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                let name = name.to_string_lossy();
                name.starts_with("shared.sqlite.") && name != "shared.sqlite"
            })
            .count();
        assert!(backups >= 1, "upgrade-db backed the database up");
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
async fn an_upstream_database_is_adopted_and_upstream_starts_on_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.sqlite");
    let db_url = format!("sqlite:///{}", db.display());
    let service_port = free_port();

    // 1. Upstream makes the database and uses it.
    let upstream = UpstreamHub::start(&db_url, &upstream_config(service_port));
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
    let ferrohub = Ferrohub::start(dir.path(), &db, service_port);
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
    let upstream = UpstreamHub::start(&db_url, &upstream_config(service_port));
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
