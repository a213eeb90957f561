//! TLS for the public and API listeners (`--ssl-*`, `--api-ssl-*`) and for
//! connections to `https` targets (`--client-ssl-*`, `--insecure`), on rustls
//! with the ring provider.
//!
//! CHP hands its TLS flags to Node's OpenSSL bindings. rustls covers what a
//! JupyterHub deployment uses (certificate + key, client-certificate
//! verification against a CA, a minimum protocol version) and deliberately
//! nothing else:
//! - encrypted private keys cannot be read (`CONFIGPROXY_SSL_KEY_PASSPHRASE`):
//!   such a key is refused at start with a message saying how to decrypt it;
//! - `--ssl-ciphers`, `--ssl-allow-rc4` and `--ssl-dhparam` configure OpenSSL
//!   only; rustls has a fixed list of modern suites (no RC4, no finite-field
//!   DH), so they are accepted and ignored with a warning;
//! - `--ssl-protocol TLSv1_2` / `TLSv1_3` set the *lowest* version accepted
//!   (OpenSSL's `TLSv1_2_method` pins exactly 1.2); older protocols do not exist
//!   in rustls and are refused.
//!
//! Each config names the ring provider explicitly, so no process-wide default
//! provider has to be installed (and none can clash).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig,
    SignatureScheme, SupportedProtocolVersion,
};

/// Certificate files and client-certificate policy of one listener
/// (`--ssl-*` for the public one, `--api-ssl-*` for the API).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListenerTls {
    /// PEM private key (`--ssl-key`); unencrypted.
    pub key: Option<PathBuf>,
    /// PEM certificate chain, leaf first (`--ssl-cert`).
    pub cert: Option<PathBuf>,
    /// PEM CA bundle client certificates are verified against (`--ssl-ca`).
    pub ca: Option<PathBuf>,
    /// Ask clients for a certificate (`--ssl-request-cert`).
    pub request_cert: bool,
    /// With `request_cert`: refuse clients without a valid certificate
    /// (`--ssl-reject-unauthorized`). Without it any certificate (or none)
    /// is accepted, as Node does.
    pub reject_unauthorized: bool,
}

impl ListenerTls {
    /// Whether the listener speaks TLS (either file given, as in CHP).
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.key.is_some() || self.cert.is_some()
    }
}

/// How the proxy connects to `https` targets (`--client-ssl-*`, `--insecure`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamTls {
    /// Client private key presented to targets (`--client-ssl-key`).
    pub key: Option<PathBuf>,
    /// Client certificate presented to targets (`--client-ssl-cert`).
    pub cert: Option<PathBuf>,
    /// CA bundle target certificates are verified against
    /// (`--client-ssl-ca`); without it, the system's CA bundle.
    pub ca: Option<PathBuf>,
    /// Do not verify target certificates at all (`--insecure`).
    pub insecure: bool,
}

/// The lowest TLS version accepted (`--ssl-protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MinVersion {
    /// TLS 1.2 and 1.3 (rustls' default).
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

impl MinVersion {
    /// Parses an OpenSSL method name as CHP takes it (`TLSv1_2` becomes
    /// `TLSv1_2_method`). `TLS` and `SSLv23` mean "any version" (`None`).
    ///
    /// # Errors
    /// A protocol rustls does not speak (`TLSv1`, `TLSv1_1`, `SSLv3`, …).
    pub fn parse(name: &str) -> Result<Option<Self>, String> {
        let normal = name.trim().trim_end_matches("_method").replace('.', "_");
        match normal.to_ascii_lowercase().as_str() {
            "tlsv1_2" => Ok(Some(Self::Tls12)),
            "tlsv1_3" => Ok(Some(Self::Tls13)),
            "tls" | "sslv23" => Ok(None),
            _ => Err(format!(
                "option '--ssl-protocol': '{name}' is not supported; only TLS 1.2 and 1.3 \
                 exist here (use TLSv1_2 or TLSv1_3)"
            )),
        }
    }

