//! Fault test: the hub's database server dies under load and comes back.
//!
//! A real hub on a real PostgreSQL or MariaDB server; clients loop on the
//! REST API (`GET /hub/api/users` with an admin token) and on pages (the
//! login page, and `/hub/home` signed in). The server is killed with SIGKILL
//! (or frozen with SIGSTOP) for 10 s, then started again on the same data
//! directory. While it is away every answer is 200 or 503 (the API's JSON
//! error, a readable page), never another 5xx nor a broken connection; the
//! hub does not exit or panic; and a few seconds after the server is back
//! everything answers 200 again, without restarting the hub.
//!
//! The clients talk to the hub's own port, not through the proxy: the proxy
//! answers for a hub it cannot reach, which would hide a hub that died.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::TestHub;
use support::api::token_for;
use support::browser::Browser;
use support::db_servers::{DbServer, Kind};
use tokio::sync::Mutex;

/// How long the database stays away.
const OUTAGE: Duration = Duration::from_secs(10);
/// How soon after the database is back every request must succeed again.
const RECOVERY: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_killed_for_10_s_under_load() {
    outage(Kind::MariaDb, How::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_killed_for_10_s_under_load() {
    outage(Kind::Postgres, How::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_frozen_for_10_s_under_load() {
    outage(Kind::MariaDb, How::Freeze).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_frozen_for_10_s_under_load() {
    outage(Kind::Postgres, How::Freeze).await;
}

/// How the database goes away.
#[derive(Debug, Clone, Copy)]
enum How {
    /// SIGKILL, then started again: every connection is lost.
    Kill,
    /// SIGSTOP, then SIGCONT: connections stay open but nothing answers.
    Freeze,
}

/// One answer a client got: when, what it asked, and the status (or the
/// transport error).
#[derive(Debug)]
struct Sample {
    at: Instant,
    took: Duration,
    what: &'static str,
    outcome: Result<u16, String>,
}

async fn outage(kind: Kind, how: How) {
    let mut db = DbServer::start(kind);
    let db_url = format!("db_url = \"{}\"", db.db_url());
    let hub = TestHub::start(&[
        ("JupyterHub", db_url.as_str()),
        ("Authenticator", "admin_users = [\"admin\"]"),
    ]);
    let base = format!("http://127.0.0.1:{}", hub.hub_port);
    let token = token_for(&hub, "admin");
    let browser = Browser::new(&base);
    assert_eq!(browser.login("carol", "pw", None).await.status(), 302);

    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let api = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client");
    let mut clients = Vec::new();
    for client in 0..4 {
        let (samples, stop, api, token, base) = (
            Arc::clone(&samples),
            Arc::clone(&stop),
            api.clone(),
            token.clone(),
            base.clone(),
        );
        let home = browser.follow.clone();
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (what, request) = match client {
                    0 | 1 => (
                        "api",
                        api.get(format!("{base}/hub/api/users"))
                            .header("Authorization", format!("token {token}")),
                    ),
                    2 => ("login page", api.get(format!("{base}/hub/login"))),
                    _ => ("home page", home.get(format!("{base}/hub/home"))),
                };
                let sent = Instant::now();
                let outcome = match request.send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        check_body(what, status, response).await;
                        Ok(status)
                    }
                    Err(e) => Err(e.to_string()),
                };
                samples.lock().await.push(Sample {
                    at: Instant::now(),
                    took: sent.elapsed(),
                    what,
                    outcome,
                });
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }

    tokio::time::sleep(Duration::from_secs(2)).await;
    let down = Instant::now();
    match how {
        How::Kill => db.kill(),
        How::Freeze => db.freeze(true),
    }
    tokio::time::sleep(OUTAGE).await;
    match how {
        How::Kill => db.restart(),
        How::Freeze => db.freeze(false),
    }
    let back = Instant::now();
    // Let the clients run on: recovery must happen within RECOVERY, and
    // everything after it must succeed.
    tokio::time::sleep(RECOVERY + Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.expect("a client task ends without panicking");
    }

    let samples = samples.lock().await;
    let log = hub.log();
    let report = || {
        samples
            .iter()
            .map(|s| {
                format!(
                    "{:>6} ms {:<10} {:?} in {} ms",
                    s.at.saturating_duration_since(down).as_millis(),
                    s.what,
                    s.outcome,
                    s.took.as_millis()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    for sample in samples.iter() {
        assert!(
            matches!(sample.outcome, Ok(200 | 503)),
            "{} answered {:?}; every answer must be 200 or 503\n{}\nhub log:\n{log}",
            sample.what,
            sample.outcome,
            report()
        );
    }
    assert!(
        samples
            .iter()
            .any(|s| s.what == "api" && s.outcome == Ok(503) && s.at > down),
        "the API never answered 503 while the database was away: the outage was not seen\n{}",
        report()
    );
    assert!(
        samples
            .iter()
            .any(|s| s.what == "home page" && s.outcome == Ok(503) && s.at > down),
        "a signed-in page never answered 503 while the database was away\n{}",
        report()
    );
    let recovered = back + RECOVERY;
    let late: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.at > recovered && s.outcome != Ok(200))
        .collect();
    assert!(
        late.is_empty(),
        "not recovered {} s after the database came back: {late:?}\n{}",
        RECOVERY.as_secs(),
        report()
    );
    for what in ["api", "login page", "home page"] {
        assert!(
            samples
                .iter()
                .any(|s| s.what == what && s.at > recovered && s.outcome == Ok(200)),
            "no successful {what} after recovery\n{}",
            report()
        );
    }
    assert!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(hub.pid()), None).is_ok(),
        "the hub exited"
    );
    assert!(!log.contains("panicked"), "the hub panicked:\n{log}");
    let unavailable = samples.iter().filter(|s| s.outcome == Ok(503)).count();
    let back_in = samples
        .iter()
        .filter(|s| s.at > back && s.outcome != Ok(200))
        .map(|s| s.at.saturating_duration_since(back))
        .max()
        .unwrap_or_default();
    let slowest = samples.iter().map(|s| s.took).max().unwrap_or_default();
    eprintln!(
        "{kind:?} {how:?}: {} answers, {unavailable} of them 503; last failure {} ms after the \
         database was back; slowest answer {} ms",
        samples.len(),
        back_in.as_millis(),
        slowest.as_millis()
    );
}

/// A 503 says what it is: the API's JSON error, or a readable HTML page.
async fn check_body(what: &str, status: u16, response: reqwest::Response) {
    let text = response.text().await.unwrap_or_default();
    if status != 503 {
        return;
    }
    if what == "api" {
        let body: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("503 from the API is not JSON ({e}): {text}"));
        assert_eq!(body["status"], 503, "{body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("database")),
            "{body}"
        );
    } else {
        assert!(
            text.contains("<html") && text.contains("database"),
            "503 page for {what} is not a readable page:\n{text}"
        );
    }
}
