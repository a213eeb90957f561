//! TLS fixtures: certificates made with the `openssl` command for each test
//! (a CA, a server and a client certificate it signed, and an unrelated
//! self-signed server certificate), an HTTPS client on rustls + hyper that
//! reports the negotiated HTTP version, and HTTPS echo backends.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::client::TlsStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Certificate files in a temporary directory, removed on drop.
pub struct Certs {
    pub dir: PathBuf,
    /// The test CA.
    pub ca: PathBuf,
    /// Server certificate for 127.0.0.1 / localhost, signed by the CA.
    pub server_key: PathBuf,
    pub server_cert: PathBuf,
    /// Client certificate signed by the CA.
    pub client_key: PathBuf,
    pub client_cert: PathBuf,
    /// A self-signed certificate for 127.0.0.1 that nobody trusts.
    pub rogue_key: PathBuf,
    pub rogue_cert: PathBuf,
}

impl Drop for Certs {
    fn drop(&mut self) {
        super::remove_dir_if_present(&self.dir);
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

const EC: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

impl Certs {
    /// Generates a fresh set (EC P-256 keys, valid two days).
    #[must_use]
    pub fn generate() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ferrohub-proxy-certs-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("cert dir");
        let ca_args = ["req", "-x509", "-nodes", "-days", "2", "-keyout", "ca.key"];
        let mut args: Vec<&str> = ca_args.to_vec();
        args.extend(EC);
        args.extend(["-out", "ca.pem", "-subj", "/CN=ferrohub test CA"]);
        openssl(&dir, &args);
        for (name, usage) in [("server", "serverAuth"), ("client", "clientAuth")] {
            let ext = format!(
                "subjectAltName=IP:127.0.0.1,DNS:localhost\n\
                 basicConstraints=critical,CA:FALSE\n\
                 keyUsage=critical,digitalSignature\n\
                 extendedKeyUsage={usage}\n"
            );
            std::fs::write(dir.join(format!("{name}.ext")), ext).expect("ext file");
            let (key, csr, pem, ext) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.pem"),
                format!("{name}.ext"),
            );
            let mut args = vec!["req", "-nodes", "-keyout", &key, "-out", &csr];
            args.extend(EC);
            args.extend(["-subj", "/CN=localhost"]);
            openssl(&dir, &args);
            openssl(
                &dir,
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
                    &ext,
                ],
            );
        }
        let mut args = vec![
            "req",
            "-x509",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            "rogue.key",
        ];
        args.extend(EC);
        args.extend([
            "-out",
            "rogue.pem",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ]);
        openssl(&dir, &args);
        Self {
            ca: dir.join("ca.pem"),
            server_key: dir.join("server.key"),
            server_cert: dir.join("server.pem"),
            client_key: dir.join("client.key"),
            client_cert: dir.join("client.pem"),
            rogue_key: dir.join("rogue.key"),
            rogue_cert: dir.join("rogue.pem"),
            dir,
        }
    }

    /// The server key encrypted with a passphrase (PKCS#8).
    #[must_use]
    pub fn encrypted_server_key(&self) -> PathBuf {
        openssl(
            &self.dir,
            &[
                "pkey",
                "-in",
                "server.key",
                "-aes128",
                "-passout",
                "pass:secret",
                "-out",
                "server-encrypted.key",
            ],
        );
        self.dir.join("server-encrypted.key")
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .expect("cert file")
        .map(|c| c.expect("cert"))
        .collect()
}

fn key(path: &Path) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(path).expect("key file")
}

fn roots(ca: &Path) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(certs(ca));
    roots
}

/// A client trusting `ca`, presenting `client` (key, cert) if given, and
/// offering the `alpn` protocols.
#[must_use]
pub fn client_config(
    ca: &Path,
    client: Option<(&Path, &Path)>,
    alpn: &[&[u8]],
) -> Arc<ClientConfig> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots(ca));
    let mut config = match client {
        Some((k, c)) => builder
            .with_client_auth_cert(certs(c), key(k))
            .expect("client cert"),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A client trusting `ca` that speaks TLS 1.2 only.
#[must_use]
pub fn tls12_client_config(ca: &Path) -> Arc<ClientConfig> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("versions")
        .with_root_certificates(roots(ca))
        .with_no_client_auth();
    Arc::new(config)
}

/// A TLS connection to `addr` (certificate checked for 127.0.0.1).
pub async fn connect(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> Result<TlsStream<TcpStream>, BoxError> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("127.0.0.1")?;
    Ok(TlsConnector::from(config).connect(name, tcp).await?)
}

/// What an HTTPS request got back.
#[derive(Debug)]
pub struct Answer {
    pub version: http::Version,
    pub status: http::StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON (the echo backend's description of the request).
    #[must_use]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// `GET <path>` over a fresh TLS connection; HTTP/2 when ALPN chose `h2`.
pub async fn get(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    path: &str,
) -> Result<Answer, BoxError> {
    let tls = connect(addr, config).await?;
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
    let io = TokioIo::new(tls);
    let response = if h2 {
        let request = http::Request::get(format!("https://127.0.0.1:{}{path}", addr.port()))
            .body(Empty::<Bytes>::new())?;
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await?;
        tokio::spawn(connection);
        sender.send_request(request).await?
    } else {
        let request = http::Request::get(path)
            .header("host", format!("127.0.0.1:{}", addr.port()))
            .body(Empty::<Bytes>::new())?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
        tokio::spawn(connection);
        sender.send_request(request).await?
    };
    let (parts, body) = response.into_parts();
    Ok(Answer {
        version: parts.version,
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await?.to_bytes(),
    })
}

/// The server side for a test backend: `key`/`cert`, and client
/// certificates required and checked against `client_ca` when given.
#[must_use]
pub fn server_config(key_path: &Path, cert: &Path, client_ca: Option<&Path>) -> Arc<ServerConfig> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions");
    let builder = match client_ca {
        Some(ca) => builder.with_client_cert_verifier(
            rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots(ca)),
                provider(),
            )
            .build()
            .expect("verifier"),
        ),
        None => builder.with_no_client_auth(),
    };
    Arc::new(
        builder
            .with_single_cert(certs(cert), key(key_path))
            .expect("server cert"),
    )
}

/// An HTTPS echo backend (the same answers as [`super::echo_backend`]).
pub async fn echo_backend(name: &str, config: Arc<ServerConfig>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = TlsAcceptor::from(config);
    let name: Arc<str> = Arc::from(name);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (acceptor, name) = (acceptor.clone(), Arc::clone(&name));
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service = service_fn(move |req| super::echo(Arc::clone(&name), req));
                // Tests drop connections half-way on purpose: not an error.
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await
                {
                    eprintln!("TLS echo backend: {e}");
                }
            });
        }
    });
    addr
}
