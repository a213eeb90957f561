//! Talking to the identity provider: the HTTP client (rustls with ring and
//! the system's roots, no redirects followed, bounded timeouts), OIDC
//! discovery, the token and userinfo requests, and the provider's signing
//! keys (JWKS). Tokens and secrets never reach a log line from here.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use serde_json::Value;

use crate::AuthError;

/// The longest a whole request to the provider may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The longest connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of an error body goes into the log.
const LOGGED_BODY: usize = 300;

/// Why a request to the provider failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    /// The provider answered with an error status.
    #[error("{url} answered {status}: {body}")]
    Status {
        /// The URL without its query (which may carry a token).
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body (OAuth error JSON, for the log).
        body: String,
    },
    /// No answer: connection, TLS or timeout.
    #[error("{url}: {detail}")]
    Transport {
        /// The URL without its query.
        url: String,
        /// What failed.
        detail: String,
    },
    /// An answer that is not the JSON object expected.
    #[error("{url} answered something that is not a JSON object: {detail}")]
    Json {
        /// The URL without its query.
        url: String,
        /// The parse error.
        detail: String,
    },
}

impl FetchError {
    /// A 4xx answer: the provider refused (expired token, used code).
    pub(crate) fn is_refusal(&self) -> bool {
        matches!(self, Self::Status { status, .. } if (400..500).contains(status))
    }

    /// The OAuth `error` code of a refusal's JSON body, if any.
    pub(crate) fn oauth_error(&self) -> Option<String> {
        match self {
            Self::Status { body, .. } => serde_json::from_str::<Value>(body)
                .ok()?
                .get("error")?
                .as_str()
                .map(str::to_owned),
            _ => None,
        }
    }
}

/// The provider's endpoints once known (configured, or from discovery).
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    pub authorize: String,
    pub token: String,
    pub userdata: Option<String>,
    /// Where the signing keys are (OIDC discovery's `jwks_uri`).
    pub jwks: Option<String>,
    /// The issuer ID tokens must name.
    pub issuer: Option<String>,
}

/// The longest answer read from the provider.
const MAX_BODY: usize = 1 << 20;

type Connector = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

/// The HTTP client for one authenticator.
#[derive(Clone)]
pub(crate) struct Http {
    client: hyper_util::client::legacy::Client<Connector, http_body_util::Full<bytes::Bytes>>,
}

impl Http {
    /// A client trusting the system's CA certificates, with rustls' ring
    /// provider (no process-wide default needed); like every hyper client
    /// it follows no redirects.
    pub(crate) fn new() -> Result<Self, AuthError> {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        let (added, _ignored) = roots.add_parsable_certificates(native.certs);
        if added == 0 {
            tracing::warn!(
                "no system CA certificates found; https requests to the identity provider will fail"
            );
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| AuthError::Config(format!("TLS set-up for OAuth failed: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut tcp = hyper_util::client::legacy::connect::HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector);
        Ok(Self { client })
    }

    /// GETs JSON, with an `Authorization` header if given.
    pub(crate) async fn get_json(
        &self,
        url: &str,
        query: &[(String, String)],
        authorization: Option<String>,
    ) -> Result<Value, FetchError> {
        let mut full = url::Url::parse(url).map_err(|e| FetchError::Transport {
            url: without_query(url),
            detail: e.to_string(),
        })?;
        if !query.is_empty() {
            full.query_pairs_mut().extend_pairs(query);
        }
        let mut request = http::Request::get(full.as_str());
        if let Some(authorization) = authorization {
            request = request.header(http::header::AUTHORIZATION, authorization);
        }
        self.send(url, request, bytes::Bytes::new()).await
    }

    /// POSTs a form (the token endpoint), with HTTP Basic client
    /// credentials if given.
    pub(crate) async fn post_form(
        &self,
        url: &str,
        form: &[(String, String)],
        basic: Option<(&str, &str)>,
    ) -> Result<Value, FetchError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut request = http::Request::post(url).header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=utf-8",
        );
        if let Some((id, secret)) = basic {
            use base64::Engine as _;
            // RFC 6749 §2.3.1: form-urlencode each part before Basic.
            let pair = format!("{}:{}", form_encode(id), form_encode(secret));
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            request = request.header(http::header::AUTHORIZATION, format!("Basic {encoded}"));
        }
        self.send(url, request, bytes::Bytes::from(body)).await
    }

    /// Sends one request within [`REQUEST_TIMEOUT`] and reads a JSON object.
    async fn send(
        &self,
        url: &str,
        request: http::request::Builder,
        body: bytes::Bytes,
    ) -> Result<Value, FetchError> {
        use http_body_util::BodyExt as _;
        let shown = without_query(url);
        let transport = |detail: String| FetchError::Transport {
            url: shown.clone(),
            detail,
        };
        let request = request
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::USER_AGENT, "JupyterHub (ferrohub)")
            .body(http_body_util::Full::new(body))
            .map_err(|e| transport(e.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| transport(connect_error(&e)))?;
            let status = response.status();
            let body = http_body_util::Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| transport(format!("reading the answer: {e}")))?
                .to_bytes();
            Ok::<_, FetchError>((status, body))
        };
        let (status, body) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| transport(format!("no answer within {REQUEST_TIMEOUT:?}")))??;
        let text = String::from_utf8_lossy(&body);
        if !status.is_success() {
            return Err(FetchError::Status {
                url: shown,
                status: status.as_u16(),
                body: text.chars().take(LOGGED_BODY).collect(),
            });
        }
        match serde_json::from_str::<Value>(&text) {
            Ok(value @ Value::Object(_)) => Ok(value),
            Ok(_) => Err(FetchError::Json {
                url: shown,
                detail: "not an object".into(),
            }),
            Err(e) => Err(FetchError::Json {
                url: shown,
                detail: e.to_string(),
            }),
        }
    }

    /// OIDC discovery: `{issuer}/.well-known/openid-configuration`.
    pub(crate) async fn discover(&self, issuer: &str) -> Result<Endpoints, FetchError> {
        let url = format!("{issuer}/.well-known/openid-configuration");
        let doc = self.get_json(&url, &[], None).await?;
        let field = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_owned);
        let missing = |name: &str| FetchError::Json {
            url: url.clone(),
            detail: format!("no {name} in the discovery document"),
        };
        let announced = field("issuer").ok_or_else(|| missing("issuer"))?;
        if announced.trim_end_matches('/') != issuer {
            return Err(FetchError::Json {
                url: url.clone(),
                detail: format!("issuer {announced:?} is not the configured {issuer:?}"),
            });
        }
        Ok(Endpoints {
            authorize: field("authorization_endpoint")
                .ok_or_else(|| missing("authorization_endpoint"))?,
            token: field("token_endpoint").ok_or_else(|| missing("token_endpoint"))?,
            userdata: field("userinfo_endpoint"),
            jwks: field("jwks_uri"),
            issuer: Some(announced),
        })
    }

    /// The provider's signing keys.
    pub(crate) async fn jwks(&self, url: &str) -> Result<JwkSet, FetchError> {
        let value = self.get_json(url, &[], None).await?;
        serde_json::from_value(value).map_err(|e| FetchError::Json {
            url: url.to_owned(),
            detail: e.to_string(),
        })
    }
}

/// `application/x-www-form-urlencoded` of one value.
fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The URL without its query string (which may carry an access token).
fn without_query(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_owned()
}

/// A connection failure with its cause (hyper's own text is only
/// "client error (Connect)").
fn connect_error(e: &hyper_util::client::legacy::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
