//! The listeners — public proxy, REST API, and optionally metrics and the
//! HTTP→HTTPS redirect — and their accept loops. Binding is separate from
//! serving so callers learn the real ports (tests bind port 0), TLS files are
//! checked before anything is served, and a pid file can be written before
//! traffic starts.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::Request;
use http::header::{HeaderName, HeaderValue};
use hyper::body::Incoming;
use hyper_util::server::graceful::GracefulShutdown;

use crate::api::Api;
use crate::body::BoxError;
use crate::busy_poll::BusyPoll;
use crate::config::{ProxyOptions, REDIRECT_WITHOUT_TLS};
use crate::connect::Connector;
use crate::forward::{ForwardSettings, Forwarder};
use crate::headers::{Generated, KeepAliveHint};
use crate::listen::{Endpoint, ListenError, Listener, TlsSlot};
use crate::location::LocationRewrite;
use crate::metrics::ProxyMetrics;
use crate::redirect;
use crate::relay::Gather;
use crate::rewrite::Rewrite;
use crate::routes::RouteTable;
use crate::tls::{self, ListenerTls, MinVersion, TlsError};

/// After a shutdown signal, requests in flight get this long to finish
/// before the process exits (idle keep-alive connections close at once).
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Idle keep-alive limit of the API listener (Node's default, which CHP
/// does not change).
const API_KEEP_ALIVE: Duration = Duration::from_secs(5);

/// The proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// A listener could not be opened.
    #[error(transparent)]
    Listen(#[from] ListenError),
    /// TLS files are missing, unreadable or unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Options that cannot work together.
    #[error("{0}")]
    Config(String),
}

/// A proxy with its listeners bound, not yet serving.
pub struct ProxyServer {
    public: Listener,
    api_listener: Listener,
    metrics_listener: Option<Listener>,
    /// The redirect listener and the port its redirects name.
    redirect: Option<(Listener, u16)>,
    forwarder: Arc<Forwarder>,
    api: Arc<Api>,
    metrics: Arc<ProxyMetrics>,
    keep_alive: Duration,
    default_target: Option<String>,
    tls_reloader: Arc<TlsReloader>,
}

/// Re-reads the listeners' certificate and key files (on SIGHUP), so a
/// renewed certificate is served without a restart: routes and open
/// connections stay; new connections get the new certificate.
pub struct TlsReloader {
    listeners: Vec<ReloadableListener>,
    min: Option<MinVersion>,
}

struct ReloadableListener {
    files: ListenerTls,
    flag: &'static str,
    env: &'static str,
    slot: TlsSlot,
}

impl TlsReloader {
    /// Whether any listener serves TLS (else reloading does nothing).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.listeners.is_empty()
    }

    /// Loads every listener's files again and swaps them in, all or none:
    /// if one file is missing or broken, every listener keeps its old
    /// certificate and the error says which file.
    ///
    /// # Errors
    /// The files cannot be read or do not form a usable certificate and key.
    pub fn reload(&self) -> Result<(), TlsError> {
        let mut fresh = Vec::with_capacity(self.listeners.len());
        for listener in &self.listeners {
            let config =
                tls::server_config(&listener.files, listener.flag, listener.env, self.min)?;
            fresh.extend(config.map(|config| (&listener.slot, config)));
        }
        for (slot, config) in fresh {
            slot.store(config);
        }
        Ok(())
    }
}

