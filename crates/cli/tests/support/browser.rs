//! A browser stand-in: one cookie jar shared by a client that follows
//! redirects and one that does not, plus the Jupyter kernel protocol bits.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::redirect::Policy;
use serde_json::{Value, json};

/// A cookie-keeping HTTP client against one hub.
pub struct Browser {
    pub base: String,
    pub jar: Arc<Jar>,
    /// Follows redirects, as a browser does.
    pub follow: reqwest::Client,
    /// Stops at each redirect, to inspect it.
    pub single: reqwest::Client,
    /// Where the hub's public name is found, when not through DNS.
    resolve: Option<std::net::SocketAddr>,
}

impl Browser {
    /// A fresh browser for `base` (`http://127.0.0.1:PORT`).
    pub fn new(base: &str) -> Self {
        Self::resolving(base, None)
    }

    /// A fresh browser for `base` that finds `host` at `addr` (a public
    /// name for the loopback hub, as a DNS entry would).
    pub fn resolving(base: &str, resolve: Option<(&str, std::net::SocketAddr)>) -> Self {
        let jar = Arc::new(Jar::default());
        let build = |policy| {
            let builder = match resolve {
                Some((host, addr)) => reqwest::Client::builder().resolve(host, addr),
                None => reqwest::Client::builder(),
            };
            builder
                .cookie_provider(Arc::clone(&jar))
                .redirect(policy)
                // The proxy, like CHP (Node's default), closes a client
                // connection idle for 5 s. Reusing one at that moment races
                // the close and fails with IncompleteMessage (a browser would
                // retry; reqwest does not), as a test that waits out a 5 s
                // Retry-After did. So never reuse one that old.
                .pool_idle_timeout(std::time::Duration::from_secs(3))
                .build()
                .unwrap()
        };
        Self {
            base: base.to_owned(),
            follow: build(Policy::limited(20)),
            single: build(Policy::none()),
            jar,
            resolve: resolve.map(|(_, addr)| addr),
        }
    }

    /// The value of cookie `name` as the browser would send it to `path`.
    pub fn cookie(&self, path: &str, name: &str) -> Option<String> {
        let url = format!("{}{path}", self.base).parse().unwrap();
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    }

