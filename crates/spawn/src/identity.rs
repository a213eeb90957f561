//! What identifies a server process beyond its pid, so that a hub restarted
//! hours later never mistakes (and signals) an unrelated process that was
//! given the same pid by the kernel.
//!
//! A process is the one we started when, besides the pid, its start time
//! (`/proc/<pid>/stat` field 22, clock ticks after boot), its real uid and
//! the boot it runs in (`/proc/sys/kernel/random/boot_id`) are the ones we
//! recorded when we started it. All four are persisted in the spawner state.

use serde_json::{Value, json};

/// Where the kernel publishes the id of the current boot.
const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// The identity of one process, as recorded at start and checked later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcessIdentity {
    /// Process id (the leader of the server's process group).
    pub pid: i32,
    /// Start time in clock ticks after boot (`/proc/<pid>/stat` field 22).
    pub start_time: u64,
    /// Real user id (`Uid:` in `/proc/<pid>/status`).
    pub uid: u32,
    /// The kernel's boot id, so start times of different boots never compare equal.
    pub boot_id: String,
}

/// What a stored spawner state says about its process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoredProcess {
    /// No usable pid: nothing runs (upstream's reading of an empty state).
    None,
    /// A pid without the identity fields (state written by an older ferrohub,
    /// or tampered with): it cannot be verified, so it is never signalled.
    Unverified(i32),
    /// A pid with its full identity.
    Identified(ProcessIdentity),
}

/// How the process behind a stored identity is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Liveness {
    /// The very process we started, still running.
    Running,
    /// Exited, a zombie, or the pid now belongs to another process.
    Gone,
}

impl ProcessIdentity {
    /// Reads the identity of the live (or zombie) process `pid` from `/proc`.
    pub(crate) fn read(pid: i32) -> std::io::Result<Self> {
        observe(pid).map(|(_, identity)| identity)
    }

    /// The spawner state that records this identity. `pid` keeps upstream's
    /// key so tools that read `{"pid": N}` still work.
    pub(crate) fn to_state(&self) -> Value {
        json!({
            "pid": self.pid,
            "start_time": self.start_time,
            "uid": self.uid,
            "boot_id": self.boot_id,
        })
    }

    /// Whether the process behind this identity still runs: the pid exists, is
    /// not a zombie, and its start time, uid and boot are the recorded ones.
    pub(crate) fn liveness(&self) -> Liveness {
        match observe(self.pid) {
            Ok((false, now)) if now == *self => Liveness::Running,
            Ok((false, now)) => {
                tracing::warn!(
                    pid = self.pid,
                    recorded_start = self.start_time,
                    recorded_uid = self.uid,
                    start = now.start_time,
                    uid = now.uid,
                    "pid now belongs to another process; the server is gone"
                );
                Liveness::Gone
            }
            // Exited (no /proc entry) or a zombie.
            Ok((true, _)) | Err(_) => Liveness::Gone,
        }
    }
}

impl StoredProcess {
    /// Reads a spawner state. A missing, 0 or negative pid means none:
    /// signalling pid 0 or -1 would hit the hub's own group or everything.
    pub(crate) fn from_state(state: &Value) -> Self {
        let Some(pid) = state
            .get("pid")
            .and_then(Value::as_i64)
            .and_then(|pid| i32::try_from(pid).ok())
            .filter(|pid| *pid > 0)
        else {
            return Self::None;
        };
        let start_time = state.get("start_time").and_then(Value::as_u64);
        let uid = state
            .get("uid")
            .and_then(Value::as_u64)
            .and_then(|uid| u32::try_from(uid).ok());
        let boot_id = state.get("boot_id").and_then(Value::as_str);
        match (start_time, uid, boot_id) {
            (Some(start_time), Some(uid), Some(boot_id)) if !boot_id.is_empty() => {
                Self::Identified(ProcessIdentity {
                    pid,
                    start_time,
                    uid,
                    boot_id: boot_id.to_owned(),
                })
            }
            _ => Self::Unverified(pid),
        }
    }
}

/// The parts of `/proc/<pid>/stat` we use.
struct Stat {
    zombie: bool,
    start_time: u64,
}

