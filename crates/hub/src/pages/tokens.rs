//! The token page (`{hub}token`): a user lists their API tokens, requests a
//! new one (shown once) and revokes old ones. Plain forms with the XSRF
//! field, so it works without JavaScript; tokens get the owner's own
//! permissions (`inherit`), as upstream's page gives them by default.

use axum::Form;
use axum::extract::{OriginalUri, State};
use axum::response::{Html, IntoResponse, Response};
use ferrohub_core::token::{self, GENERATED_TOKEN_ROUNDS};
use ferrohub_rbac::scopes;
use ferrohub_store::{BUILTIN_CLIENT, NewToken, TokenOwner};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use minijinja::context;

use super::{PageUser, check_xsrf, error_page, page_user, to_login, with_cookies, xsrf_for};
use crate::access::Target;
use crate::error::PageError;
use crate::models::token_model;
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
    may_manage_tokens(&state, &who).await?;
    let note = form.note.trim();
    if note.len() > 1023 {
        return Err(bad_request(&state, "The note is longer than 1023 bytes."));
    }
    let seconds: i64 = form
        .expires_in
        .trim()
        .parse()
        .ok()
        .filter(|s| EXPIRY_CHOICES.iter().any(|(choice, _)| choice == s))
        .ok_or_else(|| bad_request(&state, "Choose an expiry from the list."))?;
    let max = max_lifetime(&state);
    if max > 0 && (seconds == 0 || seconds > max) {
        return Err(bad_request(
            &state,
            &format!("Tokens on this hub expire within {max} seconds; choose a shorter expiry."),
        ));
    }
    let secret = token::new_token();
    let expires_at =
        (seconds > 0).then(|| ferrohub_core::time::now() + chrono::Duration::seconds(seconds));
    let note = if note.is_empty() {
        "Requested via token page"
    } else {
        note
    };
    let id = state
        .store
        .create_token(&NewToken {
            token: &secret,
            rounds: GENERATED_TOKEN_ROUNDS,
            owner: TokenOwner::User(who.user.id),
            client_id: BUILTIN_CLIENT,
            session_id: None,
            scopes: &["inherit".to_owned()],
            note: Some(note),
            expires_at,
        })
        .await?;
    tracing::info!(user = %who.user.name, "created API token a{id} on the token page");
    render(&state, &headers, &who, Some((&secret, note))).await
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
    may_manage_tokens(&state, &who).await?;
    let id = form
        .token_id
        .strip_prefix('a')
        .and_then(|n| n.parse::<i64>().ok());
    let owned = state
        .store
        .tokens_of_owner(TokenOwner::User(who.user.id))
        .await?
        .into_iter()
        .find(|t| Some(t.id) == id && t.client_id == BUILTIN_CLIENT);
    let Some(token) = owned else {
        return Err(error_page(
            StatusCode::NOT_FOUND,
            "No such token of yours (already revoked?).",
            Some((&format!("{}token", state.urls.hub), "Back to your tokens")),
        ));
    };
    state.store.delete_token(token.id).await?;
    tracing::info!(user = %who.user.name, "revoked API token a{} on the token page", token.id);
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
    for record in state
        .store
        .tokens_of_owner(TokenOwner::User(who.user.id))
        .await?
        .into_iter()
        .filter(|t| t.client_id == BUILTIN_CLIENT)
    {
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
    let max = max_lifetime(state);
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

/// `JupyterHub.token_expires_in_max_seconds` (0 = no limit).
fn max_lifetime(state: &AppState) -> i64 {
    i64::try_from(state.config.jupyterhub.token_expires_in_max_seconds).unwrap_or(i64::MAX)
}

/// Managing one's tokens needs the `tokens` scope on oneself (default role `user`).
async fn may_manage_tokens(state: &AppState, who: &PageUser) -> Result<(), PageError> {
    if who
        .identity
        .allows(state, scopes::TOKENS, Target::User(&who.user.name))
        .await?
    {
        Ok(())
    } else {
        Err(error_page(
            StatusCode::FORBIDDEN,
            "You may not manage API tokens on this hub.",
            None,
        ))
    }
}

fn bad_request(state: &AppState, message: &str) -> PageError {
    error_page(
        StatusCode::BAD_REQUEST,
        message,
        Some((&format!("{}token", state.urls.hub), "Back to your tokens")),
    )
}
