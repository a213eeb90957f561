//! configurable-http-proxy's command line: same flag names, defaults and
//! `--flag value` / `--flag=value` forms, so a hub can start us in its place.
//! Parsed by hand to keep the binary small and quick to build, into a
//! [`ProxyOptions`] (defined in [`crate::config`], so the server and the
//! data path never depend on this module; only `main` does).

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{DEFAULT_KEEP_ALIVE, ProxyOptions, REDIRECT_WITHOUT_TLS};
use crate::target::parse_target;
use crate::tls::MinVersion;

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
  --socket <path>              public proxy on a unix socket instead of --ip/--port
  --ssl-key <keyfile>          TLS key (PEM, unencrypted) for the public port
  --ssl-cert <certfile>        TLS certificate chain (PEM) for the public port
  --ssl-ca <ca-file>           CA bundle client certificates are checked against
  --ssl-request-cert           ask clients for a certificate
  --ssl-reject-unauthorized    refuse clients without a valid certificate (with --ssl-request-cert)
  --ssl-protocol <protocol>    lowest TLS version: TLSv1_2 (default) or TLSv1_3
  --ssl-ciphers <ciphers>      ignored with a warning (rustls' own modern cipher suites)
  --ssl-allow-rc4              ignored with a warning (no RC4 in rustls)
  --ssl-dhparam <file>         ignored with a warning (rustls uses no finite-field DH)
  --api-ip <ip>                inward-facing IP for API requests (default localhost)
  --api-port <n>               inward-facing port for API requests (default: --port + 1)
  --api-socket <path>          API on a unix socket instead of --api-ip/--api-port
  --api-ssl-key <keyfile>      TLS key for the API (same rules as --ssl-key)
  --api-ssl-cert <certfile>    TLS certificate for the API
  --api-ssl-ca <ca-file>       CA bundle API client certificates are checked against
  --api-ssl-request-cert       ask API clients for a certificate
  --api-ssl-reject-unauthorized  refuse API clients without a valid certificate
  --client-ssl-key <keyfile>   client key presented to https targets
  --client-ssl-cert <certfile> client certificate presented to https targets
  --client-ssl-ca <ca-file>    CA bundle https targets are checked against (default: system CAs)
  --client-ssl-request-cert    accepted, no effect (as in CHP)
  --client-ssl-reject-unauthorized  accepted, no effect (as in CHP)
  --insecure                   don't verify the certificates of https targets
  --redirect-port <n>          plain-HTTP port redirecting every request to HTTPS (needs TLS)
  --redirect-to <n>            port the redirects point to (default: --port)
  --metrics-ip <ip>            IP of the metrics server (default: all interfaces)
  --metrics-port <n>           port of the Prometheus metrics server (default: none)
  --metrics-socket <path>      metrics server on a unix socket
  --default-target <host>      default proxy target (http[s]://host[:port][/path], http+unix://<socket>)
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
  --busy-poll <µs>             keep polling client connections this long after their traffic
                               instead of sleeping (1-10000; default off): lower latency for
                               up to one core of CPU while traffic flows; one thread; gives
                               way when other processes want the CPU
  --ws-gather <µs>             let a websocket stream's small messages wait this long for more
                               and write them together (0-10000; default 200; 0 = off):
                               fewer wake-ups for the receiver; a lone message never waits
  -h, --help                   display help for command

Environment:
  CONFIGPROXY_AUTH_TOKEN       token the REST API requires (\"Authorization: token <t>\");
                               unset = API open to anyone who can reach it
  CONFIGPROXY_SSL_KEY_PASSPHRASE, CONFIGPROXY_API_SSL_KEY_PASSPHRASE
                               not supported: encrypted keys are refused at start
                               (decrypt once with `openssl pkey -in key.pem -out plain.pem`)

Signals:
  SIGTERM, SIGINT              stop accepting, let requests in flight finish (up to 5 s), exit 2
  SIGHUP                       re-read the TLS certificate and key files (routes and connections stay)
";

/// Parses the arguments after the program name.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<CliAction, CliError> {
    let mut options = ProxyOptions::default();
    let mut given: Vec<String> = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value)),
            _ => (arg.clone(), None),
        };
        let inline = inline.map(str::to_owned);
        given.push(flag.clone());
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
            _ if TLS_SWITCHES.contains(&flag.as_str()) => {
                if inline.is_some() {
                    return Err(CliError(format!("option '{flag}' takes no value")));
                }
                set_tls_switch(&mut options, &flag);
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
    check_listeners(&options, &given)?;
    Ok(CliAction::Run(Box::new(options)))
}

