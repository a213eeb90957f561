//! `ferrohub-sudospawner`: the mediator a hub without root runs with `sudo
//! -u <user>` to start and signal that user's server (sudospawner 1.0's
//! protocol: one JSON request on stdin, one JSON answer on stdout), without
//! Python, and refusing whatever its rule file does not allow.
//!
//! Threat model: the hub account may be compromised, and sudo lets it run
//! this program as any user its sudoers rule names, with any arguments and
//! any standard input. So everything that decides what may happen comes from
//! places the hub cannot write: the rule file (root-owned, not writable by
//! group or others, at a path fixed when the program is built), the passwd
//! and group databases, and the kernel's view of who runs this process.
//! The program refuses to act as root or as an account below the rule's
//! `min_uid` or outside its users and groups, runs only the rule's
//! commands, drops environment variables that load code into them
//! (`LD_*`, `PYTHONPATH`, ...), starts them in the account's own home with
//! `USER`, `LOGNAME`, `HOME` and `SHELL` from passwd, and signals only
//! processes of its own uid that a hub started (their environment carries
//! `JUPYTERHUB_API_TOKEN`), and only with the signals a stop uses.
//!
//! The library holds the decisions (pure, unit-tested); `main.rs` does the
//! input, output and system calls.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Where the rule file is: fixed when the program is built (set
/// `FERROHUB_SUDO_HELPER_RULES` at build time to move it), never taken from
/// the environment or the command line, which the hub controls.
pub const RULES_PATH: &str = match option_env!("FERROHUB_SUDO_HELPER_RULES") {
    Some(path) => path,
    None => "/etc/ferrohub/sudo-helper.toml",
};

/// The lowest uid served when the rule file does not say (Debian's `UID_MIN`).
pub const DEFAULT_MIN_UID: u32 = 1000;

/// The signals a request may send: 0 (is it alive?) and those of a stop.
pub const ALLOWED_SIGNALS: [i32; 5] = [0, 1, 2, 9, 15];

/// Environment variables never passed on, besides every `LD_*`: they make
/// the dynamic loader, Python, shells or other interpreters load code the
/// hub chooses into the server.
pub const DROPPED_VARIABLES: [&str; 17] = [
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONINSPECT",
    "PYTHONEXECUTABLE",
    "PYTHONBREAKPOINT",
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "IFS",
    "GCONV_PATH",
    "GLIBC_TUNABLES",
    "NODE_OPTIONS",
    "PERL5OPT",
    "PERL5LIB",
];

/// Why the helper refuses; the text is the `error` of its JSON answer.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Refusal {
    /// Run as root (by `sudo -u root`, or directly).
    #[error("refusing to run as root (uid {uid}, euid {euid})")]
    Root {
        /// Real uid.
        uid: u32,
        /// Effective uid.
        euid: u32,
    },
    /// The account is a system account.
    #[error("user {user} has uid {uid}, below min_uid {min_uid} of {RULES_PATH}")]
    BelowMinUid {
        /// The account.
        user: String,
        /// Its uid.
        uid: u32,
        /// The rule's minimum.
        min_uid: u32,
    },
    /// The account is neither in `allowed_users` nor in `allowed_groups`.
    #[error("user {0} is not in allowed_users or allowed_groups of {RULES_PATH}")]
    UserNotAllowed(String),
    /// The request names a command the rules do not allow.
    #[error("command {0:?} is not in allowed_commands of {RULES_PATH}")]
    CommandNotAllowed(String),
    /// A signal outside [`ALLOWED_SIGNALS`].
    #[error("signal {0} is not one a hub needs (0, 1, 2, 9, 15)")]
    SignalNotAllowed(i64),
    /// A pid that is not one process (0 and negatives mean groups or all).
    #[error("pid {0} does not name one process")]
    BadPid(i64),
    /// The rule file is missing, unsafe or invalid.
    #[error("rule file {path}: {reason}")]
    Rules {
        /// Its path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The request is not one this protocol knows.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The command line has something besides `--logging=<level>`.
    #[error("unknown argument {0:?} (only --logging=<level> and --help)")]
    BadArgument(String),
    /// Starting the server failed.
    #[error("{0}")]
    Spawn(String),
    /// The account could not be read.
    #[error("{0}")]
    Account(String),
}

