//! A private, throwaway PostgreSQL server for integration tests.
//!
//! [`PgServer::shared`] starts one cluster per test binary (initdb as user
//! `postgres` into a temp dir, trust auth, a free port on 127.0.0.1) and hands out
//! `Arc`s to it; when the last test drops its handle the server is stopped with
//! `pg_ctl stop -m immediate` and the directory removed. Each test then creates
//! its own database with [`PgServer::create_database`].
//!
//! If `FERROHUB_TEST_POSTGRES_URL` is set (e.g. `postgresql://postgres:pw@host:5432/postgres`),
//! that server is used instead; the URL's user must be allowed to create databases.
//!
//! There is no silent skip: without root or without the PostgreSQL binaries
//! the test fails and says what is missing.
//!
//! Copy this file into another crate's `tests/support/` to reuse it; it needs
//! the dev-dependencies `tempfile`, `url` and `sqlx` (features `any`, `postgres`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use sqlx::{AssertSqlSafe, Connection};

/// Where Debian puts PostgreSQL 15's server binaries.
pub const BIN_DIR: &str = "/usr/lib/postgresql/15/bin";
/// Use this server instead of starting one.
pub const URL_ENV: &str = "FERROHUB_TEST_POSTGRES_URL";

/// The running cluster (if we started it), shared by the tests of one binary.
static SHARED: Mutex<Weak<PgServer>> = Mutex::new(Weak::new());

/// A PostgreSQL server the tests may create databases on.
#[derive(Debug)]
pub struct PgServer {
    /// URL of a database to connect to for `CREATE DATABASE`.
    admin_url: String,
    /// Kept alive while tests run; `None` for an external server.
    _cluster: Option<Cluster>,
}

impl PgServer {
    /// The server for this test binary: the one named by `FERROHUB_TEST_POSTGRES_URL`,
    /// or a private cluster started on first use and stopped after the last user.
    pub fn shared() -> Arc<Self> {
        let mut slot = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(server) = slot.upgrade() {
            return server;
        }
        let server = Arc::new(match std::env::var(URL_ENV) {
            Ok(url) if !url.is_empty() => Self {
                admin_url: url,
                _cluster: None,
            },
            _ => {
                let cluster = Cluster::start();
                Self {
                    admin_url: format!("postgresql://postgres@127.0.0.1:{}/postgres", cluster.port),
                    _cluster: Some(cluster),
                }
            }
        });
        *slot = Arc::downgrade(&server);
        server
    }

    /// Creates an empty database (dropping a leftover of the same name) and
    /// returns its JupyterHub-style URL. `name`: lowercase letters, digits, `_`.
    pub async fn create_database(&self, name: &str) -> String {
        assert!(
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "database name {name:?}: use [a-z0-9_]"
        );
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&self.admin_url)
            .await
            .unwrap_or_else(|e| panic!("connecting to PostgreSQL at {}: {e}", self.admin_url));
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            sqlx::raw_sql(AssertSqlSafe(sql.clone()))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        conn.close().await.ok();
        let mut url = url::Url::parse(&self.admin_url).expect("PostgreSQL URL");
        url.set_path(&format!("/{name}"));
        url.into()
    }
}

/// A cluster we initialised and started; stopped on drop.
#[derive(Debug)]
struct Cluster {
    /// Owned by `postgres`: `data/` (the cluster), the socket and `log`.
    dir: tempfile::TempDir,
    port: u16,
}

impl Cluster {
    fn start() -> Self {
        check_prerequisites();
        let dir = tempfile::Builder::new()
            .prefix("ferrohub-pg-")
            .tempdir()
            .expect("creating a temp dir for PostgreSQL");
        run(Command::new("chown").arg("postgres:").arg(dir.path()));
        let data = dir.path().join("data");
        run(as_postgres(dir.path(), "initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]));
        // A free port can be taken between our probe and the server's bind: retry.
        for _ in 0..5 {
            let port = free_port();
            let options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                dir.path().display()
            );
            let started = as_postgres(dir.path(), "pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(log_path(dir.path()))
                .args(["-o", &options, "-w", "-t", "60", "start"])
                .output()
                .expect("running pg_ctl");
            if started.status.success() {
                return Self { dir, port };
            }
        }
        panic!(
            "PostgreSQL did not start; server log:\n{}",
            std::fs::read_to_string(log_path(dir.path())).unwrap_or_default()
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Best effort: a failure here must not hide the test's own result.
        let stopped = as_postgres(self.dir.path(), "pg_ctl")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
        if !stopped.is_ok_and(|out| out.status.success()) {
            eprintln!(
                "warning: could not stop the test PostgreSQL in {}",
                self.dir.path().display()
            );
        }
    }
}

fn check_prerequisites() {
    let initdb = Path::new(BIN_DIR).join("initdb");
    assert!(
        initdb.exists(),
        "PostgreSQL tests need {} (apt-get install postgresql-15), or set {URL_ENV} to a server",
        initdb.display()
    );
    let uid = run(Command::new("id").arg("-u"));
    assert!(
        String::from_utf8_lossy(&uid.stdout).trim() == "0",
        "PostgreSQL tests start a private cluster as user `postgres` and must run as root; \
         run them as root or set {URL_ENV} to a server"
    );
}

/// `runuser -u postgres -- <BIN_DIR>/<tool>`, run from `cwd` (postgres cannot read ours).
fn as_postgres(cwd: &Path, tool: &str) -> Command {
    let mut command = Command::new("runuser");
    command
        .args(["-u", "postgres", "--"])
        .arg(Path::new(BIN_DIR).join(tool))
        .current_dir(cwd);
    command
}

fn log_path(dir: &Path) -> PathBuf {
    dir.join("log")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("probing for a free port")
        .port()
}

/// Runs a command, panicking with its output if it fails.
fn run(command: &mut Command) -> Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
