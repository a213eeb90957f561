//! The two listeners (public proxy and REST API) and their accept loops.
//! Binding is separate from serving so callers learn the real ports (tests
//! bind port 0) and can write a pid file before traffic starts.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};

use crate::api::Api;
use crate::body::{Body, BoxError};
use crate::cli::ProxyOptions;
use crate::forward::Forwarder;
use crate::routes::RouteTable;

/// A listener could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {address}: {source}")]
pub struct BindError {
    /// What we tried to bind (`ip:port`).
    pub address: String,
    /// The OS error.
    #[source]
    pub source: std::io::Error,
}

/// A proxy with both listeners bound, not yet serving.
pub struct ProxyServer {
    public: TcpListener,
    api_listener: TcpListener,
    forwarder: Arc<Forwarder>,
    api: Arc<Api>,
    keep_alive: Duration,
    default_target: Option<String>,
}

impl ProxyServer {
    /// Binds the public and API ports (port 0 picks free ones) and adds the
    /// `--default-target` route. `auth_token` is `CONFIGPROXY_AUTH_TOKEN`.
    pub async fn bind(
        options: ProxyOptions,
        auth_token: Option<String>,
    ) -> Result<Self, BindError> {
        let public = bind_public(&options.ip, options.port).await?;
        let public_port = public.local_addr().map_or(options.port, |a| a.port());
        let api_port = options.api_port.unwrap_or_else(|| {
            if options.port == 0 {
                0
            } else {
                public_port.saturating_add(1)
            }
        });
        let api_listener = bind(&options.api_ip, api_port).await?;
        let table = Arc::new(RouteTable::default());
        if let Some(target) = &options.default_target {
            tracing::info!("Adding route / -> {target}");
            table.insert("/", target.clone(), serde_json::Map::new());
            tracing::info!("Route added / -> {target}");
        }
        let api = Arc::new(
            Api::new(Arc::clone(&table), auth_token).with_host_routing(options.host_routing),
        );
        if !api.is_authenticated() {
            tracing::warn!("REST API is not authenticated.");
        }
        Ok(Self {
            public,
            api_listener,
            forwarder: Arc::new(Forwarder::new(&options, table)),
            api,
            keep_alive: options.keep_alive_timeout,
            default_target: options.default_target,
        })
    }

    /// The address the public proxy listens on.
    pub fn public_addr(&self) -> std::io::Result<SocketAddr> {
        self.public.local_addr()
    }

    /// The address the REST API listens on.
    pub fn api_addr(&self) -> std::io::Result<SocketAddr> {
        self.api_listener.local_addr()
    }

    /// The route table, for embedding the proxy in-process and for tests.
    #[must_use]
    pub fn table(&self) -> Arc<RouteTable> {
        Arc::clone(self.forwarder.table())
    }

    /// Serves both listeners until `shutdown` resolves. Connections already
    /// accepted finish on their own tasks.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        self.log_start();
        let Self {
            public,
            api_listener,
            forwarder,
            api,
            keep_alive,
            ..
        } = self;
        let proxy_loop = accept_loop(public, keep_alive, move |peer| {
            let forwarder = Arc::clone(&forwarder);
            move |req: Request<Incoming>| Arc::clone(&forwarder).handle(req, peer)
        });
        let api_loop = accept_loop(api_listener, keep_alive, move |_peer| {
            let api = Arc::clone(&api);
            move |req: Request<Incoming>| {
                let api = Arc::clone(&api);
                async move { Ok::<_, Infallible>(api.handle(req).await) }
            }
        });
        tokio::select! {
            () = proxy_loop => {}
            () = api_loop => {}
            () = shutdown => {}
        }
    }

    fn log_start(&self) {
        let target = self.default_target.as_deref().unwrap_or("(no default)");
        if let (Ok(public), Ok(api)) = (self.public_addr(), self.api_addr()) {
            tracing::info!("Proxying http://{public} to {target}");
            tracing::info!("Proxy API at http://{api}/api/routes");
        }
    }
}

/// Binds the public port; all interfaces (empty or `*`) means dual-stack
/// `::` where the host has IPv6, else `0.0.0.0`.
async fn bind_public(ip: &str, port: u16) -> Result<TcpListener, BindError> {
    if ip == "*" {
        tracing::warn!(
            "Interpreting ip='*' as all-interfaces. Preferred usage is 0.0.0.0 for all IPv4 or '' for all-interfaces."
        );
    }
    if ip.is_empty() || ip == "*" {
        if let Ok(listener) = TcpListener::bind(("::", port)).await {
            return Ok(listener);
        }
        return bind("0.0.0.0", port).await;
    }
    bind(ip, port).await
}

async fn bind(ip: &str, port: u16) -> Result<TcpListener, BindError> {
    let host = ip.trim_start_matches('[').trim_end_matches(']');
    TcpListener::bind((host, port))
        .await
        .map_err(|source| BindError {
            address: format!("{ip}:{port}"),
            source,
        })
}

/// Accepts connections forever, serving each on its own task with HTTP/1.1
/// keep-alive (idle limit `keep_alive`), upgrades, and HTTP/2 prior knowledge.
async fn accept_loop<M, S, F, E>(listener: TcpListener, keep_alive: Duration, make_service: M)
where
    M: Fn(SocketAddr) -> S,
    S: Fn(Request<Incoming>) -> F + Send + 'static,
    F: Future<Output = Result<Response<Body>, E>> + Send + 'static,
    E: Into<BoxError>,
{
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Usually EMFILE: back off instead of spinning.
                tracing::error!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        tune(&stream);
        let service = service_fn(make_service(peer));
        tokio::spawn(async move {
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(keep_alive);
            let io = TokioIo::new(stream);
            if let Err(e) = builder.serve_connection_with_upgrades(io, service).await {
                tracing::debug!("connection from {peer} ended: {e}");
            }
        });
    }
}

/// No Nagle delay, and TCP keep-alive so dead peers of long-lived
/// (websocket) connections are eventually noticed.
fn tune(stream: &TcpStream) {
    let _ = stream.set_nodelay(true);
    let _ = socket2::SockRef::from(stream).set_keepalive(true);
}
