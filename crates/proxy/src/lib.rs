//! ferrohub-proxy: a drop-in replacement for configurable-http-proxy (CHP)
//! 5.3: an HTTP/1.1, HTTP/2 and websocket reverse proxy whose routing table is driven
//! over CHP's REST API, so ferrohub's hub (and upstream JupyterHub) can start
//! it in CHP's place with the same flags, token and routes.
//!
//! Code map, in layers that point one way (bottom first: a module uses only
//! modules listed before it; `tests/module_layers.rs` checks), so the data
//! path never depends on how it was configured or served:
//! - leaves: [`body`]; [`target`]: what a route target is (and the internal
//!   form of `http+unix` targets); [`paths`]: strict decoding, dot segments;
//!   [`peer`]: who is connected; [`tls`]: rustls configs for the listeners
//!   and for `https` targets; [`location`]: `--auto-rewrite` /
//!   `--protocol-rewrite` of redirects; [`logging`]: CHP-shaped log lines.
//! - parts: [`routes`]: the route table (longest segment prefix, lock-free
//!   reads, per-route `last_activity`); [`rewrite`]: the upstream URL;
//!   [`connect`]: how targets are reached (http, https, `http+unix`) and the
//!   pooled client; `headers`: header rewriting; `timeout`; [`redirect`]:
//!   `--redirect-port`; [`busy_poll`]: `--busy-poll`'s spinner; [`relay`]:
//!   websocket bytes both ways, a stream's small writes gathered; [`listen`]:
//!   the sockets (TCP or unix, optional TLS) and accept loops; [`config`]:
//!   [`ProxyOptions`], plain data.
//! - [`metrics`]: CHP's Prometheus series, then `activity` (traffic as route
//!   activity); [`errors`]: error pages (error target, error directory,
//!   built-in).
//! - the services: [`forward`], the data path for HTTP, reading only its
//!   [`forward::ForwardSettings`] (websockets are spliced in its child
//!   module); [`api`], the REST API (`/api/routes`).
//! - [`server`]: derives each part's settings from [`ProxyOptions`], binds
//!   the public, API, metrics and redirect listeners and runs them.
//! - [`cli`]: CHP's command line → [`ProxyOptions`], for `main` only.
//!
//! Invariant: no database and no hub types; the REST API is the only
//! contract with the hub.
//!
//! Deliberate differences from CHP 5.3 (everything else follows
//! `research/proxy-spec.md`):
//! - hop-by-hop request headers (`Connection` and the headers it names,
//!   `Keep-Alive`, `TE`, `Trailer`, `Upgrade` outside websockets, …) are not
//!   forwarded (RFC 9110 §7.6.1); CHP forwards all but `Trailer`;
//! - `--port 0` picks a free port and a non-numeric port is refused (CHP falls
//!   back to 8000); target URLs given on the command line are checked;
//! - `--no-include-prefix` strips the matched segments rather than slicing the
//!   raw URL by the decoded key's length;
//! - connecting to a target gives up after 10 s (503) instead of the OS limit;
//! - API bodies over 1 MiB get 413, undecodable API paths 400;
//! - `--storage-backend` is refused at start: routes live in memory only
//!   (a Node module cannot be loaded);
//! - `--custom-header` values that are not valid HTTP are refused at start;
//! - TLS is rustls: encrypted keys (`CONFIGPROXY_SSL_KEY_PASSPHRASE`,
//!   `CONFIGPROXY_API_SSL_KEY_PASSPHRASE`) are refused at start; `--ssl-ciphers`,
//!   `--ssl-allow-rc4` and `--ssl-dhparam` are ignored with a warning;
//!   `--ssl-protocol TLSv1_2`/`TLSv1_3` is a minimum version, older protocols
//!   are refused; a key without a certificate (or the reverse) is refused;
//! - the public and API listeners offer HTTP/2 over TLS (ALPN `h2`), CHP only
//!   HTTP/1.1 (websockets stay on HTTP/1.1);
//! - `--insecure` works: target certificates are not verified (in CHP 5.x
//!   the flag has no effect and a self-signed https target gives 503);
//!   without `--client-ssl-ca`, targets are verified against the system CA
//!   bundle (CHP: Node's built-in roots);
//! - behind a unix socket (`--socket`), no `X-Forwarded-For` entry is added
//!   (CHP appends the text `undefined`);
//! - the redirect listener keeps IPv6 `Host` literals whole and leaves out
//!   `:443` whether it comes from `--redirect-to` or the public port;
//! - metrics: quantiles of the two summaries come from a log-scale histogram
//!   (≤ 12.5 % error), the `nodejs_*` series do not exist;
//! - websocket failures answer `HTTP/1.1 404 Not Found` / `503 Service
//!   Unavailable` (CHP writes the bare status line without a reason phrase;
//!   clients ignore reason phrases, RFC 9112 §4);
//! - dot segments are resolved like CHP (`/a/b/../x` is matched and forwarded
//!   as `/a/x`), but a path starting with `//` is kept as a path (CHP matches
//!   `//a/b` as `/b` yet forwards `//a/b`);
//! - SIGTERM/SIGINT stop accepting at once but let requests in flight finish
//!   for up to 5 s before exiting 2 (CHP exits at once); websockets end with
//!   the process;
//! - SIGHUP re-reads the TLS certificate and key files (all or nothing; a
//!   broken file keeps the old certificate): renewal without losing routes or
//!   connections. CHP has no reload, and Node ends the process on SIGHUP;
//! - `--busy-poll <µs>` (ferrohub only, off by default) trades CPU for
//!   latency: see [`busy_poll`];
//! - websocket streams of small messages are relayed in larger writes
//!   (`--ws-gather <µs>`, ferrohub only, 200 µs by default, 0 = off): see
//!   [`relay`].

#![warn(missing_docs)]

mod activity;
pub mod api;
pub mod body;
pub mod busy_poll;
pub mod cli;
pub mod config;
pub mod connect;
pub mod errors;
pub mod forward;
mod headers;
pub mod listen;
pub mod location;
pub mod logging;
pub mod metrics;
pub mod paths;
pub mod peer;
pub mod redirect;
pub mod relay;
pub mod rewrite;
pub mod routes;
pub mod server;
pub mod target;
mod timeout;
pub mod tls;

pub use cli::{CliAction, CliError, parse_args};
pub use config::ProxyOptions;
pub use routes::{Route, RouteTable};
pub use server::{BindError, ProxyServer};
