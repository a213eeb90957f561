//! ferrohub-proxy: a drop-in replacement for configurable-http-proxy (CHP)
//! 5.3: an HTTP/1.1 and websocket reverse proxy whose routing table is driven
//! over CHP's REST API, so ferrohub's hub (and upstream JupyterHub) can start
//! it in CHP's place with the same flags, token and routes.
//!
//! Code map:
//! - [`cli`]: CHP's command line → [`ProxyOptions`].
//! - [`server`]: binds the public and API listeners, runs the accept loops.
//! - [`routes`]: the route table (longest segment prefix, lock-free reads,
//!   per-route `last_activity`).
//! - [`api`]: the REST API (`/api/routes`).
//! - [`forward`]: the data path for HTTP; websockets are spliced in a private
//!   `websocket` module; header and URL rewriting live in `headers` and [`rewrite`].
//! - [`location`]: `--auto-rewrite` / `--protocol-rewrite` of redirects.
//! - [`errors`]: error pages (error target, error directory, built-in).
//! - [`logging`]: CHP-shaped log lines for the binary.
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
//! - not implemented yet, refused at start: TLS, unix sockets, metrics,
//!   redirects.

#![warn(missing_docs)]

mod activity;
pub mod api;
pub mod body;
pub mod cli;
pub mod errors;
pub mod forward;
mod headers;
pub mod location;
pub mod logging;
pub mod rewrite;
pub mod routes;
pub mod server;
mod timeout;
mod websocket;

pub use cli::{CliAction, CliError, ProxyOptions, parse_args};
pub use routes::{Route, RouteTable};
pub use server::{BindError, ProxyServer};
