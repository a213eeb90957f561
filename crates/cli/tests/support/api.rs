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