/// The rule file (`/etc/ferrohub/sudo-helper.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Absolute paths of the programs a spawn may run; the first is run
    /// when the request names none (a hub speaking upstream's protocol).
    pub allowed_commands: Vec<PathBuf>,
    /// The lowest uid served (default 1000); root is refused whatever it says.
    #[serde(default = "default_min_uid")]
    pub min_uid: u32,
    /// Accounts served; with `allowed_groups` also empty, every account
    /// from `min_uid` up is.
    #[serde(default)]
    pub allowed_users: Vec<String>,
    /// Groups whose members are served (primary or supplementary).
    #[serde(default)]
    pub allowed_groups: Vec<String>,
}

fn default_min_uid() -> u32 {
    DEFAULT_MIN_UID
}

impl Rules {
    /// Reads the rule file at `path`, refusing one that is not a regular
    /// file owned by root and writable only by root, in a directory with the
    /// same properties (else whoever can write either decides the rules).
    pub fn load(path: &Path) -> Result<Self, Refusal> {
        let refuse = |reason: String| Refusal::Rules {
            path: path.display().to_string(),
            reason,
        };
        let dir = path.parent().unwrap_or_else(|| Path::new("/"));
        let dir_meta = std::fs::metadata(dir).map_err(|e| refuse(e.to_string()))?;
        check_root_owned(dir_meta.uid(), dir_meta.mode())
            .map_err(|why| refuse(format!("its directory {}: {why}", dir.display())))?;
        let mut file = File::open(path).map_err(|e| refuse(e.to_string()))?;
        // The opened file's own metadata: no window to swap it after the check.
        let meta = file.metadata().map_err(|e| refuse(e.to_string()))?;
        if !meta.is_file() {
            return Err(refuse("not a regular file".into()));
        }
        check_root_owned(meta.uid(), meta.mode()).map_err(refuse)?;
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|e| refuse(e.to_string()))?;
        Self::parse(&text).map_err(refuse)
    }

    /// Parses and checks the rules' text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let rules: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        if rules.allowed_commands.is_empty() {
            return Err("allowed_commands is empty: nothing may be started".into());
        }
        if let Some(relative) = rules.allowed_commands.iter().find(|c| !c.is_absolute()) {
            return Err(format!(
                "allowed_commands entry {} is not an absolute path",
                relative.display()
            ));
        }
        Ok(rules)
    }

    /// Whether `account` may be served: not root, not below `min_uid`, and in
    /// `allowed_users` or a member of `allowed_groups` when either is set.
    pub fn check_account(&self, account: &Account) -> Result<(), Refusal> {
        if account.uid == 0 {
            return Err(Refusal::Root {
                uid: account.uid,
                euid: account.uid,
            });
        }
        if account.uid < self.min_uid {
            return Err(Refusal::BelowMinUid {
                user: account.name.clone(),
                uid: account.uid,
                min_uid: self.min_uid,
            });
        }
        let open = self.allowed_users.is_empty() && self.allowed_groups.is_empty();
        let listed = self.allowed_users.contains(&account.name);
        let member = account
            .groups
            .iter()
            .any(|g| self.allowed_groups.contains(g));
        if open || listed || member {
            Ok(())
        } else {
            Err(Refusal::UserNotAllowed(account.name.clone()))
        }
    }

    /// The program and leading arguments a spawn runs: the request's `cmd`
    /// if its program is one of `allowed_commands` exactly, else (no `cmd`)
    /// the first allowed command.
    pub fn command(&self, cmd: Option<&[String]>) -> Result<(PathBuf, Vec<String>), Refusal> {
        let Some(cmd) = cmd else {
            return Ok((self.allowed_commands[0].clone(), Vec::new()));
        };
        let Some((program, rest)) = cmd.split_first() else {
            return Err(Refusal::CommandNotAllowed(String::new()));
        };
        if self
            .allowed_commands
            .iter()
            .any(|c| c.as_os_str() == program.as_str())
        {
            Ok((PathBuf::from(program), rest.to_vec()))
        } else {
            Err(Refusal::CommandNotAllowed(program.clone()))
        }
    }
}

