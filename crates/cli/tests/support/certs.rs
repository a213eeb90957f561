//! Certificates and an HTTPS client for the TLS tests: a self-signed
//! certificate made with `openssl`, and `curl` (HTTP/2 through nghttp2) as
//! the client that trusts it. scripts/setup.sh installs both.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A self-signed certificate for 127.0.0.1 and localhost (and any name
/// under `localhost`), made with `openssl` in `dir`: `(cert, key)`.
pub fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("hub-cert.pem"), dir.join("hub-key.pem"));
    let output = Command::new("openssl")
        .args(["req", "-x509", "-nodes", "-days", "2", "-newkey", "ec"])
        .args([
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-subj",
            "/CN=localhost",
        ])
        .args([
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:*.localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl");
    assert!(
        output.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (cert, key)
}

/// `curl` with `args`: (succeeded, stdout, stderr).
pub fn curl(args: &[&str]) -> (bool, String, String) {
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .expect("run curl");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
