//! The pages about one's servers in a real browser (headless Chromium driven
//! by the playwright-core scripts `tests/browser/servers_*.mjs`) against a
//! real hub, its ferrohub-proxy and real servers: the spawn-pending page's
//! live progress, cancelling a spawn, a failing spawn, stop-pending, the
//! "not running" page with and without `implicit_spawn_seconds`, and the
//! home page's named servers, services and Admin link.

mod support;

use serde_json::{Value, json};
use support::TestHub;
use support::api::{Api, token_for};

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

fn texts(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().map(text).collect())
        .unwrap_or_default()
}

/// A "server" that starts at once (Python's http.server on the port the
/// spawner chose, serving a `user/<name>/` folder so the server's URL answers
/// 200, with no favicon for Chromium to ask for) and ignores SIGINT, so stopping it takes
/// `LocalProcessSpawner.interrupt_timeout` before SIGTERM ends it.
const SLOW_TO_STOP: &str = r#"cmd = ["/bin/sh", "-c", "trap '' INT; mkdir -p \"user/$JUPYTERHUB_USER\" && echo '<!DOCTYPE html><title>stand-in</title><link rel=icon href=data:,><p>a stand-in server' > \"user/$JUPYTERHUB_USER/index.html\"; port=${JUPYTERHUB_SERVICE_URL##*:}; port=${port%%/*}; exec python3 -m http.server --bind 127.0.0.1 \"$port\""]"#;

