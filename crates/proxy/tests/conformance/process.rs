//! Process lifecycle: pid file, signals, refused start-ups (proxy-spec §1,
//! §2, §9, §10).

use super::harness::{Impl, Proxy, TempDir, free_port, run_to_exit};

/// `--pid-file`: the pid without a newline; SIGTERM → exit status 2 and the
/// file removed.
pub async fn pid_file_and_sigterm(imp: Impl) {
    let dir = TempDir::new();
    let pid_file = dir.join("proxy.pid");
    let pid_arg = pid_file.to_str().expect("utf-8").to_owned();
    let mut proxy = Proxy::start(imp, &["--pid-file", &pid_arg]).await;
    let pid = std::fs::read_to_string(&pid_file).expect("pid file written");
    assert_eq!(pid, proxy.pid().to_string(), "pid, no newline");

    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill");
    assert!(killed.success());
    let status = proxy.wait_exit().await;
    assert_eq!(status.code(), Some(2), "exit status after SIGTERM");
    assert!(!pid_file.exists(), "pid file removed at exit");
}

/// SIGINT, like SIGTERM, ends the process with exit status 2.
pub async fn sigint(imp: Impl) {
    let mut proxy = Proxy::start(imp, &[]).await;
    let killed = tokio::process::Command::new("kill")
        .args(["-INT", &proxy.pid().to_string()])
        .status()
        .await
        .expect("kill");
    assert!(killed.success());
    assert_eq!(proxy.wait_exit().await.code(), Some(2));
}

/// Standard listening flags for start-ups that must fail (so that a proxy
/// that wrongly starts does not grab port 8000).
fn listen_args() -> Vec<String> {
    [
        "--ip",
        "127.0.0.1",
        "--port",
        &free_port().to_string(),
        "--api-ip",
        "127.0.0.1",
        "--api-port",
        &free_port().to_string(),
    ]
    .map(str::to_owned)
    .to_vec()
}

async fn refused(imp: Impl, extra: &[&str]) -> String {
    let mut args = listen_args();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run_to_exit(imp, &args).await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "{extra:?} exit status: {text}"
    );
    text
}

/// A `--custom-header` without a colon (or with an empty name) is refused.
pub async fn custom_header_invalid(imp: Impl) {
    for value in ["invalid", ": v"] {
        let output = refused(imp, &["--custom-header", value]).await;
        assert!(output.contains("colon was expected"), "{value:?}: {output}");
    }
}

/// `--storage-backend` naming a module that does not exist: start-up error.
pub async fn storage_backend_unknown(imp: Impl) {
    let output = refused(imp, &["--storage-backend", "no-such-ferrohub-store"]).await;
    assert!(output.contains("no-such-ferrohub-store"), "{output}");
}

/// `--redirect-port` needs `--ssl-key/--ssl-cert`.
pub async fn redirect_needs_tls(imp: Impl) {
    let port = free_port().to_string();
    let output = refused(imp, &["--redirect-port", &port]).await;
    assert!(output.to_lowercase().contains("certificate"), "{output}");
}

/// `--error-target` and `--error-path` together are refused.
pub async fn both_error_flags(imp: Impl) {
    let dir = TempDir::new();
    let dir_arg = dir.path().to_str().expect("utf-8").to_owned();
    refused(
        imp,
        &[
            "--error-target",
            "http://127.0.0.1:1/err",
            "--error-path",
            &dir_arg,
        ],
    )
    .await;
}
