//! Command-line parsing, by hand: upstream's `--Class.trait=value` options
//! are free-form, which a derive parser cannot express.

use std::path::PathBuf;

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// Run the hub (default).
    Serve,
    /// Print a new API token for a user.
    Token {
        username: String,
        note: Option<String>,
    },
    /// Upgrade the database schema.
    UpgradeDb,
    /// Write a commented default config file.
    GenerateConfig,
}

/// How `--show-config` prints the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShowConfig {
    /// TOML (`--show-config`).
    Toml,
    /// JSON (`--show-config-json`).
    Json,
}

/// Parsed arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Args {
    pub(crate) command: Command,
    pub(crate) config_file: Option<PathBuf>,
    pub(crate) overrides: Vec<String>,
    pub(crate) debug: bool,
    pub(crate) upgrade_db: bool,
    pub(crate) yes: bool,
    /// Print the effective configuration instead of running.
    pub(crate) show_config: Option<ShowConfig>,
    pub(crate) help: bool,
    pub(crate) version: bool,
}

pub(crate) const HELP: &str = "\
ferrohub: a multi-user hub for Jupyter notebooks (JupyterHub-compatible)

Usage:
  ferrohub [OPTIONS]                   run the hub
  ferrohub token USERNAME [--note T]   print a new API token for USERNAME
  ferrohub upgrade-db                  upgrade the database schema (backs up SQLite first)
  ferrohub --generate-config [-y]      write a commented ferrohub.toml
  ferrohub --show-config [-f FILE]     print the options that differ from the defaults, as TOML
                                       (secrets masked); --show-config-json prints JSON

Options:
  -f, --config FILE        configuration file: ferrohub.toml, or upstream's jupyterhub_config.py
                           (read without running Python: plain values, os.environ, os.path,
                           conditions; a hook function or a custom class is refused, naming its
                           line; see docs/jupyterhub-config-py.md). Default: ferrohub.toml,
                           else jupyterhub_config.py, if present in the working directory
  --Class.trait=VALUE      set any option, e.g. --JupyterHub.bind_url=http://:9000
  --url URL                same as --JupyterHub.bind_url
  --ip IP, --port PORT     change the host or port of JupyterHub.bind_url
  --db URL                 same as --JupyterHub.db_url
  --pid-file FILE          same as --JupyterHub.pid_file
  --log-level LEVEL        same as --JupyterHub.log_level
  --upgrade-db             upgrade the database schema at start-up
  --debug                  log at debug level
  -y                       overwrite files (with --generate-config)
  -h, --help               this text
  -V, --version            print the version
";

/// Options that take a value and the config key they set.
const ALIASES: &[(&str, &str)] = &[
    ("--url", "JupyterHub.bind_url"),
    ("--db", "JupyterHub.db_url"),
    ("--pid-file", "JupyterHub.pid_file"),
    ("--log-level", "JupyterHub.log_level"),
];

