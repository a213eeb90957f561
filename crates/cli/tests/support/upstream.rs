//! Upstream JupyterHub 6.1.1 (the Python package in the project's
//! virtualenv) as a process of the test, with ferrohub-proxy as its proxy
//! (`ConfigurableHTTPProxy.command`): for the tests that check ferrohub
//! against the real thing, or share a database with it.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{PROXY_TOKEN, ferrohub_bin, free_port, http_get_status, venv};

/// An upstream JupyterHub process group; stopped with SIGTERM (then SIGKILL)
/// when dropped, so its proxy and servers go too.
pub struct UpstreamHub {
    child: Child,
    /// Its working directory (config, log, pid files; the database unless
    /// `db_url` names another).
    pub dir: tempfile::TempDir,
    /// The public port (the proxy).
    pub public_port: u16,
    /// The proxy's REST API port.
    pub api_port: u16,
}

impl UpstreamHub {
    /// Starts upstream in a new directory with a dummy authenticator, the
    /// simple spawner running the virtualenv's `jupyterhub-singleuser`, and
    /// `extra` appended to its `jupyterhub_config.py`; `db_url` empty means a
    /// SQLite file in its directory. Waits until its API answers.
    pub fn start(db_url: &str, extra: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("ferrohub-upstream-")
            .tempdir()
            .unwrap();
        let (public_port, hub_port, api_port) = (free_port(), free_port(), free_port());
        let venv = venv();
        let proxy = ferrohub_bin().with_file_name("ferrohub-proxy");
        let d = dir.path().display();
        let allow_root = if nix::unistd::Uid::effective().is_root() {
            r#"["--allow-root"]"#
        } else {
            "[]"
        };
        let config = format!(
            r#"c = get_config()  # noqa
c.JupyterHub.bind_url = "http://127.0.0.1:{public_port}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.JupyterHub.db_url = "{db_url}"
c.JupyterHub.cookie_secret_file = "{d}/cookie_secret"
c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.spawner_class = "simple"
c.JupyterHub.last_activity_interval = 2
c.Authenticator.allow_all = True
c.DummyAuthenticator.password = "open sesame"
c.ConfigurableHTTPProxy.command = ["{proxy}"]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.auth_token = "{PROXY_TOKEN}"
c.Spawner.cmd = ["{venv}/bin/jupyterhub-singleuser"]
c.Spawner.args = {allow_root}
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.environment = {{"PATH": "{venv}/bin:/usr/local/bin:/usr/bin:/bin"}}
c.SimpleLocalProcessSpawner.home_dir_template = "{d}/homes/{{username}}"
{extra}
"#,
            proxy = proxy.display(),
            venv = venv.display(),
            db_url = if db_url.is_empty() {
                format!("sqlite:///{d}/jupyterhub.sqlite")
            } else {
                db_url.to_owned()
            },
        );
        std::fs::write(dir.path().join("jupyterhub_config.py"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("hub.log")).unwrap();
        let child = Command::new(venv.join("bin/jupyterhub"))
            .arg("-f")
            .arg(dir.path().join("jupyterhub_config.py"))
            .current_dir(dir.path())
            .env("PATH", format!("{}/bin:/usr/bin:/bin", venv.display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start upstream jupyterhub");
        let mut hub = Self {
            child,
            dir,
            public_port,
            api_port,
        };
        hub.wait_ready();
        hub
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "jupyterhub exited at start-up ({status}); log:\n{}",
                    self.log()
                );
            }
            if http_get_status(self.public_port, "/hub/api") == Some(200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "jupyterhub did not answer through the proxy in 60 s; log:\n{}",
            self.log()
        );
    }

    /// Where the browser reaches it.
    pub fn public_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.public_port)
    }

    /// What it logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("hub.log")).unwrap_or_default()
    }

    /// The route table, read straight from ferrohub-proxy's REST API.
    pub async fn routes(&self) -> Value {
        reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}/api/routes", self.api_port))
            .header("Authorization", format!("token {PROXY_TOKEN}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for UpstreamHub {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(-super::pid_of(&self.child).as_raw());
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
        if let Err(e) = self.child.wait() {
            eprintln!("reaping jupyterhub: {e}");
        }
        if std::thread::panicking() {
            eprintln!("---- jupyterhub log ----\n{}", self.log());
        }
    }
}