    fn versions(min: Option<Self>) -> &'static [&'static SupportedProtocolVersion] {
        static BOTH: [&SupportedProtocolVersion; 2] =
            [&rustls::version::TLS13, &rustls::version::TLS12];
        static TLS13: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
        match min {
            Some(Self::Tls13) => &TLS13,
            None | Some(Self::Tls12) => &BOTH,
        }
    }
}

/// A TLS configuration could not be built from the given files.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Only one of key and certificate was given.
    #[error("{given} was given without {missing}: TLS needs both a key and a certificate")]
    Incomplete {
        /// The flag that was given.
        given: String,
        /// The flag that is missing.
        missing: String,
    },
    /// A file could not be read.
    #[error("cannot read {flag} file {}: {source}", path.display())]
    Read {
        /// The flag naming the file.
        flag: String,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A certificate file holds no PEM certificate.
    #[error("{flag} file {} holds no PEM certificate", path.display())]
    NoCertificate {
        /// The flag naming the file.
        flag: String,
        /// The file.
        path: PathBuf,
    },
    /// A key file holds no usable PEM private key.
    #[error("{flag} file {} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)", path.display())]
    NoKey {
        /// The flag naming the file.
        flag: String,
        /// The file.
        path: PathBuf,
    },
    /// The key is encrypted; rustls reads plain keys only.
    #[error(
        "{flag} file {} holds an encrypted private key, which ferrohub-proxy cannot read{}: \
         decrypt it once, e.g. `openssl pkey -in {} -out key.pem`, and keep the result \
         readable only by the proxy's user",
        path.display(),
        env.map(|env| format!(" ({env} is not supported)")).unwrap_or_default(),
        path.display()
    )]
    EncryptedKey {
        /// The flag naming the file.
        flag: String,
        /// The file.
        path: PathBuf,
        /// The passphrase variable CHP would have used, if any.
        env: Option<&'static str>,
    },
    /// No CA certificates to verify client certificates against.
    #[error("{flag}-reject-unauthorized needs CA certificates: give {flag}-ca <file>")]
    NoRoots {
        /// The listener's flag prefix (`--ssl`, `--api-ssl`).
        flag: String,
    },
    /// rustls refused the material (mismatched key, unsupported algorithm, …).
    #[error("{context}: {source}")]
    Rustls {
        /// What was being set up.
        context: String,
        /// rustls' reason.
        #[source]
        source: rustls::Error,
    },
    /// The client-certificate verifier could not be built.
    #[error("{context}: {source}")]
    Verifier {
        /// What was being set up.
        context: String,
        /// rustls' reason.
        #[source]
        source: rustls::server::VerifierBuilderError,
    },
}

