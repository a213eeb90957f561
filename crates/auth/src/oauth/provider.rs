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

/// The HTTP client for one authenticator.
#[derive(Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
}

impl Http {
    /// A client trusting the system's CA certificates, with the ring
    /// provider (no process-wide default needed), following no redirects.
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
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent("JupyterHub (ferrohub)")
            .build()
            .map_err(|e| AuthError::Config(format!("HTTP client for OAuth: {e}")))?;
        Ok(Self { client })
    }

    /// GETs JSON, with a bearer token if given.
    pub(crate) async fn get_json(
        &self,
        url: &str,
        query: &[(String, String)],
        authorization: Option<String>,
    ) -> Result<Value, FetchError> {
        let mut request = self
            .client
            .get(url)
            .query(query)
            .header("Accept", "application/json");
        if let Some(authorization) = authorization {
            request = request.header("Authorization", authorization);
        }
        read_json(url, request.send().await).await
    }

    /// POSTs a form (the token endpoint), with HTTP Basic client
    /// credentials if given.
    pub(crate) async fn post_form(
        &self,
        url: &str,
        form: &[(String, String)],
        basic: Option<(&str, &str)>,
    ) -> Result<Value, FetchError> {
        let mut request = self
            .client
            .post(url)
            .header("Accept", "application/json")
            .form(form);
        if let Some((id, secret)) = basic {
            // RFC 6749 §2.3.1: form-urlencode each part before Basic.
            request = request.basic_auth(form_encode(id), Some(form_encode(secret)));
        }
        read_json(url, request.send().await).await
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

async fn read_json(
    url: &str,
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<Value, FetchError> {
    let url = without_query(url);
    let response = sent.map_err(|e| FetchError::Transport {
        url: url.clone(),
        detail: e.without_url().to_string(),
    })?;
    let status = response.status();
    let body = response.text().await.map_err(|e| FetchError::Transport {
        url: url.clone(),
        detail: e.without_url().to_string(),
    })?;
    if !status.is_success() {
        return Err(FetchError::Status {
            url,
            status: status.as_u16(),
            body: body.chars().take(LOGGED_BODY).collect(),
        });
    }
    match serde_json::from_str::<Value>(&body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(FetchError::Json {
            url,
            detail: "not an object".into(),
        }),
        Err(e) => Err(FetchError::Json {
            url,
            detail: e.to_string(),
        }),
    }
}
