//! `ferrohub-proxy`: configurable-http-proxy's command line, our engine.

use std::process::ExitCode;

use ferrohub_proxy::{CliAction, ProxyServer, parse_args};

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
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{},hyper_util=warn", options.log_level))
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(run(options))
}

async fn run(options: ferrohub_proxy::ProxyOptions) -> ExitCode {
    let pid_file = options.pid_file.clone();
    let server =
        match ProxyServer::bind(options, std::env::var("CONFIGPROXY_AUTH_TOKEN").ok()).await {
            Ok(server) => server,
            Err(e) => {
                eprintln!("ferrohub-proxy: cannot listen: {e}");
                return ExitCode::from(1);
            }
        };
    if let Some(path) = &pid_file
        && let Err(e) = std::fs::write(path, std::process::id().to_string())
    {
        eprintln!("ferrohub-proxy: pid file {}: {e}", path.display());
        return ExitCode::from(1);
    }
    server.serve(signal()).await;
    if let Some(path) = &pid_file {
        let _ = std::fs::remove_file(path);
    }
    // CHP exits with status 2 on SIGINT/SIGTERM.
    ExitCode::from(2)
}

async fn signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::warn!("Exiting on SIGTERM"),
        _ = int.recv() => tracing::warn!("Exiting on SIGINT"),
    }
}
