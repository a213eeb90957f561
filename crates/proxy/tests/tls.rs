//! TLS as a user sees it: HTTPS on the public port (HTTP/2 by ALPN, HTTP/1.1
//! and websockets too), client certificates, the API over TLS, https
//! targets with JupyterHub's internal-SSL flags, `--insecure`, and the
//! HTTP→HTTPS redirect listener. Certificates are made with `openssl`.

mod support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrohub_proxy::tls::{ListenerTls, UpstreamTls};
use ferrohub_proxy::{ProxyOptions, ProxyServer};
use futures_util::{SinkExt, StreamExt};
use http::{StatusCode, Version};
use support::tls::{self as t, Certs};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

fn tls_options(certs: &Certs) -> ProxyOptions {
    ProxyOptions {
        ssl: ListenerTls {
            key: Some(certs.server_key.clone()),
            cert: Some(certs.server_cert.clone()),
            ..ListenerTls::default()
        },
        ..support::options()
    }
}

#[tokio::test]
async fn https_is_proxied_over_http2_and_http1() {
    let certs = Certs::generate();
    let backend = support::echo_backend("hub").await;
    let proxy = support::proxy_with(tls_options(&certs)).await;
    proxy.add_route("/", &backend.url("/base")).await;

    let h2 = t::client_config(&certs.ca, None, &[b"h2", b"http/1.1"]);
    let answer = t::get(proxy.public, h2, "/user/a?x=1")
        .await
        .expect("h2 GET");
    assert_eq!(answer.version, Version::HTTP_2);
    assert_eq!(answer.status, StatusCode::OK);
    let seen = answer.json();
    assert_eq!(seen["url"], "/base/user/a?x=1");
    assert_eq!(seen["headers"]["x-forwarded-proto"], "https");
    assert_eq!(
        seen["headers"]["host"],
        format!("127.0.0.1:{}", proxy.public.port())
    );

    let h1 = t::client_config(&certs.ca, None, &[b"http/1.1"]);
    let answer = t::get(proxy.public, h1, "/x").await.expect("h1 GET");
    assert_eq!(answer.version, Version::HTTP_11);
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["connection"], "keep-alive");
    assert_eq!(
        answer.json()["headers"]["x-forwarded-port"],
        proxy.public.port().to_string()
    );

    // Plain HTTP to the TLS port does not get through.
    assert!(proxy.http.get(proxy.url("/x")).send().await.is_err());
}

#[tokio::test]
async fn websocket_through_the_tls_listener() {
    let certs = Certs::generate();
    let ws = support::ws_backend().await;
    let proxy = support::proxy_with(tls_options(&certs)).await;
    proxy.add_route("/ws", &format!("http://{ws}")).await;

    // Browsers offer h2 too; a websocket handshake still uses HTTP/1.1.
    let config = t::client_config(&certs.ca, None, &[b"http/1.1"]);
    let stream = t::connect(proxy.public, config).await.expect("TLS");
    let url = format!("wss://127.0.0.1:{}/ws/chat", proxy.public.port());
    let (mut socket, response) = tokio_tungstenite::client_async(url, stream)
        .await
        .expect("websocket handshake");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    let hello = socket.next().await.expect("hello").expect("message");
    let hello: serde_json::Value = serde_json::from_str(hello.to_text().unwrap()).unwrap();
    assert_eq!(hello["path"], "/ws/chat");
    assert_eq!(hello["headers"]["x-forwarded-proto"], "wss");
    socket.send(Message::text("hi")).await.expect("send");
    let echo = socket.next().await.expect("echo").expect("message");
    assert_eq!(echo.to_text().unwrap(), "hi");
}

