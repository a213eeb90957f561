//! configurable-http-proxy's command line: same flag names, defaults and
//! `--flag value` / `--flag=value` forms, so a hub can start us in its place.
//! Parsed by hand to keep the binary small and quick to build.

use std::path::PathBuf;
use std::time::Duration;

/// Everything the command line configures, with CHP's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyOptions {
    /// Public bind address; empty (or `*`) = all interfaces.
    pub ip: String,
    /// Public port. 0 picks a free port (CHP would fall back to 8000).
    pub port: u16,
    /// API bind address (`localhost` is taken as 127.0.0.1).
    pub api_ip: String,
    /// API port; `None` = public port + 1.
    pub api_port: Option<u16>,
    /// Target of a route `/` added at start-up.
    pub default_target: Option<String>,
    /// Server whose `GET <url>/<code>?url=...` supplies error pages.
    pub error_target: Option<String>,
    /// Directory with `<code>.html` / `error.html` error pages.
    pub error_path: Option<PathBuf>,
    /// `debug`, `info`, `warn` or `error`.
    pub log_level: String,
    /// Where to write our pid (removed at exit).
    pub pid_file: Option<PathBuf>,
    /// Add `X-Forwarded-*` headers (`--no-x-forward` turns it off).
    pub x_forward: bool,
    /// Prepend the target's path (`--no-prepend-path` turns it off).
    pub prepend_path: bool,
    /// Keep the route prefix in the forwarded path (`--no-include-prefix`).
    pub include_prefix: bool,
    /// Drop a client connection whose request makes no progress this long.
    pub timeout: Option<Duration>,
    /// Answer 503 when the target sends nothing for this long.
    pub proxy_timeout: Option<Duration>,
    /// Idle keep-alive timeout for client connections.
    pub keep_alive_timeout: Duration,
    /// Route by `Host` first: keys are `/<hostname>[/<path>]` (`--host-routing`).
    pub host_routing: bool,
    /// Request headers added to (or replacing) the client's on every proxied
    /// request, websockets included (`--custom-header "name: value"`).
    pub custom_headers: Vec<(String, String)>,
    /// Send the target's host as `Host` instead of the client's (`--change-origin`).
    pub change_origin: bool,
    /// In redirects pointing at the target, put the client's `Host` back (`--auto-rewrite`).
    pub auto_rewrite: bool,
    /// In redirects pointing at the target, use this scheme (`--protocol-rewrite`).
    pub protocol_rewrite: Option<String>,
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
            keep_alive_timeout: DEFAULT_KEEP_ALIVE,
            host_routing: false,
            custom_headers: Vec::new(),
            change_origin: false,
            auto_rewrite: false,
            protocol_rewrite: None,
        }
    }
}

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliAction {
    /// Run the proxy with these options.
    Run(Box<ProxyOptions>),
    /// Print [`HELP`] and exit.
    Help,
    /// Print the version and exit.
    Version,
}

/// A refused command line: the message is the one line printed before
/// exiting with status 1, as CHP (commander) does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error: {0}")]
pub struct CliError(pub String);

/// The `--help` text.
pub const HELP: &str = "\
Usage: ferrohub-proxy [options]

A reverse proxy driven by configurable-http-proxy's REST API.