#[tokio::test(flavor = "multi_thread")]
async fn the_progress_bar_moves_until_the_page_goes_to_the_server() {
    let hub = TestHub::start(&[]);
    let seen = support::chromium::run(
        "servers_progress.mjs",
        json!({"url": hub.public_url(), "user": "alice", "password": "pw", "noscriptUser": "bob"}),
    )
    .await;

    assert_eq!(seen["pendingPath"], "/hub/spawn-pending/alice");
    assert_eq!(seen["heading"], "Your server is starting");
    assert_eq!(
        seen["bar"],
        json!({"role": "progressbar", "label": "Server start progress", "min": "0", "max": "100"})
    );
    assert_eq!(seen["logLive"], "polite");
    assert_eq!(seen["cancelVisible"], true);

    // Every value the bar took: from 0, never backwards, through steps in
    // between, to 100, over time (not all at once).
    let values: Vec<(u64, u64)> = seen["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["value"].as_u64().unwrap(), v["ms"].as_u64().unwrap()))
        .collect();
    let percents: Vec<u64> = values.iter().map(|v| v.0).collect();
    assert_eq!(percents.first(), Some(&0), "{values:?}");
    assert_eq!(percents.last(), Some(&100), "{values:?}");
    assert!(percents.windows(2).all(|w| w[0] <= w[1]), "{values:?}");
    let mut distinct = percents.clone();
    distinct.dedup();
    assert!(distinct.len() >= 5, "the bar took few steps: {values:?}");
    assert!(
        percents.iter().any(|p| (51..95).contains(p)),
        "no step while waiting for the server: {values:?}"
    );
    let first_step = values.iter().find(|v| v.0 > 0).unwrap().1;
    let last_step = values.last().unwrap().1;
    assert!(
        last_step >= first_step + 500,
        "the bar did not move over time: {values:?}"
    );

    // The event log, in order, with upstream's first and last messages.
    let lines = texts(&seen["lines"]);
    assert_eq!(lines.first(), Some(&"Server requested"), "{lines:?}");
    for expected in [
        "Spawning server...",
        "Waiting for the server to answer",
        "The server answered; adding its route to the proxy",
    ] {
        assert!(lines.contains(&expected), "{expected:?} missing: {lines:?}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Server process started, listening on port ")),
        "{lines:?}"
    );
    assert_eq!(lines.last(), Some(&"Server ready at /user/alice/"));

    // Then the server, where JupyterLab runs.
    assert!(
        text(&seen["landedOn"]).starts_with("/user/alice/"),
        "{seen}"
    );
    assert_eq!(seen["labTitle"], "JupyterLab");
    let token = token_for(&hub, "alice");
    let (_, model) = Api::new(&hub).get(&token, "/users/alice").await;
    assert_eq!(model["servers"][""]["ready"], true, "{model}");

    // Without JavaScript: the pending page reloads itself, and the hub sends
    // the browser to the server once it is ready.
    let noscript = &seen["noscript"];
    assert_eq!(noscript["refresh"], 1, "{noscript}");
    assert_eq!(noscript["note"], true, "{noscript}");
    // With scripts off only the refresh can have moved the browser on from
    // the pending page (once or more, however fast the server was).
    let loads = texts(&noscript["loads"]);
    let pending = loads.iter().position(|p| *p == "/hub/spawn-pending/bob");
    assert!(pending.is_some(), "{loads:?}");
    assert!(
        loads.last().is_some_and(|p| p.starts_with("/user/bob/")),
        "{loads:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pending_spawn_is_cancelled_and_a_failing_one_says_why() {
    // The "server" sleeps and then exits 3 without ever answering.
    let hub = TestHub::start(&[("Spawner", r#"cmd = ["/bin/sh", "-c", "sleep 20; exit 3"]"#)]);
    let seen = support::chromium::run(
        "servers_cancel_fail.mjs",
        json!({"url": hub.public_url(), "user": "bea", "password": "pw"}),
    )
    .await;

    let pending = &seen["pending"];
    assert_eq!(pending["heading"], "Your server is starting");
    assert_eq!(pending["firstLine"], "Server requested");
    assert_eq!(pending["cancel"], "Cancel");

    let cancelled = &seen["afterCancel"];
    assert_eq!(cancelled["path"], "/hub/home");
    assert!(
        text(&cancelled["text"]).contains("Your server is not running."),
        "{cancelled}"
    );

    let failed = &seen["failed"];
    let message = "Spawn failed: server exited with status 3 before it was ready";
    assert_eq!(failed["message"], message);
    assert_eq!(failed["heading"], "Spawn failed");
    assert_eq!(failed["title"], "Spawn failed - ferrohub");
    assert_eq!(failed["intro"], false);
    assert_eq!(failed["tryAgain"], "Try again");
    assert_eq!(failed["tryAgainHref"], "/hub/spawn/bea");
    assert_eq!(failed["focused"], "try-again");
    assert_eq!(failed["barFailed"], true);
    assert_eq!(failed["value"], "100");
    assert_eq!(failed["cancelHidden"], true);
    let log = texts(&failed["log"]);
    assert_eq!(log.first(), Some(&"Server requested"));
    assert_eq!(log.last(), Some(&message));
    for line in &log {
        assert!(
            !line.contains("/bin/") && !line.contains("Traceback"),
            "internals in the log: {line}"
        );
    }

    let page = &seen["failedPage"];
    assert_eq!(page["status"], 500);
    assert_eq!(page["title"], "Spawn failed - ferrohub");
    assert_eq!(page["heading"], "Spawn failed");
    assert_eq!(
        page["message"],
        "server exited with status 3 before it was ready"
    );
    assert_eq!(page["relaunch"], "Relaunch server");
    assert_eq!(page["relaunchHref"], "/hub/spawn/bea");

    // Nothing is left running, and the API agrees.
    let token = token_for(&hub, "bea");
    let (_, model) = Api::new(&hub).get(&token, "/users/bea").await;
    assert_eq!(model["servers"], json!({}), "{model}");
    assert!(hub.server_pids("bea").is_empty());
    assert!(hub.log().contains("spawn interrupted by a stop request"));
}

#[tokio::test(flavor = "multi_thread")]
async fn not_running_page_launches_and_stop_pending_waits_for_the_stop() {
    let hub = TestHub::start(&[
        ("JupyterHub", "redirect_to_server = false"),
        ("Spawner", SLOW_TO_STOP),
        ("LocalProcessSpawner", "interrupt_timeout = 12"),
    ]);
    let seen = support::chromium::run(
        "servers_stop_not_running.mjs",
        json!({"url": hub.public_url(), "user": "cai", "password": "pw"}),
    )
    .await;

    let not_running = &seen["notRunning"];
    assert_eq!(not_running["status"], 424);
    assert_eq!(not_running["path"], "/hub/user/cai/");
    assert_eq!(not_running["title"], "Server not running - ferrohub");
    assert_eq!(not_running["heading"], "Server not running");
    assert_eq!(
        not_running["message"],
        "Your server (at /user/cai/) is not running. Would you like to start it?"
    );
    assert_eq!(not_running["launch"], "Launch server");
    assert_eq!(
        not_running["launchHref"],
        "/hub/spawn/cai?next=%2Fuser%2Fcai%2F"
    );
    assert_eq!(not_running["countdown"], 0, "no automatic start by default");
    assert_eq!(seen["launchedTo"], "/user/cai/");
    assert!(
        text(&seen["served"]).contains("a stand-in server"),
        "{seen}"
    );

    let stopping = &seen["stopPending"];
    assert_eq!(stopping["path"], "/hub/spawn-pending/cai");
    assert_eq!(stopping["title"], "Stopping - ferrohub");
    assert_eq!(stopping["heading"], "Your server is stopping");
    assert!(
        text(&stopping["status"]).starts_with("Waiting for the server to stop"),
        "{stopping}"
    );
    let after = &seen["afterStop"];
    assert_eq!(after["path"], "/hub/spawn-pending/cai");
    assert_eq!(after["heading"], "Server not running");
    assert_eq!(after["launch"], "Launch server");

    let token = token_for(&hub, "cai");
    let (_, model) = Api::new(&hub).get(&token, "/users/cai").await;
    assert_eq!(model["servers"], json!({}), "{model}");
    assert!(hub.server_pids("cai").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn implicit_spawn_seconds_counts_down_and_starts_the_server() {
    let seconds = 15;
    let hub = TestHub::start(&[
        (
            "JupyterHub",
            &format!("redirect_to_server = false\nimplicit_spawn_seconds = {seconds}"),
        ),
        ("Spawner", SLOW_TO_STOP),
    ]);
    let seen = support::chromium::run(
        "servers_implicit_spawn.mjs",
        json!({"url": hub.public_url(), "user": "dan", "password": "pw", "seconds": seconds}),
    )
    .await;

    let countdown = &seen["countdown"];
    assert_eq!(countdown["first"], seconds, "{countdown}");
    let later = countdown["later"].as_u64().unwrap();
    assert!(
        (seconds - 4..seconds).contains(&later),
        "the countdown did not count: {countdown}"
    );
    assert!(
        text(&countdown["text"]).starts_with("It will be started automatically in"),
        "{countdown}"
    );
    assert_eq!(countdown["role"], "timer");
    let cancelled = &seen["cancelled"];
    assert_eq!(
        cancelled["path"], "/hub/user/dan/",
        "stayed after cancelling"
    );
    assert!(
        text(&cancelled["text"]).starts_with("Automatic start cancelled"),
        "{cancelled}"
    );
    let waited = seen["autoLaunchAfterMs"].as_u64().unwrap();
    assert!(
        waited >= (seconds - 1) * 1000,
        "launched after {waited} ms, before the countdown ended"
    );
    assert_eq!(seen["landedOn"], "/user/dan/");
    // By itself: the page went to the spawn page, which started the server.
    let requested = texts(&seen["requested"]);
    let spawn = requested.iter().position(|p| *p == "/hub/spawn/dan");
    let not_running = requested.iter().position(|p| *p == "/hub/user/dan/");
    assert!(
        matches!((not_running, spawn), (Some(a), Some(b)) if a < b),
        "{requested:?}"
    );
    let token = token_for(&hub, "dan");
    let (_, model) = Api::new(&hub).get(&token, "/users/dan").await;
    assert_eq!(model["servers"][""]["ready"], true, "{model}");
}

#[tokio::test(flavor = "multi_thread")]
async fn home_creates_starts_opens_stops_and_deletes_a_named_server() {
    let hub = TestHub::start(&[
        (
            "JupyterHub",
            r#"redirect_to_server = false
allow_named_servers = true
named_server_limit_per_user = 1
services = [
  { name = "dashboard", url = "http://127.0.0.1:10931", api_token = "dashboard-token-0123456789abcdef" },
  { name = "secret-report", url = "http://127.0.0.1:10932", api_token = "report-token-0123456789abcdef0" },
  { name = "hidden", url = "http://127.0.0.1:10933", display = false, api_token = "hidden-token-0123456789abcdef01" },
  { name = "headless", api_token = "headless-token-0123456789abcdef" },
]
load_roles = [{ name = "user", scopes = ["self", "access:services!service=dashboard", "access:services!service=hidden"] }]"#,
        ),
        ("Authenticator", r#"admin_users = ["ada"]"#),
    ]);
    let seen = support::chromium::run(
        "servers_home.mjs",
        json!({"url": hub.public_url(), "user": "eve", "password": "pw", "admin": "ada"}),
    )
    .await;

    let empty = &seen["empty"];
    assert_eq!(
        texts(&empty["navLinks"]),
        ["Home", "Token", "Log out"],
        "no Admin link for a user"
    );
    assert!(
        text(&empty["named"]).contains("You have no named servers yet."),
        "{empty}"
    );
    // Only the displayed service with a URL that eve may access.
    assert_eq!(
        empty["services"],
        json!([{"text": "dashboard", "href": "/services/dashboard/"}])
    );

    let bad = &seen["badName"];
    assert_eq!(bad["path"], "/hub/home");
    assert!(
        text(&bad["error"]).starts_with("Invalid server_name: \"Bad Name!\""),
        "{bad}"
    );
    assert_eq!(bad["kept"], "Bad Name!");
    assert_eq!(bad["invalid"], "true");

    assert!(
        text(&seen["createdLanding"]).starts_with("/user/eve/analysis/"),
        "{seen}"
    );
    let running = &seen["running"];
    assert!(text(&running["row"]).contains("Running"), "{running}");
    assert_eq!(running["openHref"], "/user/eve/analysis/");
    assert_eq!(running["url"], "/user/eve/analysis/");
    let shown = text(&running["lastActivity"]);
    assert!(
        shown == "now" || shown.ends_with(" ago"),
        "last activity {shown:?} (of {})",
        running["lastActivityExact"]
    );
    assert!(
        text(&running["lastActivityExact"]).ends_with('Z'),
        "{running}"
    );
    assert_eq!(
        seen["overLimit"],
        "User eve already has the maximum of 1 named servers. One must be deleted before a new server can be created",
        "(upstream's text; the page shows its double space as one)"
    );
    assert!(
        text(&seen["opened"]).starts_with("/user/eve/analysis/"),
        "{seen}"
    );
    assert!(text(&seen["stopped"]).contains("Stopped"), "{seen}");
    assert!(
        text(&seen["restartedLanding"]).starts_with("/user/eve/analysis/"),
        "{seen}"
    );
    assert!(text(&seen["dialog"]).starts_with("Delete the server analysis?"));
    assert_eq!(
        seen["afterDelete"],
        json!({"rows": 0, "empty": "You have no named servers yet."})
    );

    let admin = &seen["admin"];
    assert_eq!(
        texts(&admin["navLinks"]),
        ["Home", "Token", "Admin", "Log out"]
    );
    assert_eq!(admin["adminHref"], "/hub/admin");
    assert_eq!(
        texts(&seen["adminOnTokenPage"]),
        ["Home", "Token", "Admin", "Log out"]
    );

    // The server is gone for good, in the API and on the machine.
    let token = token_for(&hub, "eve");
    let (_, model) = Api::new(&hub).get(&token, "/users/eve").await;
    assert_eq!(model["servers"], json!({}), "{model}");
    let (status, _) = Api::new(&hub)
        .get(&token, "/users/eve/servers/analysis")
        .await;
    assert_eq!(status, 404);
    assert!(hub.server_pids("eve").is_empty());
}