#[tokio::test]
async fn client_certificates_required_and_requested() {
    let certs = Certs::generate();
    let backend = support::echo_backend("hub").await;
    let mut options = tls_options(&certs);
    options.ssl.ca = Some(certs.ca.clone());
    options.ssl.request_cert = true;
    options.ssl.reject_unauthorized = true;
    let strict = support::proxy_with(options.clone()).await;
    strict.add_route("/", &backend.url("")).await;
    options.ssl.reject_unauthorized = false;
    let lenient = support::proxy_with(options).await;
    lenient.add_route("/", &backend.url("")).await;

    let anonymous = t::client_config(&certs.ca, None, &[b"http/1.1"]);
    let with_cert = t::client_config(
        &certs.ca,
        Some((&certs.client_key, &certs.client_cert)),
        &[b"http/1.1"],
    );
    assert!(
        t::get(strict.public, Arc::clone(&anonymous), "/")
            .await
            .is_err(),
        "a client without certificate is refused"
    );
    let ok = t::get(strict.public, Arc::clone(&with_cert), "/")
        .await
        .expect("GET");
    assert_eq!(ok.status, StatusCode::OK);

    let ok = t::get(lenient.public, anonymous, "/").await.expect("GET");
    assert_eq!(ok.status, StatusCode::OK, "only requested, not required");
    let ok = t::get(lenient.public, with_cert, "/").await.expect("GET");
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn ssl_protocol_sets_the_lowest_version() {
    let certs = Certs::generate();
    let backend = support::echo_backend("hub").await;
    let default = support::proxy_with(tls_options(&certs)).await;
    default.add_route("/", &backend.url("")).await;
    let mut options = tls_options(&certs);
    options.ssl_protocol = Some(ferrohub_proxy::tls::MinVersion::Tls13);
    let strict = support::proxy_with(options).await;
    strict.add_route("/", &backend.url("")).await;

    let tls12 = t::tls12_client_config(&certs.ca);
    let ok = t::get(default.public, Arc::clone(&tls12), "/")
        .await
        .expect("TLS 1.2");
    assert_eq!(ok.status, StatusCode::OK);
    assert!(
        t::get(strict.public, tls12, "/").await.is_err(),
        "TLS 1.2 refused"
    );
    let tls13 = t::client_config(&certs.ca, None, &[]);
    let ok = t::get(strict.public, tls13, "/").await.expect("TLS 1.3");
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn api_over_tls_with_client_certificates() {
    let certs = Certs::generate();
    let options = ProxyOptions {
        api_ssl: ListenerTls {
            key: Some(certs.server_key.clone()),
            cert: Some(certs.server_cert.clone()),
            ca: Some(certs.ca.clone()),
            request_cert: true,
            reject_unauthorized: true,
        },
        default_target: Some("http://127.0.0.1:1".into()),
        ..support::options()
    };
    let server = ProxyServer::bind(options, None).await.expect("bind");
    let api = server.api_addr().expect("api addr");
    tokio::spawn(server.serve(std::future::pending()));

    let with_cert = t::client_config(
        &certs.ca,
        Some((&certs.client_key, &certs.client_cert)),
        &[b"http/1.1"],
    );
    let routes = t::get(api, with_cert, "/api/routes").await.expect("GET");
    assert_eq!(routes.status, StatusCode::OK);
    assert_eq!(routes.json()["/"]["target"], "http://127.0.0.1:1");
    let anonymous = t::client_config(&certs.ca, None, &[b"http/1.1"]);
    assert!(t::get(api, anonymous, "/api/routes").await.is_err());
}

#[tokio::test]
async fn https_target_with_client_certificate_and_ca() {
    let certs = Certs::generate();
    let backend_tls = t::server_config(&certs.server_key, &certs.server_cert, Some(&certs.ca));
    let backend = t::echo_backend("internal", backend_tls).await;
    let target = format!("https://127.0.0.1:{}/base", backend.port());

    let internal_ssl = ProxyOptions {
        client_ssl: UpstreamTls {
            key: Some(certs.client_key.clone()),
            cert: Some(certs.client_cert.clone()),
            ca: Some(certs.ca.clone()),
            insecure: false,
        },
        ..support::options()
    };
    let proxy = support::proxy_with(internal_ssl).await;
    proxy.add_route("/user/a", &target).await;
    let seen = proxy.get_echo("/user/a/lab?x=1").await;
    assert_eq!(seen["name"], "internal");
    assert_eq!(seen["url"], "/base/user/a/lab?x=1");

    // The target requires a client certificate: without one, 503.
    let ca_only = ProxyOptions {
        client_ssl: UpstreamTls {
            ca: Some(certs.ca.clone()),
            ..UpstreamTls::default()
        },
        ..support::options()
    };
    let proxy = support::proxy_with(ca_only).await;
    proxy.add_route("/user/a", &target).await;
    assert_eq!(proxy.get("/user/a/lab").await.status(), 503);
}

#[tokio::test]
async fn insecure_reaches_a_self_signed_target() {
    let certs = Certs::generate();
    let rogue = t::server_config(&certs.rogue_key, &certs.rogue_cert, None);
    let backend = t::echo_backend("self-signed", rogue).await;
    let target = format!("https://127.0.0.1:{}", backend.port());

    let verified = support::proxy().await;
    verified.add_route("/", &target).await;
    let refused = verified.get("/x").await;
    assert_eq!(refused.status(), 503, "untrusted certificate");
    assert!(refused.text().await.unwrap().contains("503:"));

    let options = ProxyOptions {
        client_ssl: UpstreamTls {
            insecure: true,
            ..UpstreamTls::default()
        },
        ..support::options()
    };
    let insecure = support::proxy_with(options).await;
    insecure.add_route("/", &target).await;
    assert_eq!(insecure.get_echo("/x").await["name"], "self-signed");
}

#[tokio::test]
async fn bad_tls_files_are_refused_at_start() {
    let certs = Certs::generate();
    let bind = |options: ProxyOptions| async move {
        ProxyServer::bind(options, None)
            .await
            .err()
            .expect("refused")
            .to_string()
    };
    let mut options = tls_options(&certs);
    options.ssl.key = Some(certs.encrypted_server_key());
    let message = bind(options).await;
    assert!(message.contains("encrypted private key"), "{message}");
    assert!(
        message.contains("CONFIGPROXY_SSL_KEY_PASSPHRASE"),
        "{message}"
    );

    let mut options = tls_options(&certs);
    options.ssl.cert = None;
    let message = bind(options).await;
    assert!(
        message.contains("--ssl-key was given without --ssl-cert"),
        "{message}"
    );

    let mut options = tls_options(&certs);
    options.ssl.key = Some(certs.client_key.clone());
    let message = bind(options).await;
    assert!(message.contains("cannot be used together"), "{message}");

    let mut options = tls_options(&certs);
    options.ssl.cert = Some(certs.dir.join("missing.pem"));
    let message = bind(options).await;
    assert!(message.contains("cannot read --ssl-cert file"), "{message}");

    let options = ProxyOptions {
        redirect_port: Some(0),
        ..support::options()
    };
    let message = bind(options).await;
    assert_eq!(
        message,
        "HTTPS redirection specified but certificates not provided."
    );
}

#[tokio::test]
async fn redirect_listener_sends_plain_http_to_https() {
    let certs = Certs::generate();
    let backend = support::echo_backend("hub").await;
    let mut options = tls_options(&certs);
    options.redirect_port = Some(0);
    options.redirect_ip = "127.0.0.1".into();
    let proxy = support::proxy_with(options.clone()).await;
    proxy.add_route("/", &backend.url("")).await;
    let redirect = proxy.redirect.expect("redirect listener");
    let no_follow = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let response = no_follow
        .get(format!("http://{redirect}/user/a?x=1"))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), 301);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!("https://127.0.0.1:{}/user/a?x=1", proxy.public.port())
    );
    // Following it reaches the target.
    let config = t::client_config(&certs.ca, None, &[b"http/1.1"]);
    let path = location
        .split_once(&format!(":{}", proxy.public.port()))
        .unwrap()
        .1;
    let answer = t::get(proxy.public, config, path).await.expect("GET");
    assert_eq!(answer.json()["url"], "/user/a?x=1");

    // No Host header: 400 with CHP's explanation.
    let mut raw = tokio::net::TcpStream::connect(redirect).await.unwrap();
    raw.write_all(b"GET /x HTTP/1.0\r\n\r\n").await.unwrap();
    let mut text = String::new();
    raw.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.0 400"), "{text}");
    assert!(text.contains("This server is HTTPS-only on port"), "{text}");

    options.redirect_to = Some(443);
    let to_443 = support::proxy_with(options.clone()).await;
    let response = no_follow
        .get(format!("http://{}/y", to_443.redirect.unwrap()))
        .header("host", "hub.example:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["location"], "https://hub.example/y");
    options.redirect_to = Some(8443);
    let to_other = support::proxy_with(options).await;
    let response = no_follow
        .get(format!("http://{}/y", to_other.redirect.unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["location"], "https://127.0.0.1:8443/y");
}

/// CHP's own CLI test: the binary with `--ssl-key/--ssl-cert` serves HTTPS,
/// and `--redirect-port` without TLS exits 1.
#[tokio::test]
async fn binary_serves_https() {
    const BIN: &str = env!("CARGO_BIN_EXE_ferrohub-proxy");
    let certs = Certs::generate();
    let backend = support::echo_backend("default").await;
    let (port, api_port) = (support::dead_port(), support::dead_port());
    let child = Command::new(BIN)
        .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
        .args(["--api-ip", "127.0.0.1", "--api-port", &api_port.to_string()])
        .args(["--default-target", &backend.url("")])
        .arg("--ssl-key")
        .arg(&certs.server_key)
        .arg("--ssl-cert")
        .arg(&certs.server_cert)
        .args([
            "--ssl-protocol",
            "TLSv1_2",
            "--ssl-ciphers",
            "HIGH",
            "--log-level",
            "warn",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            support::kill_and_reap(&mut self.0, "ferrohub-proxy");
        }
    }
    let mut child = Kill(child);
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let config = t::client_config(&certs.ca, None, &[b"h2", b"http/1.1"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let answer = loop {
        match t::get(addr, Arc::clone(&config), "/hello").await {
            Ok(answer) => break answer,
            Err(e) if Instant::now() > deadline => panic!("never served HTTPS: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["url"], "/hello");
    support::kill_and_reap(&mut child.0, "ferrohub-proxy");
    let mut log = String::new();
    let mut stream = child.0.stdout.take().expect("stdout (the log)");
    std::io::Read::read_to_string(&mut stream, &mut log).expect("read log");
    assert!(
        log.contains("--ssl-ciphers is ignored"),
        "warning about --ssl-ciphers: {log}"
    );

    let refused = Command::new(BIN)
        .args(["--redirect-port", "1"])
        .output()
        .expect("run");
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("HTTPS redirection specified but certificates not provided."),
    );
}
