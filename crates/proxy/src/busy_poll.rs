//! Busy-polling after traffic (`--busy-poll <µs>`, off by default).
//!
//! Between two packets of one exchange (a kernel message and its reply, a
//! request and the next on a keep-alive connection) the proxy's thread
//! normally sleeps in `epoll_wait`, and every packet then pays for waking
//! it: on a virtual machine that wake-up, not the relaying, is most of
//! the proxy's added latency (BENCHMARKS.md, "Where unloaded latency
//! goes"). With a window set, a task keeps the runtime polling its sockets
//! without sleeping until no traffic has passed for that long. An idle
//! proxy still sleeps; a busy one spends up to one core on polling, which
//! is why this is a choice for the admin.
//!
//! The spinning works through the runtime itself: a task that yields makes
//! the current-thread scheduler poll the I/O driver with a zero timeout
//! before running it again, so the spinner turns the scheduler's idle loop
//! into a polling loop with no other machinery.
//!
//! The spinning gives way to other work. On a core shared with a busy
//! process, a proxy that spins takes half the core from it and, sharing
//! the core's time slices, relays more slowly than one that sleeps
//! (BENCHMARKS.md, "busy-polling beside other work"). So while it spins
//! the spinner watches how long its thread waited, runnable, for the CPU
//! (`/proc/thread-self/schedstat`): when over a few milliseconds that is
//! more than a quarter of the time, other tasks want this CPU (or a CPU
//! quota has throttled the proxy: that counts as waiting too), and the
//! spinner sleeps as a plain proxy would for a back-off, 100 ms at first
//! and doubling up to 1.6 s while the CPU stays contended. Kernel threads
//! that take the CPU for microseconds, and a hypervisor's steal time, do
//! not count. Without schedstat (a kernel built without it) the spinner
//! cannot tell, and never gives way.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The first back-off after another task took the spinner's CPU: long
/// against the scheduler's time slice (a few ms).
pub const BACK_OFF: Duration = Duration::from_millis(100);

/// The longest back-off, reached while the CPU stays contended: a busy
/// neighbour then loses well under 1% of its CPU to the spinner, and the
/// spinner is back within this long once the neighbour is gone.
pub const MAX_BACK_OFF: Duration = Duration::from_millis(1600);

/// How long the spinner's waiting for the CPU is watched before it judges
/// the CPU contended: several scheduler ticks.
const CONTENTION_SPAN: Duration = Duration::from_millis(4);

/// Less waiting than this is never contention: a kernel thread's turn,
/// not a task sharing the CPU's time slices.
const MIN_WAIT: Duration = Duration::from_millis(1);

/// Spin rounds between two looks at the clock for [`CONTENTION_SPAN`].
const ROUNDS_PER_LOOK: u32 = 16;

/// Keeps the runtime polling for `window` after the last traffic.
#[derive(Debug)]
pub struct BusyPoll {
    window: Duration,
    /// Bumped by every read and write on a client connection: cheaper on
    /// the data path than reading the clock.
    traffic: AtomicU64,
    /// Whether the spinner is polling now; if not, traffic must wake it.
    spinning: AtomicBool,
    wake: Notify,
    /// Times the spinner gave way to another task: kept for the tests and
    /// the debug log.
    backed_off: AtomicU64,
    /// Whether to give way at all (off only in tests of the window, which
    /// share the machine with other tests).
    gives_way: bool,
}

impl BusyPoll {
    /// A poller that spins for `window` after traffic; run it with
    /// [`BusyPoll::run`] on the runtime that serves the connections.
    #[must_use]
    pub fn new(window: Duration) -> Arc<Self> {
        Arc::new(Self {
            window,
            traffic: AtomicU64::new(0),
            spinning: AtomicBool::new(false),
            wake: Notify::new(),
            backed_off: AtomicU64::new(0),
            gives_way: true,
        })
    }

