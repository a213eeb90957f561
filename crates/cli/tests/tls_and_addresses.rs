//! TLS and addresses (issue 15): `JupyterHub.ssl_cert`/`ssl_key` make the
//! public port HTTPS (HTTP/2 by ALPN) through ferrohub-proxy, with Secure
//! cookies, and a real headless Chromium runs a kernel in JupyterLab over it;
//! the address options ferrohub cannot honour are refused with one line.
//! Certificates are made here with `openssl`; `curl` is the client that
//! trusts them (both installed by scripts/setup.sh).

mod support;

use std::process::Command;

use serde_json::{Value, json};
use support::certs::{curl, self_signed};
use support::{PublicSide, TestHub};

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn https_on_the_public_port_with_http2_secure_cookies_and_a_kernel_in_chromium() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(certs.path());
    // bind_url says http (TestHub writes it so): with a certificate the
    // public port speaks https anyway, as upstream's bind_url validator does.
    let hub = TestHub::start_public(
        PublicSide {
            base_path: String::new(),
            tls: Some((cert.clone(), key)),
        },
        &[],
    );
    let base = hub.public_url();
    assert!(base.starts_with("https://"), "{base}");
    let cacert = cert.display().to_string();

    // A client that trusts the certificate gets the login page over HTTP/2,
    // and the XSRF cookie it is handed is Secure.
    let login = format!("{base}/hub/login");
    let (ok, head, err) = curl(&[
        "--cacert",
        &cacert,
        "--http2",
        "-D",
        "-",
        "-o",
        "/dev/null",
        &login,
    ]);
    assert!(ok, "curl over https: {err}");
    let status_line = head.lines().next().unwrap_or_default();
    assert_eq!(status_line.trim(), "HTTP/2 200", "{head}");
    let xsrf_cookie = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie: _xsrf="))
        .unwrap_or_else(|| panic!("no _xsrf cookie: {head}"));
    assert!(xsrf_cookie.contains("; Secure"), "{xsrf_cookie}");

    // HTTP/1.1 by ALPN too, when that is all the client offers.
    let (ok, version, err) = curl(&[
        "--cacert",
        &cacert,
        "--http1.1",
        "-o",
        "/dev/null",
        "-w",
        "%{http_version}",
        &login,
    ]);
    assert!(ok, "{err}");
    assert_eq!(version, "1.1");

    // A client that does not trust it is refused, and plain HTTP gets no page.
    let (ok, _, err) = curl(&["-o", "/dev/null", &login]);
    assert!(!ok, "an untrusted self-signed certificate was accepted");
    assert!(err.contains("certificate"), "{err}");
    let plain = login.replacen("https://", "http://", 1);
    let (_, code, _) = curl(&["-o", "/dev/null", "-w", "%{http_code}", &plain]);
    assert_ne!(code, "200", "plain http answered on the TLS port");

    // Headless Chromium signs in, reaches JupyterLab and runs a kernel, all
    // over https (the page over h2, the kernel's websocket as wss).
    let seen = support::chromium::run(
        "lab_behind.mjs",
        json!({"url": base, "base": "", "user": "alice", "password": "pw",
               "ignoreHTTPSErrors": true}),
    )
    .await;
    assert_eq!(seen["loginPath"], "/hub/login");
    assert_eq!(seen["labTitle"], "JupyterLab");
    assert_eq!(seen["labProtocol"], "h2", "{seen}");
    assert_eq!(seen["output"], "42 alice");
    let channels = format!(
        "wss://127.0.0.1:{}/user/alice/api/kernels/",
        hub.public_port
    );
    let sockets = seen["websockets"].as_array().unwrap();
    assert!(
        sockets
            .iter()
            .any(|ws| text(&ws["url"]).starts_with(&channels)
                && ws["received"].as_u64() > Some(2)
                && ws.get("error").is_none()),
        "no working kernel websocket via {channels}: {sockets:?}"
    );
    // Every cookie the hub set, and the server's login cookie, is Secure
    // (jupyter_server's own `_xsrf` under /user/alice/ is its business).
    let cookies = seen["cookies"].as_array().unwrap();
    let cookie = |name: &str, path: &str| {
        cookies
            .iter()
            .find(|c| c["name"] == name && c["path"] == path)
            .unwrap_or_else(|| panic!("no cookie {name} at {path}: {cookies:?}"))
    };
    for (name, path) in [
        ("jupyterhub-hub-login", "/hub/"),
        ("jupyterhub-session-id", "/"),
        ("_xsrf", "/hub/"),
        ("jupyterhub-user-alice", "/user/alice/"),
    ] {
        assert_eq!(
            cookie(name, path)["secure"],
            true,
            "{name} not Secure: {cookies:?}"
        );
    }

    // The proxy the hub started got CHP's TLS flags.
    let pid = hub.proxy_pid().expect("proxy pid file");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let after = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .map(|i| args[i + 1].clone())
    };
    assert_eq!(after("--ssl-cert"), Some(cacert.clone()), "{args:?}");
}

