//! configurable-http-proxy's command line (same flag names and defaults),
//! parsed by hand to keep the binary small.

use std::path::PathBuf;
use std::time::Duration;

/// Parsed options.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyOptions {
    /// Public bind address; empty = all interfaces.
    pub ip: String,
    /// Public port (0 = pick one, for tests).
    pub port: u16,
    /// API bind address.
    pub api_ip: String,
    /// API port; `None` = public port + 1.
    pub api_port: Option<u16>,
    /// Route `/` added at start-up.
    pub default_target: Option<String>,
    /// Fetch error pages from `<url>/<code>?url=...`.
    pub error_target: Option<String>,
    /// Serve error pages from `<dir>/<code>.html` or `<dir>/error.html`.
    pub error_path: Option<PathBuf>,
    /// Log level.
    pub log_level: String,
    /// Write the pid here; removed at exit.
    pub pid_file: Option<PathBuf>,
    /// Add `X-Forwarded-*` headers (default on).
    pub x_forward: bool,
    /// Prepend the target's path (default on).
    pub prepend_path: bool,
    /// Keep the route prefix in the forwarded path (default on).
    pub include_prefix: bool,
    /// Idle timeout on client requests.
    pub timeout: Option<Duration>,
    /// Timeout waiting for the target.
    pub proxy_timeout: Option<Duration>,
    /// Keep-alive timeout for client connections (default 5 s).
    pub keep_alive_timeout: Duration,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        Self {
            ip: String::new(),
            port: 8000,
            api_ip: "127.0.0.1".into(),
            api_port: None,
            default_target: None,
            error_target: None,
            error_path: None,
            log_level: "info".into(),
            pid_file: None,
            x_forward: true,
            prepend_path: true,
            include_prefix: true,
            timeout: None,
            proxy_timeout: None,
            keep_alive_timeout: Duration::from_secs(5),
        }
    }
}

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum CliAction {
    /// Run the proxy.
    Run(Box<ProxyOptions>),
    /// Print help.
    Help,
    /// Print the version.
    Version,
}

/// A refused command line (exit status 1, as CHP).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

/// Usage text.
pub const HELP: &str = "\
Usage: ferrohub-proxy [options]

A reverse proxy driven by configurable-http-proxy's REST API.

Options:
  --ip <ip-address>            public-facing IP of the proxy (default: all interfaces)
  --port <n>                   public-facing port of the proxy (default 8000)
  --api-ip <ip>                inward-facing IP for API requests (default localhost)
  --api-port <n>               inward-facing port for API requests (default: port + 1)
  --default-target <host>      default proxy target (proto://host[:port])
  --error-target <host>        alternate server for error pages (<host>/<code>?url=...)
  --error-path <path>          alternate directory for error pages (<code>.html, error.html)
  --no-x-forward               don't add 'X-forward-' headers to proxied requests
  --no-prepend-path            avoid prepending the target path to proxied requests
  --no-include-prefix          don't include the routing prefix in proxied requests
  --timeout <n>                timeout (in millis) when proxy drops connections for a request
  --proxy-timeout <n>          timeout (in millis) when proxy receives no response from target
  --keep-alive-timeout <n>     keep-alive timeout in millis (default 5000)
  --pid-file <pid-file>        write our PID to a file
  --log-level <loglevel>       log level (debug, info, warn, error) (default info)
  -V, --version                output the version number
  -h, --help                   display help for command

Environment: CONFIGPROXY_AUTH_TOKEN protects the REST API.
";

/// Flags CHP has that this proxy does not implement yet: refused clearly.
const NOT_YET: &[&str] = &[
    "--socket",
    "--api-socket",
    "--metrics-ip",
    "--metrics-port",
    "--metrics-socket",
    "--ssl-key",
    "--ssl-cert",
    "--ssl-ca",
    "--ssl-request-cert",
    "--ssl-reject-unauthorized",
    "--ssl-protocol",
    "--ssl-ciphers",
    "--ssl-allow-rc4",
    "--ssl-dhparam",
    "--api-ssl-key",
    "--api-ssl-cert",
    "--api-ssl-ca",
    "--api-ssl-request-cert",
    "--api-ssl-reject-unauthorized",
    "--client-ssl-key",
    "--client-ssl-cert",
    "--client-ssl-ca",
    "--client-ssl-request-cert",
    "--client-ssl-reject-unauthorized",
    "--insecure",
    "--redirect-port",
    "--redirect-to",
    "--auto-rewrite",
    "--change-origin",
    "--protocol-rewrite",
    "--custom-header",
    "--host-routing",
    "--storage-backend",
];

fn millis(flag: &str, value: &str) -> Result<Duration, CliError> {
    value
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| CliError(format!("{flag}: expected milliseconds, got {value:?}")))
}