    /// A poller that never gives way: for testing the window alone.
    #[cfg(test)]
    fn never_giving_way(window: Duration) -> Arc<Self> {
        let mut busy = Arc::into_inner(Self::new(window)).expect("a fresh Arc");
        busy.gives_way = false;
        Arc::new(busy)
    }

    /// Records traffic: polling goes on (or starts) for another window.
    pub fn touch(&self) {
        self.traffic.fetch_add(1, Ordering::Relaxed);
        if !self.spinning.load(Ordering::Relaxed) {
            self.wake.notify_one();
        }
    }

    /// Whether the spinner is polling now.
    #[must_use]
    pub fn is_spinning(&self) -> bool {
        self.spinning.load(Ordering::Relaxed)
    }

    /// How many times the spinner has given way to other work.
    #[must_use]
    pub fn back_offs(&self) -> u64 {
        self.backed_off.load(Ordering::Relaxed)
    }

    /// The spinner: sleeps until traffic, then yields to the scheduler
    /// until a whole window passes without traffic, or until another task
    /// wants this CPU (then it sleeps for [`BACK_OFF`]). Never returns.
    pub async fn run(self: Arc<Self>) {
        // Opened once: the spinner runs on the runtime's one thread.
        let schedstat = if self.gives_way {
            File::open("/proc/thread-self/schedstat").ok()
        } else {
            None
        };
        let mut back_off = BACK_OFF;
        loop {
            self.wake.notified().await;
            if self.spin(schedstat.as_ref()).await {
                back_off = BACK_OFF;
            } else {
                let count = self.backed_off.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::debug!(
                    count,
                    ?back_off,
                    "busy-poll: another task wants this CPU; sleeping"
                );
                tokio::time::sleep(back_off).await;
                back_off = (back_off * 2).min(MAX_BACK_OFF);
            }
        }
    }

