//! [`WorkerPool`]: a fixed number of named OS threads for blocking back-end calls
//! (PAM conversations, NSS look-ups), fed by a bounded queue.
//!
//! Why not `tokio::task::spawn_blocking`: its pool grows to 512 threads, so a
//! flood of logins ran hundreds of PAM conversations at once (each wrong password
//! sleeps 2-3.5 s in `pam_faildelay`). Upstream runs PAM on a
//! `ThreadPoolExecutor(executor_threads)`; this is the same bound, plus limits
//! upstream lacks: at most [`QUEUE_PER_THREAD`] jobs per thread wait, and a job
//! that waited [`MAX_QUEUE_WAIT`] is answered [`PoolError::Busy`] without running,
//! so a flood costs neither unbounded memory nor minutes-long answers.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use thiserror::Error;

/// Jobs that may wait per worker thread; more are refused at once. With 4
/// threads, 256 logins wait: a lecture hall logging in together (a correct
/// password takes well under 0.1 s of PAM) fits, a flood does not pile up.
pub(crate) const QUEUE_PER_THREAD: usize = 64;

/// Longest a job waits for a thread before it is answered [`PoolError::Busy`]
/// instead of running: a login answered "try again" beats one that hangs.
pub(crate) const MAX_QUEUE_WAIT: Duration = Duration::from_secs(10);

/// Why a job did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub(crate) enum PoolError {
    /// The queue was full, or the job waited longer than [`MAX_QUEUE_WAIT`].
    #[error("all worker threads are busy")]
    Busy,
    /// The job panicked, or the workers are gone.
    #[error("the worker thread failed")]
    Failed,
}

/// A queued closure; it answers its caller itself.
type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of worker threads; dropping the pool lets them exit once the
/// queue is empty.
#[derive(Debug)]
pub(crate) struct WorkerPool {
    queue: SyncSender<Job>,
}

impl WorkerPool {
    /// Starts `threads` workers named `ferrohub-{name}-{i}` (shown in
    /// `/proc/<pid>/task/*/comm`; keep `name` short, the kernel keeps 15 bytes).
    pub(crate) fn new(name: &str, threads: usize) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (queue, jobs) = sync_channel::<Job>(threads.saturating_mul(QUEUE_PER_THREAD));
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..threads {
            let jobs = Arc::clone(&jobs);
            std::thread::Builder::new()
                .name(format!("ferrohub-{name}-{i}"))
                .spawn(move || work(&jobs))?;
        }
        Ok(Self { queue })
    }

    /// Runs `job` on a worker and waits for its result without blocking the
    /// async runtime. A caller that stops waiting (the client went away) leaves a
    /// queued job to be skipped instead of run.
    pub(crate) async fn run<T, F>(&self, job: F) -> Result<T, PoolError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (answer, result) = tokio::sync::oneshot::channel();
        let queued = Instant::now();
        let wrapped: Job = Box::new(move || {
            if answer.is_closed() {
                return;
            }
            if queued.elapsed() > MAX_QUEUE_WAIT {
                drop(answer.send(Err(PoolError::Busy)));
                return;
            }
            // A panic fails this job only, not the worker.
            let outcome = catch_unwind(AssertUnwindSafe(job)).map_err(|_| PoolError::Failed);
            drop(answer.send(outcome));
        });
        self.queue.try_send(wrapped).map_err(|e| match e {
            TrySendError::Full(_) => PoolError::Busy,
            TrySendError::Disconnected(_) => PoolError::Failed,
        })?;
        result.await.unwrap_or(Err(PoolError::Failed))
    }
}

/// A worker's loop: take the next job (one worker waits on the queue at a time,
/// the others on the lock), run it, until the pool is dropped.
fn work(jobs: &Mutex<Receiver<Job>>) {
    loop {
        let next = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match next {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_named_threads() {
        let pool = WorkerPool::new("t", 2).unwrap();
        let name = pool
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert!(
            matches!(name.as_deref(), Some("ferrohub-t-0" | "ferrohub-t-1")),
            "{name:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_more_jobs_at_once_than_threads() {
        let pool = Arc::new(WorkerPool::new("c", 3).unwrap());
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..30 {
            let (pool, running, most) =
                (Arc::clone(&pool), Arc::clone(&running), Arc::clone(&most));
            tasks.push(tokio::spawn(async move {
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_is_refused_at_once() {
        let pool = Arc::new(WorkerPool::new("q", 1).unwrap());
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        let job = |gate: Arc<Mutex<std::sync::mpsc::Receiver<()>>>| {
            move || gate.lock().unwrap().recv().unwrap()
        };
        // One job holds the only thread...
        let holder = {
            let (pool, gate) = (Arc::clone(&pool), Arc::clone(&gate));
            tokio::spawn(async move {
                pool.run(move || {
                    started_tx.send(()).unwrap();
                    gate.lock().unwrap().recv().unwrap();
                })
                .await
            })
        };
        started.recv_timeout(Duration::from_secs(5)).unwrap();
        // ...then the queue fills up.
        let mut waiting = vec![holder];
        for _ in 0..QUEUE_PER_THREAD {
            let (pool, gate) = (Arc::clone(&pool), Arc::clone(&gate));
            waiting.push(tokio::spawn(async move { pool.run(job(gate)).await }));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let refused_at = Instant::now();
        assert_eq!(pool.run(|| ()).await, Err(PoolError::Busy));
        assert!(refused_at.elapsed() < Duration::from_millis(100));
        for _ in 0..=QUEUE_PER_THREAD {
            release.send(()).unwrap();
        }
        for task in waiting {
            task.await.unwrap().unwrap();
        }
        // The queue drained; the pool works again.
        assert_eq!(pool.run(|| 7).await, Ok(7));
    }

    #[tokio::test]
    async fn a_panicking_job_fails_alone() {
        let pool = WorkerPool::new("p", 1).unwrap();
        assert_eq!(
            pool.run(|| panic!("boom")).await,
            Err::<(), _>(PoolError::Failed)
        );
        assert_eq!(pool.run(|| 1).await, Ok(1));
    }
}
