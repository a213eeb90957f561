//! `auth_state` end to end, in upstream's format both ways: a value an admin
//! sets through the REST API is stored encrypted in the database, where
//! upstream's own `jupyterhub.crypto` (the real package in the project's
//! virtualenv) decrypts it; a value upstream's `CryptKeeper` encrypted into
//! the column is read by ferrohub. Key rotation (`JUPYTERHUB_CRYPT_KEY` =
//! "new;old" after a restart) still reads old values and writes new ones
//! under the first key only. Only `admin:auth_state` sees it; a server
//! started for the user receives the `Spawner.auth_state_env` fields, read
//! from inside by a kernel of the real `jupyterhub-singleuser`; a later login
//! replaces it with what the authenticator returns. And the hub refuses to
//! start with `enable_auth_state` but no valid key.
//! Real parts: the ferrohub binary, ferrohub-proxy, jupyterhub-singleuser,
//! Python's jupyterhub 6.1.1 and cryptography.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use reqwest::Method;
use serde_json::{Value, json};
use support::browser::Browser;
use support::{TestHub, venv};

/// The first key, hex-encoded (one of upstream's accepted spellings).
const OLD_KEY: &str = "1111111111111111111111111111111111111111111111111111111111111111";
/// The key rotated in, base64url (the other spelling): 32 bytes of 0x22.
const NEW_KEY: &str = "IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI=";