/// The value after a flag, refusing a missing one (or another flag in its place).
fn next_value(flag: &str, args: &mut impl Iterator<Item = String>) -> Result<String, CliError> {
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
            | "--busy-poll"
            | "--ws-gather"
    ) || LISTENER_VALUE_FLAGS.contains(&flag)
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

/// Boolean TLS flags (`--client-ssl-request-cert` and
/// `--client-ssl-reject-unauthorized` are accepted and, as in CHP, do nothing).
const TLS_SWITCHES: &[&str] = &[
    "--ssl-request-cert",
    "--ssl-reject-unauthorized",
    "--ssl-allow-rc4",
    "--api-ssl-request-cert",
    "--api-ssl-reject-unauthorized",
    "--client-ssl-request-cert",
    "--client-ssl-reject-unauthorized",
    "--insecure",
];

/// Listener, TLS, metrics and redirect flags that take a value.
const LISTENER_VALUE_FLAGS: &[&str] = &[
    "--socket",
    "--api-socket",
    "--metrics-ip",
    "--metrics-port",
    "--metrics-socket",
    "--ssl-key",
    "--ssl-cert",
    "--ssl-ca",
    "--ssl-protocol",
    "--ssl-ciphers",
    "--ssl-dhparam",
    "--api-ssl-key",
    "--api-ssl-cert",
    "--api-ssl-ca",
    "--client-ssl-key",
    "--client-ssl-cert",
    "--client-ssl-ca",
    "--redirect-port",
    "--redirect-to",
];

fn set_tls_switch(options: &mut ProxyOptions, flag: &str) {
    match flag {
        "--ssl-request-cert" => options.ssl.request_cert = true,
        "--ssl-reject-unauthorized" => options.ssl.reject_unauthorized = true,
        "--api-ssl-request-cert" => options.api_ssl.request_cert = true,
        "--api-ssl-reject-unauthorized" => options.api_ssl.reject_unauthorized = true,
        "--insecure" => options.client_ssl.insecure = true,
        "--ssl-allow-rc4" => options.ssl_ignored.push(flag.to_owned()),
        _ => {}
    }
}

fn set_listener_value(
    options: &mut ProxyOptions,
    flag: &str,
    value: String,
) -> Result<(), CliError> {
    let path = Some(PathBuf::from(&value));
    match flag {
        "--socket" => options.socket = path,
        "--api-socket" => options.api_socket = path,
        "--metrics-socket" => options.metrics_socket = path,
        "--metrics-ip" => options.metrics_ip = value,
        "--metrics-port" => options.metrics_port = Some(port(flag, &value)?),
        "--ssl-key" => options.ssl.key = path,
        "--ssl-cert" => options.ssl.cert = path,
        "--ssl-ca" => options.ssl.ca = path,
        "--api-ssl-key" => options.api_ssl.key = path,
        "--api-ssl-cert" => options.api_ssl.cert = path,
        "--api-ssl-ca" => options.api_ssl.ca = path,
        "--client-ssl-key" => options.client_ssl.key = path,
        "--client-ssl-cert" => options.client_ssl.cert = path,
        "--client-ssl-ca" => options.client_ssl.ca = path,
        "--ssl-protocol" => options.ssl_protocol = MinVersion::parse(&value).map_err(CliError)?,
        "--redirect-port" => options.redirect_port = Some(port(flag, &value)?),
        "--redirect-to" => options.redirect_to = Some(port(flag, &value)?),
        _ => options.ssl_ignored.push(flag.to_owned()),
    }
    Ok(())
}

