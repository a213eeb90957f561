//! Reverse proxies in front (issue 15): real nginx and Apache httpd,
//! configured from `docs/examples/` (docs/reverse-proxy.md), end TLS and
//! pass `/jupyter/` on to a hub whose `bind_url` is
//! `http://127.0.0.1:PORT/jupyter`. Headless Chromium signs in through
//! each, reaches JupyterLab under `/jupyter` and runs a kernel over the
//! websocket the front upgrades; the hub sees https (Secure cookies).

mod support;

use serde_json::{Value, json};
use support::certs::{curl, self_signed};
use support::front::{Front, Kind};
use support::{PublicSide, TestHub};

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

#[allow(
    clippy::unwrap_used,
    reason = "a test helper: a panic is the failure report"
)]
async fn lab_through(kind: Kind) {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(certs.path());
    let hub = TestHub::start_public(
        PublicSide {
            base_path: "/jupyter".into(),
            tls: None,
        },
        &[("JupyterHub", "trusted_downstream_ips = [\"127.0.0.1\"]")],
    );
    let front = Front::start(kind, hub.public_port, &cert, &key);
    let url = front.url();
    let cacert = cert.display().to_string();

    // The login page through the front, over HTTP/2 with the certificate
    // trusted; the hub knows the browser used https (the front's X-Scheme /
    // X-Forwarded-Proto), so its cookies are Secure.
    let (ok, head, err) = curl(&[
        "--cacert",
        &cacert,
        "--http2",
        "-D",
        "-",
        "-o",
        "/dev/null",
        &format!("{url}/hub/login"),
    ]);
    assert!(ok, "{kind:?}: {err}\n{}", front.logs());
    assert_eq!(
        head.lines().next().unwrap_or_default().trim(),
        "HTTP/2 200",
        "{head}"
    );
    let xsrf = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie: _xsrf="))
        .unwrap_or_else(|| panic!("no _xsrf cookie: {head}"));
    assert!(
        xsrf.contains("Path=/jupyter/hub/") && xsrf.contains("; Secure"),
        "{xsrf}"
    );

    // The plain-HTTP site sends browsers to https.
    let (ok, head, err) = curl(&[
        "-D",
        "-",
        "-o",
        "/dev/null",
        &format!("http://127.0.0.1:{}/jupyter/hub/", front.http_port),
    ]);
    assert!(ok, "{err}");
    let location = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("location:"))
        .unwrap_or_else(|| panic!("no redirect: {head}"));
    assert!(location.contains("https://127.0.0.1"), "{location}");

    // Chromium: sign in, JupyterLab under /jupyter, a kernel over the
    // websocket the front upgraded.
    let seen = support::chromium::run(
        "lab_behind.mjs",
        json!({"url": url, "base": "/jupyter", "user": "alice", "password": "pw",
               "ignoreHTTPSErrors": true}),
    )
    .await;
    assert_eq!(seen["loginPath"], "/jupyter/hub/login");
    assert_eq!(seen["labTitle"], "JupyterLab");
    assert_eq!(seen["output"], "42 alice");
    assert_eq!(
        seen["finalPath"],
        "/jupyter/user/alice/lab/tree/Untitled.ipynb"
    );
    let channels = format!(
        "wss://127.0.0.1:{}/jupyter/user/alice/api/kernels/",
        front.https_port
    );
    let sockets = seen["websockets"].as_array().unwrap();
    assert!(
        sockets
            .iter()
            .any(|ws| text(&ws["url"]).starts_with(&channels)
                && ws["received"].as_u64() > Some(2)
                && ws.get("error").is_none()),
        "{kind:?}: no working kernel websocket via {channels}: {sockets:?}"
    );
    let cookies = seen["cookies"].as_array().unwrap();
    for (name, path) in [
        ("jupyterhub-hub-login", "/jupyter/hub/"),
        ("jupyterhub-session-id", "/jupyter/"),
    ] {
        let cookie = cookies
            .iter()
            .find(|c| c["name"] == name && c["path"] == path)
            .unwrap_or_else(|| panic!("no {name} at {path}: {cookies:?}"));
        assert_eq!(cookie["secure"], true, "{kind:?}: {name} not Secure");
    }
    assert!(hub.dir.path().join("homes/alice/Untitled.ipynb").is_file());
}

#[tokio::test(flavor = "multi_thread")]
async fn jupyterlab_and_a_kernel_through_nginx_under_jupyter() {
    lab_through(Kind::Nginx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn jupyterlab_and_a_kernel_through_apache_under_jupyter() {
    lab_through(Kind::Apache).await;
}
