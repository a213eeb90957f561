//! The shipped systemd unit (packaging/systemd/): `systemd-analyze verify`
//! accepts it and each drop-in without a warning; under a real systemd
//! (support/systemd.rs) it runs the real hub as a `Type=notify` service,
//! started only once the hub answers, and its hardening still lets a user's
//! server start and run a kernel; `systemctl stop` stops hub, proxy and
//! server. Without systemd, the readiness and journal protocols are checked
//! on the hub binary directly: `READY=1` once it answers, `STOPPING=1` on
//! SIGTERM, `<priority>` lines when stderr is the journal's stream.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::browser::Browser;
use support::sudo::{SudoSetup, helper_bin, run_ok};
use support::users::LocalUser;
use support::{TestHub, ferrohub_bin, free_port, systemd};

/// The packaging directory of the repository.
fn packaging() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/systemd")
}

/// The shipped unit with the binary's path replaced by the one under test
/// (`systemd-analyze verify` checks that `ExecStart=` exists).
fn unit_text() -> String {
    std::fs::read_to_string(packaging().join("ferrohub.service"))
        .unwrap()
        .replace(
            "/usr/local/bin/ferrohub ",
            &format!("{} ", ferrohub_bin().display()),
        )
}

#[test]
fn the_unit_and_each_drop_in_pass_systemd_analyze_verify() {
    let mut drop_ins: Vec<String> = std::fs::read_dir(packaging())
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            name.ends_with(".conf").then_some(name)
        })
        .collect();
    drop_ins.sort();
    assert_eq!(
        drop_ins,
        ["gpu.conf", "non-root.conf", "shadow-dac-override.conf"]
    );
    for drop_in in std::iter::once(None).chain(drop_ins.iter().map(Some)) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ferrohub.service"), unit_text()).unwrap();
        if let Some(drop_in) = drop_in {
            let d = dir.path().join("ferrohub.service.d");
            std::fs::create_dir(&d).unwrap();
            std::fs::copy(packaging().join(drop_in), d.join(drop_in)).unwrap();
        }
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(dir.path().join("ferrohub.service"))
            .output()
            .expect("systemd-analyze (scripts/setup.sh installs systemd)");
        // verify exits 0 on unknown keys and bad values, only saying so.
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && said.trim().is_empty(),
            "{drop_in:?}: {said}"
        );
    }
}

/// A directory removed when dropped (the unit's state and configuration
/// directories live outside any temp dir: the unit has a private /tmp).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            eprintln!("removing {}: {e}", self.0.display());
        }
    }
}

/// The shipped unit installed in the test's systemd under a name of its
/// own (`ferrohub-test-<pid>-<label>`), its directories renamed to match,
/// with `drop_ins` (name, text) beside it and `config` as its ferrohub.toml;
/// the directories are removed on drop.
struct InstalledUnit {
    service: String,
    /// The hub's output (a test drop-in sends it there: no journald here).
    log: PathBuf,
    _config_dir: RemoveOnDrop,
    _state_dir: RemoveOnDrop,
}

impl InstalledUnit {
    fn new(
        systemd: &systemd::Systemd,
        label: &str,
        drop_ins: &[(&str, String)],
        config: &str,
    ) -> Self {
        let tag = format!("ferrohub-test-{}-{label}", std::process::id());
        let unit = unit_text()
            .replace(
                "/etc/ferrohub/ferrohub.toml",
                &format!("/etc/{tag}/ferrohub.toml"),
            )
            .replace("/var/lib/ferrohub", &format!("/var/lib/{tag}"))
            .replace("/run/ferrohub/", &format!("/run/{tag}/"))
            .replace("Directory=ferrohub\n", &format!("Directory={tag}\n"));
        assert!(!unit.contains("=ferrohub\n") && !unit.contains("/ferrohub/"));
        let config_dir = RemoveOnDrop(PathBuf::from(format!("/etc/{tag}")));
        let state_dir = RemoveOnDrop(PathBuf::from(format!("/var/lib/{tag}")));
        std::fs::create_dir_all(&config_dir.0).unwrap();
        std::fs::write(config_dir.0.join("ferrohub.toml"), config).unwrap();
        let service = format!("{tag}.service");
        let units = systemd.dir.path().join("units");
        std::fs::write(units.join(&service), unit).unwrap();
        let dir = units.join(format!("{service}.d"));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in drop_ins {
            std::fs::write(dir.join(name), text).unwrap();
        }
        let log = format!("/run/{tag}.log");
        std::fs::write(
            dir.join("zz-test-output.conf"),
            format!("[Service]\nStandardOutput=append:{log}\nStandardError=inherit\n"),
        )
        .unwrap();
        let reload = systemd.run(&["systemctl", "daemon-reload"]);
        assert!(reload.status.success(), "{reload:?}");
        Self {
            service,
            log: systemd.path(&log),
            _config_dir: config_dir,
            _state_dir: state_dir,
        }
    }
}

