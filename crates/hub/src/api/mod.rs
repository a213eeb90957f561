//! The REST API under `{hub}api/`: JSON in, JSON out, `{"status", "message"}` errors.

mod info;
mod oauth;
mod users;

use axum::Router;
use axum::routing::{get, post};
use http::{HeaderMap, Method};

use crate::error::ApiError;
use crate::identity::{self, Identity};
use crate::state::AppState;

/// Routes of the API, mounted under `{hub}api`.
pub fn router(state: &AppState) -> Router<AppState> {
    let api = format!("{}api", state.urls.hub);
    Router::new()
        .route(&api, get(info::root))
        .route(&format!("{api}/"), get(info::root))
        .route(&format!("{api}/info"), get(info::info))
        .route(&format!("{api}/user"), get(users::whoami))
        .route(&format!("{api}/users"), get(users::list))
        .route(
            &format!("{api}/users/{{name}}"),
            get(users::get_one)
                .post(users::create)
                .delete(users::delete),
        )
        .route(
            &format!("{api}/users/{{name}}/server"),
            post(users::start_server).delete(users::stop_server),
        )
        .route(
            &format!("{api}/users/{{name}}/activity"),
            post(users::activity),
        )
        .route(&format!("{api}/oauth2/authorize"), get(oauth::authorize))
        .route(&format!("{api}/oauth2/token"), post(oauth::token))
        .route(&format!("{api}/{{*rest}}"), axum::routing::any(not_found))
}

async fn not_found() -> ApiError {
    ApiError::not_found("No such API endpoint")
}

/// The caller, or 403 (upstream answers 403, never 401, for missing or bad credentials).
/// Cookie-authenticated requests that change state must carry the XSRF token.
pub async fn require_identity(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Identity, ApiError> {
    let identity = identity::identify(state, headers)
        .await?
        .ok_or_else(|| ApiError::forbidden("Missing or invalid credentials."))?;
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if identity.via_cookie()
        && !safe
        && !crate::xsrf::check(headers, crate::xsrf::header_token(headers).as_deref())
    {
        return Err(ApiError::forbidden(
            "XSRF cookie does not match POST argument",
        ));
    }
    Ok(identity)
}
