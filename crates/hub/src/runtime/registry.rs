//! The in-memory registry of server phases: what is happening to each
//! server right now (the database holds only what persists). Spawn and stop
//! move servers between phases; pages, the API and the progress stream read
//! and wait on them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrohub_spawn::{ServerReport, ServerReports};
use tokio::sync::watch;

/// The name upstream uses for a server in messages and the progress log:
/// `alice`, or `alice:gpu` for a named server.
#[must_use]
pub(crate) fn log_name(user: &str, server: &str) -> String {
    if server.is_empty() {
        user.to_owned()
    } else {
        format!("{user}:{server}")
    }
}

/// What is happening to a server right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Being started.
    Spawning,
    /// Being stopped.
    Stopping,
    /// Started and answering HTTP, route added.
    Ready,
    /// The last start failed with this message (shown on the pending page).
    Failed(String),
    /// Not running.
    Stopped,
}

impl Phase {
    /// Upstream's `pending` field: `"spawn"`, `"stop"` or null.
    #[must_use]
    pub(crate) fn pending(&self) -> Option<&'static str> {
        match self {
            Self::Spawning => Some("spawn"),
            Self::Stopping => Some("stop"),
            _ => None,
        }
    }
}

type Key = (String, String);

/// One line of a spawn's progress (upstream's progress event without its
/// `ready`/`failed` ending): how far, in percent, and what is happening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProgressEvent {
    /// 0 to 100.
    pub progress: u8,
    /// Client-safe text for the event log.
    pub message: String,
}

/// The events of a server's current (or last) spawn, shared with followers.
pub(crate) type ProgressLog = Arc<Vec<ProgressEvent>>;

/// The first event of every spawn, as upstream's.
pub(crate) const SERVER_REQUESTED: &str = "Server requested";

/// In-memory phases of servers (the database holds what persists).
#[derive(Default)]
pub(crate) struct ServerRegistry {
    phases: Mutex<HashMap<Key, watch::Sender<Phase>>>,
    /// Each server's spawn progress, so a pending page opened (or reloaded)
    /// in the middle of a spawn still sees every step so far.
    progress: Mutex<HashMap<Key, watch::Sender<ProgressLog>>>,
    /// The mailbox of each server whose spawner is starting it, for what the
    /// server reports about itself (batchspawner's port).
    reports: Mutex<HashMap<Key, ServerReports>>,
}

impl ServerRegistry {
    fn sender(&self, user: &str, server: &str) -> watch::Sender<Phase> {
        let mut phases = self.phases.lock().expect("registry lock");
        phases
            .entry((user.to_owned(), server.to_owned()))
            .or_insert_with(|| watch::channel(Phase::Stopped).0)
            .clone()
    }

    /// A fresh mailbox for the spawn of a server that starts now (it
    /// replaces any left from an earlier spawn).
    pub(super) fn open_reports(&self, user: &str, server: &str) -> ServerReports {
        let reports = ServerReports::new();
        self.reports
            .lock()
            .expect("registry lock")
            .insert((user.to_owned(), server.to_owned()), reports.clone());
        reports
    }

    /// The spawner returned (or failed): reports are no longer expected.
    pub(super) fn close_reports(&self, user: &str, server: &str) {
        self.reports
            .lock()
            .expect("registry lock")
            .remove(&(user.to_owned(), server.to_owned()));
    }

    /// Hands a server's report to its starting spawner; `false` when the
    /// server is not starting (nobody waits for a report).
    pub(crate) fn deliver_report(&self, user: &str, server: &str, report: ServerReport) -> bool {
        let reports = self.reports.lock().expect("registry lock");
        match reports.get(&(user.to_owned(), server.to_owned())) {
            Some(mailbox) => {
                mailbox.deliver(report);
                true
            }
            None => false,
        }
    }

    /// The current phase of a server.
    #[must_use]
    pub(crate) fn phase(&self, user: &str, server: &str) -> Phase {
        self.sender(user, server).borrow().clone()
    }

    /// Sets the phase; only the runtime's spawn, stop and reconcile do.
    pub(super) fn set(&self, user: &str, server: &str, phase: Phase) {
        self.sender(user, server).send_replace(phase);
    }

    /// Moves to `to` only if the current phase satisfies `from`; returns whether it moved.
    pub(super) fn transition(
        &self,
        user: &str,
        server: &str,
        from: impl Fn(&Phase) -> bool,
        to: Phase,
    ) -> bool {
        let sender = self.sender(user, server);
        let mut to = Some(to);
        sender.send_if_modified(|phase| {
            if from(phase)
                && let Some(to) = to.take()
            {
                *phase = to;
                true
            } else {
                false
            }
        })
    }

    /// Moves a startable server to `Spawning` (as [`ServerRegistry::transition`])
    /// and, if it moved, starts its progress log afresh with "Server
    /// requested". Both happen under the progress lock, so a follower never
    /// sees the new phase with the previous spawn's events.
    pub(super) fn begin_spawn(
        &self,
        user: &str,
        server: &str,
        from: impl Fn(&Phase) -> bool,
    ) -> bool {
        let mut logs = self.progress.lock().expect("progress lock");
        let moved = self.transition(user, server, from, Phase::Spawning);
        if moved {
            let first = Arc::new(vec![ProgressEvent {
                progress: 0,
                message: SERVER_REQUESTED.to_owned(),
            }]);
            logs.entry((user.to_owned(), server.to_owned()))
                .or_insert_with(|| watch::channel(Arc::default()).0)
                .send_replace(first);
        }
        moved
    }

