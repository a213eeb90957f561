//! `ferrohub-proxy`: configurable-http-proxy's command line in front of the
//! ferrohub-proxy library. Exit status: 1 for a refused command line or a
//! failed start, 2 after SIGINT/SIGTERM (as CHP). SIGHUP reloads the TLS
//! certificate files.

use std::path::Path;
use std::process::ExitCode;

use ferrohub_proxy::{CliAction, ProxyOptions, ProxyServer, logging, parse_args};

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(CliAction::Run(options)) => *options,
        Ok(CliAction::Help) => {
            print!("{}", ferrohub_proxy::cli::HELP);
            return ExitCode::SUCCESS;
        }
        Ok(CliAction::Version) => {
            println!("{}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    logging::init(&options.log_level);
    match runtime(&options) {
        Ok(runtime) => runtime.block_on(run(options)),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::from(1)
        }
    }
}

/// The async runtime: work-stealing across the CPUs we may use, but on one
/// CPU (pinned, or a one-CPU container) a single-threaded runtime, which does
/// the same work with less bookkeeping (about 8% less CPU per proxied
/// request in `bench/proxy`). `--busy-poll` needs the single-threaded one:
/// its spinner polls the I/O driver only where it runs, and with several
/// workers another one would be asleep in `epoll_wait` holding the driver.
fn runtime(options: &ProxyOptions) -> std::io::Result<tokio::runtime::Runtime> {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if cpus == 1 || options.busy_poll.is_some() {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Runtime::new()
    }
}

async fn run(options: ProxyOptions) -> ExitCode {
    let pid_file = options.pid_file.clone();
    let token = std::env::var("CONFIGPROXY_AUTH_TOKEN").ok();
    let server = match ProxyServer::bind(options, token).await {
        Ok(server) => server,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(path) = &pid_file
        && let Err(e) =
            ferrohub_files::write_private(path, std::process::id().to_string().as_bytes())
    {
        eprintln!("error: cannot write pid file: {e}");
        return ExitCode::from(1);
    }
    tokio::spawn(reload_on_sighup(server.tls_reloader()));
    server.serve(signal()).await;
    if let Some(path) = &pid_file {
        remove_pid_file(path);
    }
    ExitCode::from(2)
}

fn remove_pid_file(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        tracing::warn!("cannot remove pid file {}: {e}", path.display());
    }
}

/// SIGHUP re-reads the TLS certificate and key files (a renewed
/// certificate without a restart: routes and connections stay).
async fn reload_on_sighup(reloader: std::sync::Arc<ferrohub_proxy::server::TlsReloader>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot install a SIGHUP handler; certificates reload only on restart");
        return;
    };
    while hangup.recv().await.is_some() {
        if reloader.is_empty() {
            tracing::info!("SIGHUP: no TLS listener, nothing to reload");
            continue;
        }
        match reloader.reload() {
            Ok(()) => tracing::info!("SIGHUP: TLS certificates reloaded"),
            Err(e) => tracing::error!("SIGHUP: keeping the current TLS certificates: {e}"),
        }
    }
}

/// Resolves on SIGINT or SIGTERM, after logging which.
async fn signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::warn!("Exiting on SIGTERM"),
        _ = int.recv() => tracing::warn!("Exiting on SIGINT"),
    }
}