Options:
  -V, --version                output the version number
  --ip <ip-address>            public-facing IP of the proxy (default: all interfaces)
  --port <n>                   public-facing port of the proxy (default 8000)
  --api-ip <ip>                inward-facing IP for API requests (default localhost)
  --api-port <n>               inward-facing port for API requests (default: --port + 1)
  --default-target <host>      default proxy target (http://host[:port][/path])
  --error-target <host>        server for error pages (<host>/<code>?url=<request url>)
  --error-path <path>          directory for error pages (<code>.html, error.html)
  --pid-file <pid-file>        write our PID to a file
  --no-x-forward               don't add 'X-Forwarded-*' headers to proxied requests
  --no-prepend-path            don't prepend the target's path to proxied requests
  --no-include-prefix          don't include the routing prefix in proxied requests
  --timeout <n>                drop a client connection idle this long in a request (ms)
  --proxy-timeout <n>          answer 503 when the target is silent this long (ms)
  --keep-alive-timeout <n>     idle timeout of client keep-alive connections (ms, default 5000)
  --host-routing               route by Host header first (route keys /<hostname>[/<path>])
  --custom-header <header>     add \"name: value\" to every proxied request (repeatable)
  --change-origin              send the target's host as the Host header
  --auto-rewrite               in redirects to the target, put the client's host back
  --protocol-rewrite <proto>   in redirects to the target, use this scheme (http, https)
  --storage-backend <module>   refused: routes live in memory only (Node modules cannot load)
  --log-level <loglevel>       log level (debug, info, warn, error) (default: info)
  -h, --help                   display help for command

Environment:
  CONFIGPROXY_AUTH_TOKEN       token the REST API requires (\"Authorization: token <t>\");
                               unset = API open to anyone who can reach it

Not supported yet (refused): --socket, --api-socket, --metrics-*, --ssl-*, --api-ssl-*,
--client-ssl-*, --insecure, --redirect-port, --redirect-to.
";

const DEFAULT_KEEP_ALIVE: Duration = Duration::from_millis(5000);

/// CHP flags this proxy does not implement yet. They are refused with a
/// clear message: silently ignoring TLS or routing flags would be unsafe.
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
];

/// Parses the arguments after the program name.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<CliAction, CliError> {
    let mut options = ProxyOptions::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value)),
            _ => (arg.clone(), None),
        };
        let inline = inline.map(str::to_owned);
        match flag.as_str() {
            "-h" | "--help" => return Ok(CliAction::Help),
            "-V" | "--version" => return Ok(CliAction::Version),
            "--no-x-forward" | "--no-prepend-path" | "--no-include-prefix" => {
                if inline.is_some() {
                    return Err(CliError(format!("option '{flag}' takes no value")));
                }
                set_switch(&mut options, &flag);
            }
            "--host-routing" | "--change-origin" | "--auto-rewrite" => {
                if inline.is_some() {
                    return Err(CliError(format!("option '{flag}' takes no value")));
                }
                set_routing_switch(&mut options, &flag);
            }
            _ if flag.starts_with('-') => {
                let value = match inline {
                    Some(value) => value,
                    None => next_value(&flag, &mut args)?,
                };
                set_value(&mut options, &flag, value)?;
            }
            _ => return Err(CliError(format!("unexpected argument '{arg}'"))),
        }
    }
    check(&options)?;
    Ok(CliAction::Run(Box::new(options)))
}

/// The value after a flag, refusing a missing one (or another flag in its place).
fn next_value(flag: &str, args: &mut impl Iterator<Item = String>) -> Result<String, CliError> {
    if NOT_YET.contains(&flag) {
        return Err(not_yet(flag));
    }
    if !is_value_flag(flag) {
        return Err(CliError(format!("unknown option '{flag}'")));
    }
    match args.next() {
        Some(value) if !value.starts_with("--") => Ok(value),
        _ => Err(CliError(format!("option '{flag}' argument missing"))),
    }
}

fn is_value_flag(flag: &str) -> bool {
    matches!(
        flag,
        "--ip"
            | "--port"
            | "--api-ip"
            | "--api-port"
            | "--default-target"
            | "--error-target"
            | "--error-path"
            | "--log-level"
            | "--pid-file"
            | "--timeout"
            | "--proxy-timeout"
            | "--keep-alive-timeout"
            | "--custom-header"
            | "--protocol-rewrite"
            | "--storage-backend"
    )
}

fn set_switch(options: &mut ProxyOptions, flag: &str) {
    match flag {
        "--no-x-forward" => options.x_forward = false,
        "--no-prepend-path" => options.prepend_path = false,
        _ => options.include_prefix = false,
    }
}

/// The routing switches (`--host-routing`, `--change-origin`, `--auto-rewrite`).
fn set_routing_switch(options: &mut ProxyOptions, flag: &str) {
    match flag {
        "--host-routing" => options.host_routing = true,
        "--change-origin" => options.change_origin = true,
        _ => options.auto_rewrite = true,
    }
}

fn set_value(options: &mut ProxyOptions, flag: &str, value: String) -> Result<(), CliError> {
    match flag {
        "--ip" => options.ip = value,
        "--port" => options.port = port(flag, &value)?,
        "--api-ip" => {
            options.api_ip = if value == "localhost" {
                "127.0.0.1".into()
            } else {
                value
            };
        }
        "--api-port" => options.api_port = Some(port(flag, &value)?),
        "--default-target" => options.default_target = Some(target_url(flag, value)?),
        "--error-target" => options.error_target = Some(target_url(flag, value)?),
        "--error-path" => options.error_path = Some(PathBuf::from(value)),
        "--log-level" => options.log_level = value.to_lowercase(),
        "--pid-file" => options.pid_file = Some(PathBuf::from(value)),
        "--timeout" => options.timeout = millis(flag, &value)?,
        "--proxy-timeout" => options.proxy_timeout = millis(flag, &value)?,
        "--keep-alive-timeout" => {
            options.keep_alive_timeout = millis(flag, &value)?.unwrap_or(DEFAULT_KEEP_ALIVE);
        }
        "--custom-header" => options.custom_headers.push(custom_header(&value)?),
        "--protocol-rewrite" => options.protocol_rewrite = Some(protocol(&value)?),
        "--storage-backend" => {
            return Err(CliError(format!(
                "cannot load storage backend '{value}': ferrohub-proxy keeps routes in memory \
                 only and cannot load Node modules (leave --storage-backend out)"
            )));
        }
        _ if NOT_YET.contains(&flag) => return Err(not_yet(flag)),
        _ => return Err(CliError(format!("unknown option '{flag}'"))),
    }
    Ok(())
}