    /// Polls until a window passes without traffic (true) or other tasks
    /// want the CPU (false), judged from `schedstat` (never without
    /// one); `spinning` is false again on return.
    async fn spin(&self, schedstat: Option<&File>) -> bool {
        self.spinning.store(true, Ordering::Relaxed);
        let mut contention = Contention::new(schedstat);
        let mut seen = self.traffic.load(Ordering::Relaxed);
        let mut quiet_until = Instant::now() + self.window;
        let mut rounds = 0_u32;
        loop {
            tokio::task::yield_now().await;
            rounds += 1;
            if rounds.is_multiple_of(ROUNDS_PER_LOOK) && contention.is_high(false) {
                self.spinning.store(false, Ordering::Relaxed);
                return false;
            }
            let now = Instant::now();
            let traffic = self.traffic.load(Ordering::Relaxed);
            if traffic != seen {
                seen = traffic;
                quiet_until = now + self.window;
            } else if now >= quiet_until {
                self.spinning.store(false, Ordering::Relaxed);
                // Traffic between the last look and the store above
                // did not wake us: look once more.
                if self.traffic.load(Ordering::Relaxed) == seen {
                    // A window that ran out while others had the CPU is
                    // contention too, not a quiet spell.
                    return !contention.is_high(true);
                }
                self.spinning.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// Tells whether other tasks want this thread's CPU, from the time the
/// thread spent runnable but waiting for it.
struct Contention<'a> {
    /// This thread's `/proc/thread-self/schedstat`; `None` without one.
    schedstat: Option<&'a File>,
    since: Instant,
    waited_then: Duration,
}

impl<'a> Contention<'a> {
    fn new(schedstat: Option<&'a File>) -> Self {
        let waited_then = schedstat.and_then(waited).unwrap_or_default();
        Self {
            schedstat,
            since: Instant::now(),
            waited_then,
        }
    }

    /// Whether, over the last [`CONTENTION_SPAN`] or more (or, at the end
    /// of a spin, whatever time has passed), this thread waited for its
    /// CPU more than a quarter of the time, and at least [`MIN_WAIT`];
    /// each span is judged afresh.
    fn is_high(&mut self, at_end: bool) -> bool {
        let passed = self.since.elapsed();
        if passed < CONTENTION_SPAN && !at_end {
            return false;
        }
        let Some(waited_now) = self.schedstat.and_then(waited) else {
            return false;
        };
        let waited = waited_now.saturating_sub(self.waited_then);
        self.since = Instant::now();
        self.waited_then = waited_now;
        waited >= MIN_WAIT && waited * 4 > passed
    }
}

/// The run delay in a schedstat file (`<on cpu ns> <waiting ns> <slices>`):
/// how long the thread has waited, runnable, for a CPU.
fn waited(schedstat: &File) -> Option<Duration> {
    let mut buf = [0_u8; 96];
    let len = schedstat.read_at(&mut buf, 0).ok()?;
    let text = std::str::from_utf8(&buf[..len]).ok()?;
    let nanos = text.split_ascii_whitespace().nth(1)?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

#[cfg(test)]
mod tests {
    use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
    use nix::unistd::Pid;

    use super::*;

    async fn until(what: impl Fn() -> bool) -> Duration {
        let start = Instant::now();
        while !what() {
            assert!(start.elapsed() < Duration::from_secs(5), "timed out");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        start.elapsed()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn spins_after_traffic_for_the_window_then_sleeps() {
        let busy = BusyPoll::never_giving_way(Duration::from_millis(50));
        tokio::spawn(Arc::clone(&busy).run());
        tokio::task::yield_now().await;
        assert!(!busy.is_spinning(), "no traffic yet");
        busy.touch();
        until(|| busy.is_spinning()).await;
        let started = Instant::now();
        until(|| !busy.is_spinning()).await;
        let spun = started.elapsed();
        assert!(spun >= Duration::from_millis(45), "stopped after {spun:?}");
        assert!(spun < Duration::from_secs(1), "spun for {spun:?}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn traffic_while_spinning_extends_the_window() {
        let busy = BusyPoll::never_giving_way(Duration::from_millis(40));
        tokio::spawn(Arc::clone(&busy).run());
        busy.touch();
        until(|| busy.is_spinning()).await;
        let started = Instant::now();
        for _ in 0..6 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert!(busy.is_spinning(), "stopped while traffic went on");
            busy.touch();
        }
        until(|| !busy.is_spinning()).await;
        assert!(started.elapsed() >= Duration::from_millis(150));
        // And it starts again with new traffic.
        busy.touch();
        until(|| busy.is_spinning()).await;
    }

    /// Pins the calling thread to `cpu`.
    fn pin(cpu: usize) {
        let mut set = CpuSet::new();
        set.set(cpu).expect("a CPU number");
        sched_setaffinity(Pid::from_raw(0), &set).expect("pinning a thread");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn gives_way_to_a_busy_thread_on_its_cpu_then_spins_again() {
        let allowed = sched_getaffinity(Pid::from_raw(0)).expect("this thread's CPUs");
        let cpu = (0..CpuSet::count())
            .find(|&cpu| allowed.is_set(cpu).unwrap_or(false))
            .expect("an allowed CPU");
        pin(cpu);
        let stop = Arc::new(AtomicBool::new(false));
        let hog = std::thread::spawn({
            let stop = Arc::clone(&stop);
            move || {
                pin(cpu);
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            }
        });
        // A window far longer than the test: only giving way stops it.
        let busy = BusyPoll::new(Duration::from_secs(60));
        tokio::spawn(Arc::clone(&busy).run());
        busy.touch();
        until(|| busy.back_offs() >= 1).await;
        assert!(!busy.is_spinning(), "still spinning beside a busy thread");
        stop.store(true, Ordering::Relaxed);
        hog.join().unwrap();
        // After the back-off, traffic starts it again.
        tokio::time::sleep(BACK_OFF).await;
        busy.touch();
        until(|| busy.is_spinning()).await;
    }
}
