//! What a starting server tells the hub about itself: the seam for servers
//! whose address only they know. batchspawner's `batchspawner-singleuser`
//! picks a free port on the execution host and POSTs it to the hub
//! (`POST /hub/api/batchspawner`); the hub hands it to the spawner whose
//! `start` is waiting, through the [`ServerReports`] in the request. The
//! hub owns the HTTP side; spawners only wait here.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// One report of a starting server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerReport {
    /// The port the server listens on (on the host the spawner knows).
    pub port: u16,
}

/// The mailbox of one spawn: the hub delivers, the spawner waits. Cloning
/// shares the mailbox; a report delivered before anyone waits is kept.
#[derive(Debug, Clone)]
pub struct ServerReports(Arc<watch::Sender<Option<ServerReport>>>);

impl Default for ServerReports {
    fn default() -> Self {
        Self(Arc::new(watch::channel(None).0))
    }
}

impl ServerReports {
    /// An empty mailbox, made by the hub for each spawn.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Hands a report to the spawner (the latest one wins).
    pub fn deliver(&self, report: ServerReport) {
        self.0.send_replace(Some(report));
    }

    /// The report already delivered, if any.
    #[must_use]
    pub fn latest(&self) -> Option<ServerReport> {
        *self.0.borrow()
    }

    /// Waits up to `timeout` for a report; `None` if none came.
    pub async fn wait(&self, timeout: Duration) -> Option<ServerReport> {
        let mut receiver = self.0.subscribe();
        let arrived = tokio::time::timeout(timeout, receiver.wait_for(Option::is_some)).await;
        match arrived {
            Ok(Ok(report)) => *report,
            // The sender lives in `self`, so the channel cannot close while we wait.
            Ok(Err(_)) | Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_report_reaches_a_waiter_delivered_before_or_after() {
        let reports = ServerReports::new();
        assert_eq!(reports.wait(Duration::from_millis(20)).await, None);
        let hub_side = reports.clone();
        let waiter = tokio::spawn(async move { reports.wait(Duration::from_secs(5)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        hub_side.deliver(ServerReport { port: 4321 });
        assert_eq!(waiter.await.unwrap(), Some(ServerReport { port: 4321 }));
        // Delivered first, waited for later: still there.
        let early = ServerReports::new();
        early.deliver(ServerReport { port: 1 });
        assert_eq!(
            early.wait(Duration::from_millis(1)).await,
            Some(ServerReport { port: 1 })
        );
        assert_eq!(early.latest(), Some(ServerReport { port: 1 }));
    }
}