/// Runs Python from the virtualenv with `JUPYTERHUB_CRYPT_KEY = keys`;
/// `script` gets `db` and `arg` as `sys.argv[1:]`. Its stdout, trimmed.
fn python(keys: &str, script: &str, db: &Path, arg: &str) -> Result<String, String> {
    let output = Command::new(venv().join("bin/python"))
        .arg("-c")
        .arg(script)
        .arg(db)
        .arg(arg)
        .env("JUPYTERHUB_CRYPT_KEY", keys)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// Upstream's `CryptKeeper` decrypting a user's raw `encrypted_auth_state`
/// column; prints the JSON, or fails (InvalidToken) if no key opens it.
const UPSTREAM_READ: &str = r#"
import asyncio, json, sqlite3, sys
from jupyterhub import crypto
db, user = sys.argv[1:]
(raw,) = sqlite3.connect(db).execute(
    "SELECT encrypted_auth_state FROM users WHERE name = ?", (user,)).fetchone()
assert isinstance(raw, bytes), type(raw)
async def read():
    return await crypto.decrypt(raw)
print(json.dumps(asyncio.run(read()), sort_keys=True))
"#;

/// Upstream's `CryptKeeper` encrypting a value (JSON in `sys.argv[2]`
/// after the `user=` prefix) into the user's column, as `save_auth_state` does.
const UPSTREAM_WRITE: &str = r#"
import asyncio, json, sqlite3, sys
from jupyterhub import crypto
db, arg = sys.argv[1:]
user, value = arg.split("=", 1)
async def write():
    return await crypto.encrypt(json.loads(value))
token = asyncio.run(write())
conn = sqlite3.connect(db, timeout=30)
conn.execute("UPDATE users SET encrypted_auth_state = ? WHERE name = ?", (token, user))
conn.commit()
print(token.decode())
"#;

/// The raw column, as bytes.
const RAW_COLUMN: &str = r#"
import sqlite3, sys
db, user = sys.argv[1:]
(raw,) = sqlite3.connect(db).execute(
    "SELECT encrypted_auth_state FROM users WHERE name = ?", (user,)).fetchone()
print(raw.decode() if raw is not None else "NULL")
"#;

fn canonical(value: &Value) -> String {
    // Python's json.dumps(sort_keys=True) spelling, for comparison.
    let text = serde_json::to_string(value).unwrap();
    let parsed: Value = serde_json::from_str(&text).unwrap();
    let mut out = String::new();
    write_sorted(&parsed, &mut out);
    out
}

fn write_sorted(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            out.push('{');
            let mut keys: Vec<_> = map.keys().collect();
            keys.sort();
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&serde_json::to_string(key).unwrap());
                out.push_str(": ");
                write_sorted(&map[*key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_sorted(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

async fn model(browser: &Browser, user: &str) -> Value {
    let answer = browser
        .hub_api(Method::GET, &format!("/users/{user}"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "GET /users/{user}");
    answer.json().await.unwrap()
}

async fn patch_auth_state(browser: &Browser, user: &str, value: &Value) -> Value {
    let answer = browser
        .hub_api(Method::PATCH, &format!("/users/{user}"))
        .json(&json!({ "auth_state": value }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "PATCH /users/{user}");
    answer.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_state_round_trips_with_upstream_survives_rotation_and_reaches_the_server() {
    let mut hub = TestHub::start_with_env(
        "dummy",
        "simple",
        &[
            (
                "Authenticator",
                "enable_auth_state = true\nadmin_users = [\"admin\"]",
            ),
            (
                "Spawner",
                "auth_state_env = { ACCESS_TOKEN = \"access_token\", USER_EMAIL = \"oauth_user.email\" }",
            ),
        ],
        &[("JUPYTERHUB_CRYPT_KEY", OLD_KEY)],
    );
    let db = hub.dir.path().join("ferrohub.sqlite");
    let admin = Browser::new(&hub.public_url());
    assert_eq!(admin.login("admin", "pw", None).await.status(), 302);
    let alice = Browser::new(&hub.public_url());
    assert_eq!(alice.login("alice", "pw", None).await.status(), 302);

    // A login through a back end without auth_state stores none.
    assert_eq!(model(&admin, "alice").await["auth_state"], Value::Null);

    // ferrohub -> upstream: set through the API, decrypted by jupyterhub.crypto.
    let first = json!({"access_token": "tok-ferrohub-1", "oauth_user": {"email": "alice@example.org", "id": 7}});
    assert_eq!(
        patch_auth_state(&admin, "alice", &first).await["auth_state"],
        first
    );
    assert_eq!(model(&admin, "alice").await["auth_state"], first);
    let raw = python(OLD_KEY, RAW_COLUMN, &db, "alice").unwrap();
    assert!(raw.starts_with("gAAAAA"), "a Fernet token: {raw}");
    assert!(
        !raw.contains("tok-ferrohub") && !raw.contains("alice@"),
        "{raw}"
    );
    assert_eq!(
        python(OLD_KEY, UPSTREAM_READ, &db, "alice").unwrap(),
        canonical(&first)
    );
    assert!(
        python(NEW_KEY, UPSTREAM_READ, &db, "alice").is_err(),
        "another key does not open it"
    );

    // Only admin:auth_state sees it: not alice herself.
    let own = model(&alice, "alice").await;
    assert!(own.get("auth_state").is_none(), "{own}");

    // upstream -> ferrohub: CryptKeeper writes the column, the API reads it.
    let second = json!({"access_token": "tok-upstream-2", "oauth_user": {"email": "alice@upstream.example"}});
    python(OLD_KEY, UPSTREAM_WRITE, &db, &format!("alice={second}")).unwrap();
    assert_eq!(model(&admin, "alice").await["auth_state"], second);

    // Rotation: the new key first, the old one second.
    hub.kill(nix::sys::signal::Signal::SIGTERM);
    hub.env = vec![(
        "JUPYTERHUB_CRYPT_KEY".to_owned(),
        format!("{NEW_KEY};{OLD_KEY}"),
    )];
    hub.launch();
    // The old value is still read, and written again under the new key.
    assert_eq!(model(&admin, "alice").await["auth_state"], second);
    assert_eq!(
        python(NEW_KEY, UPSTREAM_READ, &db, "alice").unwrap(),
        canonical(&second),
        "re-encrypted with the first key"
    );
    // New writes use the first key only; upstream with both keys reads them.
    let third =
        json!({"access_token": "tok-rotated-3", "oauth_user": {"email": "alice@rotated.example"}});
    patch_auth_state(&admin, "alice", &third).await;
    assert!(python(OLD_KEY, UPSTREAM_READ, &db, "alice").is_err());
    assert_eq!(
        python(&format!("{NEW_KEY};{OLD_KEY}"), UPSTREAM_READ, &db, "alice").unwrap(),
        canonical(&third)
    );
    // And a value upstream writes under the old key alone is still read.
    python(OLD_KEY, UPSTREAM_WRITE, &db, &format!("alice={third}")).unwrap();
    assert_eq!(model(&admin, "alice").await["auth_state"], third);

    // The server started for alice gets the configured fields.
    alice.start_server("alice").await;
    let page = alice
        .follow
        .get(format!("{}/user/alice/", hub.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "alice's server");
    let seen = alice
        .run_code(
            "alice",
            "import os; (os.environ.get('ACCESS_TOKEN', 'unset'), os.environ.get('USER_EMAIL', 'unset'), 'JUPYTERHUB_CRYPT_KEY' in os.environ)",
        )
        .await;
    assert_eq!(seen, "('tok-rotated-3', 'alice@rotated.example', False)");

    // Every login writes what the authenticator returned, as upstream: the
    // dummy back end returns none, so a new login clears the stored value.
    let again = Browser::new(&hub.public_url());
    assert_eq!(again.login("alice", "pw", None).await.status(), 302);
    assert_eq!(model(&admin, "alice").await["auth_state"], Value::Null);
    assert_eq!(python(NEW_KEY, RAW_COLUMN, &db, "alice").unwrap(), "NULL");
}

/// The config of a hub that would store auth_state, in `dir`.
fn enabled_config(dir: &Path) -> std::path::PathBuf {
    let d = dir.display();
    let path = dir.join("ferrohub.toml");
    std::fs::write(
        &path,
        format!(
            "[JupyterHub]\ndb_url = \"sqlite:///{d}/ferrohub.sqlite\"\n\
             cookie_secret_file = \"{d}/cookie_secret\"\nauthenticator_class = \"dummy\"\n\
             [Authenticator]\nenable_auth_state = true\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn the_hub_refuses_to_start_with_auth_state_but_no_valid_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = enabled_config(dir.path());
    let cases = [
        (
            None,
            "Encryption keys must be specified in JUPYTERHUB_CRYPT_KEY env",
        ),
        (
            Some("not-a-key"),
            "Encryption keys must be 32 bytes, hex or base64-encoded.",
        ),
        (
            Some(" ; "),
            "Encryption keys must be specified in JUPYTERHUB_CRYPT_KEY env",
        ),
    ];
    for (key, reason) in cases {
        let mut command = Command::new(support::ferrohub_bin());
        command.arg("-f").arg(&config).current_dir(dir.path());
        match key {
            Some(key) => command.env("JUPYTERHUB_CRYPT_KEY", key),
            None => command.env_remove("JUPYTERHUB_CRYPT_KEY"),
        };
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(64), "{key:?}: {stderr}");
        assert_eq!(
            stderr.trim_end(),
            format!("ferrohub: auth_state is enabled, but encryption is not available: {reason}"),
            "{key:?}"
        );
        assert!(
            !dir.path().join("ferrohub.sqlite").exists()
                && !dir.path().join("cookie_secret").exists(),
            "nothing written"
        );
    }
}
