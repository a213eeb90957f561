//! ferrohub-proxy: a reverse proxy for HTTP/1.1 and WebSocket, driven by
//! configurable-http-proxy's REST API, so JupyterHub-style hubs (ferrohub,
//! and upstream's Python hub) can use it in place of CHP.
//!
//! - [`cli`]: CHP's command line.
//! - [`routes`]: the route table (longest prefix, lock-free reads).
//! - [`api`]: the REST API on its own listener.
//! - [`forward`]: the data path; [`errors`]: error pages.
//!
//! Invariant: no database and no hub types; the REST API is the only contract.

pub mod api;
mod body;
pub mod cli;
pub mod errors;
pub mod forward;
pub mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

pub use cli::{CliAction, CliError, ProxyOptions, parse_args};
pub use routes::RouteTable;

/// A proxy with both listeners bound, not yet serving.
pub struct ProxyServer {
    public: TcpListener,
    api: TcpListener,
    forwarder: Arc<forward::Forwarder>,
    token: Option<Arc<str>>,
}

impl ProxyServer {
    /// Binds the public and API ports (port 0 picks free ones) and adds the default route.
    pub async fn bind(options: ProxyOptions, auth_token: Option<String>) -> std::io::Result<Self> {
        let public_ip = if options.ip.is_empty() {
            "0.0.0.0"
        } else {
            options.ip.as_str()
        };
        let public = TcpListener::bind((public_ip, options.port)).await?;
        let api_port = options.api_port.unwrap_or_else(|| {
            if options.port == 0 {
                0
            } else {
                options.port.saturating_add(1)
            }
        });
        let api = TcpListener::bind((options.api_ip.as_str(), api_port)).await?;
        let table = Arc::new(RouteTable::default());
        if let Some(target) = &options.default_target {
            table.insert("/", target.clone(), serde_json::Map::new());
        }
        let token = auth_token.filter(|t| !t.is_empty()).map(Arc::from);
        if token.is_none() {
            tracing::warn!("REST API is not authenticated.");
        }
        Ok(Self {
            public,
            api,
            forwarder: Arc::new(forward::Forwarder::new(options, table)),
            token,
        })
    }

    /// The public address.
    pub fn public_addr(&self) -> std::io::Result<SocketAddr> {
        self.public.local_addr()
    }

    /// The API address.
    pub fn api_addr(&self) -> std::io::Result<SocketAddr> {
        self.api.local_addr()
    }

    /// The route table (for embedding and tests).
    #[must_use]
    pub fn table(&self) -> Arc<RouteTable> {
        Arc::clone(&self.forwarder.table)
    }

    /// Serves both listeners until `shutdown` resolves.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let Self {
            public,
            api,
            forwarder,
            token,
        } = self;
        let default = forwarder
            .options
            .default_target
            .clone()
            .unwrap_or_else(|| "(no default)".into());
        if let (Ok(p), Ok(a)) = (public.local_addr(), api.local_addr()) {
            tracing::info!("Proxying http://{p} to {default}");
            tracing::info!("Proxy API at http://{a}/api/routes");
        }
        let table = Arc::clone(&forwarder.table);
        let public_loop = accept_loop(public, move |peer| {
            let forwarder = Arc::clone(&forwarder);
            service_fn(move |req| {
                let forwarder = Arc::clone(&forwarder);
                async move { Ok::<_, std::convert::Infallible>(forwarder.handle(req, peer).await) }
            })
        });
        let api_loop = accept_loop(api, move |_peer| {
            let table = Arc::clone(&table);
            let token = token.clone();
            service_fn(move |req| {
                let (table, token) = (Arc::clone(&table), token.clone());
                async move { Ok::<_, std::convert::Infallible>(api::handle(req, table, token).await) }
            })
        });
        tokio::select! {
            () = public_loop => {}
            () = api_loop => {}
            () = shutdown => tracing::info!("shutting down"),
        }
    }
}

async fn accept_loop<S, F>(listener: TcpListener, make_service: F)
where
    F: Fn(SocketAddr) -> S,
    S: hyper::service::Service<
            http::Request<hyper::body::Incoming>,
            Response = http::Response<body::Body>,
            Error = std::convert::Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = make_service(peer);
        tokio::spawn(async move {
            let builder = auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("connection from {peer} ended: {e}");
            }
        });
    }
}
