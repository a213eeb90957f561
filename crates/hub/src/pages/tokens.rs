//! The token page (`{hub}token`): a user lists their API tokens, requests a
//! new one (shown once) and revokes old ones. Plain forms with the XSRF
//! field, so it works without JavaScript; tokens get the owner's own
//! permissions (`inherit`), as upstream's page gives them by default.

use axum::Form;
use axum::extract::{OriginalUri, State};
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use minijinja::context;

use super::{PageUser, check_xsrf, error_page, page_user, to_login, with_cookies, xsrf_for};
use crate::capability::TokenIssuer;
use crate::error::{HubError, PageError};
use crate::models::token_model;
use crate::service::tokens;
use crate::state::AppState;

/// The expiry choices offered, in seconds (`0` = never).
const EXPIRY_CHOICES: [(i64, &str); 5] = [
    (0, "Never"),
    (3_600, "1 hour"),
    (86_400, "1 day"),
    (604_800, "1 week"),
    (2_592_000, "30 days"),
];

/// The request form.
#[derive(serde::Deserialize)]
pub(super) struct RequestForm {
    #[serde(default, rename = "_xsrf")]
    xsrf: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    expires_in: String,
}

/// The revoke form.
#[derive(serde::Deserialize)]
pub(super) struct RevokeForm {
    #[serde(default, rename = "_xsrf")]
    xsrf: String,
    #[serde(default)]
    token_id: String,
}

/// `GET {hub}token`.
pub(super) async fn page(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(who) = page_user(&state, &headers).await? else {
        return Ok(to_login(&state, &uri));
    };
    render(&state, &headers, &who, None).await
}

/// `POST {hub}token`: creates a token and shows it once.
pub(super) async fn request(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Form(form): Form<RequestForm>,
) -> Result<Response, PageError> {
    let Some(who) = page_user(&state, &headers).await? else {
        return Ok(to_login(&state, &uri));
    };
    check_xsrf(&state, &headers, Some(&who.identity), &form.xsrf)?;
    let issuer = token_issuer(&state, &who).await?;
    let seconds: i64 = form
        .expires_in
        .trim()
        .parse()
        .ok()
        .filter(|s| EXPIRY_CHOICES.iter().any(|(choice, _)| choice == s))
        .ok_or_else(|| bad_request(&state, "Choose an expiry from the list."))?;
    let note = match form.note.trim() {
        "" => "Requested via token page",
        note => note,
    };
    let issued = tokens::create_inherit(&state, &issuer, note, seconds)
        .await
        .map_err(|e| match e {
            HubError::Invalid(message) => bad_request(&state, &message),
            other => other.into(),
        })?;
    tracing::info!(
        user = %who.user.name,
        "created API token a{} on the token page",
        issued.record.id
    );
    render(&state, &headers, &who, Some((&issued.secret, note))).await
}

/// `POST {hub}token/revoke`: deletes one of the user's own API tokens.
pub(super) async fn revoke(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Form(form): Form<RevokeForm>,
) -> Result<Response, PageError> {
    let Some(who) = page_user(&state, &headers).await? else {
        return Ok(to_login(&state, &uri));
    };
    check_xsrf(&state, &headers, Some(&who.identity), &form.xsrf)?;
    let issuer = token_issuer(&state, &who).await?;
    tokens::revoke_own(&state, &issuer, &form.token_id)
        .await
        .map_err(|e| match e {
            HubError::NotFound(message) => error_page(
                StatusCode::NOT_FOUND,
                &message,
                Some((&format!("{}token", state.urls.hub), "Back to your tokens")),
            ),
            other => other.into(),
        })?;
    tracing::info!(user = %who.user.name, "revoked API token {} on the token page", form.token_id);
    Ok(crate::redirect::found(&format!("{}token", state.urls.hub)))
}

/// Renders the page; `created` is a just-made token and its note, shown once.
async fn render(
    state: &AppState,
    headers: &HeaderMap,
    who: &PageUser,
    created: Option<(&str, &str)>,
) -> Result<Response, PageError> {
    let mut tokens: Vec<minijinja::Value> = Vec::new();
    for record in tokens::own_tokens(state, &who.user).await? {
        let model = token_model(state, &record).await?;
        let text = |key: &str| model[key].as_str().map(str::to_owned);
        tokens.push(context! {
            id => text("id"),
            note => text("note"),
            created => text("created"),
            last_activity => text("last_activity"),
            expires_at => text("expires_at"),
        });
    }
    let max = tokens::max_lifetime(state);
    let expiry_options: Vec<minijinja::Value> = EXPIRY_CHOICES
        .iter()
        .filter(|(seconds, _)| max <= 0 || (*seconds > 0 && *seconds <= max))
        .map(|&(seconds, label)| context! { seconds => seconds, label => label })
        .collect();
    let (xsrf, cookie) = xsrf_for(state, headers, Some(&who.identity));
    let html = state.templates.render(
        "token.html",
        context! {
            hub => &state.urls.hub,
            user => &who.user.name,
            xsrf => xsrf,
            tokens => tokens,
            expiry_options => expiry_options,
            new_token => created.map(|c| c.0),
            new_note => created.map(|c| c.1),
        },
    );
    let mut response = with_cookies(Html(html).into_response(), cookie);
    // The page may hold a token in clear: never cache it.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Managing one's tokens needs the `tokens` scope on oneself (default role `user`).
async fn token_issuer(state: &AppState, who: &PageUser) -> Result<TokenIssuer, PageError> {
    who.identity
        .token_issuer(state, &who.user.name)
        .await
        .map_err(|e| match e {
            HubError::Denied(_) => error_page(
                StatusCode::FORBIDDEN,
                "You may not manage API tokens on this hub.",
                None,
            ),
            other => other.into(),
        })
}

fn bad_request(state: &AppState, message: &str) -> PageError {
    error_page(
        StatusCode::BAD_REQUEST,
        message,
        Some((&format!("{}token", state.urls.hub), "Back to your tokens")),
    )
}
