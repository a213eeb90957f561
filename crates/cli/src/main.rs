//! `ferrohub`: the hub's command line. Parses arguments, loads and validates
//! the configuration before touching anything, then runs the hub or a
//! maintenance subcommand (`token`, `upgrade-db`, `generate-config`).

mod args;
mod systemd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use args::{Args, Command, ShowConfig};
use ferrohub_config::Config;

/// Exit status for configuration and usage errors (`EX_USAGE`).
const EX_USAGE: u8 = 64;
/// The configuration file read when `-f` is not given and it exists.
const DEFAULT_CONFIG_FILE: &str = "ferrohub.toml";
/// Upstream's configuration file, read when `-f` is not given, it exists
/// and [`DEFAULT_CONFIG_FILE`] does not.
const UPSTREAM_CONFIG_FILE: &str = "jupyterhub_config.py";

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => return fail(EX_USAGE, &message),
    };
    if args.help {
        print!("{}", args::HELP);
        return ExitCode::SUCCESS;
    }
    if args.version {
        println!(
            "ferrohub {} (JupyterHub {})",
            env!("CARGO_PKG_VERSION"),
            ferrohub_core::JUPYTERHUB_VERSION
        );
        return ExitCode::SUCCESS;
    }
    if let Command::GenerateConfig = args.command {
        return generate_config(&args);
    }
    let mut config = match load_config(&args) {
        Ok(config) => config,
        Err(message) => return fail(EX_USAGE, &message),
    };
    // `c.Application.show_config = True` in a jupyterhub_config.py asks the same.
    let in_file = || {
        config_path(&args)
            .as_deref()
            .and_then(ferrohub_config::file_requests_show_config)
            .map(|json| {
                if json {
                    ShowConfig::Json
                } else {
                    ShowConfig::Toml
                }
            })
    };
    if let Some(format) = args.show_config.or_else(in_file) {
        return show_config(&args, &config, format);
    }
    // Upgrading the schema never reads auth_state, so it needs no
    // JUPYTERHUB_CRYPT_KEY (upstream's `upgrade-db` does not check it either).
    if let Command::UpgradeDb = args.command {
        config.authenticator.enable_auth_state = false;
    }
    // Everything that can be checked without I/O, before any file is written.
    if let Err(problem) = ferrohub_hub::check_config(&config) {
        return fail(EX_USAGE, &problem.to_string());
    }
    init_logging(&config, args.debug);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return fail(1, &format!("cannot start the async runtime: {e}")),
    };
    let result = runtime.block_on(async {
        match &args.command {
            Command::Serve => serve(config).await,
            Command::Token { username, note } => token(&config, username, note.as_deref()).await,
            Command::UpgradeDb => upgrade_db(&config).await,
            Command::GenerateConfig => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(1, &message),
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("ferrohub: {message}");
    ExitCode::from(code)
}

/// The file `-f` names, else the first of ferrohub.toml and
/// jupyterhub_config.py in the working directory.
fn config_path(args: &Args) -> Option<PathBuf> {
    match &args.config_file {
        Some(path) => Some(path.clone()),
        None => [DEFAULT_CONFIG_FILE, UPSTREAM_CONFIG_FILE]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists()),
    }
}

/// `--show-config`: the effective configuration on stdout (the same text for
/// a `.py` file and its equivalent TOML), the file it came from on stderr.
fn show_config(args: &Args, config: &Config, format: ShowConfig) -> ExitCode {
    let text = match format {
        ShowConfig::Toml => ferrohub_config::show_config_toml(config),
        ShowConfig::Json => ferrohub_config::show_config_json(config),
    };
    match text {
        Ok(text) => {
            if let Some(path) = config_path(args) {
                eprintln!("Loaded config file: {}", path.display());
            }
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(1, &e.to_string()),
    }
}

fn load_config(args: &Args) -> Result<Config, String> {
    let path = config_path(args);
    let mut config =
        ferrohub_config::load(path.as_deref(), &args.overrides).map_err(|e| e.to_string())?;
    if args.upgrade_db {
        config.jupyterhub.upgrade_db = true;
    }
    Ok(config)
}

fn init_logging(config: &Config, debug: bool) {
    let level = if debug {
        "debug"
    } else {
        config.jupyterhub.log_level.as_str()
    };
    let level = if level == "warning" { "warn" } else { level };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{level},sqlx=warn,hyper_util=info"))
    });
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    // Under systemd the journal keeps time and priority: one
    // `<priority>message` line per event, no colour.
    if systemd::stderr_is_journal() {
        subscriber
            .with_ansi(false)
            .event_format(systemd::JournalLines)
            .init();
    } else {
        subscriber.init();
    }
}

fn generate_config(args: &Args) -> ExitCode {
    let path = args
        .config_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE));
    if path.extension().is_some_and(|e| e == "py") {
        return fail(
            EX_USAGE,
            &format!(
                "--generate-config writes TOML; name a .toml file, not {}",
                path.display()
            ),
        );
    }
    if path.exists() && !args.yes {
        return fail(
            1,
            &format!("{} exists; pass -y to overwrite it", path.display()),
        );
    }
    match std::fs::write(&path, ferrohub_config::generate_config()) {
        Ok(()) => {
            println!("Wrote default config file to {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => fail(1, &format!("cannot write {}: {e}", path.display())),
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("received SIGTERM, shutting down"),
        _ = int.recv() => tracing::info!("received SIGINT, shutting down"),
    }
    systemd::notify("STOPPING=1");
}

async fn serve(config: Config) -> Result<(), String> {
    let public_url = config.jupyterhub.bind_url.clone();
    let hub = ferrohub_hub::Hub::start(config)
        .await
        .map_err(|e| e.to_string())?;
    // The hub's port is bound and the proxy answers: a `Type=notify` unit
    // is started now (connections queue until `serve` accepts them).
    systemd::notify(&format!("READY=1\nSTATUS=serving on {public_url}"));
    hub.serve(shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

async fn open_store(config: &Config) -> Result<ferrohub_store::Store, String> {
    let store = ferrohub_store::Store::connect(&config.jupyterhub.db_url)
        .await
        .map_err(|e| e.to_string())?;
    store.prepare().await.map_err(|e| e.to_string())?;
    Ok(store)
}

async fn token(config: &Config, username: &str, note: Option<&str>) -> Result<(), String> {
    let store = open_store(config).await?;
    let name = ferrohub_core::names::normalize_username(username);
    let user = store
        .user_by_name(&name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no such user: {name}"))?;
    let token = ferrohub_core::token::new_token();
    store
        .create_token(&ferrohub_store::NewToken {
            token: &token,
            rounds: ferrohub_core::token::GENERATED_TOKEN_ROUNDS,
            owner: ferrohub_store::TokenOwner::User(user.id),
            client_id: ferrohub_store::BUILTIN_CLIENT,
            session_id: None,
            scopes: &["inherit".to_owned()],
            note: Some(note.unwrap_or("command-line generated")),
            expires_at: None,
        })
        .await
        .map_err(|e| e.to_string())?;
    println!("{token}");
    Ok(())
}

async fn upgrade_db(config: &Config) -> Result<(), String> {
    let store = ferrohub_store::Store::connect(&config.jupyterhub.db_url)
        .await
        .map_err(|e| e.to_string())?;
    let backup = store.upgrade().await.map_err(|e| e.to_string())?;
    if let Some(path) = backup.as_deref().map(Path::display) {
        println!("Backed up the database to {path}");
    }
    println!(
        "Database schema is at version {}",
        ferrohub_store::SCHEMA_VERSION
    );
    Ok(())
}
