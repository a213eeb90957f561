//! Secrets an attacker presents are bounded and cheap to refuse (issue 11,
//! holes 1 and 10): over-long OAuth client secrets are refused before any
//! hashing, the expensive hashes of user-chosen secrets run off the async
//! workers, one OAuth code yields one token, and a service cannot claim
//! another's OAuth client id.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::time::{Duration, Instant};

use support::TestHub;
use support::api::{Api, token_for};
use support::browser::Browser;

/// The probe service's API token, which is also its OAuth client secret
/// (hashed with 16,384 rounds, as upstream does for user-chosen secrets).
const PROBE_TOKEN: &str = "probe-service-token-0123456789abcdef";
/// The longest secret the hub hashes (documented in `ferrohub_core::token`).
const MAX_SECRET_LEN: usize = 255;
/// The hub's request body limit (`BODY_LIMIT` in `crates/hub/src/app.rs`).
const BODY_LIMIT: usize = 1024 * 1024;
/// How many attackers at once.
const ATTACKERS: usize = 50;

/// A hub with an external OAuth service `probe` (nothing listens on its url:
/// the token endpoint does not need it) that alice may access without confirming.
fn hub_with_probe_service() -> TestHub {
    let port = support::free_port();
    let config = format!(
        r#"services = [{{ name = "probe", url = "http://127.0.0.1:{port}", api_token = "{PROBE_TOKEN}", oauth_no_confirm = true }}]
load_roles = [{{ name = "probe-users", scopes = ["access:services!service=probe"], users = ["alice"] }}]"#
    );
    TestHub::start(&[
        ("JupyterHub", &config),
        ("Authenticator", "admin_users = [\"admin\"]"),
    ])
}

/// A token request as a form body of exactly `total` bytes: the client secret
/// fills what the other fields leave.
fn token_form(total: usize) -> String {
    format!("{FORM_HEAD}{}", "s".repeat(total - FORM_HEAD.len()))
}

/// A token request's form without the client secret's value.
const FORM_HEAD: &str = "grant_type=authorization_code&client_id=service-probe&code=nope\
                         &redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&client_secret=";

/// What the attack did: the token endpoint's answers and `/hub/health` latencies.
struct Outcome {
    statuses: Vec<Result<u16, String>>,
    health_ms: Vec<f64>,
}

impl Outcome {
    fn p99_ms(&self) -> f64 {
        let mut sorted = self.health_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let index = (sorted.len() * 99).div_ceil(100).saturating_sub(1);
        sorted.get(index).copied().unwrap_or(f64::INFINITY)
    }

    fn max_ms(&self) -> f64 {
        self.health_ms.iter().copied().fold(0.0, f64::max)
    }

    fn summary(&self) -> String {
        let answered = self.statuses.iter().filter(|s| s.is_ok()).count();
        format!(
            "{answered}/{} token requests answered, statuses {:?}; /hub/health: {} samples, p99 {:.1} ms, max {:.1} ms",
            self.statuses.len(),
            self.statuses
                .iter()
                .map(|s| s
                    .as_ref()
                    .map_or_else(std::clone::Clone::clone, u16::to_string))
                .collect::<std::collections::BTreeSet<_>>(),
            self.health_ms.len(),
            self.p99_ms(),
            self.max_ms(),
        )
    }
}