impl Args {
    /// Parses the arguments after the program name.
    pub(crate) fn parse(raw: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut args = Self {
            command: Command::Serve,
            config_file: None,
            overrides: Vec::new(),
            debug: false,
            upgrade_db: false,
            yes: false,
            show_config: None,
            help: false,
            version: false,
        };
        let mut ip_port: (Option<String>, Option<String>) = (None, None);
        let mut positional = Vec::new();
        let mut note = None;
        let mut iter = raw.into_iter();
        while let Some(arg) = iter.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
                _ => (arg.clone(), None),
            };
            let mut value = |name: &str| -> Result<String, String> {
                inline
                    .clone()
                    .or_else(|| iter.next())
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            match flag.as_str() {
                "-h" | "--help" => args.help = true,
                "-V" | "--version" => args.version = true,
                "--debug" => args.debug = true,
                "--upgrade-db" => args.upgrade_db = true,
                "-y" => args.yes = true,
                "--generate-config" => args.command = Command::GenerateConfig,
                "--show-config" => args.show_config = Some(ShowConfig::Toml),
                "--show-config-json" => args.show_config = Some(ShowConfig::Json),
                // traitlets' own spelling of the same switches.
                "--Application.show_config"
                | "--JupyterHub.show_config"
                | "--Application.show_config_json"
                | "--JupyterHub.show_config_json" => {
                    let on = inline.as_deref().is_none_or(|v| v == "True" || v == "true");
                    if on {
                        args.show_config = Some(if flag.ends_with("_json") {
                            ShowConfig::Json
                        } else {
                            ShowConfig::Toml
                        });
                    }
                }
                "-f" | "--config" => args.config_file = Some(PathBuf::from(value(&flag)?)),
                "--note" => note = Some(value(&flag)?),
                "--ip" => ip_port.0 = Some(value(&flag)?),
                "--port" => ip_port.1 = Some(value(&flag)?),
                f if ALIASES.iter().any(|(a, _)| *a == f) => {
                    let key = ALIASES
                        .iter()
                        .find(|(a, _)| *a == f)
                        .map(|(_, k)| *k)
                        .unwrap_or_default();
                    args.overrides.push(format!("--{key}={}", value(f)?));
                }
                f if f.starts_with("--") && f[2..].contains('.') => {
                    let v = inline
                        .clone()
                        .ok_or_else(|| format!("{f} needs a value: {f}=VALUE"))?;
                    args.overrides.push(format!("{f}={v}"));
                }
                f if f.starts_with('-') => {
                    return Err(format!("unrecognized option {f}; see ferrohub --help"));
                }
                _ => positional.push(arg),
            }
        }
        args.command = match (args.command.clone(), positional.as_slice()) {
            (Command::GenerateConfig, []) => Command::GenerateConfig,
            (Command::Serve, []) => Command::Serve,
            (Command::Serve, [cmd, user]) if cmd == "token" => Command::Token {
                username: user.clone(),
                note,
            },
            (Command::Serve, [cmd]) if cmd == "token" => {
                return Err("token needs a USERNAME".into());
            }
            (Command::Serve, [cmd]) if cmd == "upgrade-db" => Command::UpgradeDb,
            (_, extra) => return Err(format!("unrecognized arguments: {}", extra.join(" "))),
        };
        if ip_port.0.is_some() || ip_port.1.is_some() {
            args.overrides
                .push(format!("--JupyterHub.bind_url={}", ip_port_url(ip_port)));
        }
        Ok(args)
    }
}

/// Builds a bind URL from `--ip`/`--port` (the rest of the default URL kept).
fn ip_port_url((ip, port): (Option<String>, Option<String>)) -> String {
    format!(
        "http://{}:{}",
        ip.unwrap_or_default(),
        port.unwrap_or_else(|| "8000".into())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        Args::parse(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn upstream_style_options() {
        let args = parse(&[
            "-f",
            "x.toml",
            "--Spawner.cmd=['a']",
            "--db",
            "sqlite:///y",
            "--debug",
        ])
        .unwrap();
        assert_eq!(args.config_file, Some(PathBuf::from("x.toml")));
        assert_eq!(
            args.overrides,
            ["--Spawner.cmd=['a']", "--JupyterHub.db_url=sqlite:///y"]
        );
        assert!(args.debug);
        assert_eq!(args.command, Command::Serve);
    }

    #[test]
    fn subcommands() {
        assert_eq!(
            parse(&["token", "alice"]).unwrap().command,
            Command::Token {
                username: "alice".into(),
                note: None
            }
        );
        assert_eq!(parse(&["upgrade-db"]).unwrap().command, Command::UpgradeDb);
        assert_eq!(
            parse(&["--generate-config", "-y"]).unwrap().command,
            Command::GenerateConfig
        );
        assert_eq!(
            parse(&["--port=9000"]).unwrap().overrides,
            ["--JupyterHub.bind_url=http://:9000"]
        );
    }

    #[test]
    fn show_config_switches() {
        assert_eq!(parse(&[]).unwrap().show_config, None);
        assert_eq!(
            parse(&["--show-config", "-f", "jupyterhub_config.py"])
                .unwrap()
                .show_config,
            Some(ShowConfig::Toml)
        );
        assert_eq!(
            parse(&["--show-config-json"]).unwrap().show_config,
            Some(ShowConfig::Json)
        );
        assert_eq!(
            parse(&["--Application.show_config=True"])
                .unwrap()
                .show_config,
            Some(ShowConfig::Toml)
        );
        let args = parse(&["--JupyterHub.show_config=False"]).unwrap();
        assert_eq!(args.show_config, None);
        assert!(args.overrides.is_empty());
    }

    #[test]
    fn refusals_are_clear() {
        assert_eq!(
            parse(&["--bogus"]).unwrap_err(),
            "unrecognized option --bogus; see ferrohub --help"
        );
        assert!(parse(&["frobnicate"]).unwrap_err().contains("frobnicate"));
        assert!(parse(&["token"]).unwrap_err().contains("USERNAME"));
        assert!(
            parse(&["--Spawner.cmd"])
                .unwrap_err()
                .contains("needs a value")
        );
    }
}
