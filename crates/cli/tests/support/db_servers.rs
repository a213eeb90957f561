//! Private database servers a hub can lose: a PostgreSQL cluster or a
//! MariaDB server in a temp dir of their own, which a test kills (SIGKILL,
//! as a crash), freezes (SIGSTOP) and starts again on the same data
//! directory and port. No silent skip: without root or the servers' binaries
//! (`scripts/setup.sh` installs MariaDB; PostgreSQL 15 is in the image) the
//! test fails saying what is missing. The store's own tests have the shared
//! flavour of these (crates/store/tests/support/).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Debian's PostgreSQL 15 server binaries.
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
/// Debian's MariaDB server.
const MARIADBD: &str = "/usr/sbin/mariadbd";

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// PostgreSQL 15.
    Postgres,
    /// MariaDB (Debian's).
    MariaDb,
}

/// A running (or killed) database server with one database, `jupyterhub`,
/// owned by user `hub` (password `hubpw`), reached over TCP on 127.0.0.1.
pub struct DbServer {
    kind: Kind,
    dir: tempfile::TempDir,
    port: u16,
    /// MariaDB's server process (PostgreSQL's postmaster is pg_ctl's child).
    mariadbd: Option<Child>,
    /// Started and not killed since.
    running: bool,
}

impl DbServer {
    /// Initialises and starts a server of `kind`, with the hub's database.
    pub fn start(kind: Kind) -> Self {
        assert!(
            String::from_utf8_lossy(&run(Command::new("id").arg("-u")).stdout).trim() == "0",
            "database outage tests start private servers as their system users and must run as root"
        );
        let dir = tempfile::Builder::new()
            .prefix("ferrohub-outage-db-")
            .tempdir()
            .unwrap();
        let owner = match kind {
            Kind::Postgres => "postgres:",
            Kind::MariaDb => "mysql:",
        };
        run(Command::new("chown").arg(owner).arg(dir.path()));
        let mut server = Self {
            kind,
            dir,
            port: super::free_port(),
            mariadbd: None,
            running: false,
        };
        match kind {
            Kind::Postgres => {
                assert!(
                    Path::new(PG_BIN).join("initdb").exists(),
                    "{PG_BIN}/initdb is missing (apt-get install postgresql-15)"
                );
                run(server
                    .as_postgres("initdb")
                    .arg("-D")
                    .arg(server.data())
                    .args(["-A", "trust", "-U", "postgres", "-E", "UTF8"])
                    .args(["--locale=C", "--no-sync"]));
            }
            Kind::MariaDb => {
                assert!(
                    Path::new(MARIADBD).exists(),
                    "{MARIADBD} is missing (scripts/setup.sh installs mariadb-server)"
                );
                // A tmpdir of its own, as the store's tests' servers (see
                // crates/store/tests/support/mysql.rs): parallel bootstraps
                // sharing /tmp have failed deleting their temporary tables.
                std::fs::create_dir(server.tmp()).unwrap();
                run(Command::new("chown").arg("mysql:").arg(server.tmp()));
                run(Command::new("mariadb-install-db")
                    .arg("--no-defaults")
                    .arg("--user=mysql")
                    .arg(format!("--datadir={}", server.data().display()))
                    .arg(format!("--tmpdir={}", server.tmp().display()))
                    .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
                    .current_dir(server.dir.path()));
            }
        }
        server.restart();
        match kind {
            Kind::Postgres => {
                for sql in [
                    "CREATE USER hub PASSWORD 'hubpw'",
                    "CREATE DATABASE jupyterhub OWNER hub",
                ] {
                    run(server
                        .as_postgres("psql")
                        .args(["-h", "127.0.0.1", "-p", &server.port.to_string()])
                        .args(["-U", "postgres", "-d", "postgres", "-c", sql]));
                }
            }
            Kind::MariaDb => {
                run(Command::new("mariadb")
                    .arg("--no-defaults")
                    .arg(format!("--socket={}", server.socket().display()))
                    .args(["-u", "root", "-e"])
                    .arg(
                        "CREATE DATABASE jupyterhub CHARACTER SET utf8mb4; \
                         CREATE USER 'hub'@'127.0.0.1' IDENTIFIED BY 'hubpw'; \
                         GRANT ALL PRIVILEGES ON jupyterhub.* TO 'hub'@'127.0.0.1';",
                    ));
            }
        }
        server
    }

    /// The hub's `db_url`, in SQLAlchemy's spelling.
    pub fn db_url(&self) -> String {
        match self.kind {
            Kind::Postgres => format!("postgresql://hub:hubpw@127.0.0.1:{}/jupyterhub", self.port),
            Kind::MariaDb => format!(
                "mysql+pymysql://hub:hubpw@127.0.0.1:{}/jupyterhub",
                self.port
            ),
        }
    }

