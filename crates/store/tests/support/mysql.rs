//! A private, throwaway MariaDB server for integration tests.
//!
//! [`MyServer::shared`] starts one server per test binary (`mariadb-install-db`
//! into a temp dir owned by `mysql`, `mariadbd` on a free port of 127.0.0.1
//! and a socket in that dir) and hands out `Arc`s to it; when the last test
//! drops its handle the server is killed and the directory removed. Each test
//! then creates its own database with [`MyServer::create_database`], reached
//! over TCP as user `hub`, as a hub would.
//!
//! If `FERROHUB_TEST_MYSQL_URL` is set (e.g. `mysql://root:pw@host:3306/mysql`),
//! that server is used instead; the URL's user must be allowed to create
//! databases.
//!
//! There is no silent skip: without root or without the MariaDB binaries
//! (`scripts/setup.sh` installs them) the test fails and says what is missing.
//!
//! Copy this file into another crate's `tests/support/` to reuse it; it needs
//! the dev-dependencies `tempfile`, `url` and `sqlx` (features `any`, `mysql`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Connection};

/// Debian's MariaDB server.
pub const MARIADBD: &str = "/usr/sbin/mariadbd";
/// Use this server instead of starting one.
pub const URL_ENV: &str = "FERROHUB_TEST_MYSQL_URL";

/// The running server (if we started it), shared by the tests of one binary.
static SHARED: Mutex<Weak<MyServer>> = Mutex::new(Weak::new());

/// A MySQL/MariaDB server the tests may create databases on.
#[derive(Debug)]
pub struct MyServer {
    /// URL to connect to for `CREATE DATABASE` (sqlx form).
    admin_url: String,
    /// Kept alive while tests run; `None` for an external server.
    _instance: Option<Instance>,
}

impl MyServer {
    /// The server for this test binary: the one named by `FERROHUB_TEST_MYSQL_URL`,
    /// or a private one started on first use and stopped after the last user.
    pub fn shared() -> Arc<Self> {
        let mut slot = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(server) = slot.upgrade() {
            return server;
        }
        let server = Arc::new(Self::start());
        *slot = Arc::downgrade(&server);
        server
    }

    /// A server of its own (for tests that stop and restart it).
    pub fn start() -> Self {
        match std::env::var(URL_ENV) {
            Ok(url) if !url.is_empty() => Self {
                admin_url: url,
                _instance: None,
            },
            _ => {
                let instance = Instance::start();
                Self {
                    admin_url: format!("mysql://hub:hubpw@127.0.0.1:{}/mysql", instance.port),
                    _instance: Some(instance),
                }
            }
        }
    }

    /// Creates an empty database (dropping a leftover of the same name) and
    /// returns its JupyterHub-style URL (`mysql+pymysql://...`).
    /// `name`: lowercase letters, digits, `_`.
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
            .unwrap_or_else(|e| panic!("connecting to MariaDB at {}: {e}", self.admin_url));
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"),
        ] {
            sqlx::raw_sql(AssertSqlSafe(sql.clone()))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        conn.close().await.ok();
        let mut url = url::Url::parse(&self.admin_url).expect("MySQL URL");
        url.set_path(&format!("/{name}"));
        url.as_str().replacen("mysql://", "mysql+pymysql://", 1)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A server we initialised and started; killed on drop.
#[derive(Debug)]
struct Instance {
    /// Owned by `mysql`: `data/`, the socket and `log`.
    dir: tempfile::TempDir,
    port: u16,
    child: Mutex<Option<Child>>,
}

impl Instance {
    fn start() -> Self {
        check_prerequisites();
        let dir = tempfile::Builder::new()
            .prefix("ferrohub-mariadb-")
            .tempdir()
            .expect("creating a temp dir for MariaDB");
        // A tmpdir of its own: with the default, /tmp, concurrent bootstraps
        // of parallel test processes have failed deleting their temporary
        // tables ("Error on delete of '/tmp/#sql-temptable-...MAI'").
        std::fs::create_dir(tmp_path(dir.path())).expect("creating MariaDB's tmpdir");
        run(Command::new("chown")
            .arg("mysql:")
            .arg(dir.path())
            .arg(tmp_path(dir.path())));
        run(Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg("--user=mysql")
            .arg(format!("--datadir={}", dir.path().join("data").display()))
            .arg(format!("--tmpdir={}", tmp_path(dir.path()).display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .current_dir(dir.path()));
        // The port is probed free; losing it to another process before the
        // server binds it is rare enough that the start then fails loudly.
        let instance = Self {
            port: free_port(),
            child: Mutex::new(None),
            dir,
        };
        instance.launch();
        instance.create_user();
        instance
    }

    /// Starts `mariadbd` on the data directory (again, after [`Instance::kill`]).
    fn launch(&self) {
        let dir = self.dir.path();
        let child = Command::new(MARIADBD)
            .arg("--no-defaults")
            .arg("--user=mysql")
            .arg(format!("--datadir={}", dir.join("data").display()))
            .arg(format!("--socket={}", socket_path(dir).display()))
            .arg(format!("--pid-file={}", dir.join("mariadbd.pid").display()))
            .arg(format!("--log-error={}", log_path(dir).display()))
            .arg(format!("--tmpdir={}", tmp_path(dir).display()))
            .arg(format!("--port={}", self.port))
            .args([
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-buffer-pool-size=32M",
            ])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {MARIADBD}: {e}"));
        *lock(&self.child) = Some(child);
        assert!(
            self.wait_ready(),
            "MariaDB did not start; server log:\n{}",
            std::fs::read_to_string(log_path(dir)).unwrap_or_default()
        );
    }

    /// Whether the server answers on its socket within 60 s (false if it exited).
    fn wait_ready(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(child) = lock(&self.child).as_mut()
                && child.try_wait().ok().flatten().is_some()
            {
                return false;
            }
            let ping = Command::new("mariadb-admin")
                .arg("--no-defaults")
                .arg(format!(
                    "--socket={}",
                    socket_path(self.dir.path()).display()
                ))
                .args(["-u", "root", "ping"])
                .output();
            if ping.is_ok_and(|out| out.status.success()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// `hub`@`127.0.0.1` with every privilege, so tests connect over TCP.
    fn create_user(&self) {
        run(Command::new("mariadb")
            .arg("--no-defaults")
            .arg(format!(
                "--socket={}",
                socket_path(self.dir.path()).display()
            ))
            .args(["-u", "root", "-e"])
            .arg(
                "CREATE USER IF NOT EXISTS 'hub'@'127.0.0.1' IDENTIFIED BY 'hubpw'; \
                 GRANT ALL PRIVILEGES ON *.* TO 'hub'@'127.0.0.1' WITH GRANT OPTION;",
            ));
    }

    fn kill(&self) {
        if let Some(mut child) = lock(&self.child).take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

fn check_prerequisites() {
    assert!(
        Path::new(MARIADBD).exists(),
        "MySQL tests need {MARIADBD} (scripts/setup.sh installs mariadb-server), or set {URL_ENV} to a server"
    );
    let uid = run(Command::new("id").arg("-u"));
    assert!(
        String::from_utf8_lossy(&uid.stdout).trim() == "0",
        "MySQL tests start a private MariaDB as user `mysql` and must run as root; \
         run them as root or set {URL_ENV} to a server"
    );
}

fn socket_path(dir: &Path) -> PathBuf {
    dir.join("sock")
}

fn log_path(dir: &Path) -> PathBuf {
    dir.join("log")
}

/// The server's temporary files, apart from other servers' (`--tmpdir`).
fn tmp_path(dir: &Path) -> PathBuf {
    dir.join("tmp")
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