/// Posts `ATTACKERS` token requests with `body` at once, straight to the hub,
/// while one task times `GET /hub/health` back to back (at least 1 s and 100
/// samples, and until every token request is answered or gave up).
async fn attack(hub: &TestHub, body: String) -> Outcome {
    let base = format!("http://127.0.0.1:{}", hub.hub_port);
    let health_url = format!("{base}/hub/health");
    let health_client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    // A warm connection, so the samples time the hub and not the handshake.
    assert_eq!(
        health_client
            .get(&health_url)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let attacker = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let posts: Vec<_> = (0..ATTACKERS)
        .map(|_| {
            let request = attacker
                .post(format!("{base}/hub/api/oauth2/token"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body.clone());
            tokio::spawn(async move {
                match request.send().await {
                    Ok(response) => Ok(response.status().as_u16()),
                    Err(e) if e.is_timeout() => Err("timeout".to_owned()),
                    Err(e) => Err(format!("error: {e}")),
                }
            })
        })
        .collect();
    let started = Instant::now();
    let mut health_ms = Vec::new();
    loop {
        let done = posts.iter().all(tokio::task::JoinHandle::is_finished);
        if done && health_ms.len() >= 100 && started.elapsed() >= Duration::from_secs(1) {
            break;
        }
        let sent = Instant::now();
        let ok = health_client
            .get(&health_url)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        // A failed or timed-out check counts as at least its 5 s timeout.
        let ms = if ok {
            sent.elapsed().as_secs_f64() * 1000.0
        } else {
            sent.elapsed().as_secs_f64().max(5.0) * 1000.0
        };
        health_ms.push(ms);
        if started.elapsed() > Duration::from_secs(40) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut statuses = Vec::new();
    for post in posts {
        if post.is_finished() {
            statuses.push(post.await.unwrap());
        } else {
            post.abort();
            statuses.push(Err("unanswered".to_owned()));
        }
    }
    Outcome {
        statuses,
        health_ms,
    }
}

/// Hole 1: fifty unauthenticated token requests, each with a client secret of
/// almost the whole 1 MiB body limit for a real client (so the hub would hash
/// it with 16,384 rounds: 16 GiB of SHA-512 each), are all refused with a 4xx
/// while the hub keeps answering `/hub/health` within 50 ms (p99).
#[tokio::test(flavor = "multi_thread")]
async fn megabyte_client_secrets_are_refused_without_stalling_the_hub() {
    let hub = hub_with_probe_service();
    let body = token_form(BODY_LIMIT);
    assert_eq!(body.len(), BODY_LIMIT);
    let outcome = attack(&hub, body).await;
    let summary = outcome.summary();
    eprintln!("1 MiB secrets: {summary}");
    assert!(
        outcome
            .statuses
            .iter()
            .all(|s| s.as_ref().is_ok_and(|code| (400..500).contains(code))),
        "every request must be refused with a 4xx: {summary}"
    );
    assert!(outcome.p99_ms() < 50.0, "health p99 over 50 ms: {summary}");
}

/// Hole 1, second half: secrets of the largest accepted length still cost
/// 16,384 rounds each (4 MiB of SHA-512); those run off the async workers,
/// so fifty at once neither stall the hub nor get any answer but 401.
#[tokio::test(flavor = "multi_thread")]
async fn longest_accepted_client_secrets_are_hashed_off_the_async_workers() {
    let hub = hub_with_probe_service();
    let body = token_form(FORM_HEAD.len() + MAX_SECRET_LEN);
    let outcome = attack(&hub, body).await;
    let summary = outcome.summary();
    eprintln!("{MAX_SECRET_LEN}-byte secrets: {summary}");
    assert!(
        outcome.statuses.iter().all(|s| s.as_ref() == Ok(&401)),
        "a wrong secret of accepted length is invalid_client (401): {summary}"
    );
    assert!(outcome.p99_ms() < 50.0, "health p99 over 50 ms: {summary}");
}

/// Over-long credentials are "not a valid token": 403 on the API (as for any
/// bad token), the OAuth error JSON on the token endpoint; the right secret
/// and a right-length wrong one behave as before.
#[tokio::test(flavor = "multi_thread")]
async fn over_long_tokens_are_plain_invalid_credentials() {
    let hub = hub_with_probe_service();
    // Each answer is quick: nothing over-long is hashed (before the cap, the
    // 100,000-byte secret below took minutes).
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let api = format!("{}/hub/api", hub.public_url());
    for token in [
        "x".repeat(MAX_SECRET_LEN + 1),
        format!("{PROBE_TOKEN}{}", "0".repeat(MAX_SECRET_LEN)),
    ] {
        let response = client
            .get(format!("{api}/user"))
            .header("Authorization", format!("token {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["status"], 403, "{body}");
    }
    // The probe's own token still works.
    let me = client
        .get(format!("{api}/user"))
        .header("Authorization", format!("token {PROBE_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    let token_url = format!("{api}/oauth2/token");
    let post = |form: Vec<(&'static str, String)>| {
        let client = client.clone();
        let url = token_url.clone();
        async move {
            let response = client.post(url).form(&form).send().await.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            (status, body)
        }
    };
    let base = |secret: String, code: String| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("client_id", "service-probe".to_owned()),
            ("client_secret", secret),
            ("code", code),
            ("redirect_uri", "http://127.0.0.1/cb".to_owned()),
        ]
    };
    let over = MAX_SECRET_LEN + 1;
    let (status, body) = post(base("s".repeat(over), "c".into())).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // Right secret, over-long code or verifier: invalid_grant, as an unknown code.
    let (status, body) = post(base(PROBE_TOKEN.into(), "c".repeat(over))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let mut with_verifier = base(PROBE_TOKEN.into(), "c".into());
    with_verifier.push(("code_verifier", "v".repeat(over)));
    let (status, body) = post(with_verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // A form larger than any valid token request is refused unparsed.
    let (status, body) = post(base("s".repeat(100_000), "c".into())).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // Basic auth carries the same cap.
    let basic = client
        .post(&token_url)
        .basic_auth("service-probe", Some("s".repeat(100_000)))
        .form(&[("grant_type", "authorization_code"), ("code", "c")])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
}

/// Hole 10: one OAuth code, redeemed by two (or more) requests at once, gives
/// exactly one token; the others get `invalid_grant`.
#[tokio::test(flavor = "multi_thread")]
async fn one_code_is_redeemed_once_under_concurrency() {
    let hub = hub_with_probe_service();
    let alice = Browser::new(&hub.public_url());
    assert_eq!(alice.login("alice", "pw", None).await.status(), 302);
    let redirect_uri = "/services/probe/oauth_callback";
    let token_url = format!("{}/hub/api/oauth2/token", hub.public_url());
    let client = reqwest::Client::new();
    for round in 0..5 {
        let authorize = alice
            .single
            .get(format!(
                "{}/hub/api/oauth2/authorize?client_id=service-probe&redirect_uri={}\
                 &response_type=code&state=s",
                hub.public_url(),
                support::browser::urlencode(redirect_uri),
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(authorize.status(), 302, "round {round}");
        let location = authorize.headers()["location"].to_str().unwrap().to_owned();
        let code = reqwest::Url::parse(&format!("http://x{location}"))
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map_or_else(|| panic!("no code in {location}"), |(_, v)| v.into_owned());
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", "service-probe"),
            ("client_secret", PROBE_TOKEN),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri),
        ];
        let requests: Vec<_> = (0..4)
            .map(|_| client.post(&token_url).form(&form).send())
            .collect();
        let mut statuses: Vec<u16> = futures_util::future::join_all(requests)
            .await
            .into_iter()
            .map(|r| r.unwrap().status().as_u16())
            .collect();
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 400, 400, 400], "round {round}");
    }
}

/// Hole 10 at run time: a service added through the API cannot register
/// under a client id that is another service's; nothing of it is left, and
/// the other service's client (its secret) is untouched.
#[tokio::test(flavor = "multi_thread")]
async fn a_runtime_service_cannot_take_over_a_client_id() {
    let hub = hub_with_probe_service();
    let api = Api::new(&hub);
    let admin = token_for(&hub, "admin");
    let evil_token = "evil-service-token-0123456789";
    let response = api
        .call(&admin, reqwest::Method::POST, "/services/evil")
        .json(&serde_json::json!({
            "url": "http://127.0.0.1:1",
            "api_token": evil_token,
            "oauth_client_id": "service-probe",
            "oauth_redirect_uri": "http://evil.example/cb",
        }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("probe"),
        "{body}"
    );
    assert_eq!(api.get(&admin, "/services/evil").await.0, 404);

    // The client still authenticates with the probe's secret, not evil's.
    let token_url = format!("{}/hub/api/oauth2/token", hub.public_url());
    let client = reqwest::Client::new();
    for (secret, expected) in [(PROBE_TOKEN, 400), (evil_token, 401)] {
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", "service-probe"),
            ("client_secret", secret),
            ("code", "no-such-code"),
            ("redirect_uri", "/services/probe/oauth_callback"),
        ];
        let response = client.post(&token_url).form(&form).send().await.unwrap();
        assert_eq!(response.status(), expected, "secret {secret}");
    }
    // Under its own default id the same service is welcome.
    let created = api
        .call(&admin, reqwest::Method::POST, "/services/evil")
        .json(&serde_json::json!({ "url": "http://127.0.0.1:1", "api_token": evil_token }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
}

/// Runs `ferrohub` on a config in a fresh directory; returns its exit code,
/// stderr, and the files it left there besides the config.
fn run_with_config(jupyterhub_section: &str) -> (Option<i32>, String, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let config = format!(
        r#"[JupyterHub]
bind_url = "http://127.0.0.1:{public}"
hub_port = {hub}
db_url = "sqlite:///{d}/ferrohub.sqlite"
cookie_secret_file = "{d}/cookie_secret"
authenticator_class = "dummy"
{jupyterhub_section}
[ConfigurableHTTPProxy]
api_url = "http://127.0.0.1:{api}"
pid_file = "{d}/proxy.pid"
"#,
        public = support::free_port(),
        hub = support::free_port(),
        api = support::free_port(),
    );
    let path = dir.path().join("ferrohub.toml");
    std::fs::write(&path, config).unwrap();
    let mut child = std::process::Command::new(support::ferrohub_bin())
        .arg("-f")
        .arg(&path)
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A config the hub accepts would start it: give it a moment, then stop it.
    let deadline = Instant::now() + Duration::from_secs(3);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if child.try_wait().unwrap().is_none() {
        let _ = nix::sys::signal::kill(support::pid_of(&child), nix::sys::signal::Signal::SIGTERM);
    }
    let out = child.wait_with_output().unwrap();
    if let Ok(pid) = std::fs::read_to_string(dir.path().join("proxy.pid"))
        && let Ok(pid) = pid.trim().parse::<i32>()
    {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "ferrohub.toml")
        .collect();
    files.sort();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        files,
    )
}

/// Hole 10 and the config half of hole 1: a service claiming another's OAuth
/// client id (explicitly or by its default `service-<name>`), a user server's
/// (`jupyterhub-user-*`) or the hub's own (`jupyterhub`), or a configured token
/// over the length cap, is a configuration error: exit 64 with a line naming
/// the problem, before anything is written (no database, no cookie secret).
#[test]
fn claimed_client_ids_and_over_long_tokens_are_config_errors() {
    let long = "t".repeat(MAX_SECRET_LEN + 1);
    let cases = [
        (
            r#"services = [{ name = "a", url = "http://127.0.0.1:1", oauth_client_id = "service-shared" },
            { name = "b", url = "http://127.0.0.1:2", oauth_client_id = "service-shared" }]"#.to_owned(),
            "service-shared",
        ),
        (
            r#"services = [{ name = "b", url = "http://127.0.0.1:2" },
            { name = "a", url = "http://127.0.0.1:1", oauth_client_id = "service-b" }]"#.to_owned(),
            "service-b",
        ),
        (
            r#"services = [{ name = "a", url = "http://127.0.0.1:1", oauth_client_id = "jupyterhub-user-alice" }]"#.to_owned(),
            "jupyterhub-user-alice",
        ),
        (
            r#"services = [{ name = "a", url = "http://127.0.0.1:1", oauth_client_id = "jupyterhub" }]"#.to_owned(),
            "\"jupyterhub\"",
        ),
        (
            format!(r#"services = [{{ name = "a", api_token = "{long}" }}]"#),
            "255",
        ),
        (
            format!("api_tokens = {{ \"{long}\" = \"alice\" }}"),
            "255",
        ),
    ];
    for (section, must_mention) in cases {
        let (code, stderr, files) = run_with_config(&section);
        assert_eq!(
            code,
            Some(64),
            "exit status for {section}; stderr: {stderr}"
        );
        assert!(
            stderr.contains(must_mention) && stderr.lines().count() == 1,
            "{must_mention:?} not in the one-line error for {section}: {stderr}"
        );
        assert!(
            files.is_empty(),
            "wrote {files:?} for a refused config {section}"
        );
    }
    // The same services with distinct ids are fine (the hub starts).
    let (code, stderr, _) = run_with_config(
        r#"services = [{ name = "a", url = "http://127.0.0.1:1" }, { name = "b", url = "http://127.0.0.1:2" }]"#,
    );
    assert_ne!(code, Some(64), "{stderr}");
}