/// A unix socket replaces ip and port (commander's `conflicts` in CHP);
/// redirecting to HTTPS needs TLS on the public port.
fn check_listeners(options: &ProxyOptions, given: &[String]) -> Result<(), CliError> {
    for (socket, others) in [
        ("--socket", ["--ip", "--port"]),
        ("--api-socket", ["--api-ip", "--api-port"]),
        ("--metrics-socket", ["--metrics-ip", "--metrics-port"]),
    ] {
        if !given.iter().any(|g| g == socket) {
            continue;
        }
        if let Some(other) = others.iter().find(|o| given.iter().any(|g| g == *o)) {
            return Err(CliError(format!(
                "option '{socket}' cannot be used with option '{other}'"
            )));
        }
    }
    if options.redirect_port.is_some() && !options.ssl.is_enabled() {
        return Err(CliError(REDIRECT_WITHOUT_TLS.to_owned()));
    }
    Ok(())
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
        "--busy-poll" => options.busy_poll = Some(busy_poll_window(&value)?),
        "--ws-gather" => options.ws_gather = gather_window(&value)?,
        _ if LISTENER_VALUE_FLAGS.contains(&flag) => set_listener_value(options, flag, value)?,
        _ => return Err(CliError(format!("unknown option '{flag}'"))),
    }
    Ok(())
}

/// The longest `--busy-poll` window: beyond 10 ms a pause between packets
/// is the peer's thinking time, and polling through it only burns CPU.
const MAX_BUSY_POLL_MICROS: u64 = 10_000;

/// `--busy-poll`'s microseconds, 1 to [`MAX_BUSY_POLL_MICROS`].
fn busy_poll_window(value: &str) -> Result<Duration, CliError> {
    match value.trim().parse::<u64>() {
        Ok(micros @ 1..=MAX_BUSY_POLL_MICROS) => Ok(Duration::from_micros(micros)),
        _ => Err(CliError(format!(
            "--busy-poll takes microseconds from 1 to {MAX_BUSY_POLL_MICROS} (got '{value}'); \
             leave it out to sleep between packets"
        ))),
    }
}

/// The longest `--ws-gather` window: a stream's bytes waiting longer than
/// 10 ms would be a visible delay.
const MAX_GATHER_MICROS: u64 = 10_000;