    /// The server's main process (postmaster or mariadbd).
    pub fn pid(&self) -> Pid {
        match self.kind {
            Kind::Postgres => {
                let pid_file = std::fs::read_to_string(self.data().join("postmaster.pid"))
                    .expect("postmaster.pid of a running cluster");
                Pid::from_raw(
                    pid_file
                        .lines()
                        .next()
                        .and_then(|line| line.trim().parse().ok())
                        .expect("a pid on the first line of postmaster.pid"),
                )
            }
            Kind::MariaDb => super::pid_of(self.mariadbd.as_ref().expect("mariadbd running")),
        }
    }

    /// Kills the server and every process of it with SIGKILL, as a crash
    /// (or the OOM killer) would, and waits until they are gone.
    pub fn kill(&mut self) {
        let main = self.pid();
        let mut victims = vec![main];
        victims.extend(children(main));
        for pid in &victims {
            kill(*pid, Signal::SIGKILL).ok();
        }
        if let Some(mut child) = self.mariadbd.take() {
            child.wait().ok();
        }
        self.running = false;
        let deadline = Instant::now() + Duration::from_secs(30);
        while victims.iter().any(|pid| alive(*pid)) {
            assert!(
                Instant::now() < deadline,
                "database processes outlived SIGKILL"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Freezes (`true`: SIGSTOP) or thaws (SIGCONT) the server's processes:
    /// connections stay open but nothing answers.
    pub fn freeze(&self, frozen: bool) {
        let signal = if frozen {
            Signal::SIGSTOP
        } else {
            Signal::SIGCONT
        };
        let main = self.pid();
        for pid in std::iter::once(main).chain(children(main)) {
            kill(pid, signal).ok();
        }
    }

    /// Starts the server (again) on its data directory and port; returns once
    /// it accepts connections.
    pub fn restart(&mut self) {
        self.running = true;
        let dir = self.dir.path().to_owned();
        match self.kind {
            Kind::Postgres => {
                let options = format!(
                    "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                    self.port,
                    dir.display()
                );
                run(self
                    .as_postgres("pg_ctl")
                    .arg("-D")
                    .arg(self.data())
                    .arg("-l")
                    .arg(dir.join("log"))
                    .args(["-o", &options, "-w", "-t", "60", "start"]));
            }
            Kind::MariaDb => {
                let child = Command::new(MARIADBD)
                    .arg("--no-defaults")
                    .arg("--user=mysql")
                    .arg(format!("--datadir={}", self.data().display()))
                    .arg(format!("--socket={}", self.socket().display()))
                    .arg(format!("--pid-file={}", dir.join("mariadbd.pid").display()))
                    .arg(format!("--log-error={}", dir.join("log").display()))
                    .arg(format!("--tmpdir={}", self.tmp().display()))
                    .arg(format!("--port={}", self.port))
                    .args(["--bind-address=127.0.0.1", "--skip-name-resolve"])
                    .args(["--innodb-buffer-pool-size=32M"])
                    .current_dir(&dir)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                self.mariadbd = Some(child);
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    let ping = Command::new("mariadb-admin")
                        .arg("--no-defaults")
                        .arg(format!("--socket={}", self.socket().display()))
                        .args(["-u", "root", "ping"])
                        .output();
                    if ping.is_ok_and(|out| out.status.success()) {
                        break;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "MariaDB did not start; log:\n{}",
                        std::fs::read_to_string(dir.join("log")).unwrap_or_default()
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    /// MariaDB's temporary files, apart from other servers' (`--tmpdir`).
    fn tmp(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }

    /// `runuser -u postgres -- <PG_BIN>/<tool>`, run from our directory.
    fn as_postgres(&self, tool: &str) -> Command {
        let mut command = Command::new("runuser");
        command
            .args(["-u", "postgres", "--"])
            .arg(Path::new(PG_BIN).join(tool))
            .current_dir(self.dir.path());
        command
    }
}

impl Drop for DbServer {
    fn drop(&mut self) {
        // A thawed, killed server leaves nothing running.
        if self.running {
            self.freeze(false);
            self.kill();
        }
    }
}

/// The direct children of `pid` (PostgreSQL's backends and helpers).
fn children(pid: Pid) -> Vec<Pid> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .map(Pid::from_raw)
        .collect()
}

/// Whether `pid` still runs (a zombie counts as gone).
fn alive(pid: Pid) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(|s| s != "Z"))
        })
        .unwrap_or(false)
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