/// Runs `ferrohub -f <toml>` on a configuration that must be refused at
/// load: its exit status and stderr.
#[allow(
    clippy::unwrap_used,
    reason = "a test helper: a panic is the failure report"
)]
fn refused(toml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferrohub.toml");
    std::fs::write(&path, toml).unwrap();
    let output = Command::new(support::ferrohub_bin())
        .arg("-f")
        .arg(&path)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success(), "accepted:\n{toml}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn address_options_ferrohub_cannot_honour_are_refused_with_one_line() {
    let err = refused("[JupyterHub]\nssl_cert = \"/etc/hub/cert.pem\"\n");
    assert!(
        err.contains("JupyterHub.ssl_key") && err.contains("must be set together"),
        "{err}"
    );
    let err = refused(
        "[JupyterHub]\npublic_url = \"https://hub.example.org/other/\"\nbind_url = \"http://:8000/jupyter\"\n",
    );
    assert!(
        err.contains("JupyterHub.public_url") && err.contains("/jupyter/"),
        "{err}"
    );
    let err = refused("[JupyterHub]\ntrusted_downstream_ips = [\"10.0.0.0/8\"]\n");
    assert!(err.contains("JupyterHub.trusted_downstream_ips"), "{err}");
    let err = refused("[JupyterHub]\nhub_bind_url = \"http+unix://hub.sock\"\n");
    assert!(
        err.contains("JupyterHub.hub_bind_url") && err.contains("does not name a socket"),
        "{err}"
    );
    // subdomain_host is a scheme and a host: a path or an address is refused.
    let err = refused("[JupyterHub]\nsubdomain_host = \"https://hub.example.org/jupyter\"\n");
    assert!(
        err.contains("JupyterHub.subdomain_host") && err.contains("the path comes from bind_url"),
        "{err}"
    );
    let err = refused("[JupyterHub]\nsubdomain_host = \"http://127.0.0.1:8000\"\n");
    assert!(
        err.contains("JupyterHub.subdomain_host") && err.contains("wildcard DNS"),
        "{err}"
    );
    let err = refused("[JupyterHub]\nsubdomain_hook = \"mine\"\n");
    assert!(err.contains("JupyterHub.subdomain_hook"), "{err}");
    let err = refused("[JupyterHub]\nbind_url = \"http+unix://%2Fsrv%2Fproxy.sock\"\n");
    assert!(err.contains("JupyterHub.bind_url"), "{err}");
}