/// `uid`/`mode` of a file or directory that decides the rules: owned by
/// root, not writable by group or others.
fn check_root_owned(uid: u32, mode: u32) -> Result<(), String> {
    if uid != 0 {
        return Err(format!("owned by uid {uid}, not root"));
    }
    if mode & 0o022 != 0 {
        return Err(format!(
            "mode {:o} is writable by group or others",
            mode & 0o7777
        ));
    }
    Ok(())
}

/// The account this process runs as, from passwd and the group database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Login name.
    pub name: String,
    /// Real uid of this process.
    pub uid: u32,
    /// Home directory from passwd.
    pub home: PathBuf,
    /// Login shell from passwd.
    pub shell: PathBuf,
    /// Names of its groups, primary and supplementary.
    pub groups: Vec<String>,
}

/// One request, as sudospawner's hub side writes it; ferrohub's helper also
/// takes an optional `cmd` on spawn (a program from `allowed_commands` and
/// its leading arguments), which upstream's mediator does not know.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase", deny_unknown_fields)]
pub enum Request {
    /// Start the server.
    Spawn {
        /// Arguments after the program.
        #[serde(default)]
        args: Vec<String>,
        /// The server's environment (filtered by [`server_env`]).
        #[serde(default)]
        env: BTreeMap<String, String>,
        /// The program and leading arguments; `None` means the first allowed.
        #[serde(default)]
        cmd: Option<Vec<String>>,
    },
    /// Signal a process.
    Kill {
        /// The pid.
        pid: i64,
        /// The signal number.
        signal: i64,
    },
}

impl Request {
    /// Reads a request from the JSON the hub wrote.
    pub fn parse(input: &[u8]) -> Result<Self, Refusal> {
        serde_json::from_slice(input).map_err(|e| Refusal::BadRequest(e.to_string()))
    }
}

/// A kill request's pid and signal, once checked.
pub fn check_kill(pid: i64, signal: i64) -> Result<(i32, i32), Refusal> {
    let pid = i32::try_from(pid)
        .ok()
        .filter(|p| *p > 0)
        .ok_or(Refusal::BadPid(pid))?;
    let signal = i32::try_from(signal)
        .ok()
        .filter(|s| ALLOWED_SIGNALS.contains(s))
        .ok_or(Refusal::SignalNotAllowed(signal))?;
    Ok((pid, signal))
}

/// The answer written to stdout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    /// Whether the request was carried out.
    pub ok: bool,
    /// The started server's pid (spawn).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// Whether the process lives after the signal (kill).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alive: Option<bool>,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Answer {
    /// A refusal.
    #[must_use]
    pub fn refused(refusal: &Refusal) -> Self {
        Self {
            ok: false,
            pid: None,
            alive: None,
            error: Some(refusal.to_string()),
        }
    }
}

/// The server's environment: the request's, without [`DROPPED_VARIABLES`],
/// `LD_*` and malformed names, with `USER`, `LOGNAME`, `HOME` and `SHELL`
/// from passwd. Returns it and the names dropped (for the log).
pub fn server_env(
    requested: &BTreeMap<String, String>,
    account: &Account,
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut env = BTreeMap::new();
    let mut dropped = Vec::new();
    for (name, value) in requested {
        let malformed = name.is_empty() || name.contains(['=', '\0']) || value.contains('\0');
        if malformed || name.starts_with("LD_") || DROPPED_VARIABLES.contains(&name.as_str()) {
            dropped.push(name.clone());
        } else {
            env.insert(name.clone(), value.clone());
        }
    }
    env.insert("USER".into(), account.name.clone());
    env.insert("LOGNAME".into(), account.name.clone());
    env.insert("HOME".into(), account.home.to_string_lossy().into_owned());
    if !account.shell.as_os_str().is_empty() {
        env.insert("SHELL".into(), account.shell.to_string_lossy().into_owned());
    }
    (env, dropped)
}

