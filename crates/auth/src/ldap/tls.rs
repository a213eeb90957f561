//! The rustls client configuration for the LDAP server, from upstream's
//! `tls_kwargs` (the arguments of `ldap3.Tls`): which CAs to trust, whether
//! to verify at all, and further names the certificate may carry.
//!
//! Always the ring provider, named explicitly, so no process-wide default
//! provider is needed (and aws-lc-rs never enters the build).

use std::path::Path;
use std::sync::Arc;

use ferrohub_config::{CertValidation, TlsKwargs};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};

use crate::AuthError;

/// Builds the client configuration `tls_kwargs` describes. Files are read
/// now, so a missing or empty CA file stops the hub at start-up (upstream
/// fails each login instead).
pub(super) fn client_config(kwargs: &TlsKwargs) -> Result<Arc<ClientConfig>, AuthError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(format!("TLS: {e}")))?;
    let validate = kwargs.validate.unwrap_or(CertValidation::Required);
    let verifier: Arc<dyn ServerCertVerifier> = if validate.verifies() {
        let roots = Arc::new(root_store(kwargs)?);
        let webpki = WebPkiServerVerifier::builder_with_provider(roots, Arc::clone(&provider))
            .build()
            .map_err(|e| config_error(format!("TLS: {e}")))?;
        if kwargs.valid_names.is_empty() {
            webpki
        } else {
            Arc::new(AlsoValidFor {
                inner: webpki,
                names: kwargs.valid_names.clone(),
            })
        }
    } else {
        tracing::warn!(
            "LDAPAuthenticator.tls_kwargs.validate is CERT_NONE: the LDAP server's certificate \
             is not checked, so anyone on the network path can read the passwords"
        );
        Arc::new(AnyCertificate(provider.signature_verification_algorithms))
    };
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn config_error(message: impl std::fmt::Display) -> AuthError {
    AuthError::Config(format!("LDAPAuthenticator.tls_kwargs: {message}"))
}

/// The CAs of `ca_certs_file`, `ca_certs_path` and `ca_certs_data`; none
/// given means the system's (as Python's `ssl.create_default_context`).
fn root_store(kwargs: &TlsKwargs) -> Result<RootCertStore, AuthError> {
    let mut store = RootCertStore::empty();
    let mut given = false;
    if let Some(file) = &kwargs.ca_certs_file {
        given = true;
        add_pem_file(&mut store, Path::new(file), "ca_certs_file")?;
    }
    if let Some(dir) = &kwargs.ca_certs_path {
        given = true;
        let entries = std::fs::read_dir(dir)
            .map_err(|e| config_error(format!("ca_certs_path {dir:?}: {e}")))?;
        let mut paths: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.is_file())
            .collect();
        paths.sort();
        for path in paths {
            // A directory of hashed links holds other files too (CRLs,
            // READMEs); take what parses as certificates.
            if let Ok(certs) = CertificateDer::pem_file_iter(&path) {
                for cert in certs.flatten() {
                    if store.add(cert).is_err() {
                        tracing::debug!(path = %path.display(), "skipping an unusable CA certificate");
                    }
                }
            }
        }
        if store.is_empty() {
            return Err(config_error(format!(
                "ca_certs_path {dir:?} holds no PEM certificates"
            )));
        }
    }
    if let Some(data) = &kwargs.ca_certs_data {
        given = true;
        let before = store.len();
        for cert in CertificateDer::pem_slice_iter(data.as_bytes()) {
            let cert = cert.map_err(|e| config_error(format!("ca_certs_data: {e}")))?;
            store
                .add(cert)
                .map_err(|e| config_error(format!("ca_certs_data: {e}")))?;
        }
        if store.len() == before {
            return Err(config_error(
                "ca_certs_data holds no PEM certificates".to_owned(),
            ));
        }
    }
    if !given {
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::warn!("loading the system's CA certificates: {error}");
        }
        let (added, _ignored) = store.add_parsable_certificates(found.certs);
        if added == 0 {
            tracing::warn!(
                "no system CA certificates found: TLS to the LDAP server will fail unless \
                 LDAPAuthenticator.tls_kwargs names a CA (ca_certs_file)"
            );
        }
    }
    Ok(store)
}

fn add_pem_file(store: &mut RootCertStore, path: &Path, key: &str) -> Result<(), AuthError> {
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| config_error(format!("{key} {shown}: {e}")))?;
    let before = store.len();
    for cert in certs {
        let cert = cert.map_err(|e| config_error(format!("{key} {shown}: {e}")))?;
        store
            .add(cert)
            .map_err(|e| config_error(format!("{key} {shown}: {e}")))?;
    }
    if store.len() == before {
        return Err(config_error(format!(
            "{key} {shown} holds no PEM certificates"
        )));
    }
    Ok(())
}

/// `valid_names`: the certificate may be issued to one of these names
/// instead of `server_address` (`*`: to any name). The chain is verified
/// in every case.
#[derive(Debug)]
struct AlsoValidFor {
    inner: Arc<WebPkiServerVerifier>,
    names: Vec<String>,
}

/// Whether `error` says only that the certificate is for another name
/// (webpki checks the chain first, so the chain was fine).
fn wrong_name(error: &rustls::Error) -> bool {
    matches!(
        error,
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        )
    )
}

impl ServerCertVerifier for AlsoValidFor {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let first = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match first {
            Err(error) if wrong_name(&error) => {
                if self.names.iter().any(|n| n == "*") {
                    return Ok(ServerCertVerified::assertion());
                }
                for name in &self.names {
                    let Ok(name) = ServerName::try_from(name.as_str()) else {
                        continue;
                    };
                    let verified = self.inner.verify_server_cert(
                        end_entity,
                        intermediates,
                        &name,
                        ocsp_response,
                        now,
                    );
                    if verified.is_ok() {
                        return verified;
                    }
                }
                Err(error)
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `validate = CERT_NONE`: any certificate is accepted (the handshake's
/// signatures are still checked, so the session key belongs to whoever
/// holds the presented certificate's key).
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
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
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_empty_ca_files_are_refused_at_start() {
        let kwargs = TlsKwargs {
            ca_certs_file: Some("/nonexistent/ca.pem".into()),
            ..TlsKwargs::default()
        };
        let err = client_config(&kwargs).unwrap_err().to_string();
        assert!(
            err.contains("ca_certs_file") && err.contains("/nonexistent/ca.pem"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let kwargs = TlsKwargs {
            ca_certs_file: Some(empty.display().to_string()),
            ..TlsKwargs::default()
        };
        let err = client_config(&kwargs).unwrap_err().to_string();
        assert!(err.contains("holds no PEM certificates"), "{err}");
        let kwargs = TlsKwargs {
            ca_certs_data: Some("garbage".into()),
            ..TlsKwargs::default()
        };
        assert!(client_config(&kwargs).is_err());
    }

    #[test]
    fn cert_none_builds_without_any_ca() {
        let kwargs = TlsKwargs {
            validate: Some(CertValidation::None),
            ..TlsKwargs::default()
        };
        assert!(client_config(&kwargs).is_ok());
    }
}
