//! A REST API client holding nothing but a base URL: every call names its token,
//! so tests can compare what different credentials see.

use reqwest::{Method, RequestBuilder};

use super::TestHub;

/// Calls `{public_url}/hub/api{path}` with `Authorization: token ...`.
pub struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    /// A client for this hub's API.
    pub fn new(hub: &TestHub) -> Self {
        Self {
            base: hub.public_url(),
            client: reqwest::Client::new(),
        }
    }

    /// A request with `token`.
    pub fn call(&self, token: &str, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}/hub/api{path}", self.base))
            .header("Authorization", format!("token {token}"))
    }

    /// GET `path` with `token`; returns status and JSON body (Null if not JSON).
    pub async fn get(&self, token: &str, path: &str) -> (u16, serde_json::Value) {
        let response = self.call(token, Method::GET, path).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    /// A request through the proxy to a path outside the hub (e.g. `/user/bob/api/status`).
    pub fn public(&self, token: &str, path: &str) -> RequestBuilder {
        self.client
            .get(format!("{}{path}", self.base))
            .header("Authorization", format!("token {token}"))
    }
}

/// An API token for `user` from `ferrohub token` (creating the user if needed).
pub fn token_for(hub: &TestHub, user: &str) -> String {
    let out = hub.cli(&["token", user]);
    assert!(
        out.status.success(),
        "ferrohub token {user}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Reads a progress event stream (`…/server/progress`) until an event says
/// `ready` or `failed`, or `also_stop` holds for it, or the stream ends
/// (150 s at most); returns the events read, that one included.
pub async fn progress_events(
    mut response: reqwest::Response,
    also_stop: impl Fn(&serde_json::Value) -> bool,
) -> Vec<serde_json::Value> {
    let mut events = Vec::new();
    let mut buffer = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(150);
    while let Ok(Some(chunk)) = tokio::time::timeout_at(deadline, response.chunk())
        .await
        .expect("progress stream ended in time")
    {
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            for line in block.lines() {
                if let Some(data) = line.strip_prefix("data: ") {
                    let event: serde_json::Value = serde_json::from_str(data).unwrap();
                    let done =
                        event["ready"] == true || event["failed"] == true || also_stop(&event);
                    events.push(event);
                    if done {
                        return events;
                    }
                }
            }
        }
    }
    events
}
