//! Readiness: a server is up once it answers HTTP below 500 (upstream §4.3).
//!
//! Refused connections and 5xx are retried with exponential backoff (first
//! pause up to 0.2 s, doubling, capped at 5 s, jittered) until the deadline.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::{Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tokio::time::Instant;

use crate::{SpawnError, Spawner};

/// The header a jupyterhub-singleuser server answers with; the hub records it.
const VERSION_HEADER: &str = "X-JupyterHub-Version";
/// First backoff step.
const FIRST_PAUSE: Duration = Duration::from_millis(200);
/// Longest pause between attempts.
const MAX_PAUSE: Duration = Duration::from_secs(5);
/// How often [`wait_until_ready`] checks whether the process died.
const EXIT_CHECK: Duration = Duration::from_millis(200);

/// Waits until `url` answers HTTP with a status below 500 (upstream's rule:
/// even 404 means the server is up), retrying refused connections and 5xx
/// with backoff, for at most `timeout`. Redirects are not followed (a 302 is
/// an answer). Returns the `X-JupyterHub-Version` header if the server sent one.
pub async fn wait_for_http_server(
    url: &str,
    timeout: Duration,
) -> Result<Option<String>, SpawnError> {
    let uri: Uri = url
        .parse()
        .map_err(|error| SpawnError::Config(format!("invalid server URL {url:?}: {error}")))?;
    // No idle pool: every attempt is a fresh connection, as a new server needs.
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http::<Empty<Bytes>>();
    let deadline = Instant::now() + timeout;
    let mut pause = FIRST_PAUSE;
    loop {
        let request = Request::get(uri.clone())
            .body(Empty::new())
            .map_err(|error| SpawnError::Config(format!("invalid server URL {url:?}: {error}")))?;
        match tokio::time::timeout_at(deadline, client.request(request)).await {
            Ok(Ok(response)) if response.status().as_u16() < 500 => {
                let version = response
                    .headers()
                    .get(VERSION_HEADER)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned);
                tracing::debug!(url, status = %response.status(), "server is up");
                return Ok(version);
            }
            Ok(Ok(response)) => tracing::debug!(url, status = %response.status(), "not ready yet"),
            Ok(Err(error)) => tracing::debug!(url, "not ready yet: {error}"),
            Err(_elapsed) => break,
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        tokio::time::sleep(jittered(pause).min(deadline - now)).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
    Err(SpawnError::Timeout {
        url: url.to_owned(),
        seconds: timeout.as_secs(),
    })
}

/// [`wait_for_http_server`] raced against [`Spawner::poll`]: a server that
/// exits while starting fails at once with [`SpawnError::Exited`] instead of
/// after the whole `timeout`.
pub async fn wait_until_ready(
    spawner: &dyn Spawner,
    state: &Value,
    url: &str,
    timeout: Duration,
) -> Result<Option<String>, SpawnError> {
    let exited = async {
        loop {
            match spawner.poll(state).await {
                Ok(Some(code)) => return code,
                Ok(None) => {}
                Err(error) => tracing::warn!("polling a starting server failed: {error}"),
            }
            tokio::time::sleep(EXIT_CHECK).await;
        }
    };
    tokio::select! {
        ready = wait_for_http_server(url, timeout) => ready,
        code = exited => Err(SpawnError::Exited(code)),
    }
}

/// Half of `pause` plus a random part of the other half, so many servers
/// started together do not probe in lockstep.
fn jittered(pause: Duration) -> Duration {
    // A fresh RandomState is randomly keyed: enough randomness for jitter.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let fraction = f64::from(u32::try_from(random >> 32).unwrap_or(0)) / f64::from(u32::MAX);
    pause / 2 + pause.mul_f64(fraction / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_between_half_and_full_pause() {
        for _ in 0..1000 {
            let pause = jittered(Duration::from_millis(200));
            assert!(pause >= Duration::from_millis(100), "{pause:?}");
            assert!(pause <= Duration::from_millis(200), "{pause:?}");
        }
    }

    #[test]
    fn jitter_varies() {
        let pauses: std::collections::HashSet<Duration> =
            (0..20).map(|_| jittered(Duration::from_secs(1))).collect();
        assert!(pauses.len() > 1);
    }
}
