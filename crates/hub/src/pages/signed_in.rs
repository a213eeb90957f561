//! Extractors for the pages of a signed-in user: who is asking (or a
//! redirect to the login page that comes back here), and for the forms they
//! post, the form with its `_xsrf` field already checked. One place for the
//! rule every page follows, so no handler can skip it.

use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Request};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use serde::de::DeserializeOwned;

use super::{PageUser, check_xsrf, page_user, to_login};
use crate::error::PageError;
use crate::state::AppState;

/// The signed-in user of a page. Signed out, the request is answered with
/// a redirect to the login page, `next` being the page asked for.
pub(crate) struct SignedIn(pub PageUser);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match page_user(state, &parts.headers).await {
            Ok(Some(who)) => Ok(Self(who)),
            Ok(None) => {
                let uri = parts
                    .extensions
                    .get::<OriginalUri>()
                    .map_or(&parts.uri, |original| &original.0);
                Err(to_login(state, uri))
            }
            Err(error) => Err(error.into_response()),
        }
    }
}

/// A form posted by a signed-in user's page: the user and the form `F`,
/// whose `_xsrf` field was the token of this user's session (else a 403
/// page). A body that is not the form is a readable 400 page.
pub(crate) struct SignedInForm<F>(pub PageUser, pub F);

/// The one field every page form carries.
#[derive(serde::Deserialize)]
struct XsrfField {
    #[serde(default, rename = "_xsrf")]
    xsrf: String,
}

impl<F: DeserializeOwned> FromRequest<AppState> for SignedInForm<F> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let SignedIn(who) = SignedIn::from_request_parts(&mut parts, state).await?;
        let body = axum::body::Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let unreadable = |e: serde_urlencoded::de::Error| {
            PageError::new(StatusCode::BAD_REQUEST, format!("Invalid form: {e}")).into_response()
        };
        let XsrfField { xsrf } = serde_urlencoded::from_bytes(&body).map_err(unreadable)?;
        check_xsrf(state, &parts.headers, Some(&who.identity), &xsrf)
            .map_err(IntoResponse::into_response)?;
        let form = serde_urlencoded::from_bytes(&body).map_err(unreadable)?;
        Ok(Self(who, form))
    }
}