impl ProxyServer {
    /// Loads the TLS files, binds every listener (port 0 picks free ones)
    /// and adds the `--default-target` route. `auth_token` is
    /// `CONFIGPROXY_AUTH_TOKEN`.
    ///
    /// # Errors
    /// A listener cannot be bound, TLS material is unusable, or
    /// `--redirect-port` is given without TLS.
    pub async fn bind(
        options: ProxyOptions,
        auth_token: Option<String>,
    ) -> Result<Self, BindError> {
        for flag in &options.ssl_ignored {
            tracing::warn!(
                "{flag} is ignored: it configures OpenSSL, and ferrohub-proxy's TLS (rustls) \
                 only offers modern cipher suites (AES-GCM, ChaCha20-Poly1305; ECDHE key \
                 exchange, no RC4, no finite-field DH)"
            );
        }
        let min = options.ssl_protocol;
        let public_tls =
            tls::server_config(&options.ssl, "--ssl", "CONFIGPROXY_SSL_KEY_PASSPHRASE", min)?;
        let api_tls = tls::server_config(
            &options.api_ssl,
            "--api-ssl",
            "CONFIGPROXY_API_SSL_KEY_PASSPHRASE",
            min,
        )?;
        let client_tls = tls::client_config(&options.client_ssl, min)?;
        if options.redirect_port.is_some() && public_tls.is_none() {
            return Err(BindError::Config(REDIRECT_WITHOUT_TLS.to_owned()));
        }

        let public = match &options.socket {
            Some(path) => Listener::unix(path)?,
            None => Listener::tcp(&options.ip, options.port).await?,
        }
        .with_tls(public_tls)
        .with_busy_poll(options.busy_poll.map(BusyPoll::new));
        let public_port = public.local_addr().ok().map(|a| a.port());
        let api_port = options.api_port.unwrap_or(match public_port {
            // CHP: a unix-socket proxy has its API on 8001.
            None => 8001,
            Some(_) if options.port == 0 => 0,
            Some(port) => port.saturating_add(1),
        });
        let api_listener = match &options.api_socket {
            Some(path) => Listener::unix(path)?,
            None => Listener::tcp(&options.api_ip, api_port).await?,
        }
        .with_tls(api_tls);
        let metrics_listener = match (&options.metrics_socket, options.metrics_port) {
            (Some(path), _) => Some(Listener::unix(path)?),
            (None, Some(port)) => Some(Listener::tcp(&options.metrics_ip, port).await?),
            (None, None) => None,
        };
        let redirect = match (options.redirect_port, public_port) {
            (Some(port), Some(public_port)) if public_port != 80 => {
                let to = options.redirect_to.unwrap_or(public_port);
                Some((Listener::tcp(&options.redirect_ip, port).await?, to))
            }
            (Some(_), _) => {
                tracing::warn!(
                    "--redirect-port ignored: the proxy listens on port 80 or a unix socket"
                );
                None
            }
            (None, _) => None,
        };

        let metrics = Arc::new(ProxyMetrics::new(metrics_listener.is_some()));
        let table = Arc::new(RouteTable::default());
        if let Some(target) = &options.default_target {
            tracing::info!("Adding route / -> {target}");
            table.insert("/", target, serde_json::Map::new());
            tracing::info!("Route added / -> {target}");
        }
        let api = Arc::new(
            Api::new(Arc::clone(&table), auth_token)
                .with_host_routing(options.host_routing)
                .with_metrics(Arc::clone(&metrics)),
        );
        if !api.is_authenticated() {
            tracing::warn!("REST API is not authenticated.");
        }
        let tls_reloader = Arc::new(TlsReloader {
            listeners: [
                (
                    &public,
                    &options.ssl,
                    "--ssl",
                    "CONFIGPROXY_SSL_KEY_PASSPHRASE",
                ),
                (
                    &api_listener,
                    &options.api_ssl,
                    "--api-ssl",
                    "CONFIGPROXY_API_SSL_KEY_PASSPHRASE",
                ),
            ]
            .into_iter()
            .filter_map(|(listener, files, flag, env)| {
                Some(ReloadableListener {
                    files: files.clone(),
                    flag,
                    env,
                    slot: listener.tls_slot()?,
                })
            })
            .collect(),
            min,
        });
        let forwarder = Forwarder::new(
            forward_settings(&options),
            table,
            Connector::new(client_tls),
            Arc::clone(&metrics),
        );
        Ok(Self {
            public,
            api_listener,
            metrics_listener,
            redirect,
            forwarder: Arc::new(forwarder),
            api,
            metrics,
            keep_alive: options.keep_alive_timeout,
            default_target: options.default_target,
            tls_reloader,
        })
    }

