//! `ferrohub-sudospawner`: run by a non-root hub as `sudo -u <user> -nH
//! ferrohub-sudospawner [--logging=<level>]`; reads one request on stdin,
//! writes one answer on stdout (see the library for what it refuses and why).
//! Exits 0 when the request was carried out, 1 when refused or failed.
#![allow(
    unsafe_code,
    reason = "CommandExt::pre_exec calls setsid between fork and exec (SAFETY comment below)"
)]

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use ferrohub_sudo_helper::{
    Account, Answer, RULES_PATH, Refusal, Request, Rules, check_kill, server_env, started_by_a_hub,
    status_uid,
};
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::{Group, Pid, User, geteuid, getgrouplist, getpgid, getuid, setsid};

/// The largest request read (an environment is a few kilobytes).
const MAX_REQUEST: u64 = 4 << 20;
/// How long a new server gets to fail at once (upstream's mediator: 1 s).
const EARLY_EXIT_WAIT: Duration = Duration::from_secs(1);

/// Log verbosity from `--logging=<level>` (tornado's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Debug,
    Info,
    Warning,
    Error,
    None,
}

fn main() -> ExitCode {
    let mut level = Level::Info;
    for arg in std::env::args().skip(1) {
        if arg == "--help" || arg == "-h" {
            println!(
                "Usage: ferrohub-sudospawner [--logging=debug|info|warning|error|none]\n\n\
                 Reads one JSON request on stdin ({{\"action\": \"spawn\", \"args\", \"env\"}} or \
                 {{\"action\": \"kill\", \"pid\", \"signal\"}}) and answers with one JSON object.\n\
                 Rules: {RULES_PATH}"
            );
            return ExitCode::SUCCESS;
        }
        match parse_level(&arg) {
            Some(parsed) => level = parsed,
            None => return refuse(&Refusal::BadArgument(arg), Level::Error),
        }
    }
    match run(level) {
        Ok(answer) => {
            write_answer(&answer);
            ExitCode::SUCCESS
        }
        Err(refusal) => refuse(&refusal, level),
    }
}

fn parse_level(arg: &str) -> Option<Level> {
    let value = arg.strip_prefix("--logging=")?;
    Some(match value.to_ascii_lowercase().as_str() {
        "debug" => Level::Debug,
        "info" => Level::Info,
        "warning" | "warn" => Level::Warning,
        "error" => Level::Error,
        "none" => Level::None,
        _ => return None,
    })
}

fn log(level: Level, wanted: Level, message: &str) {
    if wanted <= level {
        eprintln!("[ferrohub-sudospawner] {message}");
    }
}

fn write_answer(answer: &Answer) {
    let mut out = std::io::stdout().lock();
    // Nothing else can be done if the hub went away.
    if serde_json::to_writer(&mut out, answer).is_ok() {
        let _ignored = out.write_all(b"\n");
    }
    let _ignored = out.flush();
}

fn refuse(refusal: &Refusal, level: Level) -> ExitCode {
    log(level, Level::Error, &format!("refused: {refusal}"));
    write_answer(&Answer::refused(refusal));
    ExitCode::FAILURE
}

/// Checks who we are, loads the rules, reads and carries out the request.
fn run(level: Level) -> Result<Answer, Refusal> {
    let (uid, euid) = (getuid().as_raw(), geteuid().as_raw());
    if uid == 0 || euid == 0 {
        return Err(Refusal::Root { uid, euid });
    }
    let rules = Rules::load(Path::new(RULES_PATH))?;
    let account = account(uid)?;
    rules.check_account(&account)?;
    let mut input = Vec::new();
    std::io::stdin()
        .take(MAX_REQUEST)
        .read_to_end(&mut input)
        .map_err(|e| Refusal::BadRequest(e.to_string()))?;
    match Request::parse(&input)? {
        Request::Kill { pid, signal } => {
            let (pid, signal) = check_kill(pid, signal)?;
            let alive = signal_server(pid, signal, uid, level);
            Ok(Answer {
                ok: true,
                pid: None,
                alive: Some(alive),
                error: None,
            })
        }
        Request::Spawn { args, env, cmd } => {
            let (program, leading) = rules.command(cmd.as_deref())?;
            let (env, dropped) = server_env(&env, &account);
            if !dropped.is_empty() {
                log(
                    level,
                    Level::Warning,
                    &format!("not passing {}", dropped.join(", ")),
                );
            }
            let pid = spawn(&program, &leading, &args, &env, &account, level)?;
            Ok(Answer {
                ok: true,
                pid: Some(pid),
                alive: None,
                error: None,
            })
        }
    }
}

