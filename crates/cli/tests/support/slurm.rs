//! A real one-node Slurm cluster for the SlurmSpawner tests: Debian's
//! `munged`, `slurmctld` and `slurmd` with the configuration that
//! scripts/setup.sh writes to /etc/slurm/slurm.conf (the client commands
//! the hub runs, `sbatch`, `squeue`, `scancel`, read it there).
//!
//! The daemons run in the foreground as children of the test process (tied
//! to it: they get SIGKILL when it exits), started once per process. Slurm
//! has one controller port per configuration, so the cluster is shared: if
//! a controller already answers (started by another test process, or by an
//! administrator), it is used as it is and nothing is started. A lock file
//! serializes the check-and-start between processes; the Slurm tests run one
//! at a time (`.config/nextest.toml`, test group `slurm`), since a process
//! that started the cluster takes it with it when it ends.

use std::fmt::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::daemon::{Daemon, spawn_tied_to_process};

/// The running cluster (the daemons this process started, if any).
#[derive(Debug)]
pub struct Cluster {
    daemons: Vec<Daemon>,
    /// Where the daemons this process started write their output.
    pub log_dir: tempfile::TempDir,
}

/// The cluster, started on first use in this process.
pub fn shared() -> &'static Cluster {
    static SHARED: OnceLock<Cluster> = OnceLock::new();
    SHARED.get_or_init(Cluster::start)
}

/// Output of a Slurm client command (stdout, trimmed), or `None` if it failed.
pub fn client(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// `squeue` lines `<job id> <state> <user>` of every job in the queue.
pub fn queue() -> Vec<String> {
    client("squeue", &["-h", "-o", "%i %T %u"])
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn controller_up() -> bool {
    client("scontrol", &["ping"]).is_some_and(|out| out.contains("is UP"))
}

/// The node answers (`idle*` with a star is a node whose slurmd is gone).
fn node_ready() -> bool {
    client("sinfo", &["-h", "-o", "%T"]).is_some_and(|out| {
        out.lines()
            .any(|state| ["idle", "mixed", "allocated"].contains(&state.trim()))
    })
}

fn munge_works() -> bool {
    Command::new("munge")
        .arg("-n")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn wait_for(what: &str, secs: u64, mut check: impl FnMut() -> bool, log_dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut logs = String::new();
    for entry in std::fs::read_dir(log_dir).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        writeln!(logs, "--- {}\n{text}", entry.path().display()).unwrap();
    }
    panic!("{what} did not come up in {secs} s\n{logs}");
}

fn account_ids(name: &str) -> (u32, u32) {
    let user = nix::unistd::User::from_name(name)
        .unwrap()
        .unwrap_or_else(|| panic!("no {name} account; run scripts/setup.sh"));
    (user.uid.as_raw(), user.gid.as_raw())
}

fn chown_dir(path: &str, owner: &str) {
    std::fs::create_dir_all(path).unwrap();
    let (uid, gid) = account_ids(owner);
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
}

impl Cluster {
    fn start() -> Self {
        assert!(
            Path::new("/usr/sbin/slurmctld").exists()
                && Path::new("/etc/slurm/slurm.conf").exists(),
            "no Slurm (slurmctld, /etc/slurm/slurm.conf); run scripts/setup.sh"
        );
        assert!(
            nix::unistd::Uid::effective().is_root(),
            "the Slurm tests start slurmd and create users: run them as root (CI does)"
        );
        let log_dir = tempfile::Builder::new()
            .prefix("ferrohub-slurm-")
            .tempdir()
            .unwrap();
        let lock = std::fs::File::create("/run/ferrohub-slurm-fixture.lock").unwrap();
        let _lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .unwrap();
        let mut daemons = Vec::new();
        let mut start = |mut command: Command, name: &str| {
            let log = std::fs::File::create(log_dir.path().join(format!("{name}.log"))).unwrap();
            command
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log);
            daemons.push(Daemon::new(spawn_tied_to_process(command).unwrap()));
        };
        if !munge_works() {
            chown_dir("/run/munge", "munge");
            let (uid, gid) = account_ids("munge");
            let mut munged = Command::new("/usr/sbin/munged");
            munged.arg("--foreground").uid(uid).gid(gid);
            start(munged, "munged");
            wait_for("munged", 10, munge_works, log_dir.path());
        }
        if !controller_up() {
            std::fs::create_dir_all("/var/spool/slurmctld").unwrap();
            std::fs::create_dir_all("/var/log/slurm").unwrap();
            std::fs::create_dir_all("/var/spool/slurmd").unwrap();
            std::fs::create_dir_all("/run/slurm").unwrap();
            let mut slurmctld = Command::new("/usr/sbin/slurmctld");
            // -D: foreground (our child); -c: no state from an earlier run.
            slurmctld.args(["-D", "-c"]);
            start(slurmctld, "slurmctld");
            wait_for("slurmctld", 30, controller_up, log_dir.path());
        }
        if !node_ready() {
            // A node that does not answer within a few seconds has no slurmd.
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline && !node_ready() {
                std::thread::sleep(Duration::from_millis(100));
            }
            if !node_ready() {
                let mut slurmd = Command::new("/usr/sbin/slurmd");
                slurmd.arg("-D");
                start(slurmd, "slurmd");
                wait_for("the Slurm node", 30, node_ready, log_dir.path());
            }
        }
        Self { daemons, log_dir }
    }

    /// How many daemons this process started (0 when it reuses a cluster).
    pub fn started_here(&self) -> usize {
        self.daemons.len()
    }
}
