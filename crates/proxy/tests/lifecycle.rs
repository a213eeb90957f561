//! The `ferrohub-proxy` process over its life: SIGTERM lets requests in
//! flight finish while new connections are refused, and SIGHUP reloads the
//! TLS certificate files without losing routes or open connections.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers, which clippy does not count as tests: a panic is the failure report"
)]

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use support::tls::{Certs, client_config};
use tokio::net::{TcpListener, TcpStream};

const BIN: &str = env!("CARGO_BIN_EXE_ferrohub-proxy");

/// The proxy process; killed on drop if the test did not stop it.
struct Running {
    child: Child,
    public: u16,
    api: u16,
}

impl Drop for Running {
    fn drop(&mut self) {
        support::kill_and_reap(&mut self.child, "ferrohub-proxy");
    }
}

impl Running {
    async fn start(args: &[&str]) -> Self {
        let (public, api) = (support::dead_port(), support::dead_port());
        let child = Command::new(BIN)
            .args(["--ip", "127.0.0.1", "--port", &public.to_string()])
            .args(["--api-ip", "127.0.0.1", "--api-port", &api.to_string()])
            .args(["--log-level", "warn"])
            .args(args)
            .env("CONFIGPROXY_AUTH_TOKEN", support::TOKEN)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ferrohub-proxy");
        let running = Self { child, public, api };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", api)).await.is_err() {
            assert!(Instant::now() < deadline, "the API never listened");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        running
    }

    fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
    }

    /// Waits for the exit status, at most `limit`.
    async fn exit_within(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "still running after {limit:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn routes(&self) -> serde_json::Value {
        support::client()
            .get(format!("http://127.0.0.1:{}/api/routes", self.api))
            .header("Authorization", format!("token {}", support::TOKEN))
            .send()
            .await
            .expect("API")
            .json()
            .await
            .expect("JSON")
    }
}

/// A target that tells the test when a request arrived, then answers it
/// `delay` later.
async fn slow_backend(delay: Duration) -> (SocketAddr, tokio::sync::mpsc::UnboundedReceiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (arrived, arrivals) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let arrived = arrived.clone();
            tokio::spawn(async move {
                let service = service_fn(move |_req| {
                    let _ = arrived.send(());
                    async move {
                        tokio::time::sleep(delay).await;
                        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from_static(
                            b"finished",
                        ))))
                    }
                });
                // The test stops the proxy mid-request on purpose.
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    eprintln!("slow backend: {e}");
                }
            });
        }
    });
    (addr, arrivals)
}

#[tokio::test]
async fn sigterm_lets_requests_in_flight_finish_and_refuses_new_ones() {
    let (backend, mut arrivals) = slow_backend(Duration::from_millis(1500)).await;
    let mut proxy = Running::start(&["--default-target", &format!("http://{backend}")]).await;
    // An idle keep-alive connection must not hold the shutdown up.
    let idle = support::client();
    let warm = idle
        .get(format!("http://127.0.0.1:{}/warm", proxy.public))
        .send();
    let in_flight = tokio::spawn(async move {
        let response = support::client()
            .get(format!("http://127.0.0.1:{}/slow", proxy.public))
            .send()
            .await?;
        let status = response.status();
        Ok::<_, reqwest::Error>((status, response.text().await?))
    });
    let (warm, _) = tokio::join!(warm, arrivals.recv());
    assert_eq!(warm.expect("warm-up request").status(), 200);
    arrivals
        .recv()
        .await
        .expect("the slow request reached the target");

    proxy.signal("TERM");
    let signalled = Instant::now();
    // New connections are refused at once.
    let deadline = Instant::now() + Duration::from_secs(1);
    while TcpStream::connect(("127.0.0.1", proxy.public))
        .await
        .is_ok()
    {
        assert!(
            Instant::now() < deadline,
            "still accepting 1 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The request in flight completes normally.
    let (status, body) = in_flight
        .await
        .unwrap()
        .expect("the request in flight finishes");
    assert_eq!((status.as_u16(), body.as_str()), (200, "finished"));
    // Then the process exits with CHP's status 2, well before the drain limit.
    let status = proxy.exit_within(Duration::from_secs(4)).await;
    assert_eq!(status.code(), Some(2));
    assert!(
        signalled.elapsed() < Duration::from_secs(4),
        "{:?}",
        signalled.elapsed()
    );
}

/// Whether a fresh TLS connection trusting only `root` succeeds, i.e. the
/// proxy serves a certificate issued by that CA.
async fn served_by(port: u16, root: &Path) -> bool {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    support::tls::connect(addr, client_config(root, None, &[]))
        .await
        .is_ok()
}

#[tokio::test]
async fn sighup_reloads_certificates_keeping_routes_and_connections() {
    let certs = Certs::generate();
    let live = tempfile_dir("sighup");
    let (key, cert) = (live.join("proxy.key"), live.join("proxy.pem"));
    std::fs::copy(&certs.server_key, &key).unwrap();
    std::fs::copy(&certs.server_cert, &cert).unwrap();
    let backend = support::echo_backend("b").await;
    let proxy = Running::start(&[
        "--ssl-key",
        key.to_str().unwrap(),
        "--ssl-cert",
        cert.to_str().unwrap(),
        "--default-target",
        &backend.url(""),
    ])
    .await;
    assert!(
        served_by(proxy.public, &certs.ca).await,
        "the CA's certificate at start"
    );

    // A keep-alive connection opened before the reload.
    let addr: SocketAddr = ([127, 0, 0, 1], proxy.public).into();
    let tls = support::tls::connect(addr, client_config(&certs.ca, None, &[]))
        .await
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(connection);
    let get = |path: &str| {
        http::Request::get(path)
            .header("host", format!("127.0.0.1:{}", proxy.public))
            .body(Empty::<Bytes>::new())
            .unwrap()
    };
    assert_eq!(
        sender.send_request(get("/before")).await.unwrap().status(),
        200
    );

    // Renew: the files now hold a certificate from another CA; SIGHUP.
    let renewed = Certs::generate();
    std::fs::copy(&renewed.server_key, &key).unwrap();
    std::fs::copy(&renewed.server_cert, &cert).unwrap();
    proxy.signal("HUP");
    support_eventually(|| served_by(proxy.public, &renewed.ca)).await;
    assert!(
        !served_by(proxy.public, &certs.ca).await,
        "the old certificate is gone"
    );

    // The process lives on with its routes, and the old connection still works.
    assert!(proxy.routes().await.get("/").is_some());
    let response = sender.send_request(get("/after")).await.unwrap();
    assert_eq!(response.status(), 200);
    let seen: serde_json::Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(seen["url"], "/after");

    // Broken files: the reload is refused and the current certificate stays.
    std::fs::write(&key, "not a key").unwrap();
    proxy.signal("HUP");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(served_by(proxy.public, &renewed.ca).await);
    support::remove_dir_if_present(&live);
}

fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrohub-proxy-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Polls `check` for up to 5 s.
async fn support_eventually<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(Instant::now() < deadline, "condition not met within 5 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
