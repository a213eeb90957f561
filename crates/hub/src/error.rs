//! The one place where failures become HTTP responses: JSON for the API,
//! a readable page for browsers.

use axum::Json;
use axum::response::{Html, IntoResponse, Response};
use http::StatusCode;
use serde_json::json;
use thiserror::Error;

/// What went wrong in a hub operation (the service layer's one error type).
/// Mapped once to API JSON ([`ApiError`]) and once to pages ([`PageError`]);
/// internal causes (database, spawner, proxy) are logged and never shown.
#[derive(Debug, Error)]
pub(crate) enum HubError {
    /// The request is malformed or breaks a rule (400).
    #[error("{0}")]
    Invalid(String),
    /// The caller may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// A capability was refused by a scope check; it knows upstream's status.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// An OAuth 2 token-endpoint refusal, answered in OAuth's own JSON form.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// No such thing, or not visible to the caller (404).
    #[error("{0}")]
    NotFound(String),
    /// It exists already, or is in the way (409).
    #[error("{0}")]
    Conflict(String),
    /// This resource does not allow the operation (405), e.g. deleting a
    /// service defined in the configuration.
    #[error("{0}")]
    NotAllowed(String),
    /// Too many at once; try again later (429).
    #[error("{message}")]
    Throttled {
        /// Client-facing text.
        message: String,
        /// Seconds for `Retry-After`.
        retry_after: Option<u64>,
    },
    /// The database failed (500, cause logged; 503 while it is unreachable).
    #[error(transparent)]
    Store(#[from] ferrohub_store::StoreError),
    /// Something internal failed (500, cause logged).
    #[error("{0}")]
    Internal(String),
    /// A server's start failed; the text is client-safe (the spawner's own
    /// refusal, or a generic one for internal causes, see
    /// `runtime::spawn::SpawnFailure`), shown as `Spawn failed: …` (500).
    #[error("Spawn failed: {0}")]
    SpawnFailed(String),
}

/// Engine failures of the runtime are internal: logged, never shown.
impl From<crate::runtime::RuntimeError> for HubError {
    fn from(err: crate::runtime::RuntimeError) -> Self {
        match err {
            crate::runtime::RuntimeError::Store(e) => Self::Store(e),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// A refused spawn answers as upstream: 404, 400 or 429 with its text.
impl From<crate::runtime::spawn::SpawnRefused> for HubError {
    fn from(err: crate::runtime::spawn::SpawnRefused) -> Self {
        use crate::runtime::spawn::SpawnRefused;
        match err {
            SpawnRefused::NoSuchServer { .. } => Self::NotFound(err.to_string()),
            SpawnRefused::PendingStop(_) => Self::Invalid(err.to_string()),
            SpawnRefused::Throttled {
                message,
                retry_after,
            } => Self::Throttled {
                message,
                retry_after,
            },
            SpawnRefused::Store(e) => Self::Store(e),
        }
    }
}

/// `user_options` the configuration cannot honour are the request's fault (400).
impl From<crate::runtime::spawn::BadUserOptions> for HubError {
    fn from(err: crate::runtime::spawn::BadUserOptions) -> Self {
        Self::Invalid(err.to_string())
    }
}

impl From<HubError> for ApiError {
    fn from(err: HubError) -> Self {
        match err {
            HubError::Invalid(m) => Self::bad_request(m),
            HubError::Forbidden(m) => Self::forbidden(m),
            HubError::Denied(denied) => Self::new(denied.status(), denied.to_string()),
            HubError::OAuth(e) => Self::new(e.status, e.description),
            HubError::NotFound(m) => Self::not_found(m),
            HubError::Conflict(m) => Self::conflict(m),
            HubError::NotAllowed(m) => Self::new(StatusCode::METHOD_NOT_ALLOWED, m),
            HubError::Throttled {
                message,
                retry_after,
            } => Self::too_many(message, retry_after),
            HubError::Store(e) => e.into(),
            HubError::Internal(cause) => Self::internal(&cause),
            HubError::SpawnFailed(message) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Spawn failed: {message}"),
            ),
        }
    }
}

/// A refused scope check, as upstream's `needs_scope` answers it: the status
/// is part of the value, so no caller can answer 403 where upstream hides the
/// resource with 404, or the other way round.
#[derive(Debug, Error)]
pub(crate) enum Denied {
    /// The caller holds the scope for other resources only: 404, so that the
    /// answer does not reveal whether this one exists.
    #[error("No access to resources or resources not found")]
    Hidden,
    /// The caller lacks the scope (403), with a message naming what is needed.
    #[error("{0}")]
    Forbidden(String),
}

impl Denied {
    /// The HTTP status upstream answers.
    #[must_use]
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::Hidden => StatusCode::NOT_FOUND,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
        }
    }
}

/// An OAuth 2 error of the token endpoint (RFC 6749 §5.2): clients expect
/// `{"error", "error_description"}`, not the API's `{"status", "message"}`.
#[derive(Debug, Error)]
#[error("{error}: {description}")]
pub(crate) struct OAuthError {
    /// 400 or 401.
    pub status: StatusCode,
    /// The RFC's error code (`invalid_client`, `invalid_grant`, ...).
    pub error: &'static str,
    /// Human-readable text.
    pub description: &'static str,
}

impl OAuthError {
    /// An OAuth error with its status, code and description.
    #[must_use]
    pub(crate) const fn new(
        status: StatusCode,
        error: &'static str,
        description: &'static str,
    ) -> Self {
        Self {
            status,
            error,
            description,
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": self.error, "error_description": self.description})),
        )
            .into_response()
    }
}

impl HubError {
    /// The answer of an OAuth endpoint: OAuth errors in OAuth's form, anything
    /// else (the database failing) as the API's JSON error.
    #[must_use]
    pub(crate) fn into_oauth_response(self) -> Response {
        match self {
            Self::OAuth(e) => e.into_response(),
            other => ApiError::from(other).into_response(),
        }
    }
}

/// Lets operations use checks that still answer in API terms (`Identity::require`).
impl From<ApiError> for HubError {
    fn from(err: ApiError) -> Self {
        match err.status {
            StatusCode::BAD_REQUEST => Self::Invalid(err.message),
            StatusCode::FORBIDDEN => Self::Forbidden(err.message),
            StatusCode::NOT_FOUND => Self::NotFound(err.message),
            StatusCode::CONFLICT => Self::Conflict(err.message),
            StatusCode::METHOD_NOT_ALLOWED => Self::NotAllowed(err.message),
            StatusCode::TOO_MANY_REQUESTS => Self::Throttled {
                message: err.message,
                retry_after: err.retry_after,
            },
            _ => Self::Internal(err.message),
        }
    }
}

impl From<HubError> for PageError {
    fn from(err: HubError) -> Self {
        ApiError::from(err).into()
    }
}

/// An API failure: `{"status": N, "message": "..."}` with status N.
#[derive(Debug, Error)]
#[error("{status}: {message}")]
pub(crate) struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Message for the client (never internal details).
    pub message: String,
    /// Seconds for a `Retry-After` header (429 answers).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a status and client-facing message.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }
    /// 429 with a `Retry-After` hint.
    pub(crate) fn too_many(message: impl Into<String>, retry_after: Option<u64>) -> Self {
        Self {
            retry_after,
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, message)
        }
    }
    /// 400.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    /// 403.
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    /// 404.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    /// 409.
    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }
    /// 500 for an internal failure: the cause is logged, the client sees a generic text.
    pub(crate) fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!("internal error: {cause}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal server error; see the hub log.",
        )
    }
}

