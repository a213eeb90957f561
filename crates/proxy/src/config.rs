//! What can be configured: [`ProxyOptions`], with CHP's defaults. Plain
//! data without behaviour, so that the command line ([`crate::cli`]) and
//! embedders (the integration tests) build the same value and the server reads it
//! without depending on how it was built. The data path never sees this
//! struct: the server hands each part only the settings it uses.

use std::path::PathBuf;
use std::time::Duration;

use crate::relay::Gather;
use crate::tls::{ListenerTls, MinVersion, UpstreamTls};

/// CHP's `--keep-alive-timeout` default (Node's 5 s).
pub(crate) const DEFAULT_KEEP_ALIVE: Duration = Duration::from_millis(5000);

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
    /// Public listener on this unix socket instead of ip/port (`--socket`).
    pub socket: Option<PathBuf>,
    /// API listener on this unix socket instead of ip/port (`--api-socket`).
    pub api_socket: Option<PathBuf>,
    /// Metrics bind address; empty = all interfaces (`--metrics-ip`).
    pub metrics_ip: String,
    /// Metrics port; the metrics listener exists only with this or
    /// `metrics_socket` (`--metrics-port`, 0 picks a free port).
    pub metrics_port: Option<u16>,
    /// Metrics listener on this unix socket (`--metrics-socket`).
    pub metrics_socket: Option<PathBuf>,
    /// TLS of the public listener (`--ssl-key`, `--ssl-cert`, `--ssl-ca`, …).
    pub ssl: ListenerTls,
    /// TLS of the API listener (`--api-ssl-*`).
    pub api_ssl: ListenerTls,
    /// TLS towards `https` targets (`--client-ssl-*`, `--insecure`).
    pub client_ssl: UpstreamTls,
    /// Lowest TLS version, for all three TLS settings (`--ssl-protocol`).
    pub ssl_protocol: Option<MinVersion>,
    /// OpenSSL-only flags that were given (`--ssl-ciphers`, `--ssl-allow-rc4`,
    /// `--ssl-dhparam`): rustls has no such knobs; a warning names them at start.
    pub ssl_ignored: Vec<String>,
    /// Plain-HTTP port answering with redirects to HTTPS (`--redirect-port`).
    pub redirect_port: Option<u16>,
    /// The port those redirects point to; default the public port (`--redirect-to`).
    pub redirect_to: Option<u16>,
    /// Bind address of the redirect listener; empty = all interfaces, which
    /// is what CHP always does. Not a CHP flag: for embedding and tests.
    pub redirect_ip: String,
    /// Keep polling the public connections this long after their last
    /// traffic instead of sleeping (`--busy-poll <µs>`, ferrohub only; off
    /// by default): see [`crate::busy_poll`].
    pub busy_poll: Option<Duration>,
    /// How long a websocket stream's data may wait for more before it is
    /// written (`--ws-gather <µs>`, ferrohub only; zero = write every read
    /// at once): see [`crate::relay`].
    pub ws_gather: Duration,
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
            socket: None,
            api_socket: None,
            metrics_ip: String::new(),
            metrics_port: None,
            metrics_socket: None,
            ssl: ListenerTls::default(),
            api_ssl: ListenerTls::default(),
            client_ssl: UpstreamTls::default(),
            ssl_protocol: None,
            ssl_ignored: Vec::new(),
            redirect_port: None,
            redirect_to: None,
            redirect_ip: String::new(),
            busy_poll: None,
            ws_gather: Gather::DEFAULT_WINDOW,
        }
    }
}

/// CHP's message when `--redirect-port` is given without certificates.
pub(crate) const REDIRECT_WITHOUT_TLS: &str =
    "HTTPS redirection specified but certificates not provided.";