    /// The TCP address the public proxy listens on (an error when it
    /// listens on a unix socket: see [`ProxyServer::public_endpoint`]).
    ///
    /// # Errors
    /// A unix-socket listener, or the OS cannot tell.
    pub fn public_addr(&self) -> std::io::Result<SocketAddr> {
        self.public.local_addr()
    }

    /// The TCP address the REST API listens on.
    ///
    /// # Errors
    /// A unix-socket listener, or the OS cannot tell.
    pub fn api_addr(&self) -> std::io::Result<SocketAddr> {
        self.api_listener.local_addr()
    }

    /// Where the public proxy listens (address or socket path).
    ///
    /// # Errors
    /// The OS cannot tell the TCP address.
    pub fn public_endpoint(&self) -> std::io::Result<Endpoint> {
        self.public.endpoint()
    }

    /// Where the REST API listens (address or socket path).
    ///
    /// # Errors
    /// The OS cannot tell the TCP address.
    pub fn api_endpoint(&self) -> std::io::Result<Endpoint> {
        self.api_listener.endpoint()
    }

    /// Where the metrics server listens, if there is one.
    #[must_use]
    pub fn metrics_endpoint(&self) -> Option<Endpoint> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.endpoint().ok())
    }

    /// The address of the HTTP→HTTPS redirect listener, if there is one.
    #[must_use]
    pub fn redirect_addr(&self) -> Option<SocketAddr> {
        self.redirect
            .as_ref()
            .and_then(|(l, _)| l.local_addr().ok())
    }

    /// The route table, for embedding the proxy in-process and for tests.
    #[must_use]
    pub fn table(&self) -> Arc<RouteTable> {
        Arc::clone(self.forwarder.table())
    }

    /// The proxy's metrics (recording only when a metrics listener exists).
    #[must_use]
    pub fn metrics(&self) -> Arc<ProxyMetrics> {
        Arc::clone(&self.metrics)
    }

    /// What reloads the TLS certificates of the running listeners.
    #[must_use]
    pub fn tls_reloader(&self) -> Arc<TlsReloader> {
        Arc::clone(&self.tls_reloader)
    }

    /// Serves every listener until `shutdown` resolves, then stops
    /// accepting (unix socket files are removed), lets requests in flight
    /// finish for up to [`DRAIN_TIMEOUT`] and returns. Upgraded websocket
    /// connections are not waited for: they end with the process.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let graceful = Arc::new(GracefulShutdown::new());
        self.serve_until(shutdown, Arc::clone(&graceful)).await;
        // The accept loops are gone, so this is the last reference.
        let Ok(graceful) = Arc::try_unwrap(graceful) else {
            return;
        };
        let open = graceful.count();
        if open > 0 {
            tracing::info!(
                "Waiting up to {} s for {open} open connection(s) to finish",
                DRAIN_TIMEOUT.as_secs()
            );
        }
        if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("Requests still running after {DRAIN_TIMEOUT:?}; closing them");
        }
    }

    async fn serve_until(
        self,
        shutdown: impl Future<Output = ()>,
        graceful: Arc<GracefulShutdown>,
    ) {
        self.log_start();
        let Self {
            public,
            api_listener,
            metrics_listener,
            redirect,
            forwarder,
            api,
            metrics,
            keep_alive,
            ..
        } = self;
        let busy_poll = public.busy_poll();
        let spinner = async move {
            match busy_poll {
                Some(busy_poll) => busy_poll.run().await,
                None => std::future::pending().await,
            }
        };
        let proxy_loop = public.serve(keep_alive, Arc::clone(&graceful), move |peer| {
            let forwarder = Arc::clone(&forwarder);
            move |req: Request<Incoming>| {
                let hint = KeepAliveHint::for_request(&req, keep_alive);
                let handled = Arc::clone(&forwarder).handle(req, peer);
                async move {
                    let mut response = handled.await?;
                    if response.extensions().get::<Generated>().is_some() {
                        hint.apply(response.headers_mut());
                    }
                    Ok::<_, BoxError>(response)
                }
            }
        });
        // `--keep-alive-timeout` is the public listener's; the API keeps
        // Node's default, as in CHP.
        let api_loop = api_listener.serve(API_KEEP_ALIVE, Arc::clone(&graceful), move |_peer| {
            let api = Arc::clone(&api);
            move |req: Request<Incoming>| {
                let api = Arc::clone(&api);
                let hint = KeepAliveHint::for_request(&req, API_KEEP_ALIVE);
                async move {
                    let mut response = api.handle(req).await;
                    hint.apply(response.headers_mut());
                    Ok::<_, Infallible>(response)
                }
            }
        });
        let metrics_graceful = Arc::clone(&graceful);
        let metrics_loop = async move {
            let Some(listener) = metrics_listener else {
                return std::future::pending().await;
            };
            listener
                .serve(keep_alive, metrics_graceful, move |_peer| {
                    let metrics = Arc::clone(&metrics);
                    move |req: Request<Incoming>| {
                        let response = metrics.handle(&req);
                        async move { Ok::<_, Infallible>(response) }
                    }
                })
                .await;
        };
        let redirect_loop = async move {
            let Some((listener, to)) = redirect else {
                return std::future::pending().await;
            };
            listener
                .serve(keep_alive, graceful, move |_peer| {
                    move |req: Request<Incoming>| {
                        let response = redirect::redirect(&req, to);
                        async move { Ok::<_, Infallible>(response) }
                    }
                })
                .await;
        };
        tokio::select! {
            () = proxy_loop => {}
            () = api_loop => {}
            () = metrics_loop => {}
            () = redirect_loop => {}
            () = spinner => {}
            () = shutdown => {}
        }
    }

    fn log_start(&self) {
        let target = self.default_target.as_deref().unwrap_or("(no default)");
        if let (Ok(public), Ok(api)) = (self.public.endpoint(), self.api_listener.endpoint()) {
            let (scheme, api_scheme) = (self.public.scheme(), self.api_listener.scheme());
            tracing::info!("Proxying {scheme}://{public} to {target}");
            tracing::info!("Proxy API at {api_scheme}://{api}/api/routes");
        }
        if let Some(metrics) = self.metrics_endpoint() {
            tracing::info!("Serve metrics at http://{metrics}/metrics");
        }
        if let (Some(addr), Some((_, to))) = (self.redirect_addr(), &self.redirect) {
            tracing::info!(
                "Added HTTP to HTTPS redirection from {} to {to}",
                addr.port()
            );
        }
    }
}

/// The part of the options the data path reads. Built here, where the
/// listeners, the API and the forwarder are wired together, so `forward`
/// never sees [`ProxyOptions`] (nor the command line behind it).
fn forward_settings(options: &ProxyOptions) -> ForwardSettings {
    ForwardSettings {
        error_target: options.error_target.clone(),
        error_path: options.error_path.clone(),
        rewrite: Rewrite {
            prepend_path: options.prepend_path,
            include_prefix: options.include_prefix,
        },
        x_forward: options.x_forward,
        host_routing: options.host_routing,
        // The command line refuses values that are not valid HTTP; an
        // embedder's invalid ones are skipped.
        custom_headers: options
            .custom_headers
            .iter()
            .filter_map(|(name, value)| {
                Some((
                    HeaderName::from_bytes(name.as_bytes()).ok()?,
                    HeaderValue::from_str(value).ok()?,
                ))
            })
            .collect(),
        change_origin: options.change_origin,
        location: LocationRewrite {
            auto: options.auto_rewrite,
            protocol: options.protocol_rewrite.clone(),
        },
        timeout: options.timeout,
        proxy_timeout: options.proxy_timeout,
        ws_gather: Gather::new(options.ws_gather),
    }
}