/// Seconds a client is asked to wait (`Retry-After`) while the database is
/// unreachable.
const DATABASE_RETRY_AFTER: u64 = 5;

impl ApiError {
    /// 503 while the database is unreachable: the request is fine and may be
    /// repeated; the cause is logged (as a warning: the hub itself is fine).
    pub(crate) fn database_unavailable(cause: &dyn std::fmt::Display) -> Self {
        tracing::warn!("{cause}");
        Self {
            retry_after: Some(DATABASE_RETRY_AFTER),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The hub's database is unavailable; try again shortly.",
            )
        }
    }
}

impl From<ferrohub_store::StoreError> for ApiError {
    fn from(err: ferrohub_store::StoreError) -> Self {
        match err {
            ferrohub_store::StoreError::Conflict(what) => {
                Self::conflict(format!("{what} already exists"))
            }
            ferrohub_store::StoreError::Unavailable(_) => Self::database_unavailable(&err),
            other => Self::internal(&other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"status": self.status.as_u16(), "message": self.message});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
        }
        response
    }
}

/// A browser-page failure rendered as the error page.
#[derive(Debug, Clone)]
pub(crate) struct PageError {
    /// HTTP status.
    pub status: StatusCode,
    /// Message shown to the user.
    pub message: String,
    /// A way on (href, text), shown as a button.
    pub link: Option<(String, String)>,
}

impl PageError {
    /// An error page with a message.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            link: None,
        }
    }

    /// 500 for an internal failure: the cause is logged only.
    pub(crate) fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!("internal error: {cause}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on the hub; the administrator can find details in its log.",
        )
    }
}

impl From<ferrohub_store::StoreError> for PageError {
    fn from(err: ferrohub_store::StoreError) -> Self {
        if matches!(err, ferrohub_store::StoreError::Unavailable(_)) {
            tracing::warn!("{err}");
            return Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The hub cannot reach its database right now. Please try again in a moment.",
            );
        }
        Self::internal(&err)
    }
}

/// Lets page handlers reuse the API's helpers; the message is already client-safe.
impl From<ApiError> for PageError {
    fn from(err: ApiError) -> Self {
        Self::new(err.status, err.message)
    }
}

/// The body is a bare page; `pages::render_error_pages`, which knows the
/// templates and who is signed in, replaces it with the site's error page.
impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let html = crate::templates::plain_error_page(self.status, &self.message);
        let mut response = (self.status, Html(html)).into_response();
        response.extensions_mut().insert(self);
        response
    }
}