/// Whether `pid` is a zombie, and its identity, read from `/proc`.
fn observe(pid: i32) -> std::io::Result<(bool, ProcessIdentity)> {
    let stat = read_stat(pid)?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let uid = real_uid(&status).ok_or_else(|| malformed(pid, "status"))?;
    let identity = ProcessIdentity {
        pid,
        start_time: stat.start_time,
        uid,
        boot_id: boot_id()?,
    };
    Ok((stat.zombie, identity))
}

fn read_stat(pid: i32) -> std::io::Result<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_stat(&text).ok_or_else(|| malformed(pid, "stat"))
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) is in parentheses and
/// may contain anything, spaces and ')' included; fields 3 onwards follow the
/// last ')', so field N is at index N - 3 there.
fn parse_stat(text: &str) -> Option<Stat> {
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = *fields.first()?;
    let start_time = fields.get(22 - 3)?.parse().ok()?;
    Some(Stat {
        // `X` is a process being reaped right now.
        zombie: state == "Z" || state == "X",
        start_time,
    })
}

/// The real uid from `/proc/<pid>/status` (`Uid:` real, effective, saved, fs).
fn real_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn boot_id() -> std::io::Result<String> {
    Ok(std::fs::read_to_string(BOOT_ID)?.trim().to_owned())
}

fn malformed(pid: i32, file: &str) -> std::io::Error {
    std::io::Error::other(format!("cannot parse /proc/{pid}/{file}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> i32 {
        i32::try_from(std::process::id()).unwrap()
    }

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        let text = "42 (evil) name) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 \
                    98765 1000 10 18446744073709551615";
        let stat = parse_stat(text).unwrap();
        assert_eq!(stat.start_time, 98765);
        assert!(!stat.zombie);
        let zombie = text.replace(") S ", ") Z ");
        assert!(parse_stat(&zombie).unwrap().zombie);
        assert!(parse_stat("42 (short) S 1").is_none());
    }

    #[test]
    fn the_real_uid_is_the_first_of_four() {
        let status = "Name:\tx\nUid:\t1001\t0\t0\t0\nGid:\t5\t5\t5\t5\n";
        assert_eq!(real_uid(status), Some(1001));
        assert_eq!(real_uid("Name:\tx\n"), None);
    }

    #[test]
    fn our_own_identity_round_trips_through_the_state_and_is_running() {
        let identity = ProcessIdentity::read(me()).unwrap();
        assert_eq!(identity.uid, nix::unistd::getuid().as_raw());
        assert!(!identity.boot_id.is_empty());
        let stored = StoredProcess::from_state(&identity.to_state());
        assert_eq!(stored, StoredProcess::Identified(identity.clone()));
        assert_eq!(identity.liveness(), Liveness::Running);
    }

    #[test]
    fn any_difference_in_identity_means_gone() {
        let identity = ProcessIdentity::read(me()).unwrap();
        let others = [
            ProcessIdentity {
                start_time: identity.start_time + 1,
                ..identity.clone()
            },
            ProcessIdentity {
                uid: identity.uid + 1,
                ..identity.clone()
            },
            ProcessIdentity {
                boot_id: "another-boot".into(),
                ..identity.clone()
            },
        ];
        for other in others {
            assert_eq!(other.liveness(), Liveness::Gone, "{other:?}");
        }
    }

    #[test]
    fn states_without_identity_are_unverified_and_bad_pids_are_none() {
        assert_eq!(
            StoredProcess::from_state(&json!({"pid": 1234})),
            StoredProcess::Unverified(1234)
        );
        assert_eq!(
            StoredProcess::from_state(&json!({"pid": 1234, "start_time": 5, "uid": 0})),
            StoredProcess::Unverified(1234),
            "no boot id"
        );
        assert_eq!(
            StoredProcess::from_state(
                &json!({"pid": 1234, "start_time": "5", "uid": 0, "boot_id": "b"})
            ),
            StoredProcess::Unverified(1234),
            "start time of the wrong type"
        );
        for bad in [
            json!({}),
            json!(null),
            json!({"pid": 0}),
            json!({"pid": -1}),
            json!({"pid": "12"}),
            json!({"pid": 1u64 << 40}),
        ] {
            assert_eq!(
                StoredProcess::from_state(&bad),
                StoredProcess::None,
                "{bad}"
            );
        }
    }
}
