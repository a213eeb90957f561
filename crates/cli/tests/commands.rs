//! The maintenance commands and start-up refusals: `--generate-config`,
//! `token`, `upgrade-db`, an old database schema, an unsafe cookie secret.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use support::ferrohub_bin;

fn ferrohub(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(ferrohub_bin())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn generate_config_then_use_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = ferrohub(dir.path(), &["--generate-config"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.path().join("ferrohub.toml")).unwrap();
    assert!(
        text.contains("[JupyterHub]") && text.contains("# bind_url = \"http://:8000\""),
        "{text:.400}"
    );
    // Never overwrites without -y.
    let again = ferrohub(dir.path(), &["--generate-config"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("-y"));
    assert!(
        ferrohub(dir.path(), &["--generate-config", "-y"])
            .status
            .success()
    );
    // The generated file loads (ferrohub.toml is read by default); a token for
    // an unknown user is a clear error, and the default database was created.
    let token = ferrohub(dir.path(), &["token", "nobody"]);
    assert_eq!(token.status.code(), Some(1));
    assert_eq!(stderr(&token).trim(), "ferrohub: no such user: nobody");
    assert!(dir.path().join("ferrohub.sqlite").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn old_schema_is_refused_until_upgrade_db() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hub.sqlite");
    let db_url = format!("sqlite:///{}", db.display());
    let store = ferrohub_store::Store::connect(&db_url).await.unwrap();
    store.migrate_to(1).await.unwrap();
    store.close().await;
    let config = format!(
        "[JupyterHub]\ndb_url = \"{db_url}\"\nbind_url = \"http://127.0.0.1:{}\"\nhub_port = {}\n\
         [ConfigurableHTTPProxy]\napi_url = \"http://127.0.0.1:{}\"\n",
        support::free_port(),
        support::free_port(),
        support::free_port()
    );
    std::fs::write(dir.path().join("ferrohub.toml"), config).unwrap();

    let refused = ferrohub(dir.path(), &[]);
    assert_eq!(refused.status.code(), Some(1));
    let message = stderr(&refused);
    assert!(
        message.contains("older") && message.contains("ferrohub upgrade-db"),
        "{message}"
    );
    assert!(
        !dir.path().join("ferrohub-proxy.pid").exists(),
        "refused before starting the proxy"
    );

    let upgraded = ferrohub(dir.path(), &["upgrade-db"]);
    assert!(upgraded.status.success(), "{}", stderr(&upgraded));
    let stdout = String::from_utf8_lossy(&upgraded.stdout).into_owned();
    let backup = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Backed up the database to "))
        .expect(&stdout);
    let backup_store = ferrohub_store::Store::connect(&format!("sqlite:///{backup}"))
        .await
        .unwrap();
    assert_eq!(
        backup_store.schema_status().await.unwrap(),
        ferrohub_store::SchemaStatus::Older(1)
    );

    // Now the database is current: users and tokens work.
    let store = ferrohub_store::Store::connect(&db_url).await.unwrap();
    store.prepare().await.unwrap();
    store.create_user("alice", false).await.unwrap();
    store.close().await;
    let token = ferrohub(dir.path(), &["token", "Alice"]);
    assert!(token.status.success(), "{}", stderr(&token));
    let token = String::from_utf8(token.stdout).unwrap();
    assert_eq!(token.trim().len(), 32);
    let store = ferrohub_store::Store::connect(&db_url).await.unwrap();
    let record = store
        .find_token(token.trim())
        .await
        .unwrap()
        .expect("the printed token is valid");
    assert_eq!(record.note.as_deref(), Some("command-line generated"));
}

#[test]
fn cookie_secret_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("ferrohub_cookie_secret");
    std::fs::write(&secret, format!("{}\n", "ab".repeat(32))).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = ferrohub(
        dir.path(),
        &[
            &format!("--JupyterHub.hub_port={}", support::free_port()),
            &format!("--url=http://127.0.0.1:{}", support::free_port()),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
    assert!(
        !dir.path().join("ferrohub.sqlite").exists(),
        "nothing else was written"
    );
}

#[test]
fn a_new_cookie_secret_is_private() {
    let dir = tempfile::tempdir().unwrap();
    // A hub whose proxy cannot start stops early, after creating its secret.
    let out = ferrohub(
        dir.path(),
        &[
            &format!("--JupyterHub.hub_port={}", support::free_port()),
            &format!("--url=http://127.0.0.1:{}", support::free_port()),
            "--ConfigurableHTTPProxy.command=['/nonexistent/proxy']",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("/nonexistent/proxy"),
        "{}",
        stderr(&out)
    );
    let mode = std::fs::metadata(dir.path().join("ferrohub_cookie_secret"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(dir.path().join("ferrohub_cookie_secret")).unwrap();
    assert_eq!(text.trim().len(), 64, "32 bytes, hex");
}
