//! TLS on the public port and the HTTP→HTTPS redirect server (proxy-spec §2
//! "TLS", §11 CLI). Certificates come from the `openssl` command line;
//! HTTPS requests are made with `curl -k` (no TLS stack compiled into the
//! tests).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::harness::{Impl, Proxy, TempDir, free_port};
use super::raw::{self, RawResponse};
use super::support::echo_backend;

/// A self-signed certificate for 127.0.0.1 (key.pem, cert.pem) in `dir`.
async fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
    let output = tokio::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .await
        .expect("the openssl command line is needed to make a test certificate");
    assert!(
        output.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (key, cert)
}

/// Runs openssl with `args` in `dir`, asserting success.
async fn openssl(dir: &Path, args: &[&str]) {
    let output = tokio::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .await
        .expect("the openssl command line is needed to make test certificates");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

const EC_KEY: [&str; 5] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// A CA (`ca.pem`) with a server certificate for 127.0.0.1 (`server.pem`,
/// `server.key`) and a client certificate (`client.pem`, `client.key`).
async fn pki(dir: &Path) {
    let ca = [
        &["req", "-x509"][..],
        &EC_KEY,
        &[
            "-days",
            "2",
            "-subj",
            "/CN=conformance-ca",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
        &["-addext", "basicConstraints=critical,CA:TRUE"],
        &["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    ]
    .concat();
    openssl(dir, &ca).await;
    for (name, subject, ext) in [
        (
            "server",
            "/CN=127.0.0.1",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        ),
        (
            "client",
            "/CN=proxy-client",
            "extendedKeyUsage=clientAuth\n",
        ),
    ] {
        std::fs::write(dir.join(format!("{name}.ext")), ext).expect("write ext");
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        let request = [
            &["req", "-new"][..],
            &EC_KEY,
            &["-subj", subject, "-keyout", &key, "-out", &csr],
        ]
        .concat();
        openssl(dir, &request).await;
        let ext_file = format!("{name}.ext");
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &pem,
                "-extfile",
                &ext_file,
            ],
        )
        .await;
    }
}

fn path_arg(dir: &TempDir, name: &str) -> String {
    dir.join(name).to_str().expect("utf-8").to_owned()
}

/// `curl -sk` a URL; returns status, headers (lower-case names) and body.
async fn curl(url: &str, extra: &[&str]) -> (u16, Vec<(String, String)>, String) {
    match curl_result(url, extra).await {
        Ok(answer) => answer,
        Err(e) => panic!("curl {url}: {e}"),
    }
}

/// Like [`curl`], with failures (TLS refused, connection closed) as `Err`.
async fn curl_result(
    url: &str,
    extra: &[&str],
) -> Result<(u16, Vec<(String, String)>, String), String> {
    let output = tokio::process::Command::new("curl")
        .args(["-sSk", "--max-time", "10", "-D", "-", "--noproxy", "*"])
        .args(extra)
        .arg(url)
        .output()
        .await
        .expect("curl is needed for HTTPS requests (apt-get install -y curl)");
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
        .collect();
    Ok((status, headers, body.to_owned()))
}

async fn tls_proxy(imp: Impl, dir: &TempDir, backend: &str, extra: &[&str]) -> Proxy {
    let (key, cert) = self_signed(dir.path()).await;
    let mut args = vec![
        "--ssl-key".to_owned(),
        key.to_str().expect("utf-8").to_owned(),
        "--ssl-cert".to_owned(),
        cert.to_str().expect("utf-8").to_owned(),
        "--default-target".to_owned(),
        backend.to_owned(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let mut launch = Proxy::launch(imp).args(args);
    if let Some(i) = extra.iter().position(|a| *a == "--redirect-port") {
        launch = launch.wait_for_port(extra[i + 1].parse().expect("port"));
    }
    launch.start().await
}

/// `--ssl-key/--ssl-cert`: the public port speaks HTTPS; X-Forwarded-Proto
/// is `https`, the port defaults to 443 without one in Host.
pub async fn https_public(imp: Impl) {
    let dir = TempDir::new();
    let backend = echo_backend("b").await;
    let proxy = tls_proxy(imp, &dir, &backend.url(""), &[]).await;
    let url = format!("https://{}/x?y=1", proxy.host());
    let (status, _, body) = curl(&url, &[]).await;
    assert_eq!(status, 200, "{body}");
    let seen: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(seen["url"], "/x?y=1");
    assert_eq!(seen["headers"]["x-forwarded-proto"], "https");
    assert_eq!(
        seen["headers"]["x-forwarded-port"],
        proxy.port.to_string().as_str()
    );
    let (_, _, body) = curl(&url, &["-H", "Host: hub.example.com"]).await;
    let seen: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(seen["headers"]["x-forwarded-port"], "443");

    let (status, _, body) = curl(&format!("https://{}/_chp_healthz", proxy.host()), &[]).await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"OK"}"#));
    // The API stays plain HTTP.
    assert_eq!(proxy.routes().await.len(), 1);
}

async fn redirect(port: u16, request: &str) -> RawResponse {
    raw::request(SocketAddr::from(([127, 0, 0, 1], port)), request.as_bytes()).await
}

/// `--redirect-port R`: plain HTTP there answers 301 to the HTTPS port;
/// following it reaches the target; no Host → 400.
pub async fn redirect_port(imp: Impl) {
    let dir = TempDir::new();
    let backend = echo_backend("b").await;
    let r = free_port();
    let r_arg = r.to_string();
    let proxy = tls_proxy(imp, &dir, &backend.url(""), &["--redirect-port", &r_arg]).await;

    let response = redirect(
        r,
        &format!("GET /a/b?c=d HTTP/1.1\r\nHost: 127.0.0.1:{r}\r\n\r\n"),
    )
    .await;
    assert_eq!(response.status, 301);
    let location = response.header("location").expect("Location").to_owned();
    assert_eq!(
        location,
        format!("https://127.0.0.1:{}/a/b?c=d", proxy.port)
    );
    let (status, _, body) = curl(&location, &[]).await;
    assert_eq!(status, 200);
    let seen: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(seen["url"], "/a/b?c=d");

    let other_host = redirect(
        r,
        "POST /x HTTP/1.1\r\nHost: hub.example.com\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert_eq!(other_host.status, 301);
    assert_eq!(
        other_host.header("location"),
        Some(format!("https://hub.example.com:{}/x", proxy.port).as_str())
    );

    let no_host = redirect(r, "GET /x HTTP/1.0\r\n\r\n").await;
    assert_eq!(no_host.status, 400);
}

/// `--redirect-to Q` puts Q in the Location.
pub async fn redirect_to(imp: Impl) {
    let dir = TempDir::new();
    let backend = echo_backend("b").await;
    let (r1, r2) = (free_port(), free_port());
    let (r1_arg, r2_arg) = (r1.to_string(), r2.to_string());
    let target = backend.url("");
    let flags1 = ["--redirect-port", &r1_arg, "--redirect-to", "9443"];
    let flags2 = ["--redirect-port", &r2_arg, "--redirect-to", "443"];
    let (_p1, _p2) = tokio::join!(tls_proxy(imp, &dir, &target, &flags1), async {
        let dir2 = TempDir::new();
        let proxy = tls_proxy(imp, &dir2, &target, &flags2).await;
        (proxy, dir2)
    });
    let response = redirect(r1, "GET /x?y HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await;
    assert_eq!(response.status, 301);
    assert_eq!(
        response.header("location"),
        Some("https://127.0.0.1:9443/x?y")
    );
    let response = redirect(
        r2,
        &format!("GET /x HTTP/1.1\r\nHost: 127.0.0.1:{r2}\r\n\r\n"),
    )
    .await;
    assert_eq!(response.status, 301);
    // CHP compares the `--redirect-to` string with the number 443, so it
    // writes `:443` (the spec says it is left out); both name the same URL.
    let location = response.header("location").expect("Location");
    assert!(
        ["https://127.0.0.1:443/x", "https://127.0.0.1/x"].contains(&location),
        "{location}"
    );
}

/// Internal SSL: https targets verified against `--client-ssl-ca`, the
/// proxy presenting `--client-ssl-key/--client-ssl-cert` to a target that
/// requires client certificates.
pub async fn https_targets(imp: Impl) {
    let dir = TempDir::new();
    pki(dir.path()).await;
    let backend = echo_backend("b").await;
    let (key, cert, ca) = (
        path_arg(&dir, "server.key"),
        path_arg(&dir, "server.pem"),
        path_arg(&dir, "ca.pem"),
    );
    let (client_key, client_cert) = (path_arg(&dir, "client.key"), path_arg(&dir, "client.pem"));
    // The https target: a proxy of the same kind with TLS, demanding a
    // client certificate from our CA, in front of the echo backend.
    let target = Proxy::start(
        imp,
        &[
            "--ssl-key",
            &key,
            "--ssl-cert",
            &cert,
            "--ssl-ca",
            &ca,
            "--ssl-request-cert",
            "--ssl-reject-unauthorized",
            "--default-target",
            &backend.url(""),
        ],
    )
    .await;
    let full = [
        "--client-ssl-key",
        &client_key,
        "--client-ssl-cert",
        &client_cert,
        "--client-ssl-ca",
        &ca,
    ];
    let ca_only = ["--client-ssl-ca", &ca];
    let (with_cert, without_cert, untrusted) = tokio::join!(
        Proxy::start(imp, &full),
        Proxy::start(imp, &ca_only),
        Proxy::start(imp, &[]),
    );
    let url = format!("https://127.0.0.1:{}/base", target.port);
    for proxy in [&with_cert, &without_cert, &untrusted] {
        proxy.add_route("/s", &url).await;
    }
    let seen = with_cert.echo("/s/x?y=1").await;
    assert_eq!(seen["url"], "/base/s/x?y=1");
    // Both hops add their scheme: ours (plain HTTP) then the TLS target's.
    assert_eq!(seen["headers"]["x-forwarded-proto"], "http,https");
    assert_eq!(
        without_cert.raw_get("/s/x").await.status,
        503,
        "target refuses a proxy without a client certificate"
    );
    assert_eq!(
        untrusted.raw_get("/s/x").await.status,
        503,
        "self-made CA not trusted without --client-ssl-ca"
    );
}

/// `--api-ssl-*`: the API over TLS, with client certificates required.
pub async fn api_tls(imp: Impl) {
    let dir = TempDir::new();
    pki(dir.path()).await;
    let (key, cert, ca) = (
        path_arg(&dir, "server.key"),
        path_arg(&dir, "server.pem"),
        path_arg(&dir, "ca.pem"),
    );
    let (client_key, client_cert) = (path_arg(&dir, "client.key"), path_arg(&dir, "client.pem"));
    let proxy = Proxy::launch(imp)
        .args([
            "--api-ssl-key",
            &key,
            "--api-ssl-cert",
            &cert,
            "--api-ssl-ca",
            &ca,
            "--api-ssl-request-cert",
            "--api-ssl-reject-unauthorized",
        ])
        .api_tls()
        .start()
        .await;
    let url = format!("https://127.0.0.1:{}/api/routes", proxy.api_port);
    let client = [
        "--cacert",
        &ca,
        "--cert",
        &client_cert,
        "--key",
        &client_key,
        "-H",
        "Authorization: token secret",
    ];
    let (status, _, _) = curl(
        &format!("{url}/user/a"),
        &[
            &client[..],
            &["-X", "POST", "-d", r#"{"target": "http://127.0.0.1:1"}"#],
        ]
        .concat(),
    )
    .await;
    assert_eq!(status, 201);
    let (status, headers, body) = curl(&url, &client).await;
    assert_eq!(status, 200);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-type" && v == "application/json"),
        "{headers:?}"
    );
    let routes: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(routes["/user/a"]["target"], "http://127.0.0.1:1");
    // No client certificate: the handshake is refused.
    let refused = curl_result(
        &url,
        &["--cacert", &ca, "-H", "Authorization: token secret"],
    )
    .await;
    assert!(refused.is_err(), "{refused:?}");
    // Plain HTTP to the TLS port gets no API answer.
    let plain = proxy.http.get(proxy.api_url("")).send().await;
    assert!(
        plain.as_ref().map_or(true, |r| r.status() != 200),
        "{plain:?}"
    );
}
