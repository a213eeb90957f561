//! A hub without root: its account in the `shadow` group, the sudoers rule
//! letting it run the mediators, and the rule file of ferrohub's own helper
//! (`ferrohub-sudospawner`). Shared by the non-root tests and the systemd
//! unit's non-root drop-in test. Needs root (CI runs as root).
//!
//! The rule file's path is built into the helper
//! (`/etc/ferrohub/sudo-helper.toml`), so every test writes the same
//! content (users are let in through the group [`USERS_GROUP`]) and leaves
//! it in place: a test running in parallel may be using it.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use super::users::LocalUser;

/// The group whose members the helper's rule file serves.
pub const USERS_GROUP: &str = "fhsudousers";
/// The helper's rule file (its path is fixed when the helper is built).
pub const RULES: &str = "/etc/ferrohub/sudo-helper.toml";

/// `ferrohub-sudospawner`, built beside the hub.
pub fn helper_bin() -> PathBuf {
    let helper = super::ferrohub_bin().with_file_name("ferrohub-sudospawner");
    assert!(
        helper.exists(),
        "{} is missing; build the workspace binaries first (cargo build --workspace --bins)",
        helper.display()
    );
    helper
}

pub fn run_ok(command: &mut Command) {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A field of `/proc/<pid>/status`, trimmed.
pub fn status_field(pid: i32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Checks that `pid` runs with `uid` as its real, effective, saved and fs
/// uid and holds no capability.
pub fn assert_runs_as(pid: i32, uid: u32, what: &str) {
    let uids: Vec<String> = status_field(pid, "Uid")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let want = uid.to_string();
    assert_eq!(
        uids,
        [want.as_str(); 4],
        "{what}: real, effective, saved, fs uid"
    );
    assert_eq!(
        status_field(pid, "CapEff"),
        "0000000000000000",
        "{what} holds capabilities"
    );
}

/// The accounts and sudo configuration of one test: a hub account in the
/// `shadow` group, users in [`USERS_GROUP`], a sudoers drop-in letting the
/// hub run both mediators as anyone (deliberately broad: the helper itself
/// must refuse root and the others), removed on drop.
pub struct SudoSetup {
    pub hub: LocalUser,
    sudoers: PathBuf,
}

impl SudoSetup {
    /// The hub may run the mediators as anyone (the helper must refuse).
    pub fn new() -> Self {
        Self::with_runas("ALL")
    }

    /// The hub may run the mediators as `runas` (a sudoers Runas list).
    pub fn with_runas(runas: &str) -> Self {
        let hub = LocalUser::create("hub");
        run_ok(Command::new("usermod").args(["-aG", "shadow", &hub.name]));
        write_rules();
        let venv = super::venv();
        let sudoers = PathBuf::from(format!("/etc/sudoers.d/ferrohub-test-{}", hub.name));
        // sudo skips files whose name has a dot: write, check, then rename.
        let draft = sudoers.with_extension("draft");
        std::fs::write(
            &draft,
            format!(
                "Defaults:{hub} !use_pty\n\
                 {hub} ALL=({runas}) NOPASSWD: {helper}, {sudospawner}\n",
                hub = hub.name,
                helper = helper_bin().display(),
                sudospawner = venv.join("bin/sudospawner").display(),
            ),
        )
        .unwrap();
        std::fs::set_permissions(&draft, std::os::unix::fs::PermissionsExt::from_mode(0o440))
            .unwrap();
        run_ok(Command::new("visudo").arg("-cf").arg(&draft));
        std::fs::rename(&draft, &sudoers).unwrap();
        Self { hub, sudoers }
    }

    /// A local user with a password, in [`USERS_GROUP`].
    pub fn user(tag: &str) -> LocalUser {
        let user = LocalUser::create(tag);
        run_ok(Command::new("usermod").args(["-aG", USERS_GROUP, &user.name]));
        user
    }

    /// Runs `sudo -n -u <target> <program> <args>` as the hub account, the
    /// way the hub does, with `request` on stdin. Standard error goes to a
    /// file: a started server keeps it open (its output goes there).
    pub fn sudo_as_hub(
        &self,
        target: &str,
        program: &Path,
        args: &[&str],
        request: &Value,
    ) -> Output {
        let hub = nix::unistd::User::from_name(&self.hub.name)
            .unwrap()
            .unwrap();
        let mut stderr = tempfile::tempfile().unwrap();
        let mut child = Command::new("setpriv")
            .arg(format!("--reuid={}", hub.uid))
            .arg(format!("--regid={}", hub.gid))
            .args([
                "--init-groups",
                "--inh-caps=-all",
                "--",
                "sudo",
                "-n",
                "-u",
                target,
            ])
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr.try_clone().unwrap())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(request.to_string().as_bytes())
            .unwrap();
        let mut output = child.wait_with_output().unwrap();
        stderr.seek(std::io::SeekFrom::Start(0)).unwrap();
        stderr.read_to_end(&mut output.stderr).unwrap();
        output
    }
}

impl Drop for SudoSetup {
    fn drop(&mut self) {
        super::remove_if_present(&self.sudoers);
    }
}

/// Writes the helper's rule file (same content in every test, atomically).
pub fn write_rules() {
    run_ok(Command::new("groupadd").args(["-f", USERS_GROUP]));
    std::fs::create_dir_all("/etc/ferrohub").unwrap();
    let rules = format!(
        "# Written by crates/cli/tests/nonroot_hub.rs\n\
         allowed_commands = [\"{}\", \"/usr/bin/sleep\"]\n\
         min_uid = 1000\n\
         allowed_groups = [\"{USERS_GROUP}\"]\n",
        super::venv().join("bin/jupyterhub-singleuser").display()
    );
    let draft = format!("{RULES}.{}", std::process::id());
    std::fs::write(&draft, rules).unwrap();
    std::fs::set_permissions(&draft, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    std::fs::rename(&draft, RULES).unwrap();
}