    /// The whole `Cookie` header the browser would send to `path`.
    pub fn cookie_header(&self, path: &str) -> String {
        let url = format!("{}{path}", self.base).parse().unwrap();
        self.jar
            .cookies(&url)
            .map(|h| h.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    /// Loads the login form and returns the XSRF token in it.
    pub async fn login_form(&self, next: Option<&str>) -> String {
        let mut url = format!("{}/hub/login", self.base);
        if let Some(next) = next {
            url = format!("{url}?next={}", urlencode(next));
        }
        let page = self.single.get(url).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        hidden_xsrf(&html).expect("login form has an _xsrf field")
    }

    /// Submits the login form; returns the response (not followed).
    pub async fn login(&self, user: &str, password: &str, next: Option<&str>) -> reqwest::Response {
        let xsrf = self.login_form(next).await;
        let mut url = format!("{}/hub/login", self.base);
        if let Some(next) = next {
            url = format!("{url}?next={}", urlencode(next));
        }
        self.single
            .post(url)
            .form(&[
                ("_xsrf", xsrf.as_str()),
                ("username", user),
                ("password", password),
            ])
            .send()
            .await
            .unwrap()
    }

    /// A hub API call authenticated by the login cookie, with the XSRF header.
    pub fn hub_api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let xsrf = self.cookie("/hub/", "_xsrf").unwrap_or_default();
        self.single
            .request(method, format!("{}/hub/api{path}", self.base))
            .header("X-XSRFToken", xsrf)
    }

    /// Starts `user`'s server through the REST API (cookie + XSRF), checks the
    /// answer is 201 or 202, and waits until the user model says it is ready.
    pub async fn start_server(&self, user: &str) -> Value {
        let started = self
            .hub_api(reqwest::Method::POST, &format!("/users/{user}/server"))
            .send()
            .await
            .unwrap();
        assert!(
            matches!(started.status().as_u16(), 201 | 202),
            "start {user}: {}",
            started.status()
        );
        super::eventually(150, "the server to be ready", || async {
            let model: Value = self
                .hub_api(reqwest::Method::GET, &format!("/users/{user}"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (model["servers"][""]["ready"] == true).then_some(model)
        })
        .await
    }

    /// Stops `user`'s server through the REST API; checks the answer is 202 or 204.
    pub async fn stop_server(&self, user: &str) {
        let stopped = self
            .hub_api(reqwest::Method::DELETE, &format!("/users/{user}/server"))
            .send()
            .await
            .unwrap();
        assert!(
            matches!(stopped.status().as_u16(), 202 | 204),
            "stop {user}: {}",
            stopped.status()
        );
    }

    /// Starts a kernel on `user`'s server through the proxy and runs `code`,
    /// returning the `text/plain` result.
    pub async fn run_code(&self, user: &str, code: &str) -> String {
        let prefix = format!("/user/{user}/");
        let xsrf = self
            .cookie(&prefix, "_xsrf")
            .expect("the server set its _xsrf cookie");
        let created = self
            .single
            .post(format!("{}{prefix}api/kernels", self.base))
            .header("X-XSRFToken", &xsrf)
            .json(&json!({"name": "python3"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            created.status(),
            201,
            "create kernel: {}",
            created.text().await.unwrap_or_default()
        );
        let kernel: Value = created.json().await.unwrap();
        let id = kernel["id"].as_str().unwrap().to_owned();
        let ws_url = format!(
            "{}{prefix}api/kernels/{id}/channels",
            self.base.replacen("http", "ws", 1)
        );
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws_url)
                .unwrap();
        request
            .headers_mut()
            .insert("Cookie", self.cookie_header(&prefix).parse().unwrap());
        let (mut socket, _) = match self.resolve {
            Some(addr) => {
                let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
                let stream = tokio_tungstenite::MaybeTlsStream::Plain(tcp);
                tokio_tungstenite::client_async(request, stream).await
            }
            None => tokio_tungstenite::connect_async(request).await,
        }
        .expect("websocket through the proxy");
        let msg_id = format!("test-{}", std::process::id());
        let execute = json!({
            "header": {"msg_id": msg_id, "username": user, "session": "test-session", "msg_type": "execute_request", "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": false, "store_history": false, "user_expressions": {}, "allow_stdin": false, "stop_on_error": true}
        });
        socket
            .send(tokio_tungstenite::tungstenite::Message::text(
                execute.to_string(),
            ))
            .await
            .unwrap();
        let result = tokio::time::timeout(std::time::Duration::from_secs(60), async {
            while let Some(message) = socket.next().await {
                let message = message.unwrap();
                let Ok(text) = message.into_text() else {
                    continue;
                };
                let Ok(value) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                if value["parent_header"]["msg_id"] == msg_id
                    && value["msg_type"] == "execute_result"
                {
                    return value["content"]["data"]["text/plain"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                }
                if value["parent_header"]["msg_id"] == msg_id && value["msg_type"] == "error" {
                    panic!("kernel error: {value}");
                }
            }
            panic!("websocket closed before a result");
        })
        .await
        .expect("kernel answered within 60 s");
        if let Err(e) = socket.close(None).await {
            eprintln!("closing the kernel websocket: {e}");
        }
        result
    }
}

impl Browser {
    /// Opens `url` (following redirects); when the hub asks to authorize an
    /// OAuth client, checks the page names `must_mention` and confirms with
    /// the scopes it offers. Returns the response after confirming (or the
    /// first one if no confirmation was asked).
    pub async fn get_confirming_oauth(&self, url: &str, must_mention: &str) -> reqwest::Response {
        let response = self.follow.get(url).send().await.unwrap();
        if response.url().path() != "/hub/api/oauth2/authorize" || response.status() != 200 {
            return response;
        }
        let authorize_url = response.url().clone();
        let html = response
            .text()
            .await
            .unwrap()
            .replace("&#x2f;", "/")
            .replace("&#x27;", "'");
        assert!(html.contains("Authorize access"), "{html}");
        assert!(
            html.contains(must_mention),
            "{must_mention:?} not on the page: {html}"
        );
        let mut form = vec![(
            "_xsrf".to_owned(),
            hidden_xsrf(&html).expect("the form carries _xsrf"),
        )];
        form.extend(
            html.split("name=\"scopes\" value=\"")
                .skip(1)
                .filter_map(|rest| rest.split('"').next())
                .map(|v| ("scopes".to_owned(), v.replace("&amp;", "&"))),
        );
        self.follow
            .post(authorize_url.as_str())
            .form(&form)
            .send()
            .await
            .unwrap()
    }
}

/// The value of the hidden `_xsrf` input in a page.
pub fn hidden_xsrf(html: &str) -> Option<String> {
    let start = html.find("name=\"_xsrf\" value=\"")? + "name=\"_xsrf\" value=\"".len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

/// Percent-encodes a query value.
pub fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