/// The real uid in a `/proc/<pid>/status` text.
#[must_use]
pub fn status_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Whether a `/proc/<pid>/environ` content is a hub-started server's (it
/// carries `JUPYTERHUB_API_TOKEN`).
#[must_use]
pub fn started_by_a_hub(environ: &[u8]) -> bool {
    environ
        .split(|b| *b == 0)
        .any(|var| var.starts_with(b"JUPYTERHUB_API_TOKEN="))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn alice() -> Account {
        Account {
            name: "alice".into(),
            uid: 1001,
            home: "/home/alice".into(),
            shell: "/bin/bash".into(),
            groups: vec!["alice".into(), "jupyter".into()],
        }
    }

    fn rules(text: &str) -> Rules {
        Rules::parse(text).unwrap()
    }

    #[test]
    fn rules_need_absolute_commands_and_reject_unknown_keys() {
        let ok = rules(r#"allowed_commands = ["/opt/venv/bin/jupyterhub-singleuser"]"#);
        assert_eq!(ok.min_uid, 1000);
        assert!(Rules::parse("allowed_commands = []").is_err());
        assert!(Rules::parse(r#"allowed_commands = ["jupyterhub-singleuser"]"#).is_err());
        assert!(
            Rules::parse(
                r#"allowed_commands = ["/x"]
allowed_user = ["typo"]"#
            )
            .is_err()
        );
    }

    #[test]
    fn root_and_system_accounts_are_refused_whatever_the_rules() {
        let open = rules("allowed_commands = [\"/x\"]\nmin_uid = 0");
        let root = Account {
            name: "root".into(),
            uid: 0,
            ..alice()
        };
        assert!(matches!(
            open.check_account(&root),
            Err(Refusal::Root { .. })
        ));
        let strict = rules("allowed_commands = [\"/x\"]");
        let daemon = Account {
            name: "daemon".into(),
            uid: 1,
            ..alice()
        };
        assert_eq!(
            strict.check_account(&daemon),
            Err(Refusal::BelowMinUid {
                user: "daemon".into(),
                uid: 1,
                min_uid: 1000
            })
        );
        assert!(
            strict.check_account(&alice()).is_ok(),
            "no lists: all from min_uid"
        );
    }

    #[test]
    fn lists_allow_by_name_or_by_group() {
        let by_name = rules("allowed_commands = [\"/x\"]\nallowed_users = [\"alice\"]");
        assert!(by_name.check_account(&alice()).is_ok());
        let bob = Account {
            name: "bob".into(),
            groups: vec!["bob".into()],
            ..alice()
        };
        assert_eq!(
            by_name.check_account(&bob),
            Err(Refusal::UserNotAllowed("bob".into()))
        );
        let by_group = rules("allowed_commands = [\"/x\"]\nallowed_groups = [\"jupyter\"]");
        assert!(by_group.check_account(&alice()).is_ok());
        assert!(by_group.check_account(&bob).is_err());
    }

    #[test]
    fn only_allowed_commands_run() {
        let two = rules(r#"allowed_commands = ["/opt/a/jupyterhub-singleuser", "/opt/b/run"]"#);
        assert_eq!(
            two.command(None).unwrap(),
            (PathBuf::from("/opt/a/jupyterhub-singleuser"), vec![])
        );
        let cmd = vec!["/opt/b/run".to_owned(), "--flag".to_owned()];
        assert_eq!(
            two.command(Some(&cmd)).unwrap(),
            (PathBuf::from("/opt/b/run"), vec!["--flag".to_owned()])
        );
        for bad in [&["/bin/sh"][..], &["run"], &["/opt/b/run/"], &[]] {
            let cmd: Vec<String> = bad.iter().map(|s| (*s).to_owned()).collect();
            assert!(
                matches!(two.command(Some(&cmd)), Err(Refusal::CommandNotAllowed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn requests_are_upstreams_and_nothing_else() {
        let spawn = Request::parse(
            br#"{"action": "spawn", "args": ["--debug"], "env": {"JUPYTERHUB_USER": "alice"}}"#,
        )
        .unwrap();
        assert_eq!(
            spawn,
            Request::Spawn {
                args: vec!["--debug".into()],
                env: BTreeMap::from([("JUPYTERHUB_USER".into(), "alice".into())]),
                cmd: None
            }
        );
        let kill = Request::parse(br#"{"action": "kill", "pid": 12, "signal": 0}"#).unwrap();
        assert_eq!(kill, Request::Kill { pid: 12, signal: 0 });
        for bad in [
            &br#"{"action": "exec", "args": []}"#[..],
            br#"{"action": "spawn", "args": [], "env": {}, "cwd": "/tmp"}"#,
            br#"{"args": []}"#,
            b"not json",
        ] {
            assert!(
                matches!(Request::parse(bad), Err(Refusal::BadRequest(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn kills_name_one_process_and_a_stop_signal() {
        assert_eq!(check_kill(42, 15), Ok((42, 15)));
        assert_eq!(check_kill(42, 0), Ok((42, 0)));
        for pid in [0, -1, -42, i64::from(i32::MAX) + 1] {
            assert_eq!(check_kill(pid, 15), Err(Refusal::BadPid(pid)));
        }
        for signal in [3, 19, 64, -1] {
            assert_eq!(
                check_kill(42, signal),
                Err(Refusal::SignalNotAllowed(signal))
            );
        }
    }

    #[test]
    fn the_environment_loses_loader_variables_and_gets_the_account() {
        let requested = BTreeMap::from([
            ("JUPYTERHUB_API_TOKEN".to_owned(), "t".to_owned()),
            ("LD_PRELOAD".to_owned(), "/tmp/evil.so".to_owned()),
            ("LD_LIBRARY_PATH".to_owned(), "/tmp".to_owned()),
            ("PYTHONPATH".to_owned(), "/tmp".to_owned()),
            ("HOME".to_owned(), "/tmp/hub".to_owned()),
            ("USER".to_owned(), "root".to_owned()),
            ("A=B".to_owned(), "x".to_owned()),
            ("PATH".to_owned(), "/opt/venv/bin:/usr/bin".to_owned()),
        ]);
        let (env, mut dropped) = server_env(&requested, &alice());
        dropped.sort();
        assert_eq!(
            dropped,
            ["A=B", "LD_LIBRARY_PATH", "LD_PRELOAD", "PYTHONPATH"]
        );
        assert_eq!(env["HOME"], "/home/alice");
        assert_eq!(env["USER"], "alice");
        assert_eq!(env["LOGNAME"], "alice");
        assert_eq!(env["SHELL"], "/bin/bash");
        assert_eq!(env["JUPYTERHUB_API_TOKEN"], "t");
        assert_eq!(env["PATH"], "/opt/venv/bin:/usr/bin");
    }

    #[test]
    fn answers_are_sudospawners() {
        let ok = Answer {
            ok: true,
            pid: Some(7),
            alive: None,
            error: None,
        };
        assert_eq!(
            serde_json::to_string(&ok).unwrap(),
            r#"{"ok":true,"pid":7}"#
        );
        let no = Answer::refused(&Refusal::UserNotAllowed("bob".into()));
        let json: serde_json::Value = serde_json::to_value(&no).unwrap();
        assert_eq!(json["ok"], false);
        assert!(json["error"].as_str().unwrap().contains("bob"));
    }

    #[test]
    fn proc_helpers_read_uid_and_the_hub_token() {
        assert_eq!(
            status_uid("Name:\tx\nUid:\t1001\t1001\t1001\t1001\n"),
            Some(1001)
        );
        assert_eq!(status_uid("Name:\tx\n"), None);
        assert!(started_by_a_hub(b"PATH=/bin\0JUPYTERHUB_API_TOKEN=abc\0"));
        assert!(!started_by_a_hub(
            b"PATH=/bin\0X_JUPYTERHUB_API_TOKEN=abc\0"
        ));
    }

    #[test]
    fn rule_files_must_be_roots_alone() {
        assert!(check_root_owned(0, 0o100_644).is_ok());
        assert!(check_root_owned(0, 0o040_755).is_ok());
        assert!(check_root_owned(1000, 0o100_644).is_err());
        assert!(check_root_owned(0, 0o100_664).is_err());
        assert!(check_root_owned(0, 0o100_646).is_err());
        // A real file: refused when not root's, or when others may write it.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.toml");
        std::fs::write(&path, "allowed_commands = [\"/x\"]").unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(matches!(Rules::load(&path), Err(Refusal::Rules { .. })));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let loaded = Rules::load(&path);
        if nix::unistd::geteuid().is_root() {
            assert_eq!(loaded.unwrap().allowed_commands, [PathBuf::from("/x")]);
        } else {
            assert!(loaded.is_err(), "a file of ours is not root's");
        }
    }
}
