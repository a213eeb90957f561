//! The token page (`{hub}token`): a user lists their API tokens, requests a
//! new one (shown once) with a list of scopes ("Permissions"; none means the
//! owner's own permissions, `inherit`, as upstream's page), revokes old ones,
//! and sees the OAuth clients holding tokens of theirs ("Authorized
//! Applications": services, their servers) with a Revoke that deletes all of
//! that client's tokens. Plain forms with the XSRF field, so it works without
//! JavaScript.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use minijinja::context;

use super::signed_in::{SignedIn, SignedInForm};
use super::{PageUser, error_page, with_cookies, xsrf_for};
use crate::capability::TokenIssuer;
use crate::error::{HubError, PageError};
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
    #[serde(default)]
    note: String,
    #[serde(default)]
    expires_in: String,
    #[serde(default)]
    scopes: String,
}

/// The revoke form.
#[derive(serde::Deserialize)]
pub(super) struct RevokeForm {
    #[serde(default)]
    token_id: String,
}

/// The revoke form of an authorized application.
#[derive(serde::Deserialize)]
pub(super) struct RevokeClientForm {
    #[serde(default)]
    client_id: String,
}

/// The scopes typed into the form: separated by spaces and/or commas, as
/// upstream's token page splits them; empty entries dropped.
fn parse_scopes(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What the form asked for, shown again when the request is refused.
#[derive(Default)]
struct Refused<'a> {
    message: &'a str,
    note: &'a str,
    scopes: &'a str,
}

/// `GET {hub}token`.
pub(super) async fn page(
    State(state): State<AppState>,
    SignedIn(who): SignedIn,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    render(&state, &headers, &who, None, None).await
}

/// `POST {hub}token`: creates a token and shows it once.
pub(super) async fn request(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedInForm(who, form): SignedInForm<RequestForm>,
) -> Result<Response, PageError> {
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
    let scopes = parse_scopes(&form.scopes);
    let issued = match tokens::create_from_page(&state, &issuer, note, seconds, scopes).await {
        Ok(issued) => issued,
        // A scope the user does not hold, or a misspelt one: the page again,
        // with the reason and what they typed.
        Err(HubError::Invalid(message)) => {
            let refused = Refused {
                message: &message,
                note: &form.note,
                scopes: &form.scopes,
            };
            let mut page = render(&state, &headers, &who, None, Some(refused)).await?;
            *page.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(page);
        }
        Err(other) => return Err(other.into()),
    };
    tracing::info!(
        user = %who.user.name,
        scopes = ?issued.record.scopes,
        "created API token a{} on the token page",
        issued.record.id
    );
    render(&state, &headers, &who, Some((&issued.secret, note)), None).await
}

/// `POST {hub}token/revoke`: deletes one of the user's own API tokens.
pub(super) async fn revoke(
    State(state): State<AppState>,
    SignedInForm(who, form): SignedInForm<RevokeForm>,
) -> Result<Response, PageError> {
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

/// `POST {hub}token/revoke-application`: deletes all of the user's tokens
/// held by one OAuth client (upstream's page revokes one of them through
/// the API, which deletes them all).
pub(super) async fn revoke_client(
    State(state): State<AppState>,
    _headers: HeaderMap,
    SignedInForm(who, form): SignedInForm<RevokeClientForm>,
) -> Result<Response, PageError> {
    let issuer = token_issuer(&state, &who).await?;
    let deleted = tokens::revoke_client(&state, &issuer, &form.client_id)
        .await
        .map_err(|e| match e {
            HubError::NotFound(message) => error_page(
                StatusCode::NOT_FOUND,
                &message,
                Some((&format!("{}token", state.urls.hub), "Back to your tokens")),
            ),
            other => other.into(),
        })?;
    tracing::info!(
        user = %who.user.name,
        client = %form.client_id,
        "revoked {deleted} OAuth tokens of an authorized application on the token page"
    );
    Ok(crate::redirect::found(&format!("{}token", state.urls.hub)))
}

/// A time for the page: ISO 8601 for `<time datetime>`, and a short text.
fn iso(ts: Option<&ferrohub_core::time::Timestamp>) -> Option<minijinja::Value> {
    ts.map(|t| {
        context! {
            iso => ferrohub_core::time::iso_z(t),
            text => t.format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    })
}

/// Renders the page; `created` is a just-made token and its note, shown
/// once; `refused` a request turned down, with what was typed.
async fn render(
    state: &AppState,
    headers: &HeaderMap,
    who: &PageUser,
    created: Option<(&str, &str)>,
    refused: Option<Refused<'_>>,
) -> Result<Response, PageError> {
    let mut tokens: Vec<minijinja::Value> = Vec::new();
    for record in tokens::own_tokens(state, &who.user).await? {
        tokens.push(context! {
            id => format!("a{}", record.id),
            note => record.note.as_deref().filter(|n| !n.is_empty()),
            scopes => &record.scopes,
            created => iso(record.created.as_ref()),
            last_activity => iso(record.last_activity.as_ref()),
            expires_at => iso(record.expires_at.as_ref()),
        });
    }
    let clients: Vec<minijinja::Value> = tokens::authorized_clients(state, &who.user)
        .await?
        .into_iter()
        .map(|c| {
            context! {
                client_id => c.client_id,
                description => c.description,
                scopes => c.scopes,
                created => iso(c.created.as_ref()),
                last_activity => iso(c.last_activity.as_ref()),
                token_count => c.token_count,
            }
        })
        .collect();
    let max = tokens::max_lifetime(state);
    let expiry_options: Vec<minijinja::Value> = EXPIRY_CHOICES
        .iter()
        .filter(|(seconds, _)| max <= 0 || (*seconds > 0 && *seconds <= max))
        .map(|&(seconds, label)| context! { seconds => seconds, label => label })
        .collect();
    let (xsrf, cookie) = xsrf_for(state, headers, Some(&who.identity));
    let html = super::render(
        state,
        Some(who),
        "token.html",
        context! {
            xsrf => xsrf,
            tokens => tokens,
            oauth_clients => clients,
            expiry_options => expiry_options,
            request_error => refused.as_ref().map(|r| r.message),
            requested_note => refused.as_ref().map(|r| r.note),
            requested_scopes => refused.as_ref().map(|r| r.scopes),
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

#[cfg(test)]
mod tests {
    use super::parse_scopes;

    #[test]
    fn scopes_are_split_on_spaces_and_commas() {
        assert_eq!(
            parse_scopes(" a:b,c:d!user=ann\n  e ,, "),
            ["a:b", "c:d!user=ann", "e"]
        );
        assert!(parse_scopes(" , ").is_empty());
    }
}