/// `hub_bind_url` on a unix socket (upstream 0.9's `unix+http://` spelling):
/// the hub has no TCP port; the proxy routes to the socket and the user's
/// jupyterhub-singleuser reaches the hub API through it (its
/// `JUPYTERHUB_API_URL` is `http+unix://...`, as upstream's default
/// `hub_connect_url`), so a login, a spawn and a kernel work end to end.
/// With `public_url`, the server learns its public URL and the hub's.
#[tokio::test(flavor = "multi_thread")]
async fn the_hub_on_a_unix_socket_behind_the_proxy() {
    // Lower case only: jupyterhub-singleuser's HTTP client (aiohttp)
    // lowercases the host part of the URL, and with it the socket's path.
    let sockets = tempfile::Builder::new()
        .prefix("ferrohub-sock-")
        .rand_bytes(0)
        .suffix(&format!("{}", std::process::id()))
        .tempdir()
        .unwrap();
    let socket = sockets.path().join("hub.sock");
    let encoded = socket.display().to_string().replace('/', "%2F");
    // And public_url, which the server is told as its public address, and
    // where browsers are sent to log in (JUPYTERHUB_HOST): a name the test's
    // browser resolves to the loopback proxy.
    let port = support::free_port();
    let public = format!("http://hub.example.org:{port}");
    let line = format!("hub_bind_url = \"unix+http://{encoded}\"\npublic_url = \"{public}\"");
    let hub = TestHub::start_on(
        Some(port),
        "dummy",
        "simple",
        &[("JupyterHub", line.as_str())],
        &[],
    );

    // The socket, private to the hub's user (hub_socket_mode's default).
    let meta = std::fs::symlink_metadata(&socket).expect("the hub's socket");
    assert!(std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()));
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o600
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", hub.hub_port)).is_err(),
        "the hub also listens on TCP"
    );
    let routes = hub.routes().await;
    assert_eq!(
        routes["/"]["target"],
        format!("http+unix://{encoded}"),
        "{routes}"
    );

    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let browser =
        support::browser::Browser::resolving(&public, Some(("hub.example.org", loopback)));
    assert_eq!(browser.login("alice", "pw", None).await.status(), 302);
    browser.start_server("alice").await;
    let lab = browser
        .follow
        .get(format!("{public}/user/alice/lab"))
        .send()
        .await
        .unwrap();
    assert_eq!(lab.status(), 200);
    assert_eq!(lab.url().as_str(), format!("{public}/user/alice/lab"));
    assert_eq!(browser.run_code("alice", "6*7").await, "42");
    let pid = support::server_pids_of_api(&format!("http+unix://{encoded}/hub/api"), "alice");
    assert_eq!(
        pid.len(),
        1,
        "one server reaching the hub through its socket"
    );
    let env = |name| TestHub::process_env(pid[0], name).unwrap_or_default();
    assert_eq!(
        env("JUPYTERHUB_PUBLIC_URL"),
        format!("{public}/user/alice/")
    );
    assert_eq!(env("JUPYTERHUB_PUBLIC_HUB_URL"), format!("{public}/hub/"));
    assert_eq!(env("JUPYTERHUB_HOST"), public, "upstream's Hub.public_host");

    drop(hub);
    assert!(!socket.exists(), "the hub left its socket behind");
}