fn not_yet(flag: &str) -> CliError {
    CliError(format!(
        "option '{flag}' is not supported by ferrohub-proxy yet"
    ))
}

/// Cross-flag rules, checked once everything is read.
fn check(options: &ProxyOptions) -> Result<(), CliError> {
    if options.error_target.is_some() && options.error_path.is_some() {
        return Err(CliError(
            "cannot specify both --error-target and --error-path. Pick one.".into(),
        ));
    }
    if !matches!(
        options.log_level.as_str(),
        "debug" | "info" | "warn" | "error"
    ) {
        return Err(CliError(format!(
            "--log-level must be one of debug, info, warn, error (got '{}')",
            options.log_level
        )));
    }
    Ok(())
}

/// `"name: value"`, split at the first colon and trimmed as CHP does
/// (`" k2 : host:123 "` → `k2: host:123`).
fn custom_header(value: &str) -> Result<(String, String), CliError> {
    let trimmed = value.trim();
    let Some((name, header_value)) = trimmed.split_once(':').filter(|(n, _)| !n.is_empty()) else {
        return Err(CliError(format!(
            "A colon was expected in custom header: {trimmed}"
        )));
    };
    let (name, header_value) = (name.trim(), header_value.trim());
    if http::HeaderName::from_bytes(name.as_bytes()).is_err()
        || http::HeaderValue::from_str(header_value).is_err()
    {
        return Err(CliError(format!(
            "invalid custom header '{trimmed}': not a valid HTTP header name and value"
        )));
    }
    Ok((name.to_owned(), header_value.to_owned()))
}

/// The scheme `--protocol-rewrite` puts into redirect locations.
fn protocol(value: &str) -> Result<String, CliError> {
    let scheme = value.trim().trim_end_matches(':').to_ascii_lowercase();
    if matches!(scheme.as_str(), "http" | "https") {
        Ok(scheme)
    } else {
        Err(CliError(format!(
            "option '--protocol-rewrite' expects http or https, got '{value}'"
        )))
    }
}

/// A duration in milliseconds; 0 means "none", as CHP treats it.
fn millis(flag: &str, value: &str) -> Result<Option<Duration>, CliError> {
    let ms: u64 = value.trim().parse().map_err(|_| {
        CliError(format!(
            "option '{flag}' expects milliseconds, got '{value}'"
        ))
    })?;
    Ok((ms > 0).then(|| Duration::from_millis(ms)))
}

fn port(flag: &str, value: &str) -> Result<u16, CliError> {
    value.trim().parse().map_err(|_| {
        CliError(format!(
            "option '{flag}' expects a port number (0-65535), got '{value}'"
        ))
    })
}

