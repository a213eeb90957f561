//! Background servers (identity providers) that die with the test process.
//!
//! A fixture shared through a `static` is never dropped, so its server has to
//! be killed some other way when the test binary exits: every child spawned
//! here gets `PR_SET_PDEATHSIG` = SIGKILL. The kernel sends that signal when
//! the *thread* that spawned the child ends, so all spawns go through one
//! thread that lives as long as the process. Owned fixtures still kill and
//! reap their child on drop ([`Daemon`]).

use std::io;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

type Request = (Command, mpsc::Sender<io::Result<Child>>);

/// Starts `command` from the long-lived spawner thread, so the child gets
/// SIGKILL when this process exits however it exits (panic, `exit`, signal).
pub fn spawn_tied_to_process(command: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Request>>> = OnceLock::new();
    let sender = SPAWNER.get_or_init(|| {
        let (sender, requests) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("idp-spawner".into())
            .spawn(move || {
                for (mut command, reply) in requests {
                    tie_to_parent(&mut command);
                    // The test waiting for the reply may have panicked; nothing to do then.
                    reply.send(command.spawn()).ok();
                }
            })
            .expect("spawn the spawner thread");
        Mutex::new(sender)
    });
    let (reply, answer) = mpsc::channel();
    sender
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .send((command, reply))
        .expect("spawner thread alive");
    answer.recv().expect("spawner thread answers")
}

#[expect(
    unsafe_code,
    reason = "pre_exec runs between fork and exec; prctl is async-signal-safe"
)]
fn tie_to_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: the closure only makes one async-signal-safe system call.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(io::Error::from)
        });
    }
}

/// A running server process: SIGTERM and reaped on drop.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
}

impl Daemon {
    /// Wraps a child started by [`spawn_tied_to_process`].
    pub fn new(child: Child) -> Self {
        Self { child }
    }

    /// The process id (to check it is gone after drop).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the server has exited.
    pub fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Fails with the exit status if the server has already exited.
    pub fn check_running(&mut self, what: &str) {
        if let Some(status) = self.child.try_wait().expect("try_wait") {
            panic!("{what} exited early with {status}");
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("pid fits"));
        if nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).is_ok() {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while std::time::Instant::now() < deadline {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