impl InstalledUnit {
    /// What the hub wrote.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// `user`'s processes (`pgrep -a`) once none is left, or after 15 s.
fn processes_left(user: &str) -> String {
    let left = || {
        let out = Command::new("pgrep")
            .args(["-a", "-u", user])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    for _ in 0..150 {
        if left().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    left()
}

/// Runs `args` in the test's systemd: success and what it said.
fn run_in(systemd: &systemd::Systemd, args: &[&str]) -> (bool, String) {
    let out = systemd.run(args);
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A hub configuration on fresh ports: the public URL and the TOML, with
/// `extra` appended.
fn hub_config(authenticator: &str, spawner: &str, extra: &str) -> (String, String) {
    let (public_port, hub_port, api_port) = (free_port(), free_port(), free_port());
    let venv = support::venv();
    let config = format!(
        r#"[JupyterHub]
bind_url = "http://127.0.0.1:{public_port}"
hub_port = {hub_port}
authenticator_class = "{authenticator}"
spawner_class = "{spawner}"
[ConfigurableHTTPProxy]
api_url = "http://127.0.0.1:{api_port}"
[Spawner]
cmd = ["{venv}/bin/jupyterhub-singleuser"]
start_timeout = 120
http_timeout = 120
environment = {{ PATH = "{venv}/bin:/usr/local/bin:/usr/bin:/bin" }}
{extra}"#,
        venv = venv.display()
    );
    (format!("http://127.0.0.1:{public_port}"), config)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_unit_runs_the_hub_under_systemd_and_servers_start_under_its_hardening() {
    let systemd = systemd::shared();
    let user = LocalUser::create("sdunit");
    let name = user.name.as_str();
    let (base, config) = hub_config(
        "dummy",
        "localprocess",
        &format!("[Authenticator]\nallowed_users = [\"{name}\"]\n"),
    );
    let unit = InstalledUnit::new(systemd, "root", &[], &config);
    let service = unit.service.clone();
    let run = |args: &[&str]| run_in(systemd, args);

    // Type=notify: `systemctl start` returns once the hub said READY=1, so
    // the login page answers at once.
    let (started, said) = run(&["systemctl", "start", &service]);
    assert!(started, "{said}\n{}", systemd.log());
    assert_eq!(systemd.state(&service), "active");
    let login = reqwest::get(format!("{base}/hub/login")).await.unwrap();
    assert_eq!(login.status(), 200);
    let shown = systemd.show(
        &service,
        &["StatusText", "NoNewPrivileges", "ProtectSystem"],
    );
    assert_eq!(shown["StatusText"], format!("serving on {base}"));
    assert_eq!(shown["NoNewPrivileges"], "yes");
    assert_eq!(shown["ProtectSystem"], "full");

    // A user's server starts as the user under the unit's hardening, and a
    // kernel runs there, in the unit's private /tmp.
    let browser = Browser::new(&base);
    assert_eq!(browser.login(name, "pw", None).await.status(), 302);
    browser.start_server(name).await;
    let lab = browser
        .follow
        .get(format!("{base}/user/{name}/lab"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        lab.status(),
        200,
        "JupyterLab after the server's OAuth login"
    );
    assert_eq!(
        browser
            .run_code(
                name,
                "import os, tempfile; (os.getuid(), os.access(os.path.expanduser('~'), os.W_OK))"
            )
            .await,
        format!("({}, True)", user.uid())
    );
    let main_pid = systemd.show(&service, &["MainPID"])["MainPID"].clone();
    let tasks = run(&["systemctl", "show", "-p", "TasksCurrent", &service]).1;
    assert!(
        tasks.trim_start_matches("TasksCurrent=").trim() != "0",
        "hub, proxy and server run in the unit: {tasks}"
    );

    // Stop: the hub stops the server and the proxy, then exits.
    let (stopped, said) = run(&["systemctl", "stop", &service]);
    assert!(stopped, "{said}");
    assert_eq!(systemd.state(&service), "inactive");
    assert!(
        systemd.uid_of(&main_pid).is_none(),
        "the hub process is gone"
    );
    // Kernels run in sessions of their own; the server shuts them down as
    // it stops.
    assert_eq!(
        processes_left(name),
        "",
        "the user's server and kernel stopped with the hub"
    );
    assert!(
        reqwest::get(format!("{base}/hub/login")).await.is_err(),
        "the proxy stopped too"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_non_root_drop_in_runs_the_hub_unprivileged_and_servers_start_through_sudo() {
    let systemd = systemd::shared();
    // The account, its sudoers rule and the helper's rules, as
    // docs/non-root-hub.md has them.
    let setup = SudoSetup::new();
    let user = SudoSetup::user("sdnr");
    let (hub, name) = (setup.hub.name.as_str(), user.name.as_str());
    let drop_in = std::fs::read_to_string(packaging().join("non-root.conf"))
        .unwrap()
        .replace("User=ferrohub\n", &format!("User={hub}\n"))
        .replace("Group=ferrohub\n", &format!("Group={hub}\n"));
    assert!(drop_in.contains(&format!("User={hub}\n")));
    let (base, config) = hub_config(
        "pam",
        "sudo",
        &format!(
            "[Authenticator]\nallowed_users = [\"{name}\"]\n\
             [SudoSpawner]\nsudospawner_path = \"{}\"\n",
            helper_bin().display()
        ),
    );
    let unit = InstalledUnit::new(systemd, "nonroot", &[("non-root.conf", drop_in)], &config);
    // docs/systemd.md: the configuration readable by the hub's group.
    let config_dir = format!("/etc/{}", unit.service.trim_end_matches(".service"));
    run_ok(Command::new("chgrp").args([hub, &config_dir, &format!("{config_dir}/ferrohub.toml")]));
    run_ok(Command::new("chmod").args(["0640", &format!("{config_dir}/ferrohub.toml")]));
    let service = unit.service.as_str();

    let (started, said) = run_in(systemd, &["systemctl", "start", service]);
    assert!(started, "{said}\n{}", unit.log());
    let shown = systemd.show(service, &["NoNewPrivileges", "User", "MainPID"]);
    assert_eq!(shown["NoNewPrivileges"], "no");
    assert_eq!(shown["User"], hub);
    // The hub process: the account's uid, no capability at all.
    let main_pid = shown["MainPID"].clone();
    assert_eq!(systemd.uid_of(&main_pid), Some(setup.hub.uid()));
    let caps = run_in(
        systemd,
        &[
            "grep",
            "-E",
            "^Cap(Eff|Prm):",
            &format!("/proc/{main_pid}/status"),
        ],
    )
    .1;
    assert_eq!(
        caps.split_whitespace().collect::<Vec<_>>(),
        ["CapPrm:", "0000000000000000", "CapEff:", "0000000000000000"],
        "the hub holds no capability"
    );

    // PAM through the shadow group, the server through sudo and the helper,
    // as the user, under the unit's remaining hardening.
    let browser = Browser::new(&base);
    let login = browser.login(name, &user.password, None).await;
    assert_eq!(
        login.status(),
        302,
        "PAM login as a non-root hub failed\n{}",
        systemd.log()
    );
    browser.start_server(name).await;
    let lab = browser
        .follow
        .get(format!("{base}/user/{name}/lab"))
        .send()
        .await
        .unwrap();
    assert_eq!(lab.status(), 200, "JupyterLab\n{}", unit.log());
    assert_eq!(
        browser.run_code(name, "import os; os.getuid()").await,
        user.uid().to_string()
    );

    // `systemctl stop`: the hub stops the server through sudo, then exits.
    let (stopped, said) = run_in(systemd, &["systemctl", "stop", service]);
    assert!(stopped, "{said}");
    assert_eq!(systemd.state(service), "inactive");
    assert_eq!(
        processes_left(name),
        "",
        "the user's server stopped with the hub"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hub_says_ready_and_stopping_and_writes_journal_lines() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    // The hub's stderr goes to its log file: call that the journal stream.
    let mut hub = TestHub::start_with_env(
        "dummy",
        "simple",
        &[],
        &[("NOTIFY_SOCKET", socket_path.to_str().unwrap())],
    );
    let mut buf = [0u8; 512];
    let n = socket.recv(&mut buf).unwrap();
    let ready = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(ready.starts_with("READY=1\n"), "{ready}");
    assert!(
        ready.contains("STATUS=serving on http://127.0.0.1:"),
        "{ready}"
    );
    hub.kill(nix::sys::signal::Signal::SIGTERM);
    let n = socket.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"STOPPING=1");

    // Started again with JOURNAL_STREAM naming its stderr (the log file):
    // one `<priority>` line per event, no timestamps, no colours.
    let log_path = hub.dir.path().join("hub.log");
    let meta = std::fs::metadata(&log_path).unwrap();
    let before = std::fs::read_to_string(&log_path).unwrap().len();
    hub.env.push((
        "JOURNAL_STREAM".to_owned(),
        format!("{}:{}", meta.dev(), meta.ino()),
    ));
    hub.launch();
    let n = socket.recv(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"READY=1"));
    let lines = std::fs::read_to_string(&log_path).unwrap()[before..].to_owned();
    assert!(!lines.contains('\u{1b}'), "no colours: {lines:?}");
    let info: Vec<&str> = lines.lines().filter(|l| l.starts_with("<6>")).collect();
    assert!(!info.is_empty(), "info lines carry priority 6: {lines:?}");
    assert!(
        lines
            .lines()
            .all(|l| l.starts_with('<') || !l.contains(" INFO ")),
        "no plain formatted lines: {lines:?}"
    );
}
