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

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

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
        })
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

    /// The spinner: sleeps until traffic, then yields to the scheduler
    /// until a whole window passes without traffic. Never returns.
    pub async fn run(self: Arc<Self>) {
        loop {
            self.wake.notified().await;
            self.spinning.store(true, Ordering::Relaxed);
            let mut seen = self.traffic.load(Ordering::Relaxed);
            let mut quiet_until = Instant::now() + self.window;
            loop {
                tokio::task::yield_now().await;
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
                        break;
                    }
                    self.spinning.store(true, Ordering::Relaxed);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
        let busy = BusyPoll::new(Duration::from_millis(50));
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
        let busy = BusyPoll::new(Duration::from_millis(40));
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
}