/// This process's account, from passwd and the group database.
fn account(uid: u32) -> Result<Account, Refusal> {
    let failed = |why: String| Refusal::Account(format!("uid {uid}: {why}"));
    let user = User::from_uid(nix::unistd::Uid::from_raw(uid))
        .map_err(|e| failed(e.to_string()))?
        .ok_or_else(|| failed("no passwd entry".into()))?;
    let name = std::ffi::CString::new(user.name.clone()).map_err(|e| failed(e.to_string()))?;
    let gids = getgrouplist(&name, user.gid).map_err(|e| failed(e.to_string()))?;
    let groups = gids
        .into_iter()
        .filter_map(|gid| Group::from_gid(gid).ok().flatten())
        .map(|group| group.name)
        .collect();
    Ok(Account {
        name: user.name,
        uid,
        home: user.dir,
        shell: user.shell,
        groups,
    })
}

/// Signals `pid` (its process group when it leads one, so kernels go too)
/// if it is a hub-started process of our own uid; whether it lives. Any
/// other process counts as gone and is left alone (upstream's mediator
/// also answers "gone" when it may not signal a pid).
fn signal_server(pid: i32, signal: i32, uid: u32, level: Level) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"));
    let Some(owner) = status.ok().as_deref().and_then(status_uid) else {
        return false;
    };
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    if owner != uid || !started_by_a_hub(&environ) {
        log(
            level,
            Level::Error,
            &format!("pid {pid} is not a server of this user; not signalling it"),
        );
        return false;
    }
    let target = Pid::from_raw(pid);
    // 0 is no `Signal`: it only asks whether the process lives.
    let signal = Signal::try_from(signal).ok();
    log(level, Level::Debug, &format!("sending {signal:?} to {pid}"));
    let leads_group = signal.is_some() && getpgid(Some(target)) == Ok(target);
    let sent = if leads_group {
        killpg(target, signal)
    } else {
        kill(target, signal)
    };
    !matches!(sent, Err(Errno::ESRCH))
}

/// Starts the server in its own session, in the account's home, stdout to
/// our stderr (the hub reads our stdout for the answer only); waits a moment
/// for an early failure and returns its pid. It is not waited for: it
/// outlives this process, as upstream's servers outlive their mediator's
/// answer.
fn spawn(
    program: &Path,
    leading: &[String],
    args: &[String],
    env: &std::collections::BTreeMap<String, String>,
    account: &Account,
    level: Level,
) -> Result<i32, Refusal> {
    let failed =
        |why: String| Refusal::Spawn(format!("could not start {}: {why}", program.display()));
    let meta = std::fs::metadata(program).map_err(|e| failed(e.to_string()))?;
    if !meta.is_file() {
        return Err(failed("not a regular file".into()));
    }
    if !account.home.is_dir() {
        return Err(failed(format!(
            "the home directory {} is not a directory",
            account.home.display()
        )));
    }
    let stdout = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| failed(e.to_string()))?;
    let mut command = Command::new(program);
    command
        .args(leading)
        .args(args)
        .env_clear()
        .envs(env)
        .current_dir(&account.home)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout));
    // SAFETY: setsid is async-signal-safe and the closure allocates nothing;
    // it runs in the child between fork and exec.
    unsafe {
        command.pre_exec(|| setsid().map(|_| ()).map_err(std::io::Error::from));
    }
    log(
        level,
        Level::Info,
        &format!("starting {} as {}", program.display(), account.name),
    );
    let mut child = command.spawn().map_err(|e| failed(e.to_string()))?;
    let pid = i32::try_from(child.id()).map_err(|e| failed(e.to_string()))?;
    let deadline = Instant::now() + EARLY_EXIT_WAIT;
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(status)) => {
                let code = status.code().or_else(|| status.signal().map(|s| -s));
                return Err(Refusal::Spawn(format!(
                    "Exited with status: {}",
                    code.unwrap_or(0)
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(failed(e.to_string())),
        }
    }
    Ok(pid)
}