/// A target URL must be absolute `http://host[:port][/path]` here; other
/// schemes CHP knows (https, http+unix) are refused until they are supported.
fn target_url(flag: &str, value: String) -> Result<String, CliError> {
    let uri: http::Uri = value
        .parse()
        .map_err(|_| CliError(format!("option '{flag}' expects a URL, got '{value}'")))?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("http"), Some(_)) => Ok(value),
        (Some("https" | "http+unix" | "unix+http"), Some(_)) => Err(CliError(format!(
            "option '{flag}': {} targets are not supported by ferrohub-proxy yet",
            uri.scheme_str().unwrap_or_default()
        ))),
        _ => Err(CliError(format!(
            "option '{flag}' expects an http://host[:port] URL, got '{value}'"
        ))),
    }
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

    fn refused(args: &[&str]) -> String {
        run(args).unwrap_err().to_string()
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
            "INFO",
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
        assert_eq!(o.log_level, "info");
        assert!(o.x_forward && o.prepend_path && o.include_prefix);
    }

    #[test]
    fn defaults() {
        let o = run(&[]).unwrap();
        assert_eq!(o, ProxyOptions::default());
        assert_eq!((o.ip.as_str(), o.port, o.api_port), ("", 8000, None));
        assert_eq!(o.api_ip, "127.0.0.1");
        assert_eq!(o.keep_alive_timeout, Duration::from_secs(5));
        assert_eq!((o.timeout, o.proxy_timeout), (None, None));
    }

    #[test]
    fn negations_and_durations() {
        let o = run(&[
            "--no-x-forward",
            "--no-include-prefix",
            "--timeout",
            "1500",
            "--proxy-timeout=250",
            "--keep-alive-timeout",
            "0",
            "--api-ip=localhost",
            "--pid-file",
            "/tmp/p.pid",
            "--default-target=http://127.0.0.1:9000/base",
        ])
        .unwrap();
        assert!(!o.x_forward && !o.include_prefix && o.prepend_path);
        assert_eq!(o.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(o.proxy_timeout, Some(Duration::from_millis(250)));
        assert_eq!(o.keep_alive_timeout, Duration::from_secs(5));
        assert_eq!(o.api_ip, "127.0.0.1");
        assert_eq!(o.pid_file, Some(PathBuf::from("/tmp/p.pid")));
        assert_eq!(
            o.default_target.as_deref(),
            Some("http://127.0.0.1:9000/base")
        );
    }

    #[test]
    fn help_and_version() {
        let parse = |a: &str| parse_args([a.to_owned()]).unwrap();
        assert_eq!(parse("-h"), CliAction::Help);
        assert_eq!(parse("--help"), CliAction::Help);
        assert_eq!(parse("-V"), CliAction::Version);
        assert_eq!(parse("--version"), CliAction::Version);
    }

    #[test]
    fn refusals_are_one_clear_line() {
        assert_eq!(refused(&["--bogus"]), "error: unknown option '--bogus'");
        assert_eq!(refused(&["--bogus=1"]), "error: unknown option '--bogus'");
        assert_eq!(refused(&["stray"]), "error: unexpected argument 'stray'");
        assert_eq!(
            refused(&["--port"]),
            "error: option '--port' argument missing"
        );
        assert_eq!(
            refused(&["--ip", "--port", "1"]),
            "error: option '--ip' argument missing"
        );
        assert!(refused(&["--port", "x"]).contains("port number"));
        assert!(refused(&["--port", "70000"]).contains("port number"));
        assert!(refused(&["--timeout", "soon"]).contains("milliseconds"));
        assert!(refused(&["--no-x-forward=1"]).contains("takes no value"));
        assert!(refused(&["--log-level", "loud"]).contains("debug, info, warn, error"));
        assert!(refused(&["--error-target", "http://a", "--error-path", "b"]).contains("Pick one"));
    }

    #[test]
    fn targets_are_checked() {
        assert!(refused(&["--default-target", "localhost:80"]).contains("http://host"));
        assert!(refused(&["--error-target", "/hub/error"]).contains("http://host"));
        assert!(refused(&["--default-target", "https://h"]).contains("not supported"));
    }

    #[test]
    fn routing_flags() {
        let o = run(&[
            "--host-routing",
            "--change-origin",
            "--auto-rewrite",
            "--protocol-rewrite",
            "https",
            "--custom-header",
            "k1: v1",
            "--custom-header= k2 : host:123 ",
        ])
        .unwrap();
        assert!(o.host_routing && o.change_origin && o.auto_rewrite);
        assert_eq!(o.protocol_rewrite.as_deref(), Some("https"));
        assert_eq!(
            o.custom_headers,
            [("k1".into(), "v1".into()), ("k2".into(), "host:123".into())]
        );
        assert!(refused(&["--custom-header", "invalid"]).contains("colon was expected"));
        assert!(refused(&["--custom-header", ":v"]).contains("colon was expected"));
        assert!(refused(&["--custom-header", "bad name: v"]).contains("invalid custom header"));
        assert!(refused(&["--protocol-rewrite", "gopher"]).contains("http or https"));
        assert!(
            refused(&["--storage-backend", "./redis.js"]).contains("cannot load storage backend")
        );
        assert!(refused(&["--host-routing=1"]).contains("takes no value"));
    }

    #[test]
    fn unimplemented_chp_flags_are_refused_not_ignored() {
        for flag in NOT_YET {
            let message = refused(&[flag, "value"]);
            assert!(message.contains("not supported"), "{flag}: {message}");
            assert!(message.contains(flag), "{flag}: {message}");
        }
        assert!(refused(&["--insecure"]).contains("not supported"));
        assert!(refused(&["--ssl-key=k.pem"]).contains("not supported"));
    }
}