/// `text` without the ANSI colour codes tracing writes around field names.
fn without_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ ... m
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A failed login with `X-Forwarded-For: <forwarded>` through the proxy;
/// returns the client address the hub logged for it.
#[allow(
    clippy::unwrap_used,
    reason = "a test helper: a panic is the failure report"
)]
async fn logged_client(hub: &TestHub, user: &str, forwarded: &str) -> String {
    let browser = support::browser::Browser::new(&hub.public_url());
    let url = format!("{}/hub/login", hub.public_url());
    let form = browser
        .single
        .get(&url)
        .header("X-Forwarded-For", forwarded)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let xsrf = support::browser::hidden_xsrf(&form).unwrap();
    let page = browser
        .single
        .post(&url)
        .header("X-Forwarded-For", forwarded)
        .form(&[
            ("_xsrf", xsrf.as_str()),
            ("username", user),
            ("password", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 403);
    // The log line may reach the file just after the answer.
    let wanted = format!("username={user} ");
    support::eventually(10, "the failed login in the hub's log", || async {
        let log = without_colours(&hub.log());
        let line = log
            .lines()
            .find(|l| l.contains("failed login") && l.contains(&wanted))?;
        line.split("client=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_owned)
    })
    .await
}

/// `trusted_downstream_ips`: behind a proxy in front (here: the test,
/// writing `X-Forwarded-For` as nginx does, from 127.0.0.1), the hub takes
/// the client's address from the entry left of the trusted proxies;
/// without the option, the proxy in front is the client, as upstream.
#[tokio::test(flavor = "multi_thread")]
async fn trusted_downstream_ips_name_the_proxies_in_front() {
    let dummy = ("DummyAuthenticator", "password = \"secret\"");
    let trusting = TestHub::start(&[
        ("JupyterHub", "trusted_downstream_ips = [\"127.0.0.1\"]"),
        dummy,
    ]);
    assert_eq!(
        logged_client(&trusting, "erin", "203.0.113.9").await,
        "Some(203.0.113.9)"
    );
    // A client-written entry left of the one the front proxy appended is ignored.
    assert_eq!(
        logged_client(&trusting, "frank", "198.51.100.1, 203.0.113.9").await,
        "Some(203.0.113.9)"
    );
    let plain = TestHub::start(&[dummy]);
    assert_eq!(
        logged_client(&plain, "erin", "203.0.113.9").await,
        "Some(127.0.0.1)"
    );
}

/// `ferrohub -f <name> --show-config` on `source`: the effective configuration.
#[allow(
    clippy::unwrap_used,
    reason = "a test helper: a panic is the failure report"
)]
fn show_config(dir: &std::path::Path, name: &str, source: &str) -> String {
    std::fs::write(dir.join(name), source).unwrap();
    let output = Command::new(support::ferrohub_bin())
        .arg("-f")
        .arg(name)
        .arg("--show-config")
        .current_dir(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{name} refused: {stderr}\n{source}"
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The address options read from an upstream `jupyterhub_config.py` and
/// from TOML give the same effective configuration, normalized as
/// upstream's traitlets validators do (https with a certificate, the
/// base URL added to `public_url`, `unix+http` read as `http+unix`,
/// `https://` added to `subdomain_host`).
#[test]
fn address_options_read_the_same_from_python_and_toml() {
    let dir = tempfile::tempdir().unwrap();
    let python = r"
c.JupyterHub.bind_url = 'http://127.0.0.1:8000/jupyter'
c.JupyterHub.ssl_cert = '/etc/jupyterhub/cert.pem'
c.JupyterHub.ssl_key = '/etc/jupyterhub/key.pem'
c.JupyterHub.public_url = 'hub.example.org'
c.JupyterHub.trusted_downstream_ips = ['127.0.0.1', '10.0.0.5']
c.JupyterHub.hub_bind_url = 'unix+http://%2Frun%2Fjupyterhub%2Fhub.sock'
c.JupyterHub.hub_socket_mode = 0o660
c.JupyterHub.subdomain_host = 'Hub.Example.org'
";
    let toml = r#"
[JupyterHub]
db_url = "sqlite:///jupyterhub.sqlite"
cookie_secret_file = "jupyterhub_cookie_secret"
bind_url = "http://127.0.0.1:8000/jupyter"
ssl_cert = "/etc/jupyterhub/cert.pem"
ssl_key = "/etc/jupyterhub/key.pem"
public_url = "hub.example.org"
trusted_downstream_ips = ["127.0.0.1", "10.0.0.5"]
hub_bind_url = "unix+http://%2Frun%2Fjupyterhub%2Fhub.sock"
hub_socket_mode = 432
subdomain_host = "Hub.Example.org"
"#;
    let from_py = show_config(dir.path(), "jupyterhub_config.py", python);
    let from_toml = show_config(dir.path(), "ferrohub.toml", toml);
    assert_eq!(from_py, from_toml);
    for line in [
        r#"bind_url = "https://127.0.0.1:8000/jupyter""#,
        r#"public_url = "https://hub.example.org/jupyter/""#,
        r#"hub_bind_url = "http+unix://%2Frun%2Fjupyterhub%2Fhub.sock""#,
        "hub_socket_mode = 432",
        r#"subdomain_host = "https://hub.example.org""#,
    ] {
        assert!(from_py.contains(line), "{line} missing:\n{from_py}");
    }
}
