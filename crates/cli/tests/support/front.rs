//! Real nginx and Apache httpd (Debian's packages, installed by
//! scripts/setup.sh) in front of a hub, configured from the files in
//! `docs/examples/` as an admin would use them: only the host name, the
//! certificate paths and the ports are replaced. Each runs in the
//! foreground as a child of the test, with its own ports, pid file, logs
//! and temporary directories in a temp dir; the system services are never
//! touched.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Which reverse proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// nginx, from `docs/examples/nginx-jupyterhub.conf`.
    Nginx,
    /// Apache httpd, from `docs/examples/apache-jupyterhub.conf`.
    Apache,
}

/// A running nginx or Apache; stopped on drop.
pub struct Front {
    /// What runs.
    pub kind: Kind,
    /// The HTTPS port (the docs' 443).
    pub https_port: u16,
    /// The plain HTTP port that redirects to HTTPS (the docs' 80).
    pub http_port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

/// The docs' example file for `kind`.
pub fn example(kind: Kind) -> PathBuf {
    let name = match kind {
        Kind::Nginx => "nginx-jupyterhub.conf",
        Kind::Apache => "apache-jupyterhub.conf",
    };
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/examples")
        .join(name)
}

/// Replaces `from` with `to` in `text`, failing if the example no longer has it.
fn replace(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "the example no longer contains {from:?}"
    );
    text.replace(from, to)
}

impl Front {
    /// Starts `kind` on fresh ports, passing `/jupyter/` on to
    /// `127.0.0.1:hub_port` and serving `cert`/`key`.
    /// Another test may take a port between our check and the bind: then
    /// it starts again on fresh ports (as [`super::TestHub`] does).
    pub fn start(kind: Kind, hub_port: u16, cert: &Path, key: &Path) -> Self {
        for attempt in 1.. {
            match Self::try_start(kind, hub_port, cert, key) {
                Ok(front) => return front,
                Err(logs) if attempt < 4 && logs.contains("Address already in use") => {}
                Err(logs) => panic!("{kind:?} did not start:\n{logs}"),
            }
        }
        unreachable!()
    }

    /// One start; on failure, what it logged.
    fn try_start(kind: Kind, hub_port: u16, cert: &Path, key: &Path) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("ferrohub-front-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let (https_port, http_port) = (super::free_port(), super::free_port());
        let mut site = std::fs::read_to_string(example(kind)).unwrap();
        for (from, to) in [
            (
                "/etc/letsencrypt/live/HUB.DOMAIN.TLD/fullchain.pem",
                cert.display().to_string(),
            ),
            (
                "/etc/letsencrypt/live/HUB.DOMAIN.TLD/privkey.pem",
                key.display().to_string(),
            ),
            ("HUB.DOMAIN.TLD", "127.0.0.1".to_owned()),
            ("127.0.0.1:8000", format!("127.0.0.1:{hub_port}")),
        ] {
            site = replace(&site, from, &to);
        }
        let d = dir.path().display();
        let root = nix::unistd::Uid::effective().is_root();
        let (config, mut command) = match kind {
            Kind::Nginx => {
                site = replace(
                    &site,
                    "listen 80;",
                    &format!("listen 127.0.0.1:{http_port};"),
                );
                site = replace(
                    &site,
                    "listen 443 ssl http2;",
                    &format!("listen 127.0.0.1:{https_port} ssl http2;"),
                );
                std::fs::write(dir.path().join("site.conf"), &site).unwrap();
                let mut main = String::from("daemon off;\nworker_processes 1;\n");
                if root {
                    main.push_str("user root root;\n");
                }
                write!(
                    main,
                    "pid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
                     events {{ worker_connections 256; }}\n\
                     http {{\n  access_log {d}/access.log;\n\
                     client_body_temp_path {d}/client_body;\n  proxy_temp_path {d}/proxy;\n\
                     fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n\
                     scgi_temp_path {d}/scgi;\n  include {d}/site.conf;\n}}\n"
                )
                .unwrap();
                let config = dir.path().join("nginx.conf");
                std::fs::write(&config, main).unwrap();
                let mut command = Command::new("/usr/sbin/nginx");
                command
                    .arg("-p")
                    .arg(dir.path())
                    .arg("-e")
                    .arg(dir.path().join("error.log"))
                    .arg("-c")
                    .arg(&config);
                (config, command)
            }
            Kind::Apache => {
                site = replace(&site, "*:80", &format!("127.0.0.1:{http_port}"));
                site = replace(&site, "*:443", &format!("127.0.0.1:{https_port}"));
                std::fs::write(dir.path().join("site.conf"), &site).unwrap();
                let modules = "/usr/lib/apache2/modules";
                let mut main = format!(
                    "ServerRoot {d}\nServerName 127.0.0.1\nPidFile {d}/apache.pid\n\
                     ErrorLog {d}/error.log\nLogLevel warn\nDefaultRuntimeDir {d}\n\
                     Mutex file:{d} default\n"
                );
                for module in [
                    "mpm_event",
                    "authz_core",
                    "alias",
                    "headers",
                    "rewrite",
                    "proxy",
                    "proxy_http",
                    "proxy_wstunnel",
                    "socache_shmcb",
                    "ssl",
                    "http2",
                ] {
                    writeln!(main, "LoadModule {module}_module {modules}/mod_{module}.so").unwrap();
                }
                if root {
                    main.push_str("User www-data\nGroup www-data\n");
                }
                write!(
                    main,
                    "Listen 127.0.0.1:{http_port}\nListen 127.0.0.1:{https_port}\n\
                     Include {d}/site.conf\n"
                )
                .unwrap();
                let config = dir.path().join("httpd.conf");
                std::fs::write(&config, main).unwrap();
                let mut command = Command::new("/usr/sbin/apache2");
                command.arg("-f").arg(&config).arg("-DFOREGROUND");
                (config, command)
            }
        };
        let log = std::fs::File::create(dir.path().join("stdout.log")).unwrap();
        let child = command
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {kind:?} ({e}); run scripts/setup.sh"));
        let mut front = Self {
            kind,
            https_port,
            http_port,
            dir,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", https_port)).is_err() {
            if let Some(Ok(Some(status))) = front.child.as_mut().map(Child::try_wait) {
                front.child = None;
                return Err(format!(
                    "exited at start-up ({status}) with {}:\n{}",
                    config.display(),
                    front.logs()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!("did not listen in 20 s:\n{}", front.logs()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(front)
    }

    /// The public URL of the hub behind it, no trailing slash.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/jupyter", self.https_port)
    }

    /// Its output and error log so far.
    pub fn logs(&self) -> String {
        ["stdout.log", "error.log"]
            .iter()
            .map(|f| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SIGTERM makes both stop their workers; a kill would orphan them.
        let _ = nix::sys::signal::kill(super::pid_of(&child), nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if matches!(child.try_wait(), Ok(None)) {
            super::kill_and_reap(&mut child, "the reverse proxy");
        }
        if std::thread::panicking() {
            eprintln!("---- {:?} logs ----\n{}", self.kind, self.logs());
        }
    }
}