/// Where the system's CA bundle usually is (Debian/Ubuntu, Fedora/RHEL, Alpine/macOS).
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server config of a listener, `None` when it has no TLS. `flag` is
/// the listener's flag prefix (`--ssl`, `--api-ssl`) and `env` its
/// passphrase variable, both for messages.
///
/// # Errors
/// Missing or unreadable files, an encrypted or mismatched key, a CA file
/// without certificates.
pub fn server_config(
    tls: &ListenerTls,
    flag: &str,
    env: &'static str,
    min: Option<MinVersion>,
) -> Result<Option<Arc<ServerConfig>>, TlsError> {
    let (key_path, cert_path) = match (&tls.key, &tls.cert) {
        (None, None) => return Ok(None),
        (Some(key), Some(cert)) => (key, cert),
        (Some(_), None) => return Err(incomplete(flag, "key", "cert")),
        (None, Some(_)) => return Err(incomplete(flag, "cert", "key")),
    };
    let certs = certificates(&format!("{flag}-cert"), cert_path)?;
    let key = private_key(&format!("{flag}-key"), key_path, Some(env))?;
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(MinVersion::versions(min))
        .map_err(|source| TlsError::Rustls {
            context: format!("{flag}: TLS versions"),
            source,
        })?;
    let builder = match client_verifier(tls, flag, &provider)? {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|source| TlsError::Rustls {
            context: format!("{flag}-key and {flag}-cert cannot be used together"),
            source,
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(Arc::new(config)))
}

fn incomplete(flag: &str, given: &str, missing: &str) -> TlsError {
    TlsError::Incomplete {
        given: format!("{flag}-{given}"),
        missing: format!("{flag}-{missing}"),
    }
}

/// The client-certificate policy: none, required and verified against the
/// CA (`reject_unauthorized`), or requested and accepted whatever it is.
fn client_verifier(
    tls: &ListenerTls,
    flag: &str,
    provider: &Arc<CryptoProvider>,
) -> Result<Option<Arc<dyn ClientCertVerifier>>, TlsError> {
    if !tls.request_cert {
        if tls.reject_unauthorized {
            tracing::warn!("{flag}-reject-unauthorized has no effect without {flag}-request-cert");
        }
        return Ok(None);
    }
    let roots = match &tls.ca {
        Some(ca) => roots_from_file(&format!("{flag}-ca"), ca)?,
        None => system_roots().unwrap_or_else(RootCertStore::empty),
    };
    if !tls.reject_unauthorized {
        return Ok(Some(Arc::new(AnyClientCert {
            subjects: roots.subjects(),
            algorithms: provider.signature_verification_algorithms,
        })));
    }
    if roots.is_empty() {
        return Err(TlsError::NoRoots {
            flag: flag.to_owned(),
        });
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider))
        .build()
        .map(Some)
        .map_err(|source| TlsError::Verifier {
            context: format!("{flag}-ca"),
            source,
        })
}

/// The client config for `https` targets: verified against `--client-ssl-ca`
/// (else the system bundle), or not at all with `--insecure`; the client
/// certificate presented when both its files are given. HTTP/1.1 only.
///
/// # Errors
/// Missing or unreadable files, an encrypted or mismatched key.
pub fn client_config(
    tls: &UpstreamTls,
    min: Option<MinVersion>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(MinVersion::versions(min))
        .map_err(|source| TlsError::Rustls {
            context: "--client-ssl: TLS versions".to_owned(),
            source,
        })?;
    let builder = if tls.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServerCert {
                algorithms: provider.signature_verification_algorithms,
            }))
    } else {
        let roots = match &tls.ca {
            Some(ca) => roots_from_file("--client-ssl-ca", ca)?,
            None => system_roots().unwrap_or_else(|| {
                // Not a warning: most deployments have no https targets, and
                // a failing one logs the unknown-issuer error with its 503.
                tracing::debug!(
                    "no system CA bundle found ({}): https targets will fail \
                     unless --client-ssl-ca or --insecure is given",
                    SYSTEM_BUNDLES.join(", ")
                );
                RootCertStore::empty()
            }),
        };
        builder.with_root_certificates(roots)
    };
    let flag = "--client-ssl";
    let mut config = match (&tls.key, &tls.cert) {
        (None, None) => builder.with_no_client_auth(),
        (Some(key), Some(cert)) => {
            let certs = certificates("--client-ssl-cert", cert)?;
            let key = private_key("--client-ssl-key", key, None)?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|source| TlsError::Rustls {
                    context: format!("{flag}-key and {flag}-cert cannot be used together"),
                    source,
                })?
        }
        (Some(_), None) => return Err(incomplete(flag, "key", "cert")),
        (None, Some(_)) => return Err(incomplete(flag, "cert", "key")),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read(flag: &str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        flag: flag.to_owned(),
        path: path.to_owned(),
        source,
    })
}