/// `--ws-gather`'s microseconds, 0 (off) to [`MAX_GATHER_MICROS`].
fn gather_window(value: &str) -> Result<Duration, CliError> {
    match value.trim().parse::<u64>() {
        Ok(micros @ 0..=MAX_GATHER_MICROS) => Ok(Duration::from_micros(micros)),
        _ => Err(CliError(format!(
            "--ws-gather takes microseconds from 0 (off) to {MAX_GATHER_MICROS} (got '{value}')"
        ))),
    }
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

/// A target URL must be absolute: `http[s]://host[:port][/path]` or
/// `http+unix://<percent-encoded socket path>[/path]`, as routes accept.
fn target_url(flag: &str, value: String) -> Result<String, CliError> {
    match parse_target(&value) {
        Ok(_) => Ok(value),
        Err(_) => Err(CliError(format!(
            "option '{flag}' expects an http://host[:port], https://host[:port] or \
             http+unix://<socket> URL, got '{value}'"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::{ListenerTls, UpstreamTls};

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
    fn ws_gather_defaults_to_200_microseconds_and_zero_turns_it_off() {
        assert_eq!(run(&[]).unwrap().ws_gather, Duration::from_micros(200));
        assert_eq!(
            run(&["--ws-gather", "0"]).unwrap().ws_gather,
            Duration::ZERO
        );
        assert_eq!(
            run(&["--ws-gather=10000"]).unwrap().ws_gather,
            Duration::from_millis(10)
        );
        for bad in ["10001", "-1", "1ms", ""] {
            let err = refused(&["--ws-gather", bad]);
            assert!(
                err.contains("--ws-gather takes microseconds from 0 (off) to 10000"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn busy_poll_is_off_unless_given_a_window_in_microseconds() {
        assert_eq!(run(&[]).unwrap().busy_poll, None);
        assert_eq!(
            run(&["--busy-poll", "300"]).unwrap().busy_poll,
            Some(Duration::from_micros(300))
        );
        assert_eq!(
            run(&["--busy-poll=10000"]).unwrap().busy_poll,
            Some(Duration::from_millis(10))
        );
        for bad in ["0", "10001", "-5", "1ms", ""] {
            let err = refused(&["--busy-poll", bad]);
            assert!(
                err.contains("--busy-poll takes microseconds from 1 to 10000"),
                "{bad}: {err}"
            );
        }
        assert!(refused(&["--busy-poll"]).contains("option '--busy-poll' argument missing"));
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
        assert!(refused(&["--default-target", "ftp://h"]).contains("http://host"));
        for target in [
            "https://hub:8081/x",
            "http+unix://%2Fvar%2Frun%2Fhub.sock/hub",
            "unix+http://%2Ftmp%2Fs",
        ] {
            let o = run(&["--default-target", target]).unwrap();
            assert_eq!(o.default_target.as_deref(), Some(target));
        }
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
    fn tls_flags() {
        let o = run(&[
            "--ssl-key",
            "k.pem",
            "--ssl-cert=c.pem",
            "--ssl-ca",
            "ca.pem",
            "--ssl-request-cert",
            "--ssl-reject-unauthorized",
            "--ssl-protocol",
            "TLSv1_3",
            "--ssl-ciphers",
            "HIGH:!RC4",
            "--ssl-allow-rc4",
            "--ssl-dhparam",
            "dh.pem",
            "--api-ssl-key",
            "ak.pem",
            "--api-ssl-cert",
            "ac.pem",
            "--api-ssl-ca",
            "aca.pem",
            "--api-ssl-request-cert",
            "--api-ssl-reject-unauthorized",
            "--client-ssl-key",
            "ck.pem",
            "--client-ssl-cert",
            "cc.pem",
            "--client-ssl-ca",
            "cca.pem",
            "--client-ssl-request-cert",
            "--client-ssl-reject-unauthorized",
            "--insecure",
        ])
        .unwrap();
        let tls = |key: &str, cert: &str, ca: &str| ListenerTls {
            key: Some(key.into()),
            cert: Some(cert.into()),
            ca: Some(ca.into()),
            request_cert: true,
            reject_unauthorized: true,
        };
        assert_eq!(o.ssl, tls("k.pem", "c.pem", "ca.pem"));
        assert_eq!(o.api_ssl, tls("ak.pem", "ac.pem", "aca.pem"));
        assert_eq!(
            o.client_ssl,
            UpstreamTls {
                key: Some("ck.pem".into()),
                cert: Some("cc.pem".into()),
                ca: Some("cca.pem".into()),
                insecure: true,
            }
        );
        assert_eq!(o.ssl_protocol, Some(MinVersion::Tls13));
        assert_eq!(
            o.ssl_ignored,
            ["--ssl-ciphers", "--ssl-allow-rc4", "--ssl-dhparam"]
        );
        assert!(refused(&["--ssl-protocol", "SSLv3"]).contains("TLSv1_2 or TLSv1_3"));
        assert!(refused(&["--insecure=yes"]).contains("takes no value"));
        assert!(refused(&["--ssl-key"]).contains("argument missing"));
    }

    #[test]
    fn sockets_metrics_and_redirects() {
        let o = run(&[
            "--socket",
            "/tmp/p.sock",
            "--api-socket=/tmp/a.sock",
            "--metrics-ip",
            "127.0.0.1",
            "--metrics-port",
            "9090",
            "--ssl-key",
            "k",
            "--ssl-cert",
            "c",
            "--redirect-port",
            "8080",
            "--redirect-to",
            "443",
        ])
        .unwrap();
        assert_eq!(o.socket, Some(PathBuf::from("/tmp/p.sock")));
        assert_eq!(o.api_socket, Some(PathBuf::from("/tmp/a.sock")));
        assert_eq!(
            (o.metrics_ip.as_str(), o.metrics_port),
            ("127.0.0.1", Some(9090))
        );
        assert_eq!((o.redirect_port, o.redirect_to), (Some(8080), Some(443)));
        let o = run(&["--metrics-socket", "/tmp/m.sock"]).unwrap();
        assert_eq!(o.metrics_socket, Some(PathBuf::from("/tmp/m.sock")));
        assert_eq!((o.metrics_ip.as_str(), o.metrics_port), ("", None));
    }

    #[test]
    fn sockets_conflict_with_addresses_and_redirects_need_tls() {
        assert_eq!(
            refused(&["--socket", "/s", "--port", "1"]),
            "error: option '--socket' cannot be used with option '--port'"
        );
        assert!(refused(&["--ip", "::", "--socket", "/s"]).contains("'--ip'"));
        assert!(refused(&["--api-socket", "/s", "--api-ip", "h"]).contains("'--api-ip'"));
        assert!(refused(&["--metrics-socket=/s", "--metrics-port=1"]).contains("'--metrics-port'"));
        assert!(run(&["--socket", "/s", "--api-port", "1"]).is_ok());
        assert_eq!(
            refused(&["--redirect-port", "80"]),
            "error: HTTPS redirection specified but certificates not provided."
        );
        assert!(refused(&["--metrics-port", "x"]).contains("port number"));
    }
}