    /// Adds a step to a starting server's progress log (ignored once the
    /// spawn has settled, so a late step never follows the last event).
    pub(super) fn report(&self, user: &str, server: &str, progress: u8, message: String) {
        if self.phase(user, server) != Phase::Spawning {
            return;
        }
        let logs = self.progress.lock().expect("progress lock");
        if let Some(log) = logs.get(&(user.to_owned(), server.to_owned())) {
            log.send_modify(|events| {
                let progress = progress.max(events.last().map_or(0, |e| e.progress));
                Arc::make_mut(events).push(ProgressEvent { progress, message });
            });
        }
    }

    /// Follows a server's progress log: the events so far, and a change
    /// notification for each new one.
    #[must_use]
    pub(crate) fn progress(&self, user: &str, server: &str) -> watch::Receiver<ProgressLog> {
        let mut logs = self.progress.lock().expect("progress lock");
        logs.entry((user.to_owned(), server.to_owned()))
            .or_insert_with(|| watch::channel(Arc::default()).0)
            .subscribe()
    }

    /// Waits until the phase is no longer pending, at most `limit`.
    pub(crate) async fn wait_settled(&self, user: &str, server: &str, limit: Duration) -> Phase {
        let mut rx = self.sender(user, server).subscribe();
        let wait = rx.wait_for(|p| p.pending().is_none());
        match tokio::time::timeout(limit, wait).await {
            Ok(Ok(phase)) => phase.clone(),
            _ => self.phase(user, server),
        }
    }

    /// Resolves once a stop is requested (the phase becomes `Stopping`).
    pub(super) async fn stop_requested(&self, user: &str, server: &str) {
        let mut rx = self.sender(user, server).subscribe();
        // An error means the registry entry is gone: nothing left to wait for.
        if rx.wait_for(|p| *p == Phase::Stopping).await.is_err() {
            tracing::debug!(
                user,
                server,
                "server entry dropped while waiting for a stop"
            );
        }
    }

    /// How many servers are in `phase` now.
    #[must_use]
    pub(crate) fn count_in(&self, phase: &Phase) -> usize {
        let phases = self.phases.lock().expect("registry lock");
        phases.values().filter(|p| *p.borrow() == *phase).count()
    }

    /// Servers starting now, and servers starting, running or stopping (for the spawn limits).
    #[must_use]
    pub(super) fn counts(&self) -> (usize, usize) {
        let phases = self.phases.lock().expect("registry lock");
        phases.values().fold((0, 0), |(spawning, active), sender| {
            match *sender.borrow() {
                Phase::Spawning => (spawning + 1, active + 1),
                Phase::Ready | Phase::Stopping => (spawning, active + 1),
                _ => (spawning, active),
            }
        })
    }

    /// Whether any of the user's servers is ready (`GET /users?state=ready`).
    #[must_use]
    pub(crate) fn any_ready(&self, user: &str) -> bool {
        let phases = self.phases.lock().expect("registry lock");
        phases
            .iter()
            .any(|((u, _), p)| u == user && *p.borrow() == Phase::Ready)
    }

    /// Whether any of the user's servers is starting, running or stopping.
    #[must_use]
    pub(crate) fn any_active(&self, user: &str) -> bool {
        let phases = self.phases.lock().expect("registry lock");
        phases.iter().any(|((u, _), p)| {
            u == user
                && matches!(
                    *p.borrow(),
                    Phase::Spawning | Phase::Ready | Phase::Stopping
                )
        })
    }

    /// Forgets one server (renamed or removed).
    pub(crate) fn forget(&self, user: &str, server: &str) {
        let key = (user.to_owned(), server.to_owned());
        self.phases.lock().expect("registry lock").remove(&key);
        self.progress.lock().expect("progress lock").remove(&key);
    }

    /// Forgets a user (deleted).
    pub(crate) fn remove_user(&self, user: &str) {
        self.phases
            .lock()
            .expect("registry lock")
            .retain(|(u, _), _| u != user);
        self.progress
            .lock()
            .expect("progress lock")
            .retain(|(u, _), _| u != user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_names_match_upstream() {
        assert_eq!(log_name("alice", ""), "alice");
        assert_eq!(log_name("alice", "gpu"), "alice:gpu");
    }

    #[test]
    fn transitions_move_only_from_the_expected_phase() {
        let registry = ServerRegistry::default();
        assert_eq!(registry.phase("a", ""), Phase::Stopped);
        assert!(!registry.transition("a", "", |p| *p == Phase::Ready, Phase::Stopping));
        assert!(registry.transition("a", "", |p| *p == Phase::Stopped, Phase::Spawning));
        assert_eq!(registry.counts(), (1, 1));
        assert!(registry.any_active("a"));
        registry.remove_user("a");
        assert!(!registry.any_active("a"));
    }

    #[test]
    fn a_spawn_starts_a_fresh_progress_log_that_only_moves_forward() {
        let registry = ServerRegistry::default();
        let log = registry.progress("a", "");
        assert!(log.borrow().is_empty());
        registry.report("a", "", 10, "too early".into());
        assert!(log.borrow().is_empty(), "no log while not spawning");
        assert!(registry.begin_spawn("a", "", |p| *p == Phase::Stopped));
        registry.report("a", "", 40, "started".into());
        registry.report("a", "", 20, "older step".into());
        let events: Vec<(u8, String)> = registry
            .progress("a", "")
            .borrow()
            .iter()
            .map(|e| (e.progress, e.message.clone()))
            .collect();
        assert_eq!(
            events,
            [
                (0, SERVER_REQUESTED.to_owned()),
                (40, "started".to_owned()),
                (40, "older step".to_owned())
            ]
        );
        assert!(!registry.begin_spawn("a", "", |p| *p == Phase::Stopped));
        registry.set("a", "", Phase::Stopped);
        assert!(registry.begin_spawn("a", "", |p| *p == Phase::Stopped));
        assert_eq!(registry.progress("a", "").borrow().len(), 1, "fresh log");
    }
}