/// Every PEM certificate in a file, in order.
fn certificates(flag: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(flag, path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            flag: flag.to_owned(),
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// The first PEM private key in a file; encrypted keys are refused by name.
fn private_key(
    flag: &str,
    path: &Path,
    env: Option<&'static str>,
) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(flag, path)?;
    if is_encrypted(&pem) {
        return Err(TlsError::EncryptedKey {
            flag: flag.to_owned(),
            path: path.to_owned(),
            env,
        });
    }
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| TlsError::NoKey {
        flag: flag.to_owned(),
        path: path.to_owned(),
    })
}

/// PKCS#8 `ENCRYPTED PRIVATE KEY` blocks and OpenSSL's traditional
/// `Proc-Type: 4,ENCRYPTED` headers.
fn is_encrypted(pem: &[u8]) -> bool {
    let text = String::from_utf8_lossy(pem);
    text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || text.contains("Proc-Type: 4,ENCRYPTED")
}

/// A CA bundle (several PEM certificates allowed, as CHP's `_loadSslCa`).
fn roots_from_file(flag: &str, path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certificates(flag, path)?);
    if added == 0 {
        return Err(TlsError::NoCertificate {
            flag: flag.to_owned(),
            path: path.to_owned(),
        });
    }
    Ok(roots)
}

/// The system's CA bundle (`SSL_CERT_FILE`, else the usual places), as
/// Node's built-in roots stand in for a missing `ca` option.
fn system_roots() -> Option<RootCertStore> {
    let env = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    let candidates = env
        .into_iter()
        .chain(SYSTEM_BUNDLES.iter().map(PathBuf::from));
    for path in candidates {
        let Ok(pem) = std::fs::read(&path) else {
            continue;
        };
        let mut roots = RootCertStore::empty();
        roots
            .add_parsable_certificates(CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok));
        if !roots.is_empty() {
            tracing::debug!(
                "{} system CA certificates from {}",
                roots.len(),
                path.display()
            );
            return Some(roots);
        }
    }
    None
}

/// `--ssl-request-cert` without `--ssl-reject-unauthorized`: ask for a
/// certificate, accept any (or none), as Node does (it only marks the
/// connection unauthorised, which CHP never looks at). The handshake
/// signature is still checked, so the client holds the key it claims.
#[derive(Debug)]
struct AnyClientCert {
    subjects: Vec<DistinguishedName>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.subjects
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `--insecure`: any target certificate is accepted (self-signed, expired,
/// wrong name). The handshake signature is still checked.
#[derive(Debug)]
struct AnyServerCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_names() {
        assert_eq!(MinVersion::parse("TLSv1_2"), Ok(Some(MinVersion::Tls12)));
        assert_eq!(MinVersion::parse("TLSv1_3"), Ok(Some(MinVersion::Tls13)));
        assert_eq!(
            MinVersion::parse("TLSv1_2_method"),
            Ok(Some(MinVersion::Tls12))
        );
        assert_eq!(MinVersion::parse("TLSv1.3"), Ok(Some(MinVersion::Tls13)));
        assert_eq!(MinVersion::parse("SSLv23"), Ok(None));
        for old in ["SSLv3", "TLSv1", "TLSv1_1", "nonsense"] {
            let message = MinVersion::parse(old).unwrap_err();
            assert!(message.contains("TLSv1_2 or TLSv1_3"), "{message}");
        }
    }

    #[test]
    fn encrypted_keys_are_recognised() {
        assert!(is_encrypted(
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n"
        ));
        assert!(is_encrypted(
            b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n"
        ));
        assert!(!is_encrypted(
            b"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"
        ));
    }

    #[test]
    fn key_without_certificate_is_refused() {
        let tls = ListenerTls {
            key: Some("k.pem".into()),
            ..ListenerTls::default()
        };
        let message = server_config(&tls, "--ssl", "CONFIGPROXY_SSL_KEY_PASSPHRASE", None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "--ssl-key was given without --ssl-cert: TLS needs both a key and a certificate"
        );
        assert!(
            server_config(&ListenerTls::default(), "--ssl", "X", None)
                .unwrap()
                .is_none()
        );
    }
}