fn port(flag: &str, value: &str) -> Result<u16, CliError> {
    value
        .parse::<u16>()
        .map_err(|_| CliError(format!("{flag}: expected a port number, got {value:?}")))
}

/// Parses the arguments after the program name.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<CliAction, CliError> {
    let mut options = ProxyOptions::default();
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| iter.next())
                .ok_or_else(|| CliError(format!("error: option '{flag}' argument missing")))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(CliAction::Help),
            "-V" | "--version" => return Ok(CliAction::Version),
            "--ip" => {
                let ip = value()?;
                options.ip = if ip == "*" { String::new() } else { ip };
            }
            "--port" => options.port = port("--port", &value()?)?,
            "--api-ip" => {
                let ip = value()?;
                options.api_ip = if ip == "localhost" {
                    "127.0.0.1".into()
                } else {
                    ip
                };
            }
            "--api-port" => options.api_port = Some(port("--api-port", &value()?)?),
            "--default-target" => options.default_target = Some(value()?),
            "--error-target" => options.error_target = Some(value()?),
            "--error-path" => options.error_path = Some(PathBuf::from(value()?)),
            "--log-level" => options.log_level = value()?.to_lowercase(),
            "--pid-file" => options.pid_file = Some(PathBuf::from(value()?)),
            "--no-x-forward" => options.x_forward = false,
            "--no-prepend-path" => options.prepend_path = false,
            "--no-include-prefix" => options.include_prefix = false,
            "--timeout" => options.timeout = Some(millis("--timeout", &value()?)?),
            "--proxy-timeout" => {
                options.proxy_timeout = Some(millis("--proxy-timeout", &value()?)?)
            }
            "--keep-alive-timeout" => {
                options.keep_alive_timeout = millis("--keep-alive-timeout", &value()?)?
            }
            f if NOT_YET.contains(&f) => {
                return Err(CliError(format!(
                    "error: option '{f}' is not supported by ferrohub-proxy yet"
                )));
            }
            f => return Err(CliError(format!("error: unknown option '{f}'"))),
        }
    }
    if options.error_target.is_some() && options.error_path.is_some() {
        return Err(CliError(
            "error: --error-target and --error-path cannot both be given".into(),
        ));
    }
    if !matches!(
        options.log_level.as_str(),
        "debug" | "info" | "warn" | "error"
    ) {
        return Err(CliError(format!(
            "error: --log-level must be debug, info, warn or error, not {:?}",
            options.log_level
        )));
    }
    Ok(CliAction::Run(Box::new(options)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<ProxyOptions, CliError> {
        match parse_args(args.iter().map(|s| (*s).to_owned()))? {
            CliAction::Run(options) => Ok(*options),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn jupyterhub_command_line() {
        let o = run(&[
            "--ip",
            "127.0.0.1",
            "--port",
            "18000",
            "--api-ip",
            "127.0.0.1",
            "--api-port=18001",
            "--error-target",
            "http://127.0.0.1:18081/hub/error",
            "--log-level",
            "info",
        ])
        .unwrap();
        assert_eq!(
            (o.ip.as_str(), o.port, o.api_port),
            ("127.0.0.1", 18000, Some(18001))
        );
        assert_eq!(
            o.error_target.as_deref(),
            Some("http://127.0.0.1:18081/hub/error")
        );
        assert!(o.x_forward && o.prepend_path && o.include_prefix);
    }

    #[test]
    fn defaults_and_negations() {
        let o = run(&["--no-x-forward", "--no-include-prefix", "--timeout", "1500"]).unwrap();
        assert_eq!(o.port, 8000);
        assert_eq!(o.api_ip, "127.0.0.1");
        assert!(!o.x_forward && !o.include_prefix && o.prepend_path);
        assert_eq!(o.timeout, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn refusals() {
        assert_eq!(
            run(&["--bogus"]).unwrap_err().0,
            "error: unknown option '--bogus'"
        );
        assert!(
            run(&["--ssl-key", "k"])
                .unwrap_err()
                .0
                .contains("not supported")
        );
        assert!(run(&["--port"]).unwrap_err().0.contains("argument missing"));
        assert!(run(&["--port", "x"]).unwrap_err().0.contains("port number"));
        assert!(run(&["--error-target", "a", "--error-path", "b"]).is_err());
    }
}
